"""Joint and segment angles from Human3.6M-17 3D poses, in degrees.

Every function takes poses ``[T, 17, 3]`` (H36M-17 joint order, see
:data:`H36M17_JOINTS`; metres or any unit, camera frame x right / y down / z forward
or any right-handed frame) and returns ``[T]`` degrees, vectorised over frames. A
frame with a NaN joint that an angle needs gives NaN for that angle (and only that
one); so does a degenerate frame (a zero-length segment, or a segment that the
definition projects onto a plane it is nearly perpendicular to, see
:data:`MIN_IN_PLANE`).

Conventions
-----------
The definitions follow Sports2D's (``angle_dict`` in Sports2D/Pose2Sim: joint angles
"right knee", "right hip", ...; segment angles "right thigh", ... anticlockwise from
the horizontal) computed in 3D, with ISB signs (flexion positive):

* **Body frame** (per frame): mediolateral axis ``m`` = unit(RHip − LHip) (the
  subject's right); superior axis ``s`` = the trunk Hip → Thorax made orthogonal to
  ``m``; anterior axis ``a = s × m`` (ISB pelvis axes X anterior, Y superior, Z
  right). The sagittal plane is spanned by ``a`` and ``s``. H36M-17 hip joints are
  collinear with the hip centre, so the pelvis has no measurable tilt: the trunk
  stands in for the pelvis as the proximal segment of the hip (as in Sports2D, whose
  hip angle is "between knee, hip and shoulder"), not the ISB pelvis.
* **Joint angles** (0 = the two segments aligned):

  - knee flexion: angle between the thigh (hip → knee) and the shank (knee → foot),
    unsigned 3D, ``[0, 180]``; hyperextension reads as a small positive value;
  - elbow flexion: angle between upper arm (shoulder → elbow) and forearm
    (elbow → wrist), unsigned 3D, ``[0, 180]``;
  - hip flexion: the thigh (hip → knee) projected onto the sagittal plane, angle
    from the trunk's downward direction ``−s``, positive towards anterior
    (flexion), negative behind (extension), ``(−180, 180]``;
  - shoulder flexion: the same with the upper arm (shoulder → elbow): 0 hanging
    along the trunk, 90 forward and horizontal to the trunk, 180 overhead, negative
    behind the trunk;
  - shoulder elevation: unsigned 3D angle between the upper arm and ``−s``
    (the "elevation" of ISB's humerus-thorax Y-X-Y sequence, whatever the plane):
    0 hanging, 90 raised to the horizontal of the trunk, 180 overhead;
  - trunk flexion: the trunk (Hip → Thorax) projected onto the vertical plane
    through the subject's forward direction, angle from the vertical ``up``,
    positive leaning forward.

* **Segment angles** (Sports2D's: "anticlockwise between the horizontal and the
  segment", seen from the subject's side with the subject facing right): the
  segment (proximal → distal; trunk Hip → Thorax) projected onto the vertical plane
  through the subject's horizontal forward direction ``f = unit(up × m)``, angle
  ``atan2(d · up, d · f)``, ``(−180, 180]``: 0 horizontal pointing forward, +90 up,
  −90 down, ±180 horizontal pointing backward. Standing: thigh and shank −90,
  trunk +90.

* **The vertical**. Trunk flexion and segment angles need the direction of gravity,
  ``up`` (a vector in the poses' frame pointing up). When it is not given, the
  camera's up direction ``(0, −1, 0)`` (−y: image up) is used: the angles are then
  relative to the camera, and equal the anatomical ones only for a level camera. A
  camera pitched down by θ adds θ to the trunk flexion (and turns the segment angles
  by θ) of a subject facing it or facing away; for a subject filmed side-on, as
  Sports2D wants, it is the camera's roll that turns them. On Human3.6M (cameras
  looking down by ~10-20°) the level-camera assumption alone costs ~10° on average
  (``scripts/diag/angle_errors.py``). Joint angles never use ``up``: they are
  invariant to any rotation of the poses.

Differences from Sports2D: angles are 3D (Sports2D's are 2D, in the image plane, so
they depend on the camera seeing the motion plane square on); the knee and elbow
angles are unsigned; there is no ankle angle: H36M-17 has no toe or heel joint, so
ankle dorsiflexion (and the foot segment) cannot be computed from these joints and
is left out rather than approximated; H36M-17 has no separate neck point, so the
trunk ends at Thorax (Sports2D: the shoulder midpoint, "Neck").

Smoothing (:func:`smooth_angles`, off by default): a zero-phase low-pass with the
magnitude response of Sports2D/Pose2Sim's default Butterworth filter (order 4,
cut-off 6 Hz: a 2nd-order Butterworth run forwards and backwards, ``filtfilt``),
applied in the frequency domain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from poselift.errors import PoseliftError, finite_number

#: H36M-17 joint order (equal to ``poselift.geometry.skeleton.H36M_17.joint_names``,
#: checked by the tests; repeated here so that this module needs no torch).
H36M17_JOINTS = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "NeckNose", "Head",
    "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)
_J = {name: i for i, name in enumerate(H36M17_JOINTS)}
SIDES = ("right", "left")

#: The camera's up direction in the camera frame (x right, y down, z forward): −y.
CAMERA_UP = (0.0, -1.0, 0.0)

#: A projected angle is NaN when the segment's component in the plane of projection
#: is shorter than this fraction of the segment (it points within ~11.5° of the
#: plane's normal: e.g. an arm raised sideways for shoulder *flexion*), where the
#: angle is undefined and would jump.
MIN_IN_PLANE = 0.2

#: Default smoothing of :func:`smooth_angles` (Sports2D's and Pose2Sim's Butterworth defaults).
DEFAULT_CUTOFF_HZ = 6.0
DEFAULT_ORDER = 4

#: Every angle :func:`joint_angles` computes, in column order: joint angles, then
#: segment angles; ``left_*`` / ``right_*`` pairs share a plot.
ANGLE_NAMES = (
    "right_hip_flexion", "left_hip_flexion",
    "right_knee_flexion", "left_knee_flexion",
    "right_shoulder_flexion", "left_shoulder_flexion",
    "right_shoulder_elevation", "left_shoulder_elevation",
    "right_elbow_flexion", "left_elbow_flexion",
    "trunk_flexion",
    "right_thigh_segment", "left_thigh_segment",
    "right_shank_segment", "left_shank_segment",
    "right_upper_arm_segment", "left_upper_arm_segment",
    "right_forearm_segment", "left_forearm_segment",
    "trunk_segment",
)

#: The unsigned angles, ``[0, 180]``; every other angle is signed, ``(−180, 180]``.
UNSIGNED_ANGLES = tuple(n for n in ANGLE_NAMES if n.endswith(("knee_flexion", "elbow_flexion", "shoulder_elevation")))

#: Names of the angles that depend on the vertical (``up``).
VERTICAL_ANGLES = tuple(n for n in ANGLE_NAMES if n.endswith("_segment") or n == "trunk_flexion")

#: Segments: (proximal joint, distal joint) per side (``{s}``: ``R`` or ``L``).
SEGMENTS = {
    "thigh": ("{s}Hip", "{s}Knee"),
    "shank": ("{s}Knee", "{s}Foot"),
    "upper_arm": ("{s}Shoulder", "{s}Elbow"),
    "forearm": ("{s}Elbow", "{s}Wrist"),
}


# ----------------------------------------------------------------------------- checks


def check_poses(poses, name: str = "poses") -> np.ndarray:
    """``poses`` as float64 ``[T, 17, 3]`` (H36M-17), or a :class:`PoseliftError`."""
    arr = np.asarray(poses)
    if arr.dtype.kind not in "fiu" or arr.ndim != 3 or arr.shape[1:] != (17, 3):
        hint = " (one pose: pass `pose[None]`)" if arr.shape == (17, 3) else ""
        raise PoseliftError(
            f"`{name}` must be H36M-17 3D poses shaped [T, 17, 3] (numbers), got {list(arr.shape)} {arr.dtype}{hint}"
        )
    return arr.astype(np.float64, copy=False)


def check_up(up, num_frames: int | None = None) -> np.ndarray:
    """The vertical ``up`` as a unit float64 vector ``[3]`` (or ``[T, 3]``); ``None`` → :data:`CAMERA_UP`."""
    if up is None:
        return np.asarray(CAMERA_UP)
    arr = np.asarray(up, dtype=np.float64) if np.asarray(up).dtype.kind in "fiu" else None
    if arr is None or not (arr.shape == (3,) or (arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[0] == num_frames)):
        raise PoseliftError(f"`up` must be a 3-vector (or one per frame, [T, 3]) pointing up in the poses' frame, got {np.shape(up)}")
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    if not (np.isfinite(arr).all() and (norm > 1e-9).all()):
        raise PoseliftError("`up` must be finite and non-zero")
    return arr / norm


def side_prefix(side: str) -> str:
    """``"right"`` → ``"R"``, ``"left"`` → ``"L"``."""
    if side not in SIDES:
        raise PoseliftError(f"`side` must be 'right' or 'left', got {side!r:.40}")
    return "R" if side == "right" else "L"


# ------------------------------------------------------------------------ vector math


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", u, v)


def _unit(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """``v / |v|``; NaN where ``|v|`` is ~0 (a degenerate direction)."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > eps, v / np.where(norm > eps, norm, 1.0), np.nan)


