"""A multi-view 3D reference: the triangulated poses of the people of a scene filmed by
calibrated cameras (the layout of ``../shared/data/multiview/multiperson.npz``), read
without pickles and checked key by key.

The file holds ``points3d`` ``[P, F, 33, 3]`` (metres, BlazePose-33 order, NaN where
unreliable), ``person_names`` ``[P]``, an optional ``fps`` and, per camera ``i``, the
reference's own 2D detections of each person ``kp2d_cam{i}`` ``[P, F, 33, 2|3]`` (x px,
y px[, visibility]) and/or its calibration ``K_cam{i}`` 3×3, ``R_cam{i}`` 3×3, ``t_cam{i}``
3 (OpenCV: ``x_cam = R @ X + t``), optional ``dist_cam{i}`` (k1, k2, p1, p2[, k3]), and
``frame_index_cam{i}`` ``[F]`` (the video frame of each row; default the row itself).
The videos are ``cam{i:02d}.mp4`` beside the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.io.arrays import load_npz

#: The reference file's name inside a reference folder.
REFERENCE_FILE = "multiperson.npz"
_CAMERA_KEY = re.compile(r"^(?:kp2d|K|R|t)_cam(\d+)$")


@dataclass(frozen=True, eq=False)
class ReferenceCamera:
    """One camera of the reference: its 2D detections of each person and/or its calibration."""

    index: int  # i of the ``*_cam{i}`` keys
    frame_index: np.ndarray  # [F] video frame of each reference row
    keypoints_2d: np.ndarray | None = None  # [P, F, 33, 2] px (the reference's own detections)
    K: np.ndarray | None = None  # [3, 3]
    R: np.ndarray | None = None  # [3, 3]
    t: np.ndarray | None = None  # [3]
    dist: np.ndarray | None = None  # [4] or [5]: k1, k2, p1, p2[, k3] (OpenCV)

    @property
    def name(self) -> str:
        return f"cam{self.index:02d}"

    @property
    def calibrated(self) -> bool:
        return self.K is not None


@dataclass(frozen=True, eq=False)
class MultiviewReference:
    """The content of a reference file (:func:`load_multiview_reference`)."""

    path: Path  # the .npz
    names: tuple[str, ...]  # [P] person names
    points3d: np.ndarray  # [P, F, 33, 3] metres, NaN where unreliable
    fps: float | None
    cameras: dict[int, ReferenceCamera]  # by camera index i, ascending

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def num_frames(self) -> int:
        return int(self.points3d.shape[1])

    def video(self, camera: int) -> Path:
        """The video of camera ``camera``: ``cam{i:02d}.mp4`` beside the reference file."""
        return self.folder / f"cam{camera:02d}.mp4"


def _numeric(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype.kind not in "fiu":
        raise PoseliftError(f"{where}: expected a numeric array, got dtype {array.dtype}")
    return array.astype(np.float64)


def _shaped(arrays: dict[str, np.ndarray], key: str, shape: tuple[int | None, ...], path: Path, what: str) -> np.ndarray:
    """``arrays[key]`` as float64, checked against ``shape`` (None: any size)."""
    array = arrays[key]
    where = f"{path}: '{key}'"
    if array.ndim != len(shape) or any(s is not None and n != s for n, s in zip(array.shape, shape)):
        wanted = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise PoseliftError(f"{where} must be {what} {wanted}, got shape {list(array.shape)}")
    return _numeric(array, where)


def _camera(arrays: dict[str, np.ndarray], i: int, people: int, frames: int, path: Path) -> ReferenceCamera:
    def key(name: str) -> str:
        return f"{name}_cam{i}"

    kp2d = None
    if key("kp2d") in arrays:
        array = arrays[key("kp2d")]
        if array.ndim != 4 or array.shape[:3] != (people, frames, 33) or array.shape[3] not in (2, 3):
            raise PoseliftError(
                f"{path}: '{key('kp2d')}' must be [people, frames, 33, 2 or 3] = [{people}, {frames}, 33, 3] like "
                f"'points3d', got shape {list(array.shape)}"
            )
        kp2d = _numeric(array, f"{path}: '{key('kp2d')}'")[..., :2]
    calibration = [key(n) for n in ("K", "R", "t")]
    present = [k for k in calibration if k in arrays]
    K = R = t = dist = None
    if present and len(present) < 3:
        missing = ", ".join(f"'{k}'" for k in calibration if k not in arrays)
        raise PoseliftError(f"{path}: camera {i} has {', '.join(repr(k) for k in present)} but no {missing} (a calibration needs all three)")
    if present:
        K = _shaped(arrays, key("K"), (3, 3), path, "a camera matrix")
        R = _shaped(arrays, key("R"), (3, 3), path, "a rotation")
        t = _numeric(arrays[key("t")], f"{path}: '{key('t')}'").reshape(-1)
        if t.shape != (3,):
            raise PoseliftError(f"{path}: '{key('t')}' must be a translation [3], got shape {list(arrays[key('t')].shape)}")
        if key("dist") in arrays:
            dist = _numeric(arrays[key("dist")], f"{path}: '{key('dist')}'").reshape(-1)
            if dist.shape[0] not in (4, 5):
                raise PoseliftError(f"{path}: '{key('dist')}' must be [4] (k1, k2, p1, p2) or [5] (… k3), got shape "
                                    f"{list(arrays[key('dist')].shape)}")
        for name, value in (("K", K), ("R", R), ("t", t), ("dist", dist)):
            if value is not None and not np.isfinite(value).all():
                raise PoseliftError(f"{path}: '{key(name)}' holds NaN or inf")
    frame_index = np.arange(frames, dtype=np.int64)
    if key("frame_index") in arrays:
        array = arrays[key("frame_index")]
        if array.shape != (frames,) or array.dtype.kind not in "iu":
            raise PoseliftError(f"{path}: '{key('frame_index')}' must be [{frames}] whole video frame numbers (one per "
                                f"row of 'points3d'), got {array.dtype} {list(array.shape)}")
        frame_index = array.astype(np.int64)
    return ReferenceCamera(index=i, frame_index=frame_index, keypoints_2d=kp2d, K=K, R=R, t=t, dist=dist)


def load_multiview_reference(path: str | Path) -> MultiviewReference:
    """Read and check a reference file (or the :data:`REFERENCE_FILE` of a folder).

    Every problem is one :class:`PoseliftError` naming the file and the key: no
    ``points3d`` or a wrong shape, no ``person_names`` (one per person), a camera with
    half a calibration or detections of the wrong shape, no camera at all."""
    path = Path(path)
    if path.is_dir():
        path = path / REFERENCE_FILE
        if not path.is_file():
            raise PoseliftError(f"no reference {REFERENCE_FILE} in {path.parent}")
    elif not path.exists():
        raise PoseliftError(f"{path} does not exist (expected a folder with {REFERENCE_FILE} and the camXX.mp4 videos)")
    arrays = load_npz(path)
    if "points3d" not in arrays:
        raise PoseliftError(f"{path} has no 'points3d' (the reference: [people, frames, 33, 3] metres); keys: "
                            f"{', '.join(sorted(arrays)[:12]) or 'none'}")
    points = arrays["points3d"]
    if points.ndim != 4 or points.shape[2:] != (33, 3) or 0 in points.shape[:2]:
        raise PoseliftError(f"{path}: 'points3d' must be [people, frames, 33, 3] (BlazePose-33, metres), got shape "
                            f"{list(points.shape)}")
    points = _numeric(points, f"{path}: 'points3d'")
    people, frames = points.shape[:2]
    if "person_names" not in arrays:
        raise PoseliftError(f"{path} has no 'person_names' (one name per person of 'points3d')")
    names = arrays["person_names"]
    if names.shape != (people,) or names.dtype.kind not in "US":
        raise PoseliftError(f"{path}: 'person_names' must be {people} strings (one per person of 'points3d'), got "
                            f"{names.dtype} {list(names.shape)}")
    fps = None
    if "fps" in arrays:
        value = arrays["fps"]
        if value.size != 1 or value.dtype.kind not in "fiu" or not (np.isfinite(value).all() and float(value.reshape(-1)[0]) > 0):
            raise PoseliftError(f"{path}: 'fps' must be one positive number of frames per second, got {value.reshape(-1)[:3]}")
        fps = float(value.reshape(-1)[0])
    indices = sorted({int(m.group(1)) for k in arrays if (m := _CAMERA_KEY.match(k))})
    cameras = {i: _camera(arrays, i, people, frames, path) for i in indices}
    cameras = {i: c for i, c in cameras.items() if c.keypoints_2d is not None or c.calibrated}
    if not cameras:
        raise PoseliftError(f"{path} has no camera: neither 'kp2d_cam{{i}}' (2D detections) nor 'K_cam{{i}}', 'R_cam{{i}}', "
                            f"'t_cam{{i}}' (a calibration) for any i")
    return MultiviewReference(path=path, names=tuple(str(n) for n in names), points3d=points, fps=fps, cameras=cameras)
