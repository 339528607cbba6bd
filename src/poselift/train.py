"""Supervised training of the temporal model (strided twin), resumable.

One call of :func:`train` runs (or resumes) a training run in ``run_dir``:

* data: sequences → normalised 2D windows (one gather per batch) and root-relative
  3D targets in metres, flip augmentation;
* model: the strided twin trains; its weights load into the full model for
  validation and for the saved checkpoint;
* optimiser: Adam (amsgrad), lr decayed ×``lr_decay`` per epoch, batch-norm
  momentum decayed 0.1 → 0.001 over the run;
* every epoch a checkpoint ``run_dir/last.pt`` is written atomically with weights,
  optimiser state, RNG states and JSON metadata; ``resume=True`` continues from it
  and gives the same weights as an uninterrupted run (CPU, same seed).
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

import poselift
from poselift import losses
from poselift.data.datasets import (
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    Sequence,
    downsample_sequences,
    load_dataset,
    normalized_keypoints,
    skeletons_for,
    subset_sequences,
)
from poselift.data.windows import FlipSpec, WindowDataset
from poselift.errors import PoseliftError
from poselift.evaluate import EvalResult, evaluate_sequences
from poselift.model import (
    ModelConfig,
    TemporalModel,
    TemporalModelStrided,
    bn_momentum_for_epoch,
    count_parameters,
    read_checkpoint,
    save_checkpoint,
)

log = logging.getLogger("poselift.train")

HUMANEVA_TRAIN_SUBJECTS = ("S1", "S2", "S3")


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint)."""

    dataset: str = "h36m"
    data_dir: str = "../shared/data/h36m"
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
    downsample: int = 1
    stride: int = 1
    seed: int = 1234
    flip_augment: bool = True
    flip_test: bool = True
    validate_every: int = 1
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filter_widths"] = list(self.filter_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "filter_widths" in d:
            d["filter_widths"] = tuple(d["filter_widths"])
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


