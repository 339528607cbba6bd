"""Left/right label-swap correction (poselift.geometry.swaps.correct_swaps): how well it finds
swaps, and what it does to the 3D, with and without it (A/B).

Two parts (run either or both):

``h36m``       Human3.6M S9/S11 ground-truth 2D (every 4th sequence view, cameras in turn, the
               first ``--frames`` frames at 50 Hz; also at 25 Hz = every 2nd frame) with
               detector-like noise (Gaussian 4 px, or poselift.data.noise's detector model
               without its own swaps), swap episodes injected at random (whole-body mirror,
               arms only, legs only; 5-40 frames; one every 20-300 frames). Reports per
               (frame, group) detection precision / recall, the share of swapped frames
               restored exactly (all groups right), recall per episode kind, and the false
               swaps on the same sequences without injected swaps. Then the 3D effect at the
               bundled model's 25 frames/s: MPJPE (mm, root-relative) of the lifted noisy 2D
               without swaps, with swaps, and with swaps corrected, over all frames and over
               the swapped frames.
``sh``         (also run by ``h36m``) the real detector's swaps: Human3.6M's Stacked-Hourglass
               detections of the same sequence views, corrected as given and judged per
               (frame, group) against the ground-truth 2D (:func:`h36m_sh_part`).
``multiview``  ../shared/data/multiview: each view × actor's detections (``kp2d_cam{i}``,
               BlazePose-33, original labels, 60 fps). ``correct_swaps`` (arms, legs, face) is
               compared with the reference's ``lr_swap_cam{i}`` flags (upper, lower, face) over
               the rows with a detection that the reference did not reject; then the 2D is
               lifted by ``poselift.pipeline.infer.run_infer`` (bundled model, default options)
               as given and corrected (arms and legs, before the BlazePose → H36M-17
               conversion), and both are scored with the reference's ``scripts/score.py``
               (P-MPJPE mm, joint-angle error deg; 12 limb joints).

Usage: python scripts/diag/swap_ab.py [all|h36m|sh|multiview] [--frames 2000] [--every 4] [--threads 2]
                                      [--json OUT.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from poselift.data.datasets import Sequence, load_h36m, normalized_keypoints
from poselift.data.noise import NoiseConfig, corrupt_sequence
from poselift.evaluation.metrics import mpjpe
from poselift.evaluation.plausibility import detector_label_switches
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import (
    BLAZEPOSE_33,
    H36M_17,
    MPII16_TO_H36M17,
    MPII_16,
    convert_input_layout,
    to_h36m17,
)
from poselift.geometry.swaps import apply_swaps, correct_swaps, swap_groups
from poselift.models.fast import fast_twin
from poselift.models.lifter import load_model, model_fps
from poselift.models.predict import lift_sequence
from poselift.pipeline.infer import run_infer
from poselift.tools.bench import machine

#: H36M-17 index of each of the reference's 12 limb joints (BlazePose 11-16, 23-28):
#: L/R shoulder, L/R elbow, L/R wrist, L/R hip, L/R knee, L/R ankle.
H36M_TO_LIMB12 = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
EPISODE_KINDS = ("mirror", "arms", "legs")


# --------------------------------------------------------------------------- helpers


def prf(pred: np.ndarray, truth: np.ndarray) -> dict:
    tp, fp, fn = int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan")}


def runs(flags: np.ndarray) -> str:
    idx = np.flatnonzero(flags)
    if not len(idx):
        return "—"
    out, start, prev = [], idx[0], idx[0]
    for i in list(idx[1:]) + [None]:
        if i is None or i != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = i
        prev = i if i is not None else prev
    return ", ".join(out)


def inject(num_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random swap episodes: ``truth [T, 2]`` (arms, legs) and ``kind [T]`` (0 none, 1 mirror,
    2 arms, 3 legs): 5-40 frames each, 20-300 frames apart."""
    truth = np.zeros((num_frames, 2), dtype=bool)
    kind = np.zeros(num_frames, dtype=np.int8)
    t = int(rng.integers(0, 60))
    while t < num_frames - 5:
        length, k = int(rng.integers(5, 41)), int(rng.integers(0, 3))
        end = min(num_frames, t + length)
        if k == 0:
            truth[t:end] = True
        else:
            truth[t:end, k - 1] = True
        kind[t:end] = k + 1
        t = end + int(rng.integers(20, 301))
    return truth, kind


