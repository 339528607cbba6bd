"""Operations on keypoint and pose sequences ``[T, J, D]`` along time (frames):
gap filling, resampling between frame rates, edge padding for a receptive field, and
left/right mirroring.

Pure functions of arrays; units are whatever the input carries (pixels, normalised
screen coordinates or metres), times are frames unless a rate (frames/s) is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from poselift.errors import PoseliftError

#: Relative frame-rate difference below which no resampling is done (1 %).
RESAMPLE_TOLERANCE = 0.01
#: Highest frame rate accepted for an input, frames/s: high-speed cameras film at a few
#: thousand; more is a mistake (a frame count or a time base given as the rate).
MAX_FRAME_RATE = 10_000.0


def is_frame_rate(value: float | None) -> bool:
    """Whether ``value`` is a frame rate in ``(0, MAX_FRAME_RATE]`` frames/s."""
    return value is not None and math.isfinite(value) and 0 < value <= MAX_FRAME_RATE


def check_frame_rate(fps: object, name: str = "fps") -> float:
    """``fps`` as a float if it is a frame rate in ``(0, MAX_FRAME_RATE]`` frames/s,
    else a :class:`PoseliftError` naming the argument ``name``."""
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PoseliftError(f"`{name}` must be a number of frames per second, got {fps!r:.40}") from None
    if not is_frame_rate(value):
        raise PoseliftError(f"`{name}` must be a frame rate in (0, {MAX_FRAME_RATE:g}] frames per second, got {fps}")
    return value


def check_frame_mask(mask: object, num_frames: int, name: str = "filled") -> np.ndarray:
    """``mask`` as a ``[num_frames]`` bool array (one flag per frame), else a
    :class:`PoseliftError` naming the argument ``name``."""
    out = np.asarray(mask, dtype=bool)
    if out.shape != (num_frames,):
        raise PoseliftError(f"`{name}` must be shaped [{num_frames}] (one flag per frame), got {list(out.shape)}")
    return out


class GapFill(NamedTuple):
    """Result of :func:`fill_gaps`.

    points: ``[T, J, D]`` with every missing value filled.
    filled: ``[T, J]`` bool, True where the value was interpolated or held.
    flagged: ``[T, J]`` bool, True inside gaps longer than ``max_gap_frames``
    (including held edges): filled, but not trustworthy.
    """

    points: np.ndarray
    filled: np.ndarray
    flagged: np.ndarray


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of True in a 1D bool array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def fill_gaps(points: np.ndarray, confidence: np.ndarray | None, max_gap_frames: int) -> GapFill:
    """Fill missing joints per joint by linear interpolation in time (frames).

    A value is missing where any coordinate is NaN or the confidence is 0. Inner gaps
    are interpolated linearly between the neighbouring observed frames; leading and
    trailing gaps hold the first/last observed value. Gaps longer than
    ``max_gap_frames`` are filled the same way but flagged. Raises
    :class:`PoseliftError` if a joint is missing in every frame.
    """
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 3:
        raise PoseliftError(f"points must be shaped [frames, joints, D], got {list(points.shape)}")
    if max_gap_frames < 0:
        raise PoseliftError(f"`max_gap_frames` must be >= 0 frames, got {max_gap_frames}")
    missing = ~np.isfinite(points).all(-1)
    if confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.shape != points.shape[:2]:
            raise PoseliftError(f"confidence must be shaped {list(points.shape[:2])}, got {list(confidence.shape)}")
        missing |= ~(confidence > 0)
    out = points.copy()
    flagged = np.zeros(missing.shape, dtype=bool)
    frames = np.arange(points.shape[0])
    for j in range(points.shape[1]):
        gap = missing[:, j]
        if not gap.any():
            continue
        seen = np.flatnonzero(~gap)
        if seen.size == 0:
            raise PoseliftError(f"joint {j} is missing in every frame; it cannot be filled")
        for d in range(points.shape[2]):
            out[gap, j, d] = np.interp(frames[gap], seen, points[seen, j, d])
        for start, stop in _runs(gap):
            if stop - start > max_gap_frames:
                flagged[start:stop, j] = True
    return GapFill(out, missing, flagged)


def interpolate_frames(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Sample ``x`` ``[T, ...]`` at fractional frame ``positions`` ``[N]`` (linear, clipped to the ends)."""
    x = np.asarray(x)
    positions = np.asarray(positions, dtype=np.float64)
    out = np.empty((positions.shape[0],) + x.shape[1:], dtype=x.dtype)
    block = 32_768  # bounded temporaries for long sequences; the result does not depend on it
    for start in range(0, positions.shape[0], block):
        pos = np.clip(positions[start : start + block], 0, x.shape[0] - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, x.shape[0] - 1)
        w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
        out[start : start + block] = x[i0] * (1 - w) + x[i1] * w
    return out


