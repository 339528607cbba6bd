"""The command line (``poselift``): argparse lives here and nowhere else."""

from poselift.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
