"""Several people per frame: MediaPipe's Tasks ``PoseLandmarker``, offline.

The legacy ``mp.solutions.pose`` detector of :mod:`poselift.pipeline.detect` follows one
person. The Tasks API's ``PoseLandmarker`` follows up to ``num_poses`` people, but it
loads its models from a ``.task`` bundle that the mediapipe wheel does not ship. The
wheel does ship both models it needs (the BlazePose detector and the "full" landmark
model, the one ``model_complexity=1`` uses); :func:`landmarker_bundle` adds the
image-input metadata the Tasks API wants, zips them into a bundle once per installation
and caches it. Nothing is downloaded.

Three ways to run it:

- :meth:`PeopleDetector.follow_people` (what ``poselift infer`` uses for videos): each
  person followed by a landmarker of their own on a crop around them, the others painted
  grey, and a whole-frame pass every few frames that discovers new people. Slots are
  people, in the order they were discovered. It keeps people whom a whole-frame pass
  misses or fuses with a neighbour when they overlap (its detector keeps one of two
  overlapping people), and a landmarker that follows one person skips its detector.
- :meth:`PeopleDetector.detect_people`: the whole frame, up to ``max_people`` poses per
  frame. Slots are in the landmarker's order, not identities.

All return :class:`poselift.io.keypoints.PeopleKeypoints2D` (:func:`people_detections`): pixels (origin top-left, x right, y down), the
landmark visibility as the confidence, and MediaPipe's own metric, hip-centred 3D
(``pose_world_landmarks``). The geometry helpers (:func:`boxes_from_points`,
:func:`crop_box`, :func:`to_image_pixels`, :func:`grey_others`, ...) are plain NumPy/OpenCV.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import BLAZEPOSE_33
from poselift.io.atomic import atomic_write
from poselift.io.keypoints import PeopleKeypoints2D
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


def people_detections(points: np.ndarray, confidence: np.ndarray, world: np.ndarray, fps: float, width: int,
                      height: int) -> PeopleKeypoints2D:
    """Several people's BlazePose-33 detections over a video, as the one container of
    :mod:`poselift.io.keypoints` (:class:`PeopleKeypoints2D`, shapes and values checked there).

    points: ``[T, S, 33, 2]`` pixels, NaN where slot ``s`` holds nobody; confidence:
    ``[T, S, 33]``, the landmark visibility in ``[1e-6, 1]`` where found, 0 where empty;
    world: ``[T, S, 33, 3]`` metres, MediaPipe's own hip-centred 3D (``pose_world_landmarks``),
    NaN where empty; fps: frames per second; width, height: image size in pixels.

    Slots of :meth:`PeopleDetector.detect_people` are the landmarker's order in each frame
    (not identities); slot ``p`` of :meth:`PeopleDetector.follow_people` is person ``p``.
    """
    return PeopleKeypoints2D(points, confidence, "blazepose33", fps, width, height, world=world)


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


def _video_frames(frames: Iterable[np.ndarray], info: VideoInfo) -> Iterator[tuple[int, np.ndarray, int]]:
    """``(index, RGB frame, time in ms for VIDEO mode)`` for every BGR frame of the video
    ``info``; BGR → RGB in a background thread, overlapping with the landmarkers; a frame
    of another size than the video said is an error."""
    import cv2

    rgb_frames = prefetch(frames, depth=4, transform=lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    try:
        ms = -1
        for t, frame in enumerate(rgb_frames):
            h, w = frame.shape[:2]
            if (w, h) != (info.width, info.height):
                raise PoseliftError(f"frame {t} is {w}x{h} pixels; the video said {info.width}x{info.height}")
            ms = _timestamp_ms(t, info.fps, ms)
            yield t, frame, ms
    finally:
        rgb_frames.close()


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


# ---------------------------------------------------------------- following people

#: Time constant (frames) of the velocity damping when a followed person's pose is
#: predicted over a gap: a long gap moves it at most this many frames' worth.
FOLLOW_TAU_FRAMES = 10.0
#: Weight of the newest velocity estimate in a followed person's smoothed velocity.
FOLLOW_SMOOTHING = 0.5
#: A followed person's new pose is rejected when its body landmarks are farther than this
#: from the predicted pose (mean px / the predicted pose's box diagonal; loose enough for a
#: body that turns over in a few frames, e.g. a backflip) ...
FOLLOW_GATE = 0.8
#: ... (this for a person discovered but not yet confirmed, see :data:`FOLLOW_CONFIRM_HITS`) ...
FOLLOW_GATE_NEW = 0.5
#: ... or when less than this share of the smaller of its box and the predicted box overlaps the other.
FOLLOW_MIN_OVERLAP = 0.3
#: Two poses of one frame closer than this (mean body-landmark px, left/right
#: swap-invariant, / the smaller box diagonal) are one person
#: (:data:`poselift.geometry.tracking.DUPLICATE_DISTANCE`).
SAME_PERSON = 0.15
#: A discovery candidate closer than this to a followed person's pose (same measure) is
#: that person, not someone new.
KNOWN_PERSON = 0.3
#: A newly discovered person is followed for good once their own landmarker has found them
#: in this many frames; until then, missed in more than :data:`FOLLOW_TENTATIVE_MISSES`
#: frames in a row, they are dropped with their frames (a spurious or second detection).
FOLLOW_CONFIRM_HITS = 2
FOLLOW_TENTATIVE_MISSES = 2
#: A pose a person's landmarker found that was not them (:func:`plausible_pose`) is
#: painted grey in its crops for this many frames (its detector would pick it again).
FOLLOW_AVOID_FRAMES = 3
#: The discovery pass runs beside the following; its poses of frame t are taken after the
#: following of frame t + this (at most ``discover_every - 1``; 0 while nobody is followed).
FOLLOW_DISCOVERY_LAG = 2
#: Smallest box diagonal (px) a distance is divided by.
MIN_DIAGONAL_PX = 16.0


def body_centre(pose: np.ndarray) -> np.ndarray:
    """``[2]`` mean of the finite body landmarks (shoulders to feet; the same with the
    left/right labels exchanged), else of any finite landmark; NaN when none."""
    p = np.asarray(pose, dtype=np.float64)
    for part in (p[BODY_JOINTS], p):
        ok = np.isfinite(part).all(-1)
        if ok.any():
            return part[ok].mean(0)
    return np.full(2, np.nan)


def pose_diagonal(pose: np.ndarray) -> float:
    """Diagonal (px) of the box around a pose's finite landmarks, at least
    :data:`MIN_DIAGONAL_PX` (NaN without a finite landmark)."""
    box = boxes_from_points(np.asarray(pose, dtype=np.float64)[None])[0]
    if not np.isfinite(box).all():
        return float("nan")
    return max(float(np.hypot(box[2] - box[0], box[3] - box[1])), MIN_DIAGONAL_PX)


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart two poses ``[33, 2]`` px are, relative to their size: the mean
    body-landmark distance (:func:`guide_distance`, left/right swap-invariant) over the
    smaller of their box diagonals; inf when nothing is comparable."""
    d = guide_distance(a, b)
    size = np.fmin(pose_diagonal(a), pose_diagonal(b))
    return float(d / size) if np.isfinite(d) and np.isfinite(size) else float("inf")


