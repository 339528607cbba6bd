"""Vectorised windows for training and whole-sequence padding for inference.

All sequences are edge-padded once and concatenated into one ``[N, J, D]`` tensor;
a training batch is then a single gather ``flat[starts[:, None] + arange(RF)]``:
no per-sample Python loop. Flip augmentation doubles the sample list (every window
is seen plain and mirrored once per epoch), as in the original protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec, flip_keypoints, pad_sequence


@dataclass
class Batch:
    """One training batch. inputs ``[B, RF, J_in, 2]``; targets ``[B, 1, J_out, 3]``
    (root-relative metres, camera frame); trajectory ``[B, 1, 3]`` (root, metres,
    camera frame); intrinsics ``[B, 9]`` normalised; flipped ``[B]`` bool."""

    inputs: torch.Tensor
    targets: torch.Tensor | None
    trajectory: torch.Tensor | None
    intrinsics: torch.Tensor | None
    flipped: torch.Tensor

    def narrow(self, lo: int, hi: int) -> "Batch":
        """Samples ``[lo, hi)`` of this batch (views, no copy)."""
        pick = lambda t: None if t is None else t[lo:hi]  # noqa: E731
        return Batch(pick(self.inputs), pick(self.targets), pick(self.trajectory), pick(self.intrinsics), pick(self.flipped))

    def to(self, device: torch.device) -> "Batch":
        """The batch on ``device`` (unchanged on the device it is already on)."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.inputs), move(self.targets), move(self.trajectory), move(self.intrinsics), move(self.flipped))


#: Samples each rank needs at least per step: batch norm in training needs 2 rows.
MIN_SHARD_SAMPLES = 2


@dataclass(frozen=True)
class Shard:
    """Rank ``rank``'s share of every global batch when ``world_size`` processes train
    together (a distributed sampler over windows).

    All ranks draw the same permutation from identically seeded generators and cut
    each global batch of ``n`` samples into ``world_size`` contiguous slices whose
    sizes differ by at most one; rank ``r`` takes slice ``r``.
    """

    rank: int
    world_size: int

    def bounds(self, n: int) -> tuple[int, int]:
        """Sample range ``[lo, hi)`` of an ``n``-sample global batch that this rank takes."""
        return self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size

    def usable(self, n: int) -> bool:
        """Whether an ``n``-sample global batch gives every rank ``MIN_SHARD_SAMPLES``."""
        return n >= MIN_SHARD_SAMPLES * self.world_size


class WindowDataset:
    """Every frame of every sequence as one training window (one gather per batch).

    inputs: per-sequence ``[T, J_in, 2]`` normalised screen coordinates.
    targets: per-sequence ``[T, J_out, 3]`` camera-frame metres (absolute; the root
    is split off into the trajectory and the pose is made root-relative).
    stride: use every ``stride``-th frame as a target (windows stay at full rate).
    """

    def __init__(
        self,
        inputs: Sequence[np.ndarray],
        targets: Sequence[np.ndarray] | None,
        receptive_field: int,
        *,
        causal: bool = False,
        stride: int = 1,
        flip: FlipSpec | None = None,
        intrinsics: Sequence[np.ndarray] | None = None,
    ) -> None:
        if not inputs:
            raise PoseliftError("no training sequences were given")
        if stride < 1:
            raise PoseliftError(f"`stride` must be a positive integer, got {stride}")
        if targets is not None and len(targets) != len(inputs):
            raise PoseliftError("2D and 3D sequence lists differ in length")
        self.receptive_field = receptive_field
        self.flip = flip
        padded_inputs, starts = [], []
        offset = 0
        for i, seq in enumerate(inputs):
            t = seq.shape[0]
            if targets is not None and targets[i].shape[0] != t:
                raise PoseliftError(f"sequence {i}: 2D has {t} frames but 3D has {targets[i].shape[0]}")
            padded_inputs.append(pad_sequence(seq, receptive_field, causal))
            frames = np.arange(0, t, stride)
            starts.append(offset + frames)  # window for frame f starts at padded index f
            offset += t + receptive_field - 1
        self.inputs = torch.from_numpy(np.concatenate(padded_inputs).astype(np.float32))
        self.starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))
        self.seq_index = torch.from_numpy(
            np.concatenate([np.full(len(s), i, dtype=np.int64) for i, s in enumerate(starts)])
        )
        lengths = np.array([s.shape[0] for s in inputs])
        seq_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        frame_in_seq = np.concatenate([np.arange(0, t, stride) for t in lengths])
        self.target_index = torch.from_numpy(seq_offsets[self.seq_index.numpy()] + frame_in_seq)
        if targets is not None:
            all3d = np.concatenate(targets).astype(np.float32)
            self.trajectory = torch.from_numpy(all3d[:, 0].copy())
            rel = all3d - all3d[:, :1]
            self.targets = torch.from_numpy(rel)
        else:
            self.targets = None
            self.trajectory = None
        self.intrinsics = None
        if intrinsics is not None:
            self.intrinsics = torch.from_numpy(np.stack(intrinsics).astype(np.float32))
        self._window = torch.arange(receptive_field)

    def __len__(self) -> int:
        """Samples per epoch (doubled when flip augmentation is on)."""
        return len(self.starts) * (2 if self.flip is not None else 1)

    def gather(self, sample_ids: torch.Tensor) -> Batch:
        """Build the batch for sample ids in ``[0, len(self))`` in one gather."""
        n = len(self.starts)
        flipped = sample_ids >= n
        base = sample_ids % n
        windows = self.inputs[self.starts[base, None] + self._window]  # [B, RF, J, 2]
        targets = traj = intr = None
        if self.targets is not None:
            rows = self.target_index[base]
            targets = self.targets[rows].unsqueeze(1)
            traj = self.trajectory[rows].unsqueeze(1)
        if self.intrinsics is not None:
            intr = self.intrinsics[self.seq_index[base]]
        if self.flip is not None and bool(flipped.any()):
            windows = torch.where(flipped[:, None, None, None], flip_keypoints(windows, self.flip.keypoints_perm), windows)
            if targets is not None:
                targets = torch.where(flipped[:, None, None, None], flip_keypoints(targets, self.flip.joints_perm), targets)
                traj = torch.where(flipped[:, None, None], traj * torch.tensor([-1.0, 1.0, 1.0]), traj)
            if intr is not None:
                # mirroring the image negates cx (normalised) and p1 (tangential x term)
                sign = torch.tensor([1, 1, -1, 1, 1, 1, 1, -1, 1], dtype=intr.dtype)
                intr = torch.where(flipped[:, None], intr * sign, intr)
        return Batch(windows, targets, traj, intr, flipped)

    def batches(
        self, batch_size: int, generator: torch.Generator, shuffle: bool = True, shard: Shard | None = None
    ) -> Iterator[Batch]:
        """Iterate one epoch in random order (``generator`` makes it deterministic).

        ``shard``: yield only this rank's slice of each global batch of ``batch_size``
        (every rank must pass a generator in the same state); a last global batch too
        small to give each rank ``MIN_SHARD_SAMPLES`` samples is skipped.
        """
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for i in range(0, len(order), batch_size):
            ids = order[i : i + batch_size]
            if shard is not None:
                if not shard.usable(len(ids)):
                    return
                ids = ids[slice(*shard.bounds(len(ids)))]
            yield self.gather(ids)
