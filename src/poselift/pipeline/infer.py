"""``poselift infer``: in-the-wild video (or a keypoint file) to 3D poses in one command.

Stages, each a small pure function so that it can be tested alone:

1. **decode + detect** (:mod:`poselift.pipeline.video`, :mod:`poselift.pipeline.detect`): frames are
   decoded one at a time and fed to the 2D detector (MediaPipe BlazePose-33, pixels),
   or a keypoint file is imported (COCO JSON, OpenPose folder, npz, csv).
2. **convert**: the detector layout → H36M-17 (:func:`poselift.geometry.skeleton.to_h36m17`,
   derived joint confidence = minimum of its sources); missing joints are filled by
   :func:`fill_gaps` (linear in time, edges held; gaps longer than ``max_gap`` frames
   are filled too but *flagged*); pixels → normalised screen coordinates
   (:func:`poselift.geometry.camera.normalize_screen`); the sequence is resampled from the
   video frame rate to the model's (checkpoint metadata ``fps``, default 50) by
   linear interpolation in time (:func:`resample`).
3. **lift**: :func:`poselift.models.predict.predict_sequence` on the whole sequence (edge
   padded, one output per input frame; flip test-time augmentation unless the model
   is causal or ``--no-flip``), plus the root trajectory when the checkpoint has a
   trajectory model; the 3D result is interpolated back to the video frame times.
4. **write**: ``poses.npz``, ``poses.json``, ``poses.csv`` (and ``poses.bvh``,
   ``poses.trc``, ``render.mp4``, ``angles.csv`` + ``angles.png`` on request) into a
   staging folder inside ``--out``, then moved into place: an error never leaves
   partial ``poses.*`` files behind.

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

import contextlib
import json
import logging
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from poselift.errors import PoseliftError, finite_number
from poselift.evaluation import plausibility
from poselift.evaluation.metrics import limb_agreement
from poselift.geometry.angles import VERTICAL_ANGLES, joint_angles, segment_lengths, standing_height
from poselift.geometry.camera import normalize_screen, oversize_scale, screen_height
from poselift.geometry.gravity import (
    FLOOR_PERCENTILE,
    MIN_STANDING_FRACTION,
    UpEstimate,
    estimate_up,
    floor_below_camera,
    level_rotation,
)
from poselift.geometry.sequence import (
    FlipSpec,
    GapFill,
    check_frame_rate,
    fill_gaps,
    interpolate_frames,
    resample,
    same_rate,
)
from poselift.geometry.skeleton import H36M_17, LIMB12, detector_layout_from_h36m, get_skeleton, to_h36m17
from poselift.geometry.swaps import correct_swaps
from poselift.geometry.tracking import DUPLICATE_DISTANCE
from poselift.geometry.trajectory import ROOT_FIT_JOINTS, default_focal, depth_scale, fit_trajectory
from poselift.io.exports import (
    write_angles_csv,
    write_bvh,
    write_csv,
    write_json,
    write_npz,
)
from poselift.io.keypoints import (
    KEYPOINT_FORMATS,
    PeopleKeypoints2D,
    detect_keypoints_format,
    load_people_keypoints,
)
from poselift.io.locks import folder_lock
from poselift.io.staging import (
    check_destination,
    check_targets,
    commit_staged,
    created_folder,
)
from poselift.io.trc import check_units as check_trc_units
from poselift.io.trc import marker_positions, write_trc
from poselift.models.adapt import AdaptConfig, AdaptResult, adapt_pose_model
from poselift.models.lifter import (
    PoseLifter,
    check_lifter,
    check_lifter_config,
    checkpoint_config,
    input_height_limit,
    load_model,
    model_fps,
    train_focal_normalized,
)
from poselift.models.predict import lift_sequence
from poselift.pipeline.detect import DETECTORS
from poselift.pipeline.tracks import (
    FOLLOWED_DUPLICATE_DISTANCE,
    get_people_detector,
    track_detections,
    tracker_config,
)
from poselift.pipeline.video import open_video, prefetch
from poselift.viz.angles_plot import plot_angles
from poselift.viz.render import PANEL_SIZE_RANGE, PersonRender, check_panel_size, render_people_video, render_video

log = logging.getLogger("poselift.infer")

DEFAULT_MAX_GAP = 10
OUTPUT_FILES = ("poses.npz", "poses.json", "poses.csv")

#: ``person`` of :func:`run_infer`: every tracked person (one folder each), or one of them
#: (``largest``: the most visible over the clip, ``longest``: the most frames, or a track id).
PERSON_RULES = ("all", "largest", "longest")
#: Tracking defaults, seconds: an identity survives this long without a detection, and a
#: track with fewer detected seconds is dropped (a log line says so).
DEFAULT_TRACK_GAP_S = 1.0
DEFAULT_MIN_TRACK_S = 0.4


def check_person(person: Any) -> None:
    """``person`` must be ``all``, ``largest``, ``longest`` or a track id (a whole number >= 0)."""
    if isinstance(person, str) and person in PERSON_RULES:
        return
    if _whole(person) and person >= 0:
        return
    raise PoseliftError(f"`person` must be all, largest, longest or a track id (a whole number >= 0), got {person!r:.40}")




# -------------------------------------------------------------------------- lifting

TRAJECTORY_SOURCES = ("fit", "model")




#: Output frames per model call when lifting (:func:`lift`): bounds the activation
#: memory of long inputs; any value gives the same result (the chunks overlap by the
#: receptive field, edge padding only at the true sequence ends).
LIFT_CHUNK_FRAMES = 4096
#: Resampling may make a sequence at most this many times longer (plus 10 000 frames).
MAX_RESAMPLE_GROWTH = 100


def check_resample(t: int, fps: float, rate: float) -> None:
    """Refuse an input rate ``fps`` that would resample ``t`` frames to an absurd length
    at the model's ``rate`` (both frames/s): a wrong `fps`, not a long input."""
    if not same_rate(fps, rate) and (t - 1) * rate / fps > MAX_RESAMPLE_GROWTH * t + 10_000:
        raise PoseliftError(
            f"a frame rate of {fps:.3g} frames/s would resample {t} frames to {(t - 1) * rate / fps + 1:.3g} at the "
            f"model's {rate:g} frames/s; check `fps` (frames per second of the input)"
        )


def uses_flip(lifter, flip: bool) -> bool:
    """Whether lifting uses flip test-time augmentation: asked for (``flip``) and the model is
    not causal (a causal model is lifted as ``poselift stream`` lifts it, without flips)."""
    return bool(flip) and not lifter.config.causal


def _flip_spec(lifter, flip: bool) -> FlipSpec | None:
    """The H36M-17 flip test-time augmentation when :func:`uses_flip`, else None."""
    return FlipSpec.from_skeletons(H36M_17, H36M_17) if uses_flip(lifter, flip) else None