def _damped(dt: float, tau: float) -> float:
    """Frames of motion over a gap of ``dt`` frames: ``tau (1 - exp(-dt / tau))``."""
    return float(tau * (1.0 - np.exp(-max(float(dt), 0.0) / tau))) if tau > 0 else float(dt)


def _velocity(velocity: np.ndarray | None) -> np.ndarray:
    """``[2]`` px/frame, zero for None or non-finite parts."""
    if velocity is None:
        return np.zeros(2)
    return np.nan_to_num(np.asarray(velocity, dtype=np.float64).reshape(2), nan=0.0, posinf=0.0, neginf=0.0)


def predict_pose(pose: np.ndarray, velocity: np.ndarray | None, dt: float, tau: float = FOLLOW_TAU_FRAMES) -> np.ndarray:
    """``pose`` ``[33, 2]`` px moved by ``velocity`` (px/frame; None: still) over ``dt``
    frames, damped (:data:`FOLLOW_TAU_FRAMES`: a long gap moves it at most ``tau`` frames' worth)."""
    v = _velocity(velocity)
    return np.asarray(pose, dtype=np.float64) + v * _damped(dt, tau)


def predict_box(pose: np.ndarray, velocity: np.ndarray | None, dt: float, tau: float = FOLLOW_TAU_FRAMES) -> np.ndarray:
    """Where to look for a followed person: the box ``(x0, y0, x1, y1)`` of the predicted
    pose (:func:`predict_pose`), grown on every side by the distance the person moves in
    the (damped) time since the last pose, at least one frame's worth (the motion may
    change). NaN when the pose has no finite landmark."""
    box = boxes_from_points(predict_pose(pose, velocity, dt, tau)[None])[0]
    v = _velocity(velocity)
    grow = float(np.hypot(*v)) * max(1.0, _damped(dt, tau))
    return box + np.array([-grow, -grow, grow, grow])


