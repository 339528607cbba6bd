"""The mp4 we write plays in browsers: H.264, yuv420p, even size; mp4v only as a logged fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from poselift.data.synthetic import synthetic_sequence
from poselift.geometry.skeleton import H36M_17
from poselift.viz import render
from poselift.viz.render import render_video

av = pytest.importorskip("av")  # a dependency of poselift; the fallback test below runs without it

SIZE = 96


@pytest.fixture(scope="module")
def seq():
    return synthetic_sequence(12, seed=5)


def decoded(path: Path) -> tuple[str, int, float, tuple[int, int]]:
    """OpenCV's view of a video: fourcc, frames actually decoded, fps and (width, height)."""
    cap = cv2.VideoCapture(str(path))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace")
    fps = cap.get(cv2.CAP_PROP_FPS)
    shape = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return fourcc, count, fps, shape


def probe(path: Path) -> dict:
    """FFmpeg's (PyAV's) view of the video stream and the container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        return {"codec": ctx.name, "pix_fmt": ctx.pix_fmt, "profile": ctx.profile, "width": stream.width,
                "height": stream.height, "frames": stream.frames, "rate": float(stream.average_rate),
                "format": container.format.name}


@pytest.mark.parametrize("fps", [50.0, 29.97, 30.0 / 4])
def test_mp4_is_browser_playable_h264(tmp_path, seq, fps):
    yy, xx = np.mgrid[:199, :321]  # odd-sized source video: the output is still even
    video = [np.dstack([(xx + i) % 256, yy % 256, np.full_like(xx, 128)]).astype(np.uint8) for i in range(12)]
    out = render_video(tmp_path / "a.mp4", seq.positions_3d, H36M_17, fps, keypoints_2d=seq.keypoints_2d * 0.2,
                       frames=iter(video), ground_truth=seq.positions_3d, size=SIZE, progress=False)
    info = probe(out)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and "mp4" in info["format"]
    assert info["width"] % 2 == 0 and info["height"] == SIZE
    assert info["frames"] == 12 and info["rate"] == pytest.approx(fps, rel=1e-3)
    fourcc, count, cv_fps, shape = decoded(out)
    assert fourcc.lower() in ("avc1", "h264") and count == 12 and cv_fps == pytest.approx(fps, rel=1e-3)
    assert shape == (info["width"], info["height"])
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]  # no temporary file left


def test_h264_downsample_and_limit_frame_count(tmp_path, seq):
    out = render_video(tmp_path / "d.mp4", seq.positions_3d, H36M_17, 50.0, size=SIZE, limit_frames=11, downsample=3,
                       progress=False)
    assert probe(out)["frames"] == 4  # frames 0, 3, 6, 9
    assert decoded(out)[1:3] == (4, pytest.approx(50.0 / 3, rel=1e-3))


def test_mp4v_fallback_when_h264_is_unavailable_warns(tmp_path, seq, monkeypatch, caplog):
    monkeypatch.setattr(render, "_h264_encoder", lambda: (None, "PyAV is not installed (test)"))
    with caplog.at_level(logging.WARNING, logger="poselift.viz.render"):
        out = render_video(tmp_path / "f.mp4", seq.positions_3d, H36M_17, 25.0, size=SIZE, progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "mp4v" in warnings[0] and "PyAV is not installed (test)" in warnings[0]
    fourcc, count, _, _ = decoded(out)
    assert fourcc.lower() in ("mp4v", "fmp4") and count == 12


def test_no_h264_encoder_in_pyav_is_detected(monkeypatch):
    unknown = av.codec.codec.UnknownCodecError

    class NoEncoder:
        def Codec(self, name, mode):  # mimics av.codec.Codec
            raise unknown(name)

    monkeypatch.setattr(av, "codec", NoEncoder())
    found, why = render._h264_encoder()
    assert found is None and "libx264" in why


def test_h264_failure_mid_render_leaves_nothing(tmp_path, seq):
    def broken():
        for i in range(12):
            if i == 6:
                raise RuntimeError("decoder crashed")
            yield np.zeros((60, 80, 3), np.uint8)

    out = tmp_path / "x.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="decoder crashed"):
        render_video(out, seq.positions_3d, H36M_17, 25.0, frames=broken(), size=SIZE, progress=False)
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["x.mp4"]
