"""`poselift infer`: video / keypoint files → 3D poses (pipeline, importers, writers, CLI)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry.sequence import fill_gaps, interpolate_frames, resample
from poselift.geometry.skeleton import COCO_17, H36M_17, coco17_to_h36m17
from poselift.io.keypoints import (
    BODY25_TO_COCO17,
    COCO18_TO_COCO17,
    Keypoints2D,
    load_keypoints,
)
from poselift.pipeline.infer import run_infer
from poselift.pipeline.video import open_video

W, H, FPS, T = 320, 240, 25.0, 40
GAP_FRAMES = (5, 6)  # no person at all
LONG_GAP = range(10, 30)  # left wrist missing for 20 frames (> max_gap 10): flagged
LWRIST_COCO = COCO_17.joint_names.index("left_wrist")


# ------------------------------------------------------------------------ fixtures
def _save_lifter(
    path: Path, causal: bool = False, trajectory: bool = True, joints: int = 17, channels: int = 16, **meta
) -> Path:
    """A random-weight RF-9 lifter checkpoint (``joints``: 17 = H36M-17, 15 = HumanEva-15);
    ``meta`` adds or replaces metadata entries."""
    import torch

    from poselift.models.checkpoint import save_checkpoint
    from poselift.models.temporal import ModelConfig, TemporalModel

    torch.manual_seed(0)
    layout = {17: "h36m17", 15: "humaneva15"}[joints]
    cfg = ModelConfig(num_joints_in=joints, num_joints_out=joints, channels=channels, filter_widths=(3, 3), causal=causal)
    payload = {"model_pos": TemporalModel(cfg).state_dict()}
    metadata = {"model": cfg.to_dict(), "joints_in": layout, "joints_out": layout, "fps": 50.0, **meta}
    if trajectory:
        tcfg = replace(cfg, num_joints_out=1)
        payload["model_traj"] = TemporalModel(tcfg).state_dict()
        metadata["trajectory_model"] = tcfg.to_dict()
    save_checkpoint(path, payload, metadata)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def coco_sequence() -> np.ndarray:
    """A known COCO-17 pose sequence ``[T, 17, 2]`` in pixels: a figure walking right."""
    base = np.array(
        [
            (160, 60), (165, 55), (155, 55), (170, 58), (150, 58),  # nose, eyes, ears
            (180, 85), (140, 85), (188, 115), (132, 115), (192, 145), (128, 145),  # shoulders, elbows, wrists
            (172, 145), (148, 145), (175, 185), (145, 185), (177, 225), (143, 225),  # hips, knees, ankles
        ],
        dtype=np.float32,
    )
    t = np.arange(T, dtype=np.float32)[:, None, None]
    seq = base[None] + np.concatenate([1.5 * t, np.zeros_like(t)], axis=-1) - [30, 0]
    seq[:, [7, 9], 1] += 8 * np.sin(t[:, 0] / 4)  # left arm swings
    seq[:, [8, 10], 1] -= 8 * np.sin(t[:, 0] / 4)
    return seq.astype(np.float32)


def observed_mask() -> np.ndarray:
    """``[T, 17]`` True where the COCO joint is present in the keypoint files."""
    mask = np.ones((T, 17), dtype=bool)
    mask[list(GAP_FRAMES)] = False
    mask[list(LONG_GAP), LWRIST_COCO] = False
    return mask


def write_npz_input(path: Path, with_meta: bool = True, zoom: float = 1.0) -> Path:
    """The test figure as an npz keypoint file; ``zoom``: scaled about the image centre (as a
    lens with ``zoom`` times the focal length would show it)."""
    centre = np.array([W / 2, H / 2], np.float32)
    pts = centre + zoom * (coco_sequence() - centre)
    pts[~observed_mask()] = np.nan
    extra = {"fps": FPS, "width": W, "height": H, "layout": "coco17"} if with_meta else {}
    np.savez(path, keypoints_2d=pts, confidence=np.where(observed_mask(), 0.9, 0.0), **extra)
    return path


def write_csv_input(path: Path) -> Path:
    pts, mask = coco_sequence(), observed_mask()
    lines = ["frame,joint,x,y,confidence"]
    for t in range(T):
        for j, name in enumerate(COCO_17.joint_names):
            if mask[t, j]:
                lines.append(f"{t},{name},{pts[t, j, 0]:.4f},{pts[t, j, 1]:.4f},0.9")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_coco_json(path: Path, detectron_style: bool = True) -> Path:
    pts, mask = coco_sequence(), observed_mask()
    anns = []
    for t in range(T):
        if t in GAP_FRAMES:
            continue
        kp = []
        for j in range(17):
            kp += [float(pts[t, j, 0]), float(pts[t, j, 1]), 0.9 if mask[t, j] else 0.0] if detectron_style else (
                [float(pts[t, j, 0]), float(pts[t, j, 1]), 2] if mask[t, j] else [0, 0, 0]
            )
        ann = {"image_id": t, "keypoints": kp, "category_id": 1}
        if detectron_style:
            ann["score"] = 0.99
            # a worse-scoring second person that must be ignored
            anns.append({"image_id": t, "keypoints": [1.0, 1.0, 0.5] * 17, "score": 0.2})
        anns.append(ann)
    if detectron_style:
        path.write_text(json.dumps(anns))
    else:
        images = [{"id": t, "file_name": f"frame_{t:04d}.jpg", "width": W, "height": H} for t in range(T)]
        path.write_text(json.dumps({"images": images, "annotations": anns}))
    return path


def write_openpose_folder(folder: Path, body25: bool = True) -> Path:
    folder.mkdir()
    pts, mask = coco_sequence(), observed_mask()
    table = BODY25_TO_COCO17 if body25 else COCO18_TO_COCO17
    n = 25 if body25 else 18
    for t in range(T):
        people = []
        if t not in GAP_FRAMES:
            flat = np.zeros((n, 3))
            for coco_j, op_j in enumerate(table):
                if mask[t, coco_j]:
                    flat[op_j] = (pts[t, coco_j, 0], pts[t, coco_j, 1], 0.8)
            people = [{"pose_keypoints_2d": [0.0] * (3 * n)}, {"pose_keypoints_2d": flat.reshape(-1).tolist()}]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    return folder


def draw_video(path: Path, figure: bool, frames: int = T, size=(W, H), fps: float = FPS) -> Path:
    """An mp4 (mp4v) with a moving stick figure drawn from :func:`coco_sequence` (or blank)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    seq = coco_sequence()
    for t in range(frames):
        img = np.full((size[1], size[0], 3), 200, np.uint8)
        if figure:
            p = seq[t % T].astype(int)
            for c, par in COCO_17.bones():
                if c > 4:
                    cv2.line(img, tuple(p[c]), tuple(p[par]), (60, 80, 160), 9)
            torso = np.array([p[5], p[6], p[12], p[11]])
            cv2.fillConvexPoly(img, torso, (50, 60, 140))
            cv2.circle(img, tuple(p[0]), 16, (140, 170, 220), -1)
        writer.write(img)
    writer.release()
    return path