def follow_crop(current: tuple[int, int, int, int] | None, box: Sequence[float], width: int, height: int,
                pad: float = 0.15, slack: float = 0.4, max_ratio: float = 2.0) -> tuple[int, int, int, int] | None:
    """The crop ``(x0, y0, x1, y1)`` (ints, square, x1/y1 exclusive) a followed person's
    landmarker sees in this frame: the ``current`` one while it still holds ``box`` (the
    predicted box) grown by ``pad`` × its height on every side (as far as the image
    goes) and is at most ``max_ratio`` × that size, else a new one around the box, of
    the grown box's size × (1 + ``slack``). Not clamped to the ``width`` × ``height``
    image (:func:`prepare_crop` pads it grey): a crop that stays put, at one scale, lets
    the landmarker's own tracking (from its previous landmarks, in crop coordinates) and
    smoothing work as on a fixed video. None when the box is NaN, empty or off the image."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not np.isfinite([x0, y0, x1, y1]).all() or x1 <= x0 or y1 <= y0:
        return None
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return None
    grow = pad * (y1 - y0)
    need = max(x1 - x0, y1 - y0) + 2 * grow
    if current is not None:
        cx0, cy0, cx1, cy1 = current
        inside = (max(x0 - grow, 0) >= cx0 and max(y0 - grow, 0) >= cy0
                  and min(x1 + grow, width) <= cx1 and min(y1 + grow, height) <= cy1)
        if inside and cx1 - cx0 <= max_ratio * need:
            return current
    side = max(int(np.ceil(need * (1 + slack))), 16)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ix0, iy0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
    return ix0, iy0, ix0 + side, iy0 + side


def update_velocity(velocity: np.ndarray | None, previous: np.ndarray, pose: np.ndarray, dt: float,
                    smoothing: float = FOLLOW_SMOOTHING) -> np.ndarray:
    """A followed person's smoothed velocity (px/frame, ``[2]``) after a new ``pose``
    ``dt`` frames after ``previous``: the body centre's (:func:`body_centre`) step, mixed
    with weight ``smoothing`` into ``velocity`` (the step alone when there is none)."""
    step = (body_centre(pose) - body_centre(previous)) / max(float(dt), 1.0)
    if not np.isfinite(step).all():
        return np.zeros(2) if velocity is None else np.asarray(velocity, dtype=np.float64)
    if velocity is None or not np.isfinite(velocity).all():
        return step
    return smoothing * step + (1.0 - smoothing) * np.asarray(velocity, dtype=np.float64)


def plausible_pose(pose: np.ndarray, predicted: np.ndarray, box: Sequence[float], gate: float = FOLLOW_GATE,
                   min_overlap: float = FOLLOW_MIN_OVERLAP) -> bool:
    """Whether ``pose`` (``[33, 2]`` px) can be the followed person predicted at
    ``predicted`` (``[33, 2]``) in ``box``: its body landmarks within ``gate`` × the
    predicted pose's box diagonal of the prediction (:func:`guide_distance`), and its box
    and ``box`` overlapping by at least ``min_overlap`` of the smaller of the two."""
    size = pose_diagonal(predicted)
    d = guide_distance(pose, predicted)
    if not (np.isfinite(d) and np.isfinite(size)) or d > gate * size:
        return False
    return _overlap_of_smaller(boxes_from_points(np.asarray(pose, dtype=np.float64)[None])[0], box) >= min_overlap


def _overlap_of_smaller(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection of two boxes over the area of the smaller one (0 for NaN or empty boxes)."""
    ax0, ay0, ax1, ay1 = (float(v) for v in a)
    bx0, by0, bx1, by1 = (float(v) for v in b)
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if not (iw > 0 and ih > 0):
        return 0.0
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return float(iw * ih / smaller) if smaller > 0 else 0.0


