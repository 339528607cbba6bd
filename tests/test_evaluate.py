"""Whole-sequence inference (chunking, flip TTA, frame alignment) and the evaluation
protocol (frame-weighted per action, then the mean over actions), API and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from poselift.cli import main
from poselift.data.datasets import Sequence, normalized_keypoints
from poselift.data.synthetic import synthetic_dataset
from poselift.errors import PoseliftError
from poselift.evaluation.protocol import EvalResult, evaluate_sequences, format_table
from poselift.geometry import camera as cam
from poselift.geometry import skeleton as sk
from poselift.geometry.sequence import FlipSpec, flip_keypoints
from poselift.models.predict import predict_sequence
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.training.config import TrainConfig
from poselift.training.trainer import train

FLIP = FlipSpec.from_skeletons(sk.H36M_17, sk.H36M_17)
METRIC_KEYS = {"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm"}


def random_model(widths=(3, 3), causal=False, channels=32, seed=0) -> TemporalModel:
    """A random full model with non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = TemporalModel(ModelConfig(filter_widths=widths, channels=channels, causal=causal, dropout=0.1))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


class Oracle(nn.Module):
    """A "model" that looks its answer up: input ``x[..., 0, 0]`` holds a row index
    into ``table``; output frame ``t`` answers the input frame the model's output is
    supposed to be aligned with (centre of the window, or its end when causal)."""

    def __init__(self, table: np.ndarray, widths=(3, 3), causal=False) -> None:
        super().__init__()
        self.config = ModelConfig(filter_widths=widths, channels=1, causal=causal)
        self.table = torch.as_tensor(table, dtype=torch.float32)

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rf = self.receptive_field
        t_out = x.shape[1] - rf + 1
        offset = rf - 1 if self.config.causal else (rf - 1) // 2
        idx = x[:, offset : offset + t_out, 0, 0].round().long()
        return self.table[idx]


def _intrinsics() -> cam.Intrinsics:
    return cam.Intrinsics(focal_length=(1000.0, 1000.0), center=(500.0, 500.0), width=1000, height=1000)


def make_sequences(spec, seed=0):
    """Sequences from ``[(subject, name, camera, frames)]`` with random 3D poses."""
    rng = np.random.default_rng(seed)
    seqs = []
    for subject, name, camera, frames in spec:
        pos = rng.normal(size=(frames, 17, 3)).astype(np.float32) * 0.3
        pos[:, :, 2] += 5.0
        seqs.append(Sequence(subject, name, camera, np.zeros((frames, 17, 2), np.float32), pos, _intrinsics(), 50.0))
    return seqs


def index_inputs(seqs):
    """Inputs whose ``[t, 0, 0]`` is the global row of frame ``t`` (for :class:`Oracle`)."""
    inputs, start = [], 0
    for s in seqs:
        x = np.zeros((s.num_frames, 17, 2), np.float32)
        x[:, 0, 0] = np.arange(start, start + s.num_frames)
        inputs.append(x)
        start += s.num_frames
    return inputs


def rel_targets(seqs):
    return np.concatenate([s.positions_3d - s.positions_3d[:, :1] for s in seqs])


SPEC = [("S1", "Walking 1", "54138969", 30), ("S5", "Walking 2", "60457274", 50), ("S1", "Eating", "55011271", 20)]


# ------------------------------------------------------------------ predict_sequence
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("flip", [None, FLIP])
def test_chunked_prediction_equals_one_shot(causal, flip):
    model = random_model((3, 3), causal=causal)
    x = torch.randn(47, 17, 2).numpy()
    one_shot = predict_sequence(model, x, flip)
    assert one_shot.shape == (47, 17, 3)
    for chunk in (1, 7, 46, 47, 100):
        chunked = predict_sequence(model, x, flip, chunk_frames=chunk)
        np.testing.assert_allclose(chunked, one_shot, atol=1e-5, rtol=0, err_msg=f"chunk_frames={chunk}")


def test_prediction_is_the_model_on_the_edge_padded_sequence():
    model = random_model((3, 3))
    x = torch.randn(20, 17, 2)
    padded = torch.cat([x[:1].expand(4, -1, -1), x, x[-1:].expand(4, -1, -1)])
    with torch.no_grad():
        expected = model(padded[None])[0].numpy()
    np.testing.assert_allclose(predict_sequence(model, x.numpy()), expected, atol=1e-6)


