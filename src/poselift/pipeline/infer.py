"""``poselift infer``: in-the-wild video (or a keypoint file) to 3D poses in one command.

Stages, each a small pure function so that it can be tested alone:

1. **decode + detect** (:mod:`poselift.video`, :mod:`poselift.detect`): frames are
   decoded one at a time and fed to the 2D detector (MediaPipe BlazePose-33, pixels),
   or a keypoint file is imported (COCO JSON, OpenPose folder, npz, csv).
2. **convert**: the detector layout → H36M-17 (:func:`poselift.skeleton.to_h36m17`,
   derived joint confidence = minimum of its sources); missing joints are filled by
   :func:`fill_gaps` (linear in time, edges held; gaps longer than ``max_gap`` frames
   are filled too but *flagged*); pixels → normalised screen coordinates
   (:func:`poselift.camera.normalize_screen`); the sequence is resampled from the
   video frame rate to the model's (checkpoint metadata ``fps``, default 50) by
   linear interpolation in time (:func:`resample`).
3. **lift**: :func:`poselift.evaluate.predict_sequence` on the whole sequence (edge
   padded, one output per input frame; flip test-time augmentation unless the model
   is causal or ``--no-flip``), plus the root trajectory when the checkpoint has a
   trajectory model; the 3D result is interpolated back to the video frame times.
4. **write**: ``poses.npz``, ``poses.json``, ``poses.csv`` (and ``poses.bvh``,
   ``render.mp4`` on request) into a staging folder inside ``--out``, then moved into
   place: an error never leaves partial ``poses.*`` files behind.

Units: 3D joints in metres, root-relative (the Hip joint is at the origin), camera
frame (x right, y down, z forward); trajectory = root position in metres, camera frame;
2D keypoints in pixels; times in seconds.

Trajectory and focal length
---------------------------
The trajectory model sees normalised screen coordinates only, so it implicitly
assumes the normalised focal length ``2 f / w`` of its training cameras (Human3.6M:
≈ 2.295, i.e. ``f ≈ 1.15 w``). A person's apparent size fixes ``Z · (2f/w)``, so with
another camera the depth scales with the focal length while ``X`` and ``Y`` stay the
same: ``Z = Z_model · (2 f_px / w) / f_train``. ``--focal PX`` gives ``f_px``; by
default it is the image diagonal ``sqrt(w² + h²)`` (a ≈ 53° diagonal field of view,
typical of phones and webcams; ≈ 1.15 w for 16:9 footage, so 16:9 video is left
unscaled). ``f_train`` is the checkpoint metadata ``focal_normalized`` when present,
else 2.295 (Human3.6M; 2.1 for the synthetic dataset).

By default (``--trajectory-source fit``) the trajectory does not come from the
trajectory model: each frame's root position is the one that places the lifted pose
onto the 2D keypoints of the legs and arms through a pinhole camera with focal length
``f_px`` and the principal point at the image centre (:func:`fitted_root`:
confidence-weighted, robust to a few wrong keypoints), then smoothed over time
(:func:`smooth_trajectory`). It needs no trajectory model, and on the Human3.6M test
cameras (focal length known) it is 4–5× closer to the true root than the trajectory
model (docs/results.md, session 7). ``--trajectory-source model`` uses the trajectory
model, depth-scaled as above.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from poselift import plausibility
from poselift.argtypes import add_threads_option, non_negative_int, positive_float, positive_int
from poselift.errors import PoseliftError

log = logging.getLogger("poselift.infer")

DEFAULT_MODEL_FPS = 50.0
#: Metadata ``fps`` above this is treated as invalid (the default is used).
MAX_MODEL_FPS = 10_000.0
DEFAULT_MAX_GAP = 10
#: Relative frame-rate difference below which no resampling is done (1 %).
RESAMPLE_TOLERANCE = 0.01
#: Normalised focal length ``2 f / w`` of the training cameras, by dataset.
TRAIN_FOCAL_NORMALIZED = {"h36m": 2.295, "synthetic": 2.1}
OUTPUT_FILES = ("poses.npz", "poses.json", "poses.csv")


# --------------------------------------------------------------------- gap filling
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
        raise PoseliftError(f"--max-gap must be >= 0 frames, got {max_gap_frames}")
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


# ---------------------------------------------------------------------- resampling
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


# -------------------------------------------------------------------------- lifting
def model_fps(metadata: dict[str, Any]) -> float:
    """Frame rate the model was trained at (metadata ``fps``, default 50 frames/s)."""
    value = metadata.get("fps", DEFAULT_MODEL_FPS)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = DEFAULT_MODEL_FPS
    return value if math.isfinite(value) and 0 < value <= MAX_MODEL_FPS else DEFAULT_MODEL_FPS


def train_focal_normalized(metadata: dict[str, Any]) -> float:
    """Normalised focal length ``2 f / w`` the trajectory model was trained with."""
    value = metadata.get("focal_normalized")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(metadata["focal_normalized"])
    dataset = (metadata.get("train") or {}).get("dataset", "h36m") if isinstance(metadata.get("train"), dict) else "h36m"
    return TRAIN_FOCAL_NORMALIZED.get(dataset if isinstance(dataset, str) else "h36m", TRAIN_FOCAL_NORMALIZED["h36m"])


def default_focal(width: int, height: int) -> float:
    """Default focal length in pixels: the image diagonal ``sqrt(w² + h²)``."""
    return float(math.hypot(width, height))


def depth_scale(focal_px: float, width: int, train_focal_norm: float) -> float:
    """Factor applied to the trajectory depth: ``(2 focal_px / w) / train_focal_norm``."""
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise PoseliftError(f"--focal must be a positive number of pixels, got {focal_px}")
    return (2.0 * focal_px / width) / train_focal_norm


#: Trajectory smoothing windows, seconds: a running median (removes glitches shorter
#: than a quarter of a second, e.g. a detector's left/right swap, and keeps steps such
#: as a cut in the video), then a running mean (jitter).
TRAJECTORY_MEDIAN_S = 0.5
TRAJECTORY_MEAN_S = 0.18
#: Cauchy re-weightings of the root fit (robust to a few wrong keypoints).
ROOT_FIT_ROBUST_ITERATIONS = 3
#: Joints of the root fit: legs and arms (hips, knees, feet, shoulders, elbows, wrists),
#: the same points in the motion-capture and the detector-derived H36M-17 layouts.
ROOT_FIT_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)
TRAJECTORY_SOURCES = ("fit", "model")


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
    (:func:`poselift.camera.fit_root_position`, ``ROOT_FIT_ROBUST_ITERATIONS`` Cauchy
    re-weightings), frames without two usable joints interpolated from their neighbours,
    then :func:`smooth_trajectory`."""
    from poselift.camera import fit_root_position

    root = fit_root_position(joints, keypoints, intrinsics, weights, robust_iterations=ROOT_FIT_ROBUST_ITERATIONS)
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


