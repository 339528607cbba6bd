"""Streaming (causal) inference: ``poselift stream VIDEO|--camera N``.

Each frame is lifted as soon as it arrives, from the last ``RF`` frames only, so a
*causal* model (trained with ``--causal``) is required: its output for frame ``t``
depends on frames ``t - RF + 1 … t``. Before ``RF`` frames have arrived the window
is edge-padded with the first frame (as in training). A joint the detector misses
keeps its last seen position (no future frames to interpolate from); frames without
a person before the first detection are reported as ``"detected": false`` and not
lifted.

Per frame it measures the detector latency and the lifting latency (milliseconds,
wall clock) and, with ``--jsonl``, prints one JSON object per frame on stdout:
``{"frame", "time_s", "detected", "joints_3d" [17][3] m root-relative camera frame,
"trajectory" [3] m camera frame, "keypoints_2d" [17][2] px, "latency_ms": {"detect",
"lift", "total"}}``. A latency summary goes to stderr.

The trajectory (root position) is by default fitted to the 2D, frame by frame, through
a pinhole camera (``--focal``, default the image diagonal), and smoothed causally
(:class:`poselift.geometry.trajectory.CausalRootSmoother`): as ``poselift infer`` does, but from
past frames only. ``--trajectory-source model`` uses the checkpoint's trajectory model.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.camera import (
    TRAINED_HEIGHT_P99,
    fit_root_position,
    normalize_screen,
    oversize_scale,
)
from poselift.geometry.sequence import CausalResampler, check_frame_rate
from poselift.geometry.skeleton import to_h36m17
from poselift.geometry.trajectory import (
    ROOT_FIT_JOINTS,
    ROOT_FIT_ROBUST_ITERATIONS,
    CausalRootSmoother,
    default_focal,
    pinhole_intrinsics,
)
from poselift.models.fast import IncrementalCausalModel
from poselift.models.lifter import input_height_limit, load_model, model_fps
from poselift.pipeline.detect import MediaPipeDetector
from poselift.pipeline.infer import TRAJECTORY_SOURCES
from poselift.pipeline.video import open_video

log = logging.getLogger("poselift.pipeline.stream")


class CausalLifter:
    """Lifts each new frame from the frames seen so far (causal model only).

    ``push(keypoints [J_in, 2])`` (normalised screen coordinates) returns the 3D pose
    ``[J_out, 3]`` (metres, root-relative, camera frame) and the root trajectory
    ``[3]`` or ``None``. Internally :class:`poselift.models.fast.IncrementalCausalModel`
    keeps each layer's recent inputs, so a frame costs one matrix-vector product per
    layer; the result equals the full model on the last ``RF`` frames, with the
    first frame repeated before the stream started (as in training).
    """

    def __init__(self, lifter, trajectory: bool = True) -> None:
        if not lifter.config.causal:
            raise PoseliftError(
                "streaming needs a causal model (its output must not depend on future frames); "
                "train one with `TrainConfig.causal=True`"
            )
        self.lifter = lifter.eval()
        self.rf = lifter.receptive_field
        self.pose_model = IncrementalCausalModel(lifter.pose_model)
        use = trajectory and lifter.trajectory_model is not None  # trajectory=False: skip the model
        self.trajectory_model = IncrementalCausalModel(lifter.trajectory_model) if use else None

    def reset(self) -> None:
        """Start a new sequence: forget every past frame."""
        self.pose_model.reset()
        if self.trajectory_model is not None:
            self.trajectory_model.reset()

    def push(self, keypoints: np.ndarray, pose_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray | None]:
        """``pose_scale``: the pose model sees the keypoints times it (:class:`SizeGuard`), the
        trajectory model the keypoints as given."""
        import torch

        with torch.inference_mode():
            frame = torch.as_tensor(keypoints, dtype=torch.float32)
            pose = self.pose_model.step(frame if pose_scale == 1.0 else frame * pose_scale).numpy()
            traj = None
            if self.trajectory_model is not None:
                traj = self.trajectory_model.step(frame)[0].numpy()
        return pose, traj


class SizeGuard:
    """``poselift infer``'s size guard (:func:`poselift.geometry.camera.oversize_scale`) for a
    stream: the scale comes from the median 2D height of the frames seen so far and is fixed
    once ``settle_frames`` have been seen, so the pose model's input does not change scale
    mid-stream. ``enabled=False``: always 1."""

    def __init__(self, settle_frames: int = 25, max_height: float = TRAINED_HEIGHT_P99, enabled: bool = True) -> None:
        self.settle_frames, self.max_height, self.enabled = settle_frames, max_height, enabled
        self._frames: list[np.ndarray] = []
        self.scale = 1.0

    def push(self, keypoints: np.ndarray) -> float:
        """One frame's ``[J, 2]`` screen coordinates → the scale for it."""
        if self.enabled and len(self._frames) < self.settle_frames:
            self._frames.append(np.asarray(keypoints))
            self.scale = oversize_scale(np.stack(self._frames), self.max_height)
        return self.scale


