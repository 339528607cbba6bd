"""Compare a re-run of the bundled model's recipe with the bundled weights.

Used by ``scripts/repro_wild.sh`` (the model card's reproducibility check). Reads the
``poselift evaluate --json`` and ``poselift infer --json`` outputs that the script wrote
into RUN_DIR, prints one table (mm; bone-length CVs; frames with a limb on the other
side on the demo video) and exits 1 when the ground-truth-2D MPJPE or P-MPJPE differ from
the bundled weights' by more than ``--tolerance-mm`` (the issue's criterion: 1 mm).

Usage: python scripts/compare_to_bundled.py RUN_DIR [--tolerance-mm 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from poselift.models.lifter import load_model
from poselift.training.config import TrainConfig

# training-config fields that may differ without making it another recipe
IGNORED_TRAIN_FIELDS = {"data_dir", "device", "augment_device", "threads"}


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _metrics(d: dict | None) -> tuple[float, float] | None:
    return None if d is None else (d["mpjpe_mm"], d["p_mpjpe_mm"])


def _demo(d: dict | None) -> str:
    if d is None:
        return "not run"
    p = d["plausibility"]
    cv = p["bone_length_cv"]
    thighs = [v for k, v in cv.items() if "Knee" in k and "Hip" in k]
    thigh = f"{min(thighs):.3f}–{max(thighs):.3f}" if thighs else "?"
    return f"thigh CV {thigh}, median CV {p['bone_length_cv_median']:.3f}, {len(p['left_right_swapped_frames'])} frames"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--tolerance-mm", type=float, default=1.0)
    args = ap.parse_args(argv)
    run = args.run_dir

    bundled = load_model(None).metadata
    rerun = load_model(str(run / "last.pt")).metadata
    # through TrainConfig, so that fields added since the bundled weights count as their defaults
    ours, theirs = (TrainConfig.from_dict(m["train"]).to_dict() for m in (bundled, rerun))
    diff = {k: (ours[k], v) for k, v in theirs.items() if k not in IGNORED_TRAIN_FIELDS and ours[k] != v}
    if diff:
        print("training config differs from the bundled weights' (bundled, re-run):", diff)

    rows = [
        ("studio cameras, GT 2D", _metrics(bundled.get("metrics")), _metrics(_load(run / "eval.json"))),
        ("studio cameras, noisy 2D", _metrics(_load(run / "bundled.eval.noisy.json")), _metrics(_load(run / "eval.noisy.json"))),
        ("4 random cameras", _metrics(_load(run / "bundled.eval.virtual.json")), _metrics(_load(run / "eval.virtual.json"))),
    ]
    print(f"{'S9/S11, flip, MPJPE / P-MPJPE mm':34s} {'bundled':>15s} {'re-run':>15s} {'difference':>15s}")
    for name, a, b in rows:
        fmt = lambda m: "—" if m is None else f"{m[0]:.2f} / {m[1]:.2f}"
        d = "—" if a is None or b is None else f"{b[0] - a[0]:+.2f} / {b[1] - a[1]:+.2f}"
        print(f"{name:34s} {fmt(a):>15s} {fmt(b):>15s} {d:>15s}")
    print(f"demo video, bundled: {_demo(_load(run / 'bundled.infer.json'))}")
    print(f"demo video, re-run:  {_demo(_load(run / 'infer.json'))}")

    a, b = rows[0][1], rows[0][2]
    if a is None or b is None:
        print("no ground-truth-2D metrics to compare (bundled metadata or RUN_DIR/eval.json missing)")
        return 1
    worst = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
    within = worst <= args.tolerance_mm
    print(f"GT 2D: {'within' if within else 'NOT within'} {args.tolerance_mm:g} mm of the bundled weights (largest difference {worst:.2f} mm)")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