# ----------------------------------------------------------------------------- h36m


def h36m_sequences(root: Path, every: int, frames: int) -> list[Sequence]:
    seqs = load_h36m(root, ["S9", "S11"], keypoints="gt")
    picked = [s for k, s in enumerate(seqs) if k % every == (k // every) % every] if every > 1 else seqs
    for s in picked:
        s.keypoints_2d, s.positions_3d = s.keypoints_2d[:frames], s.positions_3d[:frames]
    return picked


def noisy(kp: np.ndarray, noise: str, rng: np.random.Generator, gen: torch.Generator) -> np.ndarray:
    if noise == "gauss4":
        return kp + rng.normal(0.0, 4.0, kp.shape)
    cfg = NoiseConfig(swap_prob=0.0)  # jitter, bias, outliers, short gaps: no swaps of its own
    return corrupt_sequence(kp.astype(np.float32), gen, cfg, chunk_frames=27).astype(np.float64)


def h36m_part(root: Path, every: int, frames: int, log) -> dict:
    groups = swap_groups(H36M_17)
    seqs = h36m_sequences(root, every, frames)
    log(f"\n## Human3.6M: {len(seqs)} sequence views of S9/S11 (every {every}th, cameras in turn), "
        f"first {frames} frames at 50 Hz\n")
    lifter = load_model(None)
    rate = model_fps(lifter.metadata)
    layout = lifter.metadata.get("input_layout", "h36m17")
    model = fast_twin(lifter.pose_model)
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    results: dict = {"sequences": len(seqs), "frames_50hz": frames, "detection": [], "lift": []}

    def lift(s: Sequence, kp: np.ndarray) -> np.ndarray:
        x = normalized_keypoints(Sequence(s.subject, s.name, s.camera_id, kp.astype(np.float32), None, s.intrinsics, s.fps))
        with torch.no_grad():
            pred, _ = lift_sequence(model, np.asarray(convert_input_layout(x, layout), dtype=np.float32), flip)
        return pred

    for noise in ("gauss4", "detector"):
        for step, hz in ((1, 50), (2, 25)):
            rng, gen = np.random.default_rng(1), torch.Generator().manual_seed(0)
            pred_all, truth_all, kind_all, clean_flags, cells = [], [], [], 0, 0
            seconds, total_frames = 0.0, 0
            err = {"clean": [], "swapped": [], "corrected": []}
            in_swap = []
            for s in seqs:
                kp = noisy(s.keypoints_2d[::step].astype(np.float64), noise, rng, gen)
                truth, kind = inject(len(kp), rng)
                bad = apply_swaps(kp, truth, groups)
                t0 = time.perf_counter()
                fixed = correct_swaps(bad, None, H36M_17)
                seconds += time.perf_counter() - t0
                total_frames += len(kp)
                clean = correct_swaps(kp, None, H36M_17)
                pred_all.append(fixed.swapped)
                truth_all.append(truth)
                kind_all.append(kind)
                clean_flags += int(clean.swapped.sum())
                cells += clean.swapped.size
                if hz == rate:  # 3D at the model's rate
                    gt = s.positions_3d[::step] - s.positions_3d[::step, :1]
                    for name, x in (("clean", kp), ("swapped", bad), ("corrected", fixed.points)):
                        err[name].append(mpjpe(lift(s, x), gt) * 1000)
                    in_swap.append(truth.any(1))
            pred, truth, kind = np.concatenate(pred_all), np.concatenate(truth_all), np.concatenate(kind_all)
            swapped_frames = truth.any(1)
            restored = float(((pred == truth).all(1) & swapped_frames).sum() / swapped_frames.sum())
            per_kind = {k: float((pred == truth).all(1)[kind == i + 1].mean()) for i, k in enumerate(EPISODE_KINDS)}
            row = {"noise": noise, "hz": hz, "frames": len(truth), "swapped_frames": int(swapped_frames.sum()),
                   **{k: v for k, v in prf(pred, truth).items()}, "frames_restored": restored,
                   "restored_by_kind": per_kind, "clean_false_cells": clean_flags, "clean_cells": cells,
                   "ms_per_1000_frames": 1000 * seconds / total_frames * 1000}
            results["detection"].append(row)
            if err["clean"]:
                swap_mask = np.concatenate(in_swap)
                e = {k: np.concatenate(v) for k, v in err.items()}
                results["lift"].append({
                    "noise": noise, "hz": hz, "frames": len(swap_mask), "swapped_frames": int(swap_mask.sum()),
                    **{f"{k}_all": float(v.mean()) for k, v in e.items()},
                    **{f"{k}_in_swaps": float(v[swap_mask].mean()) for k, v in e.items()},
                    **{f"{k}_outside": float(v[~swap_mask].mean()) for k, v in e.items()},
                })
    log("| noise | rate | frames | swapped frames | precision | recall | frames restored | mirror / arms / legs restored "
        "| false (frame, group) cells without injected swaps | ms per 1000 frames |")
    log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results["detection"]:
        k = r["restored_by_kind"]
        log(f"| {r['noise']} | {r['hz']} Hz | {r['frames']} | {r['swapped_frames']} | {r['precision']:.4f} | {r['recall']:.4f} | "
            f"{r['frames_restored']:.4f} | {k['mirror']:.3f} / {k['arms']:.3f} / {k['legs']:.3f} | "
            f"{r['clean_false_cells']} of {r['clean_cells']} | {r['ms_per_1000_frames']:.1f} |")
    log(f"\n3D (bundled model, input at {rate:g} frames/s), MPJPE mm root-relative: noisy 2D without swaps / "
        "with injected swaps / swaps corrected\n")
    log("| noise | frames (swapped) | all frames | swapped frames | other frames |")
    log("| --- | --- | --- | --- | --- |")
    for r in results["lift"]:
        log(f"| {r['noise']} | {r['frames']} ({r['swapped_frames']}) | "
            + " | ".join(f"{r['clean_' + w]:.1f} / {r['swapped_' + w]:.1f} / {r['corrected_' + w]:.1f}" for w in ("all", "in_swaps", "outside"))
            + " |")
    return results


# ------------------------------------------------------------------ h36m detections


def h36m_sh_part(root: Path, every: int, log) -> dict:
    """The real detector's swaps: Stacked-Hourglass (MPII-16) detections of S9/S11 (the same
    sequence views, whole length), corrected as given; each (frame, group) is judged against the
    ground-truth 2D (the 14 joints both layouts share): clearly swapped by the detector when the
    exchanged labels' RMS error is < 0.5 × the labelled one and the labelled one > 0.1 × the
    person's 2D height; clearly right the other way round; else ambiguous."""
    gt = load_h36m(root, ["S9", "S11"], keypoints="gt")
    sh = load_h36m(root, ["S9", "S11"], keypoints="sh")
    picked = [k for k in range(len(gt)) if k % every == (k // every) % every] if every > 1 else list(range(len(gt)))
    groups = swap_groups(MPII_16)
    src = list(MPII16_TO_H36M17)
    dst = [MPII16_TO_H36M17[k] for k in src]
    rows = []
    for step, hz in ((1, 50), (2, 25)):
        c = {k: 0 for k in ("cells", "clear_swapped", "clear_right", "flipped", "flipped_clear_swapped", "flipped_clear_right",
                            "flipped_helps", "flipped_hurts")}
        err_before = err_after = 0.0
        for k in picked:
            g, s = gt[k], sh[k]
            t = min(len(g.keypoints_2d), len(s.keypoints_2d))
            truth = np.full((t, 16, 2), np.nan)
            truth[:, src] = g.keypoints_2d[:t, dst]
            det = s.keypoints_2d[:t].astype(np.float64)
            truth, det = truth[::step], det[::step]
            height = np.ptp(truth[:, src, 1], axis=1)
            fixed = correct_swaps(det, None, MPII_16)
            for gi, group in enumerate(groups):
                lr, rl = list(group.left + group.right), list(group.right + group.left)
                e = np.sqrt((np.linalg.norm(det[:, lr] - truth[:, lr], axis=-1) ** 2).mean(1)) / height
                x = np.sqrt((np.linalg.norm(det[:, rl] - truth[:, lr], axis=-1) ** 2).mean(1)) / height
                p = fixed.swapped[:, gi]
                clear, right = (x < 0.5 * e) & (e > 0.1), (e < 0.5 * x) & (x > 0.1)
                c["cells"] += len(p)
                c["clear_swapped"] += int(clear.sum())
                c["clear_right"] += int(right.sum())
                c["flipped"] += int(p.sum())
                c["flipped_clear_swapped"] += int((p & clear).sum())
                c["flipped_clear_right"] += int((p & right).sum())
                c["flipped_helps"] += int((p & (x < e)).sum())
                c["flipped_hurts"] += int((p & (x > e)).sum())
                err_before += float(e.sum())
                err_after += float(np.where(p, x, e).sum())
        rows.append({"hz": hz, **c, "mean_group_rms_before": err_before / c["cells"], "mean_group_rms_after": err_after / c["cells"]})
    log(f"\n## Human3.6M Stacked-Hourglass detections (real detector swaps), {len(picked)} sequence views, whole length\n")
    log("| rate | (frame, group) cells | clearly swapped by the detector | of those put back | clearly right cells flipped "
        "(wrong) | flips that lower / raise the 2D error | mean group RMS error, % of height, before → after |")
    log("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        log(f"| {r['hz']} Hz | {r['cells']} | {r['clear_swapped']} | {r['flipped_clear_swapped']} "
            f"({r['flipped_clear_swapped'] / max(r['clear_swapped'], 1):.1%}) | {r['flipped_clear_right']} of {r['clear_right']} | "
            f"{r['flipped_helps']} / {r['flipped_hurts']} | {100 * r['mean_group_rms_before']:.3f} → {100 * r['mean_group_rms_after']:.3f} |")
    return {"sequences": len(picked), "rows": rows}


# ------------------------------------------------------------------------ multiview


def load_scorer(data: Path):
    spec = importlib.util.spec_from_file_location("mv_score", data / "scripts" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def infer_npz(points: np.ndarray, conf: np.ndarray, fps: float, size: np.ndarray, work: Path, lifter) -> np.ndarray:
    """Lift BlazePose-33 2D through ``run_infer`` (a keypoint npz); ``[T, 12, 3]`` limb joints (NaN
    where no output)."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "keypoints.npz"
    np.savez(path, keypoints_2d=points.astype(np.float32), confidence=np.nan_to_num(conf, nan=0.0).astype(np.float32),
             fps=np.float64(fps), width=np.int64(size[0]), height=np.int64(size[1]), layout=np.str_("blazepose33"))
    run_infer(path, work / "out", None, progress=False, overwrite=True, person="largest", lifter=lifter)
    with np.load(work / "out" / "poses.npz") as z:
        joints, frames = z["joints_3d"], z["frame_index"] if "frame_index" in z.files else np.arange(len(z["joints_3d"]))
    out = np.full((len(points), 12, 3), np.nan)
    out[frames] = joints[:, H36M_TO_LIMB12]
    return out


def multiview_part(data: Path, log) -> dict:
    with np.load(data / "multiperson.npz", allow_pickle=False) as z:
        ref = {k: z[k] for k in z.files}
    scorer = load_scorer(data)
    names = [str(n) for n in ref["person_names"]]
    fps = float(ref["fps"])
    lifter = load_model(None)
    rows = []
    log(f"\n## Multi-view reference ({data}): 4 views × 2 actors, {fps:g} fps\n")
    with tempfile.TemporaryDirectory() as tmp:
        for p, name in enumerate(names):
            for cam in (1, 2, 3, 4):
                kp = ref[f"kp2d_cam{cam}"][p].astype(np.float64)
                points, conf = kp[..., :2], np.clip(np.nan_to_num(kp[..., 2], nan=0.0), 0.0, 1.0)
                flags = ref[f"lr_swap_cam{cam}"][p]  # face, upper, lower
                rejected = ref[f"view_rejected_cam{cam}"][p]
                seen = np.isfinite(points).all(-1).any(-1)
                t0 = time.perf_counter()
                three = correct_swaps(points, conf, BLAZEPOSE_33, groups=["arms", "legs", "face"])
                seconds = time.perf_counter() - t0
                fixed = correct_swaps(points, conf, BLAZEPOSE_33)  # arms, legs: what the lift uses
                ours = {"arms": three.swapped[:, 0], "legs": three.swapped[:, 1], "face": three.swapped[:, 2]}
                theirs = {"arms": flags[:, 1], "legs": flags[:, 2], "face": flags[:, 0]}
                usable = seen & ~rejected
                agreement = {}
                for g in ("arms", "legs", "face"):
                    agreement[g] = {
                        "usable_rows": prf(ours[g][usable], theirs[g][usable]),
                        "seen_rows": prf(ours[g][seen], theirs[g][seen]),
                        "mirrored_usable": prf(~ours[g][usable], theirs[g][usable]),
                        "ours": runs(ours[g]), "reference": runs(theirs[g]), "reference_usable": runs(theirs[g] & usable),
                    }
                before = infer_npz(points, conf, fps, ref[f"image_size_cam{cam}"], Path(tmp) / f"{name}_{cam}_a", lifter)
                after = infer_npz(fixed.points, fixed.confidence, fps, ref[f"image_size_cam{cam}"], Path(tmp) / f"{name}_{cam}_b", lifter)
                sa, sb = scorer.score_sequence(before, ref["points3d"][p]), scorer.score_sequence(after, ref["points3d"][p])
                changed = fixed.swapped.any(1)
                switches = [int(detector_label_switches(to_h36m17(x, "blazepose33")[0], H36M_17).sum()) for x in (points, fixed.points)]
                scored = np.isfinite(sa["pmpjpe_m"]) & np.isfinite(sb["pmpjpe_m"])
                in_changed = scored & changed
                ref_any = (flags[:, 1] | flags[:, 2]) & usable
                rows.append({
                    "view": f"cam{cam:02d}", "actor": name, "rows_seen": int(seen.sum()), "rows_usable": int(usable.sum()),
                    "frames_changed": fixed.frames_changed, "changed_rows": runs(changed), "lift_groups_equal_3group": bool((fixed.swapped == three.swapped[:, :2]).all()),
                    "agreement": agreement, "ms": 1000 * seconds,
                    "before": {k: sa[k] for k in ("n_frames", "pmpjpe_mm_mean", "pmpjpe_mm_median", "angle_err_deg_mean")},
                    "after": {k: sb[k] for k in ("n_frames", "pmpjpe_mm_mean", "pmpjpe_mm_median", "angle_err_deg_mean")},
                    "label_switch_frames": switches,
                    "changed_scored_frames": int(in_changed.sum()),
                    "changed_before_mm": float(np.nanmean(sa["pmpjpe_m"][in_changed]) * 1000) if in_changed.any() else None,
                    "changed_after_mm": float(np.nanmean(sb["pmpjpe_m"][in_changed]) * 1000) if in_changed.any() else None,
                    "ref_flag_scored_frames": int((scored & ref_any).sum()),
                    "ref_flag_before_mm": float(np.nanmean(sa["pmpjpe_m"][scored & ref_any]) * 1000) if (scored & ref_any).any() else None,
                    "ref_flag_after_mm": float(np.nanmean(sb["pmpjpe_m"][scored & ref_any]) * 1000) if (scored & ref_any).any() else None,
                })
    log("### 2D: our swapped frames vs the reference's lr_swap flags (rows with a detection the reference used)\n")
    log("| view | actor | group | ours | reference (used rows) | reference (all rows) | TP / FP / FN (used rows) | "
        "precision | recall |")
    log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        for g in ("arms", "legs", "face"):
            a = r["agreement"][g]
            u = a["usable_rows"]
            if a["ours"] == "—" and a["reference"] == "—":
                continue
            f = lambda v: "—" if np.isnan(v) else f"{v:.2f}"
            log(f"| {r['view']} | {r['actor']} | {g} | {a['ours']} | {a['reference_usable']} | {a['reference']} | "
                f"{u['tp']} / {u['fp']} / {u['fn']} | {f(u['precision'])} | {f(u['recall'])} |")
    tot = {g: {k: sum(r["agreement"][g]["usable_rows"][k] for r in rows) for k in ("tp", "fp", "fn")} for g in ("arms", "legs", "face")}
    for g, t in tot.items():
        pr = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else float("nan")
        rc = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else float("nan")
        log(f"\nall views, {g}: TP {t['tp']}, FP {t['fp']}, FN {t['fn']}: precision {pr:.2f}, recall {rc:.2f}")
    log("\n### 3D: run_infer (bundled model) on the 2D as given → corrected (arms, legs), scored with score.py\n")
    log("| view | actor | frames changed (arms / legs) | rows changed | scored frames | P-MPJPE mm mean | median | "
        "angle error ° | P-MPJPE in changed frames (n) | in reference-flagged frames (n) | 2D label-switch frames |")
    log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        a, b = r["before"], r["after"]
        ch = f"{r['changed_before_mm']:.1f} → {r['changed_after_mm']:.1f} ({r['changed_scored_frames']})" if r["changed_scored_frames"] else "—"
        rf = f"{r['ref_flag_before_mm']:.1f} → {r['ref_flag_after_mm']:.1f} ({r['ref_flag_scored_frames']})" if r["ref_flag_scored_frames"] else "—"
        log(f"| {r['view']} | {r['actor']} | {r['frames_changed']['arms']} / {r['frames_changed']['legs']} | {r['changed_rows']} | "
            f"{a['n_frames']} | {a['pmpjpe_mm_mean']:.1f} → {b['pmpjpe_mm_mean']:.1f} | {a['pmpjpe_mm_median']:.1f} → "
            f"{b['pmpjpe_mm_median']:.1f} | {a['angle_err_deg_mean']:.1f} → {b['angle_err_deg_mean']:.1f} | {ch} | {rf} | {r['label_switch_frames'][0]} → {r['label_switch_frames'][1]} |")
    return {"rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=("all", "h36m", "sh", "multiview"))
    parser.add_argument("--h36m", type=Path, default=Path("../shared/data/h36m"))
    parser.add_argument("--multiview", type=Path, default=Path("../shared/data/multiview"))
    parser.add_argument("--frames", type=int, default=2000, help="frames per Human3.6M sequence view (50 Hz)")
    parser.add_argument("--every", type=int, default=4, help="every n-th Human3.6M sequence view")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    out: dict = {"machine": machine()}
    log = lambda s: print(s, flush=True)
    log(f"# swap correction A/B; machine: {out['machine']}")
    t0 = time.perf_counter()
    if args.part in ("all", "multiview"):
        out["multiview"] = multiview_part(args.multiview, log)
    if args.part in ("all", "h36m"):
        out["h36m"] = h36m_part(args.h36m, args.every, args.frames, log)
    if args.part in ("all", "h36m", "sh"):
        out["h36m_sh"] = h36m_sh_part(args.h36m, args.every, log)
    log(f"\nruntime {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