@dataclass
class LatencyStats:
    """Per-frame latencies in milliseconds."""

    detect: list[float] = field(default_factory=list)
    lift: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in ("detect", "lift", "total"):
            values = np.asarray(getattr(self, name))
            if values.size:
                out[name] = {
                    "mean_ms": float(values.mean()),
                    "p50_ms": float(np.percentile(values, 50)),
                    "p95_ms": float(np.percentile(values, 95)),
                    "max_ms": float(values.max()),
                }
        return out


def _open_source(video: str | None, camera: int | None, fps: float | None):
    """``(fps, width, height, frames iterator)`` for a file or a live camera."""
    if camera is not None:
        import cv2

        if fps is not None:  # a file's rate is checked by open_video
            fps = check_frame_rate(fps)

        cap = cv2.VideoCapture(camera)
        if not cap.isOpened():
            raise PoseliftError(f"camera {camera} could not be opened")
        ok, first = cap.read()
        if not ok:
            cap.release()
            raise PoseliftError(f"camera {camera} gave no frame")
        rate = fps or float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0

        def frames() -> Iterator[np.ndarray]:
            try:
                yield first
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        return
                    yield frame
            finally:
                cap.release()

        return rate, first.shape[1], first.shape[0], frames()

    info, frames = open_video(Path(video), fps)  # type: ignore[arg-type]
    return info.fps, info.width, info.height, frames


