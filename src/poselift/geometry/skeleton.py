"""Joint sets (names, parents, left/right) and conversions between layouts.

Every skeleton is an immutable :class:`Skeleton`. Poses are arrays shaped
``[..., J, D]`` (any leading batch/time shape; ``D`` = 2 for pixels or screen
coordinates, 3 for metres). Conversions to the 17-joint Human3.6M layout used by
the models are pure functions documented joint by joint below.

Layouts
-------
``h36m32``      Human3.6M motion-capture skeleton (32 joints, many duplicates).
``h36m17``      Standard 17-joint reduction of ``h36m32`` (the model's output).
``humaneva15``  HumanEva-I 15 joints.
``mpii16``      MPII / Stacked Hourglass order (the Human3.6M detections).
``coco17``      COCO keypoints (most 2D detectors).
``blazepose33`` MediaPipe BlazePose landmarks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch

from poselift.errors import PoseliftError

#: What a joint name may be: a letter, then letters, digits and ``_``. Such a name is
#: written unchanged in every output (a CSV cell, a JSON string, a BVH ``JOINT`` name,
#: which cannot hold ``/`` or spaces), so every format names a joint the same way.
JOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

#: Joint names of earlier versions → today's (``poses.csv``/``poses.json`` said
#: ``Neck/Nose`` and ``poses.bvh`` ``Neck_Nose`` before both became ``NeckNose``);
#: still accepted where joints are read by name.
FORMER_JOINT_NAMES = {"Neck/Nose": "NeckNose", "Neck_Nose": "NeckNose"}


@dataclass(frozen=True)
class Skeleton:
    """A joint set: ``parents[j]`` is the parent index of joint ``j`` (-1 for the root).

    ``joints_left`` / ``joints_right`` list mirror partners in the same order, so
    ``joints_left[i]`` and ``joints_right[i]`` swap under a horizontal flip.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...] = field(default=())
    joints_right: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n:
            raise ValueError(f"skeleton {self.name}: {len(self.parents)} parents for {n} joints")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"skeleton {self.name}: left and right joint lists differ in length")
        for p in self.parents:
            if not -1 <= p < n:
                raise ValueError(f"skeleton {self.name}: parent index {p} out of range")
        for joint in self.joint_names:
            if not JOINT_NAME.fullmatch(joint):
                raise ValueError(f"skeleton {self.name}: joint name {joint!r} is not a letter followed by letters, digits or '_'")
        if len(set(self.joint_names)) != n:
            raise ValueError(f"skeleton {self.name}: joint names repeat")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def flip_permutation(self) -> list[int]:
        """Index array that swaps each left joint with its right partner."""
        perm = list(range(self.num_joints))
        for left, right in zip(self.joints_left, self.joints_right):
            perm[left], perm[right] = right, left
        return perm

    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) pairs, one per non-root joint."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise PoseliftError(f"skeleton {self.name} has no joint {joint_name!r}; joints: {', '.join(self.joint_names)}") from None

    def remove_joints(self, remove: Sequence[int]) -> tuple["Skeleton", list[int]]:
        """Drop joints; children of a removed joint are re-parented to its nearest kept ancestor.

        Returns the reduced skeleton and the kept (old) indices, so
        ``pose[..., kept, :]`` converts poses.
        """
        remove_set = set(int(r) for r in remove)
        kept = [j for j in range(self.num_joints) if j not in remove_set]
        new_index = {old: new for new, old in enumerate(kept)}
        parents = []
        for j in kept:
            p = self.parents[j]
            while p >= 0 and p in remove_set:
                p = self.parents[p]
            parents.append(new_index[p] if p >= 0 else -1)
        pairs = [(new_index[l], new_index[r]) for l, r in zip(self.joints_left, self.joints_right) if l in new_index and r in new_index]
        return (
            Skeleton(
                name=self.name,
                joint_names=tuple(self.joint_names[j] for j in kept),
                parents=tuple(parents),
                joints_left=tuple(l for l, _ in pairs),
                joints_right=tuple(r for _, r in pairs),
            ),
            kept,
        )


