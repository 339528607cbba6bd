"""Plot the adaptation loss curves (`adaptation_loss` of poses.npz, written by `poselift infer --adapt`).

Usage: python scripts/diag/plot_adapt_loss.py OUT.png LABEL=PATH/poses.npz [LABEL=PATH/poses.npz ...]
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

TERMS = ("total", "reprojection", "bone", "tether")
out, specs = sys.argv[1], sys.argv[2:]
fig, axes = plt.subplots(1, len(TERMS), figsize=(4 * len(TERMS), 3.2))
for spec in specs:
    label, path = spec.split("=", 1)
    with np.load(path) as z:
        loss = z["adaptation_loss"] * 1000
    for k, ax in enumerate(axes):
        ax.plot(np.arange(len(loss)), loss[:, k], label=label)
for ax, term in zip(axes, TERMS):
    ax.set_title(f"{term} (mm)")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=7)
fig.suptitle("poselift infer --adapt: loss per step (before each update)")
fig.tight_layout()
fig.savefig(out, dpi=80)
print("wrote", out)
