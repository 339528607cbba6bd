"""A known standing height (`poselift infer --person-height`): the skeleton's height from its
lengths (`geometry.angles.standing_height`) and the scale of the 3D to a given one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import random_rotation

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry.angles import ANKLE_HEIGHT_FRACTION, standing_height
from poselift.pipeline.infer import check_infer_options, height_for, run_infer, scale_to_height
from tests.test_adapt import _walking_figure
from tests.test_pipeline import _save_lifter, write_npz_input


def test_standing_height_adds_the_leg_and_spine_chain_and_the_ankle():
    pose = _walking_figure(40)

    def length(a, b):
        return np.median(np.linalg.norm(pose[:, a] - pose[:, b], axis=-1))

    # shank and thigh (mean of right 1-2-3 and left 4-5-6), then Hip → Spine → Thorax → NeckNose → Head (0.25, 0.25, 0.1, 0.1)
    chain = (length(2, 3) + length(5, 6)) / 2 + (length(1, 2) + length(4, 5)) / 2 + 0.25 + 0.25 + 0.1 + 0.1
    assert standing_height(pose) == pytest.approx(chain / (1 - ANKLE_HEIGHT_FRACTION), rel=1e-6)
    # posture and orientation do not matter: only lengths
    rotated = pose @ random_rotation(np.random.default_rng(3)).T
    assert standing_height(rotated) == pytest.approx(standing_height(pose), rel=1e-9)
    assert standing_height(pose * 1.1) == pytest.approx(1.1 * standing_height(pose), rel=1e-9)
    # a frame with a missing joint is skipped; a joint missing everywhere gives None
    holes = pose.copy()
    holes[0, 3] = np.nan
    assert standing_height(holes) == pytest.approx(standing_height(pose), rel=1e-3)
    holes[:, 10] = np.nan
    assert standing_height(holes) is None
    with pytest.raises(PoseliftError, match=r"\[T, 17, 3\]"):
        standing_height(pose[:, :15])


def test_scaling_to_a_height_keeps_the_2d_projection():
    joints = _walking_figure(30).astype(np.float32)
    trajectory = np.tile(np.array([0.3, -0.1, 4.0], np.float32), (30, 1))
    scaled, traj, size = scale_to_height(joints, trajectory, 1.5)
    assert standing_height(scaled) == pytest.approx(1.5, rel=1e-5)
    assert size["given_height_m"] == 1.5 and size["scale"] == pytest.approx(1.5 / standing_height(joints), abs=1e-4)
    assert size["standing_height_m"] == pytest.approx(standing_height(joints), abs=1e-3)

    def project(j, t):
        p = j + t[:, None]
        return p[..., :2] / p[..., 2:]

    np.testing.assert_allclose(project(scaled, traj), project(joints, trajectory), atol=1e-6)
    same, same_traj, size = scale_to_height(joints, None, None)
    assert same is joints and same_traj is None and set(size) == {"standing_height_m"}
    with pytest.raises(PoseliftError, match="cannot be scaled"):
        scale_to_height(np.full_like(joints, np.nan), None, 1.7)


@pytest.mark.parametrize("value, match", [
    (1800.0, "metres from 0.5 to 2.6"), (0.0, "metres from 0.5 to 2.6"), (True, "metres"), ("1.8", "metres"),
    ({}, "metres"), ({-1: 1.7}, "track ids must be whole numbers"), ({1: 17.0}, "height of person 1 must be metres"),
])
def test_bad_person_heights_are_refused(value, match):
    with pytest.raises(PoseliftError, match=match):
        check_infer_options(person_height_m=value)


def test_height_for_one_or_each_person():
    assert height_for(None, 3) is None and height_for(1.7, 3) == 1.7
    assert height_for({1: 1.8, 2: 1.6}, 2) == 1.6 and height_for({1: 1.8}, 2) is None


def test_infer_scales_the_3d_trajectory_and_bvh_to_the_given_height(tmp_path):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    src = write_npz_input(tmp_path / "kp.npz")
    plain = run_infer(src, tmp_path / "plain", ckpt, progress=False, bvh=True)
    tall = run_infer(src, tmp_path / "tall", ckpt, progress=False, bvh=True, person_height_m=2.2)
    assert plain.people[0]["size"]["standing_height_m"] > 0 and "scale" not in plain.people[0]["size"]
    size = tall.people[0]["size"]
    assert size["given_height_m"] == 2.2 and size["standing_height_m"] == plain.people[0]["size"]["standing_height_m"]
    meta = json.loads((tmp_path / "tall" / "poses.json").read_text())["metadata"]
    assert meta["person"]["size"] == size
    with np.load(tmp_path / "plain" / "poses.npz") as a, np.load(tmp_path / "tall" / "poses.npz") as b:
        np.testing.assert_allclose(b["joints_3d"], a["joints_3d"] * size["scale"], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(b["trajectory"], a["trajectory"] * size["scale"], rtol=1e-3, atol=1e-5)
        assert standing_height(b["joints_3d"]) == pytest.approx(2.2, rel=1e-4)
        np.testing.assert_array_equal(b["keypoints_2d"], a["keypoints_2d"])  # the 2D is untouched
    for name in ("left_thigh", "right_forearm"):
        assert meta["person"]["segment_lengths_m"][name] == pytest.approx(
            plain.people[0]["segment_lengths_m"][name] * size["scale"], abs=2e-4)
    # the BVH's offsets (cm) grow by the same factor
    offsets = [line.split()[1:] for line in (tmp_path / "plain" / "poses.bvh").read_text().splitlines() if "OFFSET" in line]
    grown = [line.split()[1:] for line in (tmp_path / "tall" / "poses.bvh").read_text().splitlines() if "OFFSET" in line]
    np.testing.assert_allclose(np.asarray(grown, float), np.asarray(offsets, float) * size["scale"], rtol=2e-3, atol=0.02)
    # a height for another track id: this person is not scaled
    other = run_infer(src, tmp_path / "other", ckpt, progress=False, person_height_m={7: 1.6})
    assert "scale" not in other.people[0]["size"]


def test_cli_person_height(tmp_path, capsys):
    ckpt = _save_lifter(tmp_path / "tiny.pt")
    src = write_npz_input(tmp_path / "kp.npz")
    common = ["infer", str(src), "--checkpoint", str(ckpt), "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "a"), "--person-height", "1.9"]) == 0
    assert json.loads((tmp_path / "a" / "poses.json").read_text())["metadata"]["person"]["size"]["given_height_m"] == 1.9
    assert main([*common, "--out", str(tmp_path / "b"), "--person-height", "1=1.6"]) == 0
    assert json.loads((tmp_path / "b" / "poses.json").read_text())["metadata"]["person"]["size"]["given_height_m"] == 1.6
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "c"), "--person-height", "180"]) == 2
    err = capsys.readouterr().err
    assert "--person-height must be a standing height in metres" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()
    with pytest.raises(SystemExit) as exc:
        main([*common, "--out", str(tmp_path / "d"), "--person-height", "one=1.7"])
    assert exc.value.code == 2
    assert "track id=metres pairs" in capsys.readouterr().err

