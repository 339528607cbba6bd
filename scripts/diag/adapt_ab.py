"""Test-time adaptation (`infer --adapt`) A/B on Human3.6M held-out subjects.

One clip per (subject, action): the first camera view, frames 0..2*N-1 downsampled x2 to
the bundled model's 25 Hz (N = --frames), ground-truth 2D in the detector layout, or
with the `--recipe wild` noise model (--noisy), or filmed by random virtual cameras
(--virtual). The bundled model lifts each clip as is and after adaptation on the clip
(camera focal length known from the calibration, principal point at the calibrated
centre). Reports MPJPE (root-relative) and P-MPJPE, mm, per clip and averaged, and the
adaptation time.

Usage: python scripts/diag/adapt_ab.py [--noisy] [--virtual] [--frames 250] [--clips 30]
       [--steps 60] [--lr 1e-4] [--tether 0.5] [--bone 1.0] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from poselift.data.datasets import normalized_keypoints, skeletons_for
from poselift.data.noise import NoiseConfig, corrupt_sequence
from poselift.evaluation.metrics import mpjpe, p_mpjpe
from poselift.geometry.camera import normalize_screen
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17, limbs_for
from poselift.geometry.trajectory import ROOT_FIT_JOINTS
from poselift.models.adapt import AdaptConfig, adapt_pose_model
from poselift.models.lifter import load_model
from poselift.models.predict import lift_sequence
from poselift.tools.bench import machine
from poselift.tools.evaluate import _virtual_camera_test_split
from poselift.training.config import TrainConfig
from poselift.training.data import load_split, with_input_layout
from poselift.data.virtual_cameras import virtual_camera_config


def clips(args):
    lifter = load_model(args.checkpoint)
    saved = TrainConfig.from_dict(lifter.metadata["train"])
    cfg = TrainConfig(dataset="h36m", data_dir="../shared/data/h36m", keypoints="gt", recipe="wild", seed=saved.seed)
    if args.virtual:  # the held-out subjects filmed by one random camera each, as `evaluate --virtual-cameras 1`
        seqs = with_input_layout(_virtual_camera_test_split(cfg, 1, virtual_camera_config("wild", [])), "h36m17-detector")
    else:
        seqs = load_split(cfg, train=False)
    chosen, seen = [], set()
    for s in seqs:
        key = (s.subject, s.name.split(" ")[0])
        if key in seen or s.num_frames < 2 * args.frames:
            continue
        seen.add(key)
        chosen.append(s)
    return lifter, chosen[: args.clips]


#: HumanEva-I 15 joints → an H36M-17 mocap-like pose (Spine and Neck/Nose interpolated),
#: then the detector layout the bundled model expects.
HE_TO_H36M = {0: 0, 1: 11, 2: 12, 3: 13, 4: 8, 5: 9, 6: 10, 8: 1, 10: 14, 11: 2, 12: 3, 13: 4, 14: 5, 15: 6, 16: 7}
HE_LIMB12 = [2, 5, 3, 6, 4, 7, 8, 11, 9, 12, 10, 13]


def humaneva_clips(args):
    from poselift.data.datasets import load_humaneva
    from poselift.geometry.sequence import resample
    from poselift.geometry.skeleton import detector_layout_from_h36m
    from poselift.geometry.trajectory import default_focal
    seqs = load_humaneva("../shared/data/humaneva", ["S1", "S2", "S3"], split="Validate")
    out = []
    for s in seqs:
        he = s.keypoints_2d
        h = np.zeros((len(he), 17, 2), np.float32)
        for dst, src in HE_TO_H36M.items():
            h[:, dst] = he[:, src]
        h[:, 7] = (he[:, 0] + he[:, 1]) / 2
        h[:, 9] = he[:, 1] + 0.5 * (he[:, 14] - he[:, 1])
        h = detector_layout_from_h36m(h)
        w, hh = s.intrinsics.width, s.intrinsics.height
        x = resample(normalize_screen(h, w, hh).astype(np.float32), s.fps, 25.0)[: args.frames]
        gt = resample(s.positions_3d.astype(np.float32), s.fps, 25.0)[: args.frames]
        if len(x) < 27:
            continue
        out.append((f"{s.subject}/{s.name}/{s.camera_id}", x, gt, HE_LIMB12, 2 * default_focal(w, hh) / w, (0.0, 0.0)))
    return out


def _scaled_to(pred, gt):
    """``pred`` scaled to the standing height of ``gt`` (both H36M-17 [T, 17, 3]), as
    `infer --person-height` does with the user's height."""
    from poselift.geometry.angles import standing_height
    return pred * (standing_height(gt) / standing_height(pred))


def _unadapted_row(name, pred, gt, limbs):
    if limbs is None:  # Human3.6M: also the MPJPE after scaling to the subject's known height
        from poselift.geometry.angles import standing_height
        h = float(mpjpe(_scaled_to(pred, gt), gt).mean() * 1000)
        print(f"{name:40s} height {standing_height(gt):.3f} m, lifted {standing_height(pred):.3f} m; "
              f"MPJPE with the known height {h:6.1f}", flush=True)
    if limbs is not None:
        from poselift.geometry.skeleton import LIMB12
        pred, gt = pred[:, list(LIMB12["h36m17"])], gt[:, limbs]
    m, p = float(mpjpe(pred, gt).mean() * 1000), float(p_mpjpe(pred, gt).mean() * 1000)
    print(f"{name:40s} MPJPE {m:6.1f}  P-MPJPE {p:6.1f}", flush=True)
    row = {"clip": name, "seconds": 0.0, "mpjpe_before": m, "mpjpe_after": m, "pmpjpe_before": p, "pmpjpe_after": p}
    if limbs is None:
        row["mpjpe_known_height"] = h
    return row