def _between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle between ``u`` and ``v`` in degrees, ``[0, 180]`` (atan2 of
    ``|u × v|`` and ``u · v``: accurate near 0 and 180); NaN for a zero vector."""
    u, v = _unit(u), _unit(v)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), _dot(u, v)))


def _planar(v: np.ndarray, x_axis: np.ndarray, y_axis: np.ndarray) -> np.ndarray:
    """Angle of ``v`` in the plane of the orthonormal ``x_axis``, ``y_axis``:
    ``atan2(v · y, v · x)`` in degrees, ``(−180, 180]``; NaN when the in-plane part of
    ``v`` is shorter than :data:`MIN_IN_PLANE` of ``|v|``."""
    x, y = _dot(v, x_axis), _dot(v, y_axis)
    with np.errstate(invalid="ignore"):
        ok = np.hypot(x, y) >= MIN_IN_PLANE * np.linalg.norm(v, axis=-1)
    return np.where(ok, np.degrees(np.arctan2(y, x)), np.nan)


def _joint(poses: np.ndarray, name: str) -> np.ndarray:
    return poses[:, _J[name]]


def body_axes(poses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame body axes ``(anterior a, superior s, right m)``, each ``[T, 3]`` unit:
    ``m`` = unit(RHip − LHip), ``s`` = Hip → Thorax made orthogonal to ``m``,
    ``a = s × m`` (ISB: X anterior, Y superior, Z right). NaN where degenerate."""
    poses = check_poses(poses)
    m = _unit(_joint(poses, "RHip") - _joint(poses, "LHip"))
    trunk = _joint(poses, "Thorax") - _joint(poses, "Hip")
    s = _unit(trunk - _dot(trunk, m)[:, None] * m)
    a = np.cross(s, m)
    return a, s, m


