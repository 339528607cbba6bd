"""Is the real detector's 2D error like the synthetic noise of `--recipe wild`? (issue 29)

Human3.6M test subjects S9/S11, every view with Stacked-Hourglass detections
(`keypoints_2d_sh_pt_mpii.npz`, MPII-pretrained, not fine-tuned): the SH error against the
projected ground truth on the 14 joints both layouts have, and the same statistics for
the ground truth corrupted by `poselift.data.noise.NoiseConfig()` (what the wild recipe
trains on; one noise draw per 27-frame window, as `evaluate --noisy`). Every error is a
fraction of the person's 2D height (y extent of the ground-truth joints) in that frame.

Reports per joint group: median and 90th percentile error, the share of joint-frames off
by more than 0.1 / 0.2 of the height, the lag-1 autocorrelation of the error over frames
(1 = a slowly drifting bias, 0 = independent per frame), the share of frames where a
limb is nearer the other side's ground truth (left/right swap), and the mean bias
(the error averaged over a whole sequence, per joint).

Usage: python scripts/diag/sh_vs_noise.py [--data ../shared/data/h36m]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from poselift.data.datasets import load_h36m
from poselift.data.noise import NoiseConfig, corrupt_sequence
from poselift.tools.bench import machine

#: MPII-16 index → H36M-17 index, for the 14 joints both have (no neck, no head top).
MPII_TO_H36M = {0: 3, 1: 2, 2: 1, 3: 4, 4: 5, 5: 6, 6: 0, 7: 8, 10: 16, 11: 15, 12: 14, 13: 11, 14: 12, 15: 13}
GROUPS = {
    "hips/pelvis": [0, 1, 4],
    "knees": [2, 5],
    "ankles": [3, 6],
    "thorax/shoulders": [8, 11, 14],
    "elbows": [12, 15],
    "wrists": [13, 16],
}
#: (left, right) H36M-17 pairs checked for swaps: knees, ankles, elbows, wrists
PAIRS = [(5, 2), (6, 3), (12, 15), (13, 16)]


def stats(pred: list[np.ndarray], gt: list[np.ndarray]) -> dict:
    """pred, gt: per sequence ``[T, 17, 2]`` px (only the mapped joints are finite in pred)."""
    rel, auto, swaps, bias = [], [], [], []
    for p, g in zip(pred, gt):
        h = (g[:, :, 1].max(1) - g[:, :, 1].min(1))[:, None]
        e = (p - g) / h[..., None]
        rel.append(np.linalg.norm(e, axis=-1))
        d = e - e.mean(0)
        num = (d[1:] * d[:-1]).sum(-1).mean(0)
        den = (d * d).sum(-1).mean(0)
        auto.append(num / np.maximum(den, 1e-12))
        bias.append(np.linalg.norm(e.mean(0), axis=-1))
        for left, right in PAIRS:
            own = np.linalg.norm(p[:, left] - g[:, left], axis=-1) + np.linalg.norm(p[:, right] - g[:, right], axis=-1)
            other = np.linalg.norm(p[:, left] - g[:, right], axis=-1) + np.linalg.norm(p[:, right] - g[:, left], axis=-1)
            swaps.append(other < own)
    rel = np.concatenate(rel)
    auto, bias = np.stack(auto), np.stack(bias)
    out = {}
    for name, joints in GROUPS.items():
        r = rel[:, joints].ravel()
        out[name] = (np.median(r), np.percentile(r, 90), (r > 0.1).mean(), (r > 0.2).mean(),
                     np.nanmean(auto[:, joints]), np.mean(bias[:, joints]))
    out["swap"] = float(np.concatenate(swaps).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/h36m")
    args = parser.parse_args()
    sh = {s.key: s for s in load_h36m(args.data, ["S9", "S11"], keypoints="sh")}
    gt = {s.key: s for s in load_h36m(args.data, ["S9", "S11"], keypoints="gt") if s.key in sh}
    keys = sorted(gt)
    preds, gts, noisy = [], [], []
    gen = torch.Generator().manual_seed(1234)
    for k in keys:
        g = gt[k].keypoints_2d.astype(np.float64)
        p = np.full_like(g, np.nan)
        s = sh[k].keypoints_2d
        n = min(len(s), len(g))
        for m, h in MPII_TO_H36M.items():
            p[:n, h] = s[:n, m]
        g, p = g[:n], p[:n]
        w = gt[k].intrinsics.width
        x = g / w * 2
        y = corrupt_sequence(x.astype(np.float32), gen, NoiseConfig(), chunk_frames=27).astype(np.float64) / 2 * w
        y[np.isnan(p)] = np.nan
        preds.append(p)
        gts.append(g)
        noisy.append(y)
    print(f"# machine: {machine()}; {len(keys)} views of S9/S11 with SH detections, {sum(len(g) for g in gts)} frames")
    print("| joints | source | median error | p90 | > 0.1 h | > 0.2 h | lag-1 autocorrelation | per-sequence bias |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    real, synthetic = stats(preds, gts), stats(noisy, gts)
    for name in GROUPS:
        for label, st in (("SH (real)", real), ("NoiseConfig (synthetic)", synthetic)):
            m, p90, a, b, ac, bias = st[name]
            print(f"| {name} | {label} | {m:.3f} | {p90:.3f} | {100 * a:.1f} % | {100 * b:.1f} % | {ac:.2f} | {bias:.3f} |")
    print(f"\nleft/right swaps (knees, ankles, elbows, wrists; share of limb-frames nearer the other side): "
          f"SH {100 * real['swap']:.2f} %, synthetic {100 * synthetic['swap']:.2f} %  (errors: fractions of the 2D height)")


if __name__ == "__main__":
    main()