def test_prediction_under_bf16_autocast_is_float32_and_close():
    model = random_model((3, 3))
    x = torch.randn(30, 17, 2).numpy()
    reference = predict_sequence(model, x, FLIP)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = predict_sequence(model, x, FLIP)
    assert low.dtype == np.float32 and low.shape == reference.shape
    scale = np.abs(reference).max()
    np.testing.assert_allclose(low, reference, atol=0.05 * scale, rtol=0)  # bf16 keeps ~3 significant digits


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("frames", [3, 40])
def test_output_frame_t_is_aligned_with_input_frame_t(causal, frames):
    """With an oracle, prediction t must answer input frame t (shorter than RF too)."""
    table = np.random.default_rng(1).normal(size=(frames, 17, 3)).astype(np.float32)
    oracle = Oracle(table, widths=(3, 3), causal=causal)
    x = np.zeros((frames, 17, 2), np.float32)
    x[:, 0, 0] = np.arange(frames)
    for chunk in (5, 1000):
        np.testing.assert_array_equal(predict_sequence(oracle, x, chunk_frames=chunk), table)


def test_flip_tta_is_the_average_with_the_mirrored_prediction():
    model = random_model((3, 3))
    x = torch.randn(30, 17, 2)
    plain = predict_sequence(model, x.numpy())
    mirrored = predict_sequence(model, flip_keypoints(x, FLIP.keypoints_perm).numpy())
    expected = (plain + flip_keypoints(torch.from_numpy(mirrored), FLIP.joints_perm).numpy()) / 2
    np.testing.assert_allclose(predict_sequence(model, x.numpy(), FLIP), expected, atol=1e-6)


def test_flip_tta_output_is_mirror_equivariant():
    """TTA(mirror(x)) == mirror(TTA(x)) for any model."""
    model = random_model((3, 3), seed=3)
    x = torch.randn(25, 17, 2)
    a = predict_sequence(model, x.numpy(), FLIP)
    b = predict_sequence(model, flip_keypoints(x, FLIP.keypoints_perm).numpy(), FLIP)
    np.testing.assert_allclose(flip_keypoints(torch.from_numpy(b), FLIP.joints_perm).numpy(), a, atol=1e-5)


def test_flip_tta_on_mirror_symmetric_input_gives_a_symmetric_pose():
    model = random_model((3, 3), seed=5)
    x = torch.randn(25, 17, 2)
    x_sym = (x + flip_keypoints(x, FLIP.keypoints_perm)) / 2
    assert torch.allclose(flip_keypoints(x_sym, FLIP.keypoints_perm), x_sym)

    plain = torch.from_numpy(predict_sequence(model, x_sym.numpy()))
    tta = torch.from_numpy(predict_sequence(model, x_sym.numpy(), FLIP))
    # the random model itself is not symmetric ...
    assert not torch.allclose(flip_keypoints(plain, FLIP.joints_perm), plain, atol=1e-3)
    # ... but flip TTA makes the prediction exactly mirror-symmetric
    torch.testing.assert_close(flip_keypoints(tta, FLIP.joints_perm), tta, atol=1e-6, rtol=0)
    centre = [0, 7, 8, 9, 10]  # hip, spine, thorax, neck, head: on the symmetry plane
    assert tta[:, centre, 0].abs().max() < 1e-6


# ---------------------------------------------------------------- evaluate_sequences
def test_perfect_predictions_give_zero_errors():
    seqs = make_sequences(SPEC)
    res = evaluate_sequences(Oracle(rel_targets(seqs)), seqs, index_inputs(seqs))
    assert res.frames == 100
    assert res.mpjpe_mm == 0.0
    assert res.mpjve_mm == 0.0
    assert res.p_mpjpe_mm < 1e-6 and res.n_mpjpe_mm < 1e-6
    assert set(res.per_action) == {"Walking", "Eating"}


