"""How well the vertical estimated from the poses (poselift.geometry.gravity.estimate_up)
matches the true vertical of the Human3.6M cameras, per sequence view.

Human3.6M S9/S11 (S11 Directions skipped), every camera, ground-truth 2D lifted by the
bundled model at its own 25 frames/s (flip TTA), and the ground-truth 3D itself (what a
perfect lifter would give). The true vertical is the world's z axis seen by each camera.

Run: python scripts/diag/gravity_check.py [--data ../shared/data/h36m]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from poselift.data.datasets import H36M_TEST_SUBJECTS, action_name, downsample_sequences, load_h36m, normalized_keypoints
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.gravity import angle_between_deg, estimate_up
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17, convert_input_layout
from poselift.models.fast import fast_twin
from poselift.models.lifter import load_model, model_fps
from poselift.models.predict import lift_sequence
from poselift.tools.bench import machine as machine_info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/h36m")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    lifter = load_model(None)
    rate = model_fps(lifter.metadata)
    layout = lifter.metadata.get("input_layout", "h36m17")
    seqs = load_h36m(args.data, list(H36M_TEST_SUBJECTS), keypoints="gt")
    seqs = downsample_sequences(seqs, round(seqs[0].fps / rate))
    _, extrinsics = load_cameras_json(Path(args.data) / "cameras.json")
    model = fast_twin(lifter.pose_model)
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    rows = []
    for s in seqs:
        rotation = extrinsics[s.subject][s.camera_id].rotation
        true_up = rotation @ np.array([0.0, 0.0, 1.0])
        x = np.asarray(convert_input_layout(normalized_keypoints(s), layout), dtype=np.float32)
        with torch.no_grad():
            pred, _ = lift_sequence(model, x, flip)
        gt = s.positions_3d - s.positions_3d[:, :1]
        e_gt, e_pred = estimate_up(gt), estimate_up(pred)
        level = angle_between_deg(true_up, [0.0, -1.0, 0.0])  # what assuming a level camera costs
        rows.append((s.camera_id, action_name(s.name), angle_between_deg(e_gt.up, true_up),
                     angle_between_deg(e_pred.up, true_up), angle_between_deg(e_pred.up_or_level(), true_up), level,
                     e_pred.reliable))
    print(f"machine: {machine_info()}; {len(rows)} sequence views in {time.perf_counter() - start:.0f} s")
    print("angle between the estimated and the true vertical, degrees: median / p90 / max over sequence views")
    print("'model, used': the model's estimate where reliable (enough standing frames), else the level camera")
    print(f"{'group':16s} {'views':>5s} {'reliable':>8s}  {'from GT 3D':>18s}  {'from the model':>18s}  "
          f"{'model, used':>18s}  {'level camera':>18s}")

    def line(name: str, sel: list) -> None:
        a = np.array([[r[2], r[3], r[4], r[5]] for r in sel])
        cells = [f"{np.median(a[:, i]):5.1f} / {np.percentile(a[:, i], 90):4.1f} / {a[:, i].max():4.1f}" for i in range(4)]
        print(f"{name:16s} {len(sel):5d} {sum(r[6] for r in sel):8d}  " + "  ".join(f"{c:>18s}" for c in cells))

    line("all", rows)
    for cam in sorted({r[0] for r in rows}):
        line(f"camera {cam}", [r for r in rows if r[0] == cam])
    for action in sorted({r[1] for r in rows}):
        line(action, [r for r in rows if r[1] == action])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
