"""How far the bundled model's joint and segment angles (poselift.geometry.angles) are from
the ground truth on Human3.6M S9/S11: mean absolute error per angle, in degrees.

For every S9/S11 test sequence (S11 Directions skipped, as the standard protocol does) and
camera, the bundled model lifts the ground-truth 2D (projected mocap joints, converted to
the model's `input_layout`, normalised screen coordinates, flip test-time augmentation:
what `poselift evaluate` feeds it) resampled to the model's own 25 frames/s (every 2nd
frame of the 50 Hz recordings: what `poselift infer` does for any input); the angles of
its output are compared with the angles of the ground-truth 3D of the same frames.
Trunk flexion and the segment angles use the true vertical (the camera's R_world_to_cam
applied to world z-up) for both; the column "cam-up" shows the error when the model's
angles use the camera's −y instead (what `poselift infer --angles` does: no vertical is
known from a video), and "cam-up GT" the same assumption on the ground truth alone (the
cost of the level-camera assumption by itself: Human3.6M's cameras look down ~10-20°).
Signed angles are compared modulo 360°. Frames where either angle is undefined (NaN, see
MIN_IN_PLANE) are left out and counted.

Usage: python scripts/diag/angle_errors.py [--cameras ID ...] [--data ../shared/data/h36m]
Prints the machine, what was covered, the runtime and one row per angle. Every 25 Hz
frame of the 4 cameras takes about 1 minute on 2 cores (2.8 GHz Xeon). The frames are
not thinned further: the model must see its own frame rate (fed every 20th frame of
50 Hz, its angle errors double)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from poselift.data.datasets import (
    H36M_CAMERAS,
    H36M_TEST_SUBJECTS,
    downsample_sequences,
    load_h36m,
    normalized_keypoints,
)
from poselift.geometry.angles import (
    ANGLE_NAMES,
    UNSIGNED_ANGLES,
    VERTICAL_ANGLES,
    joint_angles,
)
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17, convert_input_layout
from poselift.models.fast import fast_twin
from poselift.models.lifter import load_model, model_fps
from poselift.models.predict import lift_sequence
from poselift.tools.bench import machine as machine_info


def angle_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| per column, modulo 360° for the signed angles."""
    d = a - b
    signed = np.array([n not in UNSIGNED_ANGLES for n in ANGLE_NAMES])
    d[:, signed] = (d[:, signed] + 180.0) % 360.0 - 180.0
    return np.abs(d)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/h36m")
    p.add_argument("--cameras", nargs="+", default=list(H36M_CAMERAS))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()

    lifter = load_model(None)
    rate = model_fps(lifter.metadata)
    layout = lifter.metadata.get("input_layout", "h36m17")
    seqs = load_h36m(args.data, list(H36M_TEST_SUBJECTS), keypoints="gt", cameras=args.cameras)
    factor = round(seqs[0].fps / rate)
    if abs(seqs[0].fps / factor - rate) > 1e-6:
        raise SystemExit(f"model rate {rate} is not an integer fraction of {seqs[0].fps} Hz")
    seqs = downsample_sequences(seqs, factor)
    _, extrinsics = load_cameras_json(Path(args.data) / "cameras.json")
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    model = fast_twin(lifter.pose_model)  # BN folded once, not once per sequence (same outputs)

    n = len(ANGLE_NAMES)
    abs_err = {k: [] for k in ("true", "camup", "camup_gt")}
    undefined = np.zeros(n, dtype=np.int64)
    gt_all = []
    frames = 0
    t_lift = 0.0
    for s in seqs:
        up = extrinsics[s.subject][s.camera_id].rotation @ np.array([0.0, 0.0, 1.0])  # world z-up in the camera frame
        x = normalized_keypoints(s)
        x = np.asarray(convert_input_layout(x, layout), dtype=np.float32)
        t0 = time.perf_counter()
        with torch.no_grad():
            pred, _ = lift_sequence(model, x, flip)
        t_lift += time.perf_counter() - t0
        gt = s.positions_3d - s.positions_3d[:, :1]
        a_gt = joint_angles(gt, up=up).degrees
        a_pred = joint_angles(pred, up=up).degrees
        a_pred_cam = joint_angles(pred).degrees  # up = the camera's −y
        a_gt_cam = joint_angles(gt).degrees
        abs_err["true"].append(angle_diff(a_pred, a_gt))
        abs_err["camup"].append(angle_diff(a_pred_cam, a_gt))
        abs_err["camup_gt"].append(angle_diff(a_gt_cam, a_gt))
        undefined += (~np.isfinite(a_pred) | ~np.isfinite(a_gt)).sum(axis=0)
        gt_all.append(a_gt)
        frames += len(gt)
    err = {k: np.concatenate(v) for k, v in abs_err.items()}
    gt_all = np.concatenate(gt_all)
    elapsed = time.perf_counter() - t_start

    print(f"machine: {machine_info()}")
    print(f"data: Human3.6M {', '.join(H36M_TEST_SUBJECTS)} (S11 Directions skipped), {len(seqs)} sequence views, "
          f"cameras {', '.join(args.cameras)}; ground-truth 2D → bundled model (input layout {layout}, flip TTA) at "
          f"{rate:g} frames/s = every {factor}. frame of 50 Hz; {frames} frames")
    print(f"runtime: {elapsed:.1f} s in all ({t_lift:.1f} s lifting)")
    print()
    print("mean absolute error in degrees (median, 90th percentile); GT range = 5th-95th percentile of the ground truth")
    header = f"{'angle':26s} {'MAE':>6s} {'median':>6s} {'P90':>6s} {'cam-up':>7s} {'cam-up GT':>9s} {'undef %':>7s}  GT range"
    print(header)
    print("-" * len(header))
    for i, name in enumerate(ANGLE_NAMES):
        e = err["true"][:, i]
        ok = np.isfinite(e)
        e = e[ok]
        cam = err["camup"][:, i][np.isfinite(err["camup"][:, i])]
        cam_gt = err["camup_gt"][:, i][np.isfinite(err["camup_gt"][:, i])]
        g = gt_all[:, i][np.isfinite(gt_all[:, i])]
        vertical = name in VERTICAL_ANGLES
        print(
            f"{name:26s} {e.mean():6.1f} {np.median(e):6.1f} {np.percentile(e, 90):6.1f} "
            f"{(f'{cam.mean():7.1f}' if vertical else '      -')} {(f'{cam_gt.mean():9.1f}' if vertical else '        -')} "
            f"{100 * undefined[i] / frames:7.2f}  {np.percentile(g, 5):.0f} to {np.percentile(g, 95):.0f}"
        )
    joint = [i for i, nm in enumerate(ANGLE_NAMES) if nm not in VERTICAL_ANGLES]
    seg = [i for i, nm in enumerate(ANGLE_NAMES) if nm in VERTICAL_ANGLES]
    for label, cols in (("joint angles (mean of rows)", joint), ("trunk + segment angles (mean of rows)", seg)):
        print(f"{label:38s} MAE {np.mean([np.nanmean(err['true'][:, i]) for i in cols]):.1f}"
              + (f", cam-up {np.mean([np.nanmean(err['camup'][:, i]) for i in cols]):.1f}" if cols is seg else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
