"""Evaluation metrics (NumPy) and training losses (torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import random_rotation

from poselift.data.datasets import action_name
from poselift.errors import PoseliftError
from poselift.evaluation.metrics import (
    aggregate_per_action,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    procrustes_align,
    velocity_error,
)
from poselift.models import losses

# --- MPJPE ----------------------------------------------------------------------------


def test_mpjpe_hand_computed():
    target = np.zeros((2, 3))
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(mpjpe(pred, target), 3.0)  # (5 + 1) / 2
    # Per frame, any leading shape.
    pred2 = np.stack([pred, 2 * pred, np.zeros((2, 3))])[None]  # [1, 3, 2, 3]
    out = mpjpe(pred2, np.zeros_like(pred2))
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out, [[3.0, 6.0, 0.0]])
    # Symmetric and translation-covariant.
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4, 17, 3))
    np.testing.assert_allclose(mpjpe(a, b), mpjpe(b, a))
    np.testing.assert_allclose(mpjpe(a + 1.5, b + 1.5), mpjpe(a, b), atol=1e-12)


def test_mpjpe_2d():
    pred = np.array([[[1.0, 1.0], [0.0, 2.0]]])
    np.testing.assert_allclose(mpjpe(pred, np.zeros_like(pred)), [(math.sqrt(2) + 2) / 2])


# --- P-MPJPE ---------------------------------------------------------------------------


def test_p_mpjpe_similarity_copy_is_zero():
    rng = np.random.default_rng(1)
    target = rng.standard_normal((6, 17, 3))
    pred = np.empty_like(target)
    for i in range(len(target)):
        r = random_rotation(rng)
        scale = 1.7 if i % 2 == 0 else rng.uniform(0.3, 3.0)
        pred[i] = scale * target[i] @ r.T + rng.standard_normal(3) * 5
    assert (mpjpe(pred, target) > 0.1).all()
    err = p_mpjpe(pred, target)
    assert err.shape == (6,)
    np.testing.assert_allclose(err, 0.0, atol=1e-9)
    np.testing.assert_allclose(procrustes_align(pred, target), target, atol=1e-9)


def test_p_mpjpe_uses_no_reflection():
    rng = np.random.default_rng(2)
    target = rng.standard_normal((4, 17, 3))  # random: asymmetric
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    # Mirror, then rotate, scale and shift.
    pred = np.stack([1.3 * m @ random_rotation(rng).T + 0.5 for m in mirrored])
    err = p_mpjpe(pred, target)
    assert (err > 0.05).all(), err
    # The aligned prediction is a proper similarity of the prediction: orientation
    # (sign of the signed volume spanned by three joint offsets) is kept.
    aligned = procrustes_align(pred, target)

    def volume_sign(x):
        return np.sign(np.linalg.det(x[..., 1:4, :] - x[..., :1, :]))

    np.testing.assert_array_equal(volume_sign(aligned), volume_sign(pred))


def test_procrustes_is_least_squares_optimal():
    """No other proper similarity transform gives a smaller squared error."""
    rng = np.random.default_rng(3)
    pred = rng.standard_normal((17, 3))
    target = pred @ random_rotation(rng).T * 0.8 + rng.standard_normal((17, 3)) * 0.3
    aligned = procrustes_align(pred, target)
    best = ((aligned - target) ** 2).sum()
    mu_p = pred.mean(axis=0)
    # Recover the transform and perturb it.
    for _ in range(50):
        r = random_rotation(rng)
        s = rng.uniform(0.5, 1.2)
        t = target.mean(axis=0) + rng.standard_normal(3) * 0.1
        other = s * (pred - mu_p) @ r + t
        assert ((other - target) ** 2).sum() >= best - 1e-12
    small = [_small_rotation(rng, 1e-2) for _ in range(20)]
    centred = aligned - target.mean(axis=0)
    for r in small:
        for s in (0.99, 1.0, 1.01):
            other = s * centred @ r + target.mean(axis=0)
            assert ((other - target) ** 2).sum() >= best - 1e-12


def _small_rotation(rng, angle) -> np.ndarray:
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def test_p_mpjpe_identity_and_shape():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 17, 3))
    err = p_mpjpe(x, x)
    assert err.shape == (2, 3)
    np.testing.assert_allclose(err, 0.0, atol=1e-12)


# --- N-MPJPE and velocity -----------------------------------------------------------------


def test_n_mpjpe_scaled_copy_is_zero():
    rng = np.random.default_rng(5)
    target = rng.standard_normal((5, 17, 3))
    pred = 0.6 * target
    assert (mpjpe(pred, target) > 0.1).all()
    np.testing.assert_allclose(n_mpjpe(pred, target), 0.0, atol=1e-12)
    # Scale only: a rotated copy is not fixed.
    rotated = target @ random_rotation(rng).T
    assert (n_mpjpe(rotated, target) > 1e-3).all()
    # Least-squares scale never increases the squared error, so for a single joint
    # (where MPJPE is the Euclidean distance) N-MPJPE <= MPJPE.
    a, b = rng.standard_normal((2, 50, 1, 3))
    assert (n_mpjpe(a, b) <= mpjpe(a, b) + 1e-12).all()


def test_velocity_error():
    rng = np.random.default_rng(6)
    target = rng.standard_normal((10, 17, 3))
    pred = target + np.array([0.3, -1.0, 2.0])
    err = velocity_error(pred, target)
    assert err.shape == (9,)
    np.testing.assert_allclose(err, 0.0, atol=1e-12)

    # Hand-computed: one joint, three frames.
    target = np.zeros((3, 1, 3))
    pred = np.array([[[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 2.0, 2.0]]])
    # Frame steps: (1, 0, 0) -> 1; (0, 2, 2) -> sqrt(8).
    np.testing.assert_allclose(velocity_error(pred, target), [1.0, math.sqrt(8.0)])

    # Two joints: the per-step error is the joint mean.
    pred2 = np.concatenate([pred, np.zeros((3, 1, 3))], axis=1)
    np.testing.assert_allclose(velocity_error(pred2, np.zeros_like(pred2)), [0.5, math.sqrt(8.0) / 2])

    single = velocity_error(pred[:1], target[:1])
    assert single.shape == (0,)


@pytest.mark.parametrize("fn", [mpjpe, p_mpjpe, n_mpjpe, velocity_error, procrustes_align])
def test_shape_mismatch_raises(fn):
    with pytest.raises(PoseliftError, match="differ in shape"):
        fn(np.zeros((4, 17, 3)), np.zeros((4, 16, 3)))
    with pytest.raises(PoseliftError):
        fn(np.zeros(3), np.zeros(3))


# --- per-action aggregation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sequence, action",
    [
        ("S1/Walking 1", "Walking"),
        ("Walking 1 chunk0", "Walking"),
        ("WalkDog", "WalkDog"),
        ("Sitting 2", "Sitting"),
        ("WalkTogether 1", "WalkTogether"),
        ("S9/SittingDown", "SittingDown"),
        ("Train/S2/Jog 3 chunk12", "Jog"),
        ("Box chunk1", "Box"),
    ],
)
def test_action_name(sequence, action):
    assert action_name(sequence) == action


def test_aggregate_per_action_h36m():
    errors = {
        "S9/Walking 1/54138969": np.array([1.0, 2.0, 3.0]),
        "S9/Walking/55011271": np.array([5.0]),
        "S11/Eating 2/54138969": np.array([4.0, 6.0]),
    }
    per_action, overall = aggregate_per_action(errors)
    # Walking is frame-weighted: (1 + 2 + 3 + 5) / 4 = 2.75 (not (2 + 5) / 2).
    assert per_action == pytest.approx({"Walking": 2.75, "Eating": 5.0})
    assert overall == pytest.approx((2.75 + 5.0) / 2)  # plain mean over actions


def test_aggregate_per_action_humaneva_and_misc_keys():
    errors = {
        "Validate/S1/Walking 1 chunk0/C1": np.array([1.0, 3.0]),
        "Validate/S2/Walking 1 chunk1/C2": np.array([[5.0]]),  # any shape, flattened
        "Validate/S1/Jog 1 chunk0/C3": np.array([2.0, 2.0]),
        "S9/Phoning 1/virtual": np.array([10.0]),
        "S9/Greeting": np.array([7.0, 9.0]),  # no camera id
    }
    per_action, overall = aggregate_per_action(errors)
    assert per_action == pytest.approx({"Walking": 3.0, "Jog": 2.0, "Phoning": 10.0, "Greeting": 8.0})
    assert overall == pytest.approx((3.0 + 2.0 + 10.0 + 8.0) / 4)


def test_aggregate_per_action_empty():
    per_action, overall = aggregate_per_action({})
    assert per_action == {}
    assert math.isnan(overall)
    per_action, overall = aggregate_per_action({"S9/Walking/54138969": np.zeros(0)})
    assert per_action == {}
    assert math.isnan(overall)


# --- losses -------------------------------------------------------------------------------------


def _pair(seed, shape=(3, 5, 17, 3)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def test_mpjpe_loss_matches_metric():
    pred, target = _pair(7)
    loss = losses.mpjpe_loss(torch.tensor(pred), torch.tensor(target))
    assert loss.ndim == 0
    np.testing.assert_allclose(loss.item(), mpjpe(pred, target).mean(), rtol=1e-12)
    with pytest.raises(ValueError):
        losses.mpjpe_loss(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))


def test_weighted_mpjpe_loss():
    pred, target = _pair(8)
    p, t = torch.tensor(pred), torch.tensor(target)
    np.testing.assert_allclose(
        losses.weighted_mpjpe_loss(p, t, torch.ones(17, dtype=torch.float64)).item(),
        losses.mpjpe_loss(p, t).item(),
        rtol=1e-12,
    )
    weights = torch.tensor(np.random.default_rng(9).uniform(0.1, 2.0, size=(3, 1, 1)))
    expected = (weights.numpy() * np.linalg.norm(pred - target, axis=-1)).mean()
    np.testing.assert_allclose(losses.weighted_mpjpe_loss(p, t, weights).item(), expected, rtol=1e-12)
    with pytest.raises(ValueError):
        losses.weighted_mpjpe_loss(p, t[..., :2], weights)


def test_n_mpjpe_loss_matches_metric():
    pred, target = _pair(10)
    loss = losses.n_mpjpe_loss(torch.tensor(pred), torch.tensor(target))
    np.testing.assert_allclose(loss.item(), n_mpjpe(pred, target).mean(), rtol=1e-12)
    # Scale invariant.
    scaled = losses.n_mpjpe_loss(torch.tensor(0.6 * target), torch.tensor(target))
    assert scaled.item() < 1e-12


def test_mean_velocity_error_loss_matches_metric():
    pred, target = _pair(11)
    loss = losses.mean_velocity_error_loss(torch.tensor(pred), torch.tensor(target))
    expected = np.mean([velocity_error(pred[b], target[b]).mean() for b in range(len(pred))])
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    # Time along dim 0.
    loss0 = losses.mean_velocity_error_loss(torch.tensor(pred[0]), torch.tensor(target[0]), time_dim=0)
    np.testing.assert_allclose(loss0.item(), velocity_error(pred[0], target[0]).mean(), rtol=1e-12)
    # Constant offset: zero.
    offset = losses.mean_velocity_error_loss(torch.tensor(target + 0.7), torch.tensor(target))
    assert offset.item() < 1e-12


@pytest.mark.parametrize(
    "loss_fn",
    [losses.mpjpe_loss, losses.n_mpjpe_loss, losses.mean_velocity_error_loss],
)
def test_loss_gradients_flow(loss_fn):
    pred_np, target_np = _pair(12, shape=(2, 4, 17, 3))
    pred = torch.tensor(pred_np, dtype=torch.float32, requires_grad=True)
    target = torch.tensor(target_np, dtype=torch.float32)
    loss = loss_fn(pred, target)
    loss.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0
    # A small step against the gradient lowers the loss.
    with torch.no_grad():
        lower = loss_fn(pred - 1e-2 * pred.grad / pred.grad.norm(), target)
    assert lower.item() < loss.item()


@pytest.mark.parametrize(
    "loss_fn",
    [losses.mpjpe_loss, losses.n_mpjpe_loss, losses.mean_velocity_error_loss],
)
def test_loss_gradients_finite_at_zero_error(loss_fn):
    """A perfect joint (e.g. the root of root-relative poses) must not give NaN gradients."""
    target = torch.tensor(_pair(13, shape=(2, 4, 17, 3))[1])
    pred = target.clone().requires_grad_(True)
    loss_fn(pred, target).backward()
    assert torch.isfinite(pred.grad).all()


def test_loss_gradcheck():
    pred_np, target_np = _pair(14, shape=(2, 3, 4, 3))
    pred = torch.tensor(pred_np, requires_grad=True)
    target = torch.tensor(target_np)
    for fn in (losses.mpjpe_loss, losses.n_mpjpe_loss, losses.mean_velocity_error_loss):
        assert torch.autograd.gradcheck(lambda p: fn(p, target), (pred,))