def forward_horizontal(poses, up=None) -> np.ndarray:
    """The subject's horizontal forward direction ``f = unit(up × m)`` ``[T, 3]``
    (``m`` = unit(RHip − LHip)); NaN where the hip line is vertical."""
    poses = check_poses(poses)
    up = check_up(up, poses.shape[0])
    m = _unit(_joint(poses, "RHip") - _joint(poses, "LHip"))
    return _unit(np.cross(np.broadcast_to(up, m.shape), m))


# ------------------------------------------------------------------------ joint angles


def knee_flexion(poses, side: str) -> np.ndarray:
    """Knee flexion ``[T]`` in degrees: the angle between the thigh (hip → knee) and the
    shank (knee → foot), unsigned, in 3D. 0 = straight leg, 90 = shank at a right
    angle to the thigh; ``[0, 180]`` (hyperextension reads as a small positive
    value). Any frame; invariant to rotations of the poses (Sports2D "knee")."""
    poses = check_poses(poses)
    s = side_prefix(side)
    hip, knee, foot = (_joint(poses, f"{s}{j}") for j in ("Hip", "Knee", "Foot"))
    return _between(knee - hip, foot - knee)


def elbow_flexion(poses, side: str) -> np.ndarray:
    """Elbow flexion ``[T]`` in degrees: the angle between upper arm (shoulder → elbow)
    and forearm (elbow → wrist), unsigned, in 3D. 0 = straight arm; ``[0, 180]``.
    Any frame; invariant to rotations (Sports2D "elbow")."""
    poses = check_poses(poses)
    s = side_prefix(side)
    shoulder, elbow, wrist = (_joint(poses, f"{s}{j}") for j in ("Shoulder", "Elbow", "Wrist"))
    return _between(elbow - shoulder, wrist - elbow)


