"""The configuration of a training run (:class:`TrainConfig`, stored in every
checkpoint) and its mutable state; the model config and flip permutations it implies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from poselift.data.datasets import (
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    default_data_dir,
    skeletons_for,
)
from poselift.data.noise import NOISE_MODELS, NoiseConfig, noise_model
from poselift.data.virtual_cameras import virtual_camera_config
from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import INPUT_LAYOUT_DETECTOR, INPUT_LAYOUT_MOCAP
from poselift.models.temporal import ModelConfig

HUMANEVA_TRAIN_SUBJECTS = ("S1", "S2", "S3")


RECIPES = ("wild",)


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint)."""

    dataset: str = "h36m"
    data_dir: str = str(default_data_dir("h36m"))
    keypoints: str = "gt"
    subjects_train: list[str] | None = None
    subjects_test: list[str] | None = None
    actions: list[str] | None = None
    filter_widths: tuple[int, ...] = (3, 3, 3)
    channels: int = 1024
    dropout: float = 0.25
    causal: bool = False
    epochs: int = 60
    batch_size: int = 1024
    lr: float = 1e-3
    lr_decay: float = 0.95
    subset: float = 1.0
    subset_mode: str = "seeded"  # or "length-hash": the original implementation's chunks
    downsample: int = 1
    stride: int = 1
    seed: int = 1234
    flip_augment: bool = True
    flip_test: bool = True
    validate_every: int = 1
    threads: int | None = None
    # semi-supervised back-projection (enabled by subjects_unlabeled)
    subjects_unlabeled: list[str] | None = None
    warmup: int = 1
    bone_length: bool = True
    projection: bool = True
    linear_projection: bool = False
    # train a trajectory model; None: on for recipe "wild", off otherwise (always on when semi-supervised)
    trajectory: bool | None = None
    # channels of the trajectory model; None: the same as the pose model's
    trajectory_channels: int | None = None
    # None: the standard protocol; "wild": world 3D seen by random virtual cameras with
    # detector-like 2D noise and the detector joint layout (poselift.data.virtual_cameras)
    recipe: str | None = None
    # recipe "wild": fraction of training windows that keep their exact 2D (no noise)
    wild_clean_fraction: float = 0.0
    # recipe "wild": the 2D noise model, "independent" (NoiseConfig(): per-frame jitter, the
    # shipped model's) or "correlated" (NoiseConfig.correlated(): slow, heavy-tailed error
    # calibrated on Stacked-Hourglass detections of the training subjects)
    wild_noise_model: str = "independent"
    # recipe "wild": fraction of training windows filmed by one of the recording's real
    # (calibrated, distorted) Human3.6M cameras instead of a random virtual one
    wild_real_cameras: float = 0.0
    # recipe "wild": probability per window and limb group that its arms (or legs) move as
    # those of another window of the batch (poselift.data.limb_mix; 0: off)
    wild_limb_mix: float = 0.0
    # recipe "wild": NAME=VALUE overrides of the virtual-camera distribution
    # (augment.virtual_camera_config), e.g. ("elevation_deg=0,30",) for cameras near eye level
    wild_camera_set: tuple[str, ...] = ()
    # recipe "wild": where the batches are rendered. "auto": on the training device (a
    # GPU renders them far faster than the CPU; its random stream differs from the CPU's,
    # so a GPU run is reproducible on a GPU); "cpu": always on the CPU
    augment_device: str = "auto"
    # where and how the steps run (do not change the result beyond floating-point
    # rounding, except sync_bn with several processes: see poselift.training.distributed)
    device: str = "cpu"  # "cpu", "cuda" (GPU LOCAL_RANK) or "auto"
    precision: str = "fp32"  # or "bf16": torch.autocast around the forward passes
    sync_bn: bool = False  # batch-norm statistics over all processes' slices
    # warm start: a checkpoint or exported weights (or "bundled": the weights shipped in
    # the package) whose weights start this run; the architecture must match except
    # `causal` and `dropout`. The optimiser starts fresh. Ignored when resuming.
    init_from: str | None = None

    @property
    def semi_supervised(self) -> bool:
        return bool(self.subjects_unlabeled)

    @property
    def with_trajectory(self) -> bool:
        if self.semi_supervised:
            return True
        return self.trajectory if self.trajectory is not None else self.recipe == "wild"

    @property
    def input_layout(self) -> str:
        """Joint layout of the 2D input (``poselift.geometry.skeleton.INPUT_LAYOUTS``)."""
        return INPUT_LAYOUT_DETECTOR if self.recipe == "wild" else INPUT_LAYOUT_MOCAP

    def wild_noise(self) -> NoiseConfig:
        """The 2D corruption of the ``wild`` recipe."""
        return noise_model(self.wild_noise_model, clean_prob=self.wild_clean_fraction)

    def validate(self) -> None:
        """Raise :class:`PoseliftError` for settings that cannot work together (checked
        before any data or model is loaded; the device and batch split are checked by
        the trainer, which knows the machine)."""
        if self.augment_device not in ("auto", "cpu"):
            raise PoseliftError(f"`augment_device` must be 'auto' or 'cpu', got {self.augment_device!r}")
        skel_in, skel_out = skeletons_for(self.dataset, self.keypoints)
        if self.semi_supervised and skel_in != skel_out:
            raise PoseliftError(
                f"semi-supervised training compares the projected 3D with the input 2D, so input and output joints "
                f"must match; {self.dataset} '{self.keypoints}' keypoints are {skel_in.name}, the output is {skel_out.name}"
            )
        if self.warmup < 0:
            raise PoseliftError(f"`warmup` must be >= 0 epochs, got {self.warmup}")
        if self.recipe is not None and self.recipe not in RECIPES:
            raise PoseliftError(f"unknown `recipe` {self.recipe!r}; expected one of {', '.join(RECIPES)}")
        if self.recipe == "wild":
            if self.dataset != "h36m" or self.keypoints != "gt":
                raise PoseliftError(
                    "`recipe='wild'` trains on Human3.6M world 3D filmed by virtual cameras: it needs `dataset='h36m'` "
                    f"`keypoints='gt'`, got `dataset={self.dataset}` `keypoints={self.keypoints}`"
                )
            if self.semi_supervised:
                raise PoseliftError("`recipe='wild'` cannot be combined with `subjects_unlabeled`")
        if self.trajectory_channels is not None and self.trajectory_channels < 1:
            raise PoseliftError(f"`trajectory_channels` must be a positive integer, got {self.trajectory_channels}")
        if self.trajectory_channels is not None and not self.with_trajectory:
            raise PoseliftError(
                "`trajectory_channels` needs a trajectory model (`trajectory=True`, `recipe='wild'` or `subjects_unlabeled`)"
            )
        for name, fraction in (("wild_clean_fraction", self.wild_clean_fraction), ("wild_real_cameras", self.wild_real_cameras),
                               ("wild_limb_mix", self.wild_limb_mix)):
            if not 0 <= fraction <= 1:
                raise PoseliftError(f"`{name}` must be in [0, 1], got {fraction}")
            if fraction > 0 and self.recipe != "wild":
                raise PoseliftError(f"`{name}` only applies with `recipe='wild'`")
        if self.wild_noise_model not in NOISE_MODELS:
            raise PoseliftError(f"unknown `wild_noise_model` {self.wild_noise_model!r}; expected one of {', '.join(NOISE_MODELS)}")
        if self.wild_noise_model != "independent" and self.recipe != "wild":
            raise PoseliftError("`wild_noise_model` only applies with `recipe='wild'`")
        if self.wild_camera_set:
            if self.recipe != "wild":
                raise PoseliftError("`wild_camera_set` only applies with `recipe='wild'`")
            virtual_camera_config("wild", self.wild_camera_set)  # a clear error before any data loads

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filter_widths"] = list(self.filter_widths)
        d["wild_camera_set"] = list(self.wild_camera_set)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        for name in ("filter_widths", "wild_camera_set"):
            if name in d:
                d[name] = tuple(d[name])
        return cls(**d)

    def default_subjects(self) -> tuple[list[str], list[str]]:
        if self.dataset == "h36m":
            train, test = list(H36M_TRAIN_SUBJECTS), list(H36M_TEST_SUBJECTS)
        else:
            train, test = list(HUMANEVA_TRAIN_SUBJECTS), list(HUMANEVA_TRAIN_SUBJECTS)
        return self.subjects_train or train, self.subjects_test or test


@dataclass
class TrainState:
    """Mutable state of a run (restored on resume)."""

    epoch: int = 0  # epochs completed
    lr: float = 1e-3
    history: list[dict[str, float]] = field(default_factory=list)
    best_val_mpjpe_mm: float | None = None
    wall_time_s: float = 0.0


def model_config_for(cfg: TrainConfig) -> ModelConfig:
    skel_in, skel_out = skeletons_for(cfg.dataset, cfg.keypoints)
    return ModelConfig(
        num_joints_in=skel_in.num_joints,
        num_joints_out=skel_out.num_joints,
        filter_widths=tuple(cfg.filter_widths),
        channels=cfg.channels,
        dropout=cfg.dropout,
        causal=cfg.causal,
    )


def flip_spec_for(cfg: TrainConfig) -> FlipSpec:
    return FlipSpec.from_skeletons(*skeletons_for(cfg.dataset, cfg.keypoints))
