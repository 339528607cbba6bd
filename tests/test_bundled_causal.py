"""The bundled causal model (poselift/weights/poselift_wild_causal.pt): `poselift stream`
and `poselift infer --causal` work out of the box with it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_pipeline import draw_video

from poselift.cli import main
from poselift.models.lifter import default_weights_path, load_model
from poselift.models.predict import predict_sequence
from poselift.pipeline.stream import CausalLifter, run_stream

DEMO_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "sports2d_demo.mp4"


def test_bundled_causal_model_is_causal_small_and_the_symmetric_ones_twin():
    path = default_weights_path(causal=True)
    assert path.stat().st_size < 10e6
    causal, symmetric = load_model(causal=True), load_model()
    assert causal.config.causal and not symmetric.config.causal
    assert causal.config.filter_widths == symmetric.config.filter_widths
    assert causal.metadata["fps"] == symmetric.metadata["fps"]
    assert causal.metadata["input_layout"] == symmetric.metadata["input_layout"]
    assert causal.metadata["train"]["init_from"] == "bundled"  # fine-tuned from the symmetric weights
    # the output for frame t does not depend on frames after t
    x = np.random.default_rng(0).normal(0, 0.3, (60, 17, 2)).astype(np.float32)
    changed = x.copy()
    changed[40:] += 0.5
    a, b = predict_sequence(causal.pose_model, x), predict_sequence(causal.pose_model, changed)
    np.testing.assert_array_equal(a[:40], b[:40])
    assert not np.allclose(a[40:], b[40:])
    stream = CausalLifter(causal)
    per_frame = np.stack([stream.push(x[t])[0] for t in range(len(x))])
    np.testing.assert_allclose(per_frame, a, atol=1e-4)


def test_stream_works_with_no_checkpoint(tmp_path):
    video = draw_video(tmp_path / "figure.mp4", figure=True)
    out = io.StringIO()
    summary = run_stream(str(video), jsonl=True, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    lifted = [r for r in lines if "joints_3d" in r]
    assert len(lines) == summary["frames"] and lifted
    assert np.isfinite(np.asarray([r["joints_3d"] for r in lifted])).all()
    assert summary["receptive_field"] == 27


def test_infer_causal_without_checkpoint_uses_the_bundled_causal_model(tmp_path, capsys):
    video = draw_video(tmp_path / "figure.mp4", figure=True)
    assert main(["infer", str(video), "--out", str(tmp_path / "out"), "--causal", "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["causal"] is True and summary["checkpoint"] == "bundled-causal"


@pytest.mark.skipif(not DEMO_VIDEO.is_file(), reason="needs ../shared/data/video/sports2d_demo.mp4 (not in the repository)")
def test_stream_on_the_demo_video_with_no_checkpoint(capsys):
    torch.set_num_threads(1)
    assert main(["stream", str(DEMO_VIDEO), "--jsonl", "--max-frames", "60"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 60 and sum("joints_3d" in r for r in lines) >= 50
