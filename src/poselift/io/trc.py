"""TRC marker files (OpenSim's ``.trc``, from Motion Analysis' Track Row Column format).

``write_trc`` turns a ``[T, J, 3]`` joint sequence into a marker file that OpenSim's
Scale and Inverse Kinematics tools read (and Mokka, Pose2Sim, ...): one marker per
joint, named after the skeleton's joints (H36M-17: ``Hip``, ``RHip``, ``RKnee``, ...,
``NeckNose``, ``Head``).

Layout (tab-separated, ``\\n`` line ends; as OpenSim's ``TRCFileAdapter`` writes it, less its trailing tabs)::

    PathFileType  4  (X/Y/Z)  poses.trc
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    25  25  230  17  m  25  1  230
    Frame#  Time  Hip  ''  ''  RHip  ''  ''  ...
    ''  ''  X1  Y1  Z1  X2  Y2  Z2  ...
    (an empty line)
    1  0.000000  x  y  z  ...

Frame numbers start at 1, ``Time`` (seconds) at 0: frame ``n`` is at ``(n - 1) / fps``.
Coordinates carry 6 decimals in metres and 3 in millimetres (1 µm either way).

Coordinate frame
----------------
TRC files carry no frame, so it is stated here (and logged when a file is written):
OpenSim expects **Y up**. poselift's poses are in the camera frame (x right, y down,
z forward, metres); the file holds them rotated by 180° about the camera's x axis,
``(x, y, z) → (x, -y, -z)``: **X = the camera's right, Y = the camera's up, Z = towards
the camera**. That is a proper rotation (determinant +1), so the frame stays
right-handed (X × Y = Z), and a person facing the camera faces +Z. It is the frame of
the BVH export (:func:`poselift.io.bvh.camera_to_bvh`). "Up" is the camera's up: the
floor is level in the file only when the camera was level (no gravity frame yet).

* Without ``root_positions`` the markers are **root-relative**: the root joint (Hip)
  stays at the origin and the figure moves in place.
* With ``root_positions`` (``[T, 3]`` metres, camera frame: the trajectory of
  ``poselift infer``) they are **absolute**, the camera at the origin: the subject stands
  ``depth`` metres away along -Z, and the floor lies the camera's height below Y = 0.
* With ``camera_rotation`` (``R_world_to_cam`` of a z-up world, e.g. Human3.6M's
  cameras) the points are first taken to that world (``Rᵀ Xc``) and then to Y up
  (``(x, z, -y)``): the floor is level whatever the camera's tilt.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_rate
from poselift.geometry.skeleton import H36M_17, Skeleton
from poselift.io.atomic import atomic_write

log = logging.getLogger("poselift.io.trc")

#: File units → metres-to-unit factor.
TRC_UNITS = {"m": 1.0, "mm": 1000.0}
#: Decimals of a coordinate in each unit (1 µm).
DECIMALS = {"m": 6, "mm": 3}
HEADER_KEYS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate", "OrigDataStartFrame", "OrigNumFrames")
#: Frames formatted at a time: the memory stays bounded for long sequences.
BLOCK_FRAMES = 4096
#: The frame of the file, as logged.
FRAME_NOTE = "Y up: X = camera right, Y = camera up, Z = towards the camera (camera frame rotated 180° about x)"


def check_units(units: object, name: str = "units") -> str:
    """``units`` if it is a TRC unit (``"m"`` or ``"mm"``), else a :class:`PoseliftError`
    naming the argument ``name``."""
    if not (isinstance(units, str) and units in TRC_UNITS):
        raise PoseliftError(f"`{name}` must be one of {', '.join(repr(u) for u in TRC_UNITS)}, got {units!r:.40}")
    return units


def camera_to_y_up(points: np.ndarray, camera_rotation: np.ndarray | None = None) -> np.ndarray:
    """Camera-frame metres ``[..., 3]`` → the Y-up frame of the file (metres; see the
    module docstring): ``(x, -y, -z)``, or with ``camera_rotation`` (``R_world_to_cam``
    of a z-up world) the world point ``Rᵀ Xc`` as ``(x, z, -y)``."""
    p = np.asarray(points, dtype=np.float64)
    if camera_rotation is None:
        return p * np.array([1.0, -1.0, -1.0])
    world = p @ np.asarray(camera_rotation, dtype=np.float64)  # Rᵀ Xc, z up
    return np.stack([world[..., 0], world[..., 2], -world[..., 1]], -1)


def marker_positions(
    joints_3d: np.ndarray,
    skeleton: Skeleton = H36M_17,
    *,
    root_positions: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
    what: str = "TRC export",
) -> np.ndarray:
    """The checked marker positions ``[T, J, 3]`` in metres, Y-up frame (module
    docstring): ``joints_3d`` plus ``root_positions`` when given, rotated."""
    pose = np.asarray(joints_3d, dtype=np.float64)
    j = skeleton.num_joints
    if pose.ndim != 3 or pose.shape[1:] != (j, 3) or pose.shape[0] < 1:
        raise PoseliftError(f"{what}: `joints_3d` must be shaped [T, {j}, 3] for skeleton {skeleton.name} (T >= 1), got {list(pose.shape)}")
    if not np.isfinite(pose).all():
        raise PoseliftError(f"{what}: `joints_3d` contains NaN/inf (fill or interpolate missing joints first)")
    if root_positions is not None:
        traj = np.asarray(root_positions, dtype=np.float64)
        if traj.shape != (pose.shape[0], 3):
            raise PoseliftError(f"{what}: `root_positions` must be shaped [{pose.shape[0]}, 3], got {list(traj.shape)}")
        if not np.isfinite(traj).all():
            raise PoseliftError(f"{what}: `root_positions` contains NaN/inf")
        pose = pose + traj[:, None, :]
    if camera_rotation is not None:
        camera_rotation = np.asarray(camera_rotation, dtype=np.float64)
        if camera_rotation.shape != (3, 3) or not np.isfinite(camera_rotation).all():
            raise PoseliftError(f"{what}: `camera_rotation` must be a finite 3x3 matrix, got shape {list(camera_rotation.shape)}")
    return camera_to_y_up(pose, camera_rotation)


def _number(value: float) -> str:
    """A rate as written in the header: whole numbers without decimals, others exact."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.10g}"