def hip_flexion(poses, side: str) -> np.ndarray:
    """Hip flexion ``[T]`` in degrees, signed, in the body's sagittal plane
    (:func:`body_axes`): the thigh (hip → knee) projected onto the plane of the
    anterior ``a`` and superior ``s`` axes, angle from the trunk's downward
    direction ``−s`` towards ``a``. 0 = thigh along the trunk (standing), +90 = thigh
    forward at a right angle to the trunk (flexion), negative = thigh behind the
    trunk (extension); ``(−180, 180]``. NaN when the thigh points within ~11.5° of
    the hip line (:data:`MIN_IN_PLANE`). Invariant to rotations of the poses
    (Sports2D "hip": between knee, hip and the trunk)."""
    poses = check_poses(poses)
    s_ = side_prefix(side)
    a, s, _ = body_axes(poses)
    return _planar(_joint(poses, f"{s_}Knee") - _joint(poses, f"{s_}Hip"), -s, a)


def shoulder_flexion(poses, side: str) -> np.ndarray:
    """Shoulder flexion ``[T]`` in degrees, signed, in the body's sagittal plane: the
    upper arm (shoulder → elbow) projected onto the plane of ``a`` and ``s``
    (:func:`body_axes`), angle from ``−s`` (down along the trunk) towards ``a``.
    0 = arm hanging, +90 = arm forward, horizontal for an upright trunk, 180 =
    overhead, negative = arm behind the trunk (extension); ``(−180, 180]``. NaN when
    the arm points within ~11.5° of the mediolateral axis (raised sideways: use
    :func:`shoulder_elevation`). Invariant to rotations (Sports2D "shoulder")."""
    poses = check_poses(poses)
    s_ = side_prefix(side)
    a, s, _ = body_axes(poses)
    return _planar(_joint(poses, f"{s_}Elbow") - _joint(poses, f"{s_}Shoulder"), -s, a)


def shoulder_elevation(poses, side: str) -> np.ndarray:
    """Shoulder elevation ``[T]`` in degrees: the unsigned 3D angle between the upper
    arm (shoulder → elbow) and the trunk's downward direction (Thorax → Hip), in any
    plane (forward, sideways or between). 0 = arm hanging, 90 = raised to the trunk's
    horizontal, 180 = overhead; ``[0, 180]``. Invariant to rotations."""
    poses = check_poses(poses)
    s_ = side_prefix(side)
    down = _joint(poses, "Hip") - _joint(poses, "Thorax")
    return _between(_joint(poses, f"{s_}Elbow") - _joint(poses, f"{s_}Shoulder"), down)


def trunk_flexion(poses, up=None) -> np.ndarray:
    """Trunk flexion ``[T]`` in degrees: the trunk (Hip → Thorax) projected onto the
    vertical plane through the subject's forward direction ``f``
    (:func:`forward_horizontal`), angle from ``up`` towards ``f``. 0 = upright,
    positive = leaning forward, negative = leaning back; ``(−180, 180]``.

    ``up``: the vertical in the poses' frame (``[3]`` or ``[T, 3]``); ``None``: the
    camera's up direction −y (:data:`CAMERA_UP`), which is the vertical only for a
    level camera — the angle is then relative to the camera, not to gravity."""
    poses = check_poses(poses)
    up = check_up(up, poses.shape[0])
    f = forward_horizontal(poses, up)
    return _planar(_joint(poses, "Thorax") - _joint(poses, "Hip"), np.broadcast_to(up, f.shape), f)


# ----------------------------------------------------------------------- segment angles


