"""The poselift checkpoint format: one ``torch.save`` file holding tensors only
(``weights_only`` loading, never unpickling code), JSON metadata and a checksum of
the payload; written atomically.

:func:`save_checkpoint` / :func:`read_checkpoint` read and write it,
:func:`build_checked_model` turns a stored state dict into a model after checking
every key and shape, :func:`export_weights` writes the inference-only subset.
"""

from __future__ import annotations

import hashlib
import json
import time
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

import torch

from poselift.errors import PoseliftError
from poselift.io.atomic import atomic_write
from poselift.io.staging import check_destination
from poselift.models.temporal import ModelConfig, TemporalModel

CHECKPOINT_FORMAT = "poselift-checkpoint"


CHECKPOINT_VERSION = 1


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
                f"`import_videopose3d_checkpoint({path}, OUT.pt, causal=True)` (`causal=False` for a symmetric model)"
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
    check_destination(dst)
    if dst.exists() and not overwrite:
        raise PoseliftError(f"{dst} already exists; pass `overwrite=True` to replace it")
    if dst.exists() and not dst.is_file():
        raise PoseliftError(f"{dst} exists and is not a file")
    if Path(src).resolve() == dst.resolve():
        raise PoseliftError(f"export-weights would overwrite its input {src}; choose another output file")
    payload, metadata = read_checkpoint(src)
    # the copy must load: check the weights against the stored config(s) before writing
    pos_cfg = config_from_metadata(metadata, "model", Path(src))
    build_checked_model(pos_cfg, payload.get("model_pos"), src, "model_pos")
    if payload.get("model_traj") is not None:
        traj_meta = metadata if "trajectory_model" in metadata else {"trajectory_model": pos_cfg.to_dict() | {"num_joints_out": 1}}
        build_checked_model(config_from_metadata(traj_meta, "trajectory_model", Path(src)), payload["model_traj"], src, "model_traj")
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


#: Model-config fields that may differ between a warm-start checkpoint and the run it
#: starts: they change neither the weights' names nor their shapes.
WARM_START_FREE_FIELDS = ("causal", "dropout")


def load_initial_weights(path: str | Path, targets: dict[str, torch.nn.Module]) -> dict[str, bool]:
    """Warm start: copy the weights of checkpoint ``path`` (a training checkpoint or
    exported weights) into ``targets`` (``{"model_pos": ..., "model_traj": ...}``;
    strided and full twins share names and shapes).

    The architecture must match, except the fields in :data:`WARM_START_FREE_FIELDS`
    (e.g. a symmetric model can start a causal one). Returns, per target, whether the
    file had weights for it (a trajectory model the file lacks keeps its fresh
    initialisation). fp16 storage is loaded as fp32."""
    path = Path(path)
    if not path.is_file():
        raise PoseliftError(f"`init_from` checkpoint {path} does not exist or is not a file")
    payload, metadata = read_checkpoint(path)
    keys = {"model_pos": "model", "model_traj": "trajectory_model"}
    loaded = {}
    for name, model in targets.items():
        state = payload.get(name)
        if state is None:
            loaded[name] = False
            continue
        if keys[name] in metadata:
            stored = config_from_metadata(metadata, keys[name], path).to_dict()
            wanted = getattr(model, "config", None)
            if isinstance(wanted, ModelConfig):
                differ = [
                    f"{k} {stored[k]} (this run: {v})"
                    for k, v in wanted.to_dict().items()
                    if k not in WARM_START_FREE_FIELDS and stored.get(k) != v
                ]
                if differ:
                    raise PoseliftError(
                        f"`init_from` checkpoint {path}: its {keys[name].replace('_', ' ')} differs from this run's: "
                        + "; ".join(differ)
                    )
        reference = model.state_dict()
        model.load_state_dict(_checked_state(state, reference, path, name))
        loaded[name] = True
    return loaded


def config_from_metadata(metadata: dict[str, Any], key: str, path: Path) -> ModelConfig:
    try:
        return ModelConfig.from_dict(metadata[key])
    except KeyError:
        raise PoseliftError(f"checkpoint {path} metadata has no '{key}' config") from None
    except PoseliftError as exc:
        raise PoseliftError(f"checkpoint {path} metadata has an invalid '{key}' config: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise PoseliftError(f"checkpoint {path} metadata has an invalid '{key}' config ({exc})") from None
