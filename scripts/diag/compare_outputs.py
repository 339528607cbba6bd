"""Compare the outputs of two runs (npz arrays, JSON numbers, text files) to a tolerance.

    python scripts/diag/compare_outputs.py BEFORE_DIR AFTER_DIR [--tol 1e-6]

Every ``*.npz`` under BEFORE_DIR is compared array by array with the same file under
AFTER_DIR (max absolute difference of numeric arrays, equality of the others); every
``*.json`` number by number (timings ignored); ``*.csv`` and ``*.bvh`` byte for byte.
Prints one line per file and exits 1 if any differs by more than ``--tol``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

IGNORED_KEYS = {"timings_s", "wall_s", "total_s", "frames_per_s", "input", "checkpoint"}


def _walk(a, b, path: str, out: list[tuple[str, float]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                out.append((f"{path}.{key} (missing on one side)", float("inf")))
            else:
                _walk(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        out.append((path, abs(float(a) - float(b))))
    elif a != b:
        out.append((f"{path} ({a!r:.40} != {b!r:.40})", float("inf")))


def compare_npz(a: Path, b: Path) -> tuple[float, str]:
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        if set(x.files) != set(y.files):
            return float("inf"), f"keys differ: {sorted(set(x.files) ^ set(y.files))}"
        worst, where = 0.0, ""
        for key in x.files:
            u, v = x[key], y[key]
            if u.shape != v.shape:
                return float("inf"), f"{key}: shape {u.shape} != {v.shape}"
            if u.dtype.kind in "fiub" and v.dtype.kind in "fiub":
                both_nan = np.isnan(u.astype(np.float64)) & np.isnan(v.astype(np.float64))
                diff = np.where(both_nan, 0.0, np.abs(u.astype(np.float64) - v.astype(np.float64)))
                d = float(diff.max()) if diff.size else 0.0
            else:
                d = 0.0 if np.array_equal(u, v) else float("inf")
            if d > worst or not where:
                worst, where = max(worst, d), key if d >= worst else where
        return worst, f"max |diff| {worst:.3g} ({where})"


def compare_json(a: Path, b: Path) -> tuple[float, str]:
    diffs: list[tuple[str, float]] = []
    _walk(json.loads(a.read_text()), json.loads(b.read_text()), "", diffs)
    worst = max(diffs, key=lambda d: d[1], default=("", 0.0))
    return worst[1], f"max |diff| {worst[1]:.3g} {worst[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    failed = False
    for path in sorted(args.before.rglob("*")):
        if path.suffix not in (".npz", ".json", ".csv", ".bvh") or not path.is_file():
            continue
        other = args.after / path.relative_to(args.before)
        if not other.exists():
            print(f"MISSING {other}")
            failed = True
            continue
        if path.suffix == ".npz":
            worst, text = compare_npz(path, other)
        elif path.suffix == ".json":
            worst, text = compare_json(path, other)
        else:
            same = path.read_bytes() == other.read_bytes()
            worst, text = (0.0, "identical bytes") if same else (float("inf"), "bytes differ")
        ok = worst <= args.tol
        failed |= not ok
        print(f"{'ok  ' if ok else 'DIFF'} {path.relative_to(args.before)}: {text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