def reject_duplicates(poses: Sequence[np.ndarray | None], predicted: Sequence[np.ndarray],
                      threshold: float = SAME_PERSON, confirmed: Sequence[bool] | None = None) -> list[bool]:
    """Which followed people keep their pose of this frame: of two poses closer than
    ``threshold`` (:func:`pose_distance`: both landmarkers found the same person), an
    unconfirmed person's (``confirmed``: per person, default all) loses to a confirmed
    one's, else the one farther from its own prediction (same measure; the later person
    on a tie) loses it. ``poses``: each person's pose ``[33, 2]`` px or None;
    ``predicted``: their predictions."""
    keep = [p is not None for p in poses]
    rank = [0 if confirmed is None or confirmed[i] else 1 for i in range(len(poses))]
    own = [(r, pose_distance(p, q) if p is not None else float("inf")) for r, p, q in zip(rank, poses, predicted)]
    pairs = []
    for a, b in itertools.combinations(range(len(poses)), 2):
        if keep[a] and keep[b]:
            d = pose_distance(poses[a], poses[b])  # type: ignore[arg-type]
            if d < threshold:
                pairs.append((d, a, b))
    for _, a, b in sorted(pairs):
        if keep[a] and keep[b]:
            keep[b if own[b] >= own[a] else a] = False
    return keep


def known_people(candidates: Sequence[np.ndarray], poses: Sequence[np.ndarray | None],
                 threshold: float = KNOWN_PERSON) -> np.ndarray:
    """``[C]`` which followed person (index in ``poses``) each discovery candidate is: the
    nearest (:func:`pose_distance`) within ``threshold``, else -1 (someone new). ``poses``:
    each followed person's pose of this frame (or its prediction), None to leave out."""
    out = np.full(len(candidates), -1, np.int64)
    for c, cand in enumerate(candidates):
        dists = [pose_distance(cand, p) if p is not None else float("inf") for p in poses]
        if dists and min(dists) < threshold:
            out[c] = int(np.argmin(dists))
    return out


def grey_people(frame: np.ndarray, poses: Sequence[np.ndarray], pad: float = 0.25, value: int = 128) -> np.ndarray:
    """``frame`` with each of ``poses`` (``[33, 2]`` px) painted grey as a skeleton
    (:func:`skeleton_mask`), e.g. the people already followed, for the discovery pass to
    find the others; a copy when anything changes."""
    h, w = frame.shape[:2]
    out = frame
    for pose in poses:
        crop = crop_box(boxes_from_points(np.asarray(pose, dtype=np.float64)[None])[0], w, h, pad, min_size=1)
        if crop is None:
            continue
        x0, y0, x1, y1 = crop
        mask = skeleton_mask((y1 - y0, x1 - x0), pose, (x0, y0))
        if mask.any():
            if out is frame:
                out = frame.copy()
            out[y0:y1, x0:x1][mask] = value
    return out


# ------------------------------------------------------------------------ the detector


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