def check_lifter(lifter, causal: bool) -> None:
    """Raise a :class:`PoseliftError` unless ``lifter`` lifts H36M-17 2D to H36M-17 3D
    (and is causal when ``causal`` is requested)."""
    cfg = lifter.config
    meta = lifter.metadata
    joints_in = meta.get("joints_in", "h36m17")
    joints_out = meta.get("joints_out", "h36m17")
    if joints_in != "h36m17" or cfg.num_joints_in != 17 or cfg.in_features != 2:
        raise PoseliftError(
            f"this checkpoint takes {joints_in!r:.40} input ({cfg.num_joints_in} joints); `poselift infer` needs a model "
            "trained on H36M-17 2D keypoints (e.g. `poselift train --keypoints gt`)"
        )
    if joints_out != "h36m17" or cfg.num_joints_out != 17:
        raise PoseliftError(f"this checkpoint outputs {joints_out!r:.40} ({cfg.num_joints_out} joints); `poselift infer` needs H36M-17 output")
    if causal and not cfg.causal:
        raise PoseliftError("--causal needs a causal checkpoint (trained with `poselift train --causal`); this one is symmetric")


#: Output frames per model call when lifting (:func:`lift`): bounds the activation
#: memory of long inputs; any value gives the same result (the chunks overlap by the
#: receptive field, edge padding only at the true sequence ends).
LIFT_CHUNK_FRAMES = 4096
#: Resampling may make a sequence at most this many times longer (plus 10 000 frames).
MAX_RESAMPLE_GROWTH = 100


