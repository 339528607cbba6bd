"""TRC (OpenSim markers) and C3D exports, read back with independent readers from PyPI.

* TRC files are parsed by ``trc-data-reader`` (``from trc import TRCData``), not by
  anything of poselift, and their layout is checked line by line against what OpenSim's
  ``TRCFileAdapter`` requires (keys, marker labels, ``X1 Y1 Z1 ...``, the empty line).
* C3D files are parsed by the pure-Python ``c3d`` package (the writer uses ezc3d).
* The frame: camera (x, y, z) → (x, -y, -z), Y up, right-handed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17, Skeleton
from poselift.io import trc as trc_module
from poselift.io.c3d import write_c3d
from poselift.io.trc import HEADER_KEYS, camera_to_y_up, write_trc
from poselift.models.checkpoint import save_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.pipeline.infer import output_names, run_infer

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers
from test_pipeline import FPS, T, _save_lifter, write_npz_input  # noqa: E402

TRCData = pytest.importorskip("trc", reason="trc-data-reader (test extra) reads the files back").TRCData

J = H36M_17.num_joints


def poses(frames: int = 7, seed: int = 0) -> np.ndarray:
    """Camera-frame poses ``[T, 17, 3]`` in metres, root-relative (Hip at 0)."""
    rng = np.random.default_rng(seed)
    p = rng.normal(scale=0.4, size=(frames, J, 3))
    return p - p[:, :1]


def read_trc(path: Path) -> TRCData:
    data = TRCData()
    data.load(str(path))
    return data


def coordinates(data: TRCData) -> np.ndarray:
    """``[T, J, 3]`` from the reader's per-marker lists."""
    return np.stack([np.asarray(data[name], dtype=np.float64) for name in data["Markers"]], axis=1)


# ------------------------------------------------------------------------ the frame
def test_frame_is_y_up_and_right_handed():
    axes = camera_to_y_up(np.eye(3))  # rows: where camera x, y, z go
    assert np.linalg.det(axes) == pytest.approx(1.0)  # a rotation: handedness kept
    np.testing.assert_allclose(camera_to_y_up(np.array([0.0, -1.0, 0.0])), [0, 1, 0])  # camera up → +Y
    np.testing.assert_allclose(camera_to_y_up(np.array([1.0, 0.0, 0.0])), [1, 0, 0])  # camera right → +X
    np.testing.assert_allclose(camera_to_y_up(np.array([0.0, 0.0, 1.0])), [0, 0, -1])  # forward → -Z
    x, y, z = camera_to_y_up(np.eye(3)).T  # the file's axes in camera coordinates
    np.testing.assert_allclose(np.cross(x, y), z)
    # with a world rotation: world z up → file Y up, still a proper rotation
    r = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # R_world_to_cam of a level camera looking along world +y
    world_up_in_camera = r @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(camera_to_y_up(world_up_in_camera, r), [0, 1, 0], atol=1e-12)
    assert np.linalg.det(camera_to_y_up(np.eye(3), r)) == pytest.approx(1.0)


# ------------------------------------------------------------------- read back (TRC)
def test_trc_read_back_by_an_independent_reader(tmp_path):
    joints = poses()
    path = write_trc(tmp_path / "walk.trc", joints, H36M_17, 30.0)
    data = read_trc(path)
    assert data["PathFileType"] == "4" and data["DataFormat"] == "(X/Y/Z)" and data["FileName"] == "walk.trc"
    assert data["DataRate"] == 30.0 and data["CameraRate"] == 30.0 and data["OrigDataRate"] == 30.0
    assert data["NumFrames"] == 7 and data["NumMarkers"] == J and data["Units"] == "m"
    assert data["OrigDataStartFrame"] == 1 and data["OrigNumFrames"] == 7
    assert data["Markers"] == list(H36M_17.joint_names)
    assert data["Frame#"] == list(range(1, 8))  # 1-based
    np.testing.assert_allclose(data["Time"], np.arange(7) / 30.0, atol=5e-7)
    expected = joints * [1, -1, -1]  # (x, -y, -z)
    np.testing.assert_allclose(coordinates(data), expected, atol=5e-7)  # 6 decimals
    assert np.all(coordinates(data)[:, 0] == 0)  # root-relative: Hip at the origin


def test_trc_millimetres_and_root_trajectory(tmp_path):
    joints = poses(frames=5, seed=1)
    traj = np.column_stack([np.linspace(-0.5, 0.5, 5), np.full(5, 0.3), np.linspace(4.0, 6.0, 5)])
    path = write_trc(tmp_path / "a.trc", joints, H36M_17, 25.0, units="mm", root_positions=traj)
    data = read_trc(path)
    assert data["Units"] == "mm" and data["DataRate"] == 25.0
    expected = (joints + traj[:, None]) * [1, -1, -1] * 1000.0
    np.testing.assert_allclose(coordinates(data), expected, atol=5e-4)  # 3 decimals in mm
    assert np.all(coordinates(data)[:, 0, 2] < -3999)  # in front of the camera: -Z


