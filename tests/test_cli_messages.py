"""Library errors name arguments; the command line shows its own options instead."""

from __future__ import annotations

import pytest
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers

from poselift.cli import build_parser
from poselift.cli.messages import cli_message
from poselift.errors import PoseliftError
from poselift.geometry.sequence import fill_gaps


@pytest.fixture(scope="module")
def parser():
    return build_parser()


@pytest.mark.parametrize(
    ("command", "message", "expected"),
    [
        ("infer", "`max_gap` must be >= 0 frames, got -1", "--max-gap must be >= 0 frames, got -1"),
        ("infer", "`max_gap_frames` must be >= 0", "--max-gap must be >= 0"),  # a library name the CLI spells otherwise
        ("infer", "x exists; pass `overwrite=True` to replace it", "x exists; pass --overwrite to replace it"),
        ("infer", "choose another `out_dir`", "choose another --out"),
        ("infer", "skip it with `flip=False`", "skip it with --no-flip"),
        ("train", "only applies with `recipe='wild'`", "only applies with --recipe wild"),
        ("train", "train one with `TrainConfig.causal=True`", "train one with --causal"),
        ("stream", "train one with `TrainConfig.causal=True`", "train one with `poselift train --causal`"),
        ("bench", "`device` applies to `what='train'`", "--device applies to `poselift bench train`"),
        ("data convert", "pass `allow_pickle=True` only", "pass --allow-pickle only"),
        ("infer", "convert it with `convert_dataset(a.npz, OUT.npz, allow_pickle=True)`",
         "convert it with `poselift data convert a.npz OUT.npz --allow-pickle`"),
        ("infer", "convert it with `convert_dataset(a.npz, OUT.npz, allow_pickle)`",  # a bare switch
         "convert it with `poselift data convert a.npz OUT.npz --allow-pickle`"),
        ("data convert", "pass `allow_pickle` only", "pass --allow-pickle only"),
        ("infer", "convert it with `import_videopose3d_checkpoint(m.bin, OUT.pt, causal=False)`",
         "convert it with `poselift import-checkpoint m.bin OUT.pt --no-causal`"),
        ("infer", "`no_such_option` and `poselift infer` stay as written", "`no_such_option` and `poselift infer` stay as written"),
        (None, "`max_gap` without a command stays", "`max_gap` without a command stays"),
    ],
)
def test_marks_become_the_commands_options(parser, command, message, expected):
    assert cli_message(message, parser, command) == expected


def test_library_callers_read_argument_names():
    with pytest.raises(PoseliftError, match="`max_gap_frames` must be >= 0") as exc:
        fill_gaps([[[0.0, 0.0]]], None, -1)
    assert "--" not in str(exc.value)


def test_cli_shows_flags_for_library_errors(capsys, tmp_path):
    rc, _, err = run(["train", "--dataset", "synthetic", "--recipe", "wild", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(rc, err, "--recipe wild trains on Human3.6M", "--dataset h36m", "--keypoints gt")
    assert "`" not in err.split("error:", 1)[1].split("trains")[0]  # the flag is shown bare, not as a Python mark



def test_error_wording_survives_a_broken_command_module(tmp_path, capsys, monkeypatch):
    """Messages are worded with every command's options; if another command's module
    cannot be imported, this command's own options still word it: one line, no traceback."""
    import importlib

    cli_main = importlib.import_module("poselift.cli.main")
    real = cli_main.build_parser

    def fragile(load=None):
        if load is None:
            raise ImportError("a half-edited command module")
        return real(load=load)

    monkeypatch.setattr(cli_main, "build_parser", fragile)
    rc = cli_main.main(["infer", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "o"), "--render", "--render-size", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--render-size must be" in err and "Traceback" not in err