def lift(
    lifter, keypoints_norm: np.ndarray, fps: float, *, flip: bool = True, chunk_frames: int = LIFT_CHUNK_FRAMES,
    trajectory: bool = True, pose_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Lift ``[T, 17, 2]`` normalised screen coordinates sampled at ``fps`` frames/s.

    The input is resampled to the model's frame rate, lifted with
    :func:`poselift.models.predict.lift_sequence` (flip TTA when ``flip`` and the model
    is not causal) in chunks of ``chunk_frames`` output frames (memory for the
    activations is bounded by the chunk, not the sequence length; the result equals
    the one-shot result), and the output interpolated back to the ``T`` input frame
    times. ``pose_scale``: the pose model sees the keypoints scaled about the image
    centre by it (:func:`poselift.geometry.camera.oversize_scale`). Returns ``(joints [T, 17, 3], trajectory [T, 3] or None)``: root-relative
    joints and the root position, metres, camera frame (trajectory *not* focal-corrected;
    ``None`` without a trajectory model or when ``trajectory`` is false).
    """
    t = keypoints_norm.shape[0]
    rate = model_fps(lifter.metadata)
    check_resample(t, fps, rate)
    x = resample(keypoints_norm.astype(np.float32), fps, rate)
    joints, traj = lift_sequence(
        lifter.pose_model, x, _flip_spec(lifter, flip), trajectory_model=lifter.trajectory_model if trajectory else None,
        chunk_frames=chunk_frames, pose_scale=pose_scale,
    )
    del x
    back = np.arange(t) * (rate / fps) if not same_rate(fps, rate) else np.arange(t, dtype=np.float64)
    joints = interpolate_frames(joints, back)
    traj = interpolate_frames(traj, back) if traj is not None else None
    return joints.astype(np.float32), None if traj is None else traj.astype(np.float32)


#: Columns of ``adaptation_loss`` in ``poses.npz``.
ADAPTATION_LOSS_TERMS = ("total", "reprojection", "bone", "tether")


def adapted_lifter(
    lifter, keypoints_norm: np.ndarray, confidence: np.ndarray, fps: float, *, focal_px: float, width: int,
    flip: bool, config: AdaptConfig,
) -> tuple[Any, AdaptResult]:
    """A copy of ``lifter`` whose pose model is fine-tuned on this clip
    (:func:`poselift.models.adapt.adapt_pose_model`): ``[T, 17, 2]`` normalised screen
    coordinates at ``fps``, their confidence ``[T, 17]`` (0 where a joint was filled in),
    resampled to the model's rate; a pinhole camera with focal length ``focal_px``
    (pixels) and the principal point at the image centre; the legs and arms are
    compared with the 2D. The trajectory model and the metadata are shared."""
    rate = model_fps(lifter.metadata)
    x = resample(keypoints_norm.astype(np.float32), fps, rate)
    weights = resample(confidence.astype(np.float32), fps, rate)
    result = adapt_pose_model(
        lifter.pose_model, x, weights, H36M_17, focal_normalized=2.0 * focal_px / width, flip=_flip_spec(lifter, flip),
        config=config,
        reprojection_joints=ROOT_FIT_JOINTS,
    )
    return PoseLifter(result.model, lifter.trajectory_model, lifter.metadata), result


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
    # checks of the result that need no ground truth (poselift.evaluation.plausibility.summarize)
    plausibility: dict[str, Any] = field(default_factory=dict)
    #: every person written: track id, first/last input frame, frames, filled/flagged frames, folder
    people: list[dict[str, Any]] = field(default_factory=list)
    #: tracking events (start, end, gap, dropped, ambiguous): see poselift.geometry.tracking
    events: list[dict[str, Any]] = field(default_factory=list)

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
    if keypoints_format != "auto":
        return "keypoints"
    return "keypoints" if detect_keypoints_format(path) else "video"


def _abort_on_failure(frames: Iterator[np.ndarray], future: Future) -> Iterator[np.ndarray]:
    """Pass frames through, raising the background job's exception as soon as it fails."""
    for frame in frames:
        if future.done() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
        yield frame


def _detect_video(path: Path, detector, fps: float | None, progress: bool, background: Future | None = None,
                  model_rate: float | None = None, follow: bool = False) -> PeopleKeypoints2D:
    """Decode (in a prefetch thread) and detect every person; ``background`` failing aborts
    detection early. ``model_rate``: the model's frame rate, to refuse an absurd video rate
    before detecting. ``follow``: each person followed by a landmarker of their own
    (``follow_people``, where the detector has it) instead of the whole-frame pass on every
    frame (``detect_people``); both return :class:`PeopleKeypoints2D`. A one-person detector (``detect`` only) gives one person,
    track id 1."""
    info, frames = open_video(path, fps=fps)
    log.info("video %s: %dx%d px, %.3f frames/s, ~%d frames", path, info.width, info.height, info.fps, info.num_frames)
    if model_rate is not None and info.num_frames > 0:
        try:
            check_resample(info.num_frames, info.fps, model_rate)
        except PoseliftError as exc:
            frames.close()
            raise PoseliftError(f"{path}: {exc}") from None
    det = get_people_detector(detector) if isinstance(detector, str) else detector
    stream = prefetch(frames)
    if background is not None:
        stream = _abort_on_failure(stream, background)
    try:
        if hasattr(det, "detect_people"):
            if follow and hasattr(det, "follow_people"):
                return det.follow_people(stream, info, progress=progress)
            return det.detect_people(stream, info, progress=progress)
        return PeopleKeypoints2D.from_single(det.detect(stream, info, progress=progress))
    finally:
        with contextlib.suppress(ValueError):  # still running in a detector thread that timed out
            stream.close()


def one_person_source(source: Path, keypoints_format: str, detector: Any) -> bool:
    """Whether the input can hold one person only: an npz or csv keypoint file, or a
    video with a detector object that finds one person (``detect``, no ``detect_people``)."""
    if input_kind(source, keypoints_format) == "keypoints":
        fmt = keypoints_format if keypoints_format != "auto" else detect_keypoints_format(source)
        return fmt in ("npz", "csv")
    return not isinstance(detector, str) and not hasattr(detector, "detect_people")


def outputs_complete(out_dir: Path, source: Path, *, keypoints_format: str = "auto", detector: Any = "mediapipe",
                     person: Any = "all", bvh: bool = False, trc: bool = False, render: bool = False,
                     angles: bool = False) -> bool:
    """Whether ``out_dir`` holds every output a :func:`run_infer` of ``source`` with these
    options writes (``person_<id>/`` folders: those ``people.json`` lists as written)."""
    one = one_person_source(source, keypoints_format, detector)
    every = person == "all" and not one
    names = output_names(bvh=bvh, trc=trc, render=render, angles=angles, every_person=every, people_file=not one)
    if not all((out_dir / name).is_file() for name in names):
        return False
    if not every:
        return True
    try:
        people = json.loads((out_dir / "people.json").read_text(encoding="utf-8"))["people"]
        folders = [p["folder"] for p in people if p.get("written")]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    files = person_output_names(bvh=bvh, trc=trc, angles=angles)
    return bool(folders) and all((out_dir / str(f) / name).is_file() for f in folders for name in files)


def _crop_capable(detector: Any) -> bool:
    """Whether each person can be followed on crops (the bundled detector)."""
    return isinstance(detector, str)


def _person_check(kp, source: Path, track_id: int = 1) -> int:
    """Frames of ``kp`` with the person found (an error if none); logs the interpolated share."""
    found = kp.person_frames()
    if not found.any():
        raise PoseliftError(f"no person detected in any frame of {source} ({kp.num_frames} frames)")
    n = int(found.sum())
    who = f"person {track_id}" if track_id != 1 else "person"
    if n < kp.num_frames:
        log.info("%s found in %d of %d frames; the other frames are interpolated", who, n, kp.num_frames)
    if n < 0.5 * kp.num_frames:
        log.warning("%s was found in only %d of %d frames: expect unreliable 3D in the gaps", who, n, kp.num_frames)
    return n


def _to_h36m(kp, max_gap: int) -> tuple[np.ndarray, np.ndarray, GapFill]:
    """Keypoints2D → H36M-17 pixels ``[T, 17, 2]``, confidence ``[T, 17]`` and the gap fill."""
    points, conf = to_h36m17(kp.points, kp.layout, kp.confidence)
    conf = np.where(np.isfinite(points).all(-1), conf, 0.0).astype(np.float32)
    never = ~(conf > 0).any(axis=0)
    if never.any():
        names = ", ".join(H36M_17.joint_names[j] for j in np.flatnonzero(never))
        raise PoseliftError(f"joint(s) {names} (h36m17) were not found in any frame; the lifter needs all 17 joints")
    gaps = fill_gaps(points, conf, max_gap)
    return gaps.points, conf, gaps


def load_checked_lifter(checkpoint: str | Path | None, causal: bool, lifter: Any = None):
    """Load and check the checkpoint (see :func:`check_lifter`), or check ``lifter``."""
    if lifter is None:
        lifter = load_model(checkpoint, causal=causal)
    try:
        check_lifter(lifter, causal)
    except PoseliftError as exc:
        raise PoseliftError(f"checkpoint {checkpoint if checkpoint is not None else '(bundled)'}: {exc}") from None
    return lifter


def check_checkpoint(checkpoint: str | Path | None, causal: bool, lifter: Any = None) -> dict[str, Any]:
    """What :func:`load_checked_lifter` checks, from the checkpoint's metadata alone
    (milliseconds, no model built): run before any slow work, so that a checkpoint
    that cannot serve (or is not causal when ``causal``) is refused at once. Returns
    the metadata."""
    if lifter is not None:
        config, metadata = lifter.config, lifter.metadata
    else:
        config, metadata = checkpoint_config(checkpoint, causal=causal)
    try:
        check_lifter_config(config, metadata, causal)
    except PoseliftError as exc:
        raise PoseliftError(f"checkpoint {checkpoint if checkpoint is not None else '(bundled)'}: {exc}") from None
    return metadata


#: Heights (pixels) of the rendered video that :func:`poselift.viz.render.render_video`
#: accepts (its ``size``); checked before the run so that a bad value fails at once.
RENDER_SIZE_RANGE = PANEL_SIZE_RANGE


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class InferOptions:
    """What :func:`run_infer` does with an input: every field is a keyword of
    :func:`run_infer` (documented there), with its default. :meth:`check` validates
    the values before anything is read or decoded."""

    detector: Any = "mediapipe"
    keypoints_format: str = "auto"
    width: int | None = None  # px, keypoint inputs without a frame size
    height: int | None = None  # px
    fps: float | None = None  # frames/s
    focal: float | None = None  # px; default: the image diagonal
    trajectory_source: str = "fit"
    causal: bool = False
    flip: bool = True
    max_gap: int = DEFAULT_MAX_GAP  # input frames
    person: str | int = "all"
    track_gap_s: float = DEFAULT_TRACK_GAP_S
    min_track_s: float = DEFAULT_MIN_TRACK_S
    crops: bool = True
    fix_swaps: bool = True
    size_guard: bool = True
    adapt: bool | AdaptConfig = False
    bvh: bool = False
    trc: bool = False
    trc_units: str = "m"
    angles: bool = False
    level: bool = True
    render: bool = False
    render_size: int | None = None  # px
    azimuth: float | None = None  # degrees
    limit_frames: int | None = None
    chunk_frames: int = LIFT_CHUNK_FRAMES
    person_height_m: float | dict[int, float] | None = None  # metres: one for everyone, or per track id

    @classmethod
    def from_keywords(cls, **settings: Any) -> "InferOptions":
        """The options from :func:`run_infer` keywords; an unknown name is a :class:`PoseliftError`."""
        unknown = sorted(set(settings) - {f.name for f in fields(cls)})
        if unknown:
            raise PoseliftError(f"unknown infer option(s) {', '.join(map(repr, unknown))}; known: "
                                f"{', '.join(f.name for f in fields(cls))}")
        return cls(**settings)

    def check(self) -> "InferOptions":
        """Raise one :class:`PoseliftError` naming the option for the first bad value;
        returns the options."""
        if isinstance(self.detector, str) and self.detector not in DETECTORS:
            raise PoseliftError(f"unknown `detector` {self.detector!r:.40}; available: {', '.join(DETECTORS)}")
        if self.keypoints_format not in ("auto", *KEYPOINT_FORMATS):
            raise PoseliftError(f"unknown `keypoints_format` {self.keypoints_format!r:.40}; use one of auto, {', '.join(KEYPOINT_FORMATS)}")
        for name, value in (("width", self.width), ("height", self.height)):
            if value is not None and not (_whole(value) and value > 0):
                raise PoseliftError(f"`{name}` must be a positive whole number of pixels, got {value!r:.40}")
        if self.fps is not None:
            check_frame_rate(self.fps)
        if self.focal is not None and not (finite_number(self.focal) and self.focal > 0):
            raise PoseliftError(f"`focal` must be a positive number of pixels, got {self.focal!r:.40}")
        if self.trajectory_source not in TRAJECTORY_SOURCES:
            raise PoseliftError(f"`trajectory_source` must be one of {', '.join(TRAJECTORY_SOURCES)}, got {self.trajectory_source!r:.40}")
        if not (_whole(self.max_gap) and self.max_gap >= 0):
            raise PoseliftError(f"`max_gap` must be >= 0 frames, got {self.max_gap}")
        check_person(self.person)
        for name, value in (("track_gap_s", self.track_gap_s), ("min_track_s", self.min_track_s)):
            if not (finite_number(value) and 0 <= value <= 3600):
                raise PoseliftError(f"`{name}` must be a number of seconds from 0 to 3600, got {value!r:.40}")
        check_trc_units(self.trc_units, "trc_units")
        if not self.trc and self.trc_units != "m":
            log.warning("--trc-units only applies with --trc; ignored")
        if self.render_size is not None:
            check_panel_size(self.render_size, "render_size")
        if self.azimuth is not None and not finite_number(self.azimuth):
            raise PoseliftError(f"`azimuth` must be a finite number of degrees, got {self.azimuth!r:.40}")
        if self.limit_frames is not None and not (_whole(self.limit_frames) and self.limit_frames > 0):
            raise PoseliftError(f"`limit_frames` must be a positive whole number of frames, got {self.limit_frames!r:.40}")
        if not (_whole(self.chunk_frames) and self.chunk_frames > 0):
            raise PoseliftError(f"`chunk_frames` must be a positive whole number of frames, got {self.chunk_frames!r:.40}")
        check_person_height(self.person_height_m)
        if not self.render and (self.render_size, self.azimuth, self.limit_frames) != (None, None, None):
            log.warning("--render-size, --azimuth and --limit-frames only apply with --render; ignored")
        return self


#: Standing heights ``person_height_m`` accepts, metres (a height in cm or mm is an error).
PERSON_HEIGHT_RANGE_M = (0.5, 2.6)


def _height_ok(value: Any) -> bool:
    lo, hi = PERSON_HEIGHT_RANGE_M
    return finite_number(value) and lo <= float(value) <= hi


def check_person_height(value: Any) -> None:
    """``person_height_m``: None, a height in metres, or ``{track id: metres}``."""
    lo, hi = PERSON_HEIGHT_RANGE_M
    if value is None or _height_ok(value):
        return
    if isinstance(value, dict) and value:
        for track_id, height in value.items():
            if not (_whole(track_id) and track_id >= 0):
                raise PoseliftError(f"`person_height_m`: track ids must be whole numbers >= 0, got {track_id!r:.40}")
            if not _height_ok(height):
                raise PoseliftError(f"`person_height_m`: the height of person {track_id} must be metres from {lo} to {hi}, "
                                    f"got {height!r:.40}")
        return
    raise PoseliftError(f"`person_height_m` must be a standing height in metres from {lo} to {hi} (or {{track id: metres}}), "
                        f"got {value!r:.40}")


def height_for(person_height_m: float | dict[int, float] | None, track_id: int) -> float | None:
    """The standing height (metres) given for person ``track_id``, or None."""
    if isinstance(person_height_m, dict):
        value = person_height_m.get(track_id)
        return None if value is None else float(value)
    return None if person_height_m is None else float(person_height_m)


def check_infer_options(**settings: Any) -> InferOptions:
    """:meth:`InferOptions.check` of :func:`run_infer` keywords, before anything is read or
    decoded: every bad value (or unknown name) is one :class:`PoseliftError` naming it."""
    return InferOptions.from_keywords(**settings).check()


def person_output_names(*, bvh: bool = False, trc: bool = False, angles: bool = False) -> list[str]:
    """The files written for one person (into ``person_<id>/``, or the output folder for one person)."""
    return list(OUTPUT_FILES) + (["poses.bvh"] if bvh else []) + (["poses.trc"] if trc else []) + (
        ["angles.csv", "angles.png"] if angles else [])


def output_names(*, bvh: bool = False, trc: bool = False, render: bool = False, angles: bool = False,
                 every_person: bool = False, people_file: bool = False) -> list[str]:
    """The files one ``poselift infer`` run writes into its output folder (with
    ``every_person`` the person files go into ``person_<id>/`` folders, not listed;
    ``people_file``: ``people.json``, the tracks of a source that may hold several people)."""
    person = [] if every_person else person_output_names(bvh=bvh, trc=trc, angles=angles)
    return person + (["people.json"] if people_file or every_person else []) + (["render.mp4"] if render else [])



def _render(out_path: Path, joints_3d: np.ndarray, keypoints_2d: np.ndarray, fps: float, *, video: Path | None,
            video_fps: float | None, image_size: tuple[int, int], render_size: int | None, azimuth: float | None,
            limit_frames: int | None, progress: bool, filled: np.ndarray | None = None,
            camera_rotation: np.ndarray | None = None) -> None:
    """Side-by-side render (input video or 2D keypoints | 3D) via :func:`poselift.viz.render.render_video`;
    ``filled`` (``[T, 17]`` bool): the interpolated 2D joints, marked in the video; ``camera_rotation``:
    a levelled world (:func:`level_world`)."""

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
            out_path, joints_3d, H36M_17, fps, keypoints_2d=keypoints_2d, frames=frames, filled=filled,
            image_size=None if frames is not None else image_size, limit_frames=limit_frames, progress=progress,
            camera_rotation=camera_rotation, **options,
        )
    finally:
        if frames is not None:
            frames.close()


