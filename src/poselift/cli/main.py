"""Command-line interface: ``poselift <verb> [options]``.

The only layer that parses arguments: each command group has a module here that
registers its options (``add_*``) and turns them into one call of the library
(``cmd_*``). User errors (:class:`PoseliftError`) are printed as one line and exit
with code 2. Machine-readable output goes to stdout behind ``--json``; logs and
progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

from poselift.cli.bench import add_bench
from poselift.cli.data import add_data, add_export_weights, add_import_checkpoint
from poselift.cli.demo import add_demo
from poselift.cli.evaluate import add_evaluate
from poselift.cli.export import add_export
from poselift.cli.infer import add_infer, add_infer_batch
from poselift.cli.messages import cli_message, invoked_command
from poselift.cli.options import apply_threads
from poselift.cli.render import add_render
from poselift.cli.stream import add_stream
from poselift.cli.train import add_train
from poselift.errors import PoseliftError

log = logging.getLogger("poselift")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poselift", description="3D human pose estimation in video with temporal convolutions.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train(sub)
    add_evaluate(sub)
    add_import_checkpoint(sub)
    add_export_weights(sub)
    add_export(sub)
    add_data(sub)
    add_bench(sub)
    add_demo(sub)
    add_render(sub)
    add_infer(sub)
    add_infer_batch(sub)
    add_stream(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = invoked_command(parser, args)
    args.cli_message = lambda text: cli_message(text, parser, command)  # for messages a command prints itself
    try:
        apply_threads(args)
        return int(args.func(args) or 0)
    except PoseliftError as exc:
        print(f"poselift: error: {args.cli_message(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("poselift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
