"""`poselift stream`: causal per-frame lifting equals whole-sequence causal lifting."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from test_pipeline import H, W, _save_lifter, draw_video

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.models.lifter import PoseLifter
from poselift.models.predict import predict_sequence
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.pipeline.stream import CausalLifter, SizeGuard, run_stream


def _lifter(causal: bool) -> PoseLifter:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=16, filter_widths=(3, 3), causal=causal)
    return PoseLifter(TemporalModel(cfg).eval())


def test_causal_lifter_equals_whole_sequence_prediction():
    lifter = _lifter(causal=True)
    x = np.random.default_rng(0).normal(0, 0.3, (30, 17, 2)).astype(np.float32)
    whole = predict_sequence(lifter.pose_model, x)  # causal: edge-padded before the first frame
    stream = CausalLifter(lifter)
    per_frame = np.stack([stream.push(x[t])[0] for t in range(len(x))])
    np.testing.assert_allclose(per_frame, whole, atol=1e-5)


def test_pose_scale_reaches_the_pose_model_only():
    torch.manual_seed(1)
    cfg = ModelConfig(channels=16, filter_widths=(3, 3), causal=True)
    lifter = PoseLifter(TemporalModel(cfg).eval(), TemporalModel(ModelConfig(channels=16, filter_widths=(3, 3), causal=True,
                                                                             num_joints_out=1)).eval())
    x = np.random.default_rng(2).normal(0, 0.3, (12, 17, 2)).astype(np.float32)
    scaled, plain, shrunk = CausalLifter(lifter), CausalLifter(lifter), CausalLifter(lifter)
    for t in range(len(x)):
        a, b, c = scaled.push(x[t], pose_scale=0.5), plain.push(x[t]), shrunk.push(x[t] * 0.5)
    np.testing.assert_allclose(a[0], c[0], atol=1e-6)  # the pose: as if the 2D were half as large
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)  # the trajectory: from the 2D as given


def test_size_guard_settles_on_the_first_frames_then_holds():
    tall = np.zeros((17, 2), np.float32)
    tall[:, 1] = np.linspace(-1.2, 1.2, 17)  # 2.4 half-widths
    guard = SizeGuard(settle_frames=3)
    assert guard.push(tall) == pytest.approx(1.22 / 2.4)
    guard.push(tall)
    guard.push(tall)
    assert guard.push(tall * 0.1) == pytest.approx(1.22 / 2.4)  # settled: a later small frame changes nothing
    small = SizeGuard()
    assert small.push(tall * 0.3) == 1.0
    assert SizeGuard(enabled=False).push(tall) == 1.0


def test_symmetric_model_is_refused():
    with pytest.raises(PoseliftError, match="causal"):
        CausalLifter(_lifter(causal=False))


def test_stream_video_jsonl(tmp_path):
    ckpt = _save_lifter(tmp_path / "causal.pt", causal=True)
    video = draw_video(tmp_path / "figure.mp4", figure=True)
    out = io.StringIO()
    summary = run_stream(str(video), checkpoint=ckpt, jsonl=True, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == summary["frames"] > 0
    lifted = [r for r in lines if "joints_3d" in r]
    assert lifted and np.asarray(lifted[-1]["joints_3d"]).shape == (17, 3)
    assert np.isfinite(np.asarray([r["joints_3d"] for r in lifted])).all()
    assert "trajectory" in lifted[-1] and summary["latency"]["lift"]["p50_ms"] > 0
    assert summary["trajectory_source"] == "fit" and summary["focal_px"] == pytest.approx(np.hypot(W, H))
    assert 0 < summary["input_scale"] <= 1.0
    assert np.isfinite(np.asarray([r["trajectory"] for r in lifted if "trajectory" in r])).all()


def test_stream_trajectory_sources(tmp_path, monkeypatch):
    """'fit' works without a trajectory model and scales with --focal; 'model' needs one."""
    from poselift.data.synthetic import animate_figure

    plain = _save_lifter(tmp_path / "plain.pt", causal=True, trajectory=False)
    world = animate_figure(1, seed=0)[0]  # a person-sized pose (metres, z up) instead of a random model's output
    pose = np.stack([world[:, 0], -world[:, 2], world[:, 1]], -1)  # camera frame: y down, z forward
    pose = (pose - pose[:1]).astype(np.float32)
    monkeypatch.setattr(CausalLifter, "push", lambda self, keypoints, pose_scale=1.0: (pose, None))
    video = draw_video(tmp_path / "figure.mp4", figure=True)

    def roots(**kwargs):
        out = io.StringIO()
        summary = run_stream(str(video), checkpoint=plain, jsonl=True, out=out, **kwargs)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        return summary, np.asarray([r["trajectory"] for r in lines if "trajectory" in r])

    summary, fitted = roots()
    assert len(fitted) and np.isfinite(fitted).all()
    _, doubled = roots(focal=2 * summary["focal_px"])
    # a longer focal length puts the subject farther away (about twice as far: the pose's
    # own depth makes it inexact), the same way up and sideways
    assert np.median(doubled[:, 2] / fitted[:, 2]) == pytest.approx(2.0, rel=0.2)
    summary, none = roots(trajectory_source="model")
    assert summary["trajectory_source"] == "model" and len(none) == 0
    with pytest.raises(PoseliftError, match="trajectory source"):
        run_stream(str(video), checkpoint=plain, trajectory_source="magic")
    with pytest.raises(PoseliftError, match="`focal`"):
        run_stream(str(video), checkpoint=plain, focal=-1.0)


@pytest.mark.parametrize("option", [["--fps", "0"], ["--fps", "nan"], ["--max-frames", "0"], ["--focal", "-5"], ["--camera", "-1"]])
def test_stream_bad_numbers_are_usage_errors(option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["stream", "video.mp4", *option])
    assert exc.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_stream_bad_input_exits_2(tmp_path, capsys):
    causal = _save_lifter(tmp_path / "causal.pt", causal=True)
    symmetric = _save_lifter(tmp_path / "sym.pt", causal=False)
    assert main(["stream", str(tmp_path / "missing.mp4"), "--checkpoint", str(causal)]) == 2
    video = draw_video(tmp_path / "figure.mp4", figure=True)
    assert main(["stream", str(video), "--checkpoint", str(symmetric)]) == 2
    assert "causal" in capsys.readouterr().err
    blank = draw_video(tmp_path / "blank.mp4", figure=False)
    assert main(["stream", str(blank), "--checkpoint", str(causal)]) == 2
    assert "no person" in capsys.readouterr().err
    assert main(["stream", "--checkpoint", str(causal)]) == 2


def test_stream_cli_no_size_guard(tmp_path, capsys):
    ckpt = _save_lifter(tmp_path / "causal.pt", causal=True)
    video = draw_video(tmp_path / "figure.mp4", figure=True)
    assert main(["stream", str(video), "--checkpoint", str(ckpt), "--no-size-guard", "--summary-json", "--max-frames", "5"]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["input_scale"] == 1.0 and summary["frames"] == 5
