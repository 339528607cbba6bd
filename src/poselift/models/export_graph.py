"""The graph that ``poselift export`` writes: pose (+ trajectory) model, eval mode.

Kept apart from :mod:`poselift.models.export` so that building the CLI parser does not
import torch. Shapes: input ``[B, T, J_in, 2]`` normalised screen coordinates;
outputs ``pose [B, T - RF + 1, J_out, 3]`` and ``trajectory [B, T - RF_traj + 1, 3]``,
metres.
"""

from __future__ import annotations

import torch
from torch import nn

from poselift.models.temporal import TemporalModel


def _temporal_forward(model: TemporalModel, x: torch.Tensor) -> torch.Tensor:
    """:class:`TemporalModel` inference with time slices that do not depend on the
    sequence length (so a traced graph stays valid for any length ≥ RF).

    ``[B, T, J_in, F]`` → ``[B, T - RF + 1, J_out, 3]``; eval mode only (no dropout).
    """
    x = x.flatten(2).transpose(1, 2)
    x = torch.relu(model.expand_bn(model.expand_conv(x)))
    for i, (pad, shift) in enumerate(zip(model.pads, model.causal_shifts)):
        start, trim = pad + shift, pad - shift  # residual = x[..., start : T - trim]
        res = x[:, :, start:-trim] if trim > 0 else x[:, :, start:]
        x = torch.relu(model.layers_bn[2 * i](model.layers_conv[2 * i](x)))
        x = res + torch.relu(model.layers_bn[2 * i + 1](model.layers_conv[2 * i + 1](x)))
    x = model.shrink(x)
    return x.transpose(1, 2).unflatten(2, (model.config.num_joints_out, 3))


class ExportGraph(nn.Module):
    """Pose model plus optional trajectory model as one eval-mode graph.

    ``[B, T, J_in, 2]`` → ``pose [B, T - RF + 1, J_out, 3]`` and, with a trajectory
    model, ``trajectory [B, T - RF_traj + 1, 3]`` (metres).
    """

    def __init__(self, pose_model: TemporalModel, trajectory_model: TemporalModel | None) -> None:
        super().__init__()
        self.pose_model = pose_model
        self.trajectory_model = trajectory_model
        self.eval()

    @property
    def output_names(self) -> list[str]:
        return ["pose", "trajectory"] if self.trajectory_model is not None else ["pose"]

    @property
    def min_frames(self) -> int:
        rfs = [self.pose_model.receptive_field]
        if self.trajectory_model is not None:
            rfs.append(self.trajectory_model.receptive_field)
        return max(rfs)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        pose = _temporal_forward(self.pose_model, keypoints)
        if self.trajectory_model is None:
            return pose
        return pose, _temporal_forward(self.trajectory_model, keypoints)[:, :, 0]

    @torch.no_grad()
    def reference(self, keypoints: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of the original PyTorch models (the ground truth for verification)."""
        outs = [self.pose_model(keypoints)]
        if self.trajectory_model is not None:
            outs.append(self.trajectory_model(keypoints)[:, :, 0])
        return outs


def random_input(graph: ExportGraph, batch: int, frames: int, seed: int) -> torch.Tensor:
    """Uniform ``[-1, 1]`` keypoints ``[batch, frames, J_in, F]`` (a plausible screen range)."""
    cfg = graph.pose_model.config
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, cfg.num_joints_in, cfg.in_features, generator=gen) * 2 - 1


