"""The root fit runs in blocks of frames (bounded memory) with the one-shot result."""

from __future__ import annotations

import numpy as np

import poselift.geometry.trajectory as trajectory


def test_block_size_does_not_change_the_fit(monkeypatch):
    rng = np.random.default_rng(0)
    frames = 1000
    joints = rng.normal(0, 0.3, (frames, 12, 3))
    keypoints = rng.normal(500, 100, (frames, 12, 2))
    weights = rng.random((frames, 12))
    intrinsics = trajectory.pinhole_intrinsics(1280, 720, 1400.0)
    whole = trajectory.fitted_root(joints, keypoints, intrinsics, 30.0, weights)
    monkeypatch.setattr(trajectory, "ROOT_FIT_BLOCK_FRAMES", 77)
    np.testing.assert_array_equal(trajectory.fitted_root(joints, keypoints, intrinsics, 30.0, weights), whole)