def lift(
    lifter, keypoints_norm: np.ndarray, fps: float, *, flip: bool = True, chunk_frames: int = LIFT_CHUNK_FRAMES,
    trajectory: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Lift ``[T, 17, 2]`` normalised screen coordinates sampled at ``fps`` frames/s.

    The input is resampled to the model's frame rate, lifted with
    :func:`poselift.evaluate.predict_sequence` (flip TTA when ``flip`` and the model
    is not causal) in chunks of ``chunk_frames`` output frames (memory for the
    activations is bounded by the chunk, not the sequence length; the result equals
    the one-shot result), and the output interpolated back to the ``T`` input frame
    times. Returns ``(joints [T, 17, 3], trajectory [T, 3] or None)``: root-relative
    joints and the root position, metres, camera frame (trajectory *not* focal-corrected;
    ``None`` without a trajectory model or when ``trajectory`` is false).
    """
    from poselift.data.windows import FlipSpec
    from poselift.evaluate import predict_sequence
    from poselift.inference import fast_twin
    from poselift.skeleton import H36M_17

    t = keypoints_norm.shape[0]
    rate = model_fps(lifter.metadata)
    if not same_rate(fps, rate) and (t - 1) * rate / fps > MAX_RESAMPLE_GROWTH * t + 10_000:
        raise PoseliftError(
            f"a frame rate of {fps:.3g} frames/s would resample {t} frames to {(t - 1) * rate / fps + 1:.3g} at the "
            f"model's {rate:g} frames/s; check --fps (frames per second of the input)"
        )
    x = resample(keypoints_norm.astype(np.float32), fps, rate)
    spec = FlipSpec.from_skeletons(H36M_17, H36M_17) if flip and not lifter.config.causal else None
    joints = predict_sequence(fast_twin(lifter.pose_model), x, spec, chunk_frames=chunk_frames)
    joints -= joints[:, :1]
    traj = None
    if trajectory and lifter.trajectory_model is not None:
        traj = predict_sequence(fast_twin(lifter.trajectory_model), x, None, chunk_frames=chunk_frames)[:, 0]
    del x
    back = np.arange(t) * (rate / fps) if not same_rate(fps, rate) else np.arange(t, dtype=np.float64)
    joints = interpolate_frames(joints, back)
    traj = interpolate_frames(traj, back) if traj is not None else None
    return joints.astype(np.float32), None if traj is None else traj.astype(np.float32)


# ---------------------------------------------------------------------------- run
@dataclass
class InferResult:
    """Summary of one ``poselift infer`` run (times in seconds)."""

    out_dir: str
    files: list[str]
    num_frames: int
    frames_with_person: int
    filled_frames: int
    flagged_frames: list[int]
    fps: float
    model_fps: float
    width: int
    height: int
    focal_px: float
    checkpoint: str
    has_trajectory: bool
    flip: bool
    causal: bool
    timings_s: dict[str, float] = field(default_factory=dict)
    # checks of the result that need no ground truth (poselift.plausibility.summarize)
    plausibility: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return float(sum(self.timings_s.values()))

    @property
    def frames_per_s(self) -> float:
        """End-to-end throughput: input frames / total wall time of all stages."""
        return self.num_frames / self.total_s if self.total_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total_s"] = round(self.total_s, 4)
        d["frames_per_s"] = round(self.frames_per_s, 2)
        d["timings_s"] = {k: round(v, 4) for k, v in self.timings_s.items()}
        return d


def input_kind(path: Path, keypoints_format: str = "auto") -> str:
    """``"keypoints"`` for keypoint files/folders (or an explicit format), else ``"video"``."""
    from poselift.detect import detect_keypoints_format

    if keypoints_format != "auto":
        return "keypoints"
    return "keypoints" if detect_keypoints_format(path) else "video"


def _abort_on_failure(frames: Iterator[np.ndarray], future: Future) -> Iterator[np.ndarray]:
    """Pass frames through, raising the background job's exception as soon as it fails."""
    for frame in frames:
        if future.done() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
        yield frame


def _detect_video(path: Path, detector, fps: float | None, progress: bool, background: Future | None = None):
    """Decode (in a prefetch thread) and detect; ``background`` failing aborts detection early."""
    from poselift.detect import get_detector
    from poselift.video import open_video, prefetch

    det = get_detector(detector) if isinstance(detector, str) else detector
    info, frames = open_video(path, fps=fps)
    log.info("video %s: %dx%d px, %.3f frames/s, ~%d frames", path, info.width, info.height, info.fps, info.num_frames)
    stream = prefetch(frames)
    if background is not None:
        stream = _abort_on_failure(stream, background)
    try:
        return det.detect(stream, info, progress=progress)
    finally:
        with contextlib.suppress(ValueError):  # still running in a detector thread that timed out
            stream.close()


def _person_check(kp, source: Path) -> int:
    found = kp.person_frames()
    if not found.any():
        raise PoseliftError(f"no person detected in any frame of {source} ({kp.num_frames} frames)")
    n = int(found.sum())
    if n < kp.num_frames:
        log.info("person found in %d of %d frames; the other frames are interpolated", n, kp.num_frames)
    if n < 0.5 * kp.num_frames:
        log.warning("a person was found in only %d of %d frames: expect unreliable 3D in the gaps", n, kp.num_frames)
    return n


def _to_h36m(kp, max_gap: int) -> tuple[np.ndarray, np.ndarray, GapFill]:
    """Keypoints2D → H36M-17 pixels ``[T, 17, 2]``, confidence ``[T, 17]`` and the gap fill."""
    from poselift.skeleton import H36M_17, to_h36m17

    points, conf = to_h36m17(kp.points, kp.layout, kp.confidence)
    conf = np.where(np.isfinite(points).all(-1), conf, 0.0).astype(np.float32)
    never = ~(conf > 0).any(axis=0)
    if never.any():
        names = ", ".join(H36M_17.joint_names[j] for j in np.flatnonzero(never))
        raise PoseliftError(f"joint(s) {names} (h36m17) were not found in any frame; the lifter needs all 17 joints")
    gaps = fill_gaps(points, conf, max_gap)
    return gaps.points, conf, gaps


def _load_lifter(checkpoint: str | Path | None, causal: bool, lifter: Any = None):
    """Load and check the checkpoint (see :func:`check_lifter`), or check ``lifter``."""
    from poselift.model import load_model

    if lifter is None:
        lifter = load_model(checkpoint)
    try:
        check_lifter(lifter, causal)
    except PoseliftError as exc:
        raise PoseliftError(f"checkpoint {checkpoint if checkpoint is not None else '(bundled)'}: {exc}") from None
    return lifter


def output_names(*, bvh: bool = False, render: bool = False) -> list[str]:
    """The files one ``poselift infer`` run writes into its output folder."""
    return list(OUTPUT_FILES) + (["poses.bvh"] if bvh else []) + (["render.mp4"] if render else [])


def _check_targets(out_dir: Path, names: list[str], overwrite: bool) -> None:
    """Refuse to replace existing outputs unless ``overwrite`` (and never replace a folder)."""
    for name in names:
        target = out_dir / name
        if target.exists() and not target.is_file():
            raise PoseliftError(f"{target} exists and is not a file; remove it or choose another --out")
        if target.exists() and not overwrite:
            raise PoseliftError(f"{target} already exists; pass --overwrite to replace the outputs in {out_dir}")


def _commit(staging: Path, out_dir: Path, names: list[str], overwrite: bool) -> list[str]:
    """Move the staged ``names`` into ``out_dir``, all or nothing: replaced files are
    set aside first and restored if any move fails."""
    _check_targets(out_dir, names, overwrite)  # again: something may have appeared meanwhile
    aside = Path(tempfile.mkdtemp(prefix=".replaced-", dir=staging))
    moved: list[str] = []
    kept: list[str] = []
    try:
        for name in names:
            if (out_dir / name).exists():
                os.replace(out_dir / name, aside / name)
                kept.append(name)
            os.replace(staging / name, out_dir / name)
            moved.append(name)
    except BaseException:
        for name in moved:
            with contextlib.suppress(OSError):
                os.unlink(out_dir / name)
        for name in kept:
            with contextlib.suppress(OSError):
                os.replace(aside / name, out_dir / name)
        raise
    return [str(out_dir / name) for name in names]


def _render(out_path: Path, joints_3d: np.ndarray, keypoints_2d: np.ndarray, fps: float, *, video: Path | None,
            video_fps: float | None, image_size: tuple[int, int], render_size: int | None, azimuth: float | None,
            limit_frames: int | None, progress: bool) -> None:
    """Side-by-side render (input video or 2D keypoints | 3D) via :func:`poselift.render.render_video`."""
    try:
        from poselift.render import render_video
    except ImportError:
        raise PoseliftError("--render is not available in this installation (poselift.render is missing)") from None
    from poselift.skeleton import H36M_17
    from poselift.video import open_video, prefetch

    options: dict[str, Any] = {}
    if render_size is not None:
        options["size"] = render_size
    if azimuth is not None:
        options["azimuth"] = azimuth
    frames = None
    if video is not None:
        frames = prefetch(open_video(video, fps=video_fps)[1])
    try:
        render_video(
            out_path, joints_3d, H36M_17, fps, keypoints_2d=keypoints_2d, frames=frames,
            image_size=None if frames is not None else image_size, limit_frames=limit_frames, progress=progress, **options,
        )
    finally:
        if frames is not None:
            frames.close()


def _bvh(out_path: Path, joints_3d: np.ndarray, fps: float, trajectory: np.ndarray | None) -> None:
    """BVH motion file via :func:`poselift.export.write_bvh` (root moved by the trajectory when present)."""
    try:
        from poselift.export import write_bvh
    except ImportError:
        raise PoseliftError("--bvh is not available in this installation (poselift.export.write_bvh is missing)") from None
    from poselift.skeleton import H36M_17

    write_bvh(out_path, joints_3d, H36M_17, fps, root_positions=trajectory)


def run_infer(
    input: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    *,
    detector: Any = "mediapipe",
    keypoints_format: str = "auto",
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    focal: float | None = None,
    trajectory_source: str = "fit",
    causal: bool = False,
    flip: bool = True,
    max_gap: int = DEFAULT_MAX_GAP,
    bvh: bool = False,
    render: bool = False,
    render_size: int | None = None,
    azimuth: float | None = None,
    limit_frames: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    lifter: Any = None,
    chunk_frames: int = LIFT_CHUNK_FRAMES,
) -> InferResult:
    """Video or keypoint file → 3D poses written to ``out_dir`` (see module docstring).

    ``detector`` is a detector name (``"mediapipe"``) or an object following
    :class:`poselift.detect.Detector`. ``width``/``height`` (pixels) and ``fps``
    (frames/s) describe keypoint inputs that do not carry them (``fps`` also
    overrides a video's frame rate); ``focal`` is the focal length in pixels
    (default: the image diagonal); ``max_gap`` is in input frames.
    ``trajectory_source``: ``"fit"`` (root fitted to the 2D, any checkpoint) or
    ``"model"`` (the checkpoint's trajectory model; none without one).

    Existing outputs in ``out_dir`` (:func:`output_names`) are an error unless
    ``overwrite``; they are then replaced only when the whole run succeeds. A failed
    run leaves no output behind (and removes ``out_dir`` if it created it empty).
    ``lifter``: an already loaded :class:`poselift.model.PoseLifter` to use instead
    of loading ``checkpoint`` (batch inference loads it once).
    """
    from poselift.detect import load_keypoints
    from poselift.skeleton import H36M_17

    source = Path(input)
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    if trajectory_source not in TRAJECTORY_SOURCES:
        raise PoseliftError(f"trajectory_source must be one of {TRAJECTORY_SOURCES}, got {trajectory_source!r}")
    if not source.exists():
        raise PoseliftError(f"input {source} does not exist")
    if max_gap < 0:
        raise PoseliftError(f"--max-gap must be >= 0 frames, got {max_gap}")
    if out_dir.exists() and not out_dir.is_dir():
        raise PoseliftError(f"--out {out_dir} exists and is not a folder")
    targets = output_names(bvh=bvh, render=render)
    _check_targets(out_dir, targets, overwrite)

    kind = input_kind(source, keypoints_format)
    if kind == "video":
        if width is not None or height is not None:
            log.warning("--width/--height are ignored for videos (the frame size is read from the file)")
        # The model loads (torch import included, ~2 s) in a thread while the video is
        # decoded and detected; a bad checkpoint still aborts detection at once.
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poselift-load") as pool:
            loading = pool.submit(_load_lifter, checkpoint, causal, lifter)
            try:
                kp = _detect_video(source, detector, fps, progress, loading)
            except BaseException:
                if loading.done() and loading.exception() is not None:
                    raise loading.exception() from None  # type: ignore[misc]
                raise
            timings["decode_detect"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            lifter = loading.result()
            timings["load_model"] = time.perf_counter() - t0  # only the part not hidden behind detection
    else:
        t0 = time.perf_counter()
        lifter = _load_lifter(checkpoint, causal, lifter)
        timings["load_model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        kp = load_keypoints(source, keypoints_format, width=width, height=height, fps=fps)
        timings["load_keypoints"] = time.perf_counter() - t0
    use_flip = flip and not lifter.config.causal
    found = _person_check(kp, source)

    t0 = time.perf_counter()
    from poselift.camera import normalize_screen

    if kp.layout in ("h36m17", "h36m32") and lifter.metadata.get("input_layout") == "h36m17-detector":
        from poselift.augment import detector_layout_from_h36m
        from poselift.skeleton import to_h36m17

        log.warning(
            "the keypoints are in the motion-capture %s layout but this model expects the detector layout "
            "(hip/thorax/spine/head derived from hips, shoulders and eyes); converting approximately", kp.layout,
        )
        points, conf = to_h36m17(kp.points, kp.layout, kp.confidence)
        kp = replace(kp, points=detector_layout_from_h36m(points), confidence=conf, layout="h36m17")
    points_px, conf, gaps = _to_h36m(kp, max_gap)
    norm = normalize_screen(points_px, kp.width, kp.height).astype(np.float32)
    timings["convert"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        joints, traj = lift(
            lifter, norm, kp.fps, flip=use_flip, chunk_frames=chunk_frames, trajectory=trajectory_source == "model"
        )
    except PoseliftError as exc:
        raise PoseliftError(f"{source}: {exc}") from None
    focal_px = float(focal) if focal is not None else default_focal(kp.width, kp.height)
    if trajectory_source == "fit":
        try:
            traj = fit_trajectory(joints, points_px, conf, kp.width, kp.height, focal_px, kp.fps).astype(np.float32)
            log.info(
                "trajectory: root fitted to the 2D through a camera with focal length %.0f px (%s); depth %.1f-%.1f m",
                focal_px, "--focal" if focal is not None else "default: the image diagonal; pass --focal PX if you know it",
                float(traj[:, 2].min()), float(traj[:, 2].max()),
            )
        except PoseliftError as exc:  # degenerate 2D (e.g. every joint at one point): the poses are still useful
            log.warning("%s: %s; writing no trajectory", source, exc)
            traj = None
    elif traj is not None:
        traj = traj.copy()
        traj[:, 2] *= depth_scale(focal_px, kp.width, train_focal_normalized(lifter.metadata))
    timings["lift"] = time.perf_counter() - t0
    checks = plausibility.summarize(joints, points_px, H36M_17)

    filled_frames = gaps.filled.any(axis=1)
    flagged = gaps.flagged.any(axis=1)
    flagged_list = np.flatnonzero(flagged).tolist()
    checkpoint_name = str(checkpoint) if checkpoint is not None else "bundled"
    arrays: dict[str, Any] = {
        "joints_3d": joints,
        "trajectory": traj,
        "keypoints_2d": points_px.astype(np.float32),
        "confidence": conf,
        "filled": filled_frames,
        "filled_joints": gaps.filled,
        "flagged": flagged,
        "time_s": (np.arange(kp.num_frames) / kp.fps).astype(np.float64),
        "fps": np.float64(kp.fps),
        "width": np.int64(kp.width),
        "height": np.int64(kp.height),
        "focal_px": np.float64(focal_px),
        "layout": "h36m17",
        "joint_names": np.asarray(H36M_17.joint_names, dtype=f"<U{max(map(len, H36M_17.joint_names))}"),
        "parents": np.asarray(H36M_17.parents, dtype=np.int64),
    }
    meta = {
        "input": str(source),
        "input_kind": kind,
        "source_layout": kp.layout,
        "checkpoint": checkpoint_name,
        "model_fps": model_fps(lifter.metadata),
        "receptive_field": lifter.receptive_field,
        "flip": use_flip,
        "causal": bool(lifter.config.causal),
        "max_gap_frames": max_gap,
        "trajectory_source": trajectory_source if traj is not None else None,
        "frames_with_person": found,
        "flagged_frames": flagged_list,
        "plausibility": checks,
        "timings_s": dict(timings),
        "units": {
            "joints_3d": "metres, root-relative (Hip at 0), camera frame (x right, y down, z forward)",
            "trajectory": (
                "metres, root position in the camera frame: fitted to the 2D with focal_px (trajectory_source fit) "
                "or the trajectory model's, depth scaled by focal_px (model); see poselift.pipeline"
            ),
            "keypoints_2d": "pixels, origin top-left (H36M-17 joints, gaps filled)",
            "time_s": "seconds",
        },
    }

    t0 = time.perf_counter()
    created = _make_dirs(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".poselift-infer-", dir=out_dir))
    written: list[str] = []
    try:
        extra: dict[str, float] = {}
        if render:
            tr = time.perf_counter()
            _render(
                staging / "render.mp4", joints, points_px, kp.fps, video=source if kind == "video" else None,
                video_fps=fps, image_size=(kp.width, kp.height), render_size=render_size, azimuth=azimuth,
                limit_frames=limit_frames, progress=progress,
            )
            extra["render"] = time.perf_counter() - tr
        if bvh:
            tb = time.perf_counter()
            _bvh(staging / "poses.bvh", joints, kp.fps, traj)
            extra["bvh"] = time.perf_counter() - tb
        write_outputs(staging, arrays, meta)
        names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
        written = _commit(staging, out_dir, names, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # leave no empty folders behind either
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    timings["write"] = time.perf_counter() - t0 - sum(extra.values())
    timings.update(extra)
    result = InferResult(
        out_dir=str(out_dir), files=written, num_frames=kp.num_frames, frames_with_person=found,
        filled_frames=int(filled_frames.sum()), flagged_frames=flagged_list, fps=kp.fps,
        model_fps=model_fps(lifter.metadata), width=kp.width, height=kp.height, focal_px=focal_px,
        checkpoint=checkpoint_name, has_trajectory=traj is not None, flip=use_flip,
        causal=bool(lifter.config.causal), timings_s=timings, plausibility=checks,
    )
    log.info(
        "infer: %d frames (person in %d, %d filled, %d flagged) in %.2f s = %.1f frames/s; %s",
        result.num_frames, found, result.filled_frames, len(flagged_list), result.total_s, result.frames_per_s,
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
    )
    log.info(
        "plausibility: bone-length variation (std/mean over frames) median %s, max %s; "
        "%d frame(s) with a leg or arm on the other side than in the 2D; "
        "the 2D switched a leg or arm pair's left/right labels between frames %d time(s)",
        checks["bone_length_cv_median"], checks["bone_length_cv_max"], len(checks["left_right_swapped_frames"]),
        len(checks["detector_label_switch_frames"]),
    )
    return result


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, deepest first."""
    created: list[Path] = []
    probe = folder
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def write_outputs(folder: Path, arrays: dict[str, Any], meta: dict[str, Any]) -> list[Path]:
    """Write ``poses.npz``, ``poses.json`` and ``poses.csv`` into ``folder``."""
    from poselift.export import write_csv, write_json, write_npz

    npz = write_npz(folder / "poses.npz", arrays)
    doc = {k: v for k, v in arrays.items() if v is not None}
    doc["metadata"] = meta
    js = write_json(folder / "poses.json", doc)
    cs = write_csv(
        folder / "poses.csv", arrays["joints_3d"], arrays["keypoints_2d"], arrays["confidence"],
        arrays["filled_joints"], float(arrays["fps"]), [str(n) for n in arrays["joint_names"]],
    )
    return [npz, js, cs]


# ----------------------------------------------------------------------------- CLI
def cmd_infer(args: argparse.Namespace) -> int:
    """``poselift infer``: run :func:`run_infer` and print a summary."""
    try:
        result = _cmd_infer_run(args)
    except OSError as exc:  # disk full, permission denied, ...: nothing was written (all-or-nothing)
        where = exc.filename or args.out
        raise PoseliftError(f"{where}: {exc.strerror or exc}; no outputs were written to {args.out}") from None
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"{result.num_frames} frames lifted (person found in {result.frames_with_person}, "
            f"{result.filled_frames} filled, {len(result.flagged_frames)} flagged) at "
            f"{result.frames_per_s:.1f} frames/s → {result.out_dir}",
            file=sys.stderr,
        )
        for path in result.files:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _shared_infer_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options `infer` and `infer-batch` share, as keyword arguments of :func:`run_infer`."""
    return {
        "detector": args.detector,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "focal": args.focal,
        "trajectory_source": args.trajectory_source,
        "causal": args.causal,
        "flip": not args.no_flip,
        "max_gap": args.max_gap,
        "bvh": args.bvh,
        "render": args.render,
        "overwrite": args.overwrite,
    }


def _cmd_infer_run(args: argparse.Namespace) -> InferResult:
    return run_infer(
        args.input,
        args.out,
        args.checkpoint,
        keypoints_format=args.keypoints_format,
        render_size=args.render_size,
        azimuth=args.azimuth,
        limit_frames=args.limit_frames,
        progress=not args.json and not args.no_progress,
        **_shared_infer_options(args),
    )


def _add_shared_infer_args(p: argparse.ArgumentParser, *, keypoints_format: bool) -> None:
    """Options `infer` and `infer-batch` share (read back by :func:`_shared_infer_options`)."""
    from poselift.detect import DETECTORS, KEYPOINT_FORMATS

    p.add_argument("--checkpoint", default=None, metavar="PATH", help="poselift checkpoint (.pt) trained on H36M-17 2D keypoints; default: the bundled model")
    p.add_argument("--detector", choices=DETECTORS, default="mediapipe", help="2D detector for videos (default mediapipe: BlazePose-33, model_complexity 1, bundled in the wheel, tracking mode)")
    if keypoints_format:
        p.add_argument("--keypoints-format", choices=("auto",) + KEYPOINT_FORMATS, default="auto", help="format of a keypoint INPUT (default auto: folder → openpose, .json → coco-json, .npz → npz, .csv → csv, anything else is decoded as a video)")
    g = p.add_argument_group("input geometry and timing")
    g.add_argument("--width", type=positive_int, default=None, metavar="PX", help="image width in pixels of a keypoint INPUT: required when the file does not state it, overrides it otherwise (videos: read from the file)")
    g.add_argument("--height", type=positive_int, default=None, metavar="PX", help="image height in pixels of a keypoint INPUT (like --width)")
    g.add_argument("--fps", type=positive_float, default=None, metavar="FPS", help="input frame rate in frames/s: required for keypoint files without one; for a video it replaces the container's rate (needed when the container has none)")
    g.add_argument("--focal", type=positive_float, default=None, metavar="PX", help="camera focal length in pixels, used for the trajectory (root position) depth; default: the image diagonal sqrt(w²+h²) (≈53° diagonal field of view)")
    g.add_argument("--trajectory-source", choices=TRAJECTORY_SOURCES, default="fit", help="where the root trajectory comes from: 'fit' (default) places the lifted pose onto the 2D legs and arms through a pinhole camera with --focal (a robust fit, smoothed over 0.5 s (median) and 0.18 s (mean)), for any checkpoint; 'model' uses the checkpoint's trajectory model (depth scaled by --focal; none without one). On Human3.6M 'fit' is 4-5x more accurate and jitters far less")
    g = p.add_argument_group("lifting")
    g.add_argument("--causal", action="store_true", help="require a causal checkpoint (each output sees only past frames); error if the checkpoint is symmetric")
    g.add_argument("--no-flip", action="store_true", help="skip flip test-time augmentation (averaging with the mirrored input; never used for causal models); about 2x faster lifting")
    g.add_argument("--max-gap", type=non_negative_int, default=DEFAULT_MAX_GAP, metavar="FRAMES", help="longest run of missing frames (per joint, in input frames) that is interpolated silently; longer gaps are filled too but flagged in the output (default 10)")
    g = p.add_argument_group("extra outputs")
    g.add_argument("--bvh", action="store_true", help="also write poses.bvh in the output folder (motion capture file for Blender etc.)")
    g.add_argument("--render", action="store_true", help="also write render.mp4 in the output folder: the input video (or the 2D keypoints) next to the 3D skeleton")
    add_threads_option(p)


def add_infer(sub) -> None:
    """Register ``poselift infer`` on an argparse sub-parser collection."""
    p = sub.add_parser(
        "infer",
        help="video or 2D keypoint file → 3D poses (npz/json/csv, optional BVH and render)",
        description=(
            "Lift one person's motion to 3D. INPUT is a video (2D keypoints are detected with MediaPipe) or a "
            "keypoint file you already have: COCO-style JSON, an OpenPose JSON folder, our .npz or a long-format "
            ".csv (formats: README and poselift.detect). Writes OUT/poses.npz, poses.json and poses.csv: H36M-17 "
            "joints in metres, root-relative, camera frame (x right, y down, z forward), the 2D keypoints in "
            "pixels, per-joint confidence and which frames were interpolated; plus the root trajectory when the "
            "checkpoint has a trajectory model. Missing detections are interpolated in time; gaps longer than "
            "--max-gap frames are filled too but flagged. The 2D sequence is resampled to the model's frame rate "
            "(checkpoint metadata 'fps', default 50) by linear interpolation and the 3D result back to the video's."
        ),
    )
    p.add_argument("input", metavar="VIDEO|KEYPOINTS", help="video file (mp4, mov, avi, ...) or keypoint file/folder")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created); a run that fails writes nothing there")
    p.add_argument("--overwrite", action="store_true", help="replace outputs (poses.*, render.mp4) already in --out; they are replaced only when the run succeeds (default: refuse)")
    _add_shared_infer_args(p, keypoints_format=True)
    g = p.add_argument_group("rendering")
    g.add_argument("--render-size", type=positive_int, default=None, metavar="PX", help="height of the rendered video in pixels (default 480)")
    g.add_argument("--azimuth", type=float, default=None, metavar="DEG", help="viewing angle of the 3D panel around the vertical axis, in degrees (default 70: the input camera's side, as VideoPose3D; 160 = side view, 250 = from behind)")
    g.add_argument("--limit-frames", type=positive_int, default=None, metavar="N", help="render only the first N frames (the pose files always hold every frame)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (frames, person frames, flagged frames, per-stage timings in s, end-to-end frames/s) on stdout; no progress bars")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_infer)


# --------------------------------------------------------------------- batch inference
#: Keypoint file suffixes ``poselift infer-batch`` picks up (videos: :data:`poselift.video.VIDEO_SUFFIXES`).
KEYPOINT_SUFFIXES = (".json", ".npz", ".csv")


@dataclass
class BatchItem:
    """Outcome of one input of ``poselift infer-batch`` (``status``: done, skipped or failed)."""

    input: str
    out_dir: str
    status: str
    reason: str | None = None
    num_frames: int | None = None
    seconds: float = 0.0


@dataclass
class BatchResult:
    """Summary of ``poselift infer-batch``."""

    input_dir: str
    out_dir: str
    items: list[BatchItem]

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_dir": self.input_dir,
            "out_dir": self.out_dir,
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "files": [asdict(item) for item in self.items],
        }


def batch_inputs(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The inputs of a batch in ``folder`` (not recursive), sorted by name: videos
    (:data:`poselift.video.VIDEO_SUFFIXES`), keypoint files (``.json``, ``.npz``,
    ``.csv``) and OpenPose folders (sub-folders holding ``*_keypoints.json``).
    Hidden files and ``exclude`` (the output folder, when inside) are skipped."""
    from poselift.video import VIDEO_SUFFIXES

    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or (exclude is not None and path.resolve() == exclude.resolve()):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES + KEYPOINT_SUFFIXES:
            found.append(path)
        elif path.is_dir() and any(path.glob("*_keypoints.json")):
            found.append(path)
    return found


def batch_output_dirs(inputs: list[Path], out_dir: Path) -> dict[Path, Path]:
    """``OUT/<stem>`` per input; inputs sharing a stem (``a.mp4``, ``a.json``) get
    ``OUT/<file name>`` instead so that no two inputs write to one folder."""
    def key(p: Path) -> str:
        return p.name if p.is_dir() else p.stem

    counts: dict[str, int] = {}
    for p in inputs:
        counts[key(p)] = counts.get(key(p), 0) + 1
    return {p: out_dir / (key(p) if counts[key(p)] == 1 else p.name) for p in inputs}


def run_batch(
    input_dir: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    width: int | None = None,
    height: int | None = None,
    **options: Any,
) -> BatchResult:
    """:func:`run_infer` on every input of ``input_dir`` (:func:`batch_inputs`), one
    output folder per input (:func:`batch_output_dirs`).

    The checkpoint is loaded once (a bad one is an error before anything runs). An
    input whose outputs are all present is skipped unless ``overwrite``; a failing
    input is recorded with its reason and the batch goes on. ``width``/``height``
    apply to keypoint inputs only; ``options`` are passed to :func:`run_infer`.
    """
    from tqdm import tqdm

    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.exists():
        raise PoseliftError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise PoseliftError(f"{input_dir} is not a folder; use `poselift infer` for a single file")
    if out_dir.exists() and not out_dir.is_dir():
        raise PoseliftError(f"--out {out_dir} exists and is not a folder")
    inputs = batch_inputs(input_dir, exclude=out_dir)
    if not inputs:
        from poselift.video import VIDEO_SUFFIXES

        raise PoseliftError(
            f"{input_dir} contains no inputs (videos {', '.join(VIDEO_SUFFIXES)}; keypoint files "
            f"{', '.join(KEYPOINT_SUFFIXES)}; OpenPose folders)"
        )
    lifter = _load_lifter(checkpoint, bool(options.get("causal", False)))
    names = output_names(bvh=bool(options.get("bvh")), render=bool(options.get("render")))
    targets = batch_output_dirs(inputs, out_dir)
    items: list[BatchItem] = []
    bar = tqdm(inputs, desc="infer-batch", unit="file", disable=not progress, file=sys.stderr)
    for source in bar:
        dst = targets[source]
        bar.set_postfix_str(source.name[:40])
        if not overwrite and all((dst / name).is_file() for name in names):
            items.append(BatchItem(str(source), str(dst), "skipped", "outputs already complete (--overwrite to redo)"))
            continue
        t0 = time.perf_counter()
        try:
            keypoints = input_kind(source) == "keypoints"
            result = run_infer(
                source, dst, checkpoint, lifter=lifter, overwrite=overwrite, progress=False,
                width=width if keypoints else None, height=height if keypoints else None, **options,
            )
        except PoseliftError as exc:
            items.append(BatchItem(str(source), str(dst), "failed", str(exc), seconds=time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            log.debug("infer-batch: %s failed", source, exc_info=True)
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            items.append(BatchItem(str(source), str(dst), "failed", reason, seconds=time.perf_counter() - t0))
        else:
            items.append(BatchItem(str(source), str(dst), "done", num_frames=result.num_frames, seconds=time.perf_counter() - t0))
    bar.close()
    return BatchResult(str(input_dir), str(out_dir), items)


def cmd_infer_batch(args: argparse.Namespace) -> int:
    """``poselift infer-batch``: run :func:`run_batch`, print the summary; exit 1 if any input failed."""
    result = run_batch(
        args.input_dir,
        args.out,
        args.checkpoint,
        progress=not args.no_progress,
        keypoints_format="auto",
        **_shared_infer_options(args),
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"infer-batch {result.input_dir} → {result.out_dir}: {result.count('done')} done, "
            f"{result.count('skipped')} skipped, {result.count('failed')} failed",
            file=sys.stderr,
        )
        for item in result.items:
            if item.status != "done":
                print(f"  {item.status}: {Path(item.input).name}: {item.reason}", file=sys.stderr)
    return 1 if result.count("failed") else 0


def add_infer_batch(sub) -> None:
    """Register ``poselift infer-batch`` on an argparse sub-parser collection."""
    p = sub.add_parser(
        "infer-batch",
        help="`poselift infer` on every video / keypoint file in a folder",
        description=(
            "Runs `poselift infer` on every input in INPUT_DIR (not recursive): videos (.mp4, .mov, .avi, ...), "
            "keypoint files (.json COCO-style, .npz, .csv) and OpenPose folders (sub-folders of *_keypoints.json). "
            "Each input gets its own folder OUT/<name without extension>/ (OUT/<file name>/ when two inputs share "
            "a name). Inputs whose outputs are already complete are skipped (unless --overwrite); a failing input "
            "does not stop the batch. Prints a summary (done / skipped / failed with the reason); exit code 1 if "
            "any input failed, 0 otherwise."
        ),
    )
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of videos and/or keypoint files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: one sub-folder per input")
    p.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs exist (default: skip complete ones)")
    _add_shared_infer_args(p, keypoints_format=False)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (done/skipped/failed counts and one entry per input)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_infer_batch)