@dataclass(frozen=True)
class LevelWorld:
    """A y-up (z-up before the writers' own conversion) world levelled by the vertical the
    poses show (:func:`poselift.geometry.gravity.estimate_up`): ``up`` (camera frame) and
    ``rotation`` (``X_cam = R · X_world``, a z-up world), or the level camera's."""

    up: np.ndarray
    rotation: np.ndarray
    estimate: UpEstimate
    #: How far the floor is below the camera along ``up``, metres (None without a trajectory).
    floor_below_camera_m: float | None = None

    def grounded(self, trajectory: np.ndarray | None) -> np.ndarray | None:
        """``trajectory`` (camera frame, metres) moved down by the floor height, so that
        in the levelled world (``rotation``) the floor is at height 0 and the feet stand on it."""
        if trajectory is None or self.floor_below_camera_m is None:
            return trajectory
        return (trajectory + self.floor_below_camera_m * self.up).astype(trajectory.dtype)


def level_world(joints_3d: np.ndarray, trajectory: np.ndarray | None = None) -> LevelWorld:
    """The world in which the lifted people stand upright (``level``; see :class:`LevelWorld`);
    with a ``trajectory`` (root, camera frame, metres) also the floor under their feet."""
    estimate = estimate_up(joints_3d)
    if estimate.reliable:
        log.info(
            "level: the people's vertical puts the camera at %.0f° pitch (%s) and %.0f° roll; render, BVH, TRC and "
            "angles use that vertical", abs(estimate.pitch_deg), "looking down" if estimate.pitch_deg >= 0 else "looking up",
            estimate.roll_deg,
        )
    else:
        log.warning(
            "level: only %d of %d frames show a straight leg (fewer than %.0f%%): the vertical is not reliable, "
            "keeping the camera's own up (a level camera)", estimate.straight_leg_frames, estimate.frames,
            100 * MIN_STANDING_FRACTION,
        )
    up = estimate.up_or_level()
    floor = None if trajectory is None else floor_below_camera(joints_3d, trajectory, up)
    if floor is not None:
        log.info("level: the floor is %.2f m below the camera (%g-th percentile of the lower foot); BVH and TRC "
                 "stand on it", floor, FLOOR_PERCENTILE)
    return LevelWorld(up, level_rotation(up), estimate, floor)


