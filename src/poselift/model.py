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

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from poselift.errors import PoseliftError

BN_MOMENTUM_START = 0.1
BN_MOMENTUM_END = 0.001


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
        widths = tuple(int(w) for w in self.filter_widths)
        object.__setattr__(self, "filter_widths", widths)
        if not widths:
            raise PoseliftError("filter widths are empty; expected e.g. --arc 3,3,3")
        for w in widths:
            if w < 1 or w % 2 == 0:
                raise PoseliftError(f"filter widths must be odd and positive (got {list(widths)}), e.g. 3,3,3")
        if self.channels < 1 or self.num_joints_in < 1 or self.num_joints_out < 1:
            raise PoseliftError("channels and joint counts must be positive")
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
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise PoseliftError(f"model config has unknown keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        d = dict(d)
        if "filter_widths" in d:
            d["filter_widths"] = tuple(d["filter_widths"])
        return cls(**d)


def parse_arc(arc: str) -> tuple[int, ...]:
    """Parse ``"3,3,3"`` into filter widths ``(3, 3, 3)``."""
    try:
        widths = tuple(int(x) for x in str(arc).split(",") if x.strip())
    except ValueError:
        raise PoseliftError(f"--arc must be comma-separated odd integers like 3,3,3 (got {arc!r})") from None
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
    """Batch norm over rows of a ``[rows, channels]`` matrix, using ``bn``'s state."""
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
            raise PoseliftError("the strided training model does not support dense kernels; train dense models with --no-strided")
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


# --------------------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "poselift-checkpoint"
CHECKPOINT_VERSION = 1


class PoseLifter(nn.Module):
    """A ready-to-use lifter: pose model, optional trajectory model, and metadata.

    ``forward`` maps ``[B, T, J_in, 2]`` normalised screen coordinates to
    ``[B, T - RF + 1, J_out, 3]`` metres relative to the root (camera frame).
    """

    def __init__(
        self,
        pose_model: TemporalModel,
        trajectory_model: TemporalModel | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.pose_model = pose_model
        self.trajectory_model = trajectory_model
        self.metadata = dict(metadata or {})

    @property
    def config(self) -> ModelConfig:
        return self.pose_model.config

    @property
    def receptive_field(self) -> int:
        return self.pose_model.receptive_field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pose_model(x)

    def predict_trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """Root position in camera space, metres: ``[B, T - RF + 1, 3]``."""
        if self.trajectory_model is None:
            raise PoseliftError("this checkpoint has no trajectory model")
        return self.trajectory_model(x)[:, :, 0]


def save_checkpoint(path: str | Path, payload: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temp file + fsync + rename).

    ``payload`` holds tensors/state dicts only; ``metadata`` is JSON-serialisable and
    is stored as a JSON string so the file loads with ``weights_only=True``.
    """
    from poselift.io import atomic_write

    obj = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "metadata_json": json.dumps(metadata), **payload}
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a poselift checkpoint safely: returns ``(payload, metadata)``."""
    path = Path(path)
    if not path.is_file():
        raise PoseliftError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise PoseliftError(
            f"checkpoint {path} could not be read as a weights-only torch file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        if isinstance(obj, dict) and "model_pos" in obj:
            raise PoseliftError(
                f"{path} looks like an original VideoPose3D checkpoint; convert it with "
                f"`poselift import-checkpoint {path} OUT.pt --causal|--no-causal`"
            )
        raise PoseliftError(f"{path} is not a poselift checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    try:
        metadata = json.loads(obj.pop("metadata_json"))
    except (KeyError, ValueError):
        raise PoseliftError(f"checkpoint {path} has missing or corrupt metadata") from None
    return obj, metadata


def _load_state(model: nn.Module, state: Any, path: Path, name: str) -> None:
    if not isinstance(state, dict):
        raise PoseliftError(f"checkpoint {path}: '{name}' is not a state dict")
    state = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise PoseliftError(f"checkpoint {path}: '{name}' weights do not match its config ({str(exc).splitlines()[0]})") from None


def export_weights(
    src: str | Path, dst: str | Path, *, half: bool = True, extra_metadata: dict[str, Any] | None = None
) -> int:
    """Write an inference-only copy of a checkpoint: the pose (and trajectory) weights
    and the metadata, without optimiser/RNG state; ``half`` stores floats as fp16
    (loaded back as fp32 by :func:`load_model`). Returns the file size in bytes."""
    payload, metadata = read_checkpoint(src)
    keep = {}
    for name in ("model_pos", "model_traj"):
        state = payload.get(name)
        if state is None:
            continue
        keep[name] = {
            k: (v.half() if half and torch.is_tensor(v) and v.is_floating_point() else v) for k, v in state.items()
        }
    if "model_pos" not in keep:
        raise PoseliftError(f"checkpoint {src} has no 'model_pos' weights")
    metadata = dict(metadata)
    metadata["exported_from"] = Path(src).name
    metadata["storage_dtype"] = "float16" if half else "float32"
    metadata.update(extra_metadata or {})
    save_checkpoint(dst, keep, metadata)
    return Path(dst).stat().st_size


def load_model(path: str | Path | None = None, *, with_trajectory: bool = True) -> PoseLifter:
    """Load a checkpoint as a :class:`PoseLifter` in eval mode.

    ``path=None`` loads the model bundled with the package (when one ships).
    """
    if path is None:
        path = default_weights_path()
    path = Path(path)
    payload, metadata = read_checkpoint(path)
    try:
        pos_cfg = ModelConfig.from_dict(metadata["model"])
    except (KeyError, TypeError):
        raise PoseliftError(f"checkpoint {path} metadata has no valid 'model' config") from None
    pose = TemporalModel(pos_cfg)
    _load_state(pose, payload.get("model_pos"), path, "model_pos")
    traj = None
    if with_trajectory and payload.get("model_traj") is not None:
        traj_cfg = ModelConfig.from_dict(metadata.get("trajectory_model", metadata["model"] | {"num_joints_out": 1}))
        traj = TemporalModel(traj_cfg)
        _load_state(traj, payload["model_traj"], path, "model_traj")
    lifter = PoseLifter(pose, traj, metadata)
    return lifter.eval()


def default_weights_path() -> Path:
    """Path of the pretrained weights bundled in ``poselift/weights``."""
    path = Path(__file__).parent / "weights" / "poselift_wild.pt"
    if not path.is_file():
        raise PoseliftError(
            "no bundled pretrained model in this installation yet; pass --checkpoint PATH "
            "(train one with `poselift train`)"
        )
    return path