def resample(x: np.ndarray, fps_in: float, fps_out: float, num_out: int | None = None) -> np.ndarray:
    """Resample ``[T, ...]`` from ``fps_in`` to ``fps_out`` frames/s by linear interpolation.

    Output frame ``k`` is at time ``k / fps_out`` (frame 0 at time 0). By default the
    output spans the input: ``floor((T - 1) · fps_out / fps_in) + 1`` frames; times
    past the last input frame hold it. Rates within :data:`RESAMPLE_TOLERANCE` of
    each other are treated as equal (``x`` is returned unchanged, or cut/held to
    ``num_out``).
    """
    if fps_in <= 0 or fps_out <= 0:
        raise PoseliftError(f"frame rates must be positive, got {fps_in} and {fps_out}")
    x = np.asarray(x)
    if num_out is None:
        num_out = x.shape[0] if same_rate(fps_in, fps_out) else int(math.floor((x.shape[0] - 1) * fps_out / fps_in + 1e-9)) + 1
    ratio = 1.0 if same_rate(fps_in, fps_out) else fps_in / fps_out
    return interpolate_frames(x, np.arange(num_out) * ratio)


def same_rate(fps_a: float, fps_b: float) -> bool:
    return abs(fps_a - fps_b) <= RESAMPLE_TOLERANCE * max(fps_a, fps_b)


class CausalResampler:
    """:func:`resample` for a stream: frames arrive one at a time at ``fps_in``; each
    :meth:`push` returns the output frames (at ``fps_out``, output frame ``k`` at time
    ``k / fps_out``) whose time has been reached, interpolated linearly between the
    previous input frame and this one — no future frame is used. Over a whole
    sequence the outputs equal :func:`resample`'s; at equal rates every frame passes
    through unchanged."""

    def __init__(self, fps_in: float, fps_out: float) -> None:
        fps_in, fps_out = check_frame_rate(fps_in, "fps_in"), check_frame_rate(fps_out, "fps_out")
        self.ratio = 1.0 if same_rate(fps_in, fps_out) else fps_in / fps_out  # input frames per output frame
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self._previous: np.ndarray | None = None
        self._index = -1  # input frames seen, minus one
        self._emitted = 0  # output frames returned

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        """The output frames due once input ``frame`` (the next one, ``[...]``) arrived."""
        frame = np.asarray(frame)
        self._index += 1
        due: list[np.ndarray] = []
        while True:
            position = self._emitted * self.ratio  # in input frames
            if position > self._index + 1e-9:
                break
            weight = position - (self._index - 1)
            if self._previous is None or weight >= 1.0 - 1e-9:
                due.append(frame.copy())
            else:
                due.append(((1.0 - weight) * self._previous + weight * frame).astype(frame.dtype))
            self._emitted += 1
        self._previous = frame
        return due


@dataclass(frozen=True)
class FlipSpec:
    """Left/right permutations for mirrored augmentation (negate x, swap sides)."""

    keypoints_perm: np.ndarray  # [J_in]
    joints_perm: np.ndarray  # [J_out]

    @classmethod
    def from_skeletons(cls, skel_in, skel_out) -> "FlipSpec":
        return cls(np.asarray(skel_in.flip_permutation()), np.asarray(skel_out.flip_permutation()))


def pad_sequence(x: np.ndarray | torch.Tensor, receptive_field: int, causal: bool):
    """Edge-pad ``[T, ...]`` along time so the full model outputs ``T`` frames.

    Symmetric: ``(RF-1)/2`` frames each side; causal: ``RF-1`` frames before.
    """
    pad = (receptive_field - 1) // 2
    before, after = (2 * pad, 0) if causal else (pad, pad)
    if isinstance(x, torch.Tensor):
        idx = torch.clamp(torch.arange(-before, x.shape[0] + after), 0, x.shape[0] - 1)
        return x[idx]
    idx = np.clip(np.arange(-before, x.shape[0] + after), 0, x.shape[0] - 1)
    return x[idx]


def flip_keypoints(x: torch.Tensor, perm: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Mirror ``[..., J, D]``: swap left/right joints and negate x."""
    out = x[..., torch.as_tensor(perm, dtype=torch.long), :].clone()
    out[..., 0] = -out[..., 0]
    return out