def _bvh(out_path: Path, joints_3d: np.ndarray, fps: float, trajectory: np.ndarray | None,
         camera_rotation: np.ndarray | None = None) -> None:
    """BVH motion file via :func:`poselift.io.exports.write_bvh` (root moved by the trajectory when present;
    ``camera_rotation``: a levelled world, see :func:`level_world`)."""

    write_bvh(out_path, joints_3d, H36M_17, fps, root_positions=trajectory, camera_rotation=camera_rotation)


def _trc(out_path: Path, joints_3d: np.ndarray, fps: float, trajectory: np.ndarray | None, units: str,
         camera_rotation: np.ndarray | None = None) -> None:
    """OpenSim marker file via :func:`poselift.io.trc.write_trc`: Y up (camera x, -y, -z, or the levelled
    world with ``camera_rotation``), absolute (the trajectory added) when there is a trajectory, else root-relative."""

    write_trc(out_path, joints_3d, H36M_17, fps, units=units, root_positions=trajectory, camera_rotation=camera_rotation)


def _angles(folder: Path, joints_3d: np.ndarray, fps: float, filled: np.ndarray, up: np.ndarray | None = None) -> None:
    """``angles.csv`` and ``angles.png`` (:func:`poselift.geometry.angles.joint_angles`,
    unsmoothed) into ``folder``; ``filled`` ``[T]``: frames whose 2D was interpolated.
    A video gives no vertical, so trunk flexion and the segment angles are measured
    against the camera's up direction (−y): the true vertical only for a level camera;
    ``up`` (camera frame): the vertical of :func:`level_world` instead."""
    result = joint_angles(joints_3d, up=up)
    write_angles_csv(folder / "angles.csv", result.names, result.degrees, fps, filled=filled)
    note = ("Joint angles: 3D, independent of the camera's tilt. Trunk flexion and segment angles: measured against "
            f"{result.vertical}. Degrees, unsmoothed.")
    plot_angles(folder / "angles.png", result.names, result.degrees, fps, filled=filled, note=note)
    log.info("angles: trunk flexion and the %d segment angles are measured against %s", len(VERTICAL_ANGLES) - 1, result.vertical)


def person_folder(track_id: int) -> str:
    """The output folder of one person when every person is written (``person="all"``)."""
    return f"person_{track_id}"


@dataclass
class LiftedPerson:
    """One person lifted: the arrays and metadata written to its ``poses.*`` (frames: the
    person's span of the input, ``first_frame`` … ``first_frame + T - 1``)."""

    track_id: int
    first_frame: int
    keypoints: Any  # the person's Keypoints2D over its span
    joints: np.ndarray  # [T, 17, 3] metres, root-relative, camera frame
    trajectory: np.ndarray | None  # [T, 3] metres, camera frame
    points_px: np.ndarray  # [T, 17, 2] pixels, gaps filled
    confidence: np.ndarray  # [T, 17]
    gaps: GapFill
    checks: dict[str, Any]
    found: int
    focal_px: float
    world_detector: np.ndarray | None = None  # [T, 33, 3] the detector's own 3D, metres
    timings_s: dict[str, float] = field(default_factory=dict)  # convert, lift
    #: our 3D against the detector's own (:func:`poselift.evaluation.metrics.limb_agreement`), or None
    detector_agreement: dict[str, Any] | None = None
    #: the left/right label swaps put back in the 2D (:func:`poselift.geometry.swaps.correct_swaps`), or None
    swaps: Any = None
    #: the test-time adaptation (:func:`adapted_lifter`), or None
    adaptation: AdaptResult | None = None
    #: the standing height and the scale to a given one (:func:`scale_to_height`)
    size: dict[str, Any] | None = None
    #: the person's 2D height (screen units) and the factor the pose model's input was scaled by
    #: (:func:`poselift.geometry.camera.oversize_scale`; 1: as seen)
    input_scale: dict[str, float] | None = None

    @property
    def filled_frames(self) -> np.ndarray:
        return self.gaps.filled.any(axis=1)

    @property
    def flagged_frames(self) -> list[int]:
        """Flagged frames as input (video) frame numbers."""
        return (np.flatnonzero(self.gaps.flagged.any(axis=1)) + self.first_frame).tolist()

    def summary(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "first_frame": self.first_frame,
            "last_frame": self.first_frame + self.keypoints.num_frames - 1,
            "frames": self.keypoints.num_frames,
            "frames_with_person": self.found,
            "filled_frames": int(self.filled_frames.sum()),
            "flagged_frames": self.flagged_frames,
            "plausibility": self.checks["verdict"]["line"],
            "vs_detector_3d": self.detector_agreement,
            "segment_lengths_m": segment_lengths(self.joints),
            "size": self.size,
            "input_scale": self.input_scale,
            "adaptation": None if self.adaptation is None else adaptation_summary(self.adaptation),
            "label_swaps_fixed": None if self.swaps is None else {
                "frames": self.swaps.frames_changed,
                "runs": [[g, a + self.first_frame, b + self.first_frame] for g, a, b in self.swaps.runs()],
            },
        }