def test_per_action_is_frame_weighted_and_overall_is_the_mean_over_actions():
    """Offsets of 10 / 20 / 40 mm per sequence → exact expected numbers."""
    seqs = make_sequences(SPEC)
    offsets_m = [0.010, 0.020, 0.040]
    table = rel_targets(seqs)
    rows = np.concatenate([np.full(s.num_frames, o) for s, o in zip(seqs, offsets_m)])
    table[:, :, 0] += rows[:, None]  # every joint shifted along x by the sequence's offset
    res = evaluate_sequences(Oracle(table), seqs, index_inputs(seqs))

    walking = (30 * 10 + 50 * 20) / 80  # frame-weighted over "Walking 1" and "Walking 2"
    eating = 40.0
    assert res.per_action["Walking"]["mpjpe_mm"] == pytest.approx(walking, abs=1e-3)
    assert res.per_action["Eating"]["mpjpe_mm"] == pytest.approx(eating, abs=1e-3)
    assert res.mpjpe_mm == pytest.approx((walking + eating) / 2, abs=1e-3)
    # every joint moved by the same offsets: each joint's MPJPE is the overall one
    assert len(res.per_joint) == table.shape[1] and list(res.per_joint)[:2] == ["0", "1"]
    for value in res.per_joint.values():
        assert value == pytest.approx(res.mpjpe_mm, abs=1e-3)
    for metric in METRIC_KEYS:
        per = [res.per_action[a][metric] for a in res.per_action]
        assert getattr(res, metric) == pytest.approx(np.mean(per), rel=1e-12)
    # a pure translation: removed by the Procrustes alignment, invisible to velocities
    assert res.p_mpjpe_mm < 1e-3
    assert res.mpjve_mm < 1e-3
    assert 0 < res.n_mpjpe_mm <= res.mpjpe_mm + 1e-9


def test_per_joint_errors_are_named_and_protocol_weighted():
    seqs = make_sequences(SPEC)
    table = rel_targets(seqs)
    table[:, 3, 1] += 0.05  # joint 3 off by 50 mm everywhere, the rest exact
    res = evaluate_sequences(Oracle(table), seqs, index_inputs(seqs), skeleton=sk.H36M_17)
    assert list(res.per_joint) == list(sk.H36M_17.joint_names)
    assert res.per_joint["RFoot"] == pytest.approx(50.0, abs=1e-3)
    assert all(v == 0.0 for k, v in res.per_joint.items() if k != "RFoot")
    assert res.to_dict()["per_joint_mpjpe_mm"] == res.per_joint
    assert res.wrong_side_pct == 0.0
    with pytest.raises(PoseliftError, match="has 16 joints, the predictions 17"):
        evaluate_sequences(Oracle(table), seqs, index_inputs(seqs), skeleton=sk.MPII_16)


def test_wrong_side_rate_counts_frames_with_exchanged_legs():
    seqs = make_sequences(SPEC)  # Walking 1 (30 frames), Walking 2 (50), Eating (20)
    table = rel_targets(seqs)
    legs_l, legs_r = [4, 5, 6], [1, 2, 3]
    rows = np.arange(30, 40)  # first 10 frames of Walking 2: legs exchanged
    table[np.ix_(rows, legs_l + legs_r)] = table[np.ix_(rows, legs_r + legs_l)]
    res = evaluate_sequences(Oracle(table), seqs, index_inputs(seqs), skeleton=sk.H36M_17)
    assert res.wrong_side_pct == pytest.approx((10 / 80 * 100 + 0) / 2)
    assert "wrong side: 6.25 %" in format_table(res)


def test_mpjpe_only_mode_and_trajectory_error():
    seqs = make_sequences(SPEC)
    roots = np.concatenate([s.positions_3d[:, :1] for s in seqs]) + np.array([0.0, 0.03, 0.0], np.float32)
    res = evaluate_sequences(
        Oracle(rel_targets(seqs)), seqs, index_inputs(seqs), full_metrics=False, trajectory_model=Oracle(roots)
    )
    assert res.mpjpe_mm == 0.0
    assert np.isnan(res.p_mpjpe_mm) and np.isnan(res.n_mpjpe_mm) and np.isnan(res.mpjve_mm)
    assert all(set(v) == {"mpjpe_mm"} for v in res.per_action.values())
    assert res.trajectory_mm == pytest.approx(30.0, abs=1e-3)
    assert res.to_dict()["trajectory_mm"] == res.trajectory_mm
    assert res.trajectory_velocity_mm == pytest.approx(0.0, abs=1e-3)  # a constant offset does not jitter
    assert "trajectory error (root, camera frame): 30.0 mm, velocity error 0.0 mm/frame" in format_table(res)