def run_stream(
    video: str | None = None,
    *,
    camera: int | None = None,
    checkpoint: str | Path | None = None,
    fps: float | None = None,
    realtime: bool = False,
    max_frames: int | None = None,
    jsonl: bool = False,
    out=None,
    focal: float | None = None,
    trajectory_source: str = "fit",
    size_guard: bool = True,
) -> dict:
    """Stream a video file (or camera) through the detector and the causal lifter.

    realtime: pace a file at its frame rate (as a camera would deliver it) instead of
    reading it as fast as possible. focal: focal length in pixels for the fitted
    trajectory (default the image diagonal). size_guard: a person taller in the frame than the
    model's training data is lifted from their 2D scaled down (:class:`SizeGuard`; its scale is
    fixed after the first 25 frames with a person). Returns the latency summary.
    """
    import cv2

    out = sys.stdout if out is None else out  # looked up per call: a redirected stdout is honoured
    if (video is None) == (camera is None):
        raise PoseliftError("give a video file or a `camera` index (not both)")
    if trajectory_source not in TRAJECTORY_SOURCES:
        raise PoseliftError(f"unknown trajectory source {trajectory_source!r}; expected one of {', '.join(TRAJECTORY_SOURCES)}")
    if focal is not None and not (math.isfinite(focal) and focal > 0):
        raise PoseliftError(f"`focal` must be a positive number of pixels, got {focal}")
    if fps is not None:
        check_frame_rate(fps)
    if max_frames is not None and not (isinstance(max_frames, int) and max_frames > 0):
        raise PoseliftError(f"`max_frames` must be a positive whole number, got {max_frames!r:.40}")
    lifter = load_model(checkpoint, causal=True)  # default: the bundled causal model
    if lifter.config.num_joints_in != 17:
        raise PoseliftError(f"the checkpoint takes {lifter.config.num_joints_in} input joints; streaming feeds H36M-17")
    fitting = trajectory_source == "fit"
    causal = CausalLifter(lifter, trajectory=not fitting)
    rate, width, height, frames = _open_source(video, camera, fps)
    focal_px = focal if focal is not None else default_focal(width, height)
    intrinsics = pinhole_intrinsics(width, height, focal_px)
    smoother = CausalRootSmoother(rate) if fitting else None
    limbs = list(ROOT_FIT_JOINTS)
    if fitting:
        log.info("trajectory: root fitted to the 2D through a camera with focal length %.0f px (%s), smoothed causally",
                 focal_px, "--focal" if focal is not None else "default: the image diagonal; pass --focal PX if you know it")
    to_model_rate = CausalResampler(rate, model_fps(lifter.metadata))
    if to_model_rate.ratio != 1.0:
        log.info(
            "the model runs at %g frames/s: the %.4g frames/s source is resampled causally to it "
            "(each output holds the newest model-rate pose, at most one model frame old)",
            model_fps(lifter.metadata), rate,
        )
    lifted: tuple[np.ndarray, np.ndarray | None] | None = None
    guard = SizeGuard(max_height=input_height_limit(lifter.metadata), enabled=size_guard)
    stats = LatencyStats()
    last_seen: np.ndarray | None = None
    detected_frames = 0
    start = time.perf_counter()
    with MediaPipeDetector().tracker() as track:
        for index, frame in enumerate(frames):
            if max_frames is not None and index >= max_frames:
                break
            if realtime:
                due = start + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            points33, conf33 = track(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            t1 = time.perf_counter()
            points, conf = to_h36m17(points33[None], "blazepose33", conf33[None])
            points, conf = points[0], conf[0]
            found = np.isfinite(points).all(-1) & (conf > 0)
            record: dict = {"frame": index, "time_s": index / rate, "detected": bool(found.any())}
            if found.any():
                detected_frames += 1
                last_seen = np.where(found[:, None], points, last_seen if last_seen is not None else points)
            if last_seen is not None and np.isfinite(last_seen).all():
                norm = normalize_screen(last_seen, width, height).astype(np.float32)
                scale = guard.push(norm) if found.any() else guard.scale
                for sample in to_model_rate.push(norm):  # 0, 1 or more frames at the model's rate
                    lifted = causal.push(sample, pose_scale=scale)
                pose, traj = lifted  # the newest model-rate frame (held between its ticks)
                if smoother is not None:  # joints not seen in this frame (stale positions) do not count
                    weights = np.where(found, conf, 0.0)[limbs]
                    raw = fit_root_position(pose[limbs], last_seen[limbs], intrinsics, weights,
                                            robust_iterations=ROOT_FIT_ROBUST_ITERATIONS)
                    traj = smoother.push(raw)
                t2 = time.perf_counter()
                stats.lift.append((t2 - t1) * 1000)
                record["joints_3d"] = np.round(pose, 5).tolist()
                if traj is not None:
                    record["trajectory"] = np.round(traj, 5).tolist()
                record["keypoints_2d"] = np.round(last_seen, 2).tolist()
            else:
                t2 = time.perf_counter()
            stats.detect.append((t1 - t0) * 1000)
            stats.total.append((t2 - t0) * 1000)
            record["latency_ms"] = {"detect": round((t1 - t0) * 1000, 3), "lift": round((t2 - t1) * 1000, 3), "total": round((t2 - t0) * 1000, 3)}
            if jsonl:
                out.write(json.dumps(record) + "\n")
                out.flush()
    if not stats.total:
        raise PoseliftError("the source delivered no frames")
    if detected_frames == 0:
        raise PoseliftError("no person detected in any frame")
    wall = time.perf_counter() - start
    summary = {
        "frames": len(stats.total),
        "frames_with_person": detected_frames,
        "receptive_field": causal.rf,
        "trajectory_source": trajectory_source,
        "focal_px": focal_px if fitting else None,
        "input_scale": round(guard.scale, 4),
        "wall_s": wall,
        "frames_per_s": len(stats.total) / wall,
        "latency": stats.summary(),
    }
    lat = summary["latency"]
    log.info(
        "stream: %d frames (person in %d) at %.1f frames/s; latency per frame: detect %.1f ms (p95 %.1f), "
        "lift %.2f ms (p95 %.2f), total %.1f ms (p95 %.1f)",
        summary["frames"], detected_frames, summary["frames_per_s"],
        lat["detect"]["mean_ms"], lat["detect"]["p95_ms"],
        lat.get("lift", {}).get("mean_ms", float("nan")), lat.get("lift", {}).get("p95_ms", float("nan")),
        lat["total"]["mean_ms"], lat["total"]["p95_ms"],
    )
    return summary



