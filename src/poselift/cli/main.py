"""Command-line interface: ``poselift <verb> [options]``.

The only layer that parses arguments: each command group has a module here that
defines its options (``configure_*``) and turns them into one call of the library
(``cmd_*``). A command's module is imported only when that command runs (or its help
is asked for), so ``poselift --help`` answers at once instead of after loading torch
(a command's own help and usage errors still wait for its module, ~2 s). User errors (:class:`PoseliftError`) are printed as one line and
exit with code 2. Machine-readable output goes to stdout behind ``--json``; logs and
progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable

from poselift.cli.messages import cli_message, describe_os_error, invoked_command
from poselift.cli.options import apply_threads
from poselift.errors import PoseliftError
from poselift.version import __version__

log = logging.getLogger("poselift")

#: Every command: (module, function that configures its parser, one-line help), in
#: the order ``poselift --help`` lists them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "train": ("poselift.cli.train", "configure_train", "train a temporal model (supervised or semi-supervised)"),
    "evaluate": ("poselift.cli.evaluate", "configure_evaluate", "evaluate a checkpoint (MPJPE, P-MPJPE, N-MPJPE, MPJVE per action)"),
    "import-checkpoint": ("poselift.cli.data", "configure_import_checkpoint", "convert an original VideoPose3D checkpoint (.bin) to poselift"),
    "export-weights": ("poselift.cli.data", "configure_export_weights", "write an inference-only copy of a checkpoint (fp16, no optimiser state)"),
    "export": ("poselift.cli.export", "configure_export", "export a checkpoint to ONNX or TorchScript for deployment"),
    "data": ("poselift.cli.data", "configure_data", "inspect or convert datasets"),
    "bench": ("poselift.cli.bench", "configure_bench", "measure training / inference speed on this machine"),
    "demo": ("poselift.cli.demo", "configure_demo", "run the built-in end-to-end demo (no data needed)"),
    "render": ("poselift.cli.render", "configure_render", "lift a dataset sequence and render input 2D | 3D reconstruction | ground truth (mp4/gif)"),
    "infer": ("poselift.cli.infer", "configure_infer", "video or 2D keypoint file → 3D poses (npz/json/csv, optional BVH and render)"),
    "infer-batch": ("poselift.cli.infer", "configure_infer_batch", "`poselift infer` on every video / keypoint file in a folder"),
    "score-multiview": ("poselift.cli.score", "configure_score_multiview", "score poselift per view and actor against a multi-view 3D reference (P-MPJPE, joint angles)"),
    "stream": ("poselift.cli.stream", "configure_stream", "causal per-frame 3D from a video file or camera, with latency report"),
}


def build_parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The ``poselift`` parser. ``load``: the commands whose options are defined (their
    modules imported); default every command."""
    wanted = set(COMMANDS) if load is None else set(load)
    parser = argparse.ArgumentParser(prog="poselift", description="3D human pose estimation in video with temporal convolutions.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, configure, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        if name in wanted:
            getattr(importlib.import_module(module), configure)(command_parser)
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    command = _command_word(argv)
    parser = build_parser(load=[command] if command else [])
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
    words = invoked_command(parser, args)
    full: list[argparse.ArgumentParser] = []

    def in_cli_words(text: str) -> str:
        """A library message with this command's options (other commands' too)."""
        if not full:
            try:  # every command's options, to name another command's flags too
                full.append(build_parser())
            except Exception:  # noqa: BLE001 - wording an error must never raise one: this command's options
                log.debug("could not build every command's parser to word a message", exc_info=True)
                full.append(parser)
        return cli_message(text, full[0], words)

    args.cli_message = in_cli_words  # for messages a command prints itself
    try:
        apply_threads(args)
        return int(args.func(args) or 0)
    except PoseliftError as exc:
        print(f"poselift: error: {in_cli_words(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # read-only, not a folder, disk full, ...: one line, not a traceback
        log.debug("%s", exc, exc_info=True)
        print(f"poselift: error: {describe_os_error(exc)}", file=sys.stderr)
        return PoseliftError.exit_code
    except KeyboardInterrupt:
        print("poselift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
