"""Streaming at the model's frame rate: `CausalResampler` turns frames arriving at the
source's rate into frames at the model's rate without looking ahead, and
`poselift stream` feeds the causal lifter through it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_pipeline import _save_lifter, draw_video

from poselift.errors import PoseliftError
from poselift.geometry.sequence import CausalResampler, resample
from poselift.pipeline import stream


@pytest.mark.parametrize("fps_in", [30.0, 60.0, 29.97, 24.0, 10.0, 25.0, 50.0])
def test_streamed_resampling_equals_offline_resampling(fps_in):
    x = np.random.default_rng(0).normal(size=(101, 17, 2)).astype(np.float32)
    resampler = CausalResampler(fps_in, 25.0)
    per_frame = [resampler.push(frame) for frame in x]
    streamed = np.stack([y for due in per_frame for y in due])
    np.testing.assert_allclose(streamed, resample(x, fps_in, 25.0), atol=1e-6)
    if fps_in == 25.0:
        assert all(len(due) == 1 and np.array_equal(due[0], f) for due, f in zip(per_frame, x, strict=True))


def test_resampler_uses_no_future_frame():
    a = CausalResampler(30.0, 25.0)
    b = CausalResampler(30.0, 25.0)
    x = np.random.default_rng(1).normal(size=(20, 3))
    out_a = [a.push(f) for f in x]
    out_b = [b.push(f) for f in np.concatenate([x[:10], x[10:] + 7.0])]
    for i in range(10):  # frames up to 9 give the same outputs whatever comes after
        assert len(out_a[i]) == len(out_b[i])
        for u, v in zip(out_a[i], out_b[i], strict=True):
            np.testing.assert_array_equal(u, v)


def test_resampler_refuses_bad_rates():
    with pytest.raises(PoseliftError, match="fps_in"):
        CausalResampler(0.0, 25.0)
    with pytest.raises(PoseliftError, match="fps_out"):
        CausalResampler(30.0, float("nan"))


def test_stream_lifts_at_the_models_rate(tmp_path, monkeypatch):
    """A 25 frames/s video through a 50 frames/s model: two model frames per video frame;
    a 50 frames/s model fed a 50 frames/s video: one each."""
    pushes = []
    original = stream.CausalLifter.push

    def counting(self, keypoints, pose_scale=1.0):
        pushes.append(1)
        return original(self, keypoints, pose_scale)

    monkeypatch.setattr(stream.CausalLifter, "push", counting)
    ckpt = _save_lifter(tmp_path / "causal.pt", causal=True)  # metadata fps 50
    for fps, per_frame in ((25.0, 2.0), (50.0, 1.0)):
        pushes.clear()
        video = draw_video(tmp_path / f"figure{fps:g}.mp4", figure=True, fps=fps)
        summary = stream.run_stream(str(video), checkpoint=ckpt, jsonl=True, out=io.StringIO())
        lifted_frames = summary["frames_with_person"]
        assert len(pushes) == pytest.approx(per_frame * lifted_frames, abs=2)
