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

Window columns (what a model sees): the recordings cut into windows of ``--window`` frames;
"window mean" is the length of the error averaged over a window (a bias the model cannot tell
from the pose), "fluctuation" the RMS of the rest and "window lag-1" its lag-1
autocorrelation inside the windows.

``--subjects`` picks the subjects (default the test subjects S9,S11; calibrate the noise on
the training subjects S1,S5,S6,S7,S8), ``--downsample 2`` compares at the wild recipe's 25 Hz,
``--noise correlated`` uses :meth:`NoiseConfig.correlated` and ``--set NAME=VALUE`` overrides
one of its fields (numbers, or LOW,HIGH ranges; ``joint_gain`` as 17 comma-separated factors).

Usage: python scripts/diag/sh_vs_noise.py [--data ../shared/data/h36m] [--subjects S1,S5,S6,S7,S8]
       [--downsample 2] [--noise correlated] [--set drift_scale=0.02]
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


def window_stats(e: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``e`` ``[T, 17, 2]`` relative error → per window and joint: the window-mean error's
    length ``[N, 17]``, the fluctuation's mean square ``[N, 17]`` and its lag-1 products ``[N, 17]``."""
    n = len(e) // window
    w = e[: n * window].reshape(n, window, *e.shape[1:])
    mean = w.mean(1)
    d = w - mean[:, None]
    return np.linalg.norm(mean, axis=-1), (d * d).sum(-1).mean(1), (d[:, 1:] * d[:, :-1]).sum(-1).mean(1)


def stats(pred: list[np.ndarray], gt: list[np.ndarray], window: int = 27) -> dict:
    """pred, gt: per sequence ``[T, 17, 2]`` px (only the mapped joints are finite in pred)."""
    rel, auto, swaps, bias, wmean, wsq, wlag = [], [], [], [], [], [], []
    for p, g in zip(pred, gt):
        h = (g[:, :, 1].max(1) - g[:, :, 1].min(1))[:, None]
        e = (p - g) / h[..., None]
        m, sq, lag = window_stats(e, window)
        wmean.append(m)
        wsq.append(sq)
        wlag.append(lag)
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
    wmean, wsq, wlag = np.concatenate(wmean), np.concatenate(wsq), np.concatenate(wlag)
    out = {}
    for name, joints in GROUPS.items():
        r = rel[:, joints].ravel()
        sq, lag = wsq[:, joints], wlag[:, joints]
        out[name] = (np.median(r), np.percentile(r, 90), (r > 0.1).mean(), (r > 0.2).mean(),
                     np.nanmean(auto[:, joints]), np.mean(bias[:, joints]),
                     np.nanmean(wmean[:, joints]), np.sqrt(np.nanmean(sq)), np.nanmean(lag) / np.nanmean(sq))
    out["swap"] = float(np.concatenate(swaps).mean())
    return out


def _value(text: str):
    parts = [float(v) for v in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def noise_config(kind: str, overrides: list[str]) -> NoiseConfig:
    """``independent`` (``NoiseConfig()``, what the shipped wild model trained on) or
    ``correlated`` (:meth:`NoiseConfig.correlated`), with ``NAME=VALUE`` overrides."""
    fields = {}
    for item in overrides:
        name, _, value = item.partition("=")
        v = _value(value)
        fields[name] = tuple(int(x) for x in v) if name in ("gap_joints", "gap_frames", "swap_frames") else v
    return NoiseConfig(**fields) if kind == "independent" else NoiseConfig.correlated(**fields)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/h36m")
    parser.add_argument("--subjects", default="S9,S11")
    parser.add_argument("--downsample", type=int, default=1, help="keep every N-th frame (2: the wild recipe's 25 Hz)")
    parser.add_argument("--window", type=int, default=27, help="frames per window (the synthetic noise is drawn per window)")
    parser.add_argument("--noise", choices=["independent", "correlated"], default="independent")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    subjects = args.subjects.split(",")
    cfg = noise_config(args.noise, args.set)
    sh = {s.key: s for s in load_h36m(args.data, subjects, keypoints="sh")}
    gt = {s.key: s for s in load_h36m(args.data, subjects, keypoints="gt") if s.key in sh}
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
        g, p = g[:n:args.downsample], p[:n:args.downsample]
        w = gt[k].intrinsics.width
        x = g / w * 2
        y = corrupt_sequence(x.astype(np.float32), gen, cfg, chunk_frames=args.window).astype(np.float64) / 2 * w
        y[np.isnan(p)] = np.nan
        preds.append(p)
        gts.append(g)
        noisy.append(y)
    print(f"# machine: {machine()}; {len(keys)} views of {args.subjects} with SH detections, {sum(len(g) for g in gts)} frames "
          f"(every {args.downsample}. frame), windows of {args.window}; synthetic: {args.noise} {' '.join(args.set)}")
    print("| joints | source | median error | p90 | > 0.1 h | > 0.2 h | lag-1 autocorrelation | per-sequence bias "
          "| window mean | fluctuation | window lag-1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    real, synthetic = stats(preds, gts, args.window), stats(noisy, gts, args.window)
    for name in GROUPS:
        for label, st in (("SH (real)", real), (f"{args.noise} (synthetic)", synthetic)):
            m, p90, a, b, ac, bias, wm, fl, wl = st[name]
            print(f"| {name} | {label} | {m:.3f} | {p90:.3f} | {100 * a:.1f} % | {100 * b:.1f} % | {ac:.2f} | {bias:.3f} "
                  f"| {wm:.3f} | {fl:.3f} | {wl:.2f} |")
    print(f"\nleft/right swaps (knees, ankles, elbows, wrists; share of limb-frames nearer the other side): "
          f"SH {100 * real['swap']:.2f} %, synthetic {100 * synthetic['swap']:.2f} %  (errors: fractions of the 2D height)")


if __name__ == "__main__":
    main()
