"""Which way is up: the vertical estimated from the lifted poses themselves.

A video does not say how its camera was tilted. People mostly stand, walk and sit
upright, so their bodies say it: over a clip, the direction from the feet to the hips
of a straight leg and the direction from the hips to the thorax point up on average.
:func:`estimate_up` averages both over the frames where they are informative (a leg
counts only while it is nearly straight), and :func:`level_rotation` turns the result
into the rotation of a z-up world seen by the camera, the ``camera_rotation`` (``R``,
``X_cam = R · X_world``) that the renderer, the BVH/TRC writers and the angles take.

Joints are H36M-17 (``poselift.geometry.skeleton.H36M_17``), metres, camera frame
(x right, y down, z forward), ``[T, 17, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.errors import PoseliftError

_HIP, _THORAX = 0, 8
_LEGS = ((1, 2, 3), (4, 5, 6))  # (hip, knee, foot): right, left
#: A leg counts as straight (its hip→foot direction a vertical cue) while its knee is
#: bent less than this, degrees.
STRAIGHT_KNEE_DEG = 20.0
#: The estimate is trusted when at least this fraction of the frames has a straight leg
#: (someone mostly seated or crouching gives no reliable cue; the level camera is kept).
MIN_STANDING_FRACTION = 0.25
#: The camera's up direction in its own frame (y points down).
CAMERA_UP = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class UpEstimate:
    """The estimated vertical: ``up`` (unit vector, camera frame), the camera's tilt it
    implies (``pitch_deg``: positive when the camera looks down; ``roll_deg``: positive
    when the camera is rolled clockwise, as seen from behind it), and what it rests
    on (frames with a straight leg, frames in all)."""

    up: np.ndarray
    pitch_deg: float
    roll_deg: float
    straight_leg_frames: int
    frames: int

    @property
    def reliable(self) -> bool:
        """Enough standing frames (:data:`MIN_STANDING_FRACTION`) to trust ``up``."""
        return self.frames > 0 and self.straight_leg_frames >= MIN_STANDING_FRACTION * self.frames

    def up_or_level(self) -> np.ndarray:
        """``up`` when :attr:`reliable`, else the camera's own up (a level camera)."""
        return self.up if self.reliable else CAMERA_UP.copy()


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-9, v / n, np.nan)


def estimate_up(joints_3d: np.ndarray) -> UpEstimate:
    """The vertical of a clip, from its H36M-17 poses ``[T, 17, 3]`` (camera frame).

    Cues, each a unit vector per frame: the trunk (hip centre → thorax), and each leg's
    foot → hip while its knee is bent less than :data:`STRAIGHT_KNEE_DEG`. Their mean
    over the clip (legs and trunk weighted equally) is the estimate; the trunk counts
    only in frames with a straight leg (a seated or bent trunk is no cue). Frames with
    NaN joints are skipped. See :attr:`UpEstimate.reliable` before trusting it."""
    x = np.asarray(joints_3d, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 3):
        raise PoseliftError(f"`joints_3d` must be H36M-17 poses shaped [T, 17, 3], got {list(x.shape)}")
    trunk = _unit(x[:, _THORAX] - x[:, _HIP])
    legs, standing = [], np.zeros(len(x), dtype=bool)
    for hip, knee, foot in _LEGS:
        thigh, shank = _unit(x[:, knee] - x[:, hip]), _unit(x[:, foot] - x[:, knee])
        bend = np.degrees(np.arccos(np.clip(np.sum(thigh * shank, axis=-1), -1.0, 1.0)))
        keep = np.isfinite(bend) & (bend < STRAIGHT_KNEE_DEG)
        standing |= keep
        legs.append(_unit(x[keep, hip] - x[keep, foot]))
    leg_dirs = np.concatenate(legs)
    straight = int(standing.sum())
    trunk = trunk[standing & np.isfinite(trunk).all(-1)]  # the trunk of a seated or bent person is no cue
    cues = [c.mean(axis=0) for c in (trunk, leg_dirs) if len(c)]
    if not cues:  # nobody standing in any frame: no cue at all
        return UpEstimate(CAMERA_UP.copy(), 0.0, 0.0, 0, len(x))
    up = _unit(np.mean(cues, axis=0))
    pitch = float(np.degrees(np.arcsin(np.clip(-up[2], -1.0, 1.0))))  # up leaning away from the camera: looking down
    roll = float(np.degrees(np.arctan2(up[0], -up[1])))
    return UpEstimate(up, pitch, roll, straight, len(x))


#: The floor: this percentile over the frames of the lower foot's height (a few frames of
#: a foot sinking through a wrong depth do not pull it down).
FLOOR_PERCENTILE = 5.0
_FEET = (3, 6)  # RFoot, LFoot of H36M-17


def floor_below_camera(joints_3d: np.ndarray, trajectory: np.ndarray, up: np.ndarray) -> float | None:
    """How far the floor is below the camera along ``up`` (metres): the
    :data:`FLOOR_PERCENTILE`-th percentile over the frames of the lower foot's height.
    ``joints_3d`` ``[T, 17, 3]`` root-relative and ``trajectory`` ``[T, 3]`` (the root),
    camera frame, metres; ``None`` when no frame has finite feet."""
    heights = (np.asarray(joints_3d, float)[:, _FEET] + np.asarray(trajectory, float)[:, None]) @ _unit(np.asarray(up, float))
    lowest = heights.min(axis=1)
    lowest = lowest[np.isfinite(lowest)]
    return float(-np.percentile(lowest, FLOOR_PERCENTILE)) if len(lowest) else None


def level_rotation(up: np.ndarray) -> np.ndarray:
    """``R`` (``X_cam = R · X_world``) of a z-up world whose vertical is ``up`` (a unit
    vector in the camera frame) and whose y axis is the camera's viewing direction made
    horizontal; for ``up`` = the camera's own up it is the level camera's rotation."""
    z = _unit(np.asarray(up, dtype=np.float64))
    if not np.isfinite(z).all():
        raise PoseliftError(f"`up` must be a finite non-zero 3-vector, got {up!r:.60}")
    forward = np.array([0.0, 0.0, 1.0])
    y = forward - forward.dot(z) * z
    if np.linalg.norm(y) < 1e-6:
        raise PoseliftError("the vertical points along the viewing direction: no horizontal heading to keep")
    y = _unit(y)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)  # columns: the world axes in camera coordinates


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two 3-vectors, degrees."""
    a, b = _unit(np.asarray(a, float)), _unit(np.asarray(b, float))
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))))
