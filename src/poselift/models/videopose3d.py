"""Importing original VideoPose3D checkpoints (``model_pos`` / ``model_traj``) into
the poselift checkpoint format: the architecture is read from the weight shapes,
loaded with ``weights_only`` (no pickled code), checked and saved atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift.errors import PoseliftError
from poselift.geometry import skeleton as sk
from poselift.geometry.skeleton import LAYOUT_BY_JOINT_COUNT
from poselift.io.staging import check_destination
from poselift.models.checkpoint import (
    _check_tensors,
    build_checked_model,
    safe_torch_load,
    save_checkpoint,
)
from poselift.models.temporal import ModelConfig

log = logging.getLogger("poselift.data.convert")


# VideoPose3D's run.py also saves 'random_state' (a NumPy RandomState state tuple with a
# uint32 array): allow plain numeric NumPy arrays (data only, no code) so such files
# still load with weights_only=True.
_NUMPY_ARRAY_GLOBALS = [np.core.multiarray._reconstruct, np.ndarray, np.dtype] + [
    type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                np.uint32, np.uint64, np.float16, np.float32, np.float64)
]


def infer_model_config(state: dict[str, torch.Tensor], causal: bool, where: str) -> ModelConfig:
    """Filter widths, channels and joint counts from original VideoPose3D weight shapes."""
    if not isinstance(state, dict):
        raise PoseliftError(f"{where}: expected a state dict (weight name → tensor), got {type(state).__name__}")
    try:
        expand = state["expand_conv.weight"]
        shrink = state["shrink.weight"]
    except KeyError as exc:
        raise PoseliftError(f"{where}: missing weight {exc.args[0]!r}; not a VideoPose3D TemporalModel state dict") from None

    def conv_shape(name: str, value: Any) -> tuple[int, int, int]:
        if not torch.is_tensor(value) or value.dim() != 3:
            raise PoseliftError(f"{where}: {name!r} must be a 3D convolution weight tensor [out, in, width]")
        return tuple(int(n) for n in value.shape)  # type: ignore[return-value]

    channels, in_ch, w0 = conv_shape("expand_conv.weight", expand)
    out_ch = conv_shape("shrink.weight", shrink)[0]
    widths = [int(w0)]
    i = 0
    while f"layers_conv.{2 * i}.weight" in state:
        widths.append(conv_shape(f"layers_conv.{2 * i}.weight", state[f"layers_conv.{2 * i}.weight"])[2])
        i += 1
    if in_ch % 2 or out_ch % 3 or in_ch == 0 or out_ch == 0:
        raise PoseliftError(f"{where}: unexpected weight shapes (in {in_ch}, out {out_ch})")
    return ModelConfig(
        num_joints_in=in_ch // 2,
        num_joints_out=shrink.shape[0] // 3,
        filter_widths=tuple(widths),
        channels=int(channels),
        causal=causal,
    )


def import_videopose3d_checkpoint(
    src: str | Path,
    out: str | Path,
    *,
    causal: bool,
    joints_in: str | None = None,
    joints_out: str | None = None,
    overwrite: bool = False,
) -> ModelConfig:
    """Convert an original checkpoint (``model_pos`` [+ ``model_traj``]) to ours."""
    src = Path(src)
    if not src.exists():
        raise PoseliftError(f"{src} does not exist")
    if not src.is_file():
        raise PoseliftError(f"{src} is not a file")
    out = Path(out)
    check_destination(out)
    if out.exists() and not overwrite:
        raise PoseliftError(f"{out} already exists; pass `overwrite=True` to replace it")
    obj = safe_torch_load(src, "original checkpoint", _NUMPY_ARRAY_GLOBALS)
    if not isinstance(obj, dict) or "model_pos" not in obj:
        raise PoseliftError(f"{src} has no 'model_pos' entry; expected an original VideoPose3D checkpoint")
    _check_tensors(obj, src)
    cfg = infer_model_config(obj["model_pos"], causal, f"{src}[model_pos]")
    model = build_checked_model(cfg, obj["model_pos"], src, "model_pos")
    payload: dict[str, Any] = {"model_pos": model.state_dict()}
    meta: dict[str, Any] = {
        "model": cfg.to_dict(),
        "joints_in": joints_in or LAYOUT_BY_JOINT_COUNT.get(cfg.num_joints_in, f"{cfg.num_joints_in}-joints"),
        "joints_out": joints_out or LAYOUT_BY_JOINT_COUNT.get(cfg.num_joints_out, f"{cfg.num_joints_out}-joints"),
        "input": "normalised screen coordinates: x/w*2-1, y/w*2-h/w",
        "output": "metres, camera frame, relative to the root joint",
        "imported_from": str(src),
        "fps": 50.0,
    }
    if isinstance(obj.get("model_traj"), dict):
        tcfg = infer_model_config(obj["model_traj"], causal, f"{src}[model_traj]")
        traj = build_checked_model(tcfg, obj["model_traj"], src, "model_traj")
        payload["model_traj"] = traj.state_dict()
        meta["trajectory_model"] = tcfg.to_dict()
    for name in (joints_in, joints_out):
        if name is not None:
            sk.get_skeleton(name)
    save_checkpoint(out, payload, meta)
    return cfg
