"""Checks of a 3D prediction that need no ground truth (what ``poselift infer`` reports).

* Bone-length stability: a person's bones do not change length, so the coefficient of
  variation (std / mean over frames) of each predicted bone is a direct measure of
  jitter and of depth confusions. Units cancel (the CV is a ratio).
* Left/right consistency: the predicted pose, seen by a weak-perspective camera fitted
  per frame, should match the input 2D limb by limb with its own labels better than
  with left and right exchanged. Frames where an exchanged limb pair fits clearly
  better are counted as swapped (the lifter put a leg or arm on the other side than
  the 2D it was given).
* Detector label switches: frames where the 2D's own left/right labels of a limb pair
  jump between consecutive frames. A swapped 3D frame inside such a stretch is usually the
  detector's swap, which the lifter (trained with swap noise) did not follow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import Skeleton, bone_lengths, limbs_for

#: A limb pair counts as swapped when the exchanged labelling's squared 2D error is
#: below this fraction of the labelled one's *and* the exchange lowers the error by more
#: than :data:`SWAP_MIN_GAIN` × the person's 2D height per joint (RMS): limbs that overlap
#: in 2D (side views) cannot be told apart and are not flagged.
SWAP_ERROR_RATIO = 0.8
SWAP_MIN_GAIN = 0.05
#: Against 3D ground truth the exchange must lower the error by more than 5 cm RMS per joint.
WRONG_SIDE_MIN_GAIN_M = 0.05


def _check_poses(joints_3d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    joints_3d = np.asarray(joints_3d, dtype=np.float64)
    if joints_3d.ndim != 3 or joints_3d.shape[1:] != (skeleton.num_joints, 3):
        raise PoseliftError(f"poses must be shaped [frames, {skeleton.num_joints}, 3], got {list(joints_3d.shape)}")
    return joints_3d


def bone_length_cv(joints_3d: np.ndarray, skeleton: Skeleton) -> dict[str, float]:
    """Coefficient of variation over frames of each bone of ``[T, J, 3]`` poses, keyed
    ``"Parent-Child"`` (NaN frames are ignored; NaN when fewer than two frames)."""
    joints_3d = _check_poses(joints_3d, skeleton)
    lengths = bone_lengths(joints_3d, skeleton)  # [T, bones]
    out: dict[str, float] = {}
    for k, (child, parent) in enumerate(skeleton.bones()):
        column = lengths[:, k][np.isfinite(lengths[:, k])]
        mean = column.mean() if len(column) >= 2 else 0.0
        cv = float(column.std() / mean) if mean > 0 else float("nan")
        out[f"{skeleton.joint_names[parent]}-{skeleton.joint_names[child]}"] = cv
    return out


def _weak_perspective(points_3d: np.ndarray, points_2d: np.ndarray) -> np.ndarray:
    """``[T, J, 2]``: the x, y of ``[T, J, 3]`` under the per-frame scale and translation
    that best fit ``points_2d`` (least squares over all joints)."""
    p = points_3d[..., :2] - points_3d[..., :2].mean(axis=1, keepdims=True)
    k = points_2d - points_2d.mean(axis=1, keepdims=True)
    scale = (p * k).sum(axis=(1, 2)) / np.maximum((p * p).sum(axis=(1, 2)), 1e-12)
    return scale[:, None, None] * p + points_2d.mean(axis=1, keepdims=True)


def exchanged_limbs(pose: np.ndarray, reference: np.ndarray, skeleton: Skeleton, tolerance: np.ndarray | float) -> np.ndarray:
    """Frames ``[T]`` (bool) where some left/right limb pair (legs, arms) of ``pose``
    matches ``reference`` (same shape ``[T, J, D]``, same unit) clearly better with its
    two sides exchanged: the squared error drops below :data:`SWAP_ERROR_RATIO` of the
    labelled one and by more than ``tolerance`` (per frame or scalar, RMS per joint).
    Frames with NaN are never flagged."""
    tolerance = np.asarray(tolerance, dtype=np.float64)
    flagged = np.zeros(len(pose), dtype=bool)
    for left, right in limbs_for(skeleton):
        left, right = list(left), list(right)

        def error(a: list[int], b: list[int]) -> np.ndarray:
            return ((pose[:, a] - reference[:, b]) ** 2).sum(axis=(1, 2))

        labelled = error(left, left) + error(right, right)
        exchanged = error(left, right) + error(right, left)
        with np.errstate(invalid="ignore"):
            clear = (exchanged < SWAP_ERROR_RATIO * labelled) & (labelled - exchanged > tolerance**2 * (len(left) + len(right)))
        flagged |= np.nan_to_num(clear, nan=False).astype(bool)
    return flagged


def left_right_swapped(joints_3d: np.ndarray, keypoints_2d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where a limb of the 3D pose sits on the other side than in the 2D.

    The 3D pose is fitted to the 2D with a per-frame scale and translation (weak
    perspective, all joints); then each left/right limb pair is compared with the 2D
    (:func:`exchanged_limbs`, tolerance :data:`SWAP_MIN_GAIN` × the person's 2D height).
    ``joints_3d``: ``[T, J, 3]`` camera frame (x right, y down), any unit;
    ``keypoints_2d``: ``[T, J, 2]`` pixels or normalised, same joints.
    """
    joints_3d = _check_poses(joints_3d, skeleton)
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    if keypoints_2d.shape != joints_3d.shape[:2] + (2,):
        raise PoseliftError(f"keypoints {list(keypoints_2d.shape)} do not match poses {list(joints_3d.shape)}")
    height = np.ptp(keypoints_2d[..., 1], axis=1)  # person's 2D height per frame
    return exchanged_limbs(_weak_perspective(joints_3d, keypoints_2d), keypoints_2d, skeleton, SWAP_MIN_GAIN * height)


