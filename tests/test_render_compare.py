"""Several models side by side: render_video(more_3d=..., captions=...), `poselift render
--compare`, and the velocity plot of scripts/diag built on the same lift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error

from poselift.cli import main
from poselift.data.synthetic import synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17
from poselift.models.checkpoint import save_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.tools.render_sequence import (
    RenderOptions,
    default_label,
    lift_render_sequence,
)
from poselift.viz.render import render_video

SIZE = 96
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seq():
    return synthetic_sequence(12, seed=5)


def checkpoint(path: Path, widths=(3, 3), joints_in: int = 17, seed: int = 0) -> Path:
    """A random-weight checkpoint as `poselift train --dataset synthetic` writes it (H36M-17
    in and out; ``joints_in=16``: the MPII-16 input of `--keypoints sh`)."""
    import torch

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = ModelConfig(num_joints_in=joints_in, channels=16, filter_widths=widths)
    layout = {17: "h36m17", 16: "mpii16"}[joints_in]
    meta = {"model": cfg.to_dict(), "joints_in": layout, "joints_out": "h36m17", "fps": 50.0,
            "train": {"dataset": "synthetic", "keypoints": "gt"}}
    save_checkpoint(path, {"model_pos": TemporalModel(cfg).state_dict()}, meta)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "rf1": checkpoint(root / "rf1" / "last.pt", (1, 1, 1), seed=1),
        "rf9": checkpoint(root / "rf9" / "last.pt", (3, 3), seed=2),
        "sh": checkpoint(root / "sh" / "last.pt", (3, 3), joints_in=16),
    }




# ------------------------------------------------------------------------ render_video
def test_more_panels_with_titles_and_captions(tmp_path, seq, drawn_frames):
    gt = seq.positions_3d
    kwargs = {"keypoints_2d": seq.keypoints_2d, "image_size": (1000, 1000), "ground_truth": gt, "size": SIZE,
              "progress": False}
    render_video(tmp_path / "one.mp4", gt + 0.02, H36M_17, 50.0, **kwargs)
    one = list(drawn_frames)
    drawn_frames.clear()
    render_video(tmp_path / "three.mp4", gt + 0.02, H36M_17, 50.0, more_3d=[("b", gt - 0.03), ("c", gt)],
                 title_3d="a", captions=["RF 1", None, "RF 27"], **kwargs)
    three = list(drawn_frames)
    assert len(three) == len(one) == 12
    assert one[0].shape == (SIZE, 3 * SIZE, 3)
    assert three[0].shape == (SIZE, 5 * SIZE, 3)  # input | a | b | c | ground truth
    for x in range(SIZE, 5 * SIZE, SIZE):  # every 3D panel has a figure on it
        assert (three[0][int(0.25 * SIZE):, x : x + SIZE] < 200).mean() > 0.002
    # the input panel is unchanged; the captioned panels have text under the title, the other not
    np.testing.assert_array_equal(three[0][:, :SIZE], one[0][:, :SIZE])
    band = slice(int(0.055 * SIZE) + 6, int(0.055 * SIZE) + 4 + 12)  # under the title's baseline

    def inked(x):
        return int((three[0][band, x + 2 : x + SIZE // 3] < 150).any(-1).sum())

    assert inked(SIZE) > 0 and inked(3 * SIZE) > 0 and inked(2 * SIZE) == 0
    # the titles differ: the first reconstruction is "a", not "Reconstruction"
    title = slice(0, int(0.055 * SIZE) + 6)
    assert not np.array_equal(three[0][title, SIZE : 2 * SIZE], one[0][title, SIZE : 2 * SIZE])


def test_defaults_give_the_one_model_video(tmp_path, seq):
    args = (seq.positions_3d, H36M_17, 50.0)
    kwargs = {"keypoints_2d": seq.keypoints_2d, "ground_truth": seq.positions_3d, "size": SIZE, "progress": False}
    a = render_video(tmp_path / "a.gif", *args, **kwargs)
    b = render_video(tmp_path / "b.gif", *args, more_3d=[], title_3d="Reconstruction", captions=None, **kwargs)
    assert a.read_bytes() == b.read_bytes()


def test_bad_more_3d_and_captions(tmp_path, seq):
    p3 = seq.positions_3d
    cases = [
        ({"more_3d": [("b", p3[:, :16])]}, r"more_3d\[0\] \(b\) must be shaped \[T, 17, 3\]"),
        ({"more_3d": [("b", p3[:5])]}, r"more_3d\[0\] \(b\) has 5 frames"),
        ({"more_3d": ("b", p3)}, "sequence of \\(title"),
        ({"more_3d": [p3]}, r"more_3d\[0\] must be a \(title"),
        ({"more_3d": [(3, p3)]}, r"`more_3d\[0\]\[0\]` must be a string"),
        ({"captions": ["x", "y"]}, "`captions` has 2 entries for 1 reconstruction"),
        ({"captions": "RF 1"}, "single string"),
        ({"title_3d": None}, "`title_3d` must be a string"),
    ]
    for override, message in cases:
        with pytest.raises(PoseliftError, match=message):
            render_video(tmp_path / "x.mp4", p3, H36M_17, 50.0, size=SIZE, progress=False, **override)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- CLI
def render(tmp_path, name, *extra):
    out = tmp_path / name
    rc = main(["render", "--dataset", "synthetic", "--out", str(out), "--limit-frames", "10", "--size", str(SIZE),
               "--no-progress", *extra])
    return rc, out


def test_cli_compare_panels_labels_and_export(tmp_path, models, capsys, drawn_frames):
    rc, _ = render(tmp_path, "one.mp4", "--checkpoint", str(models["rf1"]), "--export", str(tmp_path / "one.npz"))
    assert rc == 0, capsys.readouterr().err
    one = list(drawn_frames)
    drawn_frames.clear()
    rc, _ = render(tmp_path, "cmp.mp4", "--checkpoint", str(models["rf1"]), "--compare", str(models["rf9"]),
                   "--compare", str(models["rf1"]), "--labels", "single-frame (RF 1), temporal (RF 9),again",
                   "--export", str(tmp_path / "cmp.npz"))
    assert rc == 0, capsys.readouterr().err
    cmp = list(drawn_frames)
    assert len(cmp) == len(one) == 10
    height, width = one[0].shape[:2]
    assert cmp[0].shape == (height, width + 2 * SIZE, 3)  # two more reconstruction panels
    in_w = width - 2 * SIZE
    np.testing.assert_array_equal(cmp[0][:, :in_w], one[0][:, :in_w])  # the same input panel
    assert (cmp[0][int(0.3 * SIZE):, -SIZE:] < 200).mean() > 0.002  # the ground truth (lower: room for captions)
    # the same model twice: the same figure (the panels differ only in title and caption)
    fig = slice(int(0.3 * SIZE), None)
    first, third = cmp[0][fig, in_w : in_w + SIZE], cmp[0][fig, in_w + 2 * SIZE : in_w + 3 * SIZE]
    np.testing.assert_array_equal(first, third)
    assert not np.array_equal(first, cmp[0][fig, in_w + SIZE : in_w + 2 * SIZE])
    # --export writes --checkpoint's reconstruction, as without --compare
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "cmp.npz")
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])


def test_lift_render_sequence_models_and_default_labels(models):
    lifted = lift_render_sequence(RenderOptions(out="unused.mp4", checkpoint=str(models["rf9"]), dataset="synthetic",
                                                compare=[str(models["rf1"]), str(models["rf9"])], limit_frames=20))
    assert [m.label for m in lifted.models] == ["rf9", "rf1", "rf9 (2)"]
    assert [m.receptive_field for m in lifted.models] == [9, 1, 9]
    assert lifted.used == 20 and lifted.ground_truth.shape == (20, 17, 3)
    assert all(m.joints.shape == (20, 17, 3) for m in lifted.models)
    np.testing.assert_array_equal(lifted.models[0].joints, lifted.models[2].joints)
    assert np.allclose(lifted.ground_truth[:, 0], 0)
    assert default_label("runs/x/best.pt") == "x" and default_label("a/model_v2.pt") == "model_v2"
    assert default_label(None) == "bundled model"


def test_cli_compare_errors(tmp_path, models, capsys):
    base = ["--checkpoint", str(models["rf1"])]
    rc, out = render(tmp_path, "e.mp4", *base, "--compare", str(models["sh"]))
    assert_one_line_error(rc, capsys.readouterr().err, "--compare", str(models["sh"]), "--checkpoint",
                          str(models["rf1"]), "16 'mpii16'", "17 'h36m17'")
    rc, out = render(tmp_path, "e.mp4", *base, "--compare", str(tmp_path / "missing.pt"))
    assert_one_line_error(rc, capsys.readouterr().err, "missing.pt")
    rc, out = render(tmp_path, "e.mp4", *base, "--compare", str(models["rf9"]), "--labels", "only-one")
    assert_one_line_error(rc, capsys.readouterr().err, "--labels", "1 model(s) but there are 2")
    rc, out = render(tmp_path, "e.mp4", *base, "--compare", str(models["rf9"]), "--labels", "a,")
    assert_one_line_error(rc, capsys.readouterr().err, "--labels", "empty")
    assert not out.exists()


# -------------------------------------------------------------------- velocity plot
def test_velocity_plot_script(tmp_path, models, capsys):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("velocity_plot", REPO / "scripts" / "diag" / "velocity_plot.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "v.png"
    rc = script.main([str(models["rf1"]), str(models["rf9"]), "--dataset", "synthetic", "--frames", "30",
                      "--labels", "single,temporal", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "single (RF 1" in printed and "temporal (RF 9" in printed and "MPJVE" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rc = script.main([str(models["rf1"]), str(models["sh"]), "--dataset", "synthetic", "--out", str(tmp_path / "e.png")])
    assert rc == 2 and "compared models must lift the same 2D input" in capsys.readouterr().err


def test_sh_input_of_a_corrupt_recording_is_a_clear_error(tmp_path, models, capsys):
    """The Stacked Hourglass detections leave out S11 Directions (a corrupt recording);
    every other S11 sequence renders with them (the loader skips that one)."""
    (tmp_path / "h36m").mkdir()
    rc = main(["render", "--checkpoint", str(models["sh"]), "--data-dir", str(tmp_path / "h36m"), "--keypoints", "sh",
               "--subject", "S11", "--action", "Directions 1", "--out", str(tmp_path / "d.mp4")])
    assert_one_line_error(rc, capsys.readouterr().err, "S11 'Directions 1'", "Stacked Hourglass", "--keypoints gt")


def test_cli_compare_real_h36m_sh(h36m_dir, tmp_path, models, capsys, drawn_frames):
    rc = main(["render", "--checkpoint", str(models["sh"]), "--compare", str(models["sh"]), "--data-dir", str(h36m_dir),
               "--keypoints", "sh", "--subject", "S11", "--action", "Walking 1", "--camera", "0", "--limit-frames", "6",
               "--size", str(SIZE), "--out", str(tmp_path / "w.mp4"), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert len(drawn_frames) == 6 and drawn_frames[0].shape == (SIZE, 4 * SIZE, 3)  # 1000x1002 canvas + 3 panels
