"""Several people per frame: MediaPipe's Tasks ``PoseLandmarker``, offline.

The legacy ``mp.solutions.pose`` detector of :mod:`poselift.pipeline.detect` follows one
person. The Tasks API's ``PoseLandmarker`` follows up to ``num_poses`` people, but it
loads its models from a ``.task`` bundle that the mediapipe wheel does not ship. The
wheel does ship both models it needs (the BlazePose detector and the "full" landmark
model, the one ``model_complexity=1`` uses); :func:`landmarker_bundle` adds the
image-input metadata the Tasks API wants, zips them into a bundle once per installation
and caches it. Nothing is downloaded.

Two passes:

- :meth:`PeopleDetector.detect_people`: the whole frame, up to ``max_people`` poses per
  frame. Slots are in the landmarker's order, not identities.
- :meth:`PeopleDetector.detect_in_crops`: one landmarker per person, each on a crop
  around that person's box (from a tracker, or a previous pass), with the other
  people painted grey. It recovers people the full-frame pass misses or fuses with a
  neighbour when they overlap (its detector keeps one of two overlapping people).

Both return :class:`PeopleDetections`: pixels (origin top-left, x right, y down), the
landmark visibility as the confidence, and MediaPipe's own metric, hip-centred 3D
(``pose_world_landmarks``). The geometry helpers (:func:`boxes_from_points`,
:func:`crop_box`, :func:`to_image_pixels`, :func:`grey_others`, ...) are plain NumPy/OpenCV.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import BLAZEPOSE_33
from poselift.io.atomic import atomic_write
from poselift.io.keypoints import Keypoints2D
from poselift.pipeline.detect import _quiet_native_stderr
from poselift.pipeline.video import VideoInfo, prefetch

log = logging.getLogger("poselift.pipeline.people")

# ------------------------------------------------------------------------- the bundle

#: The two models inside the mediapipe wheel (paths relative to the package) and their
#: names inside a ``.task`` bundle, with the image-input normalisation each expects:
#: the detector takes ``(v - 127.5) / 127.5`` (inputs in [-1, 1]), the landmark model
#: ``v / 255`` (inputs in [0, 1]). Checked against the legacy ``solutions.pose`` (the same
#: models with normalisation built into its graph): see ``tests/test_people_detector.py``.
BUNDLE_MODELS: tuple[tuple[str, str, str, float, float], ...] = (
    # (bundle member, wheel file, model name, norm mean, norm std)
    ("pose_detector.tflite", "modules/pose_detection/pose_detection.tflite", "pose_detector", 127.5, 127.5),
    ("pose_landmarks_detector.tflite", "modules/pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector", 0.0, 255.0),
)

#: sha256 of the wheel's model files (mediapipe 0.10.21).
SOURCE_SHA256 = {
    "pose_detector.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmarks_detector.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}

#: sha256 of the bundle members (the wheel's models with their metadata written by
#: mediapipe 0.10.21's ``MetadataWriter``); the same as ``pose2.task`` of
#: ``../shared/data/multiview`` (its README: ``73decc56…``, ``3d1702f3…``).
BUNDLE_SHA256 = {
    "pose_detector.tflite": "73decc56603ed96f006184085c34d03a9baa2559522987c77288b34d94e88926",
    "pose_landmarks_detector.tflite": "3d1702f3f69061600b3bb881311da3d242bc2ca73ea48cab3ca544c880f74cc4",
}

#: Fixed zip-member time (the zip epoch), so the same models give the same bundle bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: Bundles written to a temporary folder in this process, by the cache folder that could
#: not be written.
_fallbacks: dict[Path, Path] = {}


def _mediapipe() -> Any:
    try:
        import mediapipe
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise PoseliftError(f"the multi-person detector needs the 'mediapipe' package ({exc})") from None
    return mediapipe


def default_cache_dir() -> Path:
    """Where poselift caches files it builds: ``$POSELIFT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/poselift``, else ``~/.cache/poselift`` (empty variables are unset)."""
    explicit = os.environ.get("POSELIFT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "poselift"
    return Path.home() / ".cache" / "poselift"


def bundle_name(mediapipe_version: str | None = None) -> str:
    """File name of the bundle for a mediapipe version (default: the installed one)."""
    version = mediapipe_version or _mediapipe().__version__
    return f"pose_landmarker_full-mediapipe{version}.task"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_models() -> tuple[dict[str, bytes], bool]:
    """The wheel's two models by bundle member name, and whether they are the ones
    :data:`SOURCE_SHA256` knows (then the bundle members must match :data:`BUNDLE_SHA256`)."""
    root = Path(_mediapipe().__file__).parent
    models: dict[str, bytes] = {}
    for member, rel, *_ in BUNDLE_MODELS:
        path = root / rel
        try:
            models[member] = path.read_bytes()
        except OSError as exc:
            raise PoseliftError(f"the mediapipe package has no readable {rel} ({exc}); reinstall mediapipe") from None
    known = all(_sha256(models[m]) == SOURCE_SHA256[m] for m in models)
    return models, known


def _with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """``model`` with the image-input metadata (RGB, ``(v - mean) / std``) the Tasks API reads."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    writer = metadata_writer.MetadataWriter.create(model)
    writer.add_general_info(name, "pose")
    writer.add_image_input(norm_mean=[mean], norm_std=[std], color_space_type=metadata_info._metadata_fb.ColorSpaceType.RGB)
    out, _ = writer.populate()
    return bytes(out)


