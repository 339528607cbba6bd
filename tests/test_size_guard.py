"""The size guard (`poselift infer`'s default, `--no-size-guard`): a person taller in the frame
than the model's training data is lifted from their 2D scaled down about the image centre."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry.camera import TRAINED_HEIGHT_P99, oversize_scale, screen_height
from poselift.models.lifter import input_height_limit
from poselift.models.predict import lift_sequence
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.pipeline.infer import run_infer
from tests.test_pipeline import _save_lifter, write_npz_input


def test_screen_height_is_the_median_extent_and_ignores_missing_joints():
    y = np.array([[0.0, 1.0, 0.5], [0.0, 2.0, np.nan], [np.nan, np.nan, np.nan], [-1.0, 2.0, 0.0]])
    points = np.stack([np.zeros_like(y), y], axis=-1)
    assert screen_height(points) == pytest.approx(2.0)  # frames: 1, 2, (none), 3
    assert np.isnan(screen_height(np.full((4, 17, 2), np.nan)))


def test_oversize_scale_shrinks_only_a_person_taller_than_the_training_data():
    small = np.zeros((5, 17, 2))
    small[:, :, 1] = np.linspace(-0.4, 0.4, 17)
    assert oversize_scale(small) == 1.0
    tall = small * 3.0  # 2.4 half-widths
    assert oversize_scale(tall) == pytest.approx(TRAINED_HEIGHT_P99 / 2.4)
    assert screen_height(tall * oversize_scale(tall)) == pytest.approx(TRAINED_HEIGHT_P99)
    assert oversize_scale(tall, max_height=3.0) == 1.0
    assert oversize_scale(np.full((3, 17, 2), np.nan)) == 1.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(PoseliftError, match="max_height"):
            oversize_scale(tall, bad)


def test_scaling_screen_coordinates_is_a_longer_lens():
    """x = f·X/Z about the principal point: s·x is what focal length s·f shows of the same 3D."""
    rng = np.random.default_rng(0)
    points = rng.normal(0, 0.3, (10, 17, 3)) + [0.2, -0.1, 3.0]
    f, s = 1.6, 0.6
    np.testing.assert_allclose(s * (f * points[..., :2] / points[..., 2:]), (s * f) * points[..., :2] / points[..., 2:])


def test_pose_scale_reaches_the_pose_model_only():
    torch.manual_seed(0)
    pose = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=16)).eval()
    traj = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=16, num_joints_out=1)).eval()
    x = np.random.default_rng(1).normal(0, 0.5, (30, 17, 2)).astype(np.float32)
    joints, trajectory = lift_sequence(pose, x, trajectory_model=traj, pose_scale=0.5)
    np.testing.assert_allclose(joints, lift_sequence(pose, x * 0.5)[0], atol=1e-6)
    np.testing.assert_allclose(trajectory, lift_sequence(pose, x, trajectory_model=traj)[1], atol=1e-6)


def _scaled_input(path, factor: float):
    """The test figure scaled by ``factor`` about the image centre (as a longer lens would show it)."""
    return write_npz_input(path, zoom=factor)


def test_infer_lifts_a_tall_person_as_if_seen_at_the_trained_size(tmp_path):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    normal = run_infer(_scaled_input(tmp_path / "a.npz", 1.0), tmp_path / "a", ckpt, progress=False)
    assert normal.people[0]["input_scale"]["scale"] == 1.0  # about 1.1 half-widths tall: as seen
    tall = run_infer(_scaled_input(tmp_path / "b.npz", 1.8), tmp_path / "b", ckpt, progress=False)
    info = tall.people[0]["input_scale"]
    assert info["screen_height"] > TRAINED_HEIGHT_P99 and info["scale"] == pytest.approx(
        TRAINED_HEIGHT_P99 / info["screen_height"], abs=1e-4)
    meta = json.loads((tmp_path / "b" / "poses.json").read_text())["metadata"]
    assert meta["person"]["input_scale"] == info
    # the pose equals lifting, without the guard, the figure drawn at exactly the trained size
    at_size = run_infer(_scaled_input(tmp_path / "c.npz", 1.8 * info["scale"]), tmp_path / "c", ckpt, progress=False,
                        size_guard=False)
    assert at_size.people[0]["input_scale"]["scale"] == 1.0
    unguarded = run_infer(_scaled_input(tmp_path / "b.npz", 1.8), tmp_path / "d", ckpt, progress=False, size_guard=False)
    with np.load(tmp_path / "b" / "poses.npz") as b, np.load(tmp_path / "c" / "poses.npz") as c, \
            np.load(tmp_path / "d" / "poses.npz") as d:
        np.testing.assert_allclose(b["joints_3d"], c["joints_3d"], atol=2e-3)
        assert np.abs(b["joints_3d"] - d["joints_3d"]).max() > 1e-2  # the guard changed the pose
        np.testing.assert_array_equal(b["keypoints_2d"], d["keypoints_2d"])  # the 2D written is as detected
    assert unguarded.people[0]["input_scale"]["scale"] == 1.0


def test_cli_no_size_guard(tmp_path, capsys):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    src = _scaled_input(tmp_path / "b.npz", 1.8)
    common = ["infer", str(src), "--checkpoint", str(ckpt), "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "on")]) == 0
    assert main([*common, "--out", str(tmp_path / "off"), "--no-size-guard"]) == 0
    on, off = (json.loads((tmp_path / n / "poses.json").read_text())["metadata"]["person"]["input_scale"] for n in ("on", "off"))
    assert on["scale"] < 1.0 and off["scale"] == 1.0 and on["screen_height"] == off["screen_height"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    assert "--no-size-guard" in capsys.readouterr().out


def test_the_checkpoint_says_how_tall_its_training_people_were(tmp_path):
    assert input_height_limit({}) == TRAINED_HEIGHT_P99  # the bundled models' value
    assert input_height_limit({"input_height_p99": 2.5}) == 2.5
    for bad in (0, -1.0, float("nan"), "2", True):
        assert input_height_limit({"input_height_p99": bad}) == TRAINED_HEIGHT_P99
    wide = _save_lifter(tmp_path / "wide.pt", input_height_p99=2.5)
    result = run_infer(_scaled_input(tmp_path / "b.npz", 1.8), tmp_path / "b", wide, progress=False)
    info = result.people[0]["input_scale"]
    assert info["max_height"] == 2.5 and info["scale"] == 1.0 and TRAINED_HEIGHT_P99 < info["screen_height"] < 2.5
