"""The root trajectory: where the person is in the camera frame (metres), from a
root-relative pose and its 2D keypoints through a pinhole camera, smoothed over time
(offline: running median and mean; streaming: causal median and exponential average).

Units: joints and roots in metres, camera frame (x right, y down, z forward);
keypoints in the units of the intrinsics (pixels, or normalised screen coordinates);
windows in seconds, rates in frames/s.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.camera import fit_root_position


def default_focal(width: int, height: int) -> float:
    """Default focal length in pixels: the image diagonal ``sqrt(w² + h²)``."""
    return float(math.hypot(width, height))


def depth_scale(focal_px: float, width: int, train_focal_norm: float) -> float:
    """Factor applied to the trajectory depth: ``(2 focal_px / w) / train_focal_norm``."""
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise PoseliftError(f"`focal` must be a positive number of pixels, got {focal_px}")
    return (2.0 * focal_px / width) / train_focal_norm


#: Trajectory smoothing windows, seconds: a running median (removes glitches shorter
#: than a quarter of a second, e.g. a detector's left/right swap, and keeps steps such
#: as a cut in the video), then a running mean (jitter).
TRAJECTORY_MEDIAN_S = 0.5


TRAJECTORY_MEAN_S = 0.18


#: Cauchy re-weightings of the root fit (robust to a few wrong keypoints).
ROOT_FIT_ROBUST_ITERATIONS = 3
#: Frames fitted at once (the result does not depend on it; it bounds the memory).
ROOT_FIT_BLOCK_FRAMES = 8192


#: Joints of the root fit: legs and arms (hips, knees, feet, shoulders, elbows, wrists),
#: the same points in the motion-capture and the detector-derived H36M-17 layouts.
ROOT_FIT_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)


def _odd_window(seconds: float, fps: float) -> int:
    n = max(1, int(round(seconds * fps)))
    return n if n % 2 else n + 1


def smooth_trajectory(
    positions: np.ndarray, fps: float, median_s: float = TRAJECTORY_MEDIAN_S, mean_s: float = TRAJECTORY_MEAN_S
) -> np.ndarray:
    """Running median over ``median_s`` seconds, then running mean over ``mean_s``
    seconds, of ``[T, 3]`` positions; the ends are extended by odd reflection, so a
    constant-velocity path is unchanged. NaN frames are skipped (a frame whose whole
    window is NaN stays NaN)."""
    out = np.asarray(positions, dtype=np.float64)
    for size, reduce in ((_odd_window(median_s, fps), np.nanmedian), (_odd_window(mean_s, fps), np.nanmean)):
        half = min(size // 2, len(out) - 1)  # a window never reaches past the reflected ends
        if half <= 0:
            continue
        # odd reflection at the ends (2 x_0 - x_k): a constant-velocity path passes unchanged
        head, tail = 2 * out[:1] - out[half:0:-1], 2 * out[-1:] - out[-2 : -half - 2 : -1]
        padded = np.concatenate([head, out, tail])
        size = 2 * half + 1
        windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)  # [T, 3, size]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
            out = reduce(windows, axis=-1)
    return out


def fitted_root(
    joints: np.ndarray, keypoints: np.ndarray, intrinsics: np.ndarray, fps: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """Root positions ``[T, 3]`` (metres, camera frame) that place the root-relative
    ``joints`` ``[T, J, 3]`` onto ``keypoints`` ``[T, J, 2]`` through the pinhole camera
    ``intrinsics`` ``[9]`` (units of ``keypoints``): a robust per-frame fit
    (:func:`poselift.geometry.camera.fit_root_position`, ``ROOT_FIT_ROBUST_ITERATIONS`` Cauchy
    re-weightings), frames without two usable joints interpolated from their neighbours,
    then :func:`smooth_trajectory`."""
    root = np.concatenate([  # frames are fitted independently: in blocks, to bound the float64 temporaries
        fit_root_position(
            joints[start : start + ROOT_FIT_BLOCK_FRAMES], keypoints[start : start + ROOT_FIT_BLOCK_FRAMES], intrinsics,
            None if weights is None else weights[start : start + ROOT_FIT_BLOCK_FRAMES],
            robust_iterations=ROOT_FIT_ROBUST_ITERATIONS,
        )
        for start in range(0, len(joints), ROOT_FIT_BLOCK_FRAMES)
    ]) if len(joints) else np.zeros((0, 3))
    valid = np.isfinite(root).all(-1)
    if not valid.any():
        raise PoseliftError("no frame has two or more usable (detected) joints to fit: cannot place the root in the camera frame")
    if not valid.all():  # frames without usable limb joints: interpolate in time (edges held)
        t = np.arange(len(root))
        root = np.stack([np.interp(t, t[valid], root[valid, k]) for k in range(3)], -1)
    return smooth_trajectory(root, fps)


def pinhole_intrinsics(width: int, height: int, focal_px: float) -> np.ndarray:
    """``[9]`` pixel intrinsics of a distortion-free camera with focal length ``focal_px``
    and the principal point at the image centre (what ``infer`` and ``stream`` assume)."""
    return np.array([focal_px, focal_px, width / 2.0, height / 2.0, 0, 0, 0, 0, 0])


def fit_trajectory(
    joints: np.ndarray, points_px: np.ndarray, confidence: np.ndarray, width: int, height: int, focal_px: float,
    fps: float,
) -> np.ndarray:
    """:func:`fitted_root` of the legs and arms (``ROOT_FIT_JOINTS``) of ``joints``
    ``[T, 17, 3]`` onto ``points_px`` ``[T, 17, 2]`` (pixels, weighted by ``confidence``)
    through a pinhole camera with focal length ``focal_px`` and the principal point at
    the image centre."""
    intrinsics = pinhole_intrinsics(width, height, focal_px)
    fit = list(ROOT_FIT_JOINTS)
    return fitted_root(joints[:, fit], points_px[:, fit], intrinsics, fps, confidence[:, fit])


#: Causal (streaming) root smoothing, seconds: a running median over the most recent
#: frames (a glitch shorter than half of it is dropped), then an exponential moving
#: average with this time constant. The output lags a moving root by roughly half the
#: median window plus the time constant.
STREAM_ROOT_MEDIAN_S = 0.2


STREAM_ROOT_TAU_S = 0.1


class CausalRootSmoother:
    """Smooth per-frame root fits ``[3]`` (metres) as they arrive, using past frames
    only: the causal counterpart of :func:`smooth_trajectory` for ``poselift stream``.

    ``push(root)`` returns the smoothed root, or ``None`` until a first finite root has
    arrived; a non-finite root (no usable joints in that frame) is skipped and the last
    estimate is carried on.
    """

    def __init__(self, fps: float, median_s: float = STREAM_ROOT_MEDIAN_S, tau_s: float = STREAM_ROOT_TAU_S) -> None:
        from collections import deque

        if not (math.isfinite(fps) and fps > 0) or median_s < 0 or tau_s < 0:
            raise PoseliftError(f"CausalRootSmoother needs fps > 0 and non-negative windows, got {fps}, {median_s}, {tau_s}")
        self.alpha = 1.0 - math.exp(-1.0 / (tau_s * fps)) if tau_s > 0 else 1.0
        self._recent: Any = deque(maxlen=max(1, int(round(median_s * fps))))
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        """Start a new sequence."""
        self._recent.clear()
        self._state = None

    def push(self, root: np.ndarray) -> np.ndarray | None:
        root = np.asarray(root, dtype=np.float64)
        if root.shape != (3,):
            raise PoseliftError(f"CausalRootSmoother.push expects a root [3], got {list(root.shape)}")
        if np.isfinite(root).all():
            self._recent.append(root)
        if not self._recent:
            return None
        median = np.median(np.stack(self._recent), axis=0)
        self._state = median if self._state is None else self._state + self.alpha * (median - self._state)
        return self._state.copy()