def expected_h36m_px() -> np.ndarray:
    return coco17_to_h36m17(coco_sequence())[0]


def check_outputs(out: Path, expect_traj: bool = True) -> dict:
    """The three pose files exist, agree and carry the gap flags of the fixture."""
    with np.load(out / "poses.npz", allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    assert d["joints_3d"].shape == (T, 17, 3) and d["joints_3d"].dtype == np.float32
    assert d["keypoints_2d"].shape == (T, 17, 2)
    assert d["confidence"].shape == (T, 17)
    assert d["filled"].shape == (T,) and d["filled"].dtype == bool
    assert ("trajectory" in d) == expect_traj
    if expect_traj:
        assert d["trajectory"].shape == (T, 3)
        assert np.isfinite(d["trajectory"]).all()
    for key in ("joints_3d", "keypoints_2d", "confidence"):
        assert np.isfinite(d[key]).all(), key
    np.testing.assert_allclose(d["joints_3d"][:, 0], 0, atol=1e-6)  # root-relative
    assert d["joint_names"].dtype.kind == "U" and tuple(d["joint_names"]) == H36M_17.joint_names
    assert tuple(d["parents"]) == H36M_17.parents
    assert float(d["fps"]) == FPS
    # gaps: frames 5-6 (short) and 10-29 (left wrist, long) are filled, only the long one flagged
    filled = set(np.flatnonzero(d["filled"]).tolist())
    assert filled == set(GAP_FRAMES) | set(LONG_GAP)
    assert set(np.flatnonzero(d["flagged"]).tolist()) == set(LONG_GAP)
    assert (d["confidence"][list(GAP_FRAMES)] == 0).all()
    # observed frames keep the input keypoints; gap frames are interpolated between neighbours
    ok = [t for t in range(T) if t not in filled]
    np.testing.assert_allclose(d["keypoints_2d"][ok], expected_h36m_px()[ok], atol=1e-2)
    np.testing.assert_allclose(d["keypoints_2d"][5:7, 0], expected_h36m_px()[5:7, 0], atol=1e-2)  # linear motion
    doc = json.loads((out / "poses.json").read_text())
    assert np.allclose(np.array(doc["joints_3d"]), d["joints_3d"], atol=1e-5)
    assert doc["metadata"]["flagged_frames"] == list(LONG_GAP)
    assert "timings_s" in doc["metadata"] and "lift" in doc["metadata"]["timings_s"]
    lines = (out / "poses.csv").read_text().splitlines()
    assert lines[0] == "frame,time_s,joint,x_m,y_m,z_m,u_px,v_px,confidence,filled,world_x_m,world_y_m,world_z_m"
    assert len(lines) == 1 + T * 17
    if "world_3d" in d:  # levelled (the default) with a trajectory: the CSV's world columns are world_3d
        rows = np.array([[float(v) for v in line.split(",")[-3:]] for line in lines[1:]]).reshape(T, 17, 3)
        np.testing.assert_allclose(rows, d["world_3d"], atol=2e-6)
        assert doc["metadata"]["level"] is not None
    assert not list(out.glob(".poselift-infer-*"))
    return d


# --------------------------------------------------------------------- pure steps
def test_fill_gaps_hand_cases():
    x = np.array([0, np.nan, np.nan, 3, 4, np.nan], dtype=np.float32)
    pts = np.stack([x, 2 * x], -1)[:, None, :]  # [6, 1, 2]
    res = fill_gaps(pts, None, max_gap_frames=1)
    np.testing.assert_allclose(res.points[:, 0, 0], [0, 1, 2, 3, 4, 4])  # inner linear, trailing edge held
    np.testing.assert_allclose(res.points[:, 0, 1], [0, 2, 4, 6, 8, 8])
    assert res.filled[:, 0].tolist() == [False, True, True, False, False, True]
    assert res.flagged[:, 0].tolist() == [False, True, True, False, False, False]  # gap of 2 > 1
    assert not fill_gaps(pts, None, max_gap_frames=2).flagged.any()
    # leading edge held; confidence 0 means missing even with coordinates
    pts2 = np.array([[[9.0, 9.0]], [[1.0, 1.0]], [[2.0, 2.0]]], dtype=np.float32)
    res2 = fill_gaps(pts2, np.array([[0.0], [1.0], [1.0]]), max_gap_frames=0)
    np.testing.assert_allclose(res2.points[:, 0, 0], [1, 1, 2])
    assert res2.filled[:, 0].tolist() == [True, False, False] and res2.flagged[:, 0].tolist() == [True, False, False]
    # nothing missing: unchanged
    clean = np.random.default_rng(0).normal(size=(5, 3, 2)).astype(np.float32)
    res3 = fill_gaps(clean, np.ones((5, 3)), 3)
    np.testing.assert_array_equal(res3.points, clean)
    assert not res3.filled.any()
    with pytest.raises(PoseliftError, match="missing in every frame"):
        fill_gaps(np.full((4, 2, 2), np.nan), None, 3)


def test_resample_linear_and_round_trip():
    ramp = np.arange(31, dtype=np.float64)[:, None]  # frame index at 30 fps: 1 s
    up = resample(ramp, 30, 50)
    assert up.shape == (51, 1)
    np.testing.assert_allclose(up[:, 0], np.arange(51) * 30 / 50)
    down = resample(up, 50, 30, num_out=31)
    np.testing.assert_allclose(down, ramp, atol=1e-9)
    # equal rates (within 1 %) are a no-op
    np.testing.assert_array_equal(resample(ramp, 50, 49.9), ramp)
    # past the end holds the last frame
    np.testing.assert_allclose(interpolate_frames(ramp, np.array([-1.0, 0.5, 99.0]))[:, 0], [0, 0.5, 30])
    with pytest.raises(PoseliftError):
        resample(ramp, 0, 50)


# ---------------------------------------------------------------- keypoint inputs
@pytest.mark.parametrize("fmt", ["npz", "csv", "coco-json", "coco-file", "openpose-body25", "openpose-coco18"])
def test_keypoint_files_to_poses(tmp_path, ckpt, fmt):
    geometry = {"width": W, "height": H, "fps": FPS}
    if fmt == "npz":
        src, geometry = write_npz_input(tmp_path / "kp.npz"), {}
    elif fmt == "csv":
        src = write_csv_input(tmp_path / "kp.csv")
    elif fmt == "coco-json":
        src = write_coco_json(tmp_path / "kp.json")
    elif fmt == "coco-file":
        src, geometry = write_coco_json(tmp_path / "kp.json", detectron_style=False), {"fps": FPS}
    else:
        src = write_openpose_folder(tmp_path / "op", body25=fmt.endswith("body25"))
    out = tmp_path / "out"
    # the coco-json fixture has a second, tiny low-scoring person in every frame: keep the largest
    person = "largest" if fmt == "coco-json" else "all"
    result = run_infer(src, out, ckpt, progress=False, person=person, **geometry)
    assert result.num_frames == T and result.frames_with_person == T - len(GAP_FRAMES)
    assert result.flagged_frames == list(LONG_GAP)
    assert set(result.timings_s) >= {"load_model", "load_keypoints", "convert", "lift", "write"}
    if fmt in ("npz", "csv"):  # one person by format: its files in OUT itself, no people.json
        assert not (out / "people.json").exists() and result.people[0]["folder"] == "."
        check_outputs(out)
        return
    people = json.loads((out / "people.json").read_text())["people"]
    assert [p["first_frame"] for p in people] == [0] * len(people)
    if fmt == "coco-json":  # two tracks, the real person written into OUT itself
        assert len(people) == 2 and [p["written"] for p in people] == [False, True]
        assert result.people[0]["track_id"] == 2 and result.people[0]["folder"] == "."
        check_outputs(out)
        return
    assert [p["track_id"] for p in people] == [1]
    # files that may hold several people (COCO, OpenPose) get one folder per person
    check_outputs(out / "person_1")
    assert result.people[0]["folder"] == "person_1"


def test_importers_need_geometry_and_check_joints(tmp_path):
    csv_path = write_csv_input(tmp_path / "kp.csv")
    with pytest.raises(PoseliftError, match="`width`"):
        load_keypoints(csv_path, fps=FPS)
    with pytest.raises(PoseliftError, match="`fps`"):
        load_keypoints(csv_path, width=W, height=H)
    kp = load_keypoints(write_npz_input(tmp_path / "kp.npz", with_meta=False), width=W, height=H, fps=FPS)
    assert isinstance(kp, Keypoints2D) and kp.layout == "coco17" and kp.points.shape == (T, 17, 2)
    bad = tmp_path / "bad.npz"
    np.savez(bad, keypoints_2d=np.zeros((5, 15, 2)), fps=30.0, width=W, height=H)
    with pytest.raises(PoseliftError, match="15 joints"):
        load_keypoints(bad)
    np.savez(bad, keypoints_2d=np.zeros((5, 15, 2)), fps=30.0, width=W, height=H, layout="coco17")
    with pytest.raises(PoseliftError, match="has 17 joints but"):
        load_keypoints(bad)
    (tmp_path / "x.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1, 2, 1] * 16}]))
    with pytest.raises(PoseliftError, match="51"):
        load_keypoints(tmp_path / "x.json", width=W, height=H, fps=FPS)


def test_outputs_are_all_or_nothing(tmp_path, ckpt, monkeypatch):
    import poselift.pipeline.infer as export  # run_infer's own reference to write_csv

    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(export, "write_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        run_infer(write_npz_input(tmp_path / "kp.npz"), out, ckpt, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_causal_flag_and_focal(tmp_path, ckpt, caplog):
    src = write_npz_input(tmp_path / "kp.npz")
    with pytest.raises(PoseliftError, match="causal checkpoint"):
        run_infer(src, tmp_path / "o1", ckpt, causal=True, progress=False)
    causal = _save_lifter(tmp_path / "causal.pt", causal=True)
    res = run_infer(src, tmp_path / "o2", causal, causal=True, progress=False)
    assert res.causal and not res.flip
    a = run_infer(src, tmp_path / "o3", ckpt, focal=400.0, trajectory_source="model", progress=False)
    b = run_infer(src, tmp_path / "o4", ckpt, focal=800.0, trajectory_source="model", progress=False)
    with np.load(tmp_path / "o3" / "poses.npz") as za, np.load(tmp_path / "o4" / "poses.npz") as zb:
        np.testing.assert_allclose(zb["trajectory"][:, 2], 2 * za["trajectory"][:, 2], rtol=1e-5)  # depth ∝ focal
        np.testing.assert_allclose(zb["trajectory"][:, :2], za["trajectory"][:, :2], rtol=1e-5)
        np.testing.assert_array_equal(za["joints_3d"], zb["joints_3d"])
    assert a.has_trajectory and b.focal_px == 800.0
    notraj = _save_lifter(tmp_path / "nt.pt", trajectory=False)
    run_infer(src, tmp_path / "o5", notraj, trajectory_source="model", progress=False)
    check_outputs(tmp_path / "o5", expect_traj=False)
    # the default fits the root to the 2D: any checkpoint gets a trajectory, recorded in the metadata
    run_infer(src, tmp_path / "o6", notraj, progress=False)
    check_outputs(tmp_path / "o6", expect_traj=True)
    meta = json.loads((tmp_path / "o6" / "poses.json").read_text())["metadata"]
    assert meta["trajectory_source"] == "fit"
    # 2D from which no root can be fitted (every joint at one point): poses, a warning, no trajectory
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["keypoints_2d"] = np.where(np.isnan(arrays["keypoints_2d"]), np.nan, 100.0)
    np.savez(tmp_path / "flat.npz", **arrays)
    with caplog.at_level(logging.WARNING, logger="poselift.infer"):
        run_infer(tmp_path / "flat.npz", tmp_path / "o8", notraj, progress=False)
    assert "writing no trajectory" in caplog.text
    with np.load(tmp_path / "o8" / "poses.npz") as z:
        assert "trajectory" not in z.files and np.isfinite(z["joints_3d"]).all()
    assert json.loads((tmp_path / "o8" / "poses.json").read_text())["metadata"]["trajectory_source"] is None
    with pytest.raises(PoseliftError, match="`trajectory_source` must be one of"):
        run_infer(src, tmp_path / "o7", ckpt, trajectory_source="gps", progress=False)


def test_fitted_trajectory_recovers_the_root_and_smooths_outliers():
    from poselift.geometry.camera import project_to_2d_linear
    from poselift.geometry.skeleton import H36M17_LIMBS
    from poselift.geometry.trajectory import (
        ROOT_FIT_JOINTS,
        fit_trajectory,
        smooth_trajectory,
    )

    assert ROOT_FIT_JOINTS == tuple(sorted(j for limb in H36M17_LIMBS for side in limb for j in side))

    rng = np.random.default_rng(1)
    frames, w, h, focal = 60, 1280, 720, 1100.0
    joints = rng.normal(size=(frames, 17, 3)) * 0.25
    joints -= joints[:, :1]
    root = np.stack([np.linspace(-0.5, 0.5, frames), np.full(frames, 0.2), np.linspace(4.0, 6.0, frames)], -1)
    intr = np.array([focal, focal, w / 2, h / 2, 0, 0, 0, 0, 0])
    px = project_to_2d_linear(joints + root[:, None], intr)
    conf = np.ones((frames, 17))
    fitted = fit_trajectory(joints, px, conf, w, h, focal, 50.0)
    np.testing.assert_allclose(fitted, root, atol=1e-6)  # a straight path survives the smoothing, ends included
    # frames without usable limbs (confidence 0) are interpolated from their neighbours
    conf[20:23] = 0
    np.testing.assert_allclose(fit_trajectory(joints, px, conf, w, h, focal, 50.0), root, atol=1e-6)
    with pytest.raises(PoseliftError, match="no frame has two or more usable"):
        fit_trajectory(joints, px, np.zeros((frames, 17)), w, h, focal, 50.0)
    # a one-frame outlier is removed by the running median
    spiky = root.copy()
    spiky[30, 2] += 3.0
    step = np.linalg.norm(root[1] - root[0])  # one frame's motion, 34 mm
    assert np.abs(smooth_trajectory(spiky, 50.0) - root).max() <= step + 1e-9  # the 3 m spike is gone
    assert np.abs(smooth_trajectory(np.where(np.arange(frames)[:, None] == 30, np.nan, root), 50.0) - root).max() <= step
    for n in (1, 2, 3):  # shorter than the windows
        np.testing.assert_allclose(smooth_trajectory(root[:n], 50.0), root[:n], atol=1e-9)


# ------------------------------------------------------------------------- video
class FakeDetector:
    """Returns the fixture's COCO sequence for whatever video it is given."""

    layout = "coco17"

    def detect(self, frames, info, progress=True):
        n = sum(1 for _ in frames)
        pts = coco_sequence()[:n].copy()
        pts[~observed_mask()[:n]] = np.nan
        return Keypoints2D(pts, observed_mask()[:n].astype(np.float32), self.layout, info.fps, info.width, info.height)


def test_video_pipeline_with_detector_interface(tmp_path, ckpt):
    video = draw_video(tmp_path / "walk.mp4", figure=True)
    info, frames = open_video(video)
    assert (info.width, info.height, info.fps) == (W, H, FPS)
    assert sum(1 for _ in frames) == T
    res = run_infer(video, tmp_path / "out", ckpt, detector=FakeDetector(), progress=False)
    assert "decode_detect" in res.timings_s and res.model_fps == 50.0 and res.fps == FPS
    first = check_outputs(tmp_path / "out")
    # poses.npz is itself a valid keypoint input (h36m17 layout, size and rate stored)
    run_infer(tmp_path / "out" / "poses.npz", tmp_path / "again", ckpt, progress=False)
    again = check_outputs(tmp_path / "again")
    np.testing.assert_allclose(again["joints_3d"], first["joints_3d"], atol=1e-5)


def test_mediapipe_on_drawn_figure_reports_person_frames(tmp_path, ckpt):
    video = draw_video(tmp_path / "stick.mp4", figure=True)
    try:
        res = run_infer(video, tmp_path / "out", ckpt, progress=False)
    except PoseliftError as exc:  # a stick figure need not look human to BlazePose
        assert "no person detected in any frame" in str(exc)
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("poses.*"))
    else:
        assert res.num_frames == T and 0 < res.frames_with_person <= T
        for person in res.people:  # each over its span of the video
            with np.load(tmp_path / "out" / person["folder"] / "poses.npz") as z:
                assert z["joints_3d"].shape == (person["frames"], 17, 3) and np.isfinite(z["joints_3d"]).all()
                assert z["frame_index"][0] == person["first_frame"]


# --------------------------------------------------------------------- CLI errors
def _cli_error(capsys, argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("poselift: error: "), err
    return err[0]


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty", "npz-joints", "no-person", "csv-no-geometry"])
def test_cli_bad_inputs_exit_2_without_outputs(tmp_path, ckpt, capsys, case):
    out = tmp_path / "out"
    if case == "missing":
        src, expect = tmp_path / "nope.mp4", "does not exist"
    elif case == "corrupt":
        src, expect = tmp_path / "bad.mp4", "could not be opened"
        src.write_bytes(np.random.default_rng(0).bytes(20_000))
    elif case == "empty":
        src, expect = tmp_path / "empty.mp4", "empty"
        src.write_bytes(b"")
    elif case == "npz-joints":
        src, expect = tmp_path / "kp.npz", "joints"
        np.savez(src, keypoints_2d=np.zeros((5, 15, 2)), fps=30.0, width=W, height=H, layout="coco17")
    elif case == "csv-no-geometry":
        src, expect = write_csv_input(tmp_path / "kp.csv"), "--width"
    else:
        src, expect = draw_video(tmp_path / "blank.mp4", figure=False, frames=12), "no person detected in any frame"
    msg = _cli_error(capsys, ["infer", str(src), "--out", str(out), "--checkpoint", str(ckpt), "--no-progress"])
    assert expect in msg
    assert not out.exists() or not list(out.glob("poses.*")) and not list(out.glob(".poselift-*"))


def test_cli_checkpoint_errors(tmp_path, capsys):
    src = write_npz_input(tmp_path / "kp.npz")
    msg = _cli_error(capsys, ["infer", str(src), "--out", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "none.pt")])
    assert "does not exist" in msg
    sh = tmp_path / "sh.pt"
    from poselift.models.checkpoint import save_checkpoint
    from poselift.models.temporal import ModelConfig, TemporalModel

    cfg = ModelConfig(num_joints_in=16, channels=8, filter_widths=(3,))
    save_checkpoint(sh, {"model_pos": TemporalModel(cfg).state_dict()}, {"model": cfg.to_dict(), "joints_in": "mpii16"})
    assert "mpii16" in _cli_error(capsys, ["infer", str(src), "--out", str(tmp_path / "o"), "--checkpoint", str(sh)])


def test_cli_json_summary_and_help(tmp_path, ckpt, capsys):
    src = write_npz_input(tmp_path / "kp.npz")
    rc = main(["infer", str(src), "--out", str(tmp_path / "o"), "--checkpoint", str(ckpt), "--json", "--max-gap", "25"])
    captured = capsys.readouterr()
    assert rc == 0
    summary = json.loads(captured.out)
    assert summary["num_frames"] == T and summary["flagged_frames"] == [] and summary["frames_per_s"] > 0
    assert set(summary["timings_s"]) >= {"load_model", "convert", "lift", "write"}
    checks = summary["plausibility"]
    assert len(checks["bone_length_cv"]) == 16 and 0 <= checks["bone_length_cv_median"] <= checks["bone_length_cv_max"]
    assert isinstance(checks["left_right_swapped_frames"], list) and isinstance(checks["detector_label_switch_frames"], list)
    assert json.loads((tmp_path / "o" / "poses.json").read_text())["metadata"]["plausibility"] == checks
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    text = capsys.readouterr().out
    for opt in ("--out", "--checkpoint", "--detector", "--keypoints-format", "--width", "--height", "--fps", "--focal",
                "--causal", "--no-flip", "--max-gap", "--bvh", "--render", "--render-size", "--azimuth",
                "--limit-frames", "--json"):
        assert opt in text, opt


# ---------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.realdata
def test_real_video_end_to_end(demo_video, tmp_path):
    ckpt = os.environ.get("POSELIFT_TEST_CHECKPOINT")
    if not ckpt:
        pytest.skip("set POSELIFT_TEST_CHECKPOINT to a trained H36M-17 checkpoint to check bone lengths on real video")
    res = run_infer(demo_video, tmp_path / "out", ckpt, progress=False)
    assert res.num_frames == 230
    with np.load(tmp_path / "out" / "poses.npz") as z:
        joints = z["joints_3d"]
    assert joints.shape == (230, 17, 3) and np.isfinite(joints).all()
    thigh = np.concatenate([np.linalg.norm(joints[:, 2] - joints[:, 1], axis=-1), np.linalg.norm(joints[:, 5] - joints[:, 4], axis=-1)])
    assert 0.35 <= float(np.median(thigh)) <= 0.55, float(np.median(thigh))


def test_bvh_and_render_outputs(tmp_path, ckpt):
    """--bvh / --render call the BVH writer and renderer; their files land next to poses.*."""
    pytest.importorskip("poselift.viz.render")
    video = draw_video(tmp_path / "walk.mp4", figure=True)
    res = run_infer(video, tmp_path / "out", ckpt, detector=FakeDetector(), bvh=True, render=True,
                    render_size=120, azimuth=160.0, limit_frames=10, progress=False)
    names = sorted(Path(f).name for f in res.files)
    assert names == ["poses.bvh", "poses.csv", "poses.json", "poses.npz", "render.mp4"]
    assert {"bvh", "render"} <= set(res.timings_s)
    assert (tmp_path / "out" / "poses.bvh").read_text().startswith("HIERARCHY")
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "out" / "render.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 120
    cap.release()
    # keypoint input: the 2D panel is drawn on a blank canvas of the stated size
    res2 = run_infer(write_npz_input(tmp_path / "kp.npz"), tmp_path / "out2", ckpt, render=True, render_size=96,
                     progress=False)
    assert any(f.endswith("render.mp4") for f in res2.files)


def test_causal_root_smoother_uses_past_frames_only():
    from poselift.geometry.trajectory import CausalRootSmoother

    fps = 25.0
    smoother = CausalRootSmoother(fps)  # 0.2 s median = 5 frames, 0.1 s time constant
    assert smoother.push(np.array([np.nan, 0.0, 0.0])) is None  # nothing usable yet
    still = np.array([0.1, -0.2, 4.0])
    for _ in range(10):
        np.testing.assert_allclose(smoother.push(still), still)  # a constant root stays exact
    spiked = smoother.push(still + [0.0, 0.0, 3.0])  # a one-frame glitch (e.g. swapped legs) is dropped
    np.testing.assert_allclose(spiked, still)
    np.testing.assert_allclose(smoother.push(np.full(3, np.nan)), still)  # no fit this frame: carried on
    moved = still + [1.0, 0.0, 0.0]
    out = [smoother.push(moved)[0] for _ in range(25)]  # a step: follows within a second, never overshoots
    assert all(a <= b + 1e-12 for a, b in zip(out, out[1:])) and out[-1] == pytest.approx(1.1, abs=1e-3)
    assert out[1] == pytest.approx(0.1)  # the median waits for the majority: no reaction after two frames
    # causal: the output up to frame t does not depend on anything after t
    rng = np.random.default_rng(0)
    path = rng.normal(size=(40, 3)).cumsum(0)
    a, b = CausalRootSmoother(fps), CausalRootSmoother(fps)
    first = [a.push(p) for p in path]
    changed = path.copy()
    changed[30:] += 100.0
    second = [b.push(p) for p in changed]
    np.testing.assert_array_equal(np.stack(first[:30]), np.stack(second[:30]))
    a.reset()
    assert a.push(np.full(3, np.nan)) is None
    with pytest.raises(PoseliftError):
        CausalRootSmoother(0.0)
    with pytest.raises(PoseliftError, match=r"root \[3\]"):
        CausalRootSmoother(fps).push(np.zeros(2))
