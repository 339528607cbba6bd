"""Markdown tables from `poselift evaluate --json` outputs, side by side.

Usage: python scripts/diag/eval_table.py [--no-flip] LABEL=eval.json [LABEL=eval.json ...]
Prints per action MPJPE / P-MPJPE / N-MPJPE / MPJVE (with flip, or without with --no-flip) per
run, then the averages with and without flip.
"""
import json
import sys

args = sys.argv[1:]
no_flip = "--no-flip" in args
runs = [(spec.split("=", 1)[0], json.load(open(spec.split("=", 1)[1]))) for spec in args if spec != "--no-flip"]
if no_flip:  # the per-action rows without flip; the averages below still show both
    runs = [(label, {**d, "per_action": d["without_flip"]["per_action"]}) for label, d in runs]
metrics = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
print("| action | " + " | ".join(f"{label}: P1 / P2 / N / MPJVE" for label, _ in runs) + " |")
print("| --- | " + " | ".join("---" for _ in runs) + " |")
for action in runs[0][1]["per_action"]:
    cells = [" / ".join(f"{d['per_action'][action][m]:.1f}" if m != "mpjve_mm" else f"{d['per_action'][action][m]:.2f}"
                        for m in metrics) for _, d in runs]
    print(f"| {action} | " + " | ".join(cells) + " |")
for name, pick in (("**average (flip TTA)**", lambda d: d), ("average (no flip)", lambda d: d["without_flip"])):
    cells = [" / ".join(f"{pick(d)[m]:.1f}" if m != "mpjve_mm" else f"{pick(d)[m]:.2f}" for m in metrics) for _, d in runs]
    print(f"| {name} | " + " | ".join(cells) + " |")
