"""BVH motion files (Biovision Hierarchy) from 3D joint positions, and a small reader.

``write_bvh`` (re-exported by :mod:`poselift.io.exports`) turns a ``[T, J, 3]`` joint
sequence into a skeleton with constant bone lengths and per-frame joint rotations
that Blender, MotionBuilder, Maya etc. import directly.

Conventions
-----------
* **World frame** of the file: Y up, metres × ``scale`` (default 100: centimetres).
  Input camera-frame poses (x right, y down, z forward) map to BVH as
  ``(x, -y, -z)`` (a 180° rotation about x: X right, Y up, Z towards the camera).
  With ``camera_rotation`` (``R_world_to_cam`` of a z-up world, e.g. Human3.6M) the
  poses are first taken to that world (``Rᵀ Xc``) and then to Y up: ``(x, z, -y)``.
* **Hierarchy**: the skeleton tree; joint 0 is the ROOT with 6 channels
  ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other joint
  ``Zrotation Xrotation Yrotation``; leaves get an ``End Site`` continuing their
  bone by a quarter of its length.
* **Euler order ZXY**: a joint's local rotation matrix is ``Rz(z) @ Rx(x) @ Ry(y)``
  (channels in file order, angles in degrees), child offsets are rotated by it:
  ``p_child = p_joint + G_joint @ offset_child``, ``G_joint = G_parent @ L_joint``.
  Angles are unwrapped over time (no ±180° jumps).
* **Rest pose / offsets**: each OFFSET is the bone's **median length** over the
  sequence along a rest direction. ``rest="tpose"`` (default when joint names allow
  it: Human3.6M-17/32, HumanEva-15) is a T-pose facing +Z: spine/neck/head up (+Y),
  legs down (−Y), hips, shoulders and arms sideways (the subject's left is +X).
  ``rest="first"`` uses the median bone directions of the first 10 frames (any
  skeleton).
* **Rotations**: a joint's global rotation is the minimal *swing* taking its parent's
  rotated rest direction of its (primary) child bone onto the observed direction,
  composed down the hierarchy (``G = Swing · G_parent``), so every single-child bone
  direction is reproduced exactly. A joint with several children (Hip, Thorax)
  rotates towards its primary child (a centre-line child: Spine, Neck) and then
  twists about that bone to best fit the other children (least squares).
* **Branch joints** (``branch_joints=True``, default): each non-primary child of a
  multi-child joint hangs on its own zero-offset joint named ``<Parent>_<Child>``
  (like the ``LHipJoint`` of CMU files) whose rotation aims that bone, so *every*
  bone direction — and, with constant bone lengths, every joint position — is
  reproduced. With ``branch_joints=False`` the hierarchy is exactly the skeleton
  tree and non-primary children are only exact when their geometry relative to
  the primary child matches the rest pose (Human3.6M hips do: they are collinear;
  shoulders vary by ±15°, i.e. a few centimetres at the shoulders).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17, Skeleton
from poselift.io.atomic import atomic_write

EULER_ORDER = "ZXY"
ROT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
POS_CHANNELS = ("Xposition", "Yposition", "Zposition")
FIRST_FRAMES = 10
_EPS = 1e-9

# --- small rotation helpers ([..., 3, 3] float64) -----------------------------------


def _normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, _EPS), n[..., 0]


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: unit ``axis [..., 3]``, ``angle [...]`` → ``[..., 3, 3]``."""
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    c, s = np.cos(angle), np.sin(angle)
    t = 1 - c
    return np.stack(
        [
            np.stack([t * x * x + c, t * x * y - s * z, t * x * z + s * y], -1),
            np.stack([t * x * y + s * z, t * y * y + c, t * y * z - s * x], -1),
            np.stack([t * x * z - s * y, t * y * z + s * x, t * z * z + c], -1),
        ],
        -2,
    )


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation taking unit vectors ``a`` onto ``b`` (``[..., 3]`` → ``[..., 3, 3]``).

    Antiparallel pairs rotate 180° about an axis perpendicular to ``a``.
    """
    cross = np.cross(a, b)
    cos = np.clip((a * b).sum(-1), -1.0, 1.0)
    sin = np.linalg.norm(cross, axis=-1)
    axis = cross / np.maximum(sin, _EPS)[..., None]
    degenerate = sin < 1e-8
    if np.any(degenerate):
        # any axis perpendicular to a (only matters when a ≈ -b)
        helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
        perp, _ = _normalize(np.cross(a, helper))
        axis = np.where(degenerate[..., None], perp, axis)
    return _axis_angle(axis, np.arctan2(sin, cos))


def _euler_zxy(r: np.ndarray) -> np.ndarray:
    """``R = Rz(z) Rx(x) Ry(y)`` → angles ``[..., 3]`` (z, x, y) in radians."""
    sx = np.clip(r[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    gimbal = np.abs(sx) > 1 - 1e-9
    z = np.where(gimbal, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(gimbal, 0.0, np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.stack([z, x, y], -1)


def _axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    o, z = np.ones_like(c), np.zeros_like(c)
    if axis == "X":
        rows = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "Y":
        rows = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        rows = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


# --- frames ---------------------------------------------------------------------------


def camera_to_bvh(points: np.ndarray, camera_rotation: np.ndarray | None = None) -> np.ndarray:
    """Camera-frame metres ``[..., 3]`` → the Y-up BVH world (metres, unscaled)."""
    p = np.asarray(points, dtype=np.float64)
    if camera_rotation is None:
        return p * np.array([1.0, -1.0, -1.0])
    world = p @ np.asarray(camera_rotation, dtype=np.float64)  # Rᵀ Xc, z up
    return np.stack([world[..., 0], world[..., 2], -world[..., 1]], -1)


def bvh_to_camera(points: np.ndarray, camera_rotation: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`camera_to_bvh` (rotation only; metres)."""
    p = np.asarray(points, dtype=np.float64)
    if camera_rotation is None:
        return p * np.array([1.0, -1.0, -1.0])
    world = np.stack([p[..., 0], -p[..., 2], p[..., 1]], -1)
    return world @ np.asarray(camera_rotation, dtype=np.float64).T