def test_trajectory_error_with_the_cameras_focal_length():
    # the test cameras have 2 f / w = 2.0; a trajectory model that assumes 1.6 predicts
    # the root at 0.8 of its depth (same image position): the focal-corrected error is 0
    seqs = make_sequences(SPEC)
    roots = np.concatenate([s.positions_3d[:, :1] for s in seqs]) * np.array([1.0, 1.0, 0.8], np.float32)
    kwargs = dict(full_metrics=False, trajectory_model=Oracle(roots))
    res = evaluate_sequences(Oracle(rel_targets(seqs)), seqs, index_inputs(seqs), trajectory_focal_normalized=1.6, **kwargs)
    depth = np.concatenate([s.positions_3d[:, 0, 2] for s in seqs])
    assert res.trajectory_mm == pytest.approx(1000 * 0.2 * depth.mean(), rel=0.05)
    assert res.trajectory_focal_mm == pytest.approx(0.0, abs=1e-3)
    assert res.to_dict()["trajectory_focal_mm"] == res.trajectory_focal_mm
    assert "focal length (as `infer --focal`): 0.0 mm" in format_table(res)
    # the root fitted to the 2D: a person moving at constant velocity, exact 2D through the
    # known cameras, the exact pose predicted → the true root (smoothing keeps a straight path)
    rng = np.random.default_rng(5)
    for s in seqs:
        rel = rng.normal(size=(s.num_frames, 17, 3)) * 0.3
        rel -= rel[:, :1]
        path = np.linspace([-0.5, 0.1, 4.0], [0.5, 0.2, 6.0], s.num_frames)
        s.positions_3d = (rel + path[:, None]).astype(np.float32)
    inputs = index_inputs(seqs)  # joint 0 carries the Oracle's row index, joints 1-16 the true 2D
    for s, x in zip(seqs, inputs):
        x[:, 1:] = cam.project_to_2d_linear(s.positions_3d[:, 1:].astype(np.float64), s.intrinsics.vector())
    fit = evaluate_sequences(
        Oracle(rel_targets(seqs)), seqs, inputs, root_fit_joints=list(range(1, 17)), full_metrics=True,
    )
    assert fit.root_fit_mm == pytest.approx(0.0, abs=0.05) and fit.root_fit_velocity_mm == pytest.approx(0.0, abs=0.05)
    assert fit.to_dict()["root_fit_mm"] == fit.root_fit_mm
    assert "fitted to the 2D with the known camera (as `infer`): 0.0 mm" in format_table(fit)
    assert evaluate_sequences(Oracle(rel_targets(seqs)), seqs, inputs).root_fit_mm is None  # not asked for
    # not asked for, or a camera without a known focal length: no focal-corrected number
    assert evaluate_sequences(Oracle(rel_targets(seqs)), seqs, index_inputs(seqs), **kwargs).trajectory_focal_mm is None
    seqs[1].intrinsics = cam.Intrinsics(focal_length=None, center=None, width=1000, height=1000)
    res = evaluate_sequences(Oracle(rel_targets(seqs)), seqs, index_inputs(seqs), trajectory_focal_normalized=1.6, **kwargs)
    assert res.trajectory_focal_mm is None and "trajectory_focal_mm" not in res.to_dict()


def test_evaluate_sequences_matches_direct_metric_computation_and_keeps_train_mode():
    from poselift.evaluation import metrics

    seqs = synthetic_dataset(2, 60, seed=3)
    inputs = [normalized_keypoints(s) for s in seqs]
    model = random_model((3, 3)).train()
    res = evaluate_sequences(model, seqs, inputs, FLIP)
    assert model.training  # restored after evaluation
    errors = []
    for s, x in zip(seqs, inputs):
        pred = predict_sequence(model.eval(), x, FLIP)
        errors.append(metrics.mpjpe(pred, s.positions_3d - s.positions_3d[:, :1]))
    expected = np.concatenate(errors).mean() * 1000  # one action ("Walking"): frame-weighted
    assert list(res.per_action) == ["Walking"]
    assert res.mpjpe_mm == pytest.approx(expected, rel=1e-9)
    assert res.frames == 120


def test_eval_result_to_dict():
    seqs = make_sequences(SPEC)
    res = evaluate_sequences(Oracle(rel_targets(seqs)), seqs, index_inputs(seqs))
    d = res.to_dict()
    assert METRIC_KEYS | {"per_action", "frames"} <= set(d)
    assert "trajectory_mm" not in d
    assert d["per_action"] == res.per_action
    json.dumps(d)  # JSON-serialisable
    assert EvalResult(1.0, 2.0, 3.0, 4.0).to_dict()["n_mpjpe_mm"] == 3.0


