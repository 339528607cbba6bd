"""Joint and segment angles (poselift.geometry.angles), angles.csv, angles.png and `infer --angles`."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import random_rotation
from test_pipeline import GAP_FRAMES, T, _save_lifter, write_csv_input, write_npz_input

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry import angles as A
from poselift.geometry.skeleton import H36M_17
from poselift.io.exports import write_angles_csv
from poselift.pipeline.infer import output_names, run_infer
from poselift.viz.angles_plot import plot_angles

J = {name: i for i, name in enumerate(H36M_17.joint_names)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def standing() -> np.ndarray:
    """One upright pose ``[17, 3]`` in the camera frame (x right, y down, z forward),
    facing the camera (towards −z): the subject's right is the camera's left (−x)."""
    p = np.zeros((17, 3))
    for name, xyz in {
        "Hip": (0, 0, 0), "RHip": (-0.1, 0, 0), "LHip": (0.1, 0, 0),
        "RKnee": (-0.1, 0.45, 0), "RFoot": (-0.1, 0.9, 0), "LKnee": (0.1, 0.45, 0), "LFoot": (0.1, 0.9, 0),
        "Spine": (0, -0.25, 0), "Thorax": (0, -0.5, 0), "NeckNose": (0, -0.6, -0.05), "Head": (0, -0.75, 0),
        "RShoulder": (-0.18, -0.5, 0), "RElbow": (-0.18, -0.2, 0), "RWrist": (-0.18, 0.05, 0),
        "LShoulder": (0.18, -0.5, 0), "LElbow": (0.18, -0.2, 0), "LWrist": (0.18, 0.05, 0),
    }.items():
        p[J[name]] = xyz
    return p


FORWARD = np.array([0.0, 0.0, -1.0])  # the subject's front (towards the camera)
DOWN = np.array([0.0, 1.0, 0.0])


def swing(pose: np.ndarray, joint: str, child: str, degrees: float, length: float) -> None:
    """Point the segment ``joint → child`` down, swung forwards by ``degrees`` (negative: backwards)."""
    a = math.radians(degrees)
    pose[J[child]] = pose[J[joint]] + length * (math.cos(a) * DOWN + math.sin(a) * FORWARD)


def test_joint_order_matches_the_skeleton():
    assert A.H36M17_JOINTS == H36M_17.joint_names
    assert len(A.ANGLE_NAMES) == len(set(A.ANGLE_NAMES)) == 20
    assert set(A.VERTICAL_ANGLES) == {n for n in A.ANGLE_NAMES if n.endswith("_segment")} | {"trunk_flexion"}


def test_standing_pose_is_zero_flexion_and_vertical_segments():
    got = A.joint_angles(standing()[None])
    for name in A.ANGLE_NAMES:
        value = float(got[name][0])
        if name.endswith("_segment"):
            assert value == pytest.approx(90.0 if name == "trunk_segment" else -90.0, abs=1e-9), name
        else:
            assert value == pytest.approx(0.0, abs=1e-9), name
    assert got.vertical == A.VERTICAL_CAMERA and got.cutoff_hz is None


def test_right_angles_and_the_sign_of_hip_and_shoulder_flexion():
    poses = np.repeat(standing()[None], 4, axis=0)
    # 0: right thigh forward, horizontal; shank hanging → hip +90, knee 90, thigh segment 0
    swing(poses[0], "RHip", "RKnee", 90, 0.45)
    swing(poses[0], "RKnee", "RFoot", 0, 0.45)
    # 1: right thigh 30° behind, shank along it → hip −30 (extension), knee 0, thigh segment −120
    swing(poses[1], "RHip", "RKnee", -30, 0.45)
    swing(poses[1], "RKnee", "RFoot", -30, 0.45)
    # 2: left arm forward and horizontal, forearm up → shoulder flexion +90, elbow 90
    swing(poses[2], "LShoulder", "LElbow", 90, 0.3)
    poses[2, J["LWrist"]] = poses[2, J["LElbow"]] - 0.25 * DOWN
    # 3: left arm 40° behind the trunk → shoulder flexion −40, elevation 40
    swing(poses[3], "LShoulder", "LElbow", -40, 0.3)
    swing(poses[3], "LElbow", "LWrist", -40, 0.25)
    got = A.joint_angles(poses)
    np.testing.assert_allclose(got["right_hip_flexion"], [90, -30, 0, 0], atol=1e-9)
    np.testing.assert_allclose(got["right_knee_flexion"], [90, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(got["right_thigh_segment"], [0, -120, -90, -90], atol=1e-9)
    np.testing.assert_allclose(got["right_shank_segment"], [-90, -120, -90, -90], atol=1e-9)
    np.testing.assert_allclose(got["left_shoulder_flexion"], [0, 0, 90, -40], atol=1e-9)
    np.testing.assert_allclose(got["left_shoulder_elevation"], [0, 0, 90, 40], atol=1e-6)
    np.testing.assert_allclose(got["left_elbow_flexion"], [0, 0, 90, 0], atol=1e-6)
    np.testing.assert_allclose(got["left_upper_arm_segment"], [-90, -90, 0, -130], atol=1e-9)
    np.testing.assert_allclose(got["left_forearm_segment"], [-90, -90, 90, -130], atol=1e-9)
    # the other side did not move
    np.testing.assert_allclose(got["left_hip_flexion"], 0, atol=1e-9)
    np.testing.assert_allclose(got["right_shoulder_flexion"], 0, atol=1e-9)


def test_arm_raised_sideways_has_elevation_but_no_sagittal_flexion():
    pose = standing()
    pose[J["RElbow"]] = pose[J["RShoulder"]] + (-0.3, 0, 0)  # the subject's right, horizontal
    pose[J["RWrist"]] = pose[J["RElbow"]] + (-0.25, 0, 0)
    got = A.joint_angles(pose[None])
    assert float(got["right_shoulder_elevation"][0]) == pytest.approx(90.0)
    assert np.isnan(got["right_shoulder_flexion"][0])  # undefined: the arm is along the hip line
    assert np.isnan(got["right_upper_arm_segment"][0])
    assert np.isfinite(got["left_shoulder_flexion"][0])


def test_trunk_flexion_against_the_given_vertical_or_the_camera():
    lean, pitch = 20.0, 15.0
    pose = standing()
    a = math.radians(lean)  # rotate the upper body forward about the hip line (x)
    rot = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    upper = [J[n] for n in ("Spine", "Thorax", "NeckNose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")]
    pose[upper] = pose[upper] @ rot.T
    got = A.joint_angles(pose[None])
    assert float(got["trunk_flexion"][0]) == pytest.approx(lean)
    assert float(got["trunk_segment"][0]) == pytest.approx(90 - lean)
    assert float(got["right_hip_flexion"][0]) == pytest.approx(lean)  # bending forward over a vertical thigh is hip flexion
    # a camera pitched down by `pitch`: with the vertical given, nothing changes; with the camera's
    # −y (a level camera assumed) the trunk reads `pitch` more (the figure looks tilted)
    b = math.radians(pitch)
    cam = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    tilted = pose @ cam.T
    up = cam @ np.array([0.0, -1.0, 0.0])
    given = A.joint_angles(tilted[None], up=up)
    assert float(given["trunk_flexion"][0]) == pytest.approx(lean)
    assert given.vertical == A.VERTICAL_GIVEN
    assumed = A.joint_angles(tilted[None])
    assert abs(float(assumed["trunk_flexion"][0]) - lean) == pytest.approx(pitch)
    for name in set(A.ANGLE_NAMES) - set(A.VERTICAL_ANGLES):  # joint angles never use the vertical
        assert float(assumed[name][0]) == pytest.approx(float(given[name][0]), abs=1e-9), name


def test_joint_angles_are_invariant_to_a_global_rotation():
    rng = np.random.default_rng(3)
    poses = standing()[None] + rng.normal(0, 0.06, (50, 17, 3))
    base = A.joint_angles(poses, up=(0, -1, 0))
    for _ in range(3):
        r = random_rotation(rng)
        moved = poses @ r.T + rng.normal(0, 2, 3)  # rotated and moved
        got = A.joint_angles(moved, up=r @ np.array([0.0, -1.0, 0.0]))
        np.testing.assert_allclose(got.degrees, base.degrees, atol=1e-7)  # every angle, the vertical rotated along
        free = A.joint_angles(moved)  # the vertical not rotated: only the joint angles must stay
        joint_cols = [i for i, n in enumerate(A.ANGLE_NAMES) if n not in A.VERTICAL_ANGLES]
        np.testing.assert_allclose(free.degrees[:, joint_cols], base.degrees[:, joint_cols], atol=1e-7)


def test_nan_joints_give_nan_only_where_used():
    poses = np.repeat(standing()[None], 3, axis=0)
    poses[1, J["RKnee"]] = np.nan
    got = A.joint_angles(poses)
    nan_names = {n for n in A.ANGLE_NAMES if np.isnan(got[n][1])}
    assert nan_names == {"right_hip_flexion", "right_knee_flexion", "right_thigh_segment", "right_shank_segment"}
    assert np.isfinite(got.degrees[[0, 2]]).all()
    poses[2, J["RHip"]] = np.nan  # the body axes need both hips: every projected angle of that frame
    got = A.joint_angles(poses)
    assert np.isnan(got["trunk_flexion"][2]) and np.isnan(got["left_thigh_segment"][2])
    assert np.isfinite(got["left_knee_flexion"][2]) and np.isfinite(got["left_elbow_flexion"][2])
    degenerate = standing()[None].copy()
    degenerate[0, J["LElbow"]] = degenerate[0, J["LShoulder"]]  # a zero-length upper arm
    got = A.joint_angles(degenerate)
    assert np.isnan(got["left_elbow_flexion"][0]) and np.isnan(got["left_shoulder_elevation"][0])


@pytest.mark.parametrize("bad", [np.zeros((17, 3)), np.zeros((4, 16, 3)), np.zeros((4, 17, 2)), np.zeros((2, 4, 17, 3)),
                                 np.full((2, 17, 3), "x")])
def test_bad_shapes_raise(bad):
    with pytest.raises(PoseliftError, match=r"`poses`.*\[T, 17, 3\]"):
        A.joint_angles(bad)
    with pytest.raises(PoseliftError):
        A.knee_flexion(bad, "right")


def test_bad_arguments_raise():
    poses = standing()[None]
    with pytest.raises(PoseliftError, match="`side`"):
        A.knee_flexion(poses, "middle")
    for up in ((0, 0), (0, 0, 0), (np.nan, 1, 0), np.zeros((5, 3))):
        with pytest.raises(PoseliftError, match="`up`"):
            A.joint_angles(poses, up=up)
    with pytest.raises(PoseliftError, match="`fps`"):
        A.joint_angles(poses, cutoff_hz=6.0)
    with pytest.raises(PoseliftError, match="`segment`"):
        A.limb_segment_angle(poses, "foot", "right")
    with pytest.raises(PoseliftError, match="joint"):
        A.segment_angle(poses, "Hip", "RToe")
    with pytest.raises(PoseliftError, match="`cutoff_hz`"):
        A.smooth_angles(np.zeros(10), 25.0, cutoff_hz=13.0)
    with pytest.raises(PoseliftError, match="`order`"):
        A.smooth_angles(np.zeros(10), 25.0, order=3)
    with pytest.raises(PoseliftError, match="no angle"):
        A.joint_angles(poses)["right_ankle_dorsiflexion"]  # H36M-17 has no toes: no ankle angle


def test_smoothing_is_zero_phase_and_matches_filtfilt():
    fps, t = 30.0, np.arange(300) / 30.0
    rng = np.random.default_rng(0)
    clean = 40 * np.sin(2 * np.pi * 1.0 * t) + 10 * t
    noisy = clean + rng.normal(0, 3, t.size)
    out = A.smooth_angles(noisy, fps, 6.0, wrap=False)
    assert np.std(out - clean) < 0.75 * np.std(noisy - clean)
    # a 1 Hz wave well below the cut-off passes without lag or loss
    wave = 30 * np.sin(2 * np.pi * 1.0 * t)
    np.testing.assert_allclose(A.smooth_angles(wave, fps, 6.0, wrap=False)[30:-30], wave[30:-30], atol=0.3)
    assert A.butterworth_gain(np.array([6.0]), fps, 6.0)[0] == pytest.approx(0.5)
    signal = pytest.importorskip("scipy.signal")
    b, a = signal.butter(2, 6.0 / (fps / 2))
    np.testing.assert_allclose(out[20:-20], signal.filtfilt(b, a, noisy)[20:-20], atol=1e-6)
    np.testing.assert_allclose(out, signal.filtfilt(b, a, noisy), atol=0.05)  # the ends: padded alike


def test_smoothing_keeps_nans_and_unwraps():
    x = np.linspace(150, 210, 60)
    x = (x + 180) % 360 - 180  # crosses ±180
    x[20:25] = np.nan
    out = A.smooth_angles(x, 25.0, 6.0)
    assert np.isnan(out[20:25]).all() and np.isfinite(np.delete(out, range(20, 25))).all()
    step = np.abs(np.diff(np.unwrap(np.radians(np.delete(out, range(20, 25))))))
    assert np.degrees(step).max() < 10  # ~1° a frame (6° across the gap), no jump of 360°
    assert A.smooth_angles(np.full((5, 2), np.nan), 25.0).shape == (5, 2)
    assert np.isnan(A.smooth_angles(np.full((5, 2), np.nan), 25.0)).all()
    assert A.smooth_angles(np.array([12.0]), 25.0)[0] == pytest.approx(12.0)


def test_joint_angles_smoothed():
    rng = np.random.default_rng(1)
    poses = standing()[None] + rng.normal(0, 0.01, (100, 17, 3))
    raw = A.joint_angles(poses)
    smooth = A.joint_angles(poses, fps=25.0, cutoff_hz=3.0)
    assert smooth.cutoff_hz == 3.0
    assert np.nanstd(smooth["right_knee_flexion"]) < np.nanstd(raw["right_knee_flexion"])
    assert np.nanstd(smooth["trunk_flexion"]) < np.nanstd(raw["trunk_flexion"])


def test_angles_csv_columns_rows_and_empty_cells(tmp_path):
    degrees = np.array([[10.0, np.nan], [-12.345, 179.999], [0.0, -90.0]])
    filled = np.array([False, True, False])
    path = write_angles_csv(tmp_path / "a" / "angles.csv", ["right_knee_flexion", "trunk_segment"], degrees, 25.0, filled=filled)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["frame", "time_s", "right_knee_flexion_deg", "trunk_segment_deg", "filled"]
    assert rows[1] == ["0", "0.000000", "10.00", "", "0"]
    assert rows[2] == ["1", "0.040000", "-12.35", "180.00", "1"]
    assert len(rows) == 4
    plain = write_angles_csv(tmp_path / "b.csv", ["a"], degrees[:, :1], 50.0)
    assert plain.read_text().splitlines()[0] == "frame,time_s,a_deg"
    for names, fps, filled in ((["a"], 25.0, None), (["a", "a"], 25.0, None), (["a b", "c"], 25.0, None),
                               (["a", "b"], 0, None), (["a", "b"], 25.0, np.zeros(2, bool))):
        with pytest.raises(PoseliftError):
            write_angles_csv(tmp_path / "bad.csv", names, degrees, fps, filled=filled)
    assert not (tmp_path / "bad.csv").exists()


def test_angles_png_is_written(tmp_path):
    rng = np.random.default_rng(2)
    poses = standing()[None] + rng.normal(0, 0.02, (60, 17, 3))
    got = A.joint_angles(poses)
    filled = np.zeros(60, bool)
    filled[10:15] = filled[40] = True
    path = plot_angles(tmp_path / "angles.png", got.names, got.degrees, 25.0, filled=filled, note=got.vertical)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 800
    assert [p.name for p in tmp_path.iterdir()] == ["angles.png"]  # no temporary file left
    # all-NaN columns and a single frame are drawn too
    single = plot_angles(tmp_path / "one.png", ["left_x", "right_x"], np.array([[np.nan, 3.0]]), 30.0)
    assert single.read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(PoseliftError, match="`degrees`"):
        plot_angles(tmp_path / "bad.png", ["a"], np.zeros((3, 2)), 25.0)
    with pytest.raises(PoseliftError, match="`filled`"):
        plot_angles(tmp_path / "bad.png", ["a"], np.zeros((3, 1)), 25.0, filled=np.zeros(4, bool))


def test_importing_the_plot_module_does_not_import_matplotlib():
    code = "import sys, poselift.viz.angles_plot, poselift.geometry.angles; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def test_infer_with_angles_writes_both_files(tmp_path, ckpt):
    assert output_names(angles=True)[-2:] == ["angles.csv", "angles.png"]
    res = run_infer(write_npz_input(tmp_path / "kp.npz"), tmp_path / "out", ckpt, angles=True, progress=False)
    names = sorted(Path(f).name for f in res.files)
    assert names == ["angles.csv", "angles.png", "poses.csv", "poses.json", "poses.npz"]
    assert "angles" in res.timings_s
    rows = list(csv.DictReader((tmp_path / "out" / "angles.csv").open()))
    assert len(rows) == T
    assert list(rows[0])[:2] == ["frame", "time_s"] and list(rows[0])[-1] == "filled"
    assert [f"{n}_deg" for n in A.ANGLE_NAMES] == list(rows[0])[2:-1]
    assert {int(r["frame"]) for r in rows if r["filled"] == "1"} >= set(GAP_FRAMES)
    with np.load(tmp_path / "out" / "poses.npz") as z:
        expected = A.joint_angles(z["joints_3d"])
    got = np.array([[float(r[f"{n}_deg"]) if r[f"{n}_deg"] else np.nan for n in A.ANGLE_NAMES] for r in rows])
    np.testing.assert_allclose(got, expected.degrees, atol=0.006)
    assert (tmp_path / "out" / "angles.png").read_bytes().startswith(PNG_SIGNATURE)


def test_cli_infer_angles_flag(tmp_path, ckpt, capsys):
    src = write_csv_input(tmp_path / "kp.csv")
    out = tmp_path / "o"
    rc = main(["infer", str(src), "--out", str(out), "--checkpoint", str(ckpt), "--width", "320", "--height", "240",
               "--fps", "25", "--angles", "--no-progress"])
    assert rc == 0
    assert (out / "angles.csv").is_file() and (out / "angles.png").is_file()
    assert "angles.png" in capsys.readouterr().err
    # a second run refuses to replace them, as every output
    rc = main(["infer", str(src), "--out", str(out), "--checkpoint", str(ckpt), "--width", "320", "--height", "240",
               "--fps", "25", "--angles", "--no-progress"])
    assert rc == 2 and "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    assert "--angles" in capsys.readouterr().out
