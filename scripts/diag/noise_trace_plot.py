"""A picture of the three 2D errors of docs/results.md (session 17): the real Stacked-Hourglass
error of one joint over time, the independent noise of `--recipe wild` and the correlated
model (`NoiseConfig.correlated()`) on the same ground truth, as fractions of the person's 2D
height, at 25 Hz.

Usage: python scripts/diag/noise_trace_plot.py [--subject S1] [--action "Walking 1"] [--joint 16]
       [--frames 150] [--out docs/images/noise_models.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from poselift.data.datasets import load_h36m  # noqa: E402
from poselift.data.noise import NoiseConfig, corrupt_sequence  # noqa: E402
from poselift.geometry.skeleton import H36M_17  # noqa: E402

#: MPII-16 index → H36M-17 index (as scripts/diag/sh_vs_noise.py)
MPII_TO_H36M = {0: 3, 1: 2, 2: 1, 3: 4, 4: 5, 5: 6, 6: 0, 7: 8, 10: 16, 11: 15, 12: 14, 13: 11, 14: 12, 15: 13}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/h36m")
    parser.add_argument("--subject", default="S1")
    parser.add_argument("--action", default="Walking 1")
    parser.add_argument("--joint", type=int, default=16, help="H36M-17 joint (default 16: right wrist)")
    parser.add_argument("--frames", type=int, default=150, help="frames at 25 Hz")
    parser.add_argument("--out", default="docs/images/noise_models.png")
    args = parser.parse_args()
    sh = {s.key: s for s in load_h36m(args.data, [args.subject], keypoints="sh")}
    gt = [s for s in load_h36m(args.data, [args.subject], keypoints="gt") if s.key in sh and s.name == args.action][0]
    g = gt.keypoints_2d[::2].astype(np.float64)
    s = sh[gt.key].keypoints_2d[::2]
    n = min(len(g), len(s), args.frames)
    g, s = g[:n], s[:n]
    mpii = {h: m for m, h in MPII_TO_H36M.items()}[args.joint]
    h = g[:, :, 1].max(1) - g[:, :, 1].min(1)
    w = gt.intrinsics.width
    errors = {"Stacked Hourglass (real)": (s[:, mpii] - g[:, args.joint]) / h[:, None]}
    for label, cfg in (("independent (shipped recipe)", NoiseConfig()), ("correlated (NoiseConfig.correlated)", NoiseConfig.correlated())):
        noisy = corrupt_sequence((g / w * 2).astype(np.float32), torch.Generator().manual_seed(5), cfg, chunk_frames=27)
        errors[label] = (noisy[:, args.joint].astype(np.float64) / 2 * w - g[:, args.joint]) / h[:, None]
    t = np.arange(n) / 25.0
    fig, axes = plt.subplots(len(errors), 1, figsize=(9, 7), sharex=True, sharey=True)
    for ax, (label, e) in zip(axes, errors.items()):
        ax.plot(t, e[:, 0], label="x", lw=1.2)
        ax.plot(t, e[:, 1], label="y", lw=1.2)
        for edge in np.arange(27, n, 27) / 25.0:
            ax.axvline(edge, color="0.85", lw=0.8, zorder=0)
        ax.set_title(label, fontsize=10, loc="left")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("error / 2D height")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel(f"seconds (25 Hz; grey lines: the 27-frame windows the synthetic noise is drawn per)")
    fig.suptitle(f"2D error of the {H36M_17.joint_names[args.joint]}, {args.subject} {args.action}, camera {gt.camera_id}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