# ------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def synthetic_checkpoint(tmp_path_factory):
    cfg = TrainConfig(
        dataset="synthetic", filter_widths=(3, 3), channels=32, epochs=1, batch_size=512, subset=0.25, threads=1
    )
    return train(cfg, tmp_path_factory.mktemp("evalrun"), progress=False)


def test_cli_evaluate_json(synthetic_checkpoint, capsys):
    assert main(["evaluate", "--checkpoint", str(synthetic_checkpoint), "--dataset", "synthetic", "--json"]) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)  # stdout holds exactly one JSON object
    assert METRIC_KEYS | {"per_action", "without_flip", "checkpoint"} <= set(d)
    assert METRIC_KEYS | {"per_action"} <= set(d["without_flip"])
    assert d["checkpoint"] == str(synthetic_checkpoint)
    assert list(d["per_joint_mpjpe_mm"]) == list(sk.H36M_17.joint_names)
    assert np.mean(list(d["per_joint_mpjpe_mm"].values())) > 0
    for result in (d, d["without_flip"]):
        assert list(result["per_action"]) == ["Walking"]
        assert result["frames"] == 4 * 400
        for metric in METRIC_KEYS:
            assert np.isfinite(result[metric]) and result[metric] > 0
            assert result[metric] == pytest.approx(np.mean([v[metric] for v in result["per_action"].values()]))
    assert d["mpjpe_mm"] != d["without_flip"]["mpjpe_mm"]

    # the same numbers as the API on the same test split
    import poselift
    from poselift.training.data import load_split

    lifter = poselift.load_model(synthetic_checkpoint)
    seqs = load_split(TrainConfig(dataset="synthetic", seed=1234), train=False)
    api = evaluate_sequences(lifter.pose_model, seqs, [normalized_keypoints(s) for s in seqs], FLIP)
    assert d["mpjpe_mm"] == pytest.approx(api.mpjpe_mm, rel=1e-6)
    assert d["p_mpjpe_mm"] == pytest.approx(api.p_mpjpe_mm, rel=1e-6)


def test_cli_evaluate_table(synthetic_checkpoint, capsys):
    assert main(["evaluate", "--checkpoint", str(synthetic_checkpoint), "--no-flip"]) == 0
    out = capsys.readouterr().out
    assert "without flip" in out and "with flip" not in out
    assert "Walking" in out and "average" in out and "MPJPE" in out


def test_per_subject_breakdown_follows_the_same_protocol():
    """per_subject[S] equals evaluating that subject's sequences alone."""
    from poselift.data.datasets import normalized_keypoints
    from poselift.data.synthetic import synthetic_dataset
    from poselift.evaluation.protocol import evaluate_sequences
    from poselift.models.temporal import ModelConfig, TemporalModel

    seqs = synthetic_dataset(3, 60, seed=5)
    model = TemporalModel(ModelConfig(filter_widths=(3,), channels=16)).eval()
    inputs = [normalized_keypoints(s) for s in seqs]
    both = evaluate_sequences(model, seqs, inputs)
    assert set(both.per_subject) == {s.subject for s in seqs}
    for i, seq in enumerate(seqs):
        alone = evaluate_sequences(model, [seq], [inputs[i]])
        assert both.per_subject[seq.subject]["mean"]["p_mpjpe_mm"] == pytest.approx(alone.p_mpjpe_mm)


def test_cli_evaluate_swap_fix(synthetic_checkpoint, capsys):
    """--swap-fix: the clean synthetic 2D has no swaps, so nothing is put back and the numbers
    stay; with --noisy (whose noise swaps limbs) frames are put back and reported."""
    base = ["evaluate", "--checkpoint", str(synthetic_checkpoint), "--dataset", "synthetic", "--json", "--no-flip"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["swap_fix"] is None
    assert main(base + ["--swap-fix"]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["swap_fix"] == {"frames": 0, "sequences": 4}
    assert fixed["mpjpe_mm"] == pytest.approx(plain["mpjpe_mm"], rel=1e-6)
    assert main(base + ["--noisy", "--swap-fix"]) == 0
    noisy = json.loads(capsys.readouterr().out)
    assert noisy["swap_fix"]["frames"] > 0
    assert main(["evaluate", "--checkpoint", str(synthetic_checkpoint), "--dataset", "synthetic", "--no-flip", "--swap-fix"]) == 0
    assert "swap fix (0 frames put back)" in capsys.readouterr().out
