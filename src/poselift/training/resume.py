"""What a training checkpoint records besides the weights, and the checks and RNG
handling that let a run continue from it: run metadata, this process's dropout RNG
states, and whether a checkpoint can be resumed under the current options."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift.data.datasets import DATASET_FPS, skeletons_for
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import HEAD_EYE_LERP
from poselift.models.temporal import ModelConfig
from poselift.training.config import TrainConfig, TrainState
from poselift.training.data import wild_augmentation
from poselift.version import __version__


def versions() -> dict[str, str]:
    """Versions of poselift and what it runs on (recorded in every checkpoint)."""
    return {
        "poselift": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def run_metadata(
    cfg: TrainConfig, model_cfg: ModelConfig, traj_cfg: ModelConfig | None, state: TrainState, world_size: int,
    device: torch.device,
) -> dict[str, Any]:
    """The JSON metadata of a training checkpoint: configs, state, joint layouts, input
    and output units, frame rate (frames/s), versions, command, and for the wild recipe
    its augmentation and the focal length the trajectory model assumes."""
    skel_in, skel_out = skeletons_for(cfg.dataset, cfg.keypoints)
    meta = {
        "model": model_cfg.to_dict(),
        "train": cfg.to_dict(),
        "state": asdict(state),
        "joints_in": skel_in.name,
        "joints_out": skel_out.name,
        "input": "normalised screen coordinates: x/w*2-1, y/w*2-h/w (pixels divided by image width)",
        "output": "metres, camera frame, relative to the root joint",
        "fps": DATASET_FPS[cfg.dataset] / cfg.downsample,
        "versions": versions(),
        "command": " ".join(sys.argv),
        "world_size": world_size,  # processes that trained the last epoch (resume may use another)
        "device": str(device),
    }
    if traj_cfg is not None:
        meta["trajectory_model"] = traj_cfg.to_dict()
    if cfg.recipe == "wild":
        aug = wild_augmentation(cfg)
        camera = aug["camera"]
        meta["recipe"] = "wild"
        meta["input_layout"] = cfg.input_layout
        meta["input"] += (
            "; joints in the layout poselift.geometry.skeleton builds from COCO/BlazePose detections (h36m17-detector)"
        )
        meta["augmentation"] = {
            "camera": camera.to_dict(),
            "noise": aug["noise"].to_dict(),
            "flip": aug["flip"],
            "samples_per_window": aug["samples_per_window"],
            "head_eye_lerp": HEAD_EYE_LERP,
            "real_camera_fraction": aug["real_camera_prob"],
            "limb_mix": aug["limb_mix"],
        }
        # the focal length poselift infer rescales trajectory depth from (median of the range)
        meta["focal_normalized"] = camera.focal_reference()
        meta["focal_normalized_range"] = list(camera.focal_range())
    return meta


def check_resumable(
    path: Path, payload: dict[str, Any], meta: dict[str, Any], cfg: TrainConfig, model_cfg: ModelConfig,
    traj_cfg: ModelConfig | None,
) -> TrainConfig:
    """Raise :class:`PoseliftError` unless the checkpoint at ``path`` was trained with
    the same architecture, trajectory model, recipe and virtual cameras as this run
    (``traj_cfg`` None: no trajectory model); returns the checkpoint's config."""
    saved = TrainConfig.from_dict(meta.get("train", {}))
    if ModelConfig.from_dict(meta["model"]) != model_cfg:
        raise PoseliftError(f"cannot resume from {path}: its model config differs from this run's options")
    if traj_cfg is not None and "trajectory_model" in meta and ModelConfig.from_dict(meta["trajectory_model"]) != traj_cfg:
        raise PoseliftError(f"cannot resume from {path}: its trajectory model config differs from this run's options")
    if (payload.get("model_traj") is not None) != (traj_cfg is not None):
        raise PoseliftError(
            f"cannot resume from {path}: it {'has' if payload.get('model_traj') is not None else 'has no'} "
            "trajectory model but this run's options say otherwise (check `subjects_unlabeled` / `trajectory`)"
        )
    if saved.recipe != cfg.recipe:
        raise PoseliftError(
            f"cannot resume from {path}: it was trained with `recipe` {saved.recipe or '(standard)'}, "
            f"this run asks for {cfg.recipe or '(standard)'}"
        )
    if tuple(saved.wild_camera_set) != tuple(cfg.wild_camera_set):
        raise PoseliftError(
            f"cannot resume from {path}: it was trained with `wild_camera_set` {list(saved.wild_camera_set) or '(none)'}, "
            f"this run asks for {list(cfg.wild_camera_set) or '(none)'}"
        )
    return saved


def own_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's dropout RNG states: ``cpu`` (and ``cuda`` on a GPU)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(payload: dict[str, Any], rank: int, seed: int, epoch: int, device: torch.device) -> None:
    """Dropout RNG of process ``rank`` from a checkpoint written by any number of processes.

    Its own saved state when the checkpoint has one for this rank (rank 0 always:
    ``rng_torch``), else a fresh stream from (seed, rank, epoch)."""
    cpu_ranks = payload.get("rng_torch_ranks") or [payload["rng_torch"]]
    cuda_ranks = payload.get("rng_cuda_ranks") or ([payload["rng_cuda"]] if "rng_cuda" in payload else [])
    if rank < len(cpu_ranks):
        torch.set_rng_state(cpu_ranks[rank])
    else:
        torch.manual_seed(seed + rank + 1_000_003 * epoch)
    if device.type == "cuda":
        if rank < len(cuda_ranks):
            torch.cuda.set_rng_state(cuda_ranks[rank], device)
        else:
            torch.cuda.manual_seed(seed + rank + 1_000_003 * epoch)
