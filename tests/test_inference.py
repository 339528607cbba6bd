"""Fast inference engines equal the plain model; bench reports them."""

from __future__ import annotations

import json

import pytest
import torch

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.geometry.sequence import pad_sequence
from poselift.models.fast import (
    FoldedTemporalModel,
    IncrementalCausalModel,
    fold_batchnorm,
)
from poselift.models.predict import predict_sequence
from poselift.models.temporal import ModelConfig, TemporalModel


def _model(causal: bool = False, dense: bool = False, arc=(3, 3, 3), channels: int = 48) -> TemporalModel:
    """A model with non-trivial batch-norm statistics (folding must use them)."""
    torch.manual_seed(1)
    model = TemporalModel(ModelConfig(filter_widths=arc, channels=channels, causal=causal, dense=dense))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    return model.eval()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dense", [False, True])
def test_folded_model_equals_plain_model(causal, dense):
    model = _model(causal, dense)
    x = torch.randn(3, 90, 17, 2)
    with torch.inference_mode():
        expected = model(x)
        got = fold_batchnorm(model)(x)
    assert got.shape == expected.shape == (3, 64, 17, 3)
    assert torch.allclose(got, expected, atol=1e-5)


def test_folded_model_chunks_equal_one_pass():
    model = _model(arc=(3, 3))
    fast = fold_batchnorm(model)
    x = torch.randn(2, 500, 17, 2)
    with torch.inference_mode():
        whole = fast(x)
        fast.chunk_frames = 37  # 492 outputs in 14 overlapping chunks
        chunked = fast(x)
    assert torch.allclose(whole, chunked, atol=1e-6)
    assert torch.allclose(whole, model(x), atol=1e-5)


def test_predict_sequence_accepts_the_folded_model():
    model = _model()
    x = torch.randn(200, 17, 2)
    assert abs(predict_sequence(fold_batchnorm(model), x) - predict_sequence(model, x)).max() < 1e-5


def test_folding_needs_eval_mode_and_right_shapes():
    model = _model().train()
    with pytest.raises(PoseliftError, match="eval mode"):
        fold_batchnorm(model)
    fast = fold_batchnorm(model.eval())
    with pytest.raises(PoseliftError, match="inference-only"):
        fast.train()
    with pytest.raises(PoseliftError, match=r"\[batch, frames, 17, 2\]"):
        fast(torch.randn(1, 40, 16, 2))
    with pytest.raises(PoseliftError, match="at least 27"):
        fast(torch.randn(1, 26, 17, 2))


@pytest.mark.parametrize("dense", [False, True])
def test_incremental_causal_model_equals_full_model(dense):
    model = _model(causal=True, dense=dense)
    seq = torch.randn(70, 17, 2)
    with torch.inference_mode():
        full = model(pad_sequence(seq, 27, causal=True)[None])[0]  # the first frame repeated into the past
        inc = IncrementalCausalModel(model)
        per_frame = torch.stack([inc.step(seq[t]) for t in range(70)])
        assert torch.allclose(per_frame, full, atol=1e-5)
        inc.reset()  # a new sequence starts from scratch
        again = torch.stack([inc.step(seq[t]) for t in range(5)])
    assert torch.allclose(again, full[:5], atol=1e-5)


def test_incremental_model_rejects_symmetric_models_and_bad_frames():
    with pytest.raises(PoseliftError, match="causal"):
        IncrementalCausalModel(_model(causal=False))
    inc = IncrementalCausalModel(_model(causal=True))
    with pytest.raises(PoseliftError, match=r"\[17, 2\]"):
        inc.step(torch.randn(17, 3))


def _bench(capsys, *args: str) -> dict:
    assert main(["bench", *args, "--json", "--threads", "1"]) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_infer_ours_and_reference(capsys):
    ours = _bench(capsys, "infer", "--channels", "32", "--frames", "300")
    ref = _bench(capsys, "infer", "--channels", "32", "--frames", "300", "--reference")
    for r in (ours, ref):
        assert r["frames_per_s"] > 0 and 0 < r["peak_fraction"] < 2 and r["peak_rss_mb"] > 0
    assert "Folded" in ours["engine"] and "reference" in ref["engine"]


def test_bench_infer_bf16_reports_its_error(capsys):
    r = _bench(capsys, "infer", "--channels", "32", "--frames", "100", "--precision", "bf16")
    assert r["precision"] == "bf16" and isinstance(r["native_bf16"], bool)
    assert 0 <= r["max_abs_diff_vs_fp32_mm"] < 50


def test_bench_stream_latency(capsys):
    ours = _bench(capsys, "stream", "--channels", "32")
    ref = _bench(capsys, "stream", "--channels", "32", "--reference")
    assert set(ours["latency_ms"]) == {"mean", "p50", "p95", "max"}
    assert "incremental" in ours["engine"] and "reference" in ref["engine"]


def test_bench_train_profile(capsys):
    r = _bench(capsys, "train", "--channels", "32", "--batch-size", "16", "--steps", "2", "--profile")
    assert r["samples_per_s"] > 0
    assert r["profile"] and {"op", "self_cpu_ms_per_step", "share"} <= set(r["profile"][0])


def test_bench_bad_options_exit_2(tmp_path, monkeypatch, capsys):
    assert main(["bench", "stream", "--precision", "bf16"]) == 2
    monkeypatch.chdir(tmp_path)  # no ../shared/data/video here
    assert main(["bench", "pipeline"]) == 2
    assert "--video" in capsys.readouterr().err
    assert main(["bench", "pipeline", "--video", str(tmp_path / "missing.mp4")]) == 2


def test_folded_model_type():
    assert isinstance(fold_batchnorm(_model()), FoldedTemporalModel)


def test_bench_train_wild_batches_and_device_options(capsys):
    r = _bench(capsys, "train", "--channels", "32", "--batch-size", "64", "--steps", "2", "--wild")
    assert r["samples_per_s"] > 0 and r["device"] == "cpu" and r["batches"].startswith("wild")
    plain = _bench(capsys, "train", "--channels", "32", "--batch-size", "64", "--steps", "2")
    assert plain["batches"] == "stored windows" and "gpu" not in plain["machine"]
    for bad, match in ((["infer", "--wild"], "apply to `poselift bench train`"), (["train", "--wild", "--reference"], "--reference")):
        assert main(["bench", *bad, "--channels", "32"]) == 2
        assert match in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["bench", "train", "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")
def test_bench_train_on_the_gpu(capsys):
    r = _bench(capsys, "train", "--channels", "64", "--steps", "3", "--wild", "--device", "cuda")
    assert r["samples_per_s"] > 0 and r["device"].startswith("cuda") and r["machine"]["gpu"]
