"""2D keypoints as data, and the importers of keypoint files.

Every source (a detector, or a file read here) produces a :class:`Keypoints2D`:
``points`` ``[T, J, 2]`` in pixels (origin top-left, x right, y down; NaN where the
joint is missing), ``confidence`` ``[T, J]`` in ``[0, 1]`` (exactly 0 where missing),
the joint ``layout`` name (``coco17``, ``blazepose33``, ``h36m17``; see
:mod:`poselift.geometry.skeleton`), the frame rate in frames/s and the image size in
pixels. One person per frame: when a file holds several, the highest-scoring one is kept.

Keypoint file formats (``poselift infer FILE --keypoints-format ...``)
------------------------------------------------------------------------

``coco-json``
    A JSON list of COCO-style annotations, as written by Detectron/Detectron2,
    MMPose and most COCO tools::

        [{"image_id": 0, "keypoints": [x0, y0, v0, ..., x16, y16, v16], "score": 0.98}, ...]

    or a COCO file ``{"images": [...], "annotations": [...]}``. ``keypoints`` holds
    the 17 COCO joints as pixel ``x, y`` plus a third value: a visibility flag
    (0 = not labelled, 1/2 = labelled) when every third value is 0, 1 or 2,
    otherwise a detector score (used as the confidence, clipped to ``[0, 1]``).
    Joints with flag/score ``<= 0`` or at ``(0, 0)`` with flag 0 are missing.
    Frames: with an ``images`` list, its entries sorted by ``id`` are the frames
    (images without a person are missing frames, and ``width``/``height`` are read
    from it when present). Without one, integer ``image_id`` values (or names ending
    in a number, like ``"frame_000012.jpg"``) are frame numbers counted from the
    smallest (gaps are missing frames); other ids are sorted by name. Per frame the
    annotation with the highest ``score`` is kept (without scores: the one with the
    most visible joints).

``openpose``
    An OpenPose ``--write_json`` folder: one ``*_keypoints.json`` per frame,
    ordered by the frame number in the file name. Per file the person in
    ``people`` with the highest summed keypoint confidence is kept (this is
    ``people[0]`` when there is one person); a file with no people is a missing
    frame. ``pose_keypoints_2d`` is BODY_25 (75 values) or COCO-18 (54 values),
    ``x, y, c`` per joint, ``(0, 0, 0)`` = missing. Both are mapped to COCO-17
    (see :data:`BODY25_TO_COCO17` and :data:`COCO18_TO_COCO17`): the ``Neck`` and
    ``MidHip`` joints and BODY_25's feet (toes, heels) are dropped.

``npz``
    Our NumPy file (read with ``allow_pickle=False``): ``keypoints_2d`` ``[T, J, 2]``
    pixels (NaN = missing); optional ``confidence`` ``[T, J]`` (default 1, 0 where
    NaN), ``fps`` (frames/s), ``width``, ``height`` (pixels) and ``layout``
    (``coco17``, ``blazepose33`` or ``h36m17``; default: ``coco17`` for 17 joints,
    ``blazepose33`` for 33). ``poses.npz`` written by ``poselift infer`` is a valid
    input (H36M-17 keypoints).

``csv``
    Long format, one row per frame and joint, header ``frame,joint,x,y,confidence``
    (``confidence`` column optional, default 1). ``frame`` counts from 0; ``joint``
    is a joint name of one layout (``left_shoulder`` for ``coco17``/``blazepose33``,
    ``RKnee`` for ``h36m17``; names found only in BlazePose select ``blazepose33``)
    or a 0-based index (17 joints → ``coco17``, 33 → ``blazepose33``). ``x, y``
    in pixels; empty or ``nan`` = missing; absent rows are missing joints/frames.
    ``confidence`` in ``[0, 1]``: empty = 1, ``nan`` = missing. Blank lines are
    skipped; anything else malformed (other columns, a row with more or fewer values
    than the header, a non-numeric, infinite or negative value, ``x`` without ``y``)
    is an error naming the line.

Files other than ``npz`` (and COCO files without image sizes) carry no frame rate or
resolution: pass ``--fps``, ``--width`` and ``--height``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from poselift.errors import PoseliftError, finite_number
from poselift.geometry.sequence import check_frame_rate
from poselift.geometry.skeleton import (
    BLAZEPOSE_33,
    COCO_17,
    FORMER_JOINT_NAMES,
    H36M_17,
    get_skeleton,
)
from poselift.io.arrays import load_npz

#: Layouts a keypoint source may use (everything :func:`poselift.geometry.skeleton.to_h36m17` converts).
SUPPORTED_LAYOUTS = ("coco17", "blazepose33", "h36m17")


KEYPOINT_FORMATS = ("coco-json", "openpose", "npz", "csv")


#: Largest keypoint coordinate accepted, in pixels (far off-screen for any real image).
MAX_PIXEL_COORDINATE = 1e7


#: OpenPose BODY_25 index for each COCO-17 joint (nose, L/R eye, L/R ear, L/R shoulder,
#: L/R elbow, L/R wrist, L/R hip, L/R knee, L/R ankle). BODY_25 order: 0 Nose, 1 Neck,
#: 2 RShoulder, 3 RElbow, 4 RWrist, 5 LShoulder, 6 LElbow, 7 LWrist, 8 MidHip, 9 RHip,
#: 10 RKnee, 11 RAnkle, 12 LHip, 13 LKnee, 14 LAnkle, 15 REye, 16 LEye, 17 REar,
#: 18 LEar, 19-24 feet (dropped, with Neck and MidHip).
BODY25_TO_COCO17 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)


#: OpenPose COCO-18 index for each COCO-17 joint. COCO-18 order: 0 Nose, 1 Neck,
#: 2 RShoulder, 3 RElbow, 4 RWrist, 5 LShoulder, 6 LElbow, 7 LWrist, 8 RHip, 9 RKnee,
#: 10 RAnkle, 11 LHip, 12 LKnee, 13 LAnkle, 14 REye, 15 LEye, 16 REar, 17 LEar
#: (Neck dropped).
COCO18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


@dataclass
class Keypoints2D:
    """One person's 2D keypoints over a video.

    points: ``[T, J, 2]`` float32 pixels, NaN where missing.
    confidence: ``[T, J]`` float32 in ``[0, 1]``, 0 where missing.
    layout: joint layout name (``coco17``, ``blazepose33``, ``h36m17``).
    fps: frames per second; width, height: image size in pixels.
    """

    points: np.ndarray
    confidence: np.ndarray
    layout: str
    fps: float
    width: int
    height: int

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        skel = get_skeleton(self.layout)
        if self.layout not in SUPPORTED_LAYOUTS:
            raise PoseliftError(f"keypoint layout {self.layout!r} is not supported; use one of {', '.join(SUPPORTED_LAYOUTS)}")
        if self.points.ndim != 3 or self.points.shape[1:] != (skel.num_joints, 2):
            raise PoseliftError(
                f"{self.layout} keypoints must be shaped [frames, {skel.num_joints}, 2], got {list(self.points.shape)}"
            )
        if self.confidence.shape != self.points.shape[:2]:
            raise PoseliftError(f"confidence must be shaped {list(self.points.shape[:2])}, got {list(self.confidence.shape)}")
        if self.points.shape[0] == 0:
            raise PoseliftError("the keypoint sequence has no frames")
        self.fps = check_frame_rate(self.fps)
        if self.width <= 0 or self.height <= 0:
            raise PoseliftError(f"image size must be positive, got {self.width}x{self.height}")
        if np.isinf(self.points).any():
            raise PoseliftError("keypoints contain infinite values")
        largest = float(np.nanmax(np.abs(self.points))) if not np.isnan(self.points).all() else 0.0
        if largest > MAX_PIXEL_COORDINATE:
            raise PoseliftError(
                f"keypoint coordinates reach {largest:.3g} pixels, implausible for a {self.width}x{self.height} image"
            )
        out_of_range = ~np.isnan(self.confidence) & ~((self.confidence >= 0) & (self.confidence <= 1))
        if out_of_range.any():
            t, j = (int(v) for v in np.argwhere(out_of_range)[0])
            raise PoseliftError(
                f"confidence must be in [0, 1] (NaN = missing); {int(out_of_range.sum())} value(s) are not, "
                f"e.g. {float(self.confidence[t, j]):g} at frame {t}, joint {j}"
            )
        missing = np.isnan(self.points).any(-1)
        self.points[missing] = np.nan
        self.confidence = np.where(missing, 0.0, np.nan_to_num(self.confidence, nan=0.0)).astype(np.float32)

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    def person_frames(self) -> np.ndarray:
        """``[T]`` bool: frames where at least one joint was found."""
        return (self.confidence > 0).any(axis=1)


@dataclass
class PeopleKeypoints2D:
    """Every person's 2D keypoints in every frame, before tracking: S slots per frame.

    points: ``[T, S, J, 2]`` float32 pixels, NaN where missing (an unused slot is all NaN).
    confidence: ``[T, S, J]`` float32 in ``[0, 1]``, 0 where missing.
    layout, fps, width, height: as :class:`Keypoints2D`.
    track_ids: ``[T, S]`` int64 identities the source already gives (PoseTrack-style
    ``track_id``; a single-person file is identity 1), -1 for an empty slot; ``None``
    when slots carry no identity (a tracker must assign them).
    world: ``[T, S, J, 3]`` the detector's own 3D in metres (hip-centred), or ``None``.
    Checked like :class:`Keypoints2D`.
    """

    points: np.ndarray
    confidence: np.ndarray
    layout: str
    fps: float
    width: int
    height: int
    track_ids: np.ndarray | None = None
    world: np.ndarray | None = None
    #: the source can hold one person only (npz/csv files, a one-person detector): that
    #: person spans the whole clip (:meth:`from_single`)
    one_person: bool = False

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float32)
        conf = np.asarray(self.confidence, dtype=np.float32)
        if points.ndim != 4 or conf.shape != points.shape[:3]:
            raise PoseliftError(
                f"people keypoints must be [frames, people, joints, 2] with confidence [frames, people, joints], "
                f"got {list(points.shape)} and {list(conf.shape)}"
            )
        t, s, j, _ = points.shape
        if s == 0:
            raise PoseliftError("people keypoints need at least one person slot")
        if self.layout in SUPPORTED_LAYOUTS and j != get_skeleton(self.layout).num_joints:
            raise PoseliftError(
                f"{self.layout} people keypoints must be shaped [frames, people, {get_skeleton(self.layout).num_joints}, 2], "
                f"got {list(points.shape)}"
            )
        flat = Keypoints2D(points.reshape(t * s, j, 2), conf.reshape(t * s, j), self.layout, self.fps, self.width, self.height)
        self.points, self.confidence, self.fps = flat.points.reshape(points.shape), flat.confidence.reshape(conf.shape), flat.fps
        if self.track_ids is not None:
            ids = np.asarray(self.track_ids)
            if ids.shape != (t, s) or not np.issubdtype(ids.dtype, np.integer):
                raise PoseliftError(f"track_ids must be whole numbers shaped {[t, s]}, got {ids.dtype} {list(ids.shape)}")
            self.track_ids = ids.astype(np.int64)
        if self.world is not None:
            world = np.asarray(self.world, dtype=np.float32)
            if world.shape != (t, s, j, 3):
                raise PoseliftError(f"world must be shaped {[t, s, j, 3]} metres, got {list(world.shape)}")
            self.world = world

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_slots(self) -> int:
        return int(self.points.shape[1])

    def found(self) -> np.ndarray:
        """``[T, S]`` bool: slot ``s`` holds a pose (at least one joint) in frame ``t``."""
        return (self.confidence > 0).any(axis=2)

    def detections_per_frame(self) -> np.ndarray:
        """``[T]`` int: slots with at least one joint found."""
        return self.found().sum(axis=1)

    def person(self, slot: int) -> Keypoints2D:
        """One slot over the whole clip as a :class:`Keypoints2D`."""
        return Keypoints2D(self.points[:, slot], self.confidence[:, slot], self.layout, self.fps, self.width, self.height)

    @classmethod
    def from_single(cls, kp: Keypoints2D) -> "PeopleKeypoints2D":
        """One person (identity 1 wherever a joint was found) from a :class:`Keypoints2D`."""
        ids = np.where(kp.person_frames(), 1, -1).astype(np.int64)[:, None]
        return cls(kp.points[:, None], kp.confidence[:, None], kp.layout, kp.fps, kp.width, kp.height, track_ids=ids,
                   one_person=True)


def _natural_key(text: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def _trailing_number(value: Any) -> int | None:
    """Frame number of an id: an int, a digit string, or a name ending in digits (``frame_12.jpg``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.search(r"(\d+)(?:\.[A-Za-z0-9]+)?$", value.strip())
        if m:
            return int(m.group(1))
    return None


def _valid_id(value: Any) -> bool:
    """An image id: a JSON number or string (hashable, comparable as text)."""
    return isinstance(value, (int, float, str)) and not isinstance(value, bool) and (
        not isinstance(value, float) or math.isfinite(value)
    )


def _whole_number(value: Any) -> bool:
    """A JSON whole number (an int, or a float with no fraction), not a bool."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _valid_size(value: Any) -> bool:
    """A stated image width/height: a positive finite number of pixels."""
    return finite_number(value) and 0 < value < 1e9


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PoseliftError(f"{path} is not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise PoseliftError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # an integer with too many digits, absurd nesting
        raise PoseliftError(f"{path} is not valid JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    except OSError as exc:
        raise PoseliftError(f"{path} could not be read ({exc.strerror or exc})") from None


def _xyv_triplets(values: Any, num_joints: int | tuple[int, ...], where: str) -> np.ndarray:
    """Flat ``[x, y, v] * J`` list → ``[J, 3]`` float array (J checked against ``num_joints``)."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise PoseliftError(f"{where}: keypoints must be a flat list of numbers [x, y, v, ...]") from None
    allowed = (num_joints,) if isinstance(num_joints, int) else num_joints
    if arr.size % 3 or arr.size // 3 not in allowed:
        want = " or ".join(f"{3 * n} ({n} joints)" for n in allowed)
        raise PoseliftError(f"{where}: expected {want} keypoint values [x, y, v, ...], got {arr.size}")
    return arr.reshape(-1, 3)


def _check_magnitude(xyv: np.ndarray, where: str) -> None:
    """Finite ``x, y`` beyond :data:`MAX_PIXEL_COORDINATE` are an error (inf/NaN mean missing)."""
    xy = xyv[:, :2]
    finite = xy[np.isfinite(xy)]
    if finite.size and float(np.abs(finite).max()) > MAX_PIXEL_COORDINATE:
        raise PoseliftError(f"{where}: keypoint coordinates reach {float(np.abs(finite).max()):.3g} pixels, implausible for any image")


def _coco_confidence(xyv: np.ndarray, flags: bool) -> tuple[np.ndarray, np.ndarray]:
    """``[..., J, 3]`` → points ``[..., J, 2]`` (NaN = missing), confidence ``[..., J]``."""
    v = xyv[..., 2]
    if flags:
        conf = (v > 0).astype(np.float32)
    else:
        conf = np.clip(v, 0.0, 1.0).astype(np.float32)
    missing = ~(conf > 0) | ~np.isfinite(xyv[..., :2]).all(-1)
    with np.errstate(over="ignore"):  # beyond float32: inf, reported by Keypoints2D
        pts = xyv[..., :2].astype(np.float32)
    pts[missing] = np.nan
    conf[missing] = 0.0
    return pts, conf


def load_coco_json_people(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read every person of a COCO-style keypoint JSON (format: module docstring).

    Returns points ``[T, S, 17, 2]`` pixels (NaN = missing; S = the most annotations
    of one frame, slots in file order), confidence ``[T, S, 17]`` and what the file
    says: ``width``/``height`` (pixels, if any), ``scores`` ``[T, S]`` (the
    annotation's ``score``, else its number of visible joints; -inf for an empty
    slot) and, when every annotation has a ``track_id`` (PoseTrack style),
    ``track_ids`` ``[T, S]`` (-1 for an empty slot).
    """
    path = Path(path)
    data = _read_json(path)
    images: list[dict] | None = None
    if isinstance(data, dict):
        if not isinstance(data.get("annotations"), list):
            raise PoseliftError(f"{path}: a COCO JSON object must have an 'annotations' list")
        anns = data["annotations"]
        if isinstance(data.get("images"), list) and data["images"]:
            images = data["images"]
    elif isinstance(data, list):
        anns = data
    else:
        raise PoseliftError(f"{path}: expected a list of annotations or a COCO object with 'annotations'")
    rows = []
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict) or "image_id" not in ann or "keypoints" not in ann:
            raise PoseliftError(f"{path}: annotation {i} needs 'image_id' and 'keypoints' ([x, y, v] * 17)")
        if not _valid_id(ann["image_id"]):
            raise PoseliftError(f"{path}: annotation {i}: 'image_id' must be a number or a string, got {ann['image_id']!r:.40}")
        xyv = _xyv_triplets(ann["keypoints"], 17, f"{path}: annotation {i}")
        _check_magnitude(xyv, f"{path}: annotation {i}")
        track = ann.get("track_id")
        if track is not None and not (_whole_number(track) and int(track) >= 0):
            raise PoseliftError(f"{path}: annotation {i}: 'track_id' must be a whole number >= 0, got {track!r:.40}")
        rows.append((ann["image_id"], xyv, ann.get("score"), None if track is None else int(track)))
    if not rows and not images:
        raise PoseliftError(f"{path} has no annotations")
    third = np.concatenate([r[1][:, 2] for r in rows]) if rows else np.zeros(0)
    flags = bool(np.isin(third, (0.0, 1.0, 2.0)).all())
    meta: dict[str, Any] = {}
    # frame index of every image id
    if images is not None:
        if not all(isinstance(im, dict) and _valid_id(im.get("id")) for im in images):
            raise PoseliftError(f"{path}: every entry of 'images' must be an object with an 'id' (a number or a string)")
        ordered = sorted(images, key=lambda im: _natural_key(str(im["id"])))
        frame_of = {im["id"]: t for t, im in enumerate(ordered)}
        num_frames = len(ordered)
        w, h = ordered[0].get("width"), ordered[0].get("height")
        if _valid_size(w) and _valid_size(h) and all((im.get("width"), im.get("height")) == (w, h) for im in ordered):
            meta["width"], meta["height"] = int(w), int(h)
        unknown = {r[0] for r in rows} - set(frame_of)
        if unknown:
            raise PoseliftError(f"{path}: annotations refer to image ids not in 'images': {sorted(map(str, unknown))[:5]}")
    else:
        ids = list(dict.fromkeys(r[0] for r in rows))
        numbers = [_trailing_number(i) for i in ids]
        if all(n is not None for n in numbers):
            base = min(numbers)  # type: ignore[type-var]
            frame_of = {i: n - base for i, n in zip(ids, numbers)}  # type: ignore[operator]
            if len(set(frame_of.values())) != len(ids):
                raise PoseliftError(f"{path}: different image ids map to the same frame number")
            num_frames = max(frame_of.values()) + 1
            if num_frames > 10 * len(ids) + 1000:
                raise PoseliftError(f"{path}: image ids span {num_frames} frames but only {len(ids)} have annotations; are they frame numbers?")
        else:
            frame_of = {i: t for t, i in enumerate(sorted(ids, key=lambda x: _natural_key(str(x))))}
            num_frames = len(ids)
    per_frame = np.zeros(num_frames, dtype=np.int64)
    slot_of = []
    for image_id, *_ in rows:
        t = frame_of[image_id]
        slot_of.append(int(per_frame[t]))
        per_frame[t] += 1
    slots = max(1, int(per_frame.max()) if num_frames else 1)
    points = np.full((num_frames, slots, 17, 2), np.nan, dtype=np.float32)
    conf = np.zeros((num_frames, slots, 17), dtype=np.float32)
    scores = np.full((num_frames, slots), -np.inf)
    with_tracks = bool(rows) and all(r[3] is not None for r in rows)
    if rows and not with_tracks and any(r[3] is not None for r in rows):
        raise PoseliftError(f"{path}: only some annotations have a 'track_id'; give it to all of them or to none")
    track_ids = np.full((num_frames, slots), -1, dtype=np.int64)
    for (image_id, xyv, score, track), s in zip(rows, slot_of):
        t = frame_of[image_id]
        pts, c = _coco_confidence(xyv, flags)
        points[t, s], conf[t, s] = pts, c
        scores[t, s] = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else float((c > 0).sum())
        if with_tracks:
            track_ids[t, s] = track
    if with_tracks:
        for t in range(num_frames):
            ids = track_ids[t][track_ids[t] >= 0]
            if len(np.unique(ids)) != len(ids):
                raise PoseliftError(f"{path}: frame {t} has two annotations with the same 'track_id'")
        meta["track_ids"] = track_ids
    meta["scores"] = scores
    return points, conf, meta


def best_per_frame(points: np.ndarray, confidence: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest-scoring person of each frame: ``[T, S, J, 2]``, ``[T, S, J]`` and
    ``scores`` ``[T, S]`` (-inf = empty slot) → ``[T, J, 2]``, ``[T, J]``."""
    pick = np.argmax(scores, axis=1)
    rows = np.arange(points.shape[0])
    return points[rows, pick].copy(), confidence[rows, pick].copy()


def load_coco_json(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read a COCO-style keypoint JSON keeping one person per frame, the highest-scoring
    (format: module docstring; every person: :func:`load_coco_json_people`).

    Returns points ``[T, 17, 2]`` pixels (NaN = missing), confidence ``[T, 17]`` and
    what the file says about the video (``width``/``height`` in pixels, if any).
    """
    points, conf, meta = load_coco_json_people(path)
    points, conf = best_per_frame(points, conf, meta["scores"])
    return points, conf, {k: v for k, v in meta.items() if k in ("width", "height")}


def _openpose_person(person: Any, where: str) -> np.ndarray:
    if not isinstance(person, dict):
        raise PoseliftError(f"{where}: each entry of 'people' must be an object")
    values = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
    if values is None:
        raise PoseliftError(f"{where}: a person has no 'pose_keypoints_2d'")
    xyv = _xyv_triplets(values, (25, 18), where)
    return xyv[list(BODY25_TO_COCO17 if len(xyv) == 25 else COCO18_TO_COCO17)]


def load_openpose_folder_people(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read every person of an OpenPose JSON folder (format: module docstring) as COCO-17.

    Returns points ``[T, S, 17, 2]`` pixels (NaN = missing; S = the most people of one
    file, in file order), confidence ``[T, S, 17]`` and ``{"scores": [T, S]}`` (summed
    keypoint confidence, -inf for an empty slot).
    """
    path = Path(path)
    if not path.is_dir():
        raise PoseliftError(f"{path} is not a folder of OpenPose *_keypoints.json files")
    files = sorted(path.glob("*_keypoints.json"), key=lambda p: _natural_key(p.name))
    if not files:
        files = sorted(path.glob("*.json"), key=lambda p: _natural_key(p.name))
    if not files:
        raise PoseliftError(f"{path} contains no OpenPose *_keypoints.json files")
    frames: list[list[np.ndarray]] = []
    for f in files:
        data = _read_json(f)
        people = data.get("people") if isinstance(data, dict) else None
        if not isinstance(people, list):
            raise PoseliftError(f"{f}: not an OpenPose file (no 'people' list)")
        candidates = [_openpose_person(p, str(f)) for p in people]
        for xyv in candidates:
            _check_magnitude(xyv, str(f))
        frames.append(candidates)
    slots = max(1, max(len(c) for c in frames))
    points = np.full((len(files), slots, 17, 2), np.nan, dtype=np.float32)
    conf = np.zeros((len(files), slots, 17), dtype=np.float32)
    scores = np.full((len(files), slots), -np.inf)
    for t, candidates in enumerate(frames):
        for s, xyv in enumerate(candidates):
            missing = (xyv[:, 2] <= 0) | ((xyv[:, 0] == 0) & (xyv[:, 1] == 0))
            xyv = xyv.copy()
            xyv[missing, 2] = 0.0
            points[t, s], conf[t, s] = _coco_confidence(xyv, flags=False)
            scores[t, s] = float(np.nansum(xyv[:, 2]))
    return points, conf, {"scores": scores}


def load_openpose_folder(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read an OpenPose JSON folder keeping one person per file, the one with the highest
    summed confidence (format: module docstring; every person:
    :func:`load_openpose_folder_people`).

    Returns points ``[T, 17, 2]`` pixels (NaN = missing), confidence ``[T, 17]``, ``{}``.
    """
    points, conf, meta = load_openpose_folder_people(path)
    points, conf = best_per_frame(points, conf, meta["scores"])
    return points, conf, {}


def _npz_scalar(data: dict[str, np.ndarray], key: str, path: Path, kind: Callable[[Any], Any]) -> Any:
    if key not in data:
        return None
    arr = data[key]
    if arr.size != 1:
        raise PoseliftError(f"{path}: '{key}' must be a single value, got shape {list(arr.shape)}")
    value = arr.reshape(()).item()
    if kind is str:
        if not isinstance(value, str):
            raise PoseliftError(f"{path}: '{key}' must be a string, got {value!r:.50}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PoseliftError(f"{path}: '{key}' must be a number, got {value!r:.50}")
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        raise PoseliftError(f"{path}: '{key}' has an invalid value {value!r:.50}") from None


def _npz_float_array(data: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    arr = data[key]
    if arr.dtype.kind not in "fiub":
        raise PoseliftError(f"{path}: '{key}' must hold real numbers, got dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf and are reported
        return np.asarray(arr, dtype=np.float32)


def load_npz_keypoints(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read our keypoint ``.npz`` (format: module docstring).

    Returns points ``[T, J, 2]`` pixels, confidence ``[T, J]`` and the stored
    ``fps``/``width``/``height``/``layout`` (those present). Read with
    :func:`poselift.io.arrays.load_npz` (no pickles, array headers checked
    against the file size before anything is allocated).
    """
    path = Path(path)
    data = load_npz(path)
    if "keypoints_2d" not in data:
        raise PoseliftError(f"{path} has no 'keypoints_2d' array ([frames, joints, 2] pixels); keys: {', '.join(sorted(data))[:200]}")
    points = _npz_float_array(data, "keypoints_2d", path)
    if points.ndim != 3 or points.shape[2] != 2:
        raise PoseliftError(f"{path}: 'keypoints_2d' must be [frames, joints, 2] pixels, got {list(points.shape)}")
    if "confidence" in data:
        conf = _npz_float_array(data, "confidence", path)
        if conf.shape != points.shape[:2]:
            raise PoseliftError(f"{path}: 'confidence' must be shaped {list(points.shape[:2])}, got {list(conf.shape)}")
    else:
        conf = np.ones(points.shape[:2], dtype=np.float32)
    meta = {
        "fps": _npz_scalar(data, "fps", path, float),
        "width": _npz_scalar(data, "width", path, int),
        "height": _npz_scalar(data, "height", path, int),
        "layout": _npz_scalar(data, "layout", path, str),
    }
    layout = meta["layout"] or _layout_for_count(points.shape[1], path)
    meta["layout"] = layout
    if layout not in SUPPORTED_LAYOUTS:
        raise PoseliftError(f"{path}: layout {layout!r:.40} is not supported; use one of {', '.join(SUPPORTED_LAYOUTS)}")
    skel = get_skeleton(layout)
    if points.shape[1] != skel.num_joints:
        raise PoseliftError(f"{path}: layout {layout} has {skel.num_joints} joints but 'keypoints_2d' has {points.shape[1]}")
    return points, conf, {k: v for k, v in meta.items() if v is not None}


def _layout_for_count(num_joints: int, path: Path) -> str:
    if num_joints == COCO_17.num_joints:
        return "coco17"
    if num_joints == BLAZEPOSE_33.num_joints:
        return "blazepose33"
    raise PoseliftError(
        f"{path}: {num_joints} joints per frame; supported are 17 (coco17, or h36m17 with layout='h36m17') and 33 (blazepose33)"
    )


#: The columns of a keypoint CSV, in any order (``confidence`` may be left out).
CSV_COLUMNS = ("frame", "joint", "x", "y", "confidence")


def _csv_layout(joints: list[str], path: Path, line_of: dict[str, int]) -> tuple[str, dict[str, int]]:
    """Layout and joint → index map from the values of the ``joint`` column
    (``line_of``: the first line of each value, for the error messages)."""
    if all(re.fullmatch(r"\d+", j) for j in joints):
        idx = [int(j) for j in joints]
        layout = "coco17" if max(idx) < 17 else "blazepose33" if max(idx) < 33 else None
        if layout is None:
            worst = max(joints, key=int)
            raise PoseliftError(
                f"{path}: line {line_of[worst]}: joint index {int(worst)} is out of range (17 joints for coco17, 33 for blazepose33)"
            )
        return layout, {j: int(j) for j in joints}
    names = {j: FORMER_JOINT_NAMES.get(j, j) for j in joints}  # files written before a joint was renamed
    for skel in (COCO_17, H36M_17, BLAZEPOSE_33):
        if set(names.values()) <= set(skel.joint_names):
            return skel.name, {j: skel.joint_names.index(n) for j, n in names.items()}
    known = set(COCO_17.joint_names) | set(BLAZEPOSE_33.joint_names) | set(H36M_17.joint_names)
    unknown = sorted((j for j, n in names.items() if n not in known), key=lambda j: line_of[j])
    where = f" (first on line {line_of[unknown[0]]})" if unknown else ""
    raise PoseliftError(
        f"{path}: joint names {[n[:40] for n in unknown[:5]] or sorted(names)[:5]}{where} do not all belong to one layout "
        f"(coco17: {', '.join(COCO_17.joint_names[:3])}, ...; h36m17: {', '.join(H36M_17.joint_names[:3])}, ...)"
    )


def _csv_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and ``(line number, values)`` of every other record of a CSV file;
    blank lines (and rows of empty values) are skipped. Line numbers count from 1."""
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    line = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: a byte-order mark (Excel) is not part of 'frame'
            reader = csv.reader(f)
            for values in reader:
                first, line = line + 1, reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if header is None:
                    header = [v.strip() for v in values]
                else:
                    records.append((first, values))
    except UnicodeDecodeError:
        raise PoseliftError(f"{path} is not a UTF-8 text file") from None
    except csv.Error as exc:  # NUL bytes, a field over the csv module's size limit
        raise PoseliftError(f"{path}: line {line + 1}: not readable as CSV ({exc})") from None
    if header is None:
        raise PoseliftError(f"{path} is empty: expected a header line {','.join(CSV_COLUMNS)} and one row per frame and joint")
    return header, records


def _csv_header(header: list[str], path: Path) -> None:
    expected = f"frame,joint,x,y[,confidence] (in any order); got {','.join(header)[:100]}"
    missing = [c for c in CSV_COLUMNS[:4] if c not in header]
    if missing:
        raise PoseliftError(f"{path}: line 1: the header has no {', '.join(repr(c) for c in missing)} column; expected {expected}")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise PoseliftError(f"{path}: line 1: unknown column {unknown[0][:40]!r} in the header; expected {expected}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise PoseliftError(f"{path}: line 1: column {repeated[0]!r} appears twice in the header; expected {expected}")


def _csv_number(text: str, column: str, where: str) -> float | None:
    """A CSV value as a float; ``None`` when empty or ``nan`` (missing)."""
    text = text.strip()
    if not text or text.lower() in ("nan", "+nan", "-nan"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise PoseliftError(f"{where}: '{column}' is not a number: {text!r:.40}") from None
    if not math.isfinite(value):
        raise PoseliftError(f"{where}: '{column}' is {text[:40]}, not a finite number")
    return value


def load_csv_keypoints(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read the long-format CSV ``frame,joint,x,y[,confidence]`` (module docstring).

    Every malformed row is an error naming the file, the line (1-based, as an editor
    counts) and what is wrong: a different number of values than the header has
    columns, a ``frame`` that is not a whole number >= 0, an empty ``joint``, a value
    that is not a number, infinite or implausibly large, one of ``x``/``y`` missing
    without the other, a ``confidence`` outside ``[0, 1]``, a frame and joint given
    twice. Empty or ``nan`` ``x, y`` mark a missing joint; an empty ``confidence``
    means 1, ``nan`` means missing (0).

    Returns points ``[T, J, 2]`` pixels (NaN = missing), confidence ``[T, J]`` and ``{"layout": ...}``.
    """
    path = Path(path)
    header, records = _csv_records(path)
    _csv_header(header, path)
    if not records:
        raise PoseliftError(f"{path} has a header but no rows (one row per frame and joint: {','.join(header)})")
    col = {name: header.index(name) for name in header}
    rows: list[tuple[int, int, str, float | None, float | None, float]] = []  # line, frame, joint, x, y, confidence
    for line, values in records:
        where = f"{path}: line {line}"
        if len(values) != len(header):
            if len(values) > len(header):
                problem = f"{len(values) - len(header)} more than the header's {len(header)} columns ({','.join(header)})"
            else:
                problem = f"no value for {', '.join(repr(c) for c in header[len(values):])} (header: {','.join(header)})"
            raise PoseliftError(f"{where}: {len(values)} values, {problem}")
        frame_text = values[col["frame"]].strip()
        if not frame_text:
            raise PoseliftError(f"{where}: 'frame' is empty (every row needs a frame number, counted from 0)")
        try:
            frame = float(frame_text)
        except ValueError:
            raise PoseliftError(f"{where}: 'frame' is not a number: {frame_text!r:.40}") from None
        if not (math.isfinite(frame) and frame.is_integer()):
            raise PoseliftError(f"{where}: 'frame' must be a whole number (frames count from 0), got {frame_text!r:.40}")
        if frame < 0:
            raise PoseliftError(f"{where}: 'frame' is negative ({frame_text[:40]}); frames count from 0")
        joint = values[col["joint"]].strip()
        if not joint:
            raise PoseliftError(f"{where}: 'joint' is empty (a name like left_knee or a 0-based index)")
        x = _csv_number(values[col["x"]], "x", where)
        y = _csv_number(values[col["y"]], "y", where)
        if (x is None) != (y is None):
            given, empty = ("x", "y") if y is None else ("y", "x")
            raise PoseliftError(
                f"{where}: '{given}' is given but '{empty}' is empty or nan; give both, or neither for a missing joint"
            )
        for name, value in (("x", x), ("y", y)):
            if value is not None and abs(value) > MAX_PIXEL_COORDINATE:
                raise PoseliftError(f"{where}: '{name}' is {value:.3g} pixels, implausible for any image")
        conf = 1.0
        if "confidence" in col:
            text = values[col["confidence"]].strip()
            if text:
                try:
                    conf = float(text)
                except ValueError:
                    raise PoseliftError(f"{where}: 'confidence' is not a number: {text!r:.40}") from None
                if math.isnan(conf):
                    conf = 0.0  # NaN = missing, as in the other formats
                elif not 0.0 <= conf <= 1.0:
                    raise PoseliftError(f"{where}: 'confidence' must be in [0, 1] (empty = 1, nan = missing), got {text[:40]}")
        rows.append((line, int(frame), joint, x, y, conf))

    frames = [r[1] for r in rows]
    distinct = len(set(frames))
    if max(frames) + 1 > 10 * distinct + 1000:
        raise PoseliftError(
            f"{path}: 'frame' values span {max(frames) + 1} frames but only {distinct} frames have rows; "
            "'frame' must count video frames from 0"
        )
    line_of: dict[str, int] = {}
    for line, _, joint, *_ in rows:
        line_of.setdefault(joint, line)
    layout, index = _csv_layout(sorted(line_of), path, line_of)
    nj = get_skeleton(layout).num_joints
    first_line: dict[tuple[int, int], int] = {}
    for line, t, joint, *_ in rows:
        key = (t, index[joint])
        if key in first_line:
            raise PoseliftError(
                f"{path}: line {line} repeats frame {t}, joint {joint!r:.40} (first on line {first_line[key]}); "
                "each frame and joint may appear once"
            )
        first_line[key] = line
    points = np.full((max(frames) + 1, nj, 2), np.nan, dtype=np.float32)
    conf_out = np.zeros((max(frames) + 1, nj), dtype=np.float32)
    for _, t, joint, x, y, c in rows:
        if x is not None and y is not None:
            points[t, index[joint]] = (x, y)
            conf_out[t, index[joint]] = c
    return points, conf_out, {"layout": layout}


def detect_keypoints_format(path: str | Path) -> str:
    """Guess the keypoint format from the path: folder → openpose, ``.json`` →
    coco-json, ``.npz`` → npz, ``.csv`` → csv; anything else is not a keypoint file."""
    path = Path(path)
    if path.is_dir():
        return "openpose"
    suffix = path.suffix.lower()
    return {".json": "coco-json", ".npz": "npz", ".csv": "csv"}.get(suffix, "")


def _check_keypoint_path(path: Path, fmt: str) -> str:
    """The format of ``path`` (``fmt``, or guessed when ``"auto"``), after checking that
    the path exists, the format is known and a one-file format is a non-empty file."""
    if not path.exists():
        raise PoseliftError(f"keypoint input {path} does not exist")
    if fmt == "auto":
        fmt = detect_keypoints_format(path)
        if not fmt:
            raise PoseliftError(f"cannot tell the keypoint format of {path}; pass `keypoints_format` ({', '.join(KEYPOINT_FORMATS)})")
    if fmt not in KEYPOINT_FORMATS:
        raise PoseliftError(f"unknown keypoint format {fmt!r}; use one of auto, {', '.join(KEYPOINT_FORMATS)}")
    if fmt != "openpose" and not path.is_file():
        raise PoseliftError(f"{path} is not a file ({fmt} keypoints are one file)")
    if path.is_file() and path.stat().st_size == 0:
        raise PoseliftError(f"keypoint file {path} is empty (0 bytes)")
    return fmt


def _video_properties(path: Path, meta: dict[str, Any], *, width: int | None, height: int | None, fps: float | None) -> dict[str, Any]:
    """Image width/height (pixels) and frame rate (frames/s): given, else what the file says."""
    chosen: dict[str, Any] = {}
    for key, given in (("width", width), ("height", height), ("fps", fps)):
        value = given if given is not None else meta.get(key)
        if value is None:
            raise PoseliftError(
                f"{path} does not say its {'frame rate' if key == 'fps' else 'image ' + key}; pass `{key}` "
                f"({'frames per second' if key == 'fps' else 'pixels'})"
            )
        chosen[key] = value
    return chosen


def load_keypoints(
    path: str | Path,
    fmt: str = "auto",
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> Keypoints2D:
    """Import a keypoint file or folder as :class:`Keypoints2D`.

    ``width``/``height`` (pixels) and ``fps`` (frames/s) override what the file says;
    they are required when the file does not carry them.
    """
    path = Path(path)
    fmt = _check_keypoint_path(path, fmt)
    loaders = {"coco-json": load_coco_json, "openpose": load_openpose_folder, "npz": load_npz_keypoints, "csv": load_csv_keypoints}
    points, conf, meta = loaders[fmt](path)
    layout = meta.get("layout", "coco17")
    chosen = _video_properties(path, meta, width=width, height=height, fps=fps)
    try:
        return Keypoints2D(points, conf, layout, float(chosen["fps"]), int(chosen["width"]), int(chosen["height"]))
    except PoseliftError as exc:
        raise PoseliftError(f"{path}: {exc}") from None


def load_people_keypoints(
    path: str | Path,
    fmt: str = "auto",
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> PeopleKeypoints2D:
    """Import every person of a keypoint file or folder as :class:`PeopleKeypoints2D`.

    COCO JSON and OpenPose folders keep every annotation of a frame (COCO ``track_id``
    values become ``track_ids``); the single-person formats (npz, csv) give one person
    with identity 1. ``width``/``height``/``fps``: as :func:`load_keypoints`.
    """
    path = Path(path)
    if fmt == "auto" and path.exists():
        fmt = detect_keypoints_format(path) or fmt
    if fmt not in ("coco-json", "openpose"):
        return PeopleKeypoints2D.from_single(load_keypoints(path, fmt, width=width, height=height, fps=fps))
    _check_keypoint_path(path, fmt)
    loader = load_coco_json_people if fmt == "coco-json" else load_openpose_folder_people
    points, conf, meta = loader(path)
    chosen = _video_properties(path, meta, width=width, height=height, fps=fps)
    try:
        return PeopleKeypoints2D(points, conf, "coco17", float(chosen["fps"]), int(chosen["width"]), int(chosen["height"]),
                                 track_ids=meta.get("track_ids"))
    except PoseliftError as exc:
        raise PoseliftError(f"{path}: {exc}") from None