def _sided(names: Sequence[str], left_prefix: str, right_prefix: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pair joints whose names differ only by a left/right prefix."""
    left, right = [], []
    for i, name in enumerate(names):
        if name.startswith(left_prefix):
            partner = right_prefix + name[len(left_prefix):]
            if partner in names:
                left.append(i)
                right.append(list(names).index(partner))
    return tuple(left), tuple(right)


# --- Human3.6M -------------------------------------------------------------------

_H36M32_NAMES = (
    "Hip", "RHip", "RKnee", "RFoot", "RToe", "RToeSite",
    "LHip", "LKnee", "LFoot", "LToe", "LToeSite",
    "SpineBase", "Spine", "Thorax", "NeckNose", "Head",
    "LShoulderBase", "LShoulder", "LElbow", "LWrist", "LThumb", "LThumbSite", "LHand", "LHandSite",
    "RShoulderBase", "RShoulder", "RElbow", "RWrist", "RThumb", "RThumbSite", "RHand", "RHandSite",
)
_H36M32_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30)

H36M_32 = Skeleton(
    "h36m32",
    _H36M32_NAMES,
    _H36M32_PARENTS,
    joints_left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    joints_right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)

#: Joints of ``h36m32`` dropped by the standard 17-joint reduction.
H36M32_REMOVED = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)


def _reduce_h36m() -> Skeleton:
    reduced, _ = H36M_32.remove_joints(H36M32_REMOVED)
    parents = list(reduced.parents)
    # The shoulder "base" joints that carried the arms are gone; hang the shoulders
    # on the thorax (as the standard protocol does), not on the spine.
    parents[11] = 8
    parents[14] = 8
    return replace(reduced, name="h36m17", parents=tuple(parents))


H36M_17 = _reduce_h36m()
#: Kept ``h36m32`` indices: ``pose32[..., H36M32_KEPT, :]`` is a ``h36m17`` pose.
H36M32_KEPT = tuple(j for j in range(32) if j not in H36M32_REMOVED)

# --- HumanEva-I ------------------------------------------------------------------

_HE_NAMES = (
    "pelvis", "thorax", "lshoulder", "lelbow", "lwrist", "rshoulder", "relbow", "rwrist",
    "lhip", "lknee", "lankle", "rhip", "rknee", "rankle", "head",
)
HUMANEVA_15 = Skeleton(
    "humaneva15", _HE_NAMES, (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1), *_sided(_HE_NAMES, "l", "r")
)

# --- MPII-16 (Stacked Hourglass order) -------------------------------------------

_MPII_NAMES = (
    "RFoot", "RKnee", "RHip", "LHip", "LKnee", "LFoot", "Hip", "Thorax",
    "Neck", "HeadTop", "RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist",
)
MPII_16 = Skeleton(
    "mpii16", _MPII_NAMES, (1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14), *_sided(_MPII_NAMES, "L", "R")
)

# --- COCO-17 ---------------------------------------------------------------------

_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_17 = Skeleton(
    "coco17", _COCO_NAMES, (-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14), *_sided(_COCO_NAMES, "left_", "right_")
)

# --- BlazePose-33 (MediaPipe) ----------------------------------------------------

_BLAZE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
_BLAZE_PARENTS = (
    -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
    11, 12, 23, 24, 25, 26, 27, 28, 27, 28,
)
_BLAZE_SIDES = _sided(_BLAZE_NAMES, "left_", "right_")
BLAZEPOSE_33 = Skeleton(
    "blazepose33",
    _BLAZE_NAMES,
    _BLAZE_PARENTS,
    joints_left=_BLAZE_SIDES[0] + (9,),
    joints_right=_BLAZE_SIDES[1] + (10,),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M_17, H36M_32, HUMANEVA_15, MPII_16, COCO_17, BLAZEPOSE_33)}


#: Layout name by number of joints (how a file with only a joint count is read).
LAYOUT_BY_JOINT_COUNT = {17: "h36m17", 16: "mpii16", 15: "humaneva15", 32: "h36m32", 33: "blazepose33"}


def get_skeleton(name: str) -> Skeleton:
    """Look a skeleton up by name (``h36m17``, ``coco17``, ...)."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise PoseliftError(f"unknown joint layout {name!r}; known layouts: {', '.join(SKELETONS)}") from None


# --- Conversions to H36M-17 ------------------------------------------------------
#
# A rule maps each H36M-17 joint to the mean of one or more source joints, or to a
# mean of already-converted H36M-17 joints (``h:`` prefix). Confidence of a derived
# joint is the minimum over its sources; a NaN source makes the joint NaN.

Rule = tuple[str, tuple[int, ...]]  # ("src" | "h36m", indices)

#: MPII-16 (Stacked Hourglass) → H36M-17 for the 14 joints both layouts define the
#: same way (Spine, NeckNose and Head differ anatomically and are left out).
MPII16_TO_H36M17: dict[int, int] = {
    6: 0, 2: 1, 1: 2, 0: 3, 3: 4, 4: 5, 5: 6, 7: 8,
    13: 11, 14: 12, 15: 13, 12: 14, 11: 15, 10: 16,
}

# COCO-17 → H36M-17:
#   Hip       = mean(left_hip, right_hip)
#   R/L Hip, Knee, Foot(=ankle), Shoulder, Elbow, Wrist: the same joint
#   Thorax    = mean(left_shoulder, right_shoulder)
#   Spine     = mean(Hip, Thorax)         (midpoint of hip centre and thorax)
#   NeckNose  = nose
#   Head      = mean(left_eye, right_eye) (COCO has no head top; the eyes are the
#               closest stable point above the nose)
COCO17_RULES: tuple[Rule, ...] = (
    ("src", (11, 12)), ("src", (12,)), ("src", (14,)), ("src", (16,)),
    ("src", (11,)), ("src", (13,)), ("src", (15,)),
    ("h36m", (0, 8)), ("src", (5, 6)), ("src", (0,)), ("src", (1, 2)),
    ("src", (5,)), ("src", (7,)), ("src", (9,)),
    ("src", (6,)), ("src", (8,)), ("src", (10,)),
)

# BlazePose-33 → H36M-17: the same rules on the BlazePose indices
# (hips 23/24, knees 25/26, ankles 27/28, shoulders 11/12, elbows 13/14,
# wrists 15/16, nose 0, eyes 2/5). Heels, toes, hands and mouth are not used.
BLAZEPOSE33_RULES: tuple[Rule, ...] = (
    ("src", (23, 24)), ("src", (24,)), ("src", (26,)), ("src", (28,)),
    ("src", (23,)), ("src", (25,)), ("src", (27,)),
    ("h36m", (0, 8)), ("src", (11, 12)), ("src", (0,)), ("src", (2, 5)),
    ("src", (11,)), ("src", (13,)), ("src", (15,)),
    ("src", (12,)), ("src", (14,)), ("src", (16,)),
)


def _apply_rules(
    points: np.ndarray, confidence: np.ndarray | None, rules: Sequence[Rule], num_src: int, layout: str
) -> tuple[np.ndarray, np.ndarray | None]:
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != num_src:
        raise PoseliftError(f"{layout} poses must be shaped [..., {num_src}, D], got {list(points.shape)}")
    if confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.shape != points.shape[:-1]:
            raise PoseliftError(f"{layout} confidences must be shaped {list(points.shape[:-1])}, got {list(confidence.shape)}")
    out = np.empty(points.shape[:-2] + (17, points.shape[-1]), dtype=np.result_type(points.dtype, np.float32))
    conf_out = None if confidence is None else np.empty(points.shape[:-2] + (17,), dtype=np.result_type(confidence.dtype, np.float32))
    # Derived-from-H36M joints (Spine) depend on others: do source rules first.
    order = [j for j, (kind, _) in enumerate(rules) if kind == "src"] + [j for j, (kind, _) in enumerate(rules) if kind != "src"]
    for j in order:
        kind, idx = rules[j]
        src_pts, src_conf = (points, confidence) if kind == "src" else (out, conf_out)
        out[..., j, :] = src_pts[..., list(idx), :].mean(axis=-2)
        if conf_out is not None:
            conf_out[..., j] = src_conf[..., list(idx)].min(axis=-1)
    return out, conf_out


def coco17_to_h36m17(points: np.ndarray, confidence: np.ndarray | None = None):
    """COCO-17 ``[..., 17, D]`` → H36M-17 ``[..., 17, D]`` (rules: ``COCO17_RULES``).

    Returns ``(points, confidence)``; confidence is ``None`` when not given.
    """
    return _apply_rules(points, confidence, COCO17_RULES, 17, "coco17")


def blazepose33_to_h36m17(points: np.ndarray, confidence: np.ndarray | None = None):
    """BlazePose-33 ``[..., 33, D]`` → H36M-17 (rules: ``BLAZEPOSE33_RULES``)."""
    return _apply_rules(points, confidence, BLAZEPOSE33_RULES, 33, "blazepose33")


def h36m32_to_h36m17(points: np.ndarray, confidence: np.ndarray | None = None):
    """Human3.6M-32 mocap joints → the standard 17 (a selection, exact)."""
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != 32:
        raise PoseliftError(f"h36m32 poses must be shaped [..., 32, D], got {list(points.shape)}")
    kept = list(H36M32_KEPT)
    return points[..., kept, :], None if confidence is None else np.asarray(confidence)[..., kept]


def to_h36m17(points: np.ndarray, layout: str, confidence: np.ndarray | None = None):
    """Convert poses of any supported 2D detector layout to H36M-17."""
    if layout == "h36m17":
        points = np.asarray(points)
        if points.ndim < 2 or points.shape[-2] != 17:
            raise PoseliftError(f"h36m17 poses must be shaped [..., 17, D], got {list(points.shape)}")
        return points, confidence
    converters = {"coco17": coco17_to_h36m17, "blazepose33": blazepose33_to_h36m17, "h36m32": h36m32_to_h36m17}
    if layout not in converters:
        raise PoseliftError(f"no conversion from {layout!r} to h36m17; supported: h36m17, {', '.join(converters)}")
    return converters[layout](points, confidence)


# --- Pose utilities ----------------------------------------------------------------


def bone_lengths(pose, skeleton: Skeleton):
    """Length of each bone ``[..., J-1]`` (same unit as ``pose``), in ``skeleton.bones()`` order;
    a torch tensor in gives a (differentiable) tensor out."""
    bones = skeleton.bones()
    child = [c for c, _ in bones]
    parent = [p for _, p in bones]
    if isinstance(pose, torch.Tensor):
        return torch.linalg.vector_norm(pose[..., child, :] - pose[..., parent, :], dim=-1)
    pose = np.asarray(pose)
    return np.linalg.norm(pose[..., child, :] - pose[..., parent, :], axis=-1)


def flip_pose(pose: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Mirror ``[..., J, D]`` horizontally: negate x and swap left/right joints."""
    out = np.asarray(pose)[..., skeleton.flip_permutation(), :].copy()
    out[..., 0] = -out[..., 0]
    return out


# ------------------------------------------------------------- model input layouts


#: Input layout names stored in checkpoint metadata (``input_layout``).
INPUT_LAYOUT_MOCAP = "h36m17"


INPUT_LAYOUT_DETECTOR = "h36m17-detector"


INPUT_LAYOUTS = (INPUT_LAYOUT_MOCAP, INPUT_LAYOUT_DETECTOR)


#: Detector-layout Head = NeckNose + HEAD_EYE_LERP · (Head − NeckNose). An
#: *approximation* of the mean of the eyes (what the COCO/BlazePose rules put in the
#: Head slot): the mocap Head marker sits near the top of the head, the eyes roughly a
#: third of the way up from the nose.
HEAD_EYE_LERP = 0.35


#: Left/right limb chains of H36M-17 swapped by the detector-confusion noise:
#: legs (hip, knee, foot) and arms (shoulder, elbow, wrist).
H36M17_LIMBS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((4, 5, 6), (1, 2, 3)),
    ((11, 12, 13), (14, 15, 16)),
)


def detector_layout_from_h36m(points):
    """Motion-capture H36M-17 ``[..., 17, D]`` → the H36M-17 layout that
    :mod:`poselift.geometry.skeleton` builds from COCO-17 / BlazePose-33 detections.

    * Hip = mean(RHip, LHip); Thorax = mean(LShoulder, RShoulder);
      Spine = midpoint of (new) Hip and Thorax;
    * NeckNose = mocap NeckNose (the detector's nose);
    * Head = NeckNose + :data:`HEAD_EYE_LERP` · (Head − NeckNose): an approximation
      of the mean of the eyes, which the detector rules put in the Head slot;
    * every other joint is unchanged.

    Every rule is an affine combination, so it commutes with the pixel ↔ screen
    normalisation and with horizontal flips. Works on NumPy arrays and torch tensors.
    """
    if points.ndim < 2 or points.shape[-2] != 17:
        raise PoseliftError(f"h36m17 poses must be shaped [..., 17, D], got {list(points.shape)}")
    if isinstance(points, torch.Tensor):
        out = points.clone() if points.is_floating_point() else points.float()
    else:
        points = np.asarray(points)
        out = points.astype(np.result_type(points.dtype, np.float32), copy=True)
    hip = (points[..., 1, :] + points[..., 4, :]) / 2
    thorax = (points[..., 11, :] + points[..., 14, :]) / 2
    out[..., 0, :] = hip
    out[..., 8, :] = thorax
    out[..., 7, :] = (hip + thorax) / 2
    out[..., 9, :] = points[..., 9, :]
    out[..., 10, :] = points[..., 9, :] + HEAD_EYE_LERP * (points[..., 10, :] - points[..., 9, :])
    return out


def convert_input_layout(points, layout: str):
    """Mocap H36M-17 2D → the input ``layout`` a model expects (metadata ``input_layout``)."""
    if layout == INPUT_LAYOUT_MOCAP:
        return points
    if layout == INPUT_LAYOUT_DETECTOR:
        return detector_layout_from_h36m(points)
    raise PoseliftError(f"unknown input layout {layout!r}; known: {', '.join(INPUT_LAYOUTS)}")


def limbs_for(skeleton: Skeleton) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Swappable limbs of a layout: H36M-17 legs and arms, else each left/right pair."""
    if skeleton.name == H36M_17.name:
        return H36M17_LIMBS
    return tuple(((left,), (right,)) for left, right in zip(skeleton.joints_left, skeleton.joints_right))


#: The 12 limb joints shared by every layout (left/right shoulder, elbow, wrist, hip, knee,
#: ankle, in that order), as indices of each layout: what poses of different skeletons are
#: compared on (e.g. poselift's 3D against a detector's own 3D).
LIMB12_NAMES = ("LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee",
                "LAnkle", "RAnkle")
LIMB12 = {
    "h36m17": (11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3),
    "blazepose33": (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28),
    "coco17": (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
}
