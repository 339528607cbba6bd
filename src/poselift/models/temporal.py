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

import hashlib
import json
import math
import numbers
import time
from glob import escape as glob_escape
from dataclasses import asdict, dataclass
from pathlib import Path
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
            raise PoseliftError("filter widths are empty; expected e.g. --arc 3,3,3")
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
    """Batch norm over rows of a ``[rows, channels]`` matrix, using ``bn``'s state.

    A ``bn`` with a ``batch_norm_rows(x, training)`` method normalises the rows itself
    (:class:`poselift.distributed.RowSyncBatchNorm1d`: statistics over all processes).
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


CHECKSUM_KEY = "payload_sha256"
#: How :func:`payload_checksum` serialises a payload (stored next to the digest).
CHECKSUM_SCHEME = "tensors-v1"


def _hash_into(h: "hashlib._Hash", value: Any) -> None:
    """Feed ``value`` to ``h`` in a deterministic, type-tagged serialisation."""
    if torch.is_tensor(value):
        t = value.detach()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        if t.numel():
            raw = t.cpu().contiguous().reshape(-1).view(torch.uint8)
            h.update(memoryview(raw.numpy()))
    elif type(value).__module__ == "numpy" and hasattr(value, "tobytes") and hasattr(value, "dtype"):
        import numpy as np  # numpy arrays / scalars: dtype, shape and raw bytes, like tensors

        arr = np.ascontiguousarray(value)
        h.update(f"N{arr.dtype.str}{arr.shape}:".encode())
        if arr.dtype.hasobject:
            h.update(repr(arr.tolist()).encode())
        else:
            h.update(memoryview(arr.reshape(-1).view(np.uint8)))
    elif isinstance(value, dict):
        h.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=lambda k: (type(k).__name__, str(k))):
            _hash_into(h, key)
            _hash_into(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}:".encode())
        for item in value:
            _hash_into(h, item)
    else:  # str, int, float (repr round-trips), bool, None
        text = repr(value)
        h.update(f"S{type(value).__name__}{len(text)}:{text}".encode())


def payload_checksum(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint payload: every tensor's dtype, shape and raw bytes
    (C order) and every other value's ``repr``, dict keys in sorted order, so the
    digest does not depend on pickling details or dict order."""
    h = hashlib.sha256()
    _hash_into(h, payload)
    return h.hexdigest()


def save_checkpoint(path: str | Path, payload: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temp file + fsync + rename).

    ``payload`` holds tensors/state dicts only; ``metadata`` is JSON-serialisable and
    is stored as a JSON string so the file loads with ``weights_only=True``. The
    metadata gets ``payload_sha256`` (:func:`payload_checksum`), verified by
    :func:`read_checkpoint`.
    """
    from poselift.io import atomic_write

    metadata = dict(metadata)
    metadata[CHECKSUM_KEY] = payload_checksum(payload)
    metadata["checksum_scheme"] = CHECKSUM_SCHEME
    obj = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "metadata_json": json.dumps(metadata), **payload}
    started = time.time()
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)
    _remove_orphaned_temp_files(Path(path), started)


def _remove_orphaned_temp_files(path: Path, before: float) -> None:
    """Delete temporary files of earlier writes of ``path`` that a killed process left
    behind (``.last.pt.XXXX.tmp`` from :func:`poselift.io.atomic_write`), if they are
    older than this write."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        try:
            if tmp.stat().st_mtime < before - 1.0:
                tmp.unlink()
        except OSError:
            pass


