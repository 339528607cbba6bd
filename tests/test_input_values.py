"""Values are validated where they enter: frame rates in a sane range, confidences in
[0, 1], one CSV row per frame and joint (issue 28)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers
from test_pipeline import FPS, H, W, write_csv_input, write_npz_input  # noqa: E402

from poselift.errors import PoseliftError
from poselift.geometry.sequence import MAX_FRAME_RATE, check_frame_rate
from poselift.io.keypoints import load_keypoints
from poselift.pipeline.video import open_video


@pytest.mark.parametrize("fps", [0, -1, math.nan, math.inf, 1e9, MAX_FRAME_RATE * 1.001, "fast", None])
def test_frame_rates_outside_the_range_are_refused(fps):
    with pytest.raises(PoseliftError, match="`fps` must be a"):
        check_frame_rate(fps)


@pytest.mark.parametrize("fps", [0.5, 25, 59.94, 240, MAX_FRAME_RATE])
def test_frame_rates_in_the_range_pass(fps):
    assert check_frame_rate(fps) == float(fps)


def test_keypoint_file_with_an_absurd_rate_is_refused(tmp_path, capsys):
    src = write_npz_input(tmp_path / "kp.npz", with_meta=False)
    with pytest.raises(PoseliftError, match=r"kp\.npz: `fps` must be a frame rate in \(0, 10000\]"):
        load_keypoints(src, width=W, height=H, fps=1e9)
    rc, _, err = run(["infer", src, "--out", tmp_path / "out", "--width", W, "--height", H, "--fps", "1e9"], capsys)
    assert_one_line_error(rc, err, "--fps must be a frame rate in (0, 10000] frames per second, got 1000000000.0")
    assert not (tmp_path / "out").exists()


def test_video_with_an_absurd_rate_is_refused_before_decoding(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not decoded: the rate is checked first")
    with pytest.raises(PoseliftError, match="`fps` must be a frame rate"):
        open_video(video, fps=1e9)


@pytest.mark.parametrize("bad", [1e30, -0.5, 1.5, np.inf])
def test_npz_confidence_outside_0_1_is_refused(tmp_path, capsys, bad):
    src = write_npz_input(tmp_path / "kp.npz")
    with np.load(src) as f:
        data = dict(f)
    data["confidence"] = data["confidence"].copy()
    data["confidence"][3, 5] = bad
    np.savez(src, **data)
    with pytest.raises(PoseliftError, match=r"kp\.npz: confidence must be in \[0, 1\].*at frame 3, joint 5"):
        load_keypoints(src)
    rc, _, err = run(["infer", src, "--out", tmp_path / "out"], capsys)
    assert_one_line_error(rc, err, "kp.npz", "confidence must be in [0, 1]", "frame 3, joint 5")


def test_npz_confidence_nan_means_missing(tmp_path):
    src = write_npz_input(tmp_path / "kp.npz")
    with np.load(src) as f:
        data = dict(f)
    data["confidence"] = data["confidence"].copy()
    data["confidence"][3, 5] = np.nan
    np.savez(src, **data)
    kp = load_keypoints(src)
    assert kp.confidence[3, 5] == 0


def test_csv_with_a_repeated_frame_and_joint_is_refused(tmp_path, capsys):
    src = write_csv_input(tmp_path / "kp.csv")
    lines = src.read_text().splitlines()
    src.write_text("\n".join(lines + [lines[1]]) + "\n")  # frame 0's first joint again, at the end
    with pytest.raises(PoseliftError, match=rf"kp\.csv: line {len(lines) + 1} repeats frame 0, joint 'nose' \(first on line 2\)"):
        load_keypoints(src, width=W, height=H, fps=FPS)
    rc, _, err = run(["infer", src, "--out", tmp_path / "out", "--width", W, "--height", H, "--fps", FPS], capsys)
    assert_one_line_error(rc, err, "repeats frame 0", "each frame and joint may appear once")


def test_huge_frames_are_refused_before_decoding(tmp_path, monkeypatch):
    """The container's stated size is checked before the first frame is decoded (the
    limit is lowered here so that a small test video stands in for a 16000 px one)."""
    import cv2

    import poselift.pipeline.video as video

    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    assert video.open_video(path)[0].width == 64
    decoded = []
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 64 * 48 - 1)
    monkeypatch.setattr(cv2.VideoCapture, "read", lambda self: decoded.append(1) or (False, None), raising=False)
    with pytest.raises(PoseliftError, match=r"64x48 px frames .* scale it down first"):
        video.open_video(path)
    assert decoded == []  # refused before any frame was decoded