def segment_angle(poses, proximal: str, distal: str, up=None) -> np.ndarray:
    """Angle ``[T]`` in degrees of the segment ``proximal → distal`` (H36M-17 joint
    names) from the horizontal, Sports2D style: the segment projected onto the
    vertical plane through the subject's forward direction ``f``
    (:func:`forward_horizontal`), ``atan2(d · up, d · f)``: 0 = horizontal pointing
    forward, +90 = pointing up, −90 = pointing down, ±180 = horizontal pointing
    backward ("anticlockwise from the horizontal, the subject facing right");
    ``(−180, 180]``. NaN when the segment points within ~11.5° of the sideways
    horizontal (:data:`MIN_IN_PLANE`).

    ``up``: as in :func:`trunk_flexion` (``None``: the camera's −y, relative to the
    camera: the floor's horizontal only for a level camera)."""
    poses = check_poses(poses)
    for joint in (proximal, distal):
        if joint not in _J:
            raise PoseliftError(f"unknown H36M-17 joint {joint!r:.40}; joints: {', '.join(H36M17_JOINTS)}")
    up = check_up(up, poses.shape[0])
    f = forward_horizontal(poses, up)
    return _planar(_joint(poses, distal) - _joint(poses, proximal), f, np.broadcast_to(up, f.shape))


def limb_segment_angle(poses, segment: str, side: str, up=None) -> np.ndarray:
    """:func:`segment_angle` of ``segment`` (``thigh`` hip → knee, ``shank`` knee → foot,
    ``upper_arm`` shoulder → elbow, ``forearm`` elbow → wrist) on ``side``."""
    if segment not in SEGMENTS:
        raise PoseliftError(f"unknown `segment` {segment!r:.40}; known: {', '.join(SEGMENTS)}")
    s = side_prefix(side)
    proximal, distal = (j.format(s=s) for j in SEGMENTS[segment])
    return segment_angle(poses, proximal, distal, up)


