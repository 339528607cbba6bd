"""Evaluation metrics (NumPy). Poses are ``[..., J, 3]`` in any unit; errors come
back in the same unit, one value per frame (shape ``[...]``), so callers can
aggregate with the standard protocol (:func:`aggregate_per_action`).

* MPJPE (protocol #1): mean Euclidean joint error.
* P-MPJPE (protocol #2): error after a per-frame similarity alignment (rotation
  without reflection, uniform scale, translation) of the prediction to the target.
* N-MPJPE: error after the per-frame least-squares scale only.
* MPJVE: mean per-joint error of the first time derivative (per frame step).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from poselift.data.datasets import action_name
from poselift.errors import PoseliftError


def _check_pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise PoseliftError(f"prediction {list(pred.shape)} and target {list(target.shape)} differ in shape")
    if pred.ndim < 2:
        raise PoseliftError(f"poses must be shaped [..., J, D], got {list(pred.shape)}")
    return pred, target


def joint_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Euclidean error of every joint ``[..., J]``."""
    pred, target = _check_pair(pred, target)
    return np.linalg.norm(pred - target, axis=-1)


def mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame mean per-joint position error ``[...]``."""
    return joint_errors(pred, target).mean(axis=-1)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align each ``pred[..., J, 3]`` to ``target`` with the best similarity transform.

    Batched closed form (Umeyama): centre both, SVD of the cross-covariance, flip the
    last singular direction when needed so the rotation has det +1, scale =
    trace(S·D) / ‖pred‖².
    """
    pred, target = _check_pair(pred, target)
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_t = target.mean(axis=-2, keepdims=True)
    p0, t0 = pred - mu_p, target - mu_t
    cov = np.swapaxes(p0, -1, -2) @ t0  # [..., 3, 3]
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))  # -1 where the optimum would be a reflection
    d = np.where(d == 0, 1.0, d)
    s[..., -1] *= d
    u[..., :, -1] *= d[..., None]
    rot = u @ vt  # applied as p0 @ rot
    norm_p = (p0**2).sum(axis=(-1, -2))
    scale = s.sum(axis=-1) / np.maximum(norm_p, 1e-12)
    return scale[..., None, None] * (p0 @ rot) + mu_t


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame MPJPE after similarity alignment (protocol #2)."""
    return mpjpe(procrustes_align(pred, target), target)


def n_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame MPJPE after the least-squares scale ``<p, t> / <p, p>`` (no rotation)."""
    pred, target = _check_pair(pred, target)
    num = (pred * target).sum(axis=(-1, -2))
    den = np.maximum((pred * pred).sum(axis=(-1, -2)), 1e-12)
    return mpjpe(pred * (num / den)[..., None, None], target)


def velocity_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame-step mean per-joint velocity error ``[T-1]`` for sequences ``[T, J, 3]``."""
    pred, target = _check_pair(pred, target)
    if pred.shape[0] < 2:
        return np.zeros((0,) + pred.shape[1:-2])
    return np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1).mean(axis=-1)



def aggregate_per_action(errors: dict[str, np.ndarray]) -> tuple[dict[str, float], float]:
    """Standard protocol: frame-weighted mean per action, then the mean over actions.

    ``errors`` maps a sequence key (``"S9/Walking 1/54138969"``; the action is read
    from the part before the camera id when the last part is numeric) to per-frame
    errors. Returns ``({action: mean}, mean over actions)``.
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key, values in errors.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        action = _action_of_key(key)
        sums[action] = sums.get(action, 0.0) + float(values.sum())
        counts[action] = counts.get(action, 0) + values.size
    per_action = {a: sums[a] / counts[a] for a in sorted(sums) if counts[a] > 0}
    if not per_action:
        return {}, float("nan")
    return per_action, float(np.mean(list(per_action.values())))


def _action_of_key(key: str) -> str:
    parts = key.split("/")
    # Drop a trailing camera id ("54138969", "C1") when the key has one.
    if len(parts) >= 3 and (parts[-1].isdigit() or re.fullmatch(r"C\d+", parts[-1]) or parts[-1] == "virtual"):
        parts = parts[:-1]
    return action_name(parts[-1])


#: The 8 joint angles of the 12 limb joints (:data:`poselift.geometry.skeleton.LIMB12_NAMES`
#: order) compared by :func:`limb_agreement`: (a, b, c) = the angle at b, degrees: elbows
#: (shoulder-elbow-wrist), knees (hip-knee-ankle), hips (shoulder-hip-knee), shoulders
#: (hip-shoulder-elbow), left then right.
LIMB12_ANGLES = ((0, 2, 4), (1, 3, 5), (6, 8, 10), (7, 9, 11), (0, 6, 8), (1, 7, 9), (6, 0, 2), (7, 1, 3))


def limb_angles(limbs: np.ndarray) -> np.ndarray:
    """``[..., 12, 3]`` limb joints → ``[..., 8]`` angles (:data:`LIMB12_ANGLES`), degrees."""
    limbs = np.asarray(limbs, dtype=np.float64)
    a, b, c = (limbs[..., [t[k] for t in LIMB12_ANGLES], :] for k in range(3))
    u, v = a - b, c - b
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def limb_scores(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """P-MPJPE and joint-angle error of ``pred`` against ``target`` (``[T, 12, 3]`` limb joints,
    metres), unrounded, over the frames where both have all 12 joints: ``{frames, pmpjpe_mm,
    pmpjpe_mm_median, angle_deg}`` (per-frame similarity alignment, then the mean joint
    distance; mean absolute difference of the 8 :data:`LIMB12_ANGLES`); None values without
    such a frame. The multi-view reference recipe (../shared/data/multiview/README.md)."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    ok = np.isfinite(pred).all(axis=(1, 2)) & np.isfinite(target).all(axis=(1, 2))
    if not ok.any():
        return {"frames": 0, "pmpjpe_mm": None, "pmpjpe_mm_median": None, "angle_deg": None}
    errors = p_mpjpe(pred[ok], target[ok]) * 1000.0
    return {
        "frames": int(ok.sum()),
        "pmpjpe_mm": float(errors.mean()),
        "pmpjpe_mm_median": float(np.median(errors)),
        "angle_deg": float(np.abs(limb_angles(pred[ok]) - limb_angles(target[ok])).mean()),
    }


def limb_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float | int | None]:
    """How far two 3D estimates of the same person ``[T, 12, 3]`` (metres, any frames of
    reference) are apart: :func:`limb_scores`, rounded to 0.01, as ``{frames, pmpjpe_mm,
    angle_diff_deg}``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[1:] != (12, 3):
        raise PoseliftError(f"limb_agreement needs two [T, 12, 3] arrays, got {list(a.shape)} and {list(b.shape)}")
    scores = limb_scores(a, b)
    if not scores["frames"]:
        return {"frames": 0, "pmpjpe_mm": None, "angle_diff_deg": None}
    return {"frames": scores["frames"], "pmpjpe_mm": round(scores["pmpjpe_mm"], 2),
            "angle_diff_deg": round(scores["angle_deg"], 2)}