# --- rest pose --------------------------------------------------------------------------

_UP = ("spine", "thorax", "neck", "nose", "head", "chest", "pelvis")
_DOWN = ("knee", "foot", "ankle", "toe", "heel", "leg")
_LATERAL = ("hip", "shoulder", "elbow", "wrist", "hand", "thumb", "clavicle", "collar", "arm", "finger")


def tpose_directions(skeleton: Skeleton) -> np.ndarray | None:
    """Unit T-pose direction ``[J, 3]`` (BVH frame) of each bone parent→joint, from
    joint names; row of the root is zero. ``None`` when a name is not understood."""
    side = {j: 1.0 for j in skeleton.joints_left} | {j: -1.0 for j in skeleton.joints_right}
    out = np.zeros((skeleton.num_joints, 3))
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            continue
        name = skeleton.joint_names[j].lower()
        s = side.get(j, 0.0)
        if s and any(k in name for k in _LATERAL):
            out[j] = [s, 0.0, 0.0]
        elif any(k in name for k in _DOWN):
            out[j] = [0.0, -1.0, 0.0]
        elif any(k in name for k in _UP):
            out[j] = [0.0, 1.0, 0.0]
        else:
            return None
    return out


# --- structure ----------------------------------------------------------------------------


@dataclass
class _Node:
    name: str
    parent: int  # node index, -1 for the root
    joint: int  # skeleton joint at this node's position
    aims: int | None  # skeleton joint whose bone (joint→aims) this node's rotation aims
    twist_refs: list[int] = field(default_factory=list)  # other children used to fix the twist
    offset_joint: int | None = None  # skeleton joint whose bone is this node's OFFSET (None: zero)
    children: list[int] = field(default_factory=list)