class PeopleDetector:
    """MediaPipe's Tasks PoseLandmarker (the wheel's "full" BlazePose model, as the legacy
    ``model_complexity=1``) in video mode, for several people: see the module docstring.

    ``threads``: how many per-person landmarkers (:meth:`follow_people`) run at the same
    time (default: the usable CPU cores, at most 8; a landmarker uses one core). The
    full-frame pass (:meth:`detect_people`) is one
    landmarker over the whole video: its tracking carries people whom its detector misses
    when they overlap, so it is not split.
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

    def _landmarker(self, num_poses: int, bundle: Path, video: bool = True) -> Any:
        """A new PoseLandmarker in VIDEO mode (IMAGE mode unless ``video``; call inside the quiet block)."""
        _mediapipe()
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
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

    def detect_people(self, frames: Iterable[np.ndarray], info: VideoInfo, progress: bool = True) -> PeopleKeypoints2D:
        """Up to ``max_people`` poses per frame of ``frames`` (BGR uint8) on the whole image."""
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
            for t, frame, last_ms in stack.enter_context(contextlib.closing(_video_frames(frames, info))):
                h, w = frame.shape[:2]
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
        return people_detections(np.stack(pts), np.stack(conf), np.stack(world), info.fps, info.width, info.height)

    def follow_people(
        self,
        frames: Iterable[np.ndarray],
        info: VideoInfo,
        progress: bool = True,
        *,
        discover_every: int = 5,
        max_missed: int | None = None,
        pad: float = 0.15,
        poses_per_crop: int = 1,
        keep_own: str = "body",
        grey_followed: bool = True,
        slack: float = 0.4,
    ) -> PeopleKeypoints2D:
        """Every person of ``frames`` (BGR uint8), each followed by a landmarker of their
        own: slot ``p`` is the ``p``-th person discovered (a slot is never reused), so the
        slots are identities (the tracker downstream still links them: a person lost and
        found again gets a new slot).

        Discovery: every ``discover_every`` frames (on every frame while nobody is
        followed, and on the frame after one that found someone new), a whole-frame
        landmarker (image mode, up to ``max_people`` poses) looks at the frame with the
        people followed painted grey (``grey_followed``, :func:`grey_people`: its detector
        keeps one of two overlapping people, so it then finds the other). It runs beside
        the following and its poses are taken when it is done (a frame or two later).
        A pose that is none of the people followed then (:func:`known_people`) starts a new
        one, up to ``max_people`` at a time (its pose is that person's in that frame); one
        that is a person whom their own landmarker missed in that frame is taken as theirs.

        Following: on every frame, each person's landmarker (video mode,
        ``num_poses=poses_per_crop``: with 1, its person detector runs only when it has lost
        the person; it tracks from its own previous landmarks) runs on a crop around the
        predicted box (:func:`predict_box`: the last pose moved by a smoothed velocity,
        grown by the motion). The crop (:func:`follow_crop`, ``pad`` × the box height
        around the box, ``slack`` to spare, padded grey beyond the image) stays put while
        it holds the person, so the landmarker's tracking works as on a still camera; a new
        crop restarts the landmarker. The other people's predicted skeletons are painted
        grey except in this person's own region (``keep_own``: ``'box'``, its box; ``'body'``,
        its predicted skeleton grown by 7 px),
        and so are poses this landmarker found in the last frames that were not this person.
        The pose nearest the prediction (:func:`pick_pose`) is kept if plausible
        (:func:`plausible_pose` with :data:`FOLLOW_GATE`, loosened for each frame missed)
        and not the pose of another person followed (:func:`reject_duplicates`); a
        landmarker whose pose was turned down starts afresh on the next frame.

        A person discovered is confirmed once their own landmarker has found them in
        :data:`FOLLOW_CONFIRM_HITS` frames; until then they are not painted grey in the
        others' crops, lose a duplicate pose to a confirmed person, must pass the stricter
        :data:`FOLLOW_GATE_NEW`, and are dropped with their frames when missed in more than
        :data:`FOLLOW_TENTATIVE_MISSES` frames in a row (a spurious detection, or a second
        one of someone followed). A confirmed person missed for more than ``max_missed``
        frames (default: one second of ``info.fps``) is no longer followed.

        The landmarkers of a frame run in ``threads`` threads (and the discovery pass in one
        more). Returns pixels, visibilities and MediaPipe's world landmarks per slot, as
        :meth:`detect_people`.
        """
        from concurrent.futures import ThreadPoolExecutor

        import mediapipe as mp
        from tqdm import tqdm

        if int(discover_every) != discover_every or discover_every < 1:
            raise PoseliftError(f"`discover_every` must be a positive whole number, got {discover_every!r}")
        if max_missed is not None and (int(max_missed) != max_missed or max_missed < 0):
            raise PoseliftError(f"`max_missed` must be a whole number >= 0 or None, got {max_missed!r}")
        if int(poses_per_crop) != poses_per_crop or poses_per_crop < 1:
            raise PoseliftError(f"`poses_per_crop` must be a positive whole number, got {poses_per_crop!r}")
        if keep_own not in ("box", "body"):
            raise PoseliftError(f"`keep_own` must be 'box' or 'body', got {keep_own!r}")
        if max_missed is None:
            max_missed = max(1, round(info.fps)) if info.fps > 0 else 30
        discover_every, poses_per_crop = int(discover_every), int(poses_per_crop)
        bundle = landmarker_bundle(self.cache_dir)
        blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.full((256, 256, 3), 128, np.uint8))
        rows: list[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        followed: list[_Followed] = []
        idle: list[tuple[Any, int]] = []  # landmarkers of people no longer followed, with their last timestamp
        slots = 0
        unconfirmed: set[int] = set()  # slots of discoveries that their own landmarker did not confirm

        def follow_one(f: _Followed, frame: np.ndarray, index: int, boxes: np.ndarray, guides: np.ndarray, t: int, ms: int) -> Any:
            if f.avoid and t - f.avoid_frame <= FOLLOW_AVOID_FRAMES:  # whom it found instead, painted grey too
                avoid = np.asarray(f.avoid, np.float64)
                boxes = np.concatenate([boxes, boxes_from_points(avoid)])
                guides = np.concatenate([guides, avoid])
            prepared = prepare_crop(frame, index, boxes, guides, pad, keep_own, f.crop) if f.crop is not None else None
            if prepared is None:
                return None
            crop, image = prepared
            if f.reset or (f.called is not None and f.called != t - 1):
                f.last_ms += 1  # a blank image: it forgets whom it tracked (as a new landmarker)
                f.landmarker.detect_for_video(blank, f.last_ms)
                f.reset = False
            f.last_ms = max(ms, f.last_ms + 1)
            result = f.landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=image), f.last_ms)
            f.called = t
            return crop, result

        def discover(frame: np.ndarray, grey: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
            image = np.ascontiguousarray(grey_people(frame, grey)) if grey else frame
            result = finder.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
            return _candidates(result, (0, 0, frame.shape[1], frame.shape[0]))

        def take_discovery(td: int, cands: list[tuple[np.ndarray, np.ndarray, np.ndarray]], refs: dict[int, np.ndarray],
                           t: int, w: int, h: int) -> bool:
            """The discovery pass's poses of frame ``td`` (``refs``: the predictions of the people
            followed then), after frame ``t``'s following: people whom their landmarker missed, and
            new people (whether there were any)."""
            nonlocal slots
            before = slots
            row = rows[td]
            known = list(refs)
            who = known_people([c[0] for c in cands], [row[s][0] if s in row else refs[s] for s in known])
            by_slot = {f.slot: f for f in followed}
            for c in np.flatnonzero(who >= 0):
                s = known[who[c]]
                if s in row:
                    continue
                row[s] = cands[c]
                log.debug("follow: frame %d, person %d: found by the discovery pass", td, s)
                f = by_slot.get(s)
                if f is not None and f.frame < td:
                    f.velocity = update_velocity(f.velocity, f.pose, cands[c][0], td - f.frame)
                    f.pose, f.frame, f.missed = cands[c][0], td, t - td
            for c in np.flatnonzero(who < 0):
                pose = cands[c][0]
                if len(followed) >= self.max_people or crop_box(boxes_from_points(pose[None])[0], w, h, pad) is None:
                    continue
                if (known_people([pose], [p[0] for p in row.values()]) >= 0).any():
                    continue  # the same as another new one
                landmarker, ms = idle.pop() if idle else (models.enter_context(self._landmarker(poses_per_crop, bundle)), -1)
                followed.append(_Followed(slots, landmarker, ms, pose, td, reset=ms >= 0))
                row[slots] = cands[c]
                log.debug("follow: frame %d, person %d: discovered", td, slots)
                slots += 1
            return slots > before

        with self._quiet(), contextlib.ExitStack() as stack:
            models = stack.enter_context(contextlib.ExitStack())  # closed after the threads
            finder = models.enter_context(self._landmarker(self.max_people, bundle, video=False))
            # one more thread than landmarkers at a time: the discovery pass runs beside them
            workers = stack.enter_context(ThreadPoolExecutor(max_workers=self.threads + 1, thread_name_prefix="poselift-follow"))
            bar = stack.enter_context(
                tqdm(total=info.num_frames, desc="detect 2D (follow)", unit="frame", file=sys.stderr, disable=not progress, leave=False)
            )
            pending: tuple[int, Any, dict[int, np.ndarray], bool] | None = None  # a discovery pass running
            lag = min(FOLLOW_DISCOVERY_LAG, discover_every - 1)
            discovered = -discover_every  # the frame of the last one
            t = -1
            for t, frame, last_ms in stack.enter_context(contextlib.closing(_video_frames(frames, info))):
                h, w = frame.shape[:2]
                for f in followed:
                    f.predicted = predict_pose(f.pose, f.velocity, t - f.frame)
                    f.box = predict_box(f.pose, f.velocity, t - f.frame)
                    crop = follow_crop(f.crop, f.box, w, h, pad, slack)
                    if crop is not None and f.crop is not None and crop != f.crop:
                        f.reset = True  # a new crop: its tracking (in crop coordinates) would look at the wrong place
                    f.crop = crop
                boxes = np.array([f.box for f in followed], np.float64).reshape(-1, 4)
                guides = np.array([f.predicted for f in followed], np.float64).reshape(-1, 33, 2)
                confirmed = [f.hits >= FOLLOW_CONFIRM_HITS for f in followed]
                jobs = []
                for i, f in enumerate(followed):
                    shown = boxes.copy()  # the unconfirmed others are not painted grey
                    shown[[j for j in range(len(followed)) if j != i and not confirmed[j]]] = np.nan
                    jobs.append(workers.submit(follow_one, f, frame, i, shown, guides, t, last_ms))
                # the discovery pass: on every frame while nobody is followed (waited for), else every
                # `discover_every` frames, running beside the following (its poses are taken after the
                # following of frame t + lag)
                sync = not followed
                if pending is None and (sync or t - discovered >= discover_every):
                    grey = [f.predicted for f in followed if f.missed == 0] if grey_followed else []
                    pending = (t, workers.submit(discover, frame, grey), {f.slot: f.predicted for f in followed}, sync)
                    discovered = t
                # each person's own landmarker
                found: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
                for f, job in zip(followed, jobs):
                    out = job.result()
                    picked = None
                    if out is not None:
                        cands = _candidates(out[1], out[0])
                        best = pick_pose([c[0] for c in cands], f.box, f.predicted, gate=np.inf) if cands else None
                        # a person missed for a while may have moved farther than predicted (a fall)
                        gate = FOLLOW_GATE * (1 + f.missed) if confirmed[len(found)] else FOLLOW_GATE_NEW
                        if best is not None and plausible_pose(cands[best][0], f.predicted, f.box, gate):
                            picked = cands[best]
                            f.avoid = []
                        elif cands:
                            f.reset = True  # it holds someone else: they are painted grey in its next crops
                            f.avoid, f.avoid_frame = [c[0] for c in cands], t
                            log.debug("follow: frame %d, person %d: pose turned down (%.2f of the size from the prediction)",
                                      t, f.slot, pose_distance(cands[best or 0][0], f.predicted))
                        else:
                            log.debug("follow: frame %d, person %d: no pose in the crop", t, f.slot)
                    found.append(picked)
                keep = reject_duplicates([p[0] if p is not None else None for p in found], [f.predicted for f in followed],
                                         confirmed=confirmed)
                for i, f in enumerate(followed):
                    if found[i] is not None and not keep[i]:
                        found[i], f.reset = None, True
                        log.debug("follow: frame %d, person %d: the pose of another person", t, f.slot)
                row: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
                for f, picked in zip(followed, found):
                    if picked is None:
                        f.missed += 1
                        continue
                    if f.frame < t:
                        f.velocity = update_velocity(f.velocity, f.pose, picked[0], t - f.frame)
                    f.pose, f.frame, f.missed = picked[0], t, 0
                    f.hits += 1
                    row[f.slot] = picked
                rows.append(row)
                if pending is not None and t >= pending[0] + (0 if pending[3] else lag):  # a fixed lag: reproducible
                    if take_discovery(pending[0], pending[1].result(), pending[2], t, w, h):
                        discovered = t - discover_every  # someone new: look again at once (with them painted grey)
                    pending = None
                still = []
                for f in followed:
                    tentative = f.hits < FOLLOW_CONFIRM_HITS
                    if f.missed > (FOLLOW_TENTATIVE_MISSES if tentative else max_missed):
                        log.debug("follow: person %d %s at frame %d (last seen at frame %d)", f.slot,
                                  "dropped as unconfirmed" if tentative else "lost", t, f.frame)
                        if tentative:
                            unconfirmed.add(f.slot)
                        idle.append((f.landmarker, f.last_ms))
                    else:
                        still.append(f)
                followed = still
                bar.update(1)
            if pending is not None:
                take_discovery(pending[0], pending[1].result(), pending[2], t, info.width, info.height)
        if not rows:
            raise PoseliftError("the video has no frames")
        kept = {s: k for k, s in enumerate(s for s in range(slots) if s not in unconfirmed)}
        pts, conf, world = _empty(len(rows), max(len(kept), 1))
        for t, row in enumerate(rows):
            for s, (xy, vis, wl) in row.items():
                if s in kept:
                    pts[t, kept[s]], conf[t, kept[s]], world[t, kept[s]] = xy, vis, wl
        found_frames = np.isfinite(pts).all(-1).any(-1).sum(0)
        log.info("follow: %d %s in %d frames (frames per person: %s; %d unconfirmed discoveries dropped)", len(kept),
                 "person" if len(kept) == 1 else "people", len(rows), ", ".join(str(int(n)) for n in found_frames[:len(kept)]),
                 len(unconfirmed))
        return people_detections(pts, conf, world, info.fps, info.width, info.height)


@dataclass(eq=False)
class _Followed:
    """A person :meth:`PeopleDetector.follow_people` follows: their slot and landmarker
    (its last timestamp, the frame it last ran on), the last pose found (``[33, 2]`` px,
    at ``frame``), the smoothed velocity (px/frame), frames missed since, and this
    frame's prediction."""

    slot: int
    landmarker: Any
    last_ms: int
    pose: np.ndarray
    frame: int
    velocity: np.ndarray | None = None
    missed: int = 0
    hits: int = 0  # frames in which its own landmarker found the person
    reset: bool = False  # show the landmarker a blank image first: it tracks someone else
    called: int | None = None
    avoid: list[np.ndarray] = field(default_factory=list)  # poses its landmarker found that were not this person
    avoid_frame: int = -1
    predicted: np.ndarray | None = None
    box: np.ndarray | None = None
    crop: tuple[int, int, int, int] | None = None