def _median_length(poses: np.ndarray, proximal: str, distal: str) -> float | None:
    """Median over the finite frames of the distance between two joints; None without one."""
    d = np.linalg.norm(_joint(poses, distal) - _joint(poses, proximal), axis=-1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else None


def segment_lengths(poses) -> dict[str, float | None]:
    """The person's segment lengths: ``{"left_thigh": m, "right_thigh": m, …}`` for every
    :data:`SEGMENTS` entry, the median over frames of the 3D distance between its joints
    (same unit as ``poses`` ``[T, 17, 3]``, H36M-17; metres for poselift's output);
    ``None`` where no frame is finite."""
    poses = check_poses(poses)
    lengths: dict[str, float | None] = {}
    for segment, (proximal, distal) in SEGMENTS.items():
        for side in ("left", "right"):
            s = side_prefix(side)
            length = _median_length(poses, proximal.format(s=s), distal.format(s=s))
            lengths[f"{side}_{segment}"] = None if length is None else round(length, 4)
    return lengths


#: Ankle height above the sole as a fraction of standing height (stature): 0.039 in Winter's
#: segment proportions (D. A. Winter, Biomechanics and Motor Control of Human Movement, 4th ed., 2009, Fig. 4.1).
ANKLE_HEIGHT_FRACTION = 0.039
#: The chain from the ankle to the top of the head whose lengths add up to the standing height
#: (less the ankle height): ``{s}`` segments are the mean of both sides.
HEIGHT_CHAIN = (("{s}Foot", "{s}Knee"), ("{s}Knee", "{s}Hip"), ("Hip", "Spine"), ("Spine", "Thorax"),
                ("Thorax", "NeckNose"), ("NeckNose", "Head"))


def standing_height(poses) -> float | None:
    """The standing height (stature) of the person of ``poses`` ``[T, 17, 3]`` (H36M-17,
    same unit; metres for poselift's output), from lengths only, so any posture will do:
    the medians over frames of shank and thigh (mean of both sides) and of Hip → Spine →
    Thorax → NeckNose → Head (:data:`HEIGHT_CHAIN`, Head being the top of the head), over
    ``1 −`` :data:`ANKLE_HEIGHT_FRACTION`. None when a segment has no finite frame. On
    Human3.6M's motion capture it gives 1.65–1.77 m for the seven subjects."""
    poses = check_poses(poses)
    total = 0.0
    for proximal, distal in HEIGHT_CHAIN:
        sides = ("R", "L") if "{s}" in proximal else ("",)
        lengths = [_median_length(poses, proximal.format(s=s), distal.format(s=s)) for s in sides]
        if None in lengths:
            return None
        total += float(np.mean(lengths))
    return total / (1.0 - ANKLE_HEIGHT_FRACTION)


def trunk_segment_angle(poses, up=None) -> np.ndarray:
    """:func:`segment_angle` of the trunk Hip → Thorax: +90 upright (Sports2D "trunk")."""
    return segment_angle(poses, "Hip", "Thorax", up)


# --------------------------------------------------------------------------- smoothing


def butterworth_gain(freqs_hz: np.ndarray, fps: float, cutoff_hz: float, order: int = DEFAULT_ORDER) -> np.ndarray:
    """Magnitude response of a zero-phase (forward-backward) digital Butterworth low-pass
    of total ``order`` (a Butterworth of order ``order / 2`` applied twice, bilinear
    transform with pre-warping, as ``scipy.signal.butter(order // 2, ...)`` then
    ``filtfilt``): ``1 / (1 + (tan(π f / fps) / tan(π fc / fps)) ** order)``. 0.5
    (−6 dB) at the cut-off."""
    w = np.tan(np.pi * np.clip(np.asarray(freqs_hz, dtype=np.float64) / fps, 0.0, 0.5 - 1e-12))
    return 1.0 / (1.0 + (w / math.tan(math.pi * cutoff_hz / fps)) ** order)


def _fill_nan(col: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation in time (ends held)."""
    ok = np.isfinite(col)
    if ok.all():
        return col
    idx = np.arange(len(col))
    return np.interp(idx, idx[ok], col[ok])


def smooth_angles(degrees, fps: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ, order: int = DEFAULT_ORDER,
                  *, wrap: bool = True) -> np.ndarray:
    """Zero-phase low-pass of angle time series ``[T]`` or ``[T, A]`` (degrees, sampled at
    ``fps`` frames/s): the response of :func:`butterworth_gain` (default: order 4,
    cut-off 6 Hz, as Sports2D/Pose2Sim), applied in the frequency domain to the series
    extended at both ends by its odd reflection (as ``filtfilt`` pads), so there is no
    lag and the ends do not droop.

    NaNs are bridged by linear interpolation for filtering and are NaN again in the
    result (an all-NaN column stays NaN). ``wrap``: unwrap ±180° jumps before filtering
    and wrap the result back to ``(−180, 180]`` (segment angles can cross ±180°).
    """
    x = np.asarray(degrees, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise PoseliftError(f"`degrees` must be shaped [T] or [T, A] with T > 0, got {list(x.shape)}")
    if not (finite_number(fps) and fps > 0):
        raise PoseliftError(f"`fps` must be a positive number of frames per second, got {fps!r:.40}")
    if not (finite_number(cutoff_hz) and 0 < cutoff_hz < fps / 2):
        raise PoseliftError(f"`cutoff_hz` must be above 0 and below half the frame rate ({fps / 2:g} Hz), got {cutoff_hz!r:.40}")
    if not (isinstance(order, int) and not isinstance(order, bool) and order >= 2 and order % 2 == 0):
        raise PoseliftError(f"`order` must be an even whole number >= 2 (a filter of order/2 run both ways), got {order!r:.40}")
    one = x.ndim == 1
    cols = x[:, None] if one else x
    t = cols.shape[0]
    missing = ~np.isfinite(cols)
    usable = ~missing.all(axis=0)
    filled = np.zeros_like(cols)
    for j in np.flatnonzero(usable):  # per column (tens of them), not per frame
        filled[:, j] = _fill_nan(cols[:, j])
    if wrap:
        filled = np.degrees(np.unwrap(np.radians(filled), axis=0))
    # odd extension (2 x0 − x[k]) so the signal and its slope continue at the ends; the
    # impulse response is ~fps / cutoff frames long, so the circular wrap of the FFT sits
    # far enough from the data; short series are padded further with their end values
    pad = math.ceil(3 * fps / cutoff_hz) + 9
    k = min(pad, t - 1)
    head = 2 * filled[:1] - filled[k:0:-1]
    tail = 2 * filled[-1:] - filled[-2 : -k - 2 : -1] if k > 0 else filled[:0]
    ext = np.concatenate([np.repeat(head[:1] if k else filled[:1], pad - k, 0), head, filled, tail,
                          np.repeat(tail[-1:] if k else filled[-1:], pad - k, 0)])
    n = ext.shape[0]
    gain = butterworth_gain(np.fft.rfftfreq(n, d=1.0 / fps), fps, cutoff_hz, order)
    out = np.fft.irfft(np.fft.rfft(ext, axis=0) * gain[:, None], n=n, axis=0)[pad : pad + t]
    if wrap:
        out = (out + 180.0) % 360.0 - 180.0
        out[out == -180.0] = 180.0
    out[missing] = np.nan
    out[:, ~usable] = np.nan
    return out[:, 0] if one else out


# ------------------------------------------------------------------------- all angles


@dataclass(frozen=True)
class JointAngles:
    """Angles of a pose sequence: ``degrees[:, i]`` is the angle ``names[i]`` ``[T]``.

    ``vertical``: what trunk flexion and the segment angles are measured against (a
    sentence: the given vertical, or the camera's up direction); ``cutoff_hz``: the
    smoothing cut-off (``None``: not smoothed).
    """

    names: tuple[str, ...]
    degrees: np.ndarray
    vertical: str
    cutoff_hz: float | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.degrees[:, self.names.index(name)]
        except ValueError:
            raise PoseliftError(f"no angle {name!r:.60}; angles: {', '.join(self.names)}") from None

    def as_dict(self) -> dict[str, np.ndarray]:
        return {n: self.degrees[:, i] for i, n in enumerate(self.names)}


VERTICAL_GIVEN = "the given vertical (`up`)"
VERTICAL_CAMERA = "the camera's up direction (-y): the true vertical only if the camera is level"


def joint_angles(poses, *, up=None, fps: float | None = None, cutoff_hz: float | None = None,
                 order: int = DEFAULT_ORDER) -> JointAngles:
    """Every angle of :data:`ANGLE_NAMES` for H36M-17 poses ``[T, 17, 3]``, in degrees
    (definitions: the module docstring and each function).

    ``up``: the vertical in the poses' frame (``[3]`` or ``[T, 3]``), used by trunk
    flexion and the segment angles; ``None``: the camera's up direction −y
    (:data:`CAMERA_UP`), and :attr:`JointAngles.vertical` says so. ``cutoff_hz``:
    smooth each angle over time with :func:`smooth_angles` (zero-phase Butterworth,
    total ``order``) at this cut-off (Sports2D's default is 6 Hz); needs ``fps``.
    Default: no smoothing (the lifter's output is already smooth in time).
    """
    poses = check_poses(poses)
    check_up(up, poses.shape[0])
    if cutoff_hz is not None and fps is None:
        raise PoseliftError("`cutoff_hz` needs `fps` (the frame rate of the poses)")
    cols: dict[str, np.ndarray] = {}
    for side in SIDES:
        cols[f"{side}_hip_flexion"] = hip_flexion(poses, side)
        cols[f"{side}_knee_flexion"] = knee_flexion(poses, side)
        cols[f"{side}_shoulder_flexion"] = shoulder_flexion(poses, side)
        cols[f"{side}_shoulder_elevation"] = shoulder_elevation(poses, side)
        cols[f"{side}_elbow_flexion"] = elbow_flexion(poses, side)
        for segment in SEGMENTS:
            cols[f"{side}_{segment}_segment"] = limb_segment_angle(poses, segment, side, up)
    cols["trunk_flexion"] = trunk_flexion(poses, up)
    cols["trunk_segment"] = trunk_segment_angle(poses, up)
    degrees = np.stack([cols[n] for n in ANGLE_NAMES], axis=1)
    if cutoff_hz is not None:
        wrap = np.array([n not in UNSIGNED_ANGLES for n in ANGLE_NAMES])  # signed angles may cross ±180°
        degrees[:, wrap] = smooth_angles(degrees[:, wrap], fps, cutoff_hz, order, wrap=True)
        degrees[:, ~wrap] = smooth_angles(degrees[:, ~wrap], fps, cutoff_hz, order, wrap=False)
    return JointAngles(ANGLE_NAMES, degrees, VERTICAL_GIVEN if up is not None else VERTICAL_CAMERA, cutoff_hz)
