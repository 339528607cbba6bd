"""Supervised training of the temporal model (strided twin), resumable.

One call of :func:`train` runs (or resumes) a training run in ``run_dir``:

* data: sequences → normalised 2D windows (one gather per batch) and root-relative
  3D targets in metres, flip augmentation; or, with ``recipe="wild"``, the world 3D
  filmed by random virtual cameras with detector-like noise (:mod:`poselift.data.virtual_cameras`);
* model: the strided twin trains; its weights load into the full model for
  validation and for the saved checkpoint;
* optimiser: Adam (amsgrad), lr decayed ×``lr_decay`` per epoch, batch-norm
  momentum decayed 0.1 → 0.001 over the run;
* every epoch a checkpoint ``run_dir/last.pt`` is written atomically with weights,
  optimiser state, RNG states and JSON metadata; ``resume=True`` continues from it
  and gives the same weights as an uninterrupted run (CPU, same seed);
* several processes (``torchrun``, :mod:`poselift.training.distributed`): DistributedDataParallel
  over the strided models, each rank a contiguous slice of every global batch, rank 0
  validates and writes the checkpoints (unwrapped weights, loadable anywhere).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from poselift.data.datasets import (
    Sequence,
    normalized_keypoints,
    skeletons_for,
)
from poselift.data.wild import WildWindowDataset
from poselift.data.windows import Batch, WindowDataset
from poselift.errors import PoseliftError
from poselift.evaluation.protocol import EvalResult, evaluate_sequences
from poselift.geometry import camera as cam
from poselift.io.locks import folder_lock
from poselift.io.staging import check_destination, created_folder
from poselift.models import losses
from poselift.models.checkpoint import load_initial_weights, read_checkpoint, save_checkpoint
from poselift.models.lifter import default_weights_path
from poselift.models.temporal import (
    TemporalModel,
    TemporalModelStrided,
    bn_momentum_for_epoch,
    count_parameters,
)
from poselift.training.config import (
    TrainConfig,
    TrainState,
    flip_spec_for,
    model_config_for,
)
from poselift.training.data import (
    load_real_cameras,
    load_split,
    load_unlabeled,
    load_world_split,
    wild_augmentation,
)
from poselift.training.distributed import (
    DistContext,
    check_batch_size,
    check_precision,
    convert_row_sync_batchnorm,
    resolve_device,
)
from poselift.training.resume import (
    check_resumable,
    own_rng_state,
    restore_rng,
    run_metadata,
)

log = logging.getLogger("poselift.training.trainer")


class _TrainNets(nn.Module):
    """The strided pose model and optional trajectory model as one module, so that
    one DistributedDataParallel wrapper (one gradient reducer) covers both."""

    def __init__(self, pose: TemporalModelStrided, traj: TemporalModelStrided | None) -> None:
        super().__init__()
        self.pose = pose
        self.traj = traj

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[B, RF, J_in, 2]`` → pose ``[B, 1, J_out, 3]``, trajectory ``[B, 1, 1, 3]`` or None."""
        return self.pose(x), (self.traj(x) if self.traj is not None else None)