def _candidates(result: Any, crop: tuple[int, int, int, int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every pose of a landmarker's ``result`` on ``crop``: (pixels ``[33, 2]``, visibility, world)."""
    worlds = result.pose_world_landmarks or []
    out = []
    for s, lms in enumerate(result.pose_landmarks or []):
        xy, vis, wl = _pose_arrays(lms, worlds[s] if s < len(worlds) else None)
        out.append((to_image_pixels(xy, crop), vis, wl))
    return out


def prepare_crop(
    frame: np.ndarray,
    person: int,
    boxes: np.ndarray,
    guides: np.ndarray | None = None,
    pad: float = 0.15,
    keep_own: str = "box",
    crop: tuple[int, int, int, int] | None = None,
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The crop of one frame that the crop pass shows ``person``'s landmarker:
    ``(crop box, image)``, or None without a box. ``boxes`` ``[P, 4]`` and ``guides``
    ``[P, 33, 2]`` are every person's in this frame; the other people are painted grey
    (:func:`grey_others`) except in this person's own region (``keep_own``: ``'box'``, its
    box; ``'body'``, its guide skeleton grown by 7 px, where a guide exists); the image is
    C-contiguous. ``crop``: the
    crop box (ints) to use instead of :func:`crop_box` of the person's box with ``pad``;
    its parts outside the image are mid-grey (:func:`follow_crop`)."""
    import cv2

    h, w = frame.shape[:2]
    if crop is None:
        crop = crop_box(boxes[person], w, h, pad)
    if crop is None or not np.isfinite(boxes[person]).all():
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
    image = _cut(frame, crop)
    if others.any():
        if keep_own == "body" and with_guide[person]:
            own = skeleton_mask(shape, guides[person], (x0, y0)).astype(np.uint8)
            keep = cv2.dilate(own, np.ones((15, 15), np.uint8)) > 0
        else:
            keep = box_mask(shape, boxes[person], (x0, y0))
        image = grey_others(image, others, keep)
    return crop, np.ascontiguousarray(image)


def _cut(frame: np.ndarray, crop: Sequence[int], value: int = 128) -> np.ndarray:
    """``frame[y0:y1, x0:x1]``, the parts of the crop outside the image mid-grey (a copy then)."""
    x0, y0, x1, y1 = (int(v) for v in crop)
    h, w = frame.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return frame[y0:y1, x0:x1]
    out = np.full((y1 - y0, x1 - x0, *frame.shape[2:]), value, frame.dtype)
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = frame[iy0:iy1, ix0:ix1]
    return out


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
