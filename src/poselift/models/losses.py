"""Training losses (torch, differentiable). Poses ``[B, T, J, 3]`` (any leading
shape works), metres; losses are scalars in the same unit."""

from __future__ import annotations

import torch


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint Euclidean error."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {list(pred.shape)} and target {list(target.shape)} differ in shape")
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def weighted_mpjpe_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """MPJPE with per-joint (or per-sample) weights broadcast against ``[..., J]``.

    Used for the trajectory loss, weighted by ``1 / depth`` of the root.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {list(pred.shape)} and target {list(target.shape)} differ in shape")
    err = torch.linalg.vector_norm(pred - target, dim=-1)
    return (weights * err).mean()


def n_mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MPJPE after the per-frame least-squares scale of ``pred`` (scale-invariant)."""
    num = (pred * target).sum(dim=(-1, -2), keepdim=True)
    den = (pred * pred).sum(dim=(-1, -2), keepdim=True).clamp_min(1e-12)
    return mpjpe_loss(pred * (num / den), target)


def mean_velocity_error_loss(pred: torch.Tensor, target: torch.Tensor, time_dim: int = 1) -> torch.Tensor:
    """Mean per-joint error of the first time difference along ``time_dim``."""
    dp = torch.diff(pred, dim=time_dim)
    dt = torch.diff(target, dim=time_dim)
    return torch.linalg.vector_norm(dp - dt, dim=-1).mean()
