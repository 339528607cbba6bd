"""Test-time adaptation by back-projection (`poselift infer --adapt`, `poselift.models.adapt`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import random_rotation

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry.angles import segment_lengths
from poselift.geometry.camera import fit_root_position
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17, bone_lengths
from poselift.models.adapt import (
    AdaptConfig,
    adapt_pose_model,
    solve_root,
    symmetric_bone_target,
)
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.pipeline.infer import adaptation_config, run_infer
from tests.test_pipeline import _save_lifter, write_npz_input


def _walking_figure(frames: int = 60) -> np.ndarray:
    """A root-relative H36M-17 figure ``[T, 17, 3]`` (metres, camera frame, y down) swinging its limbs."""
    base = np.array([
        [0, 0, 0], [-0.12, 0, 0], [-0.12, 0.42, 0], [-0.12, 0.82, 0], [0.12, 0, 0], [0.12, 0.42, 0], [0.12, 0.82, 0],
        [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, 0], [0, -0.7, 0],
        [0.18, -0.48, 0], [0.18, -0.2, 0], [0.18, 0.05, 0], [-0.18, -0.48, 0], [-0.18, -0.2, 0], [-0.18, 0.05, 0],
    ])
    t = np.arange(frames)[:, None]
    pose = np.repeat(base[None], frames, 0)
    swing = 0.15 * np.sin(t / 5)
    pose[:, [2, 3], 2] += swing  # right leg forward/back
    pose[:, [5, 6], 2] -= swing
    pose[:, [12, 13], 2] += swing
    pose[:, [15, 16], 2] -= swing
    return pose


def _project(pose: np.ndarray, root: np.ndarray, focal: float) -> np.ndarray:
    cam = pose + root[:, None]
    return focal * cam[..., :2] / cam[..., 2:3]


def test_solve_root_equals_the_numpy_root_fit():
    rng = np.random.default_rng(0)
    pose = _walking_figure(8)
    root = np.stack([rng.uniform(-0.5, 0.5, 8), rng.uniform(-0.3, 0.3, 8), rng.uniform(3, 6, 8)], -1)
    uv = _project(pose, root, 1.0) + rng.normal(0, 0.002, (8, 17, 2))
    weights = rng.uniform(0.2, 1.0, (8, 17))
    expected = fit_root_position(pose, uv, np.array([1.0, 1.0, 0, 0, 0, 0, 0, 0, 0]), weights)
    got = solve_root(torch.tensor(pose), torch.tensor(uv), torch.tensor(weights)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    exact = solve_root(torch.tensor(pose), torch.tensor(_project(pose, root, 1.0)), torch.ones(8, 17)).numpy()
    np.testing.assert_allclose(exact, root, atol=1e-5)  # noise-free 2D: the true root


def test_symmetric_bone_target_is_the_clip_mean_with_left_equal_right():
    pose = _walking_figure(10)
    pose[:, 2] *= 1.1  # right thigh longer than the left
    lengths = bone_lengths(torch.tensor(pose), H36M_17)
    target = symmetric_bone_target(lengths, H36M_17).numpy()
    child = [j for j, p in enumerate(H36M_17.parents) if p >= 0]
    right_thigh, left_thigh = child.index(2), child.index(5)
    assert target[right_thigh] == pytest.approx(target[left_thigh])
    assert target[right_thigh] == pytest.approx(lengths[:, [right_thigh, left_thigh]].mean().item())


def _small_model() -> TemporalModel:
    torch.manual_seed(0)
    model = TemporalModel(ModelConfig(channels=32, filter_widths=(3, 3), dropout=0.0))
    return model.eval()


def _clip(frames: int = 60):
    pose = _walking_figure(frames)
    root = np.stack([0.2 * np.sin(np.arange(frames) / 10), np.full(frames, 0.1), np.full(frames, 4.0)], -1)
    focal = 2.0  # normalised: 2 f_px / w
    return _project(pose, root, focal).astype(np.float32), np.ones((frames, 17), np.float32), focal


def test_adaptation_lowers_the_reprojection_error_and_leaves_the_model_alone():
    model = _small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kp, conf, focal = _clip()
    result = adapt_pose_model(model, kp, conf, H36M_17, focal_normalized=focal,
                              config=AdaptConfig(steps=40, lr=3e-3, max_seconds=None))
    assert result.steps == 40 and result.seconds > 0
    first, last = result.history[0], result.history[-1]
    assert last["reprojection"] < 0.5 * first["reprojection"]
    assert last["bone"] < first["bone"]
    assert last["tether"] > 0  # it moved away from the unadapted prediction
    for k, v in model.state_dict().items():  # the caller's model is untouched
        torch.testing.assert_close(v, before[k])
    assert result.model is not model and not result.model.training
    assert not any(p.requires_grad for p in result.model.parameters())
    assert result.bone_lengths_m.shape == (16,)


def test_a_heavier_tether_keeps_the_output_closer_to_the_unadapted_one():
    model = _small_model()
    kp, conf, focal = _clip()
    loose = adapt_pose_model(model, kp, conf, H36M_17, focal_normalized=focal,
                             config=AdaptConfig(steps=20, lr=3e-3, tether_weight=0.0, max_seconds=None))
    tight = adapt_pose_model(model, kp, conf, H36M_17, focal_normalized=focal,
                             config=AdaptConfig(steps=20, lr=3e-3, tether_weight=50.0, max_seconds=None))
    assert tight.history[-1]["tether"] < loose.history[-1]["tether"]


def test_unseen_joints_do_not_pull_and_flip_averaging_runs():
    model = _small_model()
    kp, conf, focal = _clip(40)
    conf[:, 13] = 0.0  # left wrist never seen
    kp[:, 13] = np.nan
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    result = adapt_pose_model(model, kp, conf, H36M_17, focal_normalized=focal, flip=flip,
                              config=AdaptConfig(steps=3, max_seconds=None), reprojection_joints=(1, 2, 3, 4, 5, 6))
    assert all(np.isfinite(list(h.values())).all() for h in result.history)


def test_time_budget_stops_early():
    kp, conf, focal = _clip(40)
    result = adapt_pose_model(_small_model(), kp, conf, H36M_17, focal_normalized=focal,
                              config=AdaptConfig(steps=10_000, max_seconds=0.2))
    assert 1 <= result.steps < 10_000


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "adapt_steps"),
    ({"steps": 2.5}, "adapt_steps"),
    ({"lr": 0.0}, "lr"),
    ({"tether_weight": -1.0}, "tether_weight"),
    ({"bone_weight": float("nan")}, "bone_weight"),
    ({"max_seconds": 0}, "max_seconds"),
])
def test_bad_adapt_config(kwargs, message):
    with pytest.raises(PoseliftError, match=message):
        AdaptConfig(**kwargs)


def test_bad_adaptation_inputs():
    model = _small_model()
    kp, conf, focal = _clip(30)
    with pytest.raises(PoseliftError, match="keypoints"):
        adapt_pose_model(model, kp[:, :15], conf, H36M_17, focal_normalized=focal)
    with pytest.raises(PoseliftError, match="confidence"):
        adapt_pose_model(model, kp, conf[:-1], H36M_17, focal_normalized=focal)
    with pytest.raises(PoseliftError, match="focal"):
        adapt_pose_model(model, kp, conf, H36M_17, focal_normalized=0.0)
    with pytest.raises(PoseliftError, match="adapt"):
        adaptation_config("yes")
    assert adaptation_config(False) is None and adaptation_config(True) == AdaptConfig()


def test_segment_lengths_are_per_side_medians():
    pose = _walking_figure(20)
    lengths = segment_lengths(pose)
    assert lengths["right_thigh"] == pytest.approx(np.median(np.linalg.norm(pose[:, 2] - pose[:, 1], axis=-1)), abs=1e-4)
    assert set(lengths) == {f"{s}_{g}" for s in ("left", "right") for g in ("thigh", "shank", "upper_arm", "forearm")}
    with pytest.raises(PoseliftError):
        segment_lengths(pose[:, :15])
    rng = np.random.default_rng(1)
    rotated = pose @ random_rotation(rng).T
    assert segment_lengths(rotated)["left_forearm"] == pytest.approx(lengths["left_forearm"], abs=1e-4)


def test_infer_adapt_writes_the_adaptation_and_segment_lengths(tmp_path):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    src = write_npz_input(tmp_path / "kp.npz")
    plain = run_infer(src, tmp_path / "plain", ckpt, progress=False)
    adapted = run_infer(src, tmp_path / "adapted", ckpt, progress=False, adapt=AdaptConfig(steps=5, lr=1e-3))
    assert "adapt" in adapted.timings_s and "adapt" not in plain.timings_s
    meta = json.loads((tmp_path / "adapted" / "poses.json").read_text())["metadata"]["person"]
    assert meta["adaptation"]["steps"] == 5
    assert set(meta["adaptation"]["loss_mm"]) == {"total", "reprojection", "bone", "tether"}
    assert meta["segment_lengths_m"]["left_thigh"] > 0
    plain_meta = json.loads((tmp_path / "plain" / "poses.json").read_text())["metadata"]["person"]
    assert plain_meta["adaptation"] is None and plain_meta["segment_lengths_m"]["left_thigh"] > 0
    with np.load(tmp_path / "adapted" / "poses.npz") as z:
        assert z["adaptation_loss"].shape == (5, 4)
        adapted_joints = z["joints_3d"]
    with np.load(tmp_path / "plain" / "poses.npz") as z:
        assert "adaptation_loss" not in z.files
        assert not np.allclose(z["joints_3d"], adapted_joints)  # the adapted copy lifted


def test_cli_adapt_flag(tmp_path, capsys):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    src = write_npz_input(tmp_path / "kp.npz")
    assert main(["infer", str(src), "--out", str(tmp_path / "o"), "--checkpoint", str(ckpt), "--adapt", "--no-progress"]) == 0
    meta = json.loads((tmp_path / "o" / "poses.json").read_text())["metadata"]["person"]
    assert meta["adaptation"]["steps"] == AdaptConfig().steps


def test_long_clips_are_adapted_on_windows_that_cover_them():
    from poselift.models.adapt import step_windows

    assert step_windows(100, 500, 3) == [(0, 100)] * 3
    windows = step_windows(1200, 500, 8)
    assert all(b - a == 500 for a, b in windows)
    assert {a for a, _ in windows} >= {0, 700}  # first and last window
    covered = np.zeros(1200, bool)
    for a, b in windows:
        covered[a:b] = True
    assert covered.all()
    kp, conf, focal = _clip(60)
    result = adapt_pose_model(_small_model(), kp, conf, H36M_17, focal_normalized=focal,
                              config=AdaptConfig(steps=4, max_frames_per_step=20))
    assert result.steps == 4 and all(np.isfinite(list(h.values())).all() for h in result.history)
    with pytest.raises(PoseliftError, match="max_frames_per_step"):
        AdaptConfig(max_frames_per_step=0)