def test_trc_camera_rotation_makes_the_world_up_axis_y(tmp_path):
    joints = poses(frames=3, seed=2)
    angle = 0.3  # a camera tilted down by 0.3 rad about its x axis, in a z-up world
    c, s = np.cos(angle), np.sin(angle)
    level = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    r = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ level
    data = read_trc(write_trc(tmp_path / "w.trc", joints, H36M_17, 50.0, camera_rotation=r))
    world = joints @ r  # Rᵀ Xc
    np.testing.assert_allclose(coordinates(data), np.stack([world[..., 0], world[..., 2], -world[..., 1]], -1), atol=5e-7)


def test_trc_layout_is_what_opensim_reads(tmp_path, monkeypatch):
    """Line by line, the checks of OpenSim's TRCFileAdapter::extendRead (tab-separated,
    empty fields dropped in the label lines), across several write blocks."""
    monkeypatch.setattr(trc_module, "BLOCK_FRAMES", 2)
    joints = poses(frames=5)
    lines = write_trc(tmp_path / "x.trc", joints, H36M_17, 29.97002997).read_text().split("\n")
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\tx.trc"
    assert lines[1].split("\t") == list(HEADER_KEYS)
    values = lines[2].split("\t")
    assert len(values) == 8 and float(values[0]) == pytest.approx(29.97002997, abs=1e-9)
    labels = lines[3].split("\t")
    assert len(labels) == 3 * J + 2  # one column per coordinate
    assert [v for v in labels if v] == ["Frame#", "Time", *H36M_17.joint_names]
    assert labels[2::3] == list(H36M_17.joint_names)  # a name over each marker's X column
    assert lines[4] == "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, J + 1))
    assert lines[5] == ""  # the empty line OpenSim writes (and skips) before the data
    rows = lines[6:]
    assert rows[-1] == "" and all(rows[:-1])  # no empty line inside the data: it ends OpenSim's table
    rows = [r.split("\t") for r in rows[:-1]]
    assert len(rows) == 5 and all(len(r) == 3 * J + 2 for r in rows)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert all(not v.startswith("-0.000000") for r in rows for v in r)


def test_trc_marker_names_follow_the_skeleton(tmp_path):
    skel = Skeleton("chain3", ("Pelvis", "Knee", "Ankle"), (-1, 0, 1))
    data = read_trc(write_trc(tmp_path / "c.trc", np.zeros((2, 3, 3)), skel, 100.0))
    assert data["Markers"] == ["Pelvis", "Knee", "Ankle"] and data["NumMarkers"] == 3


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"joints_3d": np.zeros((4, 16, 3))}, "`joints_3d` must be shaped [T, 17, 3]"),
        ({"joints_3d": np.zeros((0, 17, 3))}, "`joints_3d` must be shaped"),
        ({"joints_3d": np.zeros((4, 17, 2))}, "`joints_3d` must be shaped"),
        ({"joints_3d": np.full((4, 17, 3), np.nan)}, "NaN"),
        ({"fps": 0.0}, "`fps`"),
        ({"fps": -25.0}, "`fps`"),
        ({"fps": float("nan")}, "`fps`"),
        ({"units": "cm"}, "`units` must be one of 'm', 'mm'"),
        ({"units": None}, "`units`"),
        ({"root_positions": np.zeros((3, 3))}, "`root_positions` must be shaped [4, 3]"),
        ({"root_positions": np.full((4, 3), np.inf)}, "`root_positions` contains NaN/inf"),
        ({"camera_rotation": np.eye(2)}, "`camera_rotation`"),
    ],
)
def test_trc_bad_inputs(tmp_path, change, needle):
    kwargs = {"joints_3d": np.zeros((4, 17, 3)), "fps": 25.0, **change}
    joints, fps = kwargs.pop("joints_3d"), kwargs.pop("fps")
    with pytest.raises(PoseliftError) as info:
        write_trc(tmp_path / "bad.trc", joints, H36M_17, fps, **kwargs)
    assert needle in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


# -------------------------------------------------------------------------------- C3D
@pytest.mark.filterwarnings("ignore:No analog data found")
def test_c3d_read_back_by_an_independent_reader(tmp_path):
    c3d = pytest.importorskip("c3d")
    pytest.importorskip("ezc3d")
    joints = poses(frames=6, seed=3)
    traj = np.tile([0.2, 0.1, 5.0], (6, 1))
    path = write_c3d(tmp_path / "walk.c3d", joints, H36M_17, 60.0, root_positions=traj)
    with open(path, "rb") as f:
        reader = c3d.Reader(f)
        assert [str(n).strip() for n in reader.point_labels] == list(H36M_17.joint_names)
        assert reader.point_rate == 60.0 and reader.first_frame == 1 and reader.last_frame == 6
        assert reader.get("POINT:UNITS").string_value.strip() == "mm"
        assert reader.get("POINT:Y_SCREEN").string_value.strip() == "+Y"
        frames = [(i, points.copy()) for i, points, _ in reader.read_frames()]
    assert [i for i, _ in frames] == [1, 2, 3, 4, 5, 6]
    got = np.stack([p[:, :3] for _, p in frames])
    assert np.all(np.stack([p[:, 3] for _, p in frames]) >= 0)  # every point valid (residual -1 = missing)
    expected = (joints + traj[:, None]) * [1, -1, -1] * 1000.0
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-3)  # float32 in the file


