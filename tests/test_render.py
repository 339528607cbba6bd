"""Rendering (mp4/gif, atomic, input checks, view orientation) and `poselift render`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import assert_one_line_error

from poselift.cli import main
from poselift.data.synthetic import synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17, MPII_16
from poselift.models.checkpoint import save_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.viz.render import LEFT_BGR, RIGHT_BGR, View3D, render_video

SIZE = 96  # small panels keep the tests fast


@pytest.fixture(scope="module")
def seq():
    return synthetic_sequence(24, seed=11)


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def has_colour(img: np.ndarray, bgr, tol: int = 40) -> bool:
    return bool((np.abs(img.astype(int) - np.array(bgr)).max(-1) < tol).any())


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------ mp4 / gif
def test_mp4_with_input_reconstruction_and_ground_truth(tmp_path, seq):
    pred = seq.positions_3d + 0.02
    out = render_video(
        tmp_path / "a.mp4", pred, H36M_17, 50.0, keypoints_2d=seq.keypoints_2d, image_size=(1000, 1000),
        ground_truth=seq.positions_3d, size=SIZE, progress=False,
    )
    assert out == tmp_path / "a.mp4" and out.is_file()
    frames, fps = read_video(out)
    assert len(frames) == 24 and fps == pytest.approx(50.0)
    assert frames[0].shape == (SIZE, 3 * SIZE, 3)  # 1000x1000 canvas → square input panel
    for frame in (frames[0], frames[-1]):
        assert frame.std() > 5  # not blank
        for x in (0, SIZE, 2 * SIZE):  # each panel has drawing on it
            panel = frame[int(0.15 * SIZE):, x : x + SIZE]
            assert (panel < 200).mean() > 0.002
        assert has_colour(frame[:, SIZE:], LEFT_BGR) and has_colour(frame[:, SIZE:], RIGHT_BGR)
    assert no_temp_files(tmp_path)


def test_gif_downsample_and_limit(tmp_path, seq):
    from PIL import Image

    out = render_video(
        tmp_path / "a.gif", seq.positions_3d, H36M_17, 50.0, keypoints_2d=seq.keypoints_2d, size=SIZE,
        limit_frames=20, downsample=4, progress=False,
    )
    with Image.open(out) as im:
        assert im.n_frames == 5  # frames 0, 4, 8, 12, 16
        assert im.info["duration"] == 80  # 50 / 4 = 12.5 frames/s
        assert im.size[1] == SIZE and im.size[0] > SIZE
        im.seek(2)
        assert np.asarray(im.convert("RGB")).std() > 5
    assert no_temp_files(tmp_path)


def test_video_frames_as_input_panel(tmp_path, seq):
    yy, xx = np.mgrid[:200, :320]
    board = (((yy // 25 + xx // 25) % 2) * 255).astype(np.uint8)  # 25 px checkerboard
    video = [np.repeat(board[:, :, None], 3, axis=2) for _ in range(24)]
    kp = seq.keypoints_2d * 0.2
    out = render_video(tmp_path / "v.mp4", seq.positions_3d, H36M_17, 30.0, keypoints_2d=kp, frames=iter(video),
                       size=SIZE, downsample=3, progress=False)
    frames, fps = read_video(out)
    assert len(frames) == 8 and fps == pytest.approx(10.0)
    assert frames[0].shape == (SIZE, 154 + SIZE, 3)  # 320x200 scaled to height 96 → 154 wide (even)
    assert frames[0][:, :154].std() > 60  # the (checkerboard) video frame is there


def test_only_3d_panels_and_other_keypoint_layout(tmp_path, seq):
    out = render_video(tmp_path / "p.mp4", seq.positions_3d, H36M_17, 50.0, size=SIZE, progress=False)
    frames, _ = read_video(out)
    assert frames[0].shape == (SIZE, SIZE, 3)
    kp16 = seq.keypoints_2d[:, :16]
    out = render_video(tmp_path / "k.mp4", seq.positions_3d, H36M_17, 50.0, keypoints_2d=kp16, keypoints_skeleton=MPII_16,
                       size=SIZE, limit_frames=3, progress=False)
    assert len(read_video(out)[0]) == 3


# ------------------------------------------------------------------------------ errors
def test_bad_suffix_and_shapes_raise(tmp_path, seq):
    p3, kp = seq.positions_3d, seq.keypoints_2d
    cases = [
        (dict(out_path=tmp_path / "a.avi"), "suffix"),
        (dict(joints_3d=p3[:, :16]), r"\[T, 17, 3\]"),
        (dict(ground_truth=p3[:10]), "ground_truth has 10 frames"),
        (dict(keypoints_2d=kp[:, :15]), r"keypoints_2d must be shaped \[T, 17, 2\]"),
        (dict(keypoints_2d=kp[:5]), "keypoints_2d has 5 frames"),
        (dict(fps=0), "fps"),
        (dict(downsample=0), "downsample"),
        (dict(size=10), "size"),
        (dict(frames=[np.zeros((10, 10, 3), np.uint8)] * 3), "video ended after 3 frames"),
        (dict(frames=[np.zeros((10, 10), np.float32)] * 30), "uint8"),
    ]
    for override, message in cases:
        kwargs = dict(out_path=tmp_path / "a.mp4", joints_3d=p3, skeleton=H36M_17, fps=50.0, keypoints_2d=kp,
                      size=SIZE, progress=False)
        kwargs.update(override)
        with pytest.raises(PoseliftError, match=message):
            render_video(**kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_failure_mid_render_leaves_no_partial_file(tmp_path, seq, suffix):
    def broken_video():
        for i in range(24):
            if i == 5:
                raise RuntimeError("decoder crashed")
            yield np.zeros((100, 100, 3), np.uint8)

    out = tmp_path / f"x{suffix}"
    with pytest.raises(RuntimeError, match="decoder crashed"):
        render_video(out, seq.positions_3d, H36M_17, 50.0, frames=broken_video(), size=SIZE, progress=False)
    assert list(tmp_path.iterdir()) == []
    # an existing output survives a failed re-render untouched
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        render_video(out, seq.positions_3d, H36M_17, 50.0, frames=broken_video(), size=SIZE, progress=False)
    assert out.read_bytes() == b"previous" and no_temp_files(tmp_path)


# ------------------------------------------------------------------------ view geometry
def test_view_is_upright_and_faces_like_the_camera():
    pose = np.zeros((1, 17, 3))
    pose[0, :, 2] = 4.0
    pose[0, 10] = [0.0, -0.7, 4.0]  # head above the hip (camera y points down)
    pose[0, 3] = [0.0, 0.9, 4.0]  # right foot below
    pose[0, 13] = [0.6, 0.0, 4.0]  # left wrist to the camera's right
    pose[0, 16] = [-0.6, 0.0, 4.0]
    view = View3D([pose], 200)  # default azimuth 70: the input camera's viewpoint
    px, depth, finite = view.project(pose)
    px = px[0] / 16
    assert px[10, 1] < px[0, 1] < px[3, 1]  # head above hip above foot (image y down)
    assert px[13, 0] > px[0, 0] > px[16, 0]  # camera x right → screen right (not mirrored)
    assert (px >= 0).all() and (px <= 200).all() and finite.all()
    # side view: depth now spreads left-right
    side = View3D([pose], 200, azimuth=160.0)
    spx = side.project(pose)[0][0] / 16
    assert abs(spx[13, 0] - spx[16, 0]) < 0.3 * abs(px[13, 0] - px[16, 0])
    # a camera tilted 30° down: with its rotation the figure is upright again
    tilt = np.radians(30)
    r_wc = np.array([[1, 0, 0], [0, -np.sin(tilt), -np.cos(tilt)], [0, np.cos(tilt), -np.sin(tilt)]])
    world = np.zeros((1, 17, 3))
    world[0, 10, 2] = 0.7  # head straight above the hip in the world (z up)
    cam = world @ r_wc.T
    tpx = View3D([cam], 200, camera_rotation=r_wc, elevation=0).project(cam)[0][0] / 16
    assert abs(tpx[10, 0] - tpx[0, 0]) < 0.5 and tpx[10, 1] < tpx[0, 1]


# ----------------------------------------------------------------------------------- CLI
def tiny_checkpoint(path: Path, joints_in: int = 17) -> Path:
    cfg = ModelConfig(channels=16, num_joints_in=joints_in)
    save_checkpoint(path, {"model_pos": TemporalModel(cfg).state_dict()}, {"model": cfg.to_dict()})
    return path




def test_cli_render_synthetic(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    out, export = tmp_path / "o" / "s.mp4", tmp_path / "o" / "s.npz"
    rc = main(["render", "--dataset", "synthetic", "--checkpoint", str(ckpt), "--out", str(out), "--limit-frames", "30",
               "--size", str(SIZE), "--export", str(export), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    frames, fps = read_video(out)
    assert len(frames) == 30 and fps == pytest.approx(50)
    data = np.load(export, allow_pickle=False)
    assert data["positions_3d"].shape == (30, 17, 3) and data["ground_truth"].shape == (30, 17, 3)
    assert data["keypoints_2d"].shape == (30, 17, 2) and list(data["joint_names"]) == list(H36M_17.joint_names)
    assert np.allclose(data["positions_3d"][:, 0], 0, atol=1e-6)  # root-relative
    rc = main(["render", "--dataset", "synthetic", "--checkpoint", str(ckpt), "--out", str(tmp_path / "s.gif"),
               "--limit-frames", "8", "--downsample", "2", "--size", str(SIZE), "--export", str(tmp_path / "s.bvh"),
               "--no-progress", "--azimuth", "160"])
    assert rc == 0
    assert (tmp_path / "s.gif").is_file() and "Frames: 4" in (tmp_path / "s.bvh").read_text()


def write_fake_h36m(root: Path, frames: int = 40) -> Path:
    """A minimal dataset folder in the Human3.6M layout (no real data)."""
    from poselift.data.synthetic import animate_figure

    root.mkdir()
    np.savez(root / "positions_3d.npz", **{"S11/Walking 1": animate_figure(frames, seed=1)})
    cams = ("54138969", "55011271", "58860488", "60457274")
    intr = {c: {"focal_length": [1145.0, 1144.0], "center": [512.0, 515.0], "radial_distortion": [0, 0, 0],
                "tangential_distortion": [0, 0], "res_w": 1000, "res_h": 1002} for c in cams}
    ext = {}
    for i, c in enumerate(cams):
        a = i * np.pi / 2
        centre = np.array([4 * np.sin(a), -4 * np.cos(a), 1.5])
        fwd = -centre * np.array([1, 1, 0])
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0, 0, 1])
        rot = np.stack([right, np.cross(fwd, right), fwd])
        ext[c] = {"R_world_to_cam": rot.tolist(), "center_m": centre.tolist()}
    (root / "cameras.json").write_text(json.dumps({"intrinsics": intr, "extrinsics": {"S11": ext}}))
    return root


def test_cli_render_fake_h36m_and_errors(tmp_path, capsys):
    data = write_fake_h36m(tmp_path / "h36m")
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    base = ["render", "--checkpoint", str(ckpt), "--dataset", "h36m", "--data-dir", str(data), "--no-progress",
            "--size", str(SIZE)]
    rc = main(base + ["--subject", "S11", "--action", "Walking 1", "--camera", "54138969", "--out", str(tmp_path / "w.mp4")])
    assert rc == 0, capsys.readouterr().err
    assert len(read_video(tmp_path / "w.mp4")[0]) == 40
    capsys.readouterr()
    checks = [
        (["--subject", "S99"], "S99"),
        (["--action", "Running 3"], "Walking 1"),  # lists what is available
        (["--camera", "7"], "unknown camera '7'"),
        (["--out", str(tmp_path / "w.avi")], "suffix"),
        (["--export", str(tmp_path / "w.txt")], "suffix"),
        (["--limit-frames", "0"], "--limit-frames"),
    ]
    for extra, needle in checks:
        argv = base + ["--out", str(tmp_path / "e.mp4")] + extra
        rc = main(argv)
        assert_one_line_error(rc, capsys.readouterr().err, needle)
    rc = main(["render", "--checkpoint", str(tmp_path / "missing.pt"), "--dataset", "synthetic", "--out", str(tmp_path / "e.mp4")])
    assert_one_line_error(rc, capsys.readouterr().err, "missing.pt")
    rc = main(["render", "--checkpoint", str(tiny_checkpoint(tmp_path / "m16.pt", 16)), "--dataset", "synthetic",
               "--out", str(tmp_path / "e.mp4")])
    assert_one_line_error(rc, capsys.readouterr().err, "16")
    assert not (tmp_path / "e.mp4").exists()


def test_cli_render_bad_subject_process_exit_code(tmp_path):
    data = write_fake_h36m(tmp_path / "h36m", frames=10)
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    script = Path(sys.executable).with_name("poselift")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "poselift.cli"]
    proc = subprocess.run(
        cmd + ["render", "--checkpoint", str(ckpt), "--data-dir", str(data), "--subject", "S42", "--out", str(tmp_path / "x.mp4")],
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120,
    )
    assert_one_line_error(proc.returncode, proc.stderr, "S42")


# ------------------------------------------------------------------------------ real data
def test_cli_render_real_h36m(h36m_dir, tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    out, export = tmp_path / "walk.mp4", tmp_path / "walk.npz"
    rc = main(["render", "--checkpoint", str(ckpt), "--dataset", "h36m", "--data-dir", str(h36m_dir), "--subject", "S11",
               "--action", "Walking 1", "--camera", "0", "--out", str(out), "--limit-frames", "20", "--size", str(SIZE),
               "--export", str(export), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    frames, fps = read_video(out)
    assert len(frames) == 20 and fps == pytest.approx(50)
    assert frames[0].shape[0] == SIZE and frames[0].shape[1] == 3 * SIZE  # 1000x1002 canvas + 2 panels
    from poselift.data.datasets import load_h36m

    seq = load_h36m(h36m_dir, ["S11"], actions=["Walking"], cameras=["54138969"])
    seq = next(s for s in seq if s.name == "Walking 1")
    gt = seq.positions_3d[:20] - seq.positions_3d[:20, :1]
    np.testing.assert_allclose(np.load(export)["ground_truth"], gt, atol=1e-5)