def detector_label_switches(keypoints_2d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where the 2D itself exchanged a leg or arm pair's left/right
    labels since the previous frame (a detector swap, e.g. while the legs cross in a
    side view): the limbs match the previous frame clearly better with their sides
    exchanged, by more than :data:`SWAP_MIN_GAIN` × the person's 2D height per joint
    (RMS), so ordinary motion and jitter do not count. Frame 0 and frames next to NaN
    are never flagged. ``keypoints_2d``: ``[T, J, 2]`` pixels or normalised.

    A 3D frame counted by :func:`left_right_swapped` between such switches usually means
    the lifter kept the limb where it was while the detector's labels jumped."""
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[1:] != (skeleton.num_joints, 2):
        raise PoseliftError(f"keypoints must be shaped [frames, {skeleton.num_joints}, 2], got {list(keypoints_2d.shape)}")
    switched = np.zeros(len(keypoints_2d), dtype=bool)
    if len(keypoints_2d) > 1:
        height = np.ptp(keypoints_2d[1:, :, 1], axis=1)
        switched[1:] = exchanged_limbs(keypoints_2d[1:], keypoints_2d[:-1], skeleton, SWAP_MIN_GAIN * height)
    return switched


def wrong_side_frames(pred_3d: np.ndarray, target_3d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where a predicted leg or arm is on the wrong side of the body
    compared with the ground truth (root-relative ``[T, J, 3]``, metres): exchanging
    the predicted pair lowers its error by > 20 % and by more than
    :data:`WRONG_SIDE_MIN_GAIN_M` RMS per joint."""
    pred_3d = _check_poses(pred_3d, skeleton)
    target_3d = _check_poses(target_3d, skeleton)
    if pred_3d.shape != target_3d.shape:
        raise PoseliftError(f"prediction {list(pred_3d.shape)} and target {list(target_3d.shape)} differ in shape")
    return exchanged_limbs(pred_3d, target_3d, skeleton, WRONG_SIDE_MIN_GAIN_M)


def summarize(joints_3d: np.ndarray, keypoints_2d: np.ndarray, skeleton: Skeleton) -> dict[str, Any]:
    """Both checks as a JSON-ready dict: per-bone CV, its median and maximum, the
    left/right-swapped frames of the 3D and the frames where the 2D switched labels."""
    cv = bone_length_cv(joints_3d, skeleton)
    values = np.array([v for v in cv.values() if np.isfinite(v)])
    swapped = left_right_swapped(joints_3d, keypoints_2d, skeleton)
    return {
        "bone_length_cv": {k: round(v, 4) for k, v in cv.items()},
        "bone_length_cv_median": round(float(np.median(values)), 4) if len(values) else None,
        "bone_length_cv_max": round(float(values.max()), 4) if len(values) else None,
        "left_right_swapped_frames": np.flatnonzero(swapped).tolist(),
        "detector_label_switch_frames": np.flatnonzero(detector_label_switches(keypoints_2d, skeleton)).tolist(),
    }