def _check_tensors(value: Any, path: Path, where: str = "") -> None:
    """Every tensor in a loaded payload is a plain dense CPU tensor whose elements fit
    in its storage: a crafted file cannot expand a few bytes into GBs (stride-0 views)."""
    if torch.is_tensor(value):
        if value.layout != torch.strided or value.is_quantized or value.device.type != "cpu":
            raise PoseliftError(f"checkpoint {path}: tensor {where or '?'} has an unsupported layout/device ({value.layout}, {value.device})")
        need = value.numel() * value.element_size()
        have = value.untyped_storage().nbytes()
        if need > have:
            raise PoseliftError(
                f"checkpoint {path} is corrupt: tensor {where or '?'} claims shape {list(value.shape)} "
                f"({need} bytes) but its data holds {have} bytes"
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_tensors(v, path, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_tensors(v, path, f"{where}[{i}]")


def safe_torch_load(path: Path, what: str = "checkpoint", safe_globals: list | None = None) -> Any:
    """``torch.load(path, weights_only=True)`` with every failure turned into one
    :class:`PoseliftError` sentence: a pickle that references code (``GLOBAL``) is
    refused as such, anything else unreadable is reported as not a torch file."""
    import contextlib
    import pickle
    import re
    import warnings

    if path.stat().st_size == 0:
        raise PoseliftError(f"{what} {path} could not be read: the file is empty (0 bytes)")
    allow = torch.serialization.safe_globals(safe_globals) if safe_globals else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), allow:
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error below says it all
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"Unsupported global: GLOBAL ([^\s]+)", text)
        if found:
            raise PoseliftError(
                f"{what} {path} holds Python objects ({found.group(1)}) besides tensors and plain data; it is refused "
                "because loading them could run code (torch files are loaded weights-only)"
            ) from None
        reason = re.search(r"WeightsUnpickler error: \s*([^\n]+)", text)
        raise PoseliftError(
            f"{what} {path} could not be read as a weights-only torch file (not a torch file, or corrupt: "
            f"{(reason.group(1) if reason else text.splitlines()[0])[:150]})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise PoseliftError(
            f"{what} {path} could not be read as a weights-only torch file ({type(exc).__name__}: {first})"
        ) from None


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a poselift checkpoint safely: returns ``(payload, metadata)``.

    Loaded with ``weights_only=True`` (no code execution); every failure is a
    :class:`PoseliftError` naming the file. When the metadata has a
    ``payload_sha256`` (checkpoints written since it was added) the payload is
    verified against it; older checkpoints without one load unverified.
    """
    path = Path(path)
    if not path.exists():
        raise PoseliftError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise PoseliftError(f"checkpoint {path} is not a file")
    obj = safe_torch_load(path, "checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        if isinstance(obj, dict) and "model_pos" in obj:
            raise PoseliftError(
                f"{path} looks like an original VideoPose3D checkpoint; convert it with "
                f"`poselift import-checkpoint {path} OUT.pt --causal|--no-causal`"
            )
        raise PoseliftError(f"{path} is not a poselift checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    try:
        metadata = json.loads(obj.pop("metadata_json"))
    except (KeyError, TypeError, ValueError, RecursionError):
        raise PoseliftError(f"checkpoint {path} has missing or corrupt metadata") from None
    if not isinstance(metadata, dict):
        raise PoseliftError(f"checkpoint {path} has corrupt metadata (not a JSON object)")
    payload = {k: v for k, v in obj.items() if k not in ("format", "version")}
    _check_tensors(payload, path)
    expected = metadata.get(CHECKSUM_KEY)
    if expected is not None and payload_checksum(payload) != expected:
        raise PoseliftError(f"checkpoint {path} is corrupt (checksum mismatch): its weights differ from what was saved")
    return obj, metadata


def _checked_state(state: Any, reference: dict[str, torch.Tensor], path: Path, name: str) -> dict[str, torch.Tensor]:
    """``state`` as fp32 if it has exactly ``reference``'s keys and shapes, numeric
    dtypes and finite values; else a :class:`PoseliftError` naming the entry."""
    if not isinstance(state, dict):
        raise PoseliftError(f"checkpoint {path}: '{name}' is not a state dict")
    missing = [k for k in reference if k not in state]
    unexpected = [str(k) for k in state if k not in reference]
    if missing or unexpected:
        raise PoseliftError(
            f"checkpoint {path}: '{name}' weights do not match its config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    out = {}
    for key, ref in reference.items():
        value = state[key]
        if not torch.is_tensor(value):
            raise PoseliftError(f"checkpoint {path}: '{name}.{key}' is not a tensor")
        if tuple(value.shape) != tuple(ref.shape):
            raise PoseliftError(
                f"checkpoint {path}: '{name}' weights do not match its config ({key}: shape {list(value.shape)}, "
                f"expected {list(ref.shape)})"
            )
        if ref.is_floating_point():
            if not value.is_floating_point():
                raise PoseliftError(f"checkpoint {path}: '{name}.{key}' has dtype {value.dtype}, expected floating point")
            value = value.float()
            if not torch.isfinite(value).all():
                raise PoseliftError(f"checkpoint {path}: '{name}.{key}' contains NaN or inf")
        elif value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise PoseliftError(f"checkpoint {path}: '{name}.{key}' has dtype {value.dtype}, expected {ref.dtype}")
        out[key] = value
    return out


def build_checked_model(config: ModelConfig, state: Any, path: str | Path, name: str) -> "TemporalModel":
    """A :class:`TemporalModel` with ``state`` loaded, checked first against a model
    built on the ``meta`` device: a config claiming huge layers cannot allocate memory
    unless the file really holds weights that large."""
    path = Path(path)
    try:
        with torch.device("meta"):
            reference = TemporalModel(config).state_dict()
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:  # e.g. channels beyond int64
        raise PoseliftError(f"checkpoint {path}: '{name}' config cannot be built ({str(exc).splitlines()[0][:120]})") from None
    checked = _checked_state(state, reference, path, name)
    model = TemporalModel(config)
    try:
        model.load_state_dict(checked)
    except RuntimeError as exc:
        raise PoseliftError(f"checkpoint {path}: '{name}' weights do not match its config ({str(exc).splitlines()[0]})") from None
    return model


def export_weights(
    src: str | Path,
    dst: str | Path,
    *,
    half: bool = True,
    extra_metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> int:
    """Write an inference-only copy of a checkpoint: the pose (and trajectory) weights
    and the metadata, without optimiser/RNG state; ``half`` stores floats as fp16
    (loaded back as fp32 by :func:`load_model`). An existing ``dst`` is only replaced
    with ``overwrite``. Returns the file size in bytes."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise PoseliftError(f"{dst} already exists; pass --overwrite to replace it")
    if dst.exists() and not dst.is_file():
        raise PoseliftError(f"{dst} exists and is not a file")
    if Path(src).resolve() == dst.resolve():
        raise PoseliftError(f"export-weights would overwrite its input {src}; choose another output file")
    payload, metadata = read_checkpoint(src)
    # the copy must load: check the weights against the stored config(s) before writing
    pos_cfg = _config_from_metadata(metadata, "model", Path(src))
    build_checked_model(pos_cfg, payload.get("model_pos"), src, "model_pos")
    if payload.get("model_traj") is not None:
        traj_meta = metadata if "trajectory_model" in metadata else {"trajectory_model": pos_cfg.to_dict() | {"num_joints_out": 1}}
        build_checked_model(_config_from_metadata(traj_meta, "trajectory_model", Path(src)), payload["model_traj"], src, "model_traj")
    keep = {}
    for name in ("model_pos", "model_traj"):
        state = payload.get(name)
        if state is None:
            continue
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise PoseliftError(f"checkpoint {src}: '{name}' is not a state dict of tensors")
        keep[name] = {
            k: (v.half() if half and torch.is_tensor(v) and v.is_floating_point() else v) for k, v in state.items()
        }
    if "model_pos" not in keep:
        raise PoseliftError(f"checkpoint {src} has no 'model_pos' weights")
    metadata = {k: v for k, v in metadata.items() if k not in (CHECKSUM_KEY, "checksum_scheme")}
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
    pos_cfg = _config_from_metadata(metadata, "model", path)
    pose = build_checked_model(pos_cfg, payload.get("model_pos"), path, "model_pos")
    traj = None
    if with_trajectory and payload.get("model_traj") is not None:
        traj_meta = metadata if "trajectory_model" in metadata else {"trajectory_model": pos_cfg.to_dict() | {"num_joints_out": 1}}
        traj_cfg = _config_from_metadata(traj_meta, "trajectory_model", path)
        traj = build_checked_model(traj_cfg, payload["model_traj"], path, "model_traj")
    lifter = PoseLifter(pose, traj, metadata)
    return lifter.eval()


def _config_from_metadata(metadata: dict[str, Any], key: str, path: Path) -> ModelConfig:
    try:
        return ModelConfig.from_dict(metadata[key])
    except KeyError:
        raise PoseliftError(f"checkpoint {path} metadata has no '{key}' config") from None
    except PoseliftError as exc:
        raise PoseliftError(f"checkpoint {path} metadata has an invalid '{key}' config: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise PoseliftError(f"checkpoint {path} metadata has an invalid '{key}' config ({exc})") from None


def default_weights_path() -> Path:
    """Path of the pretrained weights bundled in ``poselift/weights``."""
    path = Path(__file__).parent / "weights" / "poselift_wild.pt"
    if not path.is_file():
        raise PoseliftError(
            "no bundled pretrained model in this installation yet; pass --checkpoint PATH "
            "(train one with `poselift train`)"
        )
    return path
