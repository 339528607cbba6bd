"""Issue 25 probes on the multi-view footage (session 18): where is the rest of the error?

* ``ratios DEMO_OUT``: proportions (ratios to the shank) of the Human3.6M training subjects'
  motion capture, and of poselift's output and MediaPipe's own 3D in a `poselift infer`
  output folder (use the demo video, not the multi-view footage, so no constant comes
  from the test set).
* ``input-map OUT KW KT KN``: before lifting, move the BlazePose 2D toward Human3.6M's
  joint definitions (shoulder width × KW about the mid-shoulder, mid-shoulder toward the
  mid-hip × KT, nose and eyes toward the mid-shoulder × KN), then run
  `score-multiview` into OUT.
* ``oracle-swaps OUT [--margin M]``: replace the swap fixer by an oracle that sets each
  frame's left/right labels (arms, legs) from the reference 3D projected into the view
  (the labelling closer to it, when the other is worse by the factor M; default 1), then
  run `score-multiview` into OUT. What a perfect swap fixer could reach.
* ``visibility OUT THR``: joints whose detector confidence is below THR are treated as missing
  (interpolated like a joint the detector did not find), then `score-multiview` into OUT.
* ``output-map OUT KW KT``: rescore a `score-multiview --out` folder with poselift's 3D
  shoulders moved toward BlazePose's landmark definitions (mid-shoulder away from the
  mid-hip × KT, shoulder width × KW); the inverse of ``input-map`` on the output.

Usage: python scripts/diag/multiview_probes.py ratios /tmp/demo_out
       python scripts/diag/multiview_probes.py input-map /tmp/mv_map 0.69 0.765 0.63
       python scripts/diag/multiview_probes.py oracle-swaps /tmp/mv_oracle --margin 0.6
       python scripts/diag/multiview_probes.py output-map /tmp/mv_def 1.20 1.11
       python scripts/diag/multiview_probes.py visibility /tmp/mv_vis 0.3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from poselift.data.datasets import load_h36m_world
from poselift.evaluation.metrics import limb_scores
from poselift.evaluation.multiview import (
    _LIMB_BLAZE,
    _LIMB_H36M,
    _gathered,
    associate,
    project_points,
    reference_2d,
)
from poselift.geometry.sequence import fill_gaps
from poselift.geometry.skeleton import BLAZEPOSE_33, to_h36m17
from poselift.geometry.swaps import SwapCorrection, swap_groups
from poselift.io.reference import load_multiview_reference
from poselift.pipeline import infer
from poselift.tools.multiview import load_tracked_people, score_multiview

DATA = "../shared/data/multiview"


def _n(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def ratios(ls, rs, lh, rh, lk, rk, la, ra, nose) -> str:
    """Median ratios to the shank: hip width, shoulder width, thigh, torso, nose to mid-shoulder."""
    shank = (_n(lk, la) + _n(rk, ra)) / 2
    parts = {"hip width": _n(lh, rh), "shoulder width": _n(ls, rs), "thigh": (_n(lh, lk) + _n(rh, rk)) / 2,
             "torso": _n((ls + rs) / 2, (lh + rh) / 2), "nose": _n((ls + rs) / 2, nose)}
    return " ".join(f"{k} {np.nanmedian(v / shank):.2f}" for k, v in parts.items())


def cmd_ratios(args) -> None:
    world = load_h36m_world("../shared/data/h36m", ["S1", "S5", "S6", "S7", "S8"])
    j = np.concatenate([s.positions_world[::10] for s in world])
    print("H36M S1,S5-S8 motion capture:", ratios(*(j[:, k] for k in (11, 14, 4, 1, 5, 2, 6, 3, 9))))
    for f in sorted(Path(args.folder).glob("person_*/poses.npz")):
        z = np.load(f)
        p, w = z["joints_3d"], z["detector_world_3d"]
        print(f"{f.parent.name} poselift:      ", ratios(*(p[:, k] for k in (11, 14, 4, 1, 5, 2, 6, 3, 9))))
        print(f"{f.parent.name} MediaPipe 3D:  ", ratios(*(w[:, k] for k in (11, 12, 23, 24, 25, 26, 27, 28, 0))))


def cmd_input_map(args) -> None:
    original = infer._to_h36m

    def mapped(kp, max_gap):
        points, conf, gaps = original(kp, max_gap)
        if kp.layout != "blazepose33":
            return points, conf, gaps
        p = points.copy()
        hip, ms = p[:, 0], (p[:, 11] + p[:, 14]) / 2
        ms2 = hip + args.kt * (ms - hip)
        for j in (11, 14):
            p[:, j] = ms2 + args.kw * (p[:, j] - ms)
        p[:, 8], p[:, 7] = ms2, (hip + ms2) / 2
        for j in (9, 10):
            p[:, j] = ms2 + args.kn * (p[:, j] - ms)
        return p, conf, gaps._replace(points=p)

    infer._to_h36m = mapped
    print(score_multiview(DATA, args.out, infer_options={}, progress=False).table)


def cmd_oracle_swaps(args) -> None:
    z = np.load(f"{DATA}/multiperson.npz")
    groups = swap_groups(BLAZEPOSE_33)
    state: dict[str, int] = {}
    original = infer._lift_person

    def lift_person(person, lifter, **kw):
        state["first"] = person.first_frame
        return original(person, lifter, **kw)

    def oracle(points, confidence, skeleton, **_):
        cam = state["cam"]
        proj = np.stack([project_points(z["points3d"][p], z[f"K_cam{cam}"], z[f"R_cam{cam}"], z[f"t_cam{cam}"],
                                        z[f"dist_cam{cam}"]) for p in range(len(z["points3d"]))])
        pts, conf = np.asarray(points, float).copy(), np.asarray(confidence, float).copy()
        swapped = np.zeros((len(pts), len(groups)), bool)
        for t in range(len(pts)):
            f = state["first"] + t
            if f >= proj.shape[1]:
                continue
            d = np.nanmean(_n(pts[t, 11:], proj[:, f, 11:]), axis=-1)
            if not np.isfinite(d).any():
                continue
            r = proj[int(np.nanargmin(d)), f]
            for g, grp in enumerate(groups):
                lr, rl = list(grp.left + grp.right), list(grp.right + grp.left)
                as_is, mirrored = np.nanmean(_n(pts[t, lr], r[lr])), np.nanmean(_n(pts[t, rl], r[lr]))
                if np.isfinite(as_is) and np.isfinite(mirrored) and mirrored < args.margin * as_is:
                    swapped[t, g] = True
                    pts[t, lr], conf[t, lr] = pts[t, rl].copy(), conf[t, rl].copy()
        return SwapCorrection(pts, conf, swapped, tuple(g.name for g in groups), groups)

    infer._lift_person, infer.correct_swaps = lift_person, oracle
    for cam in range(1, 5):
        state["cam"] = cam
        score_multiview(DATA, args.out, views=[cam], infer_options={}, progress=False)
    print(score_multiview(DATA, args.out, reuse=True, progress=False).table)


def cmd_visibility(args) -> None:
    def to_h36m(kp, max_gap):
        points, conf = to_h36m17(kp.points, kp.layout, kp.confidence)
        conf = np.where(np.isfinite(points).all(-1) & (conf >= args.thr), conf, 0.0).astype(np.float32)
        never = ~(conf > 0).any(axis=0)
        conf[:, never] = 0.01  # a joint never above the threshold: kept as given
        gaps = fill_gaps(points, conf, max_gap)
        return gaps.points, conf, gaps

    infer._to_h36m = to_h36m
    print(score_multiview(DATA, args.out, infer_options={}, progress=False).table)


def cmd_output_map(args) -> None:
    ref = load_multiview_reference(DATA)
    rows = []
    for cam in sorted(ref.cameras):
        people, _ = load_tracked_people(Path(args.out) / ref.cameras[cam].name)
        ref2d = reference_2d(ref, cam)
        for p, name in enumerate(ref.names):
            assoc = associate(ref2d[p], people, ref.cameras[cam].frame_index)
            pred = _gathered([q.joints_3d[:, _LIMB_H36M] for q in people], assoc, (12, 3))
            world = _gathered([q.world_3d[:, _LIMB_BLAZE] for q in people], assoc, (12, 3))
            world[~np.isfinite(pred).all(axis=(1, 2))] = np.nan
            target = ref.points3d[p][:, _LIMB_BLAZE]
            moved = pred.copy()
            mid_hip, mid_sh = (pred[:, 6] + pred[:, 7]) / 2, (pred[:, 0] + pred[:, 1]) / 2
            new_mid = mid_hip + args.kt * (mid_sh - mid_hip)
            for j in (0, 1):
                moved[:, j] = new_mid + args.kw * (pred[:, j] - mid_sh)
            a, b, m = limb_scores(pred, target), limb_scores(moved, target), limb_scores(world, target)
            rows.append([a["pmpjpe_mm"], a["angle_deg"], b["pmpjpe_mm"], b["angle_deg"], m["pmpjpe_mm"], m["angle_deg"]])
            print(f"| {ref.cameras[cam].name} | {name} | {a['pmpjpe_mm']:.1f} / {a['angle_deg']:.1f} | "
                  f"{b['pmpjpe_mm']:.1f} / {b['angle_deg']:.1f} | {m['pmpjpe_mm']:.1f} / {m['angle_deg']:.1f} |")
    mean = np.mean(rows, axis=0)
    print(f"| mean | | {mean[0]:.1f} / {mean[1]:.1f} | {mean[2]:.1f} / {mean[3]:.1f} | {mean[4]:.1f} / {mean[5]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ratios")
    p.add_argument("folder")
    p = sub.add_parser("input-map")
    p.add_argument("out")
    p.add_argument("kw", type=float)
    p.add_argument("kt", type=float)
    p.add_argument("kn", type=float)
    p = sub.add_parser("oracle-swaps")
    p.add_argument("out")
    p.add_argument("--margin", type=float, default=1.0)
    p = sub.add_parser("visibility")
    p.add_argument("out")
    p.add_argument("thr", type=float)
    p = sub.add_parser("output-map")
    p.add_argument("out")
    p.add_argument("kw", type=float)
    p.add_argument("kt", type=float)
    args = parser.parse_args()
    {"ratios": cmd_ratios, "input-map": cmd_input_map, "oracle-swaps": cmd_oracle_swaps,
     "output-map": cmd_output_map, "visibility": cmd_visibility}[args.cmd](args)


if __name__ == "__main__":
    main()
