"""Cameras: intrinsics/extrinsics records, world↔camera transforms, projection.

Frames and units
----------------
* world: metres, the dataset's frame (Human3.6M and HumanEva: z up).
* camera: metres, x right, y down, z forward (``Xc = R_world_to_cam @ (X - center)``).
* pixels: image coordinates, origin top-left.
* screen: pixels normalised by the image width to ``x ∈ [-1, 1]``, keeping the
  aspect ratio (``y ∈ [-h/w, h/w]``): ``x_n = 2 u / w - 1``, ``y_n = 2 v / w - h / w``.

Projection (Human3.6M model, exact): ``x, y = Xc/Zc, Yc/Zc``; ``r² = x² + y²``;
``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶``; ``tan = p1 x + p2 y``;
``x' = x (radial + tan) + p1 r²``; ``y' = y (radial + tan) + p2 r²``;
``u = fx x' + cx``; ``v = fy y' + cy``.

Intrinsic vectors are ``[..., 9] = [fx, fy, cx, cy, k1, k2, k3, p1, p2]``, either in
pixels or normalised (focal ``2 f / w``, centre in screen coordinates) so that
projecting with a normalised vector yields screen coordinates directly. Every
function takes any leading batch shape and works on NumPy arrays and torch tensors
(torch: differentiable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from poselift.errors import PoseliftError

Array = Union[np.ndarray, torch.Tensor]

#: Plausibility limits for cameras.json: pixels (focal length, centre), image side, distortion, metres.
MAX_PIXELS = 1e7
MAX_RESOLUTION = 100_000
MAX_DISTORTION = 1e3
MAX_METRES = 1e4


def _check_last(x: Array, size: int, what: str) -> None:
    if x.ndim < 1 or x.shape[-1] != size:
        raise PoseliftError(f"{what} must be shaped [..., {size}], got {list(x.shape)}")


def _whole(value: Any) -> int:
    """A JSON number that is a whole number (``1000`` or ``1000.0``; not ``true``, ``"1000"`` or NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ValueError(value)
    return int(value)


def _floats(value: Any, n: int, where: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise PoseliftError(f"{where}: expected {n} numbers, got {value!r:.60}") from None
    if len(out) != n or not all(np.isfinite(out)):
        raise PoseliftError(f"{where}: expected {n} finite numbers, got {value!r:.60}")
    return out


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole + distortion parameters of one camera, in pixels.

    ``focal_length``/``center`` may be ``None`` when only the resolution is known
    (HumanEva-I ships 2D ground truth but no calibrated intrinsics).
    """

    focal_length: tuple[float, float] | None
    center: tuple[float, float] | None
    radial_distortion: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential_distortion: tuple[float, float] = (0.0, 0.0)
    width: int = 0
    height: int = 0

    @classmethod
    def from_dict(cls, d: dict, where: str = "intrinsics") -> "Intrinsics":
        """Read the ``cameras.json`` record (keys ``focal_length``, ``center``,
        ``radial_distortion``, ``tangential_distortion``, ``res_w``, ``res_h``)."""
        if not isinstance(d, dict):
            raise PoseliftError(f"{where}: expected an object, got {type(d).__name__}")
        for key in ("res_w", "res_h"):
            if key not in d:
                raise PoseliftError(f"{where}: missing {key!r} (image resolution in pixels)")
        try:
            width, height = _whole(d["res_w"]), _whole(d["res_h"])
        except (TypeError, ValueError, OverflowError):
            raise PoseliftError(f"{where}: res_w and res_h must be whole numbers of pixels, got {d['res_w']!r:.40} and {d['res_h']!r:.40}") from None
        if width <= 0 or height <= 0:
            raise PoseliftError(f"{where}: resolution must be positive, got {width}x{height}")
        focal = _floats(d["focal_length"], 2, f"{where}.focal_length") if "focal_length" in d else None
        center = _floats(d["center"], 2, f"{where}.center") if "center" in d else None
        if (focal is None) != (center is None):
            raise PoseliftError(f"{where}: give both focal_length and center, or neither")
        radial = _floats(d.get("radial_distortion", (0, 0, 0)), 3, f"{where}.radial_distortion")
        tangential = _floats(d.get("tangential_distortion", (0, 0)), 2, f"{where}.tangential_distortion")
        if width > MAX_RESOLUTION or height > MAX_RESOLUTION:
            raise PoseliftError(f"{where}: resolution {width}x{height} is implausibly large (limit {MAX_RESOLUTION} pixels)")
        if focal is not None and not all(0 < f < MAX_PIXELS for f in focal):
            raise PoseliftError(f"{where}.focal_length: expected positive values below {MAX_PIXELS:g} pixels, got {list(focal)}")
        if center is not None and not all(abs(c) < MAX_PIXELS for c in center):
            raise PoseliftError(f"{where}.center: expected values within ±{MAX_PIXELS:g} pixels, got {list(center)}")
        if not all(abs(k) <= MAX_DISTORTION for k in radial + tangential):
            raise PoseliftError(f"{where}: distortion coefficients must lie within ±{MAX_DISTORTION:g}")
        return cls(focal, center, radial, tangential, width, height)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"res_w": self.width, "res_h": self.height}
        if self.focal_length is not None:
            d["focal_length"] = list(self.focal_length)
            d["center"] = list(self.center)  # type: ignore[arg-type]
            d["radial_distortion"] = list(self.radial_distortion)
            d["tangential_distortion"] = list(self.tangential_distortion)
        return d

    @property
    def calibrated(self) -> bool:
        return self.focal_length is not None

    def vector(self, normalized: bool = True) -> np.ndarray:
        """``[9]`` float32 ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``; normalised: focal
        ``2 f / w`` and centre in screen coordinates (see module docstring)."""
        if self.focal_length is None or self.center is None:
            raise PoseliftError(f"camera intrinsics unknown (only the resolution {self.width}x{self.height} is given)")
        f = np.asarray(self.focal_length, dtype=np.float64)
        c = np.asarray(self.center, dtype=np.float64)
        if normalized:
            f = f * 2.0 / self.width
            c = normalize_screen(c, self.width, self.height)
        return np.concatenate([f, c, self.radial_distortion, self.tangential_distortion]).astype(np.float32)


@dataclass(frozen=True)
class Extrinsics:
    """Camera pose: ``rotation`` is R_world_to_cam ``[3, 3]``, ``center`` the camera
    centre in world coordinates (metres)."""

    rotation: np.ndarray
    center: np.ndarray

    @classmethod
    def from_dict(cls, d: dict, where: str = "extrinsics") -> "Extrinsics":
        if not isinstance(d, dict) or "R_world_to_cam" not in d or "center_m" not in d:
            raise PoseliftError(f"{where}: expected keys 'R_world_to_cam' (3x3) and 'center_m' (3)")
        try:
            rotation = np.asarray(d["R_world_to_cam"], dtype=np.float64)
            center = np.asarray(d["center_m"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise PoseliftError(f"{where}: R_world_to_cam must be a 3x3 list of numbers and center_m 3 numbers") from None
        if rotation.shape != (3, 3) or center.shape != (3,):
            raise PoseliftError(f"{where}: R_world_to_cam must be 3x3 and center_m 3 numbers, got {list(rotation.shape)} and {list(center.shape)}")
        if not (np.isfinite(rotation).all() and np.isfinite(center).all()):
            raise PoseliftError(f"{where}: R_world_to_cam and center_m must be finite numbers (no NaN/inf)")
        if np.abs(rotation).max() > 1.0 + 1e-3:
            raise PoseliftError(f"{where}: R_world_to_cam is not a rotation matrix (entries beyond ±1)")
        if np.abs(center).max() > MAX_METRES:
            raise PoseliftError(f"{where}: center_m is implausibly far ({np.abs(center).max():.3g} m; limit {MAX_METRES:g} m)")
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4):
            raise PoseliftError(f"{where}: R_world_to_cam is not a rotation matrix")
        return cls(rotation, center)

    def to_dict(self) -> dict:
        return {"R_world_to_cam": self.rotation.tolist(), "center_m": self.center.tolist()}


def load_cameras_json(path: str | Path) -> tuple[dict[str, Intrinsics], dict[str, dict[str, Extrinsics]]]:
    """Read ``cameras.json``: intrinsics by camera id, extrinsics by subject then camera id."""
    path = Path(path)
    if not path.is_file():
        raise PoseliftError(f"camera file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PoseliftError(f"{path} is not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise PoseliftError(f"{path} is not valid JSON: {e}") from None
    except (ValueError, RecursionError) as e:  # e.g. an integer with too many digits, absurd nesting
        raise PoseliftError(f"{path} is not valid JSON: {type(e).__name__}: {str(e)[:100]}") from None
    except OSError as e:
        raise PoseliftError(f"{path} could not be read ({e.strerror or e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("intrinsics"), dict):
        raise PoseliftError(f"{path}: expected an object with 'intrinsics' (by camera id) and 'extrinsics' (by subject)")
    intrinsics = {str(k): Intrinsics.from_dict(v, f"{path}: intrinsics[{k}]") for k, v in data["intrinsics"].items()}
    extrinsics: dict[str, dict[str, Extrinsics]] = {}
    raw_extrinsics = data.get("extrinsics") or {}
    if not isinstance(raw_extrinsics, dict):
        raise PoseliftError(f"{path}: 'extrinsics' must map subjects to camera records, got {type(raw_extrinsics).__name__}")
    for subject, cams in raw_extrinsics.items():
        if not isinstance(cams, dict):
            raise PoseliftError(f"{path}: extrinsics[{subject}] must map camera ids to records")
        extrinsics[str(subject)] = {
            str(c): Extrinsics.from_dict(v, f"{path}: extrinsics[{subject}][{c}]") for c, v in cams.items()
        }
    return intrinsics, extrinsics


# --- frames ------------------------------------------------------------------------


def world_to_camera(points: Array, rotation: Array, center: Array) -> Array:
    """World ``[..., 3]`` (m) → camera frame ``[..., 3]`` (m): ``R (X - c)``."""
    _check_last(points, 3, "points")
    if isinstance(points, torch.Tensor):
        r = torch.as_tensor(rotation, dtype=points.dtype, device=points.device)
        c = torch.as_tensor(center, dtype=points.dtype, device=points.device)
        return (points - c) @ r.T
    return (np.asarray(points) - np.asarray(center)) @ np.asarray(rotation).T


def camera_to_world(points: Array, rotation: Array, center: Array) -> Array:
    """Camera frame ``[..., 3]`` (m) → world ``[..., 3]`` (m): ``Rᵀ Xc + c``."""
    _check_last(points, 3, "points")
    if isinstance(points, torch.Tensor):
        r = torch.as_tensor(rotation, dtype=points.dtype, device=points.device)
        c = torch.as_tensor(center, dtype=points.dtype, device=points.device)
        return points @ r + c
    return np.asarray(points) @ np.asarray(rotation) + np.asarray(center)


# --- screen normalisation --------------------------------------------------------------


def normalize_screen(points: Array, width: float, height: float) -> Array:
    """Pixels ``[..., 2]`` → screen coordinates: ``x/w·2 - 1``, ``y/w·2 - h/w``."""
    _check_last(points, 2, "points")
    if width <= 0 or height <= 0:
        raise PoseliftError(f"image size must be positive, got {width}x{height}")
    offset = [1.0, height / width]
    if isinstance(points, torch.Tensor):
        return points / width * 2 - torch.tensor(offset, dtype=points.dtype, device=points.device)
    return np.asarray(points) / width * 2 - np.asarray(offset)


def image_coordinates(points: Array, width: float, height: float) -> Array:
    """Screen coordinates ``[..., 2]`` → pixels (inverse of :func:`normalize_screen`)."""
    _check_last(points, 2, "points")
    if width <= 0 or height <= 0:
        raise PoseliftError(f"image size must be positive, got {width}x{height}")
    offset = [1.0, height / width]
    if isinstance(points, torch.Tensor):
        return (points + torch.tensor(offset, dtype=points.dtype, device=points.device)) * width / 2
    return (np.asarray(points) + np.asarray(offset)) * width / 2


#: How tall (max − min y over the joints, median over the clip; screen units: half the
#: image width) a person's 2D may be before :func:`oversize_scale` shrinks it: the 99th
#: percentile of the centre-frame 2D height of the ``--recipe wild`` training windows
#: (Human3.6M S1, S5–S8 filmed by the default virtual cameras, detector layout;
#: ``python scripts/diag/input_size.py train``). A person filling a portrait phone frame
#: is 2–3 units tall; the bundled model was never shown anyone taller than about 2.
TRAINED_HEIGHT_P99 = 1.22


def screen_height(points: np.ndarray) -> float:
    """Median over the frames of the 2D height (max − min y over the joints) of
    ``[T, J, 2]`` screen coordinates; NaN joints are ignored, NaN if no frame has any."""
    y = np.asarray(points, dtype=np.float64)[..., 1]
    seen = np.isfinite(y).any(axis=-1)
    if not seen.any():
        return float("nan")
    y = y[seen]
    return float(np.median(np.nanmax(y, axis=-1) - np.nanmin(y, axis=-1)))


def oversize_scale(points: np.ndarray, max_height: float = TRAINED_HEIGHT_P99) -> float:
    """The factor (≤ 1) that brings a person's 2D (``[T, J, 2]`` screen coordinates,
    :func:`screen_height`) down to ``max_height``; 1 when it is not taller.

    Scaling screen coordinates about the principal point by ``s`` is exactly what a lens
    with ``s`` times the focal length would show from the same place: the 3D pose, and
    the perspective within the body, are unchanged. A lifter that has never seen a
    person this large in the frame (a portrait clip, someone close to the camera) can
    then be given an input the size of its training data."""
    if not (max_height > 0):
        raise PoseliftError(f"`max_height` must be a positive number of screen units, got {max_height!r}")
    height = screen_height(points)
    return min(1.0, max_height / height) if np.isfinite(height) and height > 0 else 1.0


# --- projection ----------------------------------------------------------------------


def _broadcast_params(points: Array, intrinsics: Array) -> Array:
    """Intrinsics ``[..., 9]`` reshaped to broadcast against points ``[..., J, 3]``."""
    _check_last(intrinsics, 9, "intrinsics")
    _check_last(points, 3, "points")
    if isinstance(points, torch.Tensor):
        intr = torch.as_tensor(intrinsics, dtype=points.dtype, device=points.device)
    else:
        intr = np.asarray(intrinsics, dtype=np.result_type(points.dtype, np.float32))
    extra = points.ndim - intr.ndim
    if extra < 0:
        raise PoseliftError(f"intrinsics {list(intr.shape)} have more batch dimensions than points {list(points.shape)}")
    # [B..., 9] → [B..., 1 (per extra dim), 9]
    return intr.reshape(tuple(intr.shape[:-1]) + (1,) * extra + (9,))


def project_to_2d(points_cam: Array, intrinsics: Array) -> Array:
    """Camera-frame ``[..., 3]`` (m) → image ``[..., 2]`` with radial + tangential distortion.

    ``intrinsics`` is ``[9]`` or batched ``[B..., 9]`` matching the leading
    dimensions of ``points_cam``: pixel vectors give pixels, normalised vectors
    give screen coordinates. The torch path clamps ``x/z, y/z`` to ``[-1, 1]`` so a
    wild prediction behind or beside the camera cannot blow up the distortion
    polynomial during training (valid Human3.6M/HumanEva points lie well inside).
    """
    p = _broadcast_params(points_cam, intrinsics)
    f, c, k, t = p[..., 0:2], p[..., 2:4], p[..., 4:7], p[..., 7:9]
    if isinstance(points_cam, torch.Tensor):
        xy = torch.clamp(points_cam[..., :2] / points_cam[..., 2:3], -1, 1)
    else:
        xy = points_cam[..., :2] / points_cam[..., 2:3]
    r2 = (xy[..., 0:1] ** 2 + xy[..., 1:2] ** 2)
    radial = 1 + k[..., 0:1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
    tan = (xy * t).sum(-1, keepdims=True) if isinstance(xy, np.ndarray) else (xy * t).sum(-1, keepdim=True)
    xy_d = xy * (radial + tan) + t * r2
    return f * xy_d + c


def project_to_2d_linear(points_cam: Array, intrinsics: Array) -> Array:
    """Pinhole projection (distortion ignored): ``u = fx x/z + cx``, ``v = fy y/z + cy``."""
    p = _broadcast_params(points_cam, intrinsics)
    f, c = p[..., 0:2], p[..., 2:4]
    if isinstance(points_cam, torch.Tensor):
        xy = torch.clamp(points_cam[..., :2] / points_cam[..., 2:3], -1, 1)
    else:
        xy = points_cam[..., :2] / points_cam[..., 2:3]
    return f * xy + c


def fit_root_position(
    pose_relative: np.ndarray,
    keypoints: np.ndarray,
    intrinsics: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    robust_iterations: int = 0,
    robust_scale: float = 0.05,
) -> np.ndarray:
    """Root position ``[..., 3]`` (camera frame, metres) that best places a root-relative
    pose ``[..., J, 3]`` (metres) onto its 2D keypoints ``[..., J, 2]`` through a pinhole
    camera (``intrinsics`` ``[9]``, in the units of ``keypoints``; distortion ignored).

    Linear least squares on the algebraic reprojection error, one 3×3 solve per frame:
    for each joint, ``T_x − u T_z = u Z − X`` and ``T_y − v T_z = v Z − Y`` with
    ``u, v`` the keypoint in normalised camera coordinates. ``weights`` ``[..., J]``
    (e.g. confidences) default to 1; joints whose keypoint is not finite are left out.
    ``robust_iterations`` > 0 re-solves that many times with Cauchy weights
    ``1 / (1 + (r / (robust_scale · h))²)``, ``r`` a joint's reprojection error and ``h``
    the keypoints' vertical extent, so a few wrong keypoints (a detector that swapped
    left and right) pull less. A frame with fewer than two usable joints (or all at one
    2D point) gets NaN.
    """
    pose = np.asarray(pose_relative, dtype=np.float64)
    kp = np.asarray(keypoints, dtype=np.float64)
    intr = np.asarray(intrinsics, dtype=np.float64)
    if pose.shape[-1] != 3 or kp.shape[-1] != 2 or pose.shape[:-1] != kp.shape[:-1] or intr.shape != (9,):
        raise PoseliftError(
            f"fit_root_position: expected pose [..., J, 3], keypoints [..., J, 2] and intrinsics [9], got "
            f"{list(pose.shape)}, {list(kp.shape)}, {list(intr.shape)}"
        )
    w = np.ones(kp.shape[:-1]) if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), kp.shape[:-1])
    usable = np.isfinite(kp).all(-1) & np.isfinite(pose).all(-1) & np.isfinite(w) & (w > 0)
    w = np.where(usable, w, 0.0)
    kp = np.where(usable[..., None], kp, 0.0)
    pose = np.where(usable[..., None], pose, 0.0)
    uv = (kp - intr[2:4]) / intr[0:2]
    root = _solve_root(pose, uv, w)
    if robust_iterations > 0:
        ys = np.where(usable, kp[..., 1], np.nan)
        height = np.nan_to_num(np.fmax.reduce(ys, axis=-1) - np.fmin.reduce(ys, axis=-1), nan=1.0)  # NaN: no usable joint
        scale = robust_scale * np.maximum(height, 1e-12)[..., None]
        for _ in range(robust_iterations):
            with np.errstate(invalid="ignore", divide="ignore"):  # NaN frames stay NaN
                residual = np.linalg.norm(project_to_2d_linear(pose + root[..., None, :], intr) - kp, axis=-1)
            cauchy = np.where(np.isfinite(residual), 1.0 / (1.0 + (residual / scale) ** 2), 0.0)
            root = _solve_root(pose, uv, w * cauchy)
    return root


def _solve_root(pose: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted normal equations of :func:`fit_root_position` (zero weight = unused)."""
    u, v = uv[..., 0], uv[..., 1]
    b1 = u * pose[..., 2] - pose[..., 0]
    b2 = v * pose[..., 2] - pose[..., 1]
    sw, swu, swv = w.sum(-1), (w * u).sum(-1), (w * v).sum(-1)
    normal = np.zeros(w.shape[:-1] + (3, 3))
    normal[..., 0, 0] = normal[..., 1, 1] = sw
    normal[..., 0, 2] = normal[..., 2, 0] = -swu
    normal[..., 1, 2] = normal[..., 2, 1] = -swv
    normal[..., 2, 2] = (w * (u * u + v * v)).sum(-1)
    rhs = np.stack([(w * b1).sum(-1), (w * b2).sum(-1), -(w * (u * b1 + v * b2)).sum(-1)], -1)
    with np.errstate(invalid="ignore", divide="ignore"):  # frames without usable joints: sw = 0
        spread = normal[..., 2, 2] / sw - (swu / sw) ** 2 - (swv / sw) ** 2
    ok = ((w > 0).sum(-1) >= 2) & (spread > 1e-12)  # two distinct 2D points at least
    normal[~ok] = np.eye(3)
    root = np.linalg.solve(normal, rhs[..., None])[..., 0]
    root[~ok] = np.nan
    return root
