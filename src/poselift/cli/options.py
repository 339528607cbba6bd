"""Value types and shared options for the command line (argparse).

Each type turns a bad value into argparse's one-line usage error instead of a
traceback later on.
"""

from __future__ import annotations

import argparse
import math


def _parse(text: str, kind: type, allow_zero: bool) -> int | float:
    """``text`` as a whole number (``kind=int``) or a finite number (``float``), above 0
    (or at least 0 with ``allow_zero``), else argparse's one-line usage error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    if (kind is float and not math.isfinite(value)) or not (value >= 0 if allow_zero else value > 0):
        raise argparse.ArgumentTypeError(f"expected {'a number >= 0' if allow_zero else 'a positive number'}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _parse(text, int, allow_zero=False)


def positive_float(text: str) -> float:
    return _parse(text, float, allow_zero=False)


def non_negative_int(text: str) -> int:
    return _parse(text, int, allow_zero=True)


def non_negative_float(text: str) -> float:
    return _parse(text, float, allow_zero=True)


def add_threads_option(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--threads N``: CPU threads torch may use (applied by :func:`apply_threads`)."""
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for torch (default: torch's choice, about one per core); fewer leave cores to other work")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's CPU thread count from ``args.threads`` when the command has and got it."""
    threads = getattr(args, "threads", None)
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--arc", default="3,3,3", help="filter widths; RF = product: 3,3,3 → 27 frames, 3,3,3,3 → 81, 3,3,3,3,3 → 243 (default 3,3,3)")
    g.add_argument("--channels", type=int, default=1024, help="convolution channels (default 1024)")
    g.add_argument("--dropout", type=float, default=0.25, help="dropout probability (default 0.25)")
    g.add_argument("--causal", action="store_true", help="causal model: each output sees only past frames (for streaming)")


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default="h36m", help="dataset (default h36m; synthetic = procedural figure, no files needed)")
    g.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    g.add_argument("--keypoints", choices=["gt", "sh"], default="gt", help="2D input: gt = projected ground truth, sh = Stacked Hourglass detections (MPII-16 in, H36M-17 out)")
    g.add_argument("--subjects-train", default=None, help="comma-separated training subjects (default S1,S5,S6,S7,S8; HumanEva S1,S2,S3)")
    g.add_argument("--subjects-test", default=None, help="comma-separated test subjects (default S9,S11; HumanEva S1,S2,S3 of Validate/)")
    g.add_argument("--actions", default=None, help="comma-separated actions to keep, e.g. Walking,Jog (default all; HumanEva: Walk,Jog,Box)")


def split_list(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None




class ExamplesFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that an epilog starting with ``examples:`` is
    printed as written (one command per line) instead of re-wrapped."""

    def _format_text(self, text: str) -> str:
        if text.startswith("examples:"):
            return text.rstrip() + "\n"
        return super()._format_text(text)


def add_examples(p: argparse.ArgumentParser, *commands: str) -> None:
    """End ``p``'s ``--help`` with example command lines (``# ...`` comments allowed)."""
    p.formatter_class = ExamplesFormatter
    p.epilog = "examples:\n" + "\n".join(f"  {command}" for command in commands)