def _header_name(path: Path) -> str:
    """The file name on line 1 (tabs and line breaks would break the header)."""
    return "".join("_" if ch in "\t\r\n" else ch for ch in path.name)


def write_trc(
    path: str | Path,
    joints_3d: np.ndarray,
    skeleton: Skeleton = H36M_17,
    fps: float = 50.0,
    *,
    units: str = "m",
    root_positions: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
) -> Path:
    """Write ``joints_3d`` ``[T, J, 3]`` (metres, camera frame) as a TRC marker file, atomically.

    One marker per joint of ``skeleton``, named after it; ``fps``: frames per second
    (``Time`` = ``(Frame# - 1) / fps``); ``units``: ``"m"`` (default) or ``"mm"``.
    ``root_positions`` ``[T, 3]`` (metres, camera frame) is added to every joint (absolute
    positions, e.g. ``poselift infer``'s trajectory); without it the file is root-relative.
    ``camera_rotation``: optional ``R_world_to_cam`` of a z-up world, so the file is
    upright for a tilted camera. The file's frame is **Y up, right-handed**: camera
    ``(x, y, z)`` → ``(x, -y, -z)`` (module docstring). Returns ``path``.
    """
    path = Path(path)
    units = check_units(units)
    rate = check_frame_rate(fps, "fps")
    markers = marker_positions(joints_3d, skeleton, root_positions=root_positions, camera_rotation=camera_rotation)
    num_frames, num_markers = markers.shape[:2]
    decimals = DECIMALS[units]
    values = markers.reshape(num_frames, num_markers * 3) * TRC_UNITS[units]
    values = np.round(values, decimals) + 0.0  # no "-0.000000"
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{_header_name(path)}",
        "\t".join(HEADER_KEYS),
        "\t".join([_number(rate), _number(rate), str(num_frames), str(num_markers), units, _number(rate), "1", str(num_frames)]),
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in skeleton.joint_names),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, num_markers + 1)),
        "",
    ]
    row = "%d\t%.6f" + f"\t%.{decimals}f" * (num_markers * 3) + "\n"
    with atomic_write(path, "w") as f:
        f.write("\n".join(header) + "\n")
        for start in range(0, num_frames, BLOCK_FRAMES):
            stop = min(num_frames, start + BLOCK_FRAMES)
            block = values[start:stop].tolist()
            f.write("".join(row % (n + 1, n / rate, *xyz) for n, xyz in zip(range(start, stop), block)))
    log.info(
        "wrote %s: %d frames, %d markers in %s, %s; %s", path.name, num_frames, num_markers, units,
        "absolute (root trajectory added)" if root_positions is not None else "root-relative",
        FRAME_NOTE if camera_rotation is None else "Y up: the camera's z-up world turned to Y up (x, z, -y)",
    )
    return path

