"""The data a training run reads, as its :class:`~poselift.training.config.TrainConfig`
selects it: the training/test split, unlabeled videos, world 3D and real cameras of
the ``wild`` recipe, and the model's input joint layout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift.data.datasets import (
    H36M_CAMERAS,
    Sequence,
    WorldSequence,
    downsample_sequences,
    load_dataset,
    load_h36m_world,
    subset_sequences,
)
from poselift.data.synthetic import synthetic_dataset
from poselift.data.virtual_cameras import CameraBatch, virtual_camera_config
from poselift.errors import PoseliftError
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.skeleton import INPUT_LAYOUT_MOCAP, convert_input_layout
from poselift.training.config import TrainConfig

#: Camera views per recording in the standard Human3.6M recipe: a ``wild`` epoch shows
#: every window this many times (×2 with flip augmentation), each with a new camera,
#: so that epochs (and the per-epoch lr decay) match the standard recipe.
WILD_VIEWS_PER_WINDOW = 4


def load_split(cfg: TrainConfig, train: bool) -> list[Sequence]:
    """Load the training (``subset``/``downsample`` applied) or test sequences."""
    if cfg.dataset == "synthetic":
        seqs = synthetic_dataset(16, 400, seed=cfg.seed) if train else synthetic_dataset(4, 400, seed=cfg.seed + 1)
        if train:
            seqs = downsample_sequences(subset_sequences(seqs, cfg.subset, cfg.seed, cfg.subset_mode), cfg.downsample)
        return seqs
    subjects_train, subjects_test = cfg.default_subjects()
    if cfg.dataset == "humaneva":
        seqs = load_dataset(
            "humaneva", cfg.data_dir, subjects_train if train else subjects_test,
            actions=cfg.actions, split="Train" if train else "Validate",
        )
    else:
        seqs = load_dataset(
            "h36m", cfg.data_dir, subjects_train if train else subjects_test, keypoints=cfg.keypoints, actions=cfg.actions
        )
    if train:
        seqs = subset_sequences(seqs, cfg.subset, cfg.seed, cfg.subset_mode)
        seqs = downsample_sequences(seqs, cfg.downsample)
    return with_input_layout(seqs, cfg.input_layout)


def with_input_layout(seqs: list[Sequence], layout: str) -> list[Sequence]:
    """The sequences with their 2D keypoints converted from the mocap H36M-17 joints to
    ``layout`` (checkpoint metadata ``input_layout``; ``"h36m17"``: unchanged)."""
    if layout == INPUT_LAYOUT_MOCAP:
        return seqs
    return [
        replace(s, keypoints_2d=convert_input_layout(s.keypoints_2d, layout).astype(np.float32)) for s in seqs
    ]


def load_world_split(cfg: TrainConfig) -> list[WorldSequence]:
    """World-frame 3D of the training subjects (``subset``/``downsample`` applied) for
    the ``wild`` recipe: Human3.6M ``positions_3d.npz`` read without cameras."""
    subjects_train, _ = cfg.default_subjects()
    seqs = load_h36m_world(cfg.data_dir, subjects_train, actions=cfg.actions)
    return downsample_sequences(subset_sequences(seqs, cfg.subset, cfg.seed, cfg.subset_mode), cfg.downsample)


def load_real_cameras(cfg: TrainConfig, world: list[WorldSequence]) -> list[CameraBatch]:
    """The calibrated cameras (``cameras.json``) of each world recording's subject, as
    normalised :class:`~poselift.CameraBatch` es (``--wild-real-cameras``)."""
    path = Path(cfg.data_dir) / "cameras.json"
    intrinsics, extrinsics = load_cameras_json(path)
    by_subject: dict[str, CameraBatch] = {}
    for subject in sorted({w.subject for w in world}):
        ids = [c for c in H36M_CAMERAS if c in extrinsics.get(subject, {}) and c in intrinsics and intrinsics[c].calibrated]
        if not ids:
            raise PoseliftError(f"{path}: no calibrated cameras for subject {subject} (needed by `wild_real_cameras`)")
        by_subject[subject] = CameraBatch(
            torch.tensor(np.stack([extrinsics[subject][c].rotation for c in ids]), dtype=torch.float32),
            torch.tensor(np.stack([extrinsics[subject][c].center for c in ids]), dtype=torch.float32),
            torch.tensor(np.stack([intrinsics[c].vector(normalized=True) for c in ids]), dtype=torch.float32),
        )
    return [by_subject[w.subject] for w in world]


def wild_augmentation(cfg: TrainConfig) -> dict[str, Any]:
    """The augmentation settings of a ``--recipe wild`` run, as keyword arguments of
    :class:`poselift.data.wild.WildWindowDataset` (one source for the loader and the checkpoint
    metadata): virtual cameras, detector noise, flips, views per window per epoch and
    the share of windows filmed by the recording's own cameras, limb mixing."""
    return {
        "camera": virtual_camera_config("wild", cfg.wild_camera_set),
        "noise": cfg.wild_noise(),
        "flip": cfg.flip_augment,
        "samples_per_window": WILD_VIEWS_PER_WINDOW * (2 if cfg.flip_augment else 1),
        "real_camera_prob": cfg.wild_real_cameras,
        "limb_mix": cfg.wild_limb_mix,
    }


def load_unlabeled(cfg: TrainConfig) -> list[Sequence]:
    """Unlabeled training videos (their 3D is never read by training), downsampled."""
    if cfg.dataset == "synthetic":
        seqs = synthetic_dataset(16, 400, seed=cfg.seed + 7)
    elif cfg.dataset == "humaneva":
        seqs = load_dataset("humaneva", cfg.data_dir, cfg.subjects_unlabeled, split="Train", actions=cfg.actions)
    else:
        seqs = load_dataset("h36m", cfg.data_dir, cfg.subjects_unlabeled, keypoints=cfg.keypoints, actions=cfg.actions)
    for s in seqs:
        if not s.intrinsics.calibrated:
            raise PoseliftError(
                f"semi-supervised training needs calibrated camera intrinsics; {s.key} has only a resolution"
            )
    return downsample_sequences(seqs, cfg.downsample)