def _versions() -> dict[str, str]:
    return {
        "poselift": poselift.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def load_split(cfg: TrainConfig, train: bool) -> list[Sequence]:
    """Load the training (``subset``/``downsample`` applied) or test sequences."""
    if cfg.dataset == "synthetic":
        from poselift.synthetic import synthetic_dataset

        seqs = synthetic_dataset(16, 400, seed=cfg.seed) if train else synthetic_dataset(4, 400, seed=cfg.seed + 1)
        if train:
            seqs = downsample_sequences(subset_sequences(seqs, cfg.subset, cfg.seed), cfg.downsample)
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
        seqs = subset_sequences(seqs, cfg.subset, cfg.seed)
        seqs = downsample_sequences(seqs, cfg.downsample)
    return seqs


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


class Trainer:
    """Holds the models, optimiser, data and RNGs of one run."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, *, progress: bool = True) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.progress = progress
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_config_for(cfg)
        self.model = TemporalModelStrided(self.model_cfg)
        self.eval_model = TemporalModel(self.model_cfg)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, amsgrad=True)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.state = TrainState(lr=cfg.lr)
        self.flip = flip_spec_for(cfg)
        self._train_data: WindowDataset | None = None
        self._test: tuple[list[Sequence], list[np.ndarray]] | None = None

    # ----------------------------------------------------------------- data
    @property
    def train_data(self) -> WindowDataset:
        if self._train_data is None:
            seqs = load_split(self.cfg, train=True)
            self._train_data = WindowDataset(
                [normalized_keypoints(s) for s in seqs],
                [s.positions_3d for s in seqs],
                self.model_cfg.receptive_field,
                causal=self.cfg.causal,
                stride=self.cfg.stride,
                flip=self.flip if self.cfg.flip_augment else None,
            )
            log.info("training data: %d sequences, %d samples per epoch", len(seqs), len(self._train_data))
        return self._train_data

    @property
    def test_data(self) -> tuple[list[Sequence], list[np.ndarray]]:
        if self._test is None:
            seqs = load_split(self.cfg, train=False)
            self._test = (seqs, [normalized_keypoints(s) for s in seqs])
        return self._test

    # ----------------------------------------------------------- checkpoints
    def metadata(self) -> dict[str, Any]:
        skel_in, skel_out = skeletons_for(self.cfg.dataset, self.cfg.keypoints)
        return {
            "model": self.model_cfg.to_dict(),
            "train": self.cfg.to_dict(),
            "state": asdict(self.state),
            "joints_in": skel_in.name,
            "joints_out": skel_out.name,
            "input": "normalised screen coordinates: x/w*2-1, y/w*2-h/w (pixels divided by image width)",
            "output": "metres, camera frame, relative to the root joint",
            "fps": 50.0 / self.cfg.downsample if self.cfg.dataset == "h36m" else 60.0 / self.cfg.downsample,
            "versions": _versions(),
            "command": " ".join(sys.argv),
        }

    def save(self, path: Path) -> None:
        eval_state = self.model.state_dict()
        payload = {
            "model_pos": eval_state,
            "optimizer": self.optimizer.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "rng_data": self.generator.get_state(),
        }
        save_checkpoint(path, payload, self.metadata())

    def load(self, path: Path) -> None:
        payload, meta = read_checkpoint(path)
        saved = TrainConfig.from_dict(meta.get("train", {}))
        if ModelConfig.from_dict(meta["model"]) != self.model_cfg:
            raise PoseliftError(f"cannot resume from {path}: its model config differs from this run's options")
        if saved.epochs != self.cfg.epochs:
            log.info("resuming with --epochs %d (checkpoint was started with %d)", self.cfg.epochs, saved.epochs)
        self.model.load_state_dict(payload["model_pos"])
        self.optimizer.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["rng_torch"])
        self.generator.set_state(payload["rng_data"])
        st = meta["state"]
        self.state = TrainState(**st)
        for group in self.optimizer.param_groups:
            group["lr"] = self.state.lr

    # -------------------------------------------------------------- training
    def train_epoch(self) -> dict[str, float]:
        from tqdm import tqdm

        data = self.train_data
        epoch = self.state.epoch
        self.model.train()
        self.model.set_bn_momentum(bn_momentum_for_epoch(epoch, self.cfg.epochs))
        total, count = 0.0, 0
        start = time.perf_counter()
        n_batches = (len(data) + self.cfg.batch_size - 1) // self.cfg.batch_size
        bar = tqdm(
            data.batches(self.cfg.batch_size, self.generator),
            total=n_batches,
            desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
            unit="batch",
            disable=not self.progress,
            file=sys.stderr,
            leave=False,
        )
        for i, batch in enumerate(bar):
            pred = self.model(batch.inputs)
            loss = losses.mpjpe_loss(pred, batch.targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            n = batch.inputs.shape[0]
            total += float(loss.detach()) * n
            count += n
            if i % 20 == 0:
                elapsed = time.perf_counter() - start
                bar.set_postfix(loss_mm=f"{total / count * 1000:.1f}", samples_s=f"{count / max(elapsed, 1e-9):.0f}")
        elapsed = time.perf_counter() - start
        return {"train_mpjpe_mm": total / count * 1000, "samples_per_s": count / elapsed, "epoch_time_s": elapsed}

    def validate(self) -> EvalResult:
        self.eval_model.load_state_dict(self.model.state_dict())
        seqs, inputs = self.test_data
        return evaluate_sequences(self.eval_model, seqs, inputs, None, full_metrics=False)

    def fit(self) -> TrainState:
        """Train until ``cfg.epochs`` epochs are complete, checkpointing each epoch."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "model: RF %d, %d channels, %.2f M parameters; %d epochs, batch %d",
            self.model_cfg.receptive_field, self.model_cfg.channels,
            count_parameters(self.model) / 1e6, self.cfg.epochs, self.cfg.batch_size,
        )
        while self.state.epoch < self.cfg.epochs:
            t0 = time.perf_counter()
            record = self.train_epoch()
            record["epoch"] = self.state.epoch + 1
            record["lr"] = self.state.lr
            if self.cfg.validate_every and (self.state.epoch + 1) % self.cfg.validate_every == 0:
                val = self.validate()
                record["val_mpjpe_mm"] = val.mpjpe_mm
                if self.state.best_val_mpjpe_mm is None or val.mpjpe_mm < self.state.best_val_mpjpe_mm:
                    self.state.best_val_mpjpe_mm = val.mpjpe_mm
            self.state.epoch += 1
            self.state.lr *= self.cfg.lr_decay
            for group in self.optimizer.param_groups:
                group["lr"] = self.state.lr
            self.state.wall_time_s += time.perf_counter() - t0
            self.state.history.append(record)
            self.save(self.run_dir / "last.pt")
            log.info(
                "epoch %d/%d: train %.1f mm%s, %.0f samples/s, %.0f s",
                record["epoch"], self.cfg.epochs, record["train_mpjpe_mm"],
                f", val MPJPE {record['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in record else "",
                record["samples_per_s"], record["epoch_time_s"],
            )
        return self.state


def train(cfg: TrainConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) training; returns the path of the final checkpoint."""
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    if last.exists() and not resume:
        raise PoseliftError(f"{last} already exists; pass --resume to continue that run or choose another --out")
    trainer = Trainer(cfg, run_dir, progress=progress)
    if resume:
        if not last.exists():
            raise PoseliftError(f"--resume given but {last} does not exist")
        trainer.load(last)
        log.info("resumed from %s at epoch %d", last, trainer.state.epoch)
    trainer.fit()
    return last
