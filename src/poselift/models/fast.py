"""Fast inference engines built from a trained :class:`~poselift.models.temporal.TemporalModel`.

Two engines, both with batch norm folded into the convolution weights (eval mode
only: ``y = W'x + b'`` with ``W' = W·γ/σ``, ``b' = β − μ·γ/σ``):

* :class:`FoldedTemporalModel` — whole sequences. Activations are kept
  channels-last as one ``[rows, C]`` matrix with all batch items laid end to end,
  so a dilated convolution with kernel ``K`` and dilation ``D`` is ``K`` matrix
  products of *contiguous row slices* accumulated in place (``addmm_``), followed
  by an in-place ReLU and residual add. Rows that straddle two batch items are
  computed and dropped at the end (``RF − 1`` rows per item).
* :class:`IncrementalCausalModel` — streaming with a causal model: one frame in,
  one frame out, each layer keeping a short history of its input, so a new frame
  costs one matrix-vector product per layer (every weight read once).

Both give the outputs of the model they were built from (fp32, to ~1e-5 m); the
tests check this. Inputs are normalised screen coordinates ``[..., J_in, 2]``;
outputs metres, root-relative, camera frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from poselift.errors import PoseliftError
from poselift.models.temporal import ModelConfig, TemporalModel


@dataclass(frozen=True)
class _FoldedConv:
    """One convolution with its batch norm folded in.

    ``taps``: ``[K, C_in, C_out]`` (tap ``k`` multiplies input frame ``t + k·D``);
    ``flat``: the same as ``[K·C_in, C_out]``; ``bias``: ``[C_out]``.
    """

    taps: torch.Tensor
    flat: torch.Tensor
    bias: torch.Tensor
    dilation: int

    @property
    def kernel(self) -> int:
        return self.taps.shape[0]

    @property
    def span(self) -> int:
        """Input frames one output frame depends on, minus one."""
        return (self.kernel - 1) * self.dilation


def _fold(conv: nn.Conv1d, bn: nn.BatchNorm1d | None) -> _FoldedConv:
    """Fold ``bn`` (running statistics) into ``conv``; ``bn=None`` keeps the conv bias."""
    weight = conv.weight.detach().to(torch.float32)  # [out, in, K]
    bias = conv.bias.detach().to(torch.float32) if conv.bias is not None else torch.zeros(weight.shape[0])
    if bn is not None:
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        weight = weight * scale[:, None, None]
        bias = (bias - bn.running_mean) * scale + bn.bias.detach()
    taps = weight.permute(2, 1, 0).contiguous()  # [K, in, out]
    return _FoldedConv(taps, taps.reshape(-1, taps.shape[2]), bias.contiguous(), int(conv.dilation[0]))


def _folded_layers(model: TemporalModel) -> tuple[_FoldedConv, list[tuple[_FoldedConv, _FoldedConv]], _FoldedConv]:
    if model.training:
        raise PoseliftError("batch norm can only be folded in eval mode (call model.eval() first)")
    expand = _fold(model.expand_conv, model.expand_bn)
    blocks = [
        (_fold(model.layers_conv[2 * i], model.layers_bn[2 * i]), _fold(model.layers_conv[2 * i + 1], model.layers_bn[2 * i + 1]))
        for i in range(len(model.layers_conv) // 2)
    ]
    return expand, blocks, _fold(model.shrink, None)


class FoldedTemporalModel(nn.Module):
    """Inference-only twin of a :class:`TemporalModel`: ``[B, T, J_in, F]`` → ``[B, T − RF + 1, J_out, 3]``.

    Built with :meth:`from_model`; holds plain tensors (no parameters, no autograd
    state). Use under ``torch.inference_mode()``.
    """

    #: output frames computed per pass: activations of 2,048 rows × 1,024 channels (8 MiB)
    #: stay cache- and allocator-friendly; measured faster than whole 10,000-frame
    #: sequences on a 2-core EPYC (docs/benchmarks.md). Any value gives the same result.
    chunk_frames: int = 2048

    def __init__(self, config: ModelConfig, expand: _FoldedConv, blocks: list[tuple[_FoldedConv, _FoldedConv]], shrink: _FoldedConv) -> None:
        super().__init__()
        self.config = config
        self._expand = expand
        self._blocks = blocks
        self._shrink = shrink
        self.eval()

    @classmethod
    def from_model(cls, model: TemporalModel) -> "FoldedTemporalModel":
        expand, blocks, shrink = _folded_layers(model)
        return cls(model.config, expand, blocks, shrink)

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def train(self, mode: bool = True) -> "FoldedTemporalModel":
        if mode:
            raise PoseliftError("FoldedTemporalModel is inference-only; train the TemporalModel it was built from")
        return super().train(False)

    @staticmethod
    def _conv(x: torch.Tensor, conv: _FoldedConv) -> torch.Tensor:
        """Valid dilated convolution over the rows of ``x`` ``[N, C_in]`` → ``[N − span, C_out]``."""
        rows = x.shape[0] - conv.span
        if conv.kernel == 1:
            return torch.addmm(conv.bias, x[:rows], conv.taps[0])
        if x.shape[1] * conv.kernel <= 256:  # narrow input (the 2D keypoints): one GEMM on gathered taps
            gathered = torch.cat([x[k * conv.dilation : k * conv.dilation + rows] for k in range(conv.kernel)], dim=1)
            return torch.addmm(conv.bias, gathered, conv.flat)
        out = torch.addmm(conv.bias, x[:rows], conv.taps[0])
        for k in range(1, conv.kernel):
            start = k * conv.dilation
            out.addmm_(x[start : start + rows], conv.taps[k])
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if x.dim() != 4 or x.shape[2] != cfg.num_joints_in or x.shape[3] != cfg.in_features:
            raise PoseliftError(
                f"model input must be [batch, frames, {cfg.num_joints_in}, {cfg.in_features}] "
                f"(normalised screen coordinates), got {list(x.shape)}"
            )
        b, t = x.shape[:2]
        rf = self.receptive_field
        if t < rf:
            raise PoseliftError(f"model input has {t} frames; this model needs at least {rf}")
        n_out = t - rf + 1
        if n_out <= self.chunk_frames:
            return self._forward(x)
        # overlapping chunks: each needs RF − 1 frames of context beyond its outputs
        parts = [self._forward(x[:, s : min(n_out, s + self.chunk_frames) + rf - 1]) for s in range(0, n_out, self.chunk_frames)]
        return torch.cat(parts, dim=1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        b, t = x.shape[:2]
        rf = self.receptive_field
        h = x.reshape(b * t, -1).to(torch.float32)
        h = self._conv(h, self._expand).relu_()
        for conv, pointwise in self._blocks:
            offset = conv.span if cfg.causal else conv.span // 2  # residual: the newest / the centre input frame
            rows = h.shape[0] - conv.span
            res = h[offset : offset + rows]
            y = self._conv(h, conv).relu_()
            h = torch.addmm(pointwise.bias, y, pointwise.taps[0]).relu_().add_(res)
        out = torch.addmm(self._shrink.bias, h, self._shrink.taps[0])  # [B·T − RF + 1, J_out·3]
        # item i's outputs are rows i·T … i·T + T − RF; rows in between straddle two items
        outputs = out.as_strided((b, t - rf + 1, out.shape[1]), (t * out.shape[1], out.shape[1], 1))
        return outputs.reshape(b, t - rf + 1, cfg.num_joints_out, 3)


def fold_batchnorm(model: TemporalModel) -> FoldedTemporalModel:
    """The fast inference twin of ``model`` (which must be in eval mode)."""
    if isinstance(model, FoldedTemporalModel):
        return model
    return FoldedTemporalModel.from_model(model)


class IncrementalCausalModel:
    """Frame-by-frame inference of a causal model with per-layer histories.

    ``step(frame [J_in, F])`` returns the output for that frame ``[J_out, 3]``: the
    same value the full model gives at that frame on the whole sequence, with the
    sequence start edge-padded (the first frame repeated), as in training.
    """

    def __init__(self, model: TemporalModel) -> None:
        if not model.config.causal:
            raise PoseliftError("incremental inference needs a causal model (trained with `TrainConfig.causal=True`)")
        self.config = model.config
        self._expand, self._blocks, self._shrink = _folded_layers(model)
        self._history: list[torch.Tensor] | None = None  # per conv: [span + 1, C_in], oldest first
        self._heads: list[int] = []

    def reset(self) -> None:
        """Forget the past: the next frame starts a new sequence."""
        self._history = None

    @staticmethod
    def _taps(hist: torch.Tensor, head: int, conv: _FoldedConv) -> torch.Tensor:
        """Input rows ``t − span, …, t`` (every ``dilation``-th) from a ring buffer whose newest row is ``head``."""
        n = hist.shape[0]
        idx = [(head - conv.span + k * conv.dilation) % n for k in range(conv.kernel)]
        return hist[idx].reshape(1, -1)

    def _run(self, frame: torch.Tensor, fill: bool) -> torch.Tensor:
        convs = [self._expand] + [c for c, _ in self._blocks]
        if fill:
            self._history = [torch.empty(c.span + 1, c.taps.shape[1]) for c in convs]
            self._heads = [0] * len(convs)
        assert self._history is not None
        h = frame.reshape(1, -1)
        for i, conv in enumerate(convs):
            hist = self._history[i]
            if fill:
                hist.copy_(h.expand_as(hist))  # edge padding: the first input repeated into the past
            else:
                self._heads[i] = (self._heads[i] + 1) % hist.shape[0]
                hist[self._heads[i]] = h[0]
            y = torch.addmm(conv.bias, self._taps(hist, self._heads[i], conv), conv.flat).relu_()
            if i == 0:
                h = y
            else:
                pointwise = self._blocks[i - 1][1]
                h = torch.addmm(pointwise.bias, y, pointwise.taps[0]).relu_().add_(h)  # causal residual = newest input
        out = torch.addmm(self._shrink.bias, h, self._shrink.taps[0])
        return out.reshape(self.config.num_joints_out, 3)

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        """One new frame ``[J_in, F]`` (normalised screen) → its output ``[J_out, 3]``."""
        cfg = self.config
        if tuple(frame.shape) != (cfg.num_joints_in, cfg.in_features):
            raise PoseliftError(f"a frame must be [{cfg.num_joints_in}, {cfg.in_features}], got {list(frame.shape)}")
        return self._run(frame.to(torch.float32), fill=self._history is None)


def fast_twin(model: nn.Module | None) -> nn.Module | None:
    """What to run for inference: the BN-folded twin of an eval-mode ``TemporalModel``
    on the CPU; anything else (a GPU model, a model in training mode, ``None``) as is."""
    if not isinstance(model, TemporalModel) or model.training:
        return model
    param = next(model.parameters(), None)
    if param is not None and param.device.type != "cpu":
        return model
    return FoldedTemporalModel.from_model(model)
