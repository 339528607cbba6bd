"""The lifter: a pose model with its optional trajectory model and the checkpoint
metadata that says what they expect (joint layouts, frame rate, camera focal length).

:func:`load_model` reads a poselift checkpoint (default: the bundled weights);
:func:`check_lifter` checks that it lifts H36M-17 2D to H36M-17 3D.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from poselift.errors import PoseliftError, finite_number
from poselift.geometry.camera import TRAINED_HEIGHT_P99
from poselift.geometry.sequence import MAX_FRAME_RATE
from poselift.models.checkpoint import (
    build_checked_model,
    config_from_metadata,
    read_checkpoint,
)
from poselift.models.temporal import ModelConfig, TemporalModel

DEFAULT_MODEL_FPS = 50.0
#: Normalised focal length ``2 f / w`` of the training cameras, by dataset.
TRAIN_FOCAL_NORMALIZED = {"h36m": 2.295, "synthetic": 2.1}


def model_fps(metadata: dict[str, Any]) -> float:
    """Frame rate the model was trained at (metadata ``fps``, default 50 frames/s)."""
    value = metadata.get("fps", DEFAULT_MODEL_FPS)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = DEFAULT_MODEL_FPS
    return value if math.isfinite(value) and 0 < value <= MAX_FRAME_RATE else DEFAULT_MODEL_FPS


def input_height_limit(metadata: dict[str, Any]) -> float:
    """How tall (screen units, median 2D height) a person may be before ``poselift infer``'s
    size guard shrinks their 2D: the checkpoint's ``input_height_p99`` (the 99th percentile of
    its training windows, recorded by ``--recipe wild`` runs since session 18), else the
    bundled models' :data:`poselift.geometry.camera.TRAINED_HEIGHT_P99`."""
    value = metadata.get("input_height_p99")
    return float(value) if finite_number(value) and value > 0 else TRAINED_HEIGHT_P99


def train_focal_normalized(metadata: dict[str, Any]) -> float:
    """Normalised focal length ``2 f / w`` the trajectory model was trained with."""
    value = metadata.get("focal_normalized")
    if finite_number(value) and value > 0:
        return float(metadata["focal_normalized"])
    dataset = (metadata.get("train") or {}).get("dataset", "h36m") if isinstance(metadata.get("train"), dict) else "h36m"
    return TRAIN_FOCAL_NORMALIZED.get(dataset if isinstance(dataset, str) else "h36m", TRAIN_FOCAL_NORMALIZED["h36m"])


def check_lifter(lifter, causal: bool) -> None:
    """Raise a :class:`PoseliftError` unless ``lifter`` lifts H36M-17 2D to H36M-17 3D
    (and is causal when ``causal`` is requested)."""
    check_lifter_config(lifter.config, lifter.metadata, causal)


def checkpoint_config(path: str | Path | None = None, *, causal: bool = False) -> tuple[ModelConfig, dict[str, Any]]:
    """The pose model's config and the metadata of checkpoint ``path`` (default: the
    bundled model; with ``causal`` the bundled causal one), without building the model: what :func:`check_lifter_config` needs,
    read in milliseconds, so that a wrong checkpoint is reported before any slow work."""
    path = default_weights_path(causal) if path is None else Path(path)
    _, metadata = read_checkpoint(path)
    return config_from_metadata(metadata, "model", path), metadata


def check_lifter_config(cfg: ModelConfig, meta: dict[str, Any], causal: bool) -> None:
    """:func:`check_lifter` on a pose model's config and checkpoint metadata."""
    joints_in = meta.get("joints_in", "h36m17")
    joints_out = meta.get("joints_out", "h36m17")
    if joints_in != "h36m17" or cfg.num_joints_in != 17 or cfg.in_features != 2:
        raise PoseliftError(
            f"this checkpoint takes {joints_in!r:.40} input ({cfg.num_joints_in} joints); `poselift infer` needs a model "
            "trained on H36M-17 2D keypoints (e.g. `TrainConfig.keypoints='gt'`)"
        )
    if joints_out != "h36m17" or cfg.num_joints_out != 17:
        raise PoseliftError(f"this checkpoint outputs {joints_out!r:.40} ({cfg.num_joints_out} joints); `poselift infer` needs H36M-17 output")
    if causal and not cfg.causal:
        raise PoseliftError("`causal=True` needs a causal checkpoint (trained with `TrainConfig.causal=True`); this one is symmetric")


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


def load_model(path: str | Path | None = None, *, with_trajectory: bool = True, causal: bool = False) -> PoseLifter:
    """Load a checkpoint as a :class:`PoseLifter` in eval mode.

    ``path=None`` loads the model bundled with the package: the symmetric one, or with
    ``causal`` the causal one (``causal`` only chooses between bundled models).
    """
    if path is None:
        path = default_weights_path(causal)
    path = Path(path)
    payload, metadata = read_checkpoint(path)
    pos_cfg = config_from_metadata(metadata, "model", path)
    pose = build_checked_model(pos_cfg, payload.get("model_pos"), path, "model_pos")
    traj = None
    if with_trajectory and payload.get("model_traj") is not None:
        traj_meta = metadata if "trajectory_model" in metadata else {"trajectory_model": pos_cfg.to_dict() | {"num_joints_out": 1}}
        traj_cfg = config_from_metadata(traj_meta, "trajectory_model", path)
        traj = build_checked_model(traj_cfg, payload["model_traj"], path, "model_traj")
    lifter = PoseLifter(pose, traj, metadata)
    return lifter.eval()



#: The bundled weights (``poselift/weights``): the symmetric model ``poselift infer``
#: uses, and its causal twin for streaming (docs/model-card.md).
BUNDLED_WEIGHTS = "poselift_wild.pt"
BUNDLED_CAUSAL_WEIGHTS = "poselift_wild_causal.pt"


def default_weights_path(causal: bool = False) -> Path:
    """Path of the pretrained weights bundled in ``poselift/weights``: the symmetric
    model, or with ``causal`` the causal one (output for frame t from frames ≤ t)."""
    name = BUNDLED_CAUSAL_WEIGHTS if causal else BUNDLED_WEIGHTS
    path = Path(__file__).resolve().parent.parent / "weights" / name
    if not path.is_file():
        raise PoseliftError(
            f"no bundled pretrained {'causal ' if causal else ''}model ({name}) in this installation; pass a "
            "`checkpoint` (train one with `train()`)"
        )
    return path