def test_c3d_without_ezc3d_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ezc3d", None)  # import ezc3d → ImportError
    with pytest.raises(PoseliftError, match=r"pip install 'poselift\[c3d\]'"):
        write_c3d(tmp_path / "a.c3d", poses(2), H36M_17, 25.0)
    assert not list(tmp_path.iterdir())
    # `poselift render --export x.c3d` says so before the model and the data load
    rc, _, err = run(["render", "--dataset", "synthetic", "--checkpoint", tmp_path / "none.pt", "--out", tmp_path / "x.gif",
                      "--export", tmp_path / "x.c3d", "--no-progress"], capsys)
    assert_one_line_error(rc, err, "needs ezc3d", "pip install 'poselift[c3d]'")
    assert not list(tmp_path.iterdir())


# -------------------------------------------------------------------- infer and render
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.mark.parametrize("units, scale, atol", [("m", 1.0, 5e-7), ("mm", 1000.0, 5e-4)])
def test_cli_infer_writes_poses_trc(tmp_path, ckpt, capsys, units, scale, atol):
    src = write_npz_input(tmp_path / "kp.npz")
    out = tmp_path / "out"
    rc, _, err = run(["infer", src, "--out", out, "--checkpoint", ckpt, "--trc", "--trc-units", units, "--no-progress"], capsys)
    assert rc == 0, err
    assert f"wrote {out / 'poses.trc'}" in err
    assert sorted(p.name for p in out.iterdir()) == ["poses.csv", "poses.json", "poses.npz", "poses.trc"]
    data = read_trc(out / "poses.trc")
    assert data["NumFrames"] == T and data["DataRate"] == FPS and data["Units"] == units
    assert data["Markers"] == list(H36M_17.joint_names) and data["Frame#"] == list(range(1, T + 1))
    with np.load(out / "poses.npz") as z:
        absolute = z["joints_3d"].astype(np.float64) + z["trajectory"].astype(np.float64)[:, None]
        world = z["world_3d"].astype(np.float64)
    # levelled (the default): the markers are the levelled world's positions (Y up, floor at 0)
    np.testing.assert_allclose(coordinates(data), world * scale, atol=max(atol, 2e-6 * scale))
    # --no-level: the camera frame turned Y up, (x, -y, -z)
    flat = tmp_path / "flat"
    rc, _, err = run(["infer", src, "--out", flat, "--checkpoint", ckpt, "--trc", "--trc-units", units, "--no-level",
                      "--no-progress"], capsys)
    assert rc == 0, err
    np.testing.assert_allclose(coordinates(read_trc(flat / "poses.trc")), absolute * [1, -1, -1] * scale, atol=atol)


def test_cli_bad_trc_units_is_one_line(tmp_path, ckpt, capsys):
    src = write_npz_input(tmp_path / "kp.npz")
    out = tmp_path / "out"
    rc, _, err = run(["infer", src, "--out", out, "--checkpoint", ckpt, "--trc", "--trc-units", "cm"], capsys)
    assert_one_line_error(rc, err, "--trc-units", "'cm'")
    assert "`" not in err and not out.exists()


def test_run_infer_checks_trc_units_first(tmp_path):
    with pytest.raises(PoseliftError, match="`trc_units` must be one of 'm', 'mm'"):
        run_infer(tmp_path / "missing.mp4", tmp_path / "out", trc=True, trc_units="feet")
    assert output_names(trc=True) == ["poses.npz", "poses.json", "poses.csv", "poses.trc"]


def test_cli_render_exports_trc(tmp_path, capsys):
    cfg = ModelConfig(channels=16, num_joints_in=17)
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, {"model_pos": TemporalModel(cfg).state_dict()}, {"model": cfg.to_dict()})
    export = tmp_path / "walk.trc"
    rc, _, err = run(["render", "--dataset", "synthetic", "--checkpoint", ckpt, "--out", tmp_path / "s.gif", "--limit-frames", "6",
                      "--size", "120", "--export", export, "--no-progress"], capsys)
    assert rc == 0, err
    data = read_trc(export)
    assert data["NumFrames"] == 6 and data["DataRate"] == 50.0 and data["Markers"] == list(H36M_17.joint_names)
    if importlib.util.find_spec("ezc3d") is not None:
        rc, _, err = run(["render", "--dataset", "synthetic", "--checkpoint", ckpt, "--out", tmp_path / "c.gif", "--limit-frames", "6",
                          "--size", "120", "--export", tmp_path / "walk.c3d", "--no-progress"], capsys)
        assert rc == 0, err
        assert (tmp_path / "walk.c3d").stat().st_size > 512
    rc, _, err = run(["render", "--dataset", "synthetic", "--checkpoint", ckpt, "--out", tmp_path / "t.gif",
                      "--export", tmp_path / "walk.txt", "--no-progress"], capsys)
    assert_one_line_error(rc, err, "--export", ".trc", ".c3d")
