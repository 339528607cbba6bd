"""Values are validated where they enter: frame rates in a sane range, confidences in
[0, 1], one CSV row per frame and joint (issue 28)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import poselift
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


# ------------------------------------------------- every option before any slow work
class DetectionStarted(AssertionError):
    pass


@pytest.fixture
def no_detection(monkeypatch):
    """Decoding, detecting or loading the weights fails the test: an option error must come first."""
    from poselift.pipeline import infer

    def forbidden(*args, **kwargs):
        raise DetectionStarted("the video was decoded / detected or the weights loaded before the options were checked")

    for name in ("_detect_video", "open_video", "get_people_detector", "load_model"):
        monkeypatch.setattr(infer, name, forbidden)


#: The bundled symmetric model: refused where a causal one is asked for.
SYMMETRIC_WEIGHTS = Path(poselift.__file__).resolve().parent / "weights" / "poselift_wild.pt"


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"never decoded: the options are checked first")
    return path


@pytest.mark.parametrize(
    "options, message",
    [
        (["--render-size", "10"], "--render-size must be a whole number of pixels from 64 to 4096"),
        (["--render", "--render-size", "5000"], "--render-size must be a whole number of pixels from 64 to 4096"),
        (["--render", "--azimuth", "nan"], "--azimuth must be a finite number of degrees"),
        (["--causal", "--checkpoint", str(SYMMETRIC_WEIGHTS)], "poselift_wild.pt: --causal needs a causal checkpoint (trained with `poselift train --causal`)"),
    ],
    ids=["render-size-10", "render-size-5000", "azimuth-nan", "causal-symmetric"],
)
def test_infer_options_are_refused_before_the_video_is_detected(tmp_path, capsys, no_detection, clip, options, message):
    """Before: --render-size 10 failed after detection and lifting (~20 s on the demo clip),
    --causal after the detector had started; now both fail before anything is decoded."""
    rc, _, err = run(["infer", clip, "--out", tmp_path / "out", "--no-progress", *options], capsys)
    assert_one_line_error(rc, err, message)
    assert not (tmp_path / "out").exists()


def test_run_infer_checks_its_arguments_before_detecting(tmp_path, no_detection, clip):
    from poselift.pipeline.infer import run_infer

    for kwargs, match in [
        ({"render_size": 10}, "`render_size` must be a whole number of pixels from 64 to 4096"),
        ({"focal": -5.0}, "`focal` must be a positive number of pixels"),
        ({"fps": 0}, "`fps` must be a frame rate"),
        ({"width": 0}, "`width` must be a positive whole number"),
        ({"keypoints_format": "xml"}, "unknown `keypoints_format` 'xml'"),
        ({"detector": "openpose"}, "unknown `detector` 'openpose'"),
        ({"trajectory_source": "gps"}, "`trajectory_source` must be one of fit, model"),
        ({"max_gap": -1}, "`max_gap` must be >= 0"),
        ({"limit_frames": 0}, "`limit_frames` must be a positive whole number"),
        ({"causal": True, "checkpoint": SYMMETRIC_WEIGHTS}, r"poselift_wild.pt: `causal=True` needs a causal checkpoint"),
    ]:
        with pytest.raises(PoseliftError, match=match):
            run_infer(clip, tmp_path / "out", progress=False, **kwargs)
        assert not (tmp_path / "out").exists()


def test_render_size_range_is_the_renderers(tmp_path):
    """RENDER_SIZE_RANGE (checked before the run) is what render_video accepts."""
    from poselift.pipeline.infer import RENDER_SIZE_RANGE
    from poselift.viz.render import render_video

    low, high = RENDER_SIZE_RANGE
    poses = np.zeros((2, 17, 3), np.float32)
    poses[:, :, 2] = 3.0
    poses[:, 1:, 1] = np.linspace(-0.8, 0.8, 16)
    from poselift.geometry.skeleton import H36M_17

    for size in (low - 1, high + 1):
        with pytest.raises(PoseliftError, match=f"from {low} to {high}"):
            render_video(tmp_path / "r.mp4", poses, H36M_17, 25.0, size=size, progress=False)


def test_infer_options_are_one_dataclass_for_run_infer_and_its_checks(tmp_path, no_detection, clip):
    from poselift.pipeline.infer import InferOptions, check_infer_options, run_infer

    assert check_infer_options(fps=30.0, bvh=True) == InferOptions(fps=30.0, bvh=True)
    with pytest.raises(PoseliftError, match="unknown infer option.*'fsp'"):
        check_infer_options(fsp=30.0)
    with pytest.raises(PoseliftError, match="`max_gap` must be >= 0"):
        run_infer(clip, tmp_path / "out", options=InferOptions(max_gap=-1), progress=False)
    with pytest.raises(PoseliftError, match="either as `options` or as keywords, not both"):
        run_infer(clip, tmp_path / "out", options=InferOptions(), bvh=True, progress=False)
    with pytest.raises(PoseliftError, match="unknown infer option.*'renderr'"):
        run_infer(clip, tmp_path / "out", renderr=True, progress=False)
    assert not (tmp_path / "out").exists()


def test_render_options_without_render_are_a_warning(tmp_path, caplog):
    from poselift.pipeline.infer import check_infer_options

    with caplog.at_level("WARNING", logger="poselift.infer"):
        check_infer_options(render_size=200)
    assert "only apply with --render" in caplog.text


def test_an_absurd_video_rate_is_refused_before_detecting(tmp_path, monkeypatch):
    """--fps 0.00001 on a video: refused when the container is opened (its frame count
    known), not after detection, when the resampled length is computed."""
    import cv2

    from poselift.pipeline import infer
    from poselift.pipeline.infer import run_infer

    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()

    def forbidden(*args, **kwargs):
        raise DetectionStarted("detection started")

    monkeypatch.setattr(infer, "get_people_detector", forbidden)
    with pytest.raises(PoseliftError, match=r"v\.avi: a frame rate of 1e-05 frames/s would resample 3 frames"):
        run_infer(path, tmp_path / "out", fps=1e-5, progress=False)


def test_infer_batch_checks_options_once_before_any_input(tmp_path, monkeypatch):
    from poselift.pipeline import batch

    (tmp_path / "in").mkdir()
    write_npz_input(tmp_path / "in" / "a.npz")
    monkeypatch.setattr(batch, "load_checked_lifter", lambda *a, **k: pytest.fail("the checkpoint was loaded first"))
    with pytest.raises(PoseliftError, match="`focal` must be a positive number of pixels"):
        batch.run_batch(tmp_path / "in", tmp_path / "out", progress=False, focal=-1.0)


def test_stream_checks_options_before_loading_the_model(tmp_path, monkeypatch):
    from poselift.pipeline import stream

    monkeypatch.setattr(stream, "load_model", lambda *a, **k: pytest.fail("the model was loaded first"))
    with pytest.raises(PoseliftError, match="`fps` must be a frame rate"):
        stream.run_stream(str(tmp_path / "v.mp4"), fps=0)
    with pytest.raises(PoseliftError, match="`max_frames` must be a positive whole number"):
        stream.run_stream(str(tmp_path / "v.mp4"), max_frames=0)


def test_render_refuses_a_bad_size_before_loading_anything(tmp_path, monkeypatch, capsys):
    """`poselift render --size 10` used to fail after the model and data loaded and the lift ran."""
    from poselift.tools import render_sequence

    def forbidden(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(render_sequence, "load_model", forbidden)
    rc, _, err = run(["render", "--dataset", "synthetic", "--out", tmp_path / "x.mp4", "--size", "10"], capsys)
    assert_one_line_error(rc, err, "--size must be a whole number of pixels from 64 to 4096")