class Trainer:
    """Holds the models, optimiser, data and RNGs of one run.

    ``dist``: this process's place in a multi-process run (default: single process).
    """

    def __init__(
        self, cfg: TrainConfig, run_dir: str | Path, *, progress: bool = True, dist: DistContext | None = None
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.dist = dist or DistContext()
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        check_precision(cfg.precision, self.device)
        check_batch_size(cfg.batch_size, self.dist.world_size)
        cfg.validate()  # every check that needs only the config, before anything loads
        # where the training batches are made: wild batches on the training device unless
        # asked otherwise; file-backed windows always on the CPU
        on_device = cfg.recipe == "wild" and cfg.augment_device == "auto"
        self.data_device = self.device if on_device else torch.device("cpu")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_config_for(cfg)
        _, skel_out = skeletons_for(cfg.dataset, cfg.keypoints)
        self.parents = torch.tensor([p for p in skel_out.parents if p >= 0], device=self.device)
        self.children = torch.tensor([j for j, p in enumerate(skel_out.parents) if p >= 0], device=self.device)
        self.model = TemporalModelStrided(self.model_cfg)
        self.eval_model = TemporalModel(self.model_cfg)
        self.traj_cfg = replace(self.model_cfg, num_joints_out=1, channels=cfg.trajectory_channels or cfg.channels)
        self.traj_model: TemporalModelStrided | None = None
        self.eval_traj_model: TemporalModel | None = None
        if cfg.with_trajectory:
            self.traj_model = TemporalModelStrided(self.traj_cfg)
            self.eval_traj_model = TemporalModel(self.traj_cfg)
        self._ddp = self._prepare_models()
        params = list(self.model.parameters())
        if self.traj_model is not None:
            params += list(self.traj_model.parameters())
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, amsgrad=True)
        if self.dist.enabled:
            torch.manual_seed(cfg.seed + self.dist.rank)  # own dropout masks per rank; the data generators are shared
        self._rank_rng: list[dict[str, torch.Tensor]] | None = None
        self.generator = torch.Generator(device=self.data_device).manual_seed(cfg.seed)
        self.generator_unlabeled = torch.Generator().manual_seed(cfg.seed + 4321)
        self.state = TrainState(lr=cfg.lr)
        self.flip = flip_spec_for(cfg)
        self._train_data: WindowDataset | WildWindowDataset | None = None
        self._unlabeled_data: WindowDataset | None = None
        self._test: tuple[list[Sequence], list[np.ndarray]] | None = None
        self._input_height_p99: float | None = None

    def _prepare_models(self) -> nn.Module | None:
        """Move the models to the device; with several processes, optionally
        synchronise batch norm and wrap the training models in DDP (returned)."""
        if self.cfg.sync_bn and not self.dist.enabled:
            log.info("--sync-bn has no effect in a single process (batch norm already sees the whole batch)")
        if self.cfg.sync_bn and self.dist.enabled:
            group = torch.distributed.new_group()  # own group: BN collectives never interleave with DDP's
            for m in (self.model, self.traj_model):
                if m is not None:
                    convert_row_sync_batchnorm(m, group)
        if self.device.type != "cpu":
            for m in (self.model, self.eval_model, self.traj_model, self.eval_traj_model):
                if m is not None:
                    m.to(self.device)
        if not self.dist.enabled:
            return None
        nets = _TrainNets(self.model, self.traj_model)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(nets, device_ids=device_ids)

    # ----------------------------------------------------------------- data
    @property
    def train_data(self) -> WindowDataset | WildWindowDataset:
        if self._train_data is None and self.cfg.recipe == "wild":
            world = load_world_split(self.cfg)
            self._train_data = WildWindowDataset(
                [s.positions_world for s in world],
                self.model_cfg.receptive_field,
                causal=self.cfg.causal,
                stride=self.cfg.stride,
                real_cameras=load_real_cameras(self.cfg, world) if self.cfg.wild_real_cameras > 0 else None,
                **wild_augmentation(self.cfg),
            )
            self._train_data.to(self.data_device)
            log.info(
                "wild training data: %d recordings, %d samples per epoch, rendered on %s",
                len(world), len(self._train_data), self.data_device,
            )
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
    def unlabeled_data(self) -> WindowDataset | None:
        if self._unlabeled_data is None and self.cfg.semi_supervised:
            seqs = load_unlabeled(self.cfg)
            self._unlabeled_data = WindowDataset(
                [normalized_keypoints(s) for s in seqs],
                None,
                self.model_cfg.receptive_field,
                causal=self.cfg.causal,
                stride=self.cfg.stride,
                flip=self.flip if self.cfg.flip_augment else None,
                intrinsics=[s.intrinsics.vector(normalized=True) for s in seqs],
            )
            log.info("unlabeled data: %d sequences, %d windows", len(seqs), len(self._unlabeled_data))
        return self._unlabeled_data

    @property
    def test_data(self) -> tuple[list[Sequence], list[np.ndarray]]:
        if self._test is None:
            seqs = load_split(self.cfg, train=False)
            self._test = (seqs, [normalized_keypoints(s) for s in seqs])
        return self._test

    # ----------------------------------------------------------- checkpoints
    def metadata(self) -> dict[str, Any]:
        meta = run_metadata(
            self.cfg, self.model_cfg, self.traj_cfg if self.traj_model is not None else None, self.state,
            self.dist.world_size, self.device,
        )
        if self.cfg.recipe == "wild":
            meta["input_height_p99"] = self.input_height_p99
        return meta

    @property
    def input_height_p99(self) -> float:
        """The 99th percentile of the training windows' 2D height (screen units; the size
        ``poselift infer``'s guard allows), measured once from the training data."""
        if self._input_height_p99 is None:
            heights = self.train_data.screen_heights()
            self._input_height_p99 = round(float(np.quantile(heights, 0.99)), 4)
        return self._input_height_p99

    def _own_rng_state(self) -> dict[str, torch.Tensor]:
        return own_rng_state(self.device)

    def _weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The unwrapped state dict (no DDP ``module.`` prefix), on the CPU."""
        state = model.state_dict()
        return state if self.device.type == "cpu" else {k: v.detach().cpu() for k, v in state.items()}

    def save(self, path: Path) -> None:
        """Write the checkpoint (called on rank 0 only; see :meth:`checkpoint`)."""
        own = self._own_rng_state()
        payload = {
            "model_pos": self._weights(self.model),
            "optimizer": self.optimizer.state_dict(),
            "rng_torch": own["cpu"],
            "rng_data": self.generator.get_state(),  # shared by all ranks
            "rng_data_device": self.generator.device.type,
            "rng_unlabeled": self.generator_unlabeled.get_state(),
        }
        if "cuda" in own:
            payload["rng_cuda"] = own["cuda"]
        if self._rank_rng is not None:  # one entry per rank, gathered by checkpoint()
            payload["rng_torch_ranks"] = [r["cpu"] for r in self._rank_rng]
            if "cuda" in own:
                payload["rng_cuda_ranks"] = [r["cuda"] for r in self._rank_rng]
        if self.traj_model is not None:
            payload["model_traj"] = self._weights(self.traj_model)
        save_checkpoint(path, payload, self.metadata())

    def checkpoint(self, path: Path) -> None:
        """Every rank: gather the per-rank RNG states; rank 0 writes ``path``; all wait
        until it is written."""
        if self.dist.enabled:
            self._rank_rng = self.dist.all_gather_object(self._own_rng_state())
        if self.dist.is_main:
            self.save(path)
        self.dist.barrier()

    def warm_start(self) -> None:
        """Start the weights from ``cfg.init_from`` (a new run only; see :class:`TrainConfig`)."""
        if not self.cfg.init_from:
            return
        path = default_weights_path() if self.cfg.init_from == "bundled" else Path(self.cfg.init_from)
        targets: dict[str, nn.Module] = {"model_pos": self.model}
        if self.traj_model is not None:
            targets["model_traj"] = self.traj_model
        loaded = load_initial_weights(path, targets)
        log.info(
            "warm start from %s: pose model%s", path,
            "" if self.traj_model is None else (
                " and trajectory model" if loaded.get("model_traj") else " (the file has no trajectory model: it starts fresh)"
            ),
        )

    def load(self, path: Path) -> None:
        payload, meta = read_checkpoint(path)
        traj_cfg = self.traj_cfg if self.traj_model is not None else None
        saved = check_resumable(path, payload, meta, self.cfg, self.model_cfg, traj_cfg)
        if saved.init_from != self.cfg.init_from:  # provenance: the weights the run started from
            self.cfg = replace(self.cfg, init_from=saved.init_from)
        if saved.epochs != self.cfg.epochs:
            log.info("resuming with --epochs %d (checkpoint was started with %d)", self.cfg.epochs, saved.epochs)
        self.model.load_state_dict(payload["model_pos"])
        if self.traj_model is not None:
            self.traj_model.load_state_dict(payload["model_traj"])
        self.optimizer.load_state_dict(payload["optimizer"])
        saved_device = payload.get("rng_data_device", "cpu")
        if saved_device == self.generator.device.type:
            self.generator.set_state(payload["rng_data"])
        else:
            self.generator.manual_seed(self.cfg.seed + 7919 * (int(meta["state"]["epoch"]) + 1))
            log.warning(
                "%s rendered its batches on %s, this run renders them on %s: continuing with a fresh data "
                "stream (the result will differ from an uninterrupted run; --augment-device cpu keeps the CPU stream)",
                path, saved_device, self.generator.device.type,
            )
        if "rng_unlabeled" in payload:
            self.generator_unlabeled.set_state(payload["rng_unlabeled"])
        self.state = TrainState(**meta["state"])
        restore_rng(payload, self.dist.rank, self.cfg.seed, self.state.epoch, self.device)
        if meta.get("world_size", 1) != self.dist.world_size:
            log.info(
                "resuming a %d-process checkpoint with %d process(es): same global batch, same data order",
                meta.get("world_size", 1), self.dist.world_size,
            )
        for group in self.optimizer.param_groups:
            group["lr"] = self.state.lr

    # -------------------------------------------------------------- training
    def _unlabeled_batches(self, batch_size: int):
        """Endless shuffled unlabeled batches; a fresh permutation when one is used up."""
        data = self.unlabeled_data
        assert data is not None
        shard = self.dist.shard()
        if shard is not None and not shard.usable(min(batch_size, len(data))):
            raise PoseliftError(f"{len(data)} unlabeled windows are too few for {shard.world_size} processes")
        while True:
            yield from data.batches(batch_size, self.generator_unlabeled, shard=shard)

    def _centre_frame(self, windows: torch.Tensor) -> torch.Tensor:
        """The input frame a single-frame output belongs to: ``[B, 1, J, 2]``."""
        rf = self.model_cfg.receptive_field
        idx = rf - 1 if self.model_cfg.causal else (rf - 1) // 2
        return windows[:, idx : idx + 1]

    def _bone_lengths(self, pose: torch.Tensor) -> torch.Tensor:
        """Batch-mean bone lengths ``[bones]`` of ``[B, 1, J, 3]`` poses."""
        return torch.linalg.vector_norm(pose[:, :, self.children] - pose[:, :, self.parents], dim=-1).mean(dim=(0, 1))

    def step_losses(self, batch, unlabeled_batch=None) -> dict[str, torch.Tensor]:
        """Losses of one step (metres; ``total`` is what is minimised).

        The labeled and unlabeled windows go through the models in one forward pass,
        so batch normalisation sees both. With ``--precision bf16`` the forward passes
        run under autocast and the losses in fp32.
        """
        n = batch.inputs.shape[0]
        x = batch.inputs if unlabeled_batch is None else torch.cat([batch.inputs, unlabeled_batch.inputs])
        with self._autocast():
            pose, traj = self._forward(x)
        pose = pose.float()  # no-op in fp32
        out: dict[str, torch.Tensor] = {"pose": losses.mpjpe_loss(pose[:n], batch.targets)}
        total = out["pose"]
        if traj is not None:
            traj = traj.float()  # [B, 1, 1, 3]
            target = batch.trajectory[:, :, None]  # [B, 1, 1, 3]
            weights = 1.0 / target[..., 2]  # far subjects matter less
            out["trajectory"] = losses.weighted_mpjpe_loss(traj[:n], target, weights)
            total = total + out["trajectory"]
        if unlabeled_batch is not None:
            assert traj is not None
            if self.cfg.projection:
                absolute = pose[n:] + traj[n:]
                project = cam.project_to_2d_linear if self.cfg.linear_projection else cam.project_to_2d
                projected = project(absolute, unlabeled_batch.intrinsics)
                out["reprojection"] = losses.mpjpe_loss(projected, self._centre_frame(unlabeled_batch.inputs))
                total = total + out["reprojection"]
            if self.cfg.bone_length:
                out["bone_length"] = (self._bone_lengths(pose[:n]) - self._bone_lengths(pose[n:])).abs().mean()
                total = total + out["bone_length"]
        out["total"] = total
        return out

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pose ``[B, 1, J_out, 3]`` and trajectory ``[B, 1, 1, 3]`` (or None) of windows
        ``[B, RF, J_in, 2]``, through DDP when several processes train."""
        if self._ddp is not None:
            return self._ddp(x)
        pose = self.model(x)
        traj = self.traj_model(x) if self.traj_model is not None else None
        return pose, traj

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _on_device(self, batch: Batch | None) -> Batch | None:
        return batch if batch is None or self.device.type == "cpu" else batch.to(self.device)

    def _shard_weight(self, local: int, step: int, total: int) -> float:
        """Factor on this rank's loss so that DDP's gradient average equals the
        gradient of the mean over the global batch of step ``step`` (1 when every rank
        holds the same number of the global batch's samples; ``total``: epoch samples)."""
        if not self.dist.enabled:
            return 1.0
        global_n = min(self.cfg.batch_size, total - step * self.cfg.batch_size)
        return self.dist.world_size * local / global_n

    def train_epoch(self) -> dict[str, float]:
        """One epoch over the (sharded) training windows; the record's means are over
        all samples of all ranks (``train_mpjpe_mm`` in mm)."""
        from tqdm import tqdm

        data = self.train_data
        epoch = self.state.epoch
        semi = self.cfg.semi_supervised and epoch >= self.cfg.warmup
        if self._ddp is not None:
            self._ddp.train()
        self.model.train()
        momentum = bn_momentum_for_epoch(epoch, self.cfg.epochs)
        self.model.set_bn_momentum(momentum)
        if self.traj_model is not None:
            self.traj_model.train()
            self.traj_model.set_bn_momentum(momentum)
        sums: dict[str, float] = {}
        count = 0
        start = time.perf_counter()
        n_batches = (len(data) + self.cfg.batch_size - 1) // self.cfg.batch_size
        unlabeled = self._unlabeled_batches(self.cfg.batch_size) if semi else None
        bar = tqdm(
            data.batches(self.cfg.batch_size, self.generator, shard=self.dist.shard()),
            total=n_batches,
            desc=f"epoch {epoch + 1}/{self.cfg.epochs}" + (" (semi)" if semi else ""),
            unit="batch",
            disable=not (self.progress and self.dist.is_main),
            file=sys.stderr,
            leave=False,
        )
        for i, batch in enumerate(bar):
            unlabeled_batch = self._on_device(next(unlabeled)) if unlabeled is not None else None
            batch = self._on_device(batch)
            terms = self.step_losses(batch, unlabeled_batch)
            self.optimizer.zero_grad(set_to_none=True)
            n = batch.inputs.shape[0]
            weight = self._shard_weight(n, i, len(data))  # 1 except in an unevenly split last batch
            (terms["total"] if weight == 1.0 else terms["total"] * weight).backward()
            self.optimizer.step()
            for k, v in terms.items():  # summed on the device: no GPU sync per step
                sums[k] = sums.get(k, 0.0) + v.detach().double() * n
            count += n
            if i % 20 == 0 and not bar.disable:
                elapsed = time.perf_counter() - start
                bar.set_postfix(loss_mm=f"{float(sums['pose']) / count * 1000:.1f}", samples_s=f"{count / max(elapsed, 1e-9):.0f}")
        sums = {k: float(v) for k, v in sums.items()}
        elapsed = time.perf_counter() - start
        if self.dist.enabled:  # sums and sample count over all ranks
            keys = sorted(sums)
            reduced = self.dist.all_reduce_sum([sums[k] for k in keys] + [float(count)], self.device)
            sums, count = dict(zip(keys, reduced[:-1])), reduced[-1]
        if not count:
            raise PoseliftError(f"{len(data)} training windows are too few for {self.dist.world_size} processes")
        record = {"train_mpjpe_mm": sums["pose"] / count * 1000, "samples_per_s": count / elapsed, "epoch_time_s": elapsed}
        if "trajectory" in sums:
            record["train_trajectory_loss"] = sums["trajectory"] / count
        if "reprojection" in sums:
            record["train_reprojection"] = sums["reprojection"] / count  # normalised screen units
        if "bone_length" in sums:
            record["train_bone_length_mm"] = sums["bone_length"] / count * 1000
        return record

    def validate(self) -> EvalResult:
        """MPJPE of the full model on the test split (on the training device)."""
        self.eval_model.load_state_dict(self.model.state_dict())
        traj = None
        if self.traj_model is not None and self.eval_traj_model is not None:
            self.eval_traj_model.load_state_dict(self.traj_model.state_dict())
            traj = self.eval_traj_model
        seqs, inputs = self.test_data
        return evaluate_sequences(self.eval_model, seqs, inputs, None, full_metrics=False, trajectory_model=traj)

    def fit(self, stop_after: int | None = None) -> TrainState:
        """Train until ``cfg.epochs`` epochs are complete, checkpointing each epoch.

        ``stop_after``: return after this many epochs of this call (the run can be
        resumed later and ends exactly as an uninterrupted one).
        """
        done_here = 0
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "model: RF %d, %d channels, %.2f M parameters%s; %d epochs, batch %d%s",
            self.model_cfg.receptive_field, self.model_cfg.channels,
            count_parameters(self.model) / 1e6,
            " (+ trajectory model)" if self.traj_model is not None else "",
            self.cfg.epochs, self.cfg.batch_size,
            f", semi-supervised on {','.join(self.cfg.subjects_unlabeled or [])} after {self.cfg.warmup} warm-up epoch(s)"
            if self.cfg.semi_supervised else "",
        )
        if self.dist.enabled or self.device.type != "cpu" or self.cfg.precision != "fp32":
            log.info(
                "%d process(es)%s on %s, %s%s; global batch %d = %d per process",
                self.dist.world_size, f" ({self.dist.backend})" if self.dist.backend else "", self.device,
                self.cfg.precision, ", synchronised batch norm" if self.cfg.sync_bn and self.dist.enabled else "",
                self.cfg.batch_size, self.cfg.batch_size // self.dist.world_size,
            )
        while self.state.epoch < self.cfg.epochs:
            if stop_after is not None and done_here >= stop_after:
                log.info("stopping after %d epoch(s) as asked; continue with --resume", done_here)
                break
            done_here += 1
            t0 = time.perf_counter()
            record = self.train_epoch()
            record["epoch"] = self.state.epoch + 1
            record["lr"] = self.state.lr
            if self.dist.enabled:
                record["world_size"] = self.dist.world_size
            validate = self.cfg.validate_every and (self.state.epoch + 1) % self.cfg.validate_every == 0
            if validate and self.dist.is_main:  # the other ranks wait at the checkpoint barrier
                val = self.validate()
                record["val_mpjpe_mm"] = val.mpjpe_mm
                if val.trajectory_mm is not None:
                    record["val_trajectory_mm"] = val.trajectory_mm
                if self.state.best_val_mpjpe_mm is None or val.mpjpe_mm < self.state.best_val_mpjpe_mm:
                    self.state.best_val_mpjpe_mm = val.mpjpe_mm
            self.state.epoch += 1
            self.state.lr *= self.cfg.lr_decay
            for group in self.optimizer.param_groups:
                group["lr"] = self.state.lr
            self.state.wall_time_s += time.perf_counter() - t0
            self.state.history.append(record)
            self.checkpoint(self.run_dir / "last.pt")
            log.info(
                "epoch %d/%d: train %.1f mm%s%s, %.0f samples/s, %.0f s",
                record["epoch"], self.cfg.epochs, record["train_mpjpe_mm"],
                f", reprojection {record['train_reprojection']:.4f}" if "train_reprojection" in record else "",
                f", val MPJPE {record['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in record else "",
                record["samples_per_s"], record["epoch_time_s"],
            )
        return self.state


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    dist: DistContext | None = None,
) -> Path:
    """Run (or resume) training; returns the path of the final checkpoint.

    ``dist``: this process's rank in a multi-process run (:func:`poselift.training.distributed.init_from_env`;
    default: single process). Every rank calls this with the same arguments.
    """
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    main = dist is None or dist.is_main
    if main:
        check_destination(run_dir, folder=True)  # read-only, not a folder: before any data loads
    if last.exists() and not resume:
        raise PoseliftError(f"{last} already exists; pass `resume=True` to continue that run or choose another `run_dir`")
    if resume and not last.exists():
        raise PoseliftError(f"`resume=True` given but {last} does not exist (no run to continue there: check `run_dir`, or drop `resume` to start a new run)")
    # rank 0 writes the run folder: it creates it (removed again if the run fails before
    # its first checkpoint) and holds its lock (a second run there stops at once)
    with created_folder(run_dir) if main else contextlib.nullcontext(), folder_lock(run_dir) if main else contextlib.nullcontext():
        trainer = Trainer(cfg, run_dir, progress=progress, dist=dist)
        if resume:
            trainer.load(last)
            log.info("resumed from %s at epoch %d", last, trainer.state.epoch)
        else:
            trainer.warm_start()
        trainer.fit(stop_after)
    return last
