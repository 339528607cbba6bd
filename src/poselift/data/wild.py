"""The ``wild`` training recipe's data: each window of world 3D filmed by a random
virtual camera (:mod:`poselift.data.virtual_cameras`), converted to the detector
joint layout and corrupted like real detections (:mod:`poselift.data.noise`), with
flips; one vectorised call per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from poselift.data.datasets import Sequence
from poselift.data.limb_mix import mix_limbs
from poselift.data.noise import NoiseConfig, corrupt_keypoints
from poselift.data.virtual_cameras import (
    CameraBatch,
    VirtualCameraConfig,
    _push_back,
    _sample_cameras,
)
from poselift.data.windows import Batch, Shard
from poselift.errors import PoseliftError
from poselift.geometry.camera import project_to_2d
from poselift.geometry.sequence import flip_keypoints, pad_sequence
from poselift.geometry.skeleton import H36M_17, detector_layout_from_h36m


def flip_batch(inputs, targets, trajectory, intrinsics, flipped, perm, *, masked: bool | None = None):
    """Mirror the selected items of a batch: negate x of 2D and 3D, swap left/right
    (``perm``), negate the trajectory x and the principal point ``cx``. ``masked``
    (default: off on the CPU): mirror every item and keep the selected ones, with no
    host synchronisation (see :func:`corrupt_keypoints`); the same result."""
    if masked if masked is not None else inputs.device.type != "cpu":
        keep = flipped[:, None, None, None]
        inputs = torch.where(keep, flip_keypoints(inputs, perm), inputs)
        targets = torch.where(keep, flip_keypoints(targets, perm), targets)
    else:
        sel = flipped.nonzero()[:, 0]
        inputs, targets = inputs.clone(), targets.clone()
        inputs[sel] = flip_keypoints(inputs[sel], perm)
        targets[sel] = flip_keypoints(targets[sel], perm)
    trajectory = torch.where(flipped[:, None, None], trajectory * torch.tensor([-1.0, 1.0, 1.0], dtype=trajectory.dtype, device=trajectory.device), trajectory)
    sign = torch.tensor([1, 1, -1, 1, 1, 1, 1, -1, 1], dtype=intrinsics.dtype, device=intrinsics.device)
    intrinsics = torch.where(flipped[:, None], intrinsics * sign, intrinsics)
    return inputs, targets, trajectory, intrinsics


class WildWindowDataset:
    """Training windows of world-frame H36M-17 motion seen by random virtual cameras.

    world: per-sequence ``[T, 17, 3]`` world metres (z up). They are edge-padded and
    concatenated once; a batch is one gather of ``[B, RF, 17, 3]`` world windows, then
    per window: a static random camera aimed at the output frame's root
    (:func:`sample_cameras`, every joint of the window in front), pinhole projection to
    screen coordinates, the detector joint layout (:func:`detector_layout_from_h36m`,
    unless ``detector_layout=False``), :func:`corrupt_keypoints` (``noise=None``: off)
    and a random horizontal flip with probability 0.5 (``flip``).

    Batches are :class:`poselift.data.windows.Batch`: inputs ``[B, RF, 17, 2]``,
    targets ``[B, 1, 17, 3]`` (mocap joints, camera frame, root-relative metres),
    trajectory ``[B, 1, 3]`` (camera-frame root), intrinsics ``[B, 9]`` (normalised).

    An epoch visits every target frame ``samples_per_window`` times (each time with
    another camera); stride as in :class:`~poselift.data.windows.WindowDataset`.

    ``real_cameras`` (one :class:`CameraBatch` per sequence: its recording's calibrated
    cameras, normalised intrinsics with distortion) and ``real_camera_prob``: that share
    of the windows is filmed by one of them (uniformly chosen, lens distortion applied)
    instead of a random camera. With ``real_camera_prob=0`` no extra random numbers are
    drawn, so the batches are exactly those of a dataset without real cameras.

    ``limb_mix``: probability per window and limb group that the window's arms (or legs)
    move as those of another window of the batch (:func:`poselift.data.limb_mix.mix_limbs`),
    before the camera; 0 (default) draws nothing.
    """

    def __init__(
        self,
        world: Sequence[np.ndarray],
        receptive_field: int,
        *,
        causal: bool = False,
        stride: int = 1,
        flip: bool = True,
        camera: VirtualCameraConfig | None = None,
        noise: NoiseConfig | None = None,
        detector_layout: bool = True,
        samples_per_window: int = 1,
        real_cameras: Sequence[CameraBatch] | None = None,
        real_camera_prob: float = 0.0,
        limb_mix: float = 0.0,
    ) -> None:
        if not world:
            raise PoseliftError("no training sequences were given")
        if not 0 <= real_camera_prob <= 1:
            raise PoseliftError(f"real_camera_prob must be in [0, 1], got {real_camera_prob}")
        if real_camera_prob > 0 and (real_cameras is None or len(real_cameras) != len(world)):
            raise PoseliftError("real_camera_prob > 0 needs real_cameras: one CameraBatch per world sequence")
        if stride < 1:
            raise PoseliftError(f"`stride` must be a positive integer, got {stride}")
        if not 0 <= limb_mix <= 1:
            raise PoseliftError(f"limb_mix must be in [0, 1], got {limb_mix}")
        if samples_per_window < 1:
            raise PoseliftError(f"samples_per_window must be >= 1, got {samples_per_window}")
        self.receptive_field = receptive_field
        self.flip = flip
        self.camera = camera or VirtualCameraConfig()
        self.noise = noise
        self.detector_layout = detector_layout
        self.samples_per_window = samples_per_window
        self.limb_mix = limb_mix
        self.centre = receptive_field - 1 if causal else (receptive_field - 1) // 2
        padded, starts = [], []
        offset = 0
        for i, seq in enumerate(world):
            seq = np.asarray(seq)
            if seq.ndim != 3 or seq.shape[1:] != (17, 3) or seq.shape[0] == 0:
                raise PoseliftError(f"world sequence {i}: expected [frames, 17, 3], got {list(seq.shape)}")
            padded.append(pad_sequence(seq, receptive_field, causal))
            starts.append(offset + np.arange(0, seq.shape[0], stride))
            offset += seq.shape[0] + receptive_field - 1
        # coordinate-major [3, N, 17]: a gather gives x, y, z planes [B, RF, 17] that the
        # per-window camera transform combines with cheap element-wise ops
        self.world = torch.from_numpy(np.ascontiguousarray(np.concatenate(padded).astype(np.float32).transpose(2, 0, 1)))
        self.starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))
        self._window = torch.arange(receptive_field)
        self._perm = torch.tensor(H36M_17.flip_permutation())
        self.real_camera_prob = real_camera_prob
        if real_camera_prob > 0:
            self._set_real_cameras(real_cameras, [len(s) for s in starts])  # type: ignore[arg-type]

    def _set_real_cameras(self, cameras: Sequence[CameraBatch], windows_per_sequence: list[int]) -> None:
        """Concatenate the recordings' real cameras and index them by window."""
        counts = []
        for i, c in enumerate(cameras):
            n = c.rotation.shape[0]
            if n == 0 or tuple(c.rotation.shape) != (n, 3, 3) or tuple(c.center.shape) != (n, 3) or tuple(c.intrinsics.shape) != (n, 9):
                raise PoseliftError(f"real_cameras[{i}]: expected rotation [C, 3, 3], center [C, 3], intrinsics [C, 9] with C >= 1")
            counts.append(n)
        self._real = CameraBatch(*(torch.cat([torch.as_tensor(getattr(c, f), dtype=torch.float32) for c in cameras]) for f in CameraBatch._fields))
        count = torch.tensor(counts)
        offset = torch.cumsum(count, 0) - count
        seq = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(windows_per_sequence))
        self._real_offset, self._real_count = offset[seq], count[seq]  # per window start

    def to(self, device: torch.device | str) -> WildWindowDataset:
        """Move the motion and the index tables to ``device`` (in place; returns self):
        batches are then rendered there, from a generator that lives on the same device
        (e.g. ``torch.Generator(device="cuda")``). The random streams of a CPU and a GPU
        generator differ, so the batches differ too; each device is deterministic."""
        device = torch.device(device)
        for name in ("world", "starts", "_window", "_perm", "_real_offset", "_real_count"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name).to(device))
        if hasattr(self, "_real"):
            self._real = CameraBatch(*(t.to(device) for t in self._real))
        return self

    @property
    def device(self) -> torch.device:
        return self.world.device

    def __len__(self) -> int:
        return len(self.starts) * self.samples_per_window

    def windows(self, sample_ids: torch.Tensor) -> torch.Tensor:
        """World windows ``[B, RF, 17, 3]`` of ``sample_ids``."""
        return self.world[:, self.starts[sample_ids % len(self.starts), None] + self._window].permute(1, 2, 3, 0)

    def _render(self, sample_ids: torch.Tensor, generator: torch.Generator):
        base = sample_ids % len(self.starts)
        xyz = self.world[:, self.starts[base, None] + self._window]  # [3, B, RF, 17]: one gather
        if self.limb_mix > 0:  # arms / legs of other windows of the batch (draws nothing when off)
            xyz = mix_limbs(xyz.permute(1, 2, 3, 0), self.limb_mix, generator).permute(3, 0, 1, 2)
        root = xyz[:, :, self.centre, 0].T
        cams, ray = _sample_cameras(len(base), self.camera, root, generator)
        real = None
        if self.real_camera_prob > 0:
            cams, ray, real = self._swap_in_real_cameras(base, cams, ray, root, generator)
        d = xyz - cams.center.T[:, :, None, None]
        r = cams.rotation[:, :, :, None, None]  # [B, 3, 3, 1, 1]
        pc = [r[:, i, 0] * d[0] + r[:, i, 1] * d[1] + r[:, i, 2] * d[2] for i in range(3)]  # R (X - c), per axis
        center, push = _push_back(cams, ray, pc[2].amin(dim=(1, 2)), self.camera.min_depth_m)
        pc = [pc[i] + (push * ray[:, i])[:, None, None] for i in range(3)]
        k = cams.intrinsics[:, :, None, None]
        inv_z = 1.0 / pc[2]
        screen = torch.stack([pc[0] * inv_z * k[:, 0] + k[:, 2], pc[1] * inv_z * k[:, 1] + k[:, 3]], -1)
        if real is not None and bool(real.any()):  # real cameras: with their lens distortion
            screen[real] = project_to_2d(torch.stack(pc, -1)[real], cams.intrinsics[real])
        return pc, screen, cams._replace(center=center)

    def _swap_in_real_cameras(self, base: torch.Tensor, cams: CameraBatch, ray: torch.Tensor, root: torch.Tensor, generator: torch.Generator):
        """With probability ``real_camera_prob`` per window, replace the virtual camera by
        one of the recording's real cameras (chosen uniformly). Returns the cameras, the
        unit rays to the roots (camera frame) and the boolean mask of real ones."""
        u = torch.rand(len(base), 2, generator=generator, device=self.world.device)
        real = u[:, 0] < self.real_camera_prob
        count = self._real_count[base]
        k = self._real_offset[base] + torch.minimum((u[:, 1] * count).long(), count - 1)
        pick = CameraBatch(*(t[k] for t in self._real))
        m3, m2 = real[:, None, None], real[:, None]
        cams = CameraBatch(
            torch.where(m3, pick.rotation, cams.rotation),
            torch.where(m2, pick.center, cams.center),
            torch.where(m2, pick.intrinsics, cams.intrinsics),
        )
        root_cam = (pick.rotation @ (root - pick.center)[:, :, None])[..., 0]
        ray = torch.where(m2, root_cam / torch.linalg.vector_norm(root_cam, dim=-1, keepdim=True), ray)
        return cams, ray, real

    def render(self, sample_ids: torch.Tensor, generator: torch.Generator):
        """The windows of ``sample_ids`` seen by fresh random cameras:
        ``(camera-frame windows [B, RF, 17, 3], screen [B, RF, 17, 2], cameras)``
        (clean mocap-layout projections, before layout conversion, noise and flip)."""
        pc, screen, cams = self._render(sample_ids, generator)
        return torch.stack(pc, -1), screen, cams

    def screen_heights(self, count: int = 20_000, seed: int = 0) -> np.ndarray:
        """The 2D height (max − min y over the joints, screen units) of the output frame of
        ``count`` random windows as the model sees them before noise (detector layout when
        the dataset uses it), from a generator of its own (``seed``): the training stream
        is not touched. Its 99th percentile is what ``poselift infer``'s size guard allows
        (checkpoint metadata ``input_height_p99``)."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        ids = torch.randint(0, len(self), (count,), generator=generator, device=self.device)
        _, screen, _ = self._render(ids, generator)
        frame = screen[:, self.centre]
        frame = detector_layout_from_h36m(frame) if self.detector_layout else frame
        y = frame[..., 1]
        return (y.amax(-1) - y.amin(-1)).cpu().numpy()

    def gather(self, sample_ids: torch.Tensor, generator: torch.Generator) -> Batch:
        """Build the batch for sample ids in ``[0, len(self))`` (randomness from ``generator``)."""
        pc, screen, cams = self._render(sample_ids, generator)
        inputs = detector_layout_from_h36m(screen) if self.detector_layout else screen
        if self.noise is not None:
            inputs = corrupt_keypoints(inputs, generator, self.noise)
        c = self.centre
        centre = torch.stack([p[:, c : c + 1] for p in pc], -1)  # [B, 1, 17, 3]
        trajectory = centre[:, :, 0].clone()  # [B, 1, 3]
        targets = centre - centre[:, :, :1]
        intrinsics = cams.intrinsics
        if self.flip:
            flipped = torch.rand(len(sample_ids), generator=generator, device=self.world.device) < 0.5
            inputs, targets, trajectory, intrinsics = flip_batch(inputs, targets, trajectory, intrinsics, flipped, self._perm)
        else:
            flipped = torch.zeros(len(sample_ids), dtype=torch.bool, device=self.world.device)
        return Batch(inputs, targets, trajectory, intrinsics, flipped)

    def batches(
        self, batch_size: int, generator: torch.Generator, shuffle: bool = True, shard: Shard | None = None
    ) -> Iterator[Batch]:
        """Iterate one epoch in random order (``generator`` makes it deterministic).

        ``shard``: yield only this rank's slice of each global batch (see
        :meth:`WindowDataset.batches`). Every rank renders the whole global batch and
        keeps its slice, so the cameras and noise drawn from the shared ``generator``
        (and its state afterwards) are the same on every rank and as in one process.
        """
        dev = self.world.device
        order = torch.randperm(len(self), generator=generator, device=dev) if shuffle else torch.arange(len(self), device=dev)
        for i in range(0, len(order), batch_size):
            ids = order[i : i + batch_size]
            if shard is not None and not shard.usable(len(ids)):
                return
            batch = self.gather(ids, generator)
            yield batch if shard is None else batch.narrow(*shard.bounds(len(ids)))
