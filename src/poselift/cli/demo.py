"""``poselift demo``."""

from __future__ import annotations

import argparse

from poselift.cli.options import add_examples
from poselift.tools.demo import run_demo


def cmd_demo(args) -> int:
    return run_demo(args.out, seconds=args.seconds)


def configure_demo(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Trains a small model on a procedurally animated figure seen by virtual cameras, then lifts unseen sequences and prints the metrics."
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--seconds", type=float, default=60.0, help="training time budget in seconds (default 60)")
    add_examples(
        p,
        'poselift demo',
        'poselift demo --seconds 20 --out runs/demo_quick',
    )
    p.set_defaults(func=cmd_demo)
