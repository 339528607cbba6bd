"""Measure what the plausibility checks give on good data, to set the thresholds of
``poselift.evaluation.plausibility.verdict`` (docs/plausibility.md).

Human3.6M test subjects (default S9, S11; all actions, 4 cameras) at the bundled model's
25 frames/s (50 Hz downsampled by 2), each sequence measured four ways:

* ``gt``: the ground-truth 3D (root-relative, camera frame) with its ground-truth 2D;
* ``model``: the model's 3D lifted from the ground-truth 2D (in the model's input layout),
  checked against that 2D, as ``poselift infer`` does;
* ``model_noisy``: the same from 2D with detector-like noise (``poselift evaluate --noisy``:
  the training noise model at its fixed seed; it *injects* left/right label swaps, so the
  swap checks fire there by design);

and, unless ``--no-video``, the demo video through ``poselift infer`` (MediaPipe), and
with ``--multiview`` the 8 clips (2 actors × 4 views, MediaPipe detections) of
``../shared/data/multiview``. Per sequence: the median over bones of the bone-length CV,
the largest smoothed per-frame bone-length deviation, the longest run of frames with a
limb on the other side than in the 2D, the number of 2D label switches; printed as
percentiles over the sequences, with the share of sequences whose verdict is "ok".

Usage: .venv/bin/python scripts/diag/plausibility_thresholds.py [--subjects S9 S11] [--no-video] [--multiview]
(about 3 minutes on 2 CPU cores; the lifting runs on one thread).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from poselift.data.datasets import downsample_sequences, load_h36m, normalized_keypoints
from poselift.data.noise import NoiseConfig, corrupt_sequence
from poselift.evaluation import plausibility as Q
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17, convert_input_layout, limbs_for
from poselift.io.arrays import load_npz
from poselift.models.lifter import load_model, model_fps
from poselift.models.predict import lift_sequence
from poselift.pipeline.infer import run_infer
from poselift.tools.evaluate import NOISY_EVAL_SEED
from poselift.tools.bench import machine as machine_info

PERCENTILES = (50, 90, 95, 99, 100)


def longest_run(flags: np.ndarray) -> int:
    return max((b - a + 1 for a, b in Q.frame_ranges(flags)), default=0)


def measure(joints: np.ndarray, kp: np.ndarray, fps: float) -> dict:
    """The per-sequence numbers behind each threshold, and the verdict."""
    cv = np.array([v for v in Q.bone_length_cv(joints, H36M_17).values() if np.isfinite(v)])
    swapped = Q.left_right_swapped(joints, kp, H36M_17)
    switches = Q.detector_label_switches(kp, H36M_17)
    verdict = Q.verdict(joints, kp, H36M_17, fps, swapped=swapped, switches=switches)
    deviation = Q.bone_length_deviation(joints, H36M_17, verdict.thresholds["bone_length_smooth_frames"])
    return {
        "frames": len(joints),
        "cv_median": float(np.median(cv)),
        "deviation_max": float(np.nanmax(deviation)),
        "deviation_frames": deviation,
        "swap_frames": int(swapped.sum()),
        "swap_longest": longest_run(swapped),
        "switches": int(switches.sum()),
        "verdict": verdict,
    }


def report(name: str, rows: list[dict]) -> None:
    frames = sum(r["frames"] for r in rows)
    print(f"\n== {name}: {len(rows)} sequences, {frames} frames")
    pct = "/".join(f"p{p}" for p in PERCENTILES[:-1]) + "/max"
    for key, label in (
        ("cv_median", "median bone-length CV (whole sequence)"),
        ("deviation_max", "largest smoothed bone-length deviation"),
        ("swap_longest", "longest run of left/right-swapped frames"),
        ("switches", "2D label switches"),
    ):
        values = np.percentile([r[key] for r in rows], PERCENTILES)
        print(f"  {label:44s} {pct}: " + " / ".join(f"{v:.4g}" for v in values))
    deviation = np.concatenate([r["deviation_frames"] for r in rows])
    print("  per-frame smoothed bone-length deviation  p99/p99.9/p99.99/max: "
          + " / ".join(f"{v:.4g}" for v in np.nanpercentile(deviation, [99, 99.9, 99.99, 100])))
    print(f"  frames with a limb swapped vs the 2D: {sum(r['swap_frames'] for r in rows)} of {frames}; "
          f"2D label switches: {sum(r['switches'] for r in rows)}")
    ok = sum(r["verdict"].ok for r in rows)
    kinds: dict[str, int] = {}
    for r in rows:
        for kind in {i.kind for i in r["verdict"].issues}:
            kinds[kind] = kinds.get(kind, 0) + 1
    print(f"  verdict ok: {ok} of {len(rows)} sequences ({100 * ok / len(rows):.1f} %); "
          f"sequences with each issue: {kinds or 'none'}")


def h36m(args, lifter) -> None:
    t0 = time.perf_counter()
    seqs = load_h36m(args.data_dir, args.subjects, keypoints="gt")
    rate = model_fps(lifter.metadata)
    factor = round(seqs[0].fps / rate)
    seqs = downsample_sequences(seqs, factor)
    fps = seqs[0].fps
    layout = lifter.metadata.get("input_layout", "h36m17")
    spec = FlipSpec.from_skeletons(H36M_17, H36M_17)  # flip test-time augmentation, as infer
    gen = torch.Generator().manual_seed(NOISY_EVAL_SEED)
    noise = NoiseConfig(limbs=limbs_for(H36M_17))
    rows: dict[str, list[dict]] = {"gt": [], "model": [], "model_noisy": []}
    for s in seqs:
        gt = (s.positions_3d - s.positions_3d[:, :1]).astype(np.float64)
        kp_mocap = normalized_keypoints(s)
        rows["gt"].append(measure(gt, kp_mocap, fps))
        if args.no_model:
            continue
        kp = convert_input_layout(kp_mocap, layout).astype(np.float32)
        noisy = corrupt_sequence(kp, gen, noise, chunk_frames=lifter.receptive_field)
        for name, x in (("model", kp), ("model_noisy", noisy)):
            joints, _ = lift_sequence(lifter.pose_model, x, spec)
            rows[name].append(measure(joints, x, fps))  # the checks are scale-free: normalised 2D is fine
    print(f"\nHuman3.6M {'+'.join(args.subjects)}, {len(seqs)} sequences (4 cameras) at {fps:g} frames/s "
          f"(1 frame in {factor}), input layout {layout}; {time.perf_counter() - t0:.0f} s")
    for name, r in rows.items():
        if r:
            report(f"H36M {name}", r)


def from_infer(out: Path, label: str) -> dict:
    d = load_npz(out / "poses.npz")
    r = measure(d["joints_3d"].astype(np.float64), d["keypoints_2d"].astype(np.float64), float(d["fps"]))
    print(f"  {label}: {r['frames']} frames at {float(d['fps']):g} frames/s: median CV {r['cv_median']:.3f}, "
          f"largest deviation {r['deviation_max']:.3f}, {r['swap_frames']} swapped frames (longest run "
          f"{r['swap_longest']}), {r['switches']} label switches\n    verdict: {r['verdict'].line()}")
    return r


def video(args, lifter) -> None:
    print(f"\n== demo video {args.video} (poselift infer, MediaPipe)")
    with tempfile.TemporaryDirectory() as tmp:
        run_infer(args.video, Path(tmp) / "out", lifter=lifter, progress=False)
        from_infer(Path(tmp) / "out", Path(args.video).name)


def multiview(args, lifter) -> None:
    path = Path(args.multiview_dir) / "multiperson.npz"
    d = load_npz(path)
    names = [str(n) for n in d["person_names"]]
    print(f"\n== {path}: {len(names)} actors × 4 views (MediaPipe BlazePose-33, poselift infer on the keypoints)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cam in range(1, 5):
            width, height = (int(v) for v in d[f"image_size_cam{cam}"])
            for p, name in enumerate(names):
                raw = d[f"kp2d_cam{cam}"][p]  # [F, 33, 3]: x, y, visibility; NaN where missing
                src = Path(tmp) / f"{name}_cam{cam}.npz"
                conf = np.where(np.isfinite(raw[..., 0]), np.nan_to_num(raw[..., 2]), 0.0)
                np.savez(src, keypoints_2d=raw[..., :2], confidence=conf, fps=float(d["fps"]), width=width,
                         height=height, layout="blazepose33")
                run_infer(src, Path(tmp) / src.stem, lifter=lifter, progress=False)
                rows.append(from_infer(Path(tmp) / src.stem, f"{name} cam{cam}"))
    report("multiview clips", rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/h36m")
    ap.add_argument("--subjects", nargs="+", default=["S9", "S11"])
    ap.add_argument("--checkpoint", default=None, help="default: the bundled model")
    ap.add_argument("--no-model", action="store_true", help="ground truth only")
    ap.add_argument("--video", default="../shared/data/video/sports2d_demo.mp4")
    ap.add_argument("--no-video", action="store_true")
    ap.add_argument("--multiview", action="store_true", help="also the 8 multiview clips")
    ap.add_argument("--multiview-dir", default="../shared/data/multiview")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("machine:", machine_info())
    print(f"thresholds now: BONE_CV_LIMIT {Q.BONE_CV_LIMIT}, BONE_DEVIATION_LIMIT {Q.BONE_DEVIATION_LIMIT} "
          f"(smoothed over {Q.BONE_SMOOTH_S} s), SWAP_MIN_S {Q.SWAP_MIN_S}, LABEL_SWITCH_LIMIT {Q.LABEL_SWITCH_LIMIT}, "
          f"MERGE_GAP_S {Q.MERGE_GAP_S}")
    lifter = load_model(args.checkpoint)
    print(f"checkpoint: {args.checkpoint or 'bundled'} ({lifter.config.channels} channels, receptive field "
          f"{lifter.receptive_field}, {model_fps(lifter.metadata):g} frames/s)")
    h36m(args, lifter)
    if not args.no_video and args.video:
        video(args, lifter)
    if args.multiview:
        multiview(args, lifter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
