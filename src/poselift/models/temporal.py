"""Dilated temporal convolutional models that lift 2D keypoint sequences to 3D.

Two twins share one set of weights (identical ``state_dict`` keys and shapes):

* :class:`TemporalModel` — the full model: dilated 1D convolutions over a whole
  sequence. Input ``[B, T, J_in, 2]`` (normalised screen coordinates), output
  ``[B, T - RF + 1, J_out, 3]`` (metres, root-relative, camera frame).
* :class:`TemporalModelStrided` — the training twin: every dilated convolution is
  replaced by a strided one (kernel = stride), so a window of exactly ``RF`` frames
  yields one output frame. It is written as plain GEMMs on a channels-last
  ``[rows, channels]`` layout, which is what makes training fast on CPUs.

Structure (Pavllo et al., CVPR 2019): expand conv (kernel ``w0``) + BN + ReLU +
dropout, then per block ``i ≥ 1``: conv (kernel ``wi``, dilation ``∏ w<i``) + BN +
ReLU + dropout, 1×1 conv + BN + ReLU + dropout, plus a residual sliced to the valid
centre (to the end when causal); a final 1×1 conv maps to ``J_out × 3``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from poselift.errors import PoseliftError

BN_MOMENTUM_START = 0.1
BN_MOMENTUM_END = 0.001
#: Largest receptive field accepted (frames); the largest published model has 243.
MAX_RECEPTIVE_FIELD = 100_000


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a temporal model (everything needed to rebuild it)."""

    num_joints_in: int = 17
    in_features: int = 2
    num_joints_out: int = 17
    filter_widths: tuple[int, ...] = (3, 3, 3)
    channels: int = 1024
    dropout: float = 0.25
    causal: bool = False
    dense: bool = False

    def __post_init__(self) -> None:
        try:
            widths = tuple(_whole_number(w) for w in self.filter_widths)
        except (TypeError, ValueError, OverflowError):
            raise PoseliftError(f"filter widths must be a list of odd whole numbers, got {self.filter_widths!r:.60}") from None
        object.__setattr__(self, "filter_widths", widths)
        if not widths:
            raise PoseliftError("filter widths are empty; expected e.g. `arc='3,3,3'`")
        for w in widths:
            if w < 1 or w % 2 == 0:
                raise PoseliftError(f"filter widths must be odd and positive (got {list(widths)}), e.g. 3,3,3")
        for name in ("num_joints_in", "in_features", "num_joints_out", "channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise PoseliftError(f"model config '{name}' must be a whole number, got {value!r:.40}")
        if self.channels < 1 or self.num_joints_in < 1 or self.num_joints_out < 1 or self.in_features < 1:
            raise PoseliftError("channels and joint counts must be positive")
        if math.prod(widths) > MAX_RECEPTIVE_FIELD:
            raise PoseliftError(
                f"filter widths {list(widths)[:10]} give a receptive field of {math.prod(widths)} frames; "
                f"the limit is {MAX_RECEPTIVE_FIELD}"
            )
        for name in ("causal", "dense"):
            if not isinstance(getattr(self, name), bool):
                raise PoseliftError(f"model config '{name}' must be true or false, got {getattr(self, name)!r:.40}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real):
            raise PoseliftError(f"model config 'dropout' must be a number, got {self.dropout!r:.40}")
        if not 0.0 <= self.dropout < 1.0:
            raise PoseliftError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def receptive_field(self) -> int:
        """Number of input frames that one output frame sees."""
        return math.prod(self.filter_widths)

    @property
    def pad(self) -> int:
        """Frames of context on each side, ``(RF - 1) / 2``."""
        return (self.receptive_field - 1) // 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filter_widths"] = list(self.filter_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        if not isinstance(d, dict):
            raise PoseliftError(f"model config must be an object, got {type(d).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise PoseliftError(f"model config has unknown keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        d = dict(d)
        if "filter_widths" in d:
            if not isinstance(d["filter_widths"], (list, tuple)):
                raise PoseliftError(f"model config 'filter_widths' must be a list, got {d['filter_widths']!r:.40}")
            d["filter_widths"] = tuple(d["filter_widths"])
        return cls(**d)


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer():
        raise ValueError(value)
    return int(value)


def parse_arc(arc: str) -> tuple[int, ...]:
    """Parse ``"3,3,3"`` into filter widths ``(3, 3, 3)``."""
    try:
        widths = tuple(int(x) for x in str(arc).split(",") if x.strip())
    except ValueError:
        raise PoseliftError(f"`arc` must be comma-separated odd integers like 3,3,3 (got {arc!r})") from None
    ModelConfig(filter_widths=widths)  # validates
    return widths


class _TemporalBase(nn.Module):
    """Parameters shared by both twins (same names and shapes)."""

    def __init__(self, config: ModelConfig, dense_kernels: bool) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        widths = config.filter_widths
        self.expand_conv = nn.Conv1d(config.num_joints_in * config.in_features, c, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(c, momentum=BN_MOMENTUM_START)
        convs, bns = [], []
        dilation = widths[0]
        for w in widths[1:]:
            pad = (w - 1) * dilation // 2
            kernel = 2 * pad + 1 if dense_kernels else w
            convs.append(nn.Conv1d(c, c, kernel, dilation=1 if dense_kernels else dilation, bias=False))
            bns.append(nn.BatchNorm1d(c, momentum=BN_MOMENTUM_START))
            convs.append(nn.Conv1d(c, c, 1, bias=False))
            bns.append(nn.BatchNorm1d(c, momentum=BN_MOMENTUM_START))
            dilation *= w
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(c, config.num_joints_out * 3, 1)

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the running-statistics momentum of every batch-norm layer."""
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    def _check_input(self, x: torch.Tensor, min_frames: int) -> None:
        cfg = self.config
        if x.dim() != 4 or x.shape[2] != cfg.num_joints_in or x.shape[3] != cfg.in_features:
            raise PoseliftError(
                f"model input must be [batch, frames, {cfg.num_joints_in}, {cfg.in_features}] "
                f"(normalised screen coordinates), got {list(x.shape)}"
            )
        if x.shape[1] < min_frames:
            raise PoseliftError(f"model input has {x.shape[1]} frames; this model needs at least {min_frames}")


class TemporalModel(_TemporalBase):
    """Full dilated temporal model over whole sequences (inference/evaluation)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, dense_kernels=config.dense)
        self.pads: list[int] = []
        self.causal_shifts: list[int] = []
        dilation = config.filter_widths[0]
        for w in config.filter_widths[1:]:
            pad = (w - 1) * dilation // 2
            self.pads.append(pad)
            self.causal_shifts.append(pad if config.causal else 0)
            dilation *= w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, J_in, F]`` → ``[B, T - RF + 1, J_out, 3]``."""
        self._check_input(x, self.receptive_field)
        b, t = x.shape[:2]
        x = x.reshape(b, t, -1).transpose(1, 2)
        drop = self.config.dropout
        x = F.dropout(F.relu(self.expand_bn(self.expand_conv(x))), drop, self.training)
        for i, (pad, shift) in enumerate(zip(self.pads, self.causal_shifts)):
            res = x[:, :, pad + shift : x.shape[2] - pad + shift]
            x = F.dropout(F.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))), drop, self.training)
            x = res + F.dropout(F.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))), drop, self.training)
        x = self.shrink(x)
        return x.transpose(1, 2).reshape(b, -1, self.config.num_joints_out, 3)


def _bn_rows(x: torch.Tensor, bn: nn.BatchNorm1d, training: bool) -> torch.Tensor:
    """Batch norm over rows of a ``[rows, channels]`` matrix, using ``bn``'s state.

    A ``bn`` with a ``batch_norm_rows(x, training)`` method normalises the rows itself
    (:class:`poselift.training.distributed.RowSyncBatchNorm1d`: statistics over all processes).
    """
    rows_fn = getattr(bn, "batch_norm_rows", None)
    if rows_fn is not None:
        return rows_fn(x, training)
    return F.batch_norm(
        x,
        bn.running_mean,
        bn.running_var,
        bn.weight,
        bn.bias,
        training=training,
        momentum=bn.momentum if bn.momentum is not None else 0.0,
        eps=bn.eps,
    )


def _conv_as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """Conv1d weight ``[out, in, k]`` → ``[out, k·in]`` matching a ``(k, in)`` flattened input."""
    return weight.permute(0, 2, 1).reshape(weight.shape[0], -1)


class TemporalModelStrided(_TemporalBase):
    """Training twin: one output frame per ``RF``-frame window, as plain GEMMs.

    Each dilated convolution becomes a strided one with kernel = stride, which on a
    channels-last layout is a reshape followed by a matrix product.
    """

    def __init__(self, config: ModelConfig) -> None:
        if config.dense:
            raise PoseliftError("the strided training model does not support dense kernels; build the full model (`TemporalModel`) for dense kernels")
        super().__init__(config, dense_kernels=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, RF, J_in, F]`` → ``[B, 1, J_out, 3]``."""
        cfg = self.config
        self._check_input(x, self.receptive_field)
        if x.shape[1] != self.receptive_field:
            raise PoseliftError(
                f"the strided model takes windows of exactly {self.receptive_field} frames, got {x.shape[1]}"
            )
        b = x.shape[0]
        widths = cfg.filter_widths
        drop, training = cfg.dropout, self.training
        rows = x.reshape(b * (self.receptive_field // widths[0]), -1)
        h = F.linear(rows, _conv_as_matrix(self.expand_conv.weight))
        h = F.dropout(F.relu(_bn_rows(h, self.expand_bn, training)), drop, training)
        for i, w in enumerate(widths[1:]):
            c = h.shape[1]
            groups = h.view(-1, w, c)  # [rows / w, w, C]: consecutive rows are neighbouring frames
            shift = w - 1 if cfg.causal else w // 2
            res = groups[:, shift]
            h = F.linear(groups.reshape(-1, w * c), _conv_as_matrix(self.layers_conv[2 * i].weight))
            h = F.dropout(F.relu(_bn_rows(h, self.layers_bn[2 * i], training)), drop, training)
            h = F.linear(h, self.layers_conv[2 * i + 1].weight[:, :, 0])
            h = res + F.dropout(F.relu(_bn_rows(h, self.layers_bn[2 * i + 1], training)), drop, training)
        out = F.linear(h, self.shrink.weight[:, :, 0], self.shrink.bias)
        return out.view(b, 1, cfg.num_joints_out, 3)


def build_model(config: ModelConfig, strided: bool = False) -> _TemporalBase:
    """Build the full model, or its strided training twin."""
    return TemporalModelStrided(config) if strided else TemporalModel(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bn_momentum_for_epoch(epoch: int, epochs: int) -> float:
    """Exponential decay from 0.1 (first epoch) to 0.001 (last epoch)."""
    if epochs <= 1:
        return BN_MOMENTUM_START
    frac = min(max(epoch / (epochs - 1), 0.0), 1.0)
    return BN_MOMENTUM_START * (BN_MOMENTUM_END / BN_MOMENTUM_START) ** frac