def h36m_clips(args, seqs):
    out = []
    for s in seqs:
        x = normalized_keypoints(s)[: 2 * args.frames : 2].astype(np.float32)
        gt = s.positions_3d[: 2 * args.frames : 2]
        intr = s.intrinsics
        focal = 2 * intr.focal_length[0] / intr.width
        principal = tuple(normalize_screen(np.array(intr.center), intr.width, intr.height))
        out.append((f"{s.subject}/{s.name}/{s.camera_id}", x, gt, None, focal, principal))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noisy", action="store_true")
    parser.add_argument("--virtual", action="store_true")
    parser.add_argument("--humaneva", action="store_true", help="HumanEva-I Validate S1-S3 (Walk, Jog, Box; C1-C3), "
                        "cross-dataset: P-MPJPE on the 12 limb joints, the default focal (image diagonal)")
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--tether", type=float, default=0.5)
    parser.add_argument("--bone", type=float, default=1.0)
    parser.add_argument("--reprojection", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default=None, help="model to lift with (default: the bundled one)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.humaneva:
        lifter = load_model(args.checkpoint)
        clip_list = humaneva_clips(args)[: args.clips]
    else:
        lifter, seqs = clips(args)
        clip_list = h36m_clips(args, seqs)
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    noise = NoiseConfig(limbs=limbs_for(skeletons_for("h36m")[0]))
    gen = torch.Generator().manual_seed(1234)
    cfg = AdaptConfig(steps=max(1, args.steps), lr=args.lr, tether_weight=args.tether, bone_weight=args.bone,
                      reprojection_weight=args.reprojection, max_seconds=None)
    print(f"# machine: {machine()}; {len(clip_list)} clips of {args.frames} frames at 25 Hz; noisy={args.noisy} "
          f"virtual={args.virtual}; {cfg}")
    rows = []
    for name, x, gt, limbs, focal, principal in clip_list:
        if args.noisy:
            x = np.asarray(corrupt_sequence(x, gen, noise, chunk_frames=27), dtype=np.float32)
        gt = gt - gt[:, :1]
        before, _ = lift_sequence(lifter.pose_model, x, flip)
        t0 = time.perf_counter()
        if args.steps == 0:  # no adaptation: the model's own numbers ("before" = "after")
            rows.append(_unadapted_row(name, before, gt, limbs))
            continue
        result = adapt_pose_model(lifter.pose_model, x, np.ones(x.shape[:2], np.float32), H36M_17,
                                  focal_normalized=focal, principal_normalized=principal, flip=flip, config=cfg,
                                  reprojection_joints=ROOT_FIT_JOINTS)
        seconds = time.perf_counter() - t0
        after, _ = lift_sequence(result.model, x, flip)
        if limbs is not None:  # cross-dataset: the 12 limb joints both skeletons have
            from poselift.geometry.skeleton import LIMB12
            before, after, gt = (before[:, list(LIMB12["h36m17"])], after[:, list(LIMB12["h36m17"])], gt[:, limbs])
        row = {"clip": name, "seconds": round(seconds, 2),
               "mpjpe_before": float(mpjpe(before, gt).mean() * 1000), "mpjpe_after": float(mpjpe(after, gt).mean() * 1000),
               "pmpjpe_before": float(p_mpjpe(before, gt).mean() * 1000),
               "pmpjpe_after": float(p_mpjpe(after, gt).mean() * 1000),
               "loss_first": result.history[0], "loss_last": result.history[-1]}
        rows.append(row)
        print(f"{row['clip']:40s} MPJPE {row['mpjpe_before']:6.1f} -> {row['mpjpe_after']:6.1f}  "
              f"P-MPJPE {row['pmpjpe_before']:6.1f} -> {row['pmpjpe_after']:6.1f}  {seconds:5.1f} s  "
              f"reproj {row['loss_first']['reprojection']*1000:.1f} -> {row['loss_last']['reprojection']*1000:.1f} mm "
              f"bone {row['loss_first']['bone']*1000:.1f} -> {row['loss_last']['bone']*1000:.1f} mm", flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("mpjpe_before", "mpjpe_after", "pmpjpe_before", "pmpjpe_after", "seconds")}
    if all("mpjpe_known_height" in r for r in rows):
        mean["mpjpe_known_height"] = float(np.mean([r["mpjpe_known_height"] for r in rows]))
        better = sum(r["mpjpe_known_height"] < r["mpjpe_before"] for r in rows)
        print(f"MEAN MPJPE with the subject's known height (infer --person-height): {mean['mpjpe_before']:.2f} -> "
              f"{mean['mpjpe_known_height']:.2f} ({better}/{len(rows)} clips better)")
    better = sum(r["mpjpe_after"] < r["mpjpe_before"] for r in rows)
    print(f"MEAN MPJPE {mean['mpjpe_before']:.2f} -> {mean['mpjpe_after']:.2f}  P-MPJPE {mean['pmpjpe_before']:.2f} -> "
          f"{mean['pmpjpe_after']:.2f}  ({better}/{len(rows)} clips better; {mean['seconds']:.1f} s per clip)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "mean": mean}, f, indent=1)


if __name__ == "__main__":
    main()