def build_bundle_bytes() -> bytes:
    """The ``.task`` bundle (an uncompressed zip, fixed timestamps) built from the wheel's
    models; members checked against :data:`BUNDLE_SHA256` when the wheel's models are the
    known ones."""
    models, known = _wheel_models()
    members: dict[str, bytes] = {}
    for member, rel, name, mean, std in BUNDLE_MODELS:
        data = _with_metadata(models[member], name, mean, std)
        if known and _sha256(data) != BUNDLE_SHA256[member]:
            raise PoseliftError(
                f"the model bundle member {member} built from mediapipe's {rel} has sha256 {_sha256(data)[:12]}…, "
                f"not the verified {BUNDLE_SHA256[member][:12]}… (a changed mediapipe metadata writer?)"
            )
        members[member] = data
    if not known:
        log.warning(
            "mediapipe %s ships pose models other than the ones verified with mediapipe 0.10.21; "
            "using them unverified in the multi-person detector",
            _mediapipe().__version__,
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, on every platform
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def check_bundle(path: Path) -> str | None:
    """Why the bundle at ``path`` is unusable, or ``None`` when it is fine: both members
    present, uncompressed, intact, and (for the known wheel models) with the verified sha256."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for member, *_ in BUNDLE_MODELS:
                if member not in names:
                    return f"it has no {member}"
                if zf.getinfo(member).compress_type != zipfile.ZIP_STORED:
                    return f"{member} is compressed"
                data = zf.read(member)  # checks the CRC too
                if member in BUNDLE_SHA256 and _sha256(data) != BUNDLE_SHA256[member] and _wheel_models()[1]:
                    return f"{member} has sha256 {_sha256(data)[:12]}…, not {BUNDLE_SHA256[member][:12]}…"
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError) as exc:
        return f"it is not a readable zip ({exc})"
    return None


def _write_bundle(path: Path, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def landmarker_bundle(cache_dir: Path | str | None = None) -> Path:
    """Path of the offline PoseLandmarker ``.task`` bundle, built on first use.

    ``cache_dir`` defaults to :func:`default_cache_dir`; the file name carries the mediapipe
    version. An existing bundle is checked (:func:`check_bundle`) and rebuilt, with a
    warning, when it is corrupt. When the folder cannot be written, the bundle goes to a
    temporary folder for this process (with a warning). Nothing is downloaded.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    name = bundle_name()
    path = folder / name
    if path.is_file():
        problem = check_bundle(path)
        if problem is None:
            return path
        log.warning("the cached model bundle %s is unusable (%s); rebuilding it", path, problem)
    elif path.exists():
        raise PoseliftError(f"the model bundle path {path} exists but is not a file; remove it or set `cache_dir`")
    fallback = _fallbacks.get(folder)
    if fallback is not None and fallback.is_file() and check_bundle(fallback) is None:
        return fallback  # this folder could not be written earlier in this process
    data = build_bundle_bytes()
    try:
        _write_bundle(path, data)
        return path
    except OSError as exc:
        first_error = exc
    # the cache folder is read-only (or on a full disk): a private temporary folder
    folder_made: Path | None = None
    try:
        folder_made = Path(tempfile.mkdtemp(prefix="poselift-cache-"))
        fallback = folder_made / name
        _write_bundle(fallback, data)
    except OSError as exc:
        if folder_made is not None:
            shutil.rmtree(folder_made, ignore_errors=True)
        raise PoseliftError(
            f"cannot write the model bundle to {folder} ({first_error.strerror or first_error}) "
            f"nor to a temporary folder ({exc.strerror or exc}); set `cache_dir` (or POSELIFT_CACHE_DIR) to a writable folder"
        ) from None
    _fallbacks[folder] = fallback
    log.warning(
        "cannot write the model bundle to %s (%s); using %s for this process (set POSELIFT_CACHE_DIR to a writable folder)",
        folder,
        first_error.strerror or first_error,
        fallback,
    )
    return fallback


# ------------------------------------------------------------------------ the results


@dataclass
class PeopleDetections:
    """Several people's 2D keypoints over a video (BlazePose-33).

    points: ``[T, S, 33, 2]`` float32 pixels, NaN where slot ``s`` holds nobody.
    confidence: ``[T, S, 33]`` float32, the landmark visibility in ``[1e-6, 1]`` where
    found, 0 where empty.
    world: ``[T, S, 33, 3]`` float32 metres, MediaPipe's own hip-centred 3D
    (``pose_world_landmarks``); NaN where empty.
    fps: frames per second; width, height: image size in pixels; layout: ``blazepose33``.

    Slots of :meth:`PeopleDetector.detect_people` are the landmarker's order in each frame
    (not identities); slot ``p`` of :meth:`PeopleDetector.detect_in_crops` is person ``p``.
    """

    points: np.ndarray
    confidence: np.ndarray
    world: np.ndarray
    fps: float
    width: int
    height: int
    layout: str = "blazepose33"

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.world = np.asarray(self.world, dtype=np.float32)
        T, S = self.points.shape[:2] if self.points.ndim == 4 else (0, 0)
        if self.points.shape != (T, S, 33, 2) or self.confidence.shape != (T, S, 33) or self.world.shape != (T, S, 33, 3):
            raise PoseliftError(
                f"people detections must be shaped points [T, S, 33, 2], confidence [T, S, 33], world [T, S, 33, 3]; got "
                f"{list(self.points.shape)}, {list(self.confidence.shape)}, {list(self.world.shape)}"
            )

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_slots(self) -> int:
        return int(self.points.shape[1])

    def found(self) -> np.ndarray:
        """``[T, S]`` bool: slot ``s`` holds a pose in frame ``t``."""
        return np.isfinite(self.points).all(-1).any(-1)

    def people_per_frame(self) -> np.ndarray:
        """``[T]`` number of poses found in each frame."""
        return self.found().sum(1)

    def person(self, slot: int) -> Keypoints2D:
        """One slot as a :class:`Keypoints2D` (for a person of :meth:`PeopleDetector.detect_in_crops`)."""
        return Keypoints2D(self.points[:, slot], self.confidence[:, slot], self.layout, self.fps, self.width, self.height)


def _empty(frames: int, slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.full((frames, slots, 33, 2), np.nan, np.float32),
        np.zeros((frames, slots, 33), np.float32),
        np.full((frames, slots, 33, 3), np.nan, np.float32),
    )


def _pose_arrays(landmarks: Sequence[Any], world: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pose of a Tasks result → (normalised xy [33, 2], visibility [33], world [33, 3])."""
    lm = np.array([(p.x, p.y, p.visibility if p.visibility is not None else 0.0) for p in landmarks], dtype=np.float32)
    if world is not None:
        wd = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32)
    else:
        wd = np.full((len(landmarks), 3), np.nan, np.float32)
    return lm[:, :2], np.clip(lm[:, 2], 1e-6, 1.0), wd


def _timestamp_ms(index: int, fps: float, previous: int) -> int:
    """Frame time in ms for VIDEO mode: from the index and frame rate, strictly increasing."""
    ms = round(index * 1000.0 / fps) if fps > 0 else index
    return max(ms, previous + 1)


# ------------------------------------------------------------------- crop geometry


#: BlazePose-33 body landmarks (shoulders to feet), for the guide distance.
BODY_JOINTS = np.arange(11, 33)
#: Left/right exchange of the BlazePose-33 landmarks.
SWAP = np.asarray(BLAZEPOSE_33.flip_permutation())
_TORSO = (11, 12, 24, 23)


def boxes_from_points(points: np.ndarray, pad: float = 0.0, window: int = 0) -> np.ndarray:
    """Boxes ``(x0, y0, x1, y1)`` around poses ``[..., T, J, 2]`` → ``[..., T, 4]``.

    The box of the finite points of each frame, united over frames ``t - window`` …
    ``t + window`` (it follows a moving person, and fills short gaps), then grown by
    ``pad`` × its height on every side. NaN where no frame of the window has a point.
    Not clamped to the image (:func:`crop_box` does that).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim < 3 or pts.shape[-1] != 2:
        raise PoseliftError(f"`points` must be shaped [..., frames, joints, 2], got {list(pts.shape)}")
    with np.errstate(all="ignore"), _nan_silence():
        lo = np.nanmin(pts, axis=-2)  # [..., T, 2]
        hi = np.nanmax(pts, axis=-2)
    if window > 0:
        T = pts.shape[-3]
        lo_w = np.full_like(lo, np.nan)
        hi_w = np.full_like(hi, np.nan)
        with _nan_silence():
            for t in range(T):
                a, b = max(0, t - window), min(T, t + window + 1)
                lo_w[..., t, :] = np.nanmin(lo[..., a:b, :], axis=-2)
                hi_w[..., t, :] = np.nanmax(hi[..., a:b, :], axis=-2)
        lo, hi = lo_w, hi_w
    h = hi[..., 1] - lo[..., 1]
    grow = (pad * h)[..., None]
    return np.concatenate([lo - grow, hi + grow], axis=-1)


@contextlib.contextmanager
def _nan_silence() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        yield


def crop_box(box: Sequence[float], width: int, height: int, pad: float = 0.15, min_size: int = 16) -> tuple[int, int, int, int] | None:
    """The crop ``(x0, y0, x1, y1)`` (ints, x1/y1 exclusive) for a person box.

    The box grows by ``pad`` × its height on every side, then to a square around its
    centre (the landmarker's detector sees a square image), and is clamped to the
    ``width`` × ``height`` image. ``None`` when the box is NaN or the clamped crop is
    under ``min_size`` pixels on a side.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not np.isfinite([x0, y0, x1, y1]).all() or x1 <= x0 or y1 <= y0:
        return None
    grow = pad * (y1 - y0)
    x0, y0, x1, y1 = x0 - grow, y0 - grow, x1 + grow, y1 + grow
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ix0 = max(0, int(np.floor(cx - side / 2)))
    iy0 = max(0, int(np.floor(cy - side / 2)))
    ix1 = min(int(width), int(np.ceil(cx + side / 2)))
    iy1 = min(int(height), int(np.ceil(cy + side / 2)))
    if ix1 - ix0 < min_size or iy1 - iy0 < min_size:
        return None
    return ix0, iy0, ix1, iy1


def to_image_pixels(normalised: np.ndarray, crop: Sequence[int]) -> np.ndarray:
    """Landmarks normalised to a crop (``[..., 2]`` in [0, 1] over the crop) → pixels of the full image."""
    x0, y0, x1, y1 = crop
    xy = np.asarray(normalised, dtype=np.float32)
    return np.stack([x0 + xy[..., 0] * (x1 - x0), y0 + xy[..., 1] * (y1 - y0)], axis=-1).astype(np.float32)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 for NaN or empty boxes)."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if not (iw > 0 and ih > 0):
        return 0.0
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return float(inter / union) if union > 0 else 0.0


def guide_distance(pose: np.ndarray, guide: np.ndarray) -> float:
    """Mean distance (px) between a pose and a guide skeleton ``[33, 2]`` over the body
    landmarks, each landmark matched to the guide's same or mirrored landmark, whichever
    is nearer (left/right labels may be exchanged); NaN when nothing is comparable."""
    a = np.asarray(pose, dtype=np.float64)[BODY_JOINTS]
    g = np.asarray(guide, dtype=np.float64)
    d = np.fmin(np.linalg.norm(a - g[BODY_JOINTS], axis=-1), np.linalg.norm(a - g[SWAP[BODY_JOINTS]], axis=-1))
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else float("nan")


def skeleton_mask(shape: tuple[int, int], points: np.ndarray, offset: tuple[int, int] = (0, 0), scale: float = 0.09) -> np.ndarray:
    """A person's region from a skeleton ``[33, 2]`` (image pixels): thick lines along the
    bones, the torso polygon and a head disc, drawn into a ``shape`` (h, w) bool mask
    whose top-left corner is image pixel ``offset`` (x, y). Thickness: ``scale`` × the
    skeleton's height (at least 4 px). Empty when the skeleton has no finite point."""
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    uv = np.asarray(points, dtype=np.float64) - np.asarray(offset, dtype=np.float64)
    ok = np.isfinite(uv).all(-1)
    if not ok.any():
        return mask.astype(bool)
    tall = float(np.nanmax(uv[ok, 1]) - np.nanmin(uv[ok, 1]))
    th = int(max(4, min(round(scale * tall), max(shape[:2]), 10_000)))  # cv2 caps line thickness
    limit = 1 << 20  # cv2 drawing wants coordinates in int range

    def pt(j: int) -> tuple[int, int]:
        return int(np.clip(round(uv[j, 0]), -limit, limit)), int(np.clip(round(uv[j, 1]), -limit, limit))

    for child, parent in BLAZEPOSE_33.bones():
        if child >= 11 and ok[child] and ok[parent] and parent >= 11:
            cv2.line(mask, pt(child), pt(parent), 255, th)
    for a, b in ((11, 12), (23, 24), (11, 23), (12, 24)):  # torso outline (the bones join shoulders only to the nose)
        if ok[a] and ok[b]:
            cv2.line(mask, pt(a), pt(b), 255, th)
    if ok[list(_TORSO)].all():
        cv2.fillPoly(mask, [np.array([pt(j) for j in _TORSO], np.int32)], 255)
    head = np.flatnonzero(ok[:11])
    if head.size:
        c = np.clip(np.round(uv[head].mean(0)), -limit, limit).astype(int)
        cv2.circle(mask, (int(c[0]), int(c[1])), round(1.2 * th), 255, -1)
    if not ok[11:].any():  # a face only: its points as a blob
        for j in head:
            cv2.circle(mask, pt(j), th, 255, -1)
    return mask > 0


def box_mask(shape: tuple[int, int], box: Sequence[float], offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``shape`` (h, w) bool mask of a box ``(x0, y0, x1, y1)`` in image pixels, the mask's
    top-left corner being image pixel ``offset``; empty for a NaN box."""
    mask = np.zeros(shape[:2], bool)
    x0, y0, x1, y1 = (float(v) for v in box)
    if not np.isfinite([x0, y0, x1, y1]).all():
        return mask
    ox, oy = offset
    h, w = shape[:2]
    c0, r0 = max(0, int(np.floor(x0 - ox))), max(0, int(np.floor(y0 - oy)))
    c1, r1 = min(w, int(np.ceil(x1 - ox))), min(h, int(np.ceil(y1 - oy)))
    if c1 > c0 and r1 > r0:
        mask[r0:r1, c0:c1] = True
    return mask


def grey_others(image: np.ndarray, others: np.ndarray, keep: np.ndarray, value: int = 128) -> np.ndarray:
    """``image`` with the pixels of ``others`` (bool mask, the other people) set to mid-grey,
    except where ``keep`` (this person's own region) is set; a copy when anything changes."""
    paint = others & ~keep
    if not paint.any():
        return image
    out = image.copy()
    out[paint] = value
    return out


# ------------------------------------------------------------------------ the detector


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Lanes:
    """Landmarkers, each fed by the caller's thread through its own queue and run in its
    own thread (MediaPipe releases the GIL; each landmarker uses one core), at most
    ``concurrency`` of them at a time.

    ``put(lane, t, ms, image, ctx)`` queues RGB ``image`` (frame ``t``, time ``ms``) for a
    lane; the lane's thread calls ``handle(t, result, ctx)`` with the landmarker's result.
    A lane that skips frames (``t`` not following its previous one) first shows its
    landmarker a blank image, which drops the poses it tracked: the lane then starts as a
    new landmarker would (checked to give identical results). An error in a lane is raised
    in the caller at its next ``put`` or at the end of the ``with`` block.
    """

    def __init__(self, landmarkers: Sequence[Any], depth: int, concurrency: int, handle: Any) -> None:
        import queue
        import threading

        import mediapipe as mp

        self._mp = mp
        self._queue_full = queue.Full
        self.landmarkers = list(landmarkers)
        self.queues = [queue.Queue(maxsize=max(1, depth)) for _ in self.landmarkers]
        self.slots = threading.Semaphore(max(1, concurrency))
        self.handle = handle
        self.failed = threading.Event()
        self.errors: list[BaseException] = []
        self.blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.full((256, 256, 3), 128, np.uint8))
        self.threads = [
            threading.Thread(target=self._run, args=(i,), name=f"poselift-landmarker-{i}", daemon=True) for i in range(len(self.landmarkers))
        ]

    def __enter__(self) -> _Lanes:  # noqa: PYI034
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.failed.set()  # the lanes drop what is queued
        for q in self.queues:
            q.put(None)  # a lane always drains its queue up to this
        for thread in self.threads:
            thread.join()
        if exc_type is None and self.errors:
            raise self.errors[0]

    def put(self, lane: int, t: int, ms: int, image: np.ndarray, ctx: Any = None) -> None:
        while True:
            if self.failed.is_set():
                raise self.errors[0]
            try:
                self.queues[lane].put((t, ms, image, ctx), timeout=0.1)
                return
            except self._queue_full:
                continue

    def _run(self, lane: int) -> None:
        mp = self._mp
        landmarker = self.landmarkers[lane]
        previous: int | None = None
        while True:
            item = self.queues[lane].get()
            if item is None:
                return
            if self.failed.is_set():
                continue
            t, ms, image, ctx = item
            try:
                with self.slots:
                    if previous is not None and t != previous + 1:
                        landmarker.detect_for_video(self.blank, ms - 1)  # forget the tracked poses
                    result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=image), ms)
                previous = t
                self.handle(t, result, ctx)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                self.errors.append(exc)
                self.failed.set()


class PeopleDetector:
    """MediaPipe's Tasks PoseLandmarker (the wheel's "full" BlazePose model, as the legacy
    ``model_complexity=1``) in video mode, for several people: see the module docstring.

    ``threads``: how many of the crop pass's per-person landmarkers run at the same time
    (default: the usable CPU cores, at most 8; a landmarker uses one core). The
    full-frame pass is one landmarker over the whole video: its tracking carries people
    whom its detector misses when they overlap, so it is not split.
    """

    layout = "blazepose33"

    def __init__(
        self,
        max_people: int = 4,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        quiet: bool = True,
        *,
        threads: int | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        if int(max_people) != max_people or max_people < 1:
            raise PoseliftError(f"`max_people` must be a positive whole number, got {max_people!r}")
        if threads is not None and (int(threads) != threads or threads < 1):
            raise PoseliftError(f"`threads` must be a positive whole number or None, got {threads!r}")
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_presence_confidence", min_presence_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise PoseliftError(f"`{name}` must be in [0, 1], got {value!r}")
        self.max_people = int(max_people)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_presence_confidence = float(min_presence_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.quiet = quiet
        self.threads = int(threads) if threads is not None else min(usable_cores(), 8)
        self.cache_dir = cache_dir

    def _landmarker(self, num_poses: int, bundle: Path) -> Any:
        """A new PoseLandmarker in VIDEO mode (call inside the quiet block)."""
        _mediapipe()
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=self.min_detection_confidence,
            min_pose_presence_confidence=self.min_presence_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
            output_segmentation_masks=False,
        )
        try:
            return vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise PoseliftError(f"MediaPipe could not load the model bundle {bundle} ({exc}); delete it to rebuild it") from None

    def _quiet(self) -> contextlib.AbstractContextManager:
        return _quiet_native_stderr() if self.quiet else contextlib.nullcontext(sys.stderr)

    def detect_people(self, frames: Iterable[np.ndarray], info: VideoInfo, progress: bool = True) -> PeopleDetections:
        """Up to ``max_people`` poses per frame of ``frames`` (BGR uint8) on the whole image."""
        import cv2
        import mediapipe as mp
        from tqdm import tqdm

        S = self.max_people
        pts, conf, world = [], [], []
        bundle = landmarker_bundle(self.cache_dir)
        with self._quiet(), contextlib.ExitStack() as stack:
            landmarker = stack.enter_context(self._landmarker(S, bundle))
            bar = stack.enter_context(
                tqdm(total=info.num_frames, desc="detect 2D (people)", unit="frame", file=sys.stderr, disable=not progress, leave=False)
            )
            # BGR → RGB in a background thread, overlapping with the landmarker
            rgb_frames = prefetch(frames, depth=4, transform=lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
            stack.callback(rgb_frames.close)
            last_ms = -1
            for t, frame in enumerate(rgb_frames):
                h, w = frame.shape[:2]
                if (w, h) != (info.width, info.height):
                    raise PoseliftError(f"frame {t} is {w}x{h} pixels; the video said {info.width}x{info.height}")
                last_ms = _timestamp_ms(t, info.fps, last_ms)
                result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), last_ms)
                p, c, wd = _empty(1, S)
                worlds = result.pose_world_landmarks or []
                for s, lms in enumerate(result.pose_landmarks[:S]):
                    xy, vis, wl = _pose_arrays(lms, worlds[s] if s < len(worlds) else None)
                    p[0, s], c[0, s], wd[0, s] = xy * np.array([w, h], np.float32), vis, wl
                pts.append(p[0])
                conf.append(c[0])
                world.append(wd[0])
                bar.update(1)
        if not pts:
            raise PoseliftError("the video has no frames")
        return PeopleDetections(np.stack(pts), np.stack(conf), np.stack(world), info.fps, info.width, info.height, self.layout)

    def detect_in_crops(
        self,
        frames: Iterable[np.ndarray],
        info: VideoInfo,
        boxes: np.ndarray,
        guides: np.ndarray | None = None,
        progress: bool = True,
        *,
        pad: float = 0.15,
        gate: float = 0.12,
        min_overlap: float = 0.2,
        keep_own: str = "box",
        poses_per_crop: int = 2,
    ) -> PeopleDetections:
        """Each person's pose from a crop around their box: slot ``p`` is person ``p``.

        ``boxes`` ``[P, T, 4]`` ``(x0, y0, x1, y1)`` pixels per person and frame (NaN
        where the person is not tracked); ``guides`` ``[P, T, 33, 2]`` optional skeletons
        in pixels (e.g. a previous pass, or a projected 3D pose). Per person, a
        landmarker (``num_poses=poses_per_crop``, video mode) runs on the crop around its box
        (:func:`crop_box` with ``pad``), in which the *other* people (their guide
        skeletons, else their boxes) are painted grey except inside this person's own
        region (``keep_own='box'``: its box; ``'body'``: its guide skeleton, grown by
        7 px, where a guide exists). Of the poses found, the one nearest the guide
        (:func:`guide_distance`) is kept unless farther than ``gate`` × the box height;
        without a guide, the one whose box overlaps the person's box most, unless their
        intersection over union is under ``min_overlap``. A person's landmarker starts
        afresh after frames without a box. ``poses_per_crop=1`` costs about a quarter
        less (the landmarker's detector then runs only when it loses the person) but
        leaves no choice between two people in a crop.
        """
        import cv2
        from tqdm import tqdm

        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.ndim != 3 or boxes.shape[2] != 4 or boxes.shape[0] < 1:
            raise PoseliftError(f"`boxes` must be shaped [people, frames, 4], got {list(boxes.shape)}")
        P, T = boxes.shape[:2]
        if guides is not None:
            guides = np.asarray(guides, dtype=np.float64)
            if guides.shape != (P, T, 33, 2):
                raise PoseliftError(f"`guides` must be shaped {[P, T, 33, 2]} like `boxes`, got {list(guides.shape)}")
        if keep_own not in ("box", "body"):
            raise PoseliftError(f"`keep_own` must be 'box' or 'body', got {keep_own!r}")
        if int(poses_per_crop) != poses_per_crop or poses_per_crop < 1:
            raise PoseliftError(f"`poses_per_crop` must be a positive whole number, got {poses_per_crop!r}")
        pts, conf, world = _empty(T, P)
        bundle = landmarker_bundle(self.cache_dir)

        def handle(t: int, result: Any, ctx: tuple[int, tuple[int, int, int, int]]) -> None:
            p, crop = ctx
            guide = guides[p, t] if guides is not None else None
            picked = _pick(result, crop, boxes[p, t], guide, gate, min_overlap)
            if picked is not None:
                pts[t, p], conf[t, p], world[t, p] = picked

        t = -1
        with self._quiet(), contextlib.ExitStack() as stack:
            landmarkers = [stack.enter_context(self._landmarker(int(poses_per_crop), bundle)) for _ in range(P)]
            bar = stack.enter_context(
                tqdm(total=T, desc="detect 2D (crops)", unit="frame", file=sys.stderr, disable=not progress, leave=False)
            )
            rgb_frames = prefetch(frames, depth=4, transform=lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
            stack.callback(rgb_frames.close)
            with _Lanes(landmarkers, 4, self.threads, handle) as lanes:
                last_ms = -1
                for t, frame in enumerate(rgb_frames):
                    h, w = frame.shape[:2]
                    if (w, h) != (info.width, info.height):
                        raise PoseliftError(f"frame {t} is {w}x{h} pixels; the video said {info.width}x{info.height}")
                    if t >= T:
                        raise PoseliftError(f"the video has more frames than `boxes` ({T})")
                    last_ms = _timestamp_ms(t, info.fps, last_ms)
                    for p in range(P):
                        prepared = prepare_crop(frame, p, boxes[:, t], guides[:, t] if guides is not None else None, pad, keep_own)
                        if prepared is not None:
                            crop, image = prepared
                            lanes.put(p, t, last_ms, image, (p, crop))
                    bar.update(1)
        if t < 0:
            raise PoseliftError("the video has no frames")
        if t + 1 != T:
            raise PoseliftError(f"the video has {t + 1} frames but `boxes` has {T}")
        return PeopleDetections(pts, conf, world, info.fps, info.width, info.height, self.layout)


def prepare_crop(
    frame: np.ndarray,
    person: int,
    boxes: np.ndarray,
    guides: np.ndarray | None = None,
    pad: float = 0.15,
    keep_own: str = "box",
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The crop of one frame that the crop pass shows ``person``'s landmarker:
    ``(crop box, image)``, or None without a box. ``boxes`` ``[P, 4]`` and ``guides``
    ``[P, 33, 2]`` are every person's in this frame; the other people are painted grey
    (:func:`grey_others`) except in this person's own region (see
    :meth:`PeopleDetector.detect_in_crops`); the image is C-contiguous."""
    import cv2

    h, w = frame.shape[:2]
    crop = crop_box(boxes[person], w, h, pad)
    if crop is None:
        return None
    x0, y0, x1, y1 = crop
    shape = (y1 - y0, x1 - x0)
    with_guide = (
        np.isfinite(guides[:, list(_TORSO)]).all((-1, -2)) if guides is not None else np.zeros(len(boxes), bool)
    )
    others = np.zeros(shape, bool)
    for q in range(len(boxes)):
        if q == person or not np.isfinite(boxes[q]).all() or box_iou(boxes[q], crop) == 0.0:
            continue
        others |= skeleton_mask(shape, guides[q], (x0, y0)) if with_guide[q] else box_mask(shape, boxes[q], (x0, y0))
    image = frame[y0:y1, x0:x1]
    if others.any():
        if keep_own == "body" and with_guide[person]:
            own = skeleton_mask(shape, guides[person], (x0, y0)).astype(np.uint8)
            keep = cv2.dilate(own, np.ones((15, 15), np.uint8)) > 0
        else:
            keep = box_mask(shape, boxes[person], (x0, y0))
        image = grey_others(image, others, keep)
    return crop, np.ascontiguousarray(image)


def _pick(
    result: Any, crop: tuple[int, int, int, int], box: np.ndarray, guide: np.ndarray | None, gate: float, min_overlap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The pose of ``result`` that is this person (see :meth:`PeopleDetector.detect_in_crops`),
    in image pixels, or None."""
    if not result.pose_landmarks:
        return None
    worlds = result.pose_world_landmarks or []
    cands = []
    for s, lms in enumerate(result.pose_landmarks):
        xy, vis, wl = _pose_arrays(lms, worlds[s] if s < len(worlds) else None)
        cands.append((to_image_pixels(xy, crop), vis, wl))
    best = pick_pose([c[0] for c in cands], box, guide, gate, min_overlap)
    return None if best is None else cands[best]


def pick_pose(
    poses: Sequence[np.ndarray], box: Sequence[float], guide: np.ndarray | None = None, gate: float = 0.12, min_overlap: float = 0.2
) -> int | None:
    """Which of ``poses`` (each ``[33, 2]`` image pixels) is the person of ``box`` (and
    ``guide``, ``[33, 2]``, when it has a body landmark): the one nearest the guide
    (:func:`guide_distance`) unless farther than ``gate`` × the box height, else (no guide)
    the one whose box overlaps ``box`` most unless their IoU is under ``min_overlap``.
    None when none qualifies."""
    if not len(poses):
        return None
    if guide is not None and np.isfinite(guide[BODY_JOINTS]).all(-1).any():
        dists = np.array([guide_distance(p, guide) for p in poses])
        if not np.isfinite(dists).any():
            return None
        best = int(np.nanargmin(dists))
        return best if dists[best] <= gate * (box[3] - box[1]) else None
    overlaps = [box_iou(boxes_from_points(np.asarray(p)[None])[0], box) for p in poses]
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= min_overlap else None
