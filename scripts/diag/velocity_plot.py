"""Joint speed and velocity error over time of several models on one test sequence.

Lifts one sequence with every checkpoint the way ``poselift render --compare`` does
(``poselift.tools.render_sequence.lift_render_sequence``: the same 2D input, flip
test-time augmentation, the sequence at its own frame rate) and plots, over the first
``--frames`` frames:

* top: the frame-to-frame speed of one joint (root-relative, mm per frame; default
  the right wrist, H36M-17 joint 16) for each model and the ground truth;
* bottom: the per-frame mean per-joint velocity error (MPJVE, mm per frame) of each model.

The title names the sequence, the frame rate the models were fed (the sequence's own,
as ``poselift render`` and ``poselift evaluate`` lift it: a model trained with
``--downsample 2`` at 25 Hz still gets the 50 Hz frames; ``render --downsample`` only
skips rendered frames) and each model's mean MPJPE and MPJVE over the plotted frames.

    python scripts/diag/velocity_plot.py runs/i29/rf1_sh/last.pt runs/i29/rf27_sh/last.pt \\
        --labels "single-frame (RF 1),temporal (RF 27)" --keypoints sh --out /tmp/velocity.png

Reads ``../shared/data/h36m`` (``--data-dir``); ``--dataset synthetic`` needs no files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.evaluation.metrics import mpjpe, velocity_error
from poselift.tools.render_sequence import RenderOptions, lift_render_sequence

DEFAULT_JOINT = 16  # RWrist in H36M-17


def joint_index(value: str, names: list[str]) -> int:
    if value.isdigit() and int(value) < len(names):
        return int(value)
    lowered = [n.lower() for n in names]
    if value.lower() in lowered:
        return lowered.index(value.lower())
    raise SystemExit(f"velocity_plot: unknown joint {value!r}; use 0-{len(names) - 1} or one of {', '.join(names)}")


def speed_mm(joints: np.ndarray, j: int) -> np.ndarray:
    """Frame-to-frame speed ``[T-1]`` of joint ``j`` of root-relative ``[T, J, 3]`` metres, in mm/frame."""
    rel = joints - joints[:, :1]
    return np.linalg.norm(np.diff(rel[:, j], axis=0), axis=-1) * 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", help="two or more checkpoints lifting the same 2D input")
    p.add_argument("--labels", default=None, help="comma-separated model names, one per checkpoint (default: run folder names)")
    p.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default="h36m")
    p.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    p.add_argument("--keypoints", choices=["gt", "sh"], default=None, help="2D input (default: as the first checkpoint was trained)")
    p.add_argument("--subject", default="S11")
    p.add_argument("--action", default="Walking 1")
    p.add_argument("--camera", default="0", help="camera index (0-3) or id (default 0)")
    p.add_argument("--joint", default=str(DEFAULT_JOINT), help="joint whose speed is plotted: H36M-17 index or name (default 16, RWrist)")
    p.add_argument("--frames", type=int, default=250, help="plot the first N frames (default 250)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test-time augmentation")
    p.add_argument("--out", default="velocity.png", help="output PNG (default velocity.png)")
    args = p.parse_args(argv)
    if len(args.checkpoints) < 2:
        p.error("give two or more checkpoints")
    if args.frames < 3:
        p.error("--frames must be at least 3")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        p.error(f"--out {out}: must end with .png")

    labels = None if args.labels is None else args.labels.split(",")
    options = RenderOptions(
        out=out, checkpoint=args.checkpoints[0], compare=args.checkpoints[1:], labels=labels, dataset=args.dataset,
        data_dir=args.data_dir, keypoints=args.keypoints, subject=args.subject, action=args.action,
        camera=args.camera, limit_frames=args.frames, flip=not args.no_flip, progress=False,
    )
    try:
        lifted = lift_render_sequence(options)
    except PoseliftError as exc:
        print(f"velocity_plot: error: {exc}", file=sys.stderr)
        return 2
    gt = lifted.ground_truth
    if gt is None:
        print("velocity_plot: error: the sequence has no 3D ground truth", file=sys.stderr)
        return 2
    skel = lifted.skeleton_out
    j = joint_index(args.joint, list(skel.joint_names))
    seq, used = lifted.sequence, lifted.used
    fps = seq.fps

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(1, used) / fps  # a step between frames n-1 and n is drawn at frame n
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True, constrained_layout=True)
    top.plot(t, speed_mm(gt, j), color="black", lw=1.8, label="ground truth", zorder=3)
    lines = []
    for m in lifted.models:
        err = float(mpjpe(m.joints, gt).mean()) * 1000.0
        vel = velocity_error(m.joints, gt) * 1000.0
        name = f"{m.label}: MPJPE {err:.1f} mm, MPJVE {vel.mean():.2f} mm/frame"
        (line,) = top.plot(t, speed_mm(m.joints, j), lw=1.2, label=m.label)
        bottom.plot(t, vel, lw=1.2, color=line.get_color(), label=name)
        lines.append(f"{m.label} (RF {m.receptive_field}, trained at {m.trained_fps:g} Hz): MPJPE {err:.1f} mm, MPJVE {vel.mean():.2f} mm/frame")
    top.set_ylabel(f"{skel.joint_names[j]} speed (mm/frame)\nroot-relative")
    top.legend(loc="upper right", fontsize=9)
    top.grid(alpha=0.3)
    bottom.set_ylabel("MPJVE (mm/frame)")
    bottom.set_xlabel(f"time (s): frame n at n / {fps:g} s")
    bottom.legend(loc="upper right", fontsize=9)
    bottom.grid(alpha=0.3)
    source = {"gt": "ground-truth 2D", "sh": "Stacked Hourglass 2D"}.get(lifted.keypoints, lifted.keypoints)
    title = (f"{seq.key} ({args.dataset}), {source} in, first {used} frames at {fps:g} Hz "
             f"(every model fed the sequence's {fps:g} Hz, as poselift render/evaluate; flip TTA {'off' if args.no_flip else 'on'})")
    fig.suptitle(title + "\n" + "\n".join(lines), fontsize=9.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
