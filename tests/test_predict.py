"""models.predict.lift_sequence: the one way infer, render, demo and evaluate lift a sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import H36M_17
from poselift.models.fast import fast_twin
from poselift.models.predict import lift_sequence, predict_sequence
from poselift.models.temporal import ModelConfig, TemporalModel


def _models(causal: bool = False) -> tuple[TemporalModel, TemporalModel]:
    torch.manual_seed(0)
    pose = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=16, causal=causal)).eval()
    traj = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=16, num_joints_out=1, causal=causal)).eval()
    return pose, traj


def _keypoints(frames: int = 40) -> np.ndarray:
    return np.random.default_rng(1).normal(0, 0.3, (frames, 17, 2)).astype(np.float32)


def test_pose_is_root_relative_and_matches_the_primitive():
    pose, traj = _models()
    x = _keypoints()
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    joints, trajectory = lift_sequence(pose, x, flip, trajectory_model=traj)
    raw = predict_sequence(pose, x, flip)
    assert joints.shape == (40, 17, 3) and trajectory.shape == (40, 3)
    assert np.all(joints[:, 0] == 0)
    np.testing.assert_allclose(joints, raw - raw[:, :1], atol=1e-5)  # BN-folded twin: same outputs
    np.testing.assert_allclose(trajectory, predict_sequence(traj, x)[:, 0], atol=1e-5)


def test_raw_output_and_no_trajectory():
    pose, _ = _models()
    x = _keypoints()
    joints, trajectory = lift_sequence(pose, x, None, root_relative=False)
    assert trajectory is None
    np.testing.assert_array_equal(joints, predict_sequence(fast_twin(pose), x))


def test_chunks_give_the_one_shot_result():
    pose, traj = _models(causal=True)
    x = _keypoints(100)
    whole = lift_sequence(pose, x, trajectory_model=traj)
    chunked = lift_sequence(pose, x, trajectory_model=traj, chunk_frames=7)
    np.testing.assert_allclose(whole[0], chunked[0], atol=1e-6)
    np.testing.assert_allclose(whole[1], chunked[1], atol=1e-6)


@pytest.mark.parametrize("shape", [(40, 16, 2), (40, 17, 3), (17, 2), (0, 17, 2)])
def test_wrong_input_shape_is_a_clear_error(shape):
    pose, _ = _models()
    with pytest.raises(PoseliftError, match=r"`keypoints` must be shaped \[frames >= 1, 17, 2\]"):
        lift_sequence(pose, np.zeros(shape, np.float32))