def adaptation_summary(result: AdaptResult) -> dict[str, Any]:
    """What :func:`adapted_lifter` did, for ``poses.json``: steps, seconds and the loss terms (mm) before and after."""
    first, last = result.history[0], result.history[-1]
    return {
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "loss_mm": {k: [round(1000 * first[k], 2), round(1000 * last[k], 2)] for k in first},
    }


def scale_to_height(joints: np.ndarray, trajectory: np.ndarray | None, height_m: float | None
                    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Scale a person's root-relative ``joints`` ``[T, 17, 3]`` and camera-frame
    ``trajectory`` ``[T, 3]`` (metres) so that their :func:`standing_height` is ``height_m``
    (None: unchanged). Scaling both by one factor keeps every projected 2D point where it
    was (a pinhole camera cannot tell size from distance). Returns the arrays and
    ``{"standing_height_m": lifted skeleton's, "given_height_m", "scale"}``."""
    estimated = standing_height(joints)
    size: dict[str, Any] = {"standing_height_m": None if estimated is None else round(estimated, 3)}
    if height_m is None:
        return joints, trajectory, size
    if not estimated:
        raise PoseliftError("the standing height of the lifted skeleton cannot be measured (no frame with every leg and "
                            "spine joint): it cannot be scaled to a given height")
    scale = float(height_m) / estimated
    size.update(given_height_m=float(height_m), scale=round(scale, 4))
    return (joints * scale).astype(joints.dtype), None if trajectory is None else (trajectory * scale).astype(trajectory.dtype), size


def _lift_person(person, lifter, *, source: Path, max_gap: int, flip: bool, chunk_frames: int,
                 trajectory_source: str, focal: float | None, fix_swaps: bool = True,
                 adapt: AdaptConfig | None = None, height_m: float | None = None, size_guard: bool = True) -> LiftedPerson:
    """Convert, lift and place one tracked person (:class:`poselift.pipeline.tracks.TrackedPerson`)."""
    t0 = time.perf_counter()
    kp = person.keypoints
    found = _person_check(kp, source, person.track_id)
    swaps = None
    if fix_swaps:  # in the detector's own layout, before anything is derived from the labels
        swaps = correct_swaps(kp.points, kp.confidence, get_skeleton(kp.layout))
        if swaps.any_changed:
            log.info("person %d: %s", person.track_id, swaps.describe().replace(
                "(frames count from 0)", f"(frames of the person's span, from input frame {person.first_frame})"))
            kp = replace(kp, points=swaps.points, confidence=swaps.confidence)
    if kp.layout in ("h36m17", "h36m32") and lifter.metadata.get("input_layout") == "h36m17-detector":
        log.warning(
            "the keypoints are in the motion-capture %s layout but this model expects the detector layout "
            "(hip/thorax/spine/head derived from hips, shoulders and eyes); converting approximately", kp.layout,
        )
        points, conf = to_h36m17(kp.points, kp.layout, kp.confidence)
        kp = replace(kp, points=detector_layout_from_h36m(points), confidence=conf, layout="h36m17")
    points_px, conf, gaps = _to_h36m(kp, max_gap)
    norm = normalize_screen(points_px, kp.width, kp.height).astype(np.float32)
    timings = {"convert": time.perf_counter() - t0}
    focal_px = float(focal) if focal is not None else default_focal(kp.width, kp.height)
    limit = input_height_limit(lifter.metadata)
    scale = oversize_scale(norm, limit) if size_guard else 1.0
    input_scale = {"screen_height": round(screen_height(norm), 4), "max_height": limit, "scale": round(scale, 4)}
    if scale < 1.0:
        log.info("person %d is %.2f half-widths tall in the frame, taller than the model was trained on (%.2f): the pose "
                 "model sees the 2D scaled by %.2f, as through a longer lens (the same 3D pose)", person.track_id,
                 input_scale["screen_height"], limit, scale)
    adaptation = None
    t0 = time.perf_counter()
    try:
        if adapt is not None:  # fine-tune a copy of the model on this person's clip (reprojection through the camera)
            # the scaled 2D with a focal length scaled alike: the same rays, the input the pose model will see
            lifter, adaptation = adapted_lifter(lifter, norm * scale, np.where(gaps.filled, 0.0, conf), kp.fps,
                                                focal_px=focal_px * scale, width=kp.width, flip=flip, config=adapt)
            timings["adapt"] = time.perf_counter() - t0
            log.info("person %d: adapted to the clip in %d steps, %.1f s: reprojection %.0f → %.0f mm, bone spread "
                     "%.0f → %.0f mm", person.track_id, adaptation.steps, adaptation.seconds,
                     1000 * adaptation.history[0]["reprojection"], 1000 * adaptation.history[-1]["reprojection"],
                     1000 * adaptation.history[0]["bone"], 1000 * adaptation.history[-1]["bone"])
            t0 = time.perf_counter()
        joints, traj = lift(lifter, norm, kp.fps, flip=flip, chunk_frames=chunk_frames, trajectory=trajectory_source == "model",
                            pose_scale=scale)
    except PoseliftError as exc:
        raise PoseliftError(f"{source}: {exc}") from None
    if trajectory_source == "fit":
        try:
            traj = fit_trajectory(joints, points_px, conf, kp.width, kp.height, focal_px, kp.fps).astype(np.float32)
            log.info(
                "trajectory%s: root fitted to the 2D through a camera with focal length %.0f px (%s); depth %.1f-%.1f m",
                f" of person {person.track_id}" if person.track_id else "", focal_px,
                "--focal" if focal is not None else "default: the image diagonal; pass --focal PX if you know it",
                float(traj[:, 2].min()), float(traj[:, 2].max()),
            )
        except PoseliftError as exc:  # degenerate 2D (e.g. every joint at one point): the poses are still useful
            log.warning("%s: %s; writing no trajectory", source, exc)
            traj = None
    elif traj is not None:
        traj = traj.copy()
        traj[:, 2] *= depth_scale(focal_px, kp.width, train_focal_normalized(lifter.metadata))
    timings["lift"] = time.perf_counter() - t0
    joints, traj, size = scale_to_height(joints, traj, height_m)
    if height_m is not None:
        log.info("person %d: scaled by %.3f to the given standing height %.2f m (the lifted skeleton's: %.2f m)",
                 person.track_id, size["scale"], height_m, size["standing_height_m"])
    if person.world is not None and kp.layout in LIMB12:
        # the detector's own 3D (MediaPipe world landmarks) against ours: what the temporal model changes
        checks_detector = limb_agreement(joints[:, list(LIMB12["h36m17"])], person.world[:, list(LIMB12[kp.layout])])
    else:
        checks_detector = None
    checks = plausibility.summarize(joints, points_px, H36M_17, fps=kp.fps, first_frame=person.first_frame)  # input frames
    return LiftedPerson(person.track_id, person.first_frame, kp, joints, traj, points_px, conf, gaps, checks, found,
                        focal_px, person.world, timings, checks_detector, swaps, adaptation, size, input_scale)


def _shared_level(people: list[LiftedPerson]) -> LevelWorld:
    """One levelled world for everyone (one camera): the vertical and the floor from all people."""
    joints = np.concatenate([p.joints for p in people])
    placed = [p for p in people if p.trajectory is not None]
    if len(placed) == len(people):
        return level_world(joints, np.concatenate([p.trajectory for p in people]))
    world = level_world(joints)
    if placed:
        floor = floor_below_camera(np.concatenate([p.joints for p in placed]),
                                   np.concatenate([p.trajectory for p in placed]), world.up)
        world = replace(world, floor_below_camera_m=floor)
    return world


def world_positions(p: LiftedPerson, world: LevelWorld | None) -> np.ndarray | None:
    """Every joint's position ``[T, 17, 3]`` in metres in the levelled world of the BVH and
    TRC (Y up, the floor at 0, X and Z horizontal: X to the camera's right, Z towards the
    camera), or None without a levelled world or a trajectory."""
    if world is None or p.trajectory is None or not np.isfinite(p.trajectory).all():
        return None
    return marker_positions(p.joints, H36M_17, root_positions=world.grounded(p.trajectory),
                            camera_rotation=world.rotation).astype(np.float32)


def _person_arrays(p: LiftedPerson, world: LevelWorld | None = None) -> dict[str, Any]:
    kp = p.keypoints
    frame_index = np.arange(kp.num_frames, dtype=np.int64) + p.first_frame
    arrays: dict[str, Any] = {
        "joints_3d": p.joints,
        "trajectory": p.trajectory,
        "keypoints_2d": p.points_px.astype(np.float32),
        "confidence": p.confidence,
        "filled": p.filled_frames,
        "filled_joints": p.gaps.filled,
        "flagged": p.gaps.flagged.any(axis=1),
        "frame_index": frame_index,
        "time_s": (frame_index / kp.fps).astype(np.float64),
        "track_id": np.int64(p.track_id),
        "fps": np.float64(kp.fps),
        "width": np.int64(kp.width),
        "height": np.int64(kp.height),
        "focal_px": np.float64(p.focal_px),
        "layout": "h36m17",
        "joint_names": np.asarray(H36M_17.joint_names, dtype=f"<U{max(map(len, H36M_17.joint_names))}"),
        "parents": np.asarray(H36M_17.parents, dtype=np.int64),
    }
    arrays["world_3d"] = world_positions(p, world)
    if p.swaps is not None:  # [T, G] which label groups were exchanged back in which frame
        arrays["label_swaps"] = p.swaps.swapped
        arrays["label_swap_groups"] = np.asarray(p.swaps.group_names)
    # the detector's own output, in its layout: what the 3D was lifted from, and its own 3D
    arrays["detector_keypoints_2d"] = kp.points.astype(np.float32)
    arrays["detector_confidence"] = kp.confidence.astype(np.float32)
    arrays["detector_layout"] = kp.layout
    if p.world_detector is not None:
        arrays["detector_world_3d"] = p.world_detector.astype(np.float32)
    if p.adaptation is not None:  # [steps, 4] the loss curve: total, reprojection, bone, tether (metres)
        arrays["adaptation_loss"] = np.array([[h[k] for k in ADAPTATION_LOSS_TERMS] for h in p.adaptation.history],
                                             dtype=np.float32)
    return arrays


def _level_meta(world: LevelWorld | None) -> dict[str, Any] | None:
    if world is None:
        return None
    return {
        "up_camera": [round(float(v), 6) for v in world.up],
        "camera_rotation": np.round(world.rotation, 6).tolist(),
        "estimated_pitch_deg": round(world.estimate.pitch_deg, 2),
        "estimated_roll_deg": round(world.estimate.roll_deg, 2),
        "reliable": world.estimate.reliable,
        "straight_leg_frames": world.estimate.straight_leg_frames,
        "floor_below_camera_m": None if world.floor_below_camera_m is None else round(world.floor_below_camera_m, 4),
        "note": ("X_cam = camera_rotation · X_world (z-up world); render, BVH, TRC and angles use it; BVH and TRC "
                 "positions are moved down by floor_below_camera_m so that the floor is at height 0"),
    }


def _person_meta(p: LiftedPerson, common: dict[str, Any], world: LevelWorld | None, trajectory_source: str) -> dict[str, Any]:
    return {
        **common,
        "person": p.summary(),
        "trajectory_source": trajectory_source if p.trajectory is not None else None,
        "frames_with_person": p.found,
        "flagged_frames": p.flagged_frames,
        "plausibility": p.checks,
        "level": _level_meta(world),
        "units": {
            "joints_3d": "metres, root-relative (Hip at 0), camera frame (x right, y down, z forward)",
            "trajectory": (
                "metres, root position in the camera frame: fitted to the 2D with focal_px (trajectory_source fit) "
                "or the trajectory model's, depth scaled by focal_px (model); see poselift.pipeline"
            ),
            "keypoints_2d": "pixels, origin top-left (H36M-17 joints, gaps filled)",
            "world_3d": ("metres, every joint in the levelled world (level): Y up, the floor at 0, X to the camera's "
                         "right, Z towards the camera; the frame of poses.bvh and poses.trc"),
            "frame_index": "input (video) frame of each row; the person's span of the input",
            "time_s": "seconds since the first input frame",
            "detector_keypoints_2d": "pixels, the detector's (or file's) own keypoints in detector_layout, NaN where missing",
            "detector_world_3d": "metres, the detector's own 3D (MediaPipe world landmarks, hip-centred, BlazePose-33)",
            "adaptation_loss": "metres, per adaptation step (--adapt): total, reprojection, bone, tether",
        },
    }


def _write_person(folder: Path, p: LiftedPerson, meta: dict[str, Any], world: LevelWorld | None, *, bvh: bool,
                  trc: bool, trc_units: str, angles: bool) -> dict[str, float]:
    """One person's files into ``folder``; returns the seconds spent per extra output."""
    extra: dict[str, float] = {}
    fps = p.keypoints.fps
    placed = p.trajectory if world is None else world.grounded(p.trajectory)
    rotation = None if world is None else world.rotation
    if bvh:
        t0 = time.perf_counter()
        _bvh(folder / "poses.bvh", p.joints, fps, placed, rotation)
        extra["bvh"] = time.perf_counter() - t0
    if trc:
        t0 = time.perf_counter()
        _trc(folder / "poses.trc", p.joints, fps, placed, trc_units, rotation)
        extra["trc"] = time.perf_counter() - t0
    if angles:
        t0 = time.perf_counter()
        _angles(folder, p.joints, fps, p.filled_frames, None if world is None else world.up)
        extra["angles"] = time.perf_counter() - t0
    write_outputs(folder, _person_arrays(p, world), meta)
    return extra


def _render_people(out_path: Path, people: list[LiftedPerson], num_frames: int, *, video: Path | None,
                   video_fps: float | None, render_size: int | None, azimuth: float | None, limit_frames: int | None,
                   progress: bool, camera_rotation: np.ndarray | None) -> None:
    """Everyone in one video (:func:`poselift.viz.render.render_people_video`): each person's arrays
    padded to the ``num_frames`` input frames (nothing drawn outside the person's span)."""
    renders = []
    for p in people:
        span = slice(p.first_frame, p.first_frame + p.keypoints.num_frames)

        def padded(a: np.ndarray | None, fill: Any = np.nan) -> np.ndarray | None:
            if a is None:
                return None
            out = np.full((num_frames,) + a.shape[1:], fill, dtype=a.dtype)
            out[span] = a
            return out

        present = np.zeros(num_frames, dtype=bool)
        present[span] = True
        renders.append(PersonRender(p.track_id, padded(p.joints), padded(p.trajectory), padded(p.points_px),
                                    filled=padded(p.gaps.filled, False), present=present))
    kp = people[0].keypoints
    options: dict[str, Any] = {}
    if render_size is not None:
        options["size"] = render_size
    if azimuth is not None:
        options["azimuth"] = azimuth
    frames = prefetch(open_video(video, fps=video_fps)[1]) if video is not None else None
    try:
        render_people_video(
            out_path, renders, H36M_17, kp.fps, frames=frames, image_size=None if frames is not None else (kp.width, kp.height),
            limit_frames=limit_frames, progress=progress, camera_rotation=camera_rotation, **options,
        )
    finally:
        if frames is not None:
            frames.close()


def adaptation_config(adapt: Any) -> AdaptConfig | None:
    """``adapt`` of :func:`run_infer`: ``True`` (the default :class:`AdaptConfig`), ``False``/``None`` (no
    adaptation) or an :class:`AdaptConfig`."""
    if adapt is None or adapt is False:
        return None
    if adapt is True:
        return AdaptConfig()
    if isinstance(adapt, AdaptConfig):
        return adapt
    raise PoseliftError(f"`adapt` must be true, false or an AdaptConfig, got {adapt!r:.40}")


def run_infer(
    input: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    *,
    options: InferOptions | None = None,
    progress: bool = True,
    overwrite: bool = False,
    lifter: Any = None,
    **settings: Any,
) -> InferResult:
    """Video or keypoint file → 3D poses written to ``out_dir`` (see module docstring).

    The options below are keywords (``settings``) or one :class:`InferOptions`
    (``options``), not both; every value is checked before anything is read.

    ``detector`` is a detector name (``"mediapipe"``: every person, see
    :mod:`poselift.pipeline.people`) or an object with ``detect_people`` (several people)
    or ``detect`` (one person, :class:`poselift.pipeline.detect.Detector`).
    ``width``/``height`` (pixels) and ``fps`` (frames/s) describe keypoint inputs that
    do not carry them (``fps`` also overrides a video's frame rate); ``focal`` is the
    focal length in pixels (default: the image diagonal); ``max_gap`` is in input frames.
    ``trajectory_source``: ``"fit"`` (root fitted to the 2D, any checkpoint) or
    ``"model"`` (the checkpoint's trajectory model; none without one).

    People (:mod:`poselift.pipeline.tracks`): every person of a video, COCO JSON or
    OpenPose folder is tracked (identities survive ``track_gap_s`` seconds without a
    detection; tracks with fewer than ``min_track_s`` detected seconds are dropped);
    ``crops`` (videos, the bundled detector): follow each person with a landmarker of
    their own on a crop around them, the others greyed out, and look for new people on
    the whole frame every few frames (:meth:`poselift.pipeline.people.PeopleDetector.follow_people`);
    without, the whole-frame pass runs on every frame and the tracker alone links its
    poses (faster on busy videos, but overlapping people are missed or fused). ``person``:
    ``"all"`` writes each person into ``person_<id>/`` (``poses.*`` and the extras) with
    ``people.json`` (tracks, identity events) beside them; ``"largest"``, ``"longest"``
    or a track id writes that one person's files into ``out_dir`` itself (and
    ``people.json``). The npz and csv formats (and a one-person detector) hold one
    person (track id 1): written as for one person, into ``out_dir`` itself, without
    ``people.json``.

    ``adapt``: fine-tune a copy of the model on each person's clip before lifting it
    (test-time adaptation by back-projection, :func:`adapted_lifter`; ``True`` or an
    :class:`poselift.models.adapt.AdaptConfig`); the poses then agree better with the 2D
    through the camera of ``focal``, and every frame shares one set of bone lengths.

    ``fix_swaps`` (default): put back left/right labels the detector exchanged for a run
    of frames (:func:`poselift.geometry.swaps.correct_swaps`, per person, before lifting;
    ``label_swaps`` in ``poses.npz``).

    ``size_guard`` (default): a person taller in the frame than the model's training data
    (:data:`poselift.geometry.camera.TRAINED_HEIGHT_P99`, e.g. someone filling a portrait
    clip) is lifted from their 2D scaled down to that size about the image centre, the
    view of a longer lens from the same place (:func:`~poselift.geometry.camera.oversize_scale`;
    ``person.input_scale`` in ``poses.json``).

    ``bvh`` / ``trc``: also write ``poses.bvh`` / ``poses.trc`` (OpenSim markers in
    ``trc_units``, ``"m"`` or ``"mm"``; Y up, see :mod:`poselift.io.trc`).
    ``angles``: also write ``angles.csv`` and ``angles.png``, joint and segment angles in
    degrees (:mod:`poselift.geometry.angles`; trunk and segments against the vertical).
    ``level`` (default): estimate the vertical and the floor from the people's poses
    (:func:`level_world`); the render, BVH, TRC, angles and ``world_3d`` (CSV ``world_*``
    columns) then stand upright on the floor; ``False`` keeps the camera frame (BVH/TRC
    as the camera sees them, no ``world_3d``).

    Existing outputs in ``out_dir`` (:func:`output_names`) are an error unless
    ``overwrite``; they are then replaced only when the whole run succeeds. A failed
    run leaves no output behind (and removes ``out_dir`` if it created it empty).
    ``lifter``: an already loaded :class:`poselift.models.lifter.PoseLifter` to use instead
    of loading ``checkpoint`` (batch inference loads it once).
    """
    source = Path(input)
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    # every option, the destination and the checkpoint are checked before anything is
    # read, decoded or detected (the detection of a video takes seconds)
    if options is not None and settings:
        raise PoseliftError(f"pass the infer options either as `options` or as keywords, not both ({', '.join(sorted(settings))})")
    o = (options if options is not None else InferOptions.from_keywords(**settings)).check()
    adapt_config = adaptation_config(o.adapt)
    if not source.exists():
        raise PoseliftError(f"input {source} does not exist")
    check_destination(out_dir, folder=True)  # not a folder, read-only, a file on the way: before decoding anything
    # a source that holds one person (npz/csv keypoints, a one-person detector) is written as for one `person`
    one_person = one_person_source(source, o.keypoints_format, o.detector)
    every = o.person == "all" and not one_person
    old_folders = tuple(sorted(p.name for p in out_dir.glob("person_*") if p.is_dir())) if out_dir.is_dir() and every else ()
    targets = output_names(bvh=o.bvh, trc=o.trc, render=o.render, angles=o.angles, every_person=every, people_file=not one_person)
    check_targets(out_dir, targets + list(old_folders), overwrite, folders=old_folders)
    metadata = check_checkpoint(checkpoint, o.causal, lifter)  # the metadata only: the weights load during detection
    # the folder is created now and locked for the whole run (a second infer into it stops at
    # once); a run that fails removes the folders it created
    with created_folder(out_dir), folder_lock(out_dir):

        kind = input_kind(source, o.keypoints_format)
        followed = kind == "video" and o.crops and _crop_capable(o.detector)  # each person by a landmarker of their own
        if kind == "video":
            if o.width is not None or o.height is not None:
                log.warning("--width/--height are ignored for videos (the frame size is read from the file)")
            # The model loads (torch import included, ~2 s) in a thread while the video is
            # decoded and detected; a bad checkpoint still aborts detection at once.
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poselift-load") as pool:
                loading = pool.submit(load_checked_lifter, checkpoint, o.causal, lifter)
                try:
                    detections = _detect_video(source, o.detector, o.fps, progress, loading, model_fps(metadata),
                                               follow=followed)
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
            lifter = load_checked_lifter(checkpoint, o.causal, lifter)
            timings["load_model"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            detections = load_people_keypoints(source, o.keypoints_format, width=o.width, height=o.height, fps=o.fps)
            timings["load_keypoints"] = time.perf_counter() - t0
        use_flip = uses_flip(lifter, o.flip)

        t0 = time.perf_counter()
        config = tracker_config(detections.fps, o.track_gap_s, o.min_track_s, detections.num_frames)
        tracked = track_detections(detections, config,
                                   duplicate_distance=FOLLOWED_DUPLICATE_DISTANCE if followed else DUPLICATE_DISTANCE)
        if not tracked.people:
            if not (detections.detections_per_frame() > 0).any():
                raise PoseliftError(f"no person detected in any frame of {source} ({detections.num_frames} frames)")
            raise PoseliftError(
                f"no person was detected in {config.min_track_frames} or more frames of {source} ({detections.num_frames} "
                f"frames; people.json is not written): lower `min_track_s` to keep shorter tracks"
            )
        timings["track"] = time.perf_counter() - t0
        chosen = tracked.people if every else [tracked.select("largest" if o.person == "all" else o.person)]
        log.info("people: %s", "; ".join(
            f"#{p.track_id} frames {p.first_frame}-{p.first_frame + p.keypoints.num_frames - 1}" for p in tracked.people))

        lifted = [
            _lift_person(p, lifter, source=source, max_gap=o.max_gap, flip=use_flip, chunk_frames=o.chunk_frames,
                         trajectory_source=o.trajectory_source, focal=o.focal, fix_swaps=o.fix_swaps,
                         adapt=adapt_config, height_m=height_for(o.person_height_m, p.track_id), size_guard=o.size_guard)
            for p in chosen
        ]
        if isinstance(o.person_height_m, (int, float)) and len(chosen) > 1:
            log.warning("--person-height %.2f m applies to each of the %d people; pass ID=METRES pairs (e.g. 1=1.80,2=1.65) "
                        "to give each their own", o.person_height_m, len(chosen))
        elif isinstance(o.person_height_m, dict):
            missing = sorted(set(o.person_height_m) - {p.track_id for p in chosen})
            if missing:
                log.warning("--person-height: no person %s in the output (people: %s)", ", ".join(map(str, missing)),
                            ", ".join(str(p.track_id) for p in chosen))
        for stage in ("convert", "adapt", "lift"):
            if any(stage in p.timings_s for p in lifted):
                timings[stage] = sum(p.timings_s.get(stage, 0.0) for p in lifted)
        for p in lifted:
            if p.detector_agreement and p.detector_agreement["frames"]:
                log.info("person %d: the 3D differs from the detector's own 3D by %.0f mm P-MPJPE and %.1f° in joint "
                         "angles (%d frames; metadata.person.vs_detector_3d)", p.track_id,
                         p.detector_agreement["pmpjpe_mm"], p.detector_agreement["angle_diff_deg"], p.detector_agreement["frames"])
        world = _shared_level(lifted) if o.level else None

        checkpoint_name = str(checkpoint) if checkpoint is not None else ("bundled-causal" if o.causal else "bundled")
        common = {
            "input": str(source),
            "input_kind": kind,
            "source_layout": detections.layout,
            "checkpoint": checkpoint_name,
            "model_fps": model_fps(lifter.metadata),
            "receptive_field": lifter.receptive_field,
            "flip": use_flip,
            "causal": bool(lifter.config.causal),
            "max_gap_frames": o.max_gap,
            "timings_s": dict(timings),
        }
        people_doc = tracked.document(
            written=[p.track_id for p in lifted], folders={p.track_id: person_folder(p.track_id) for p in lifted} if every else None,
        )

        t0 = time.perf_counter()
        staging = Path(tempfile.mkdtemp(prefix=".poselift-infer-", dir=out_dir))
        extra: dict[str, float] = {}
        try:
            if o.render:
                tr = time.perf_counter()
                rotation = None if world is None else world.rotation
                if tracked.single_source:
                    p = lifted[0]
                    _render(
                        staging / "render.mp4", p.joints, p.points_px, p.keypoints.fps, video=source if kind == "video" else None,
                        video_fps=o.fps, image_size=(p.keypoints.width, p.keypoints.height), render_size=o.render_size,
                        azimuth=o.azimuth, limit_frames=o.limit_frames, progress=progress, filled=p.gaps.filled,
                        camera_rotation=rotation,
                    )
                else:
                    _render_people(
                        staging / "render.mp4", lifted, detections.num_frames, video=source if kind == "video" else None,
                        video_fps=o.fps, render_size=o.render_size, azimuth=o.azimuth, limit_frames=o.limit_frames,
                        progress=progress, camera_rotation=rotation,
                    )
                extra["render"] = time.perf_counter() - tr
            for p in lifted:
                folder = staging / person_folder(p.track_id) if every else staging
                folder.mkdir(exist_ok=True)
                spent = _write_person(folder, p, _person_meta(p, common, world, o.trajectory_source), world, bvh=o.bvh,
                                      trc=o.trc, trc_units=o.trc_units, angles=o.angles)
                for k, v in spent.items():
                    extra[k] = extra.get(k, 0.0) + v
            if not one_person:
                write_json(staging / "people.json", people_doc)
            names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
            written = commit_staged(staging, out_dir, names, overwrite, folders=tuple(person_folder(p.track_id) for p in lifted))
            for stale in set(old_folders) - set(names):  # an earlier run's people that this run did not find
                shutil.rmtree(out_dir / stale, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        timings["write"] = time.perf_counter() - t0 - sum(extra.values())
        timings.update(extra)
        main = lifted[0]
        any_person = np.zeros(detections.num_frames, dtype=bool)
        filled_any = np.zeros(detections.num_frames, dtype=bool)
        for p in lifted:
            span = slice(p.first_frame, p.first_frame + p.keypoints.num_frames)
            any_person[span] |= p.keypoints.person_frames()
            filled_any[span] |= p.filled_frames
        flagged_list = sorted({f for p in lifted for f in p.flagged_frames})
        result = InferResult(
            out_dir=str(out_dir), files=written, num_frames=detections.num_frames, frames_with_person=int(any_person.sum()),
            filled_frames=int(filled_any.sum()), flagged_frames=flagged_list, fps=detections.fps,
            model_fps=model_fps(lifter.metadata), width=detections.width, height=detections.height, focal_px=main.focal_px,
            checkpoint=checkpoint_name, has_trajectory=all(p.trajectory is not None for p in lifted), flip=use_flip,
            causal=bool(lifter.config.causal), timings_s=timings,
            plausibility=main.checks if len(lifted) == 1 else {str(p.track_id): p.checks for p in lifted},
            people=[{**p.summary(), "folder": person_folder(p.track_id) if every else "."} for p in lifted],
            events=people_doc["events"],
        )
        log.info(
            "infer: %d frames, %d %s (a person in %d frames, %d filled, %d flagged) in %.2f s = %.1f frames/s; %s",
            result.num_frames, len(lifted), "people" if len(lifted) != 1 else "person", result.frames_with_person,
            result.filled_frames, len(flagged_list), result.total_s, result.frames_per_s,
            ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
        )
        for p in lifted:
            verdict = p.checks["verdict"]  # one line: "ok", or the frame ranges to check (docs/plausibility.md)
            who = f"person {p.track_id}: " if len(lifted) > 1 else ""
            if verdict["ok"]:
                log.info("plausibility: %sok", who)
            else:
                log.warning("plausibility: %s%s (numbers: metadata.plausibility in poses.json; docs/plausibility.md)", who, verdict["line"])
        return result


def write_outputs(folder: Path, arrays: dict[str, Any], meta: dict[str, Any]) -> list[Path]:
    """Write ``poses.npz``, ``poses.json`` and ``poses.csv`` into ``folder``."""
    npz = write_npz(folder / "poses.npz", arrays)
    doc = {k: v for k, v in arrays.items() if v is not None}
    doc["metadata"] = meta
    js = write_json(folder / "poses.json", doc)
    cs = write_csv(
        folder / "poses.csv", arrays["joints_3d"], arrays["keypoints_2d"], arrays["confidence"],
        arrays["filled_joints"], float(arrays["fps"]), [str(n) for n in arrays["joint_names"]],
        first_frame=int(arrays["frame_index"][0]) if "frame_index" in arrays else 0, world_3d=arrays.get("world_3d"),
    )
    return [npz, js, cs]


# ----------------------------------------------------------------------------- CLI

# --------------------------------------------------------------------- batch inference