def _bvh_name(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "joint"


def _build_nodes(skeleton: Skeleton, branch_joints: bool) -> list[_Node]:
    parents = skeleton.parents
    children: dict[int, list[int]] = {j: [] for j in range(skeleton.num_joints)}
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    roots = [j for j, p in enumerate(parents) if p < 0]
    if roots != [0]:
        raise PoseliftError(f"skeleton {skeleton.name}: BVH export needs joint 0 as the only root, roots are {roots}")

    def subtree(j: int) -> int:
        return 1 + sum(subtree(c) for c in children[j])

    sided = set(skeleton.joints_left) | set(skeleton.joints_right)
    nodes: list[_Node] = []
    used: set[str] = set()

    def unique(name: str) -> str:
        base, k = _bvh_name(name), 1
        out = base
        while out in used:
            k += 1
            out = f"{base}_{k}"
        used.add(out)
        return out

    def add(name: str, parent: int, joint: int, offset_joint: int | None) -> int:
        nodes.append(_Node(unique(name), parent, joint, None, offset_joint=offset_joint))
        idx = len(nodes) - 1
        if parent >= 0:
            nodes[parent].children.append(idx)
        return idx

    def visit(j: int, parent_node: int) -> None:
        node = add(skeleton.joint_names[j], parent_node, j, j if parent_node >= 0 else None)
        kids = children[j]
        if not kids:
            return
        primary = max(kids, key=lambda c: (c not in sided, subtree(c), -c))
        others = [c for c in kids if c != primary]
        nodes[node].aims = primary
        nodes[node].twist_refs = others
        visit(primary, node)
        for c in others:
            if branch_joints:
                branch = add(f"{skeleton.joint_names[j]}_{skeleton.joint_names[c]}", node, j, None)
                nodes[branch].aims = c
                visit(c, branch)
            else:
                visit(c, node)

    visit(0, -1)
    return nodes


# --- writer ----------------------------------------------------------------------------------


def bvh_text(
    joints_3d: np.ndarray,
    skeleton: Skeleton = H36M_17,
    fps: float = 50.0,
    *,
    scale: float = 100.0,
    root_positions: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
    rest: str = "auto",
    branch_joints: bool = True,
) -> str:
    """The BVH file content for ``joints_3d`` (see :func:`write_bvh`)."""
    pose = np.asarray(joints_3d, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (skeleton.num_joints, 3) or pose.shape[0] < 1:
        raise PoseliftError(
            f"BVH export: joints must be shaped [T, {skeleton.num_joints}, 3] for skeleton {skeleton.name}, got {list(pose.shape)}"
        )
    if not np.isfinite(pose).all():
        raise PoseliftError("BVH export: joint positions contain NaN/inf (fill or interpolate missing joints first)")
    if not (math.isfinite(fps) and fps > 0):
        raise PoseliftError(f"BVH export: fps must be positive, got {fps}")
    if not (math.isfinite(scale) and scale > 0):
        raise PoseliftError(f"BVH export: scale must be positive, got {scale}")
    if camera_rotation is not None:
        camera_rotation = np.asarray(camera_rotation, dtype=np.float64)
        if camera_rotation.shape != (3, 3):
            raise PoseliftError(f"BVH export: camera_rotation must be 3x3, got {list(camera_rotation.shape)}")
    num_frames = pose.shape[0]
    root = pose[:, 0].copy()
    if root_positions is not None:
        traj = np.asarray(root_positions, dtype=np.float64)
        if traj.shape != (num_frames, 3):
            raise PoseliftError(f"BVH export: root_positions must be shaped [{num_frames}, 3], got {list(traj.shape)}")
        if not np.isfinite(traj).all():
            raise PoseliftError("BVH export: root_positions contain NaN/inf")
        root = root + traj
    world = camera_to_bvh(pose, camera_rotation)  # [T, J, 3] Y up, metres
    root_world = camera_to_bvh(root, camera_rotation)

    bones = np.zeros_like(world)
    parents = np.asarray(skeleton.parents)
    has_parent = parents >= 0
    bones[:, has_parent] = world[:, has_parent] - world[:, parents[has_parent]]
    directions, lengths = _normalize(bones)  # [T, J, 3], [T, J]
    median_len = np.median(lengths, axis=0)  # [J]
    valid = lengths > 1e-6  # zero-length bones (duplicate joints) keep the parent's rotation

    if rest == "auto":
        rest = "tpose" if tpose_directions(skeleton) is not None else "first"
    if rest == "tpose":
        rest_dir = tpose_directions(skeleton)
        if rest_dir is None:
            raise PoseliftError(f"BVH export: no T-pose known for skeleton {skeleton.name}; use rest='first'")
    elif rest == "first":
        rest_dir, _ = _normalize(np.median(bones[:FIRST_FRAMES], axis=0))
    else:
        raise PoseliftError(f"BVH export: rest must be 'auto', 'tpose' or 'first', got {rest!r}")

    nodes = _build_nodes(skeleton, branch_joints)
    eye = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    global_rot: list[np.ndarray] = []
    local_rot: list[np.ndarray] = []
    for node in nodes:
        g_parent = eye if node.parent < 0 else global_rot[node.parent]
        g = g_parent
        if node.aims is not None:
            c = node.aims
            refs = [r for r in node.twist_refs if median_len[r] > 1e-6]
            if refs and not branch_joints:
                # one rotation for all children: least-squares fit (Wahba), weights = bone lengths
                kids = [c, *refs]
                g = _wahba(
                    [np.einsum("tij,j->ti", g_parent, rest_dir[k]) for k in kids],
                    [directions[:, k] for k in kids],
                    [median_len[k] * valid[:, k] for k in kids],
                ) @ g_parent
            else:
                predicted = np.einsum("tij,j->ti", g_parent, rest_dir[c])
                swing = _swing(predicted, directions[:, c])
                swing = np.where(valid[:, c, None, None], swing, eye)
                g = swing @ g_parent
                if refs:
                    g = _twist_fit(g, directions[:, c], [(np.einsum("tij,j->ti", g, rest_dir[r]), directions[:, r], median_len[r] * valid[:, r]) for r in refs]) @ g
        global_rot.append(g)
        local_rot.append(np.einsum("tji,tjk->tik", g_parent, g))

    # motion table: root position (scaled) then Euler angles per node, degrees, unwrapped
    columns = [root_world * scale]
    for r in local_rot:
        columns.append(np.degrees(np.unwrap(_euler_zxy(r), axis=0)))
    motion = np.concatenate(columns, axis=1)

    lines = ["HIERARCHY"]

    def emit(idx: int, depth: int) -> None:
        node = nodes[idx]
        pad = "  " * depth
        if node.parent < 0:
            lines.append(f"{pad}ROOT {node.name}")
        else:
            lines.append(f"{pad}JOINT {node.name}")
        lines.append(f"{pad}{{")
        off = np.zeros(3) if node.offset_joint is None else rest_dir[node.offset_joint] * median_len[node.offset_joint] * scale
        lines.append(f"{pad}  OFFSET {_fmt(off)}")
        chans = (POS_CHANNELS + ROT_CHANNELS) if node.parent < 0 else ROT_CHANNELS
        lines.append(f"{pad}  CHANNELS {len(chans)} {' '.join(chans)}")
        if node.children:
            for child in node.children:
                emit(child, depth + 1)
        else:
            j = node.joint
            end = rest_dir[j] * median_len[j] * 0.25 * scale if parents[j] >= 0 else np.array([0.0, 0.1 * scale, 0.0])
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET {_fmt(end)}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines.append("MOTION")
    lines.append(f"Frames: {num_frames}")
    lines.append(f"Frame Time: {1.0 / fps:.8f}")
    body = "\n".join(" ".join(f"{v:.5f}" for v in row) for row in motion)
    return "\n".join(lines) + "\n" + body + "\n"


def _fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in np.asarray(v, dtype=np.float64) + 0.0)


def _twist_fit(g: np.ndarray, axis: np.ndarray, refs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rotation about ``axis [T, 3]`` that best aligns predicted with observed child
    directions (weights = bone lengths), in closed form per frame."""
    sin_sum = np.zeros(axis.shape[0])
    cos_sum = np.zeros(axis.shape[0])
    for predicted, observed, weight in refs:
        u = predicted - (predicted * axis).sum(-1, keepdims=True) * axis
        o = observed - (observed * axis).sum(-1, keepdims=True) * axis
        sin_sum += weight * (np.cross(u, o) * axis).sum(-1)
        cos_sum += weight * (u * o).sum(-1)
    angle = np.where(np.abs(sin_sum) + np.abs(cos_sum) > 1e-12, np.arctan2(sin_sum, cos_sum), 0.0)
    return _axis_angle(axis, angle)


def _wahba(predicted: list[np.ndarray], observed: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Rotation ``[T, 3, 3]`` minimising ``Σ w |R p - o|²`` (SVD; proper rotation)."""
    b = sum(w[:, None, None] * np.einsum("ti,tj->tij", o, p) for p, o, w in zip(predicted, observed, weights))
    u, _, vt = np.linalg.svd(b)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    return u @ (np.array([1.0, 1.0, 0.0]) * np.eye(3) + d[:, None, None] * np.diag([0.0, 0.0, 1.0])) @ vt


def write_bvh(
    path: str | Path,
    joints_3d: np.ndarray,
    skeleton: Skeleton = H36M_17,
    fps: float = 50.0,
    *,
    scale: float = 100.0,
    root_positions: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
    rest: str = "auto",
    branch_joints: bool = True,
) -> Path:
    """Write ``joints_3d`` ``[T, J, 3]`` (metres, camera frame) as a BVH file, atomically.

    ``root_positions`` ``[T, 3]`` (metres, camera frame) is added to joint 0, e.g. the
    trajectory model's output for root-relative predictions. ``scale`` converts metres
    to file units (100: centimetres). ``camera_rotation``: optional ``R_world_to_cam``
    of a z-up world so the file is upright even for a tilted camera. See the module
    docstring for the frame, Euler order, rest pose and branch joints.
    """
    text = bvh_text(
        joints_3d, skeleton, fps, scale=scale, root_positions=root_positions,
        camera_rotation=camera_rotation, rest=rest, branch_joints=branch_joints,
    )
    path = Path(path)
    with atomic_write(path, "w") as f:
        f.write(text)
    return path


# --- reader + forward kinematics ---------------------------------------------------------------


@dataclass
class BvhData:
    """A parsed BVH file. ``offsets``/``motion`` in file units, angles in degrees."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # [N, 3]
    channels: list[list[str]]
    end_sites: dict[int, np.ndarray]  # node index → End Site offset
    frame_time: float
    motion: np.ndarray  # [T, C]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def parse_bvh(text: str) -> BvhData:
    """Parse BVH text (HIERARCHY + MOTION)."""
    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise PoseliftError("BVH: unexpected end of file")
        pos += 1
        return tokens[pos - 1]

    def expect(word: str) -> None:
        got = take()
        if got != word:
            raise PoseliftError(f"BVH: expected {word!r}, got {got!r}")

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    expect("HIERARCHY")
    stack: list[int] = []
    expect("ROOT")
    names.append(take())
    parents.append(-1)
    stack.append(0)
    expect("{")
    while stack:
        word = take()
        if word == "OFFSET":
            offsets.append([float(take()) for _ in range(3)])
        elif word == "CHANNELS":
            channels.append([take() for _ in range(int(take()))])
        elif word == "JOINT":
            names.append(take())
            parents.append(stack[-1])
            stack.append(len(names) - 1)
            expect("{")
        elif word == "End":
            expect("Site")
            expect("{")
            expect("OFFSET")
            end_sites[stack[-1]] = np.array([float(take()) for _ in range(3)])
            expect("}")
        elif word == "}":
            stack.pop()
        else:
            raise PoseliftError(f"BVH: unexpected token {word!r} in HIERARCHY")
    if len(offsets) != len(names) or len(channels) != len(names):
        raise PoseliftError("BVH: every joint needs one OFFSET and one CHANNELS line")
    expect("MOTION")
    expect("Frames:")
    num_frames = int(take())
    expect("Frame")
    expect("Time:")
    frame_time = float(take())
    num_channels = sum(len(c) for c in channels)
    values = np.array(tokens[pos:], dtype=np.float64)
    if values.size != num_frames * num_channels:
        raise PoseliftError(f"BVH: expected {num_frames} x {num_channels} motion values, got {values.size}")
    return BvhData(names, parents, np.array(offsets), channels, end_sites, frame_time, values.reshape(num_frames, num_channels))


def bvh_forward_kinematics(bvh: str | BvhData) -> tuple[list[str], np.ndarray]:
    """Joint positions ``[T, N, 3]`` (file units, file frame) of every BVH joint.

    Each joint: ``L = ∏ R_axis(angle)`` over its rotation channels in file order;
    ``G = G_parent L``; ``p = p_parent + G_parent (offset + position channels)``.
    """
    data = parse_bvh(bvh) if isinstance(bvh, str) else bvh
    num_frames = data.motion.shape[0]
    n = len(data.names)
    positions = np.zeros((num_frames, n, 3))
    rotations = np.zeros((num_frames, n, 3, 3))
    col = 0
    for j in range(n):
        local = np.broadcast_to(np.eye(3), (num_frames, 3, 3)).copy()
        translation = np.broadcast_to(data.offsets[j], (num_frames, 3)).copy()
        for ch in data.channels[j]:
            values = data.motion[:, col]
            col += 1
            axis = ch[0].upper()
            if ch.endswith("position"):
                translation[:, "XYZ".index(axis)] += values
            elif ch.endswith("rotation"):
                local = local @ _axis_rotation(axis, np.radians(values))
            else:
                raise PoseliftError(f"BVH: unknown channel {ch!r}")
        p = data.parents[j]
        if p < 0:
            positions[:, j] = translation
            rotations[:, j] = local
        else:
            positions[:, j] = positions[:, p] + np.einsum("tij,tj->ti", rotations[:, p], translation)
            rotations[:, j] = rotations[:, p] @ local
    return data.names, positions
