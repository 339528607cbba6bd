"""Temporal model: parameter counts, strided twin equality, causal behaviour, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from poselift.errors import PoseliftError
from poselift.models.checkpoint import save_checkpoint
from poselift.models.lifter import PoseLifter, load_model
from poselift.models.temporal import (
    ModelConfig,
    TemporalModel,
    TemporalModelStrided,
    bn_momentum_for_epoch,
    count_parameters,
    parse_arc,
)


@pytest.mark.parametrize("arc, millions", [((3, 3, 3), 8.56), ((3, 3, 3, 3), 12.75), ((3, 3, 3, 3, 3), 16.95)])
def test_parameter_counts_match_paper(arc, millions):
    model = TemporalModel(ModelConfig(filter_widths=arc, channels=1024))
    assert round(count_parameters(model) / 1e6, 2) == millions
    assert model.receptive_field == 3 ** len(arc)


def test_parse_arc():
    assert parse_arc("3,3,3,3") == (3, 3, 3, 3)
    assert ModelConfig(filter_widths=parse_arc("3,3,3,3,3")).receptive_field == 243
    with pytest.raises(PoseliftError):
        parse_arc("3,x")
    with pytest.raises(PoseliftError):
        parse_arc("3,2")


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("arc", [(3, 3, 3), (3, 5), (1, 3, 3)])
def test_strided_twin_equals_full_model(causal, arc):
    torch.manual_seed(0)
    cfg = ModelConfig(filter_widths=arc, channels=32, causal=causal)
    full = TemporalModel(cfg)
    # non-trivial BN statistics
    for m in full.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    full.eval()
    strided = TemporalModelStrided(cfg).eval()
    strided.load_state_dict(full.state_dict())
    seq = torch.randn(1, 60, 17, 2)
    out_full = full(seq)  # [1, 60 - RF + 1, 17, 3]
    rf = cfg.receptive_field
    windows = seq[0].unfold(0, rf, 1).permute(0, 3, 1, 2)  # [N, RF, 17, 2]
    out_strided = strided(windows)[:, 0]
    torch.testing.assert_close(out_strided, out_full[0], atol=1e-5, rtol=1e-5)


def test_strided_gradients_equal_full_model_in_training_mode():
    torch.manual_seed(0)
    cfg = ModelConfig(filter_widths=(3, 3), channels=16, dropout=0.0)
    full, strided = TemporalModel(cfg), TemporalModelStrided(cfg)
    strided.load_state_dict(full.state_dict())
    x = torch.randn(8, 9, 17, 2)
    # in training mode the twins' BN batch statistics differ by design (the strided
    # twin computes only the frames it needs), so gradients are compared in eval mode.
    full.eval(), strided.eval()
    full(x).square().sum().backward()
    strided(x).square().sum().backward()
    for (name, a), (_, b) in zip(full.named_parameters(), strided.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_causal_model_does_not_see_the_future():
    torch.manual_seed(0)
    cfg = ModelConfig(filter_widths=(3, 3), channels=16, causal=True)
    model = TemporalModel(cfg).eval()
    x = torch.randn(1, 30, 17, 2)
    y = model(x)
    x2 = x.clone()
    x2[:, 20:] += 1.0
    y2 = model(x2)
    # output k covers input frames k .. k+RF-1; outputs ending before frame 20 are unchanged
    n_unchanged = 20 - cfg.receptive_field + 1
    torch.testing.assert_close(y[:, :n_unchanged], y2[:, :n_unchanged])
    assert not torch.allclose(y[:, n_unchanged], y2[:, n_unchanged])


def test_input_shape_errors_are_clear():
    model = TemporalModel(ModelConfig(channels=8)).eval()
    with pytest.raises(PoseliftError, match="17, 2"):
        model(torch.randn(1, 30, 16, 2))
    with pytest.raises(PoseliftError, match="at least 27"):
        model(torch.randn(1, 10, 17, 2))
    with pytest.raises(PoseliftError, match="exactly 27"):
        TemporalModelStrided(ModelConfig(channels=8))(torch.randn(2, 28, 17, 2))


def test_bn_momentum_decays_from_0_1_to_0_001():
    assert bn_momentum_for_epoch(0, 10) == pytest.approx(0.1)
    assert bn_momentum_for_epoch(9, 10) == pytest.approx(0.001)
    assert bn_momentum_for_epoch(3, 10) < bn_momentum_for_epoch(2, 10)


def test_checkpoint_roundtrip_and_load_model(tmp_path):
    cfg = ModelConfig(channels=16)
    model = TemporalModel(cfg)
    traj = TemporalModel(ModelConfig(channels=16, num_joints_out=1))
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"model_pos": model.state_dict(), "model_traj": traj.state_dict()}, {"model": cfg.to_dict()})
    lifter = load_model(path)
    assert isinstance(lifter, PoseLifter) and not lifter.training
    x = torch.randn(2, 40, 17, 2)
    model.eval()
    with torch.inference_mode():
        torch.testing.assert_close(lifter(x), model(x))
        assert lifter(x).shape == (2, 40 - 27 + 1, 17, 3)
        assert lifter.predict_trajectory(x).shape == (2, 14, 3)


def test_load_model_rejects_bad_files(tmp_path):
    with pytest.raises(PoseliftError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(PoseliftError, match="could not be read"):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"hello": torch.zeros(2)}, other)
    with pytest.raises(PoseliftError, match="not a poselift checkpoint"):
        load_model(other)
    original = tmp_path / "orig.bin"
    torch.save({"model_pos": TemporalModel(ModelConfig(channels=8)).state_dict()}, original)
    with pytest.raises(PoseliftError, match="import_videopose3d_checkpoint"):
        load_model(original)


def test_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "poselift-checkpoint", "payload": Evil()}, path)
    with pytest.raises(PoseliftError):
        load_model(path)
    assert not marker.exists()


def test_strided_model_refuses_dense():
    with pytest.raises(PoseliftError, match="dense"):
        TemporalModelStrided(ModelConfig(channels=8, dense=True))


def test_dense_model_shapes():
    model = TemporalModel(ModelConfig(channels=8, dense=True)).eval()
    assert model(torch.randn(1, 30, 17, 2)).shape == (1, 4, 17, 3)


def test_reference_bench_model_equals_strided_model():
    """The original-structure model used by `bench --reference` computes the same function."""
    from poselift.models.temporal import ModelConfig, TemporalModelStrided
    from poselift.tools.bench import ReferenceStridedModel, reference_batch

    for causal in (False, True):
        cfg = ModelConfig(filter_widths=(3, 3, 3), channels=32, causal=causal, dropout=0.0)
        ref = ReferenceStridedModel(cfg).eval()
        fast = TemporalModelStrided(cfg).eval()
        fast.load_state_dict(ref.state_dict())
        x = torch.randn(5, 27, 17, 2)
        assert torch.allclose(ref(x), fast(x), atol=1e-5)
    rng = np.random.default_rng(0)
    s2 = [rng.standard_normal((40, 17, 2)).astype(np.float32)]
    s3 = [rng.standard_normal((40, 17, 3)).astype(np.float32)]
    perm = np.arange(17)
    inputs, targets = reference_batch(s2, s3, np.array([[0, 0, 0], [0, 20, 1]]), 27, perm, perm)
    assert inputs.shape == (2, 27, 17, 2) and targets.shape == (2, 1, 17, 3)
    assert torch.equal(inputs[0, :13], torch.from_numpy(s2[0][:1]).expand(13, 17, 2))  # edge padding
    assert torch.equal(inputs[1, :, :, 0], -torch.from_numpy(s2[0][7:34, :, 0]))  # flipped x


def test_export_weights_fp16_roundtrip(tmp_path):
    """An exported fp16 copy loads as fp32 and predicts within fp16 rounding."""
    from poselift.cli import main
    from poselift.models.checkpoint import save_checkpoint
    from poselift.models.lifter import load_model
    from poselift.models.temporal import ModelConfig, TemporalModel

    cfg = ModelConfig(filter_widths=(3, 3), channels=32)
    model = TemporalModel(cfg).eval()
    save_checkpoint(tmp_path / "c.pt", {"model_pos": model.state_dict(), "optimizer": {"x": torch.zeros(3)}}, {"model": cfg.to_dict()})
    (tmp_path / "m.json").write_text('{"mpjpe_mm": 50.0}')
    assert main(["export-weights", str(tmp_path / "c.pt"), str(tmp_path / "w.pt"), "--metrics", str(tmp_path / "m.json")]) == 0
    lifter = load_model(tmp_path / "w.pt")
    assert lifter.metadata["metrics"]["mpjpe_mm"] == 50.0 and lifter.metadata["storage_dtype"] == "float16"
    x = torch.randn(1, 30, 17, 2) * 0.3
    with torch.no_grad():
        assert torch.allclose(lifter(x), model(x), atol=5e-3)
    obj = torch.load(tmp_path / "w.pt", weights_only=True)
    assert "optimizer" not in obj and obj["model_pos"]["expand_conv.weight"].dtype == torch.float16
    assert main(["export-weights", str(tmp_path / "missing.pt"), str(tmp_path / "x.pt")]) == 2


def test_bundled_model_is_self_describing_and_small():
    """The model shipped in poselift/weights loads with no argument and says what it is."""
    from poselift.models.lifter import default_weights_path, load_model

    try:
        path = default_weights_path()
    except PoseliftError:
        pytest.skip("no bundled model in this checkout")
    assert path.stat().st_size < 10e6
    lifter = load_model()
    assert not lifter.training and lifter.config.num_joints_in == 17 and lifter.config.num_joints_out == 17
    meta = lifter.metadata
    assert meta["joints_in"] == "h36m17" and meta.get("input_layout") in (None, "h36m17", "h36m17-detector")
    assert "fps" in meta and "train" in meta
    x = torch.zeros(1, lifter.receptive_field + 4, 17, 2)
    with torch.no_grad():
        assert lifter(x).shape == (1, 5, 17, 3)
