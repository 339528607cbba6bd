"""Proportions on the multi-view footage (issue 25): poselift's skeleton (H36M-17 joints), the
reference (BlazePose landmarks, triangulated) and MediaPipe's own 3D, as ratios to the thigh
(hip width, shoulder width, mid-hip to mid-shoulder), median over each actor's frames in each
view; and the table after `--retarget`: poselift's bone directions with MediaPipe's own bone
lengths (median over the clip, left = right), or after `--fuse W`: per frame, W × poselift's
12 limb joints + (1 − W) × MediaPipe's own 3D aligned to them (similarity), scored like
`poselift score-multiview`.

Usage: python scripts/diag/multiview_proportions.py OUT   # OUT: a `poselift score-multiview --out` folder
       python scripts/diag/multiview_proportions.py OUT --retarget
       python scripts/diag/multiview_proportions.py OUT --fuse 0.5
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from poselift.evaluation.multiview import _LIMB_BLAZE, _LIMB_H36M, _gathered, associate, reference_2d, score_view
from poselift.geometry.skeleton import H36M_17
from poselift.io.reference import load_multiview_reference
from poselift.tools.multiview import load_tracked_people


def ratios(x: np.ndarray) -> tuple[float, float, float]:
    """``x`` ``[F, 12, 3]`` in LIMB12 order (shoulders, elbows, wrists, hips, knees, ankles; left first)."""
    hip = np.linalg.norm(x[:, 6] - x[:, 7], axis=-1)
    shoulder = np.linalg.norm(x[:, 0] - x[:, 1], axis=-1)
    thigh = (np.linalg.norm(x[:, 6] - x[:, 8], axis=-1) + np.linalg.norm(x[:, 7] - x[:, 9], axis=-1)) / 2
    torso = np.linalg.norm((x[:, 0] + x[:, 1]) / 2 - (x[:, 6] + x[:, 7]) / 2, axis=-1)
    return float(np.nanmedian(hip / thigh)), float(np.nanmedian(shoulder / thigh)), float(np.nanmedian(torso / thigh))


def _median_length(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else float("nan")


def retarget(joints: np.ndarray, world: np.ndarray) -> np.ndarray:
    """poselift's ``joints`` ``[T, 17, 3]`` rebuilt from the root with each bone's direction and
    its length times one ratio per bone: MediaPipe's median length over the clip (``world``
    ``[T, 33, 3]``; left = right) over ours. Torso and head bones share the mid-hip to
    mid-shoulder ratio, the two Thorax → shoulder bones the shoulder-width ratio."""
    parents = H36M_17.parents
    mid_hip, mid_shoulder = (world[:, 23] + world[:, 24]) / 2, (world[:, 11] + world[:, 12]) / 2
    pairs = {1: (24, 23), 2: ((24, 26), (23, 25)), 3: ((26, 28), (25, 27)), 12: ((11, 13), (12, 14)), 13: ((13, 15), (14, 16))}
    target = {1: (_median_length(mid_hip, world[:, 24]) + _median_length(mid_hip, world[:, 23])) / 2}
    for bone in (2, 3, 12, 13):
        (a, b), (c, d) = pairs[bone]
        target[bone] = (_median_length(world[:, a], world[:, b]) + _median_length(world[:, c], world[:, d])) / 2
    mirror = {1: 4, 2: 5, 3: 6, 12: 15, 13: 16}
    ratio = {}
    for bone, length in target.items():
        for b in (bone, mirror[bone]):
            ratio[b] = length / _median_length(joints[:, b], joints[:, parents[b]])
    torso = _median_length(mid_hip, mid_shoulder) / _median_length(joints[:, 0], (joints[:, 11] + joints[:, 14]) / 2)
    for b in (7, 8, 9, 10):
        ratio[b] = torso
    ratio[11] = ratio[14] = _median_length(world[:, 11], world[:, 12]) / _median_length(joints[:, 11], joints[:, 14])
    out = joints.copy()
    for b in range(1, 17):
        out[:, b] = out[:, parents[b]] + (joints[:, b] - joints[:, parents[b]]) * ratio[b]
    return out


def fuse(joints: np.ndarray, world: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` × poselift's limb joints + (1 − weight) × MediaPipe's (per-frame similarity-aligned
    to ours) where both are finite; the other joints unchanged."""
    from poselift.evaluation.metrics import procrustes_align

    ours, mp = joints[:, _LIMB_H36M], world[:, _LIMB_BLAZE]
    ok = np.isfinite(ours).all(axis=(1, 2)) & np.isfinite(mp).all(axis=(1, 2))
    out = joints.copy()
    if ok.any():
        out[np.flatnonzero(ok)[:, None], _LIMB_H36M] = weight * ours[ok] + (1 - weight) * procrustes_align(mp[ok], ours[ok])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--reference", default="../shared/data/multiview/multiperson.npz")
    parser.add_argument("--retarget", action="store_true")
    parser.add_argument("--fuse", type=float, default=None, metavar="W")
    args = parser.parse_args()
    ref = load_multiview_reference(args.reference)
    rows = []
    for cam in sorted(ref.cameras):
        people, _ = load_tracked_people(f"{args.out}/{ref.cameras[cam].name}")
        if args.retarget or args.fuse is not None:
            change = (lambda j, w: retarget(j, w)) if args.retarget else (lambda j, w: fuse(j, w, args.fuse))
            people = [dataclasses.replace(p, joints_3d=change(p.joints_3d.astype(float), p.world_3d.astype(float)))
                      for p in people]
            for r in score_view(ref, cam, people):
                rows.append(r)
                print(f"| {r['view']} | {r['actor']} | {r['poselift']['pmpjpe_mm']:.1f} / {r['poselift']['angle_deg']:.1f} |")
            continue
        ref2d, c = reference_2d(ref, cam), ref.cameras[cam]
        for p, name in enumerate(ref.names):
            assoc = associate(ref2d[p], people, c.frame_index)
            ours = _gathered([q.joints_3d[:, _LIMB_H36M] for q in people], assoc, (12, 3))
            mp = _gathered([q.world_3d[:, _LIMB_BLAZE] for q in people], assoc, (12, 3))
            cells = [" / ".join(f"{v:.2f}" for v in ratios(x)) for x in (ours, ref.points3d[p][:, _LIMB_BLAZE], mp)]
            print(f"| {c.name} | {name} | " + " | ".join(cells) + " |")
    if rows:
        print(f"mean {np.mean([r['poselift']['pmpjpe_mm'] for r in rows]):.1f} / {np.mean([r['poselift']['angle_deg'] for r in rows]):.1f}")


if __name__ == "__main__":
    main()
