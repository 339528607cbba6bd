"""Every person of the multi-view reference footage, tracked and lifted by `poselift infer`,
scored per view and actor against the triangulated reference (../shared/data/multiview).

For each view camXX.mp4: `run_infer(..., person="all")` (default settings, bundled model),
then for each actor and frame the tracked person whose detected 2D (BlazePose-33) is nearest
the reference's own per-actor detection (`kp2d_cam{i}`, mean over the 22 body landmarks,
left/right swap-invariant, within 0.2 of the actor's box height) is that actor. Reports per
view and actor:
  * frames where the actor was tracked (of those the reference has a detection for),
    and which track ids covered the actor (one id = no identity switch);
  * the 2D difference (px, mean / median over body landmarks and frames) to the reference's detections;
  * P-MPJPE (mm) and joint-angle error (deg) of poselift's 3D and of MediaPipe's own world
    landmarks (the same detections, `detector_world_3d`), with the recipe and code of
    ../shared/data/multiview/scripts/score.py, on the same frames.

Usage: python scripts/diag/multiview_people.py [--data ../shared/data/multiview] [--out /tmp/mv] [--no-crops]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from poselift.pipeline.infer import run_infer
from poselift.tools.bench import machine

#: H36M-17 index of each of the reference's 12 limb joints (BlazePose 11-16, 23-28):
#: L/R shoulder, L/R elbow, L/R wrist, L/R hip, L/R knee, L/R ankle.
H36M_TO_LIMB12 = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
BODY = np.arange(11, 33)
SWAP = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26, 25, 28, 27,
                 30, 29, 32, 31])


def load_scorer(data: Path):
    spec = importlib.util.spec_from_file_location("mv_score", data / "scripts" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def summary(scored: dict) -> dict:
    """The scalars of score.py's result (frames, P-MPJPE mean/median mm, angle error deg)."""
    return {k: scored[k] for k in ("n_frames", "pmpjpe_mm_mean", "pmpjpe_mm_median", "angle_err_deg_mean")}


def body_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean px distance over body landmarks seen in both, the smaller of as-is and mirrored."""
    def mean(x, y):
        d = np.linalg.norm(x[BODY] - y[BODY], axis=-1)
        return float(np.nanmean(d)) if np.isfinite(d).any() else np.inf
    return min(mean(a, b), mean(a, b[SWAP]))


def score_view(cam: int, ref: dict, out: Path, scorer, crops: bool) -> list[dict]:
    video = Path(ref["__dir"]) / f"cam{cam:02d}.mp4"
    t0 = time.perf_counter()
    result = run_infer(video, out, None, progress=False, overwrite=True, crops=crops)
    seconds = time.perf_counter() - t0
    people = {}
    for person in result.people:
        with np.load(out / person["folder"] / "poses.npz") as z:
            people[person["track_id"]] = {k: z[k] for k in ("frame_index", "joints_3d", "detector_keypoints_2d", "detector_world_3d")}
    rows = []
    names = [str(n) for n in ref["person_names"]]
    for p, name in enumerate(names):
        ref2d = ref[f"kp2d_cam{cam}"][p][..., :2]
        frames = ref2d.shape[0]
        pred = np.full((frames, 12, 3), np.nan)
        world = np.full((frames, 33, 3), np.nan)
        ours2d = np.full((frames, 33, 2), np.nan)
        ids = []
        for t in range(frames):
            if not np.isfinite(ref2d[t, BODY]).any():
                continue
            height = np.nanmax(ref2d[t, BODY, 1]) - np.nanmin(ref2d[t, BODY, 1])
            best, best_d = None, np.inf
            for track_id, d in people.items():
                k = np.flatnonzero(d["frame_index"] == t)
                if not len(k):
                    continue
                dist = body_distance(ref2d[t], d["detector_keypoints_2d"][k[0]])
                if dist < best_d:
                    best, best_d = (track_id, k[0]), dist
            if best is None or best_d > 0.2 * height:
                continue
            track_id, k = best
            ids.append(track_id)
            d = people[track_id]
            pred[t] = d["joints_3d"][k][H36M_TO_LIMB12]
            world[t] = d["detector_world_3d"][k]
            ours2d[t] = d["detector_keypoints_2d"][k]
        with_ref = int(np.isfinite(ref2d[:, BODY]).any(axis=(1, 2)).sum())
        diff = np.linalg.norm(ours2d[:, BODY] - ref2d[:, BODY], axis=-1)
        ours = summary(scorer.score_sequence(pred, ref["points3d"][p]))
        same = np.where(np.isfinite(pred).all(axis=(1, 2))[:, None, None], world, np.nan)
        theirs = summary(scorer.score_sequence(same, ref["points3d"][p]))
        rows.append({
            "view": f"cam{cam:02d}", "actor": name, "tracked_frames": len(ids), "reference_frames": with_ref,
            "track_ids": sorted(set(ids)), "id_counts": {str(i): ids.count(i) for i in sorted(set(ids))},
            "px_mean": round(float(np.nanmean(diff)), 2) if np.isfinite(diff).any() else None,
            "px_median": round(float(np.nanmedian(diff)), 2) if np.isfinite(diff).any() else None,
            "poselift": ours, "mediapipe_world": theirs, "infer_seconds": round(seconds, 1),
            "all_tracks": [{k: v for k, v in q.items() if k in ("track_id", "first_frame", "last_frame", "frames_with_person")}
                           for q in result.people],
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/multiview"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/multiview_people"))
    parser.add_argument("--no-crops", action="store_true")
    args = parser.parse_args()
    if not (args.data / "multiperson.npz").is_file():
        print(f"no {args.data / 'multiperson.npz'}: nothing to score", file=sys.stderr)
        return 1
    with np.load(args.data / "multiperson.npz", allow_pickle=False) as z:
        ref = {k: z[k] for k in z.files}
    ref["__dir"] = str(args.data)
    scorer = load_scorer(args.data)
    print(f"# machine: {machine()}")
    rows = []
    for cam in (1, 2, 3, 4):
        rows += score_view(cam, ref, args.out / f"cam{cam:02d}", scorer, crops=not args.no_crops)
    print("| view | actor | tracked / ref frames | track ids (frames) | 2D vs reference px, mean / median | "
          "poselift P-MPJPE mm / angle ° (frames) | MediaPipe world, same frames | infer s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        o, m = r["poselift"], r["mediapipe_world"]
        print(f"| {r['view']} | {r['actor']} | {r['tracked_frames']} / {r['reference_frames']} | "
              f"{', '.join(f'{k} ({v})' for k, v in r['id_counts'].items())} | {r['px_mean']} / {r['px_median']} | "
              f"{o['pmpjpe_mm_mean']:.1f} / {o['angle_err_deg_mean']:.1f} ({o['n_frames']}) | "
              f"{m['pmpjpe_mm_mean']:.1f} / {m['angle_err_deg_mean']:.1f} | {r['infer_seconds']} |")
    (args.out / "summary.json").write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
