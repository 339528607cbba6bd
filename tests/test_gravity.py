"""The vertical estimated from the poses (poselift.geometry.gravity)."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synthetic import animate_figure
from poselift.errors import PoseliftError
from poselift.geometry.gravity import CAMERA_UP, angle_between_deg, estimate_up, floor_below_camera, level_rotation
from poselift.geometry.skeleton import H36M_17


def _seen_by(world: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """World (z up) poses seen by a camera with ``X_cam = R · X_world``, root-relative."""
    cam = world @ rotation.T
    return cam - cam[:, :1]


def _tilted_camera(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """A camera looking along world +y, pitched down by ``pitch_deg`` and rolled."""
    level = level_rotation(CAMERA_UP)
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    pitch = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    roll = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return roll @ pitch @ level


def test_level_rotation_of_the_cameras_own_up_is_the_level_camera():
    np.testing.assert_allclose(level_rotation(CAMERA_UP), [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)


@pytest.mark.parametrize("pitch, roll", [(0, 0), (15, 0), (30, -5), (-10, 8)])
def test_walking_figure_gives_the_cameras_tilt(pitch, roll):
    world = animate_figure(200, seed=3)
    rotation = _tilted_camera(pitch, roll)
    estimate = estimate_up(_seen_by(world, rotation))
    true_up = rotation @ np.array([0.0, 0.0, 1.0])
    assert estimate.reliable
    assert angle_between_deg(estimate.up, true_up) < 4.0  # the figure leans a little: not exactly 0
    assert estimate.pitch_deg == pytest.approx(pitch, abs=4.0)
    assert estimate.roll_deg == pytest.approx(roll, abs=4.0)
    # the rotation it implies makes the vertical the world's z and keeps a rotation (no mirror)
    r = level_rotation(estimate.up)
    np.testing.assert_allclose(r.T @ estimate.up, [0, 0, 1], atol=1e-9)
    assert np.linalg.det(r) == pytest.approx(1.0)


@pytest.mark.parametrize("heading_deg", [0, 90, 200])
def test_estimate_does_not_depend_on_where_the_person_faces(heading_deg):
    h = np.radians(heading_deg)
    turn = np.array([[np.cos(h), -np.sin(h), 0], [np.sin(h), np.cos(h), 0], [0, 0, 1]])
    world = animate_figure(200, seed=5) @ turn.T
    rotation = _tilted_camera(20, 0)
    estimate = estimate_up(_seen_by(world, rotation))
    assert angle_between_deg(estimate.up, rotation @ np.array([0.0, 0.0, 1.0])) < 4.0


def test_a_seated_clip_is_not_trusted():
    pose = animate_figure(100, seed=1)
    seated = pose.copy()
    seated[:, [2, 5]] = pose[:, [1, 4]] + np.array([0.0, 0.45, 0.0])  # knees forward: thighs horizontal
    seated[:, [3, 6]] = seated[:, [2, 5]] + np.array([0.0, 0.0, -0.45])  # shanks down
    estimate = estimate_up(_seen_by(seated, _tilted_camera(10, 0)))
    assert not estimate.reliable and estimate.straight_leg_frames == 0
    np.testing.assert_array_equal(estimate.up_or_level(), CAMERA_UP)


def test_bad_input():
    with pytest.raises(PoseliftError, match="joints_3d"):
        estimate_up(np.zeros((10, 15, 3)))
    with pytest.raises(PoseliftError, match="`up`"):
        level_rotation(np.zeros(3))
    nan = np.full((5, 17, 3), np.nan)
    assert not estimate_up(nan).reliable


def test_infer_level_writes_the_levelled_world_into_every_output(tmp_path):
    """`run_infer(level=True)`: the estimate is stored, and BVH/TRC/angles/render take it."""
    import json

    from test_pipeline import _save_lifter, write_npz_input

    from poselift.pipeline.infer import run_infer

    ckpt = _save_lifter(tmp_path / "tiny.pt")
    kp = write_npz_input(tmp_path / "kp.npz")
    plain = run_infer(kp, tmp_path / "plain", ckpt, bvh=True, trc=True, level=False, progress=False)
    levelled = run_infer(kp, tmp_path / "level", ckpt, bvh=True, trc=True, angles=True, level=True, progress=False)
    meta_plain = json.loads((tmp_path / "plain" / "poses.json").read_text())["metadata"]
    meta = json.loads((tmp_path / "level" / "poses.json").read_text())["metadata"]
    assert meta_plain["level"] is None
    level = meta["level"]
    rotation = np.asarray(level["camera_rotation"])
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(rotation @ [0, 0, 1], level["up_camera"] if level["reliable"] else CAMERA_UP, atol=1e-5)
    assert {"poses.bvh", "poses.trc", "angles.csv"} <= {p.name for p in (tmp_path / "level").iterdir()}
    assert levelled.num_frames == plain.num_frames
    if level["reliable"] and angle_between_deg(level["up_camera"], CAMERA_UP) > 1.0:  # a tilt: the TRC differs
        assert (tmp_path / "level" / "poses.trc").read_text() != (tmp_path / "plain" / "poses.trc").read_text()


def test_levelled_trc_stands_upright_for_a_tilted_camera():
    """A figure filmed by a camera pitched 25° down and rolled 6°: in the camera frame the
    body leans; levelled by :func:`level_world`, the TRC's Y axis is the body's vertical."""
    from poselift.io.trc import marker_positions
    from poselift.pipeline.infer import level_world

    world = animate_figure(200, seed=2)
    joints = _seen_by(world, _tilted_camera(25, 6))
    up_of = lambda markers: markers[:, 8] - markers[:, 0]  # noqa: E731 - hip → thorax, per frame
    tilted = marker_positions(joints, H36M_17)  # the camera's own up
    level = level_world(joints)
    assert level.estimate.reliable
    levelled = marker_positions(joints, H36M_17, camera_rotation=level.rotation)
    y = np.array([0.0, 1.0, 0.0])
    true_lean = angle_between_deg(up_of(world).mean(0), [0.0, 0.0, 1.0])  # the figure's own lean (world z up)
    assert angle_between_deg(up_of(tilted).mean(0), y) > true_lean + 15
    assert abs(angle_between_deg(up_of(levelled).mean(0), y) - true_lean) < 4


def test_level_world_finds_the_floor_under_the_feet():
    """A figure walking on the floor (world z = 0) filmed from 1.6 m high, pitched 20° down."""
    from poselift.pipeline.infer import level_world

    world = animate_figure(200, seed=4)
    rotation, centre = _tilted_camera(20, 3), np.array([0.0, -5.0, 1.6])
    cam = (world - centre) @ rotation.T
    joints, trajectory = cam - cam[:, :1], cam[:, 0]
    true_up = rotation @ np.array([0.0, 0.0, 1.0])
    # with the true vertical the floor is where it is (the feet touch z = 0 in stance)
    assert floor_below_camera(joints, trajectory, true_up) == pytest.approx(1.6, abs=0.01)
    # with the estimated one, each degree off moves it by ~9 cm at 5 m (measured 3.7° → 1.76 m)
    level = level_world(joints, trajectory)
    tilt_error = angle_between_deg(level.up, true_up)
    assert tilt_error < 4.0
    assert level.floor_below_camera_m == pytest.approx(1.6, abs=0.05 + 5.2 * np.sin(np.radians(tilt_error)))
    grounded = joints + level.grounded(trajectory)[:, None]
    assert np.percentile((grounded[:, [3, 6]] @ level.up).min(axis=1), 5) == pytest.approx(0.0, abs=1e-6)
    assert level_world(joints).floor_below_camera_m is None  # no trajectory: no floor
    assert floor_below_camera(np.full((3, 17, 3), np.nan), np.zeros((3, 3)), true_up) is None
