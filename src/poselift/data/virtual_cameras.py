"""Augmentation for in-the-wild training: random virtual cameras and detector-like noise.

The ``wild`` training recipe (``poselift train --recipe wild``) does not use the four
fixed Human3.6M cameras: every training window is filmed by a fresh random pinhole
camera (:func:`sample_cameras`), converted to the joint layout that
:mod:`poselift.skeleton` produces from COCO / BlazePose detections
(:func:`detector_layout_from_h36m`) and corrupted the way real 2D detections are
(:func:`corrupt_keypoints`). Targets stay the motion-capture H36M-17 joints.

Everything is vectorised torch (one call per batch, no per-sample Python loop) and
draws its randomness from an explicit :class:`torch.Generator`, so a batch is a
deterministic function of the generator state.

Frames and units (see :mod:`poselift.camera`): world metres, z up; camera frame
x right, y down, z forward; screen coordinates are pixels normalised by the image
width (``x/w·2 - 1``, ``y/w·2 - h/w``); normalised intrinsics
``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` with ``f_n = 2 f / w`` (pinhole: no
distortion).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np
import torch

from poselift import camera as cam
from poselift.camera import project_to_2d
from poselift.data.datasets import Sequence as ViewSequence
from poselift.data.datasets import WorldSequence
from poselift.data.windows import Batch, Shard, flip_keypoints, pad_sequence
from poselift.errors import PoseliftError
from poselift.skeleton import H36M_17, Skeleton

#: Input layout names stored in checkpoint metadata (``input_layout``).
INPUT_LAYOUT_MOCAP = "h36m17"
INPUT_LAYOUT_DETECTOR = "h36m17-detector"
INPUT_LAYOUTS = (INPUT_LAYOUT_MOCAP, INPUT_LAYOUT_DETECTOR)

#: Detector-layout Head = Neck/Nose + HEAD_EYE_LERP · (Head − Neck/Nose). An
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


# --------------------------------------------------------------------- cameras
@dataclass(frozen=True)
class VirtualCameraConfig:
    """Ranges of the random virtual cameras (every range is sampled uniformly).

    * ``yaw_deg``: azimuth of the camera around the subject (world z up), degrees.
    * ``elevation_deg``: angle of the camera above the subject's root, degrees
      (negative: looking up at the subject).
    * ``distance_m``: distance from the camera to the aimed root joint, metres.
    * ``roll_deg``: rotation about the optical axis, ``±roll_deg`` degrees.
    * ``fov_deg``: horizontal field of view, degrees; normalised focal length
      ``2 f / w = 1 / tan(fov / 2)`` (40°..90° → 2.75..1.0).
    * ``aspects``: image aspect ratios ``h / w`` to choose from (portrait and
      landscape); they bound the vertical aim offset.
    * ``principal_offset``: principal point offset from the image centre,
      ``±principal_offset · w`` on each axis.
    * ``aim_offset``: the root is placed at a random image point up to
      ``±aim_offset`` of the image width / height away from the image centre, so the
      person is not always centred.
    * ``min_depth_m``: every joint of the window must be at least this far in front
      of the camera; cameras that would see a joint closer are moved back along the
      ray through the root (the root keeps its aimed image point).
    """

    yaw_deg: tuple[float, float] = (0.0, 360.0)
    elevation_deg: tuple[float, float] = (-10.0, 45.0)
    distance_m: tuple[float, float] = (2.5, 8.0)
    roll_deg: float = 5.0
    fov_deg: tuple[float, float] = (40.0, 90.0)
    aspects: tuple[float, ...] = (9 / 16, 3 / 4, 1.0, 4 / 3, 16 / 9)
    principal_offset: float = 0.03
    aim_offset: float = 0.25
    min_depth_m: float = 0.5

    def __post_init__(self) -> None:
        for name in ("yaw_deg", "elevation_deg", "distance_m", "fov_deg"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise PoseliftError(f"VirtualCameraConfig.{name}: low {lo} > high {hi}")
        if not (-90 < self.elevation_deg[0] and self.elevation_deg[1] < 90):
            raise PoseliftError(f"VirtualCameraConfig.elevation_deg must lie inside (-90, 90), got {self.elevation_deg}")
        if not (0 < self.fov_deg[0] and self.fov_deg[1] < 180):
            raise PoseliftError(f"VirtualCameraConfig.fov_deg must lie inside (0, 180), got {self.fov_deg}")
        if self.distance_m[0] <= 0 or self.min_depth_m <= 0:
            raise PoseliftError("VirtualCameraConfig: distance_m and min_depth_m must be positive")
        if not self.aspects or min(self.aspects) <= 0:
            raise PoseliftError(f"VirtualCameraConfig.aspects must be positive ratios h/w, got {self.aspects}")
        if self.roll_deg < 0 or self.principal_offset < 0 or self.aim_offset < 0:
            raise PoseliftError("VirtualCameraConfig: roll_deg, principal_offset and aim_offset must be >= 0")

    def focal_range(self) -> tuple[float, float]:
        """(min, max) normalised focal length ``2 f / w`` of the sampled cameras."""
        return 1.0 / math.tan(math.radians(self.fov_deg[1]) / 2), 1.0 / math.tan(math.radians(self.fov_deg[0]) / 2)

    def focal_reference(self) -> float:
        """Median normalised focal length (that of the median field of view).

        A model trained on these cameras cannot tell focal length from distance; with a
        broad distance prior its best depth estimate (for the inverse-depth weighted
        trajectory loss) corresponds to the median focal length, so this is what
        ``poselift infer`` should rescale from (metadata ``focal_normalized``).
        """
        return 1.0 / math.tan(math.radians(sum(self.fov_deg) / 2) / 2)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: Named camera distributions for ``poselift evaluate --virtual-cameras``:
#: ``wild`` is the training prior (:class:`VirtualCameraConfig` defaults);
#: ``studio`` has the Human3.6M studio cameras' geometry (field of view 47°, 7–10° above
#: the subject's root, 4.4–5.7 m away) at a random azimuth, framed like ``wild``;
#: ``studio-centered`` also drops the roll and the off-centre framing (subject at the
#: image centre, principal point centred), so it differs from the studio only in
#: azimuth and lens distortion.
VIRTUAL_CAMERA_PRESETS: dict[str, dict[str, Any]] = {
    "wild": {},
    "studio": {"fov_deg": (46.5, 47.5), "elevation_deg": (7.0, 10.0), "distance_m": (4.4, 5.7)},
    "studio-centered": {
        "fov_deg": (46.5, 47.5), "elevation_deg": (7.0, 10.0), "distance_m": (4.4, 5.7),
        "roll_deg": 0.0, "aim_offset": 0.0, "principal_offset": 0.0,
    },
}


def virtual_camera_config(preset: str = "wild", overrides: Sequence[str] = ()) -> VirtualCameraConfig:
    """A :class:`VirtualCameraConfig` from a preset name (:data:`VIRTUAL_CAMERA_PRESETS`)
    and ``NAME=VALUE`` overrides: ``fov_deg=60,70`` for a range, ``roll_deg=0`` for a
    number, ``aspects=0.5625,1.7778`` for the aspect list (degrees, metres, fractions of
    the image width as documented on the class)."""
    if preset not in VIRTUAL_CAMERA_PRESETS:
        raise PoseliftError(f"unknown virtual camera preset {preset!r}; expected one of {sorted(VIRTUAL_CAMERA_PRESETS)}")
    fields = asdict(VirtualCameraConfig())
    values = dict(VIRTUAL_CAMERA_PRESETS[preset])
    for item in overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise PoseliftError(
                f"virtual camera setting {item!r}: expected NAME=VALUE with NAME one of {sorted(fields)}"
            )
        try:
            numbers = tuple(float(t) for t in text.split(","))
        except ValueError:
            raise PoseliftError(f"virtual camera setting {item!r}: VALUE must be comma-separated numbers") from None
        default = fields[name]
        if isinstance(default, tuple) and name != "aspects" and len(numbers) != 2:
            raise PoseliftError(f"virtual camera setting {item!r}: {name} is a range, give LOW,HIGH")
        if not isinstance(default, tuple) and len(numbers) != 1:
            raise PoseliftError(f"virtual camera setting {item!r}: {name} is one number")
        if not all(math.isfinite(x) for x in numbers):
            raise PoseliftError(f"virtual camera setting {item!r}: values must be finite")
        values[name] = numbers if isinstance(default, tuple) else numbers[0]
    return VirtualCameraConfig(**values)


class CameraBatch(NamedTuple):
    """``n`` pinhole cameras: rotation ``[n, 3, 3]`` (R_world_to_cam, rows right /
    down / forward), centre ``[n, 3]`` (world metres), normalised intrinsics ``[n, 9]``."""

    rotation: torch.Tensor
    center: torch.Tensor
    intrinsics: torch.Tensor


def _skew(v: torch.Tensor) -> torch.Tensor:
    """``[n, 3]`` → cross-product matrices ``[n, 3, 3]``."""
    z = torch.zeros_like(v[:, 0])
    return torch.stack(
        [
            torch.stack([z, -v[:, 2], v[:, 1]], -1),
            torch.stack([v[:, 2], z, -v[:, 0]], -1),
            torch.stack([-v[:, 1], v[:, 0], z], -1),
        ],
        -2,
    )


def sample_cameras(
    n: int,
    cfg: VirtualCameraConfig,
    root_world: torch.Tensor | np.ndarray,
    generator: torch.Generator,
    *,
    points: torch.Tensor | None = None,
) -> CameraBatch:
    """Sample ``n`` random pinhole cameras aimed at ``root_world`` ``[n, 3]``.

    Camera ``i`` sits ``distance`` m from ``root_world[i]`` at the sampled yaw and
    elevation, looks at it (like :func:`poselift.synthetic.look_at_camera`), is rolled
    about its optical axis and then turned so that the root projects to a random
    image point (``aim_offset``). ``points`` ``[n, ..., 3]`` (world metres, e.g. the
    whole window) enables the ``min_depth_m`` guarantee: cameras are moved back along
    the ray through the root until every point has ``z_cam >= min_depth_m``.
    """
    cams, ray = _sample_cameras(n, cfg, root_world, generator)
    if points is None:
        return cams
    pts = torch.as_tensor(points, dtype=cams.center.dtype, device=cams.center.device).reshape(n, -1, 3)
    z = ((pts - cams.center[:, None]) @ cams.rotation[:, 2:3].transpose(1, 2))[..., 0]  # [n, M]
    return cams._replace(center=_push_back(cams, ray, z.amin(dim=1), cfg.min_depth_m)[0])


def _push_back(cams: CameraBatch, ray: torch.Tensor, z_min: torch.Tensor, min_depth: float):
    """Move cameras back along the ray through their target (world direction ``Rᵀ ray``)
    so that the nearest point (camera depth ``z_min`` ``[n]``) is ``min_depth`` away;
    every camera-frame point then moves by ``push · ray``. Returns (centre, push)."""
    push = torch.clamp(min_depth - z_min, min=0) / ray[:, 2]
    center = cams.center - push[:, None] * (cams.rotation.transpose(1, 2) @ ray[:, :, None])[..., 0]
    return center, push


def _sample_cameras(
    n: int, cfg: VirtualCameraConfig, root_world: torch.Tensor | np.ndarray, generator: torch.Generator
) -> tuple[CameraBatch, torch.Tensor]:
    """:func:`sample_cameras` without the depth guarantee; also returns the unit ray
    ``[n, 3]`` (camera frame) on which the target lies."""
    root = torch.as_tensor(root_world)
    if not root.is_floating_point():
        root = root.float()
    if root.shape != (n, 3):
        raise PoseliftError(f"root_world must be shaped [{n}, 3], got {list(root.shape)}")
    dt = root.dtype
    dev = root.device  # the generator must live on the same device
    u = torch.rand(n, 10, generator=generator, dtype=dt, device=dev)

    def between(col: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * u[:, col]

    def sym(col: int, amp: float) -> torch.Tensor:
        return amp * (2 * u[:, col] - 1)

    yaw = torch.deg2rad(between(0, *cfg.yaw_deg))
    elevation = torch.deg2rad(between(1, *cfg.elevation_deg))
    distance = between(2, *cfg.distance_m)
    roll = torch.deg2rad(sym(3, cfg.roll_deg))
    fov = torch.deg2rad(between(4, *cfg.fov_deg))
    focal = 1.0 / torch.tan(fov / 2)
    aspects = torch.tensor(cfg.aspects, dtype=dt, device=dev)
    aspect = aspects[torch.clamp((u[:, 5] * len(cfg.aspects)).long(), max=len(cfg.aspects) - 1)]
    # principal point and aim point in screen units (image centre = 0; 1 unit = w/2)
    cx, cy = sym(6, 2 * cfg.principal_offset), sym(7, 2 * cfg.principal_offset)
    sx, sy = sym(8, 2 * cfg.aim_offset), sym(9, 2 * cfg.aim_offset) * aspect

    # look-at: camera on a sphere around the root, z up
    cos_el = torch.cos(elevation)
    out_dir = torch.stack([cos_el * torch.sin(yaw), -cos_el * torch.cos(yaw), torch.sin(elevation)], -1)
    center = root + distance[:, None] * out_dir
    forward = -out_dir
    up = torch.tensor([0.0, 0.0, 1.0], dtype=dt, device=dev).expand(n, 3)
    right = torch.linalg.cross(forward, up)
    right = right / torch.linalg.vector_norm(right, dim=-1, keepdim=True)
    down = torch.linalg.cross(forward, right)
    look = torch.stack([right, down, forward], 1)  # rows: camera x, y, z in world coordinates
    c, s = torch.cos(roll), torch.sin(roll)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    rolled = torch.stack(
        [torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1), torch.stack([zero, zero, one], -1)], -2
    )
    # aim: the minimal rotation taking the optical axis e_z to the ray (a, b, 1) of the
    # chosen image point, so the root (on the optical axis so far) projects there
    ray = torch.stack([(sx - cx) / focal, (sy - cy) / focal, torch.ones_like(sx)], -1)
    ray = ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True)
    v = torch.stack([-ray[:, 1], ray[:, 0], torch.zeros_like(sx)], -1)  # e_z × ray
    k = _skew(v)
    aim = torch.eye(3, dtype=dt, device=dev) + k + (k @ k) / (1 + ray[:, 2])[:, None, None]
    rotation = aim @ rolled @ look
    intrinsics = torch.zeros(n, 9, dtype=dt, device=dev)
    intrinsics[:, 0] = focal
    intrinsics[:, 1] = focal
    intrinsics[:, 2] = cx
    intrinsics[:, 3] = cy
    return CameraBatch(rotation, center, intrinsics), ray


#: image width (pixels) of the views :func:`film_with_virtual_cameras` makes
VIRTUAL_IMAGE_WIDTH = 1000


def film_with_virtual_cameras(
    world: Sequence[WorldSequence], views: int, generator: torch.Generator, cfg: VirtualCameraConfig | None = None
) -> list[ViewSequence]:
    """Film each world recording with ``views`` static random cameras (``cfg``, default
    :class:`VirtualCameraConfig`): the evaluation counterpart of the ``wild`` training
    cameras, for testing a model away from the dataset's own cameras.

    Each camera is aimed at the recording's mean root position and pushed back until
    every joint of every frame is ``min_depth_m`` in front. Returns one
    :class:`~poselift.data.datasets.Sequence` per view: exact pinhole 2D in pixels of a
    square ``VIRTUAL_IMAGE_WIDTH`` image (mocap H36M-17 layout) and camera-frame 3D
    (metres); camera ids ``virtual-0`` … ``virtual-{views-1}``.
    """
    if views < 1:
        raise PoseliftError(f"views must be >= 1, got {views}")
    cfg = cfg or VirtualCameraConfig()
    w = h = VIRTUAL_IMAGE_WIDTH
    out: list[ViewSequence] = []
    for rec in world:
        pts = torch.as_tensor(rec.positions_world, dtype=torch.float64)  # [T, J, 3]
        root = pts[:, 0].mean(0).expand(views, 3)
        cams = sample_cameras(views, cfg, root, generator, points=pts.expand(views, *pts.shape))
        for v in range(views):
            pc = cam.world_to_camera(pts.numpy(), cams.rotation[v].numpy(), cams.center[v].numpy())
            k = cams.intrinsics[v].numpy()
            screen = cam.project_to_2d_linear(pc, k)  # numpy: no clamping of x/z, y/z at the image edge
            f, c = k[:2] * w / 2, cam.image_coordinates(k[2:4], w, h)
            intr = cam.Intrinsics((float(f[0]), float(f[1])), (float(c[0]), float(c[1])), width=w, height=h)
            kp = cam.image_coordinates(screen, w, h).astype(np.float32)
            out.append(ViewSequence(rec.subject, rec.name, f"virtual-{v}", kp, pc.astype(np.float32), intr, rec.fps))
    return out


def to_camera(points_world: torch.Tensor, rotation: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """World ``[n, ..., 3]`` → camera frame with per-item cameras: ``R_i (X - c_i)``."""
    n = points_world.shape[0]
    flat = points_world.reshape(n, -1, 3) - center[:, None]
    return (flat @ rotation.transpose(1, 2)).reshape(points_world.shape)


def project_pinhole(points_cam: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Camera frame ``[n, ..., 3]`` → screen ``[n, ..., 2]`` with per-item normalised
    pinhole intrinsics ``[n, 9]`` (``f · (x/z, y/z) + c``; distortion ignored, no clamp)."""
    shape = (intrinsics.shape[0],) + (1,) * (points_cam.ndim - 2)
    f = intrinsics[:, 0:2].reshape(shape + (2,))
    c = intrinsics[:, 2:4].reshape(shape + (2,))
    return points_cam[..., :2] / points_cam[..., 2:3] * f + c


# ------------------------------------------------------------------------- layout
def detector_layout_from_h36m(points):
    """Motion-capture H36M-17 ``[..., 17, D]`` → the H36M-17 layout that
    :mod:`poselift.skeleton` builds from COCO-17 / BlazePose-33 detections.

    * Hip = mean(RHip, LHip); Thorax = mean(LShoulder, RShoulder);
      Spine = midpoint of (new) Hip and Thorax;
    * Neck/Nose = mocap Neck/Nose (the detector's nose);
    * Head = Neck/Nose + :data:`HEAD_EYE_LERP` · (Head − Neck/Nose): an approximation
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


# -------------------------------------------------------------------------- noise
@dataclass(frozen=True)
class NoiseConfig:
    """Detector-like corruption of 2D keypoints. Every magnitude is a fraction of the
    person's 2D bounding-box height ``h`` (y extent of the joints) in that frame.

    * jitter: per-frame Gaussian noise, σ = s · h with s ~ U(0, ``jitter_max``) per window;
    * bias: a per-window, per-joint constant offset of length U(0, ``bias_max``) · h in a
      random direction;
    * outliers: each joint-frame with probability ``outlier_prob`` is displaced by
      U(``outlier_range``) · h in a random direction;
    * left/right confusion: with probability ``swap_prob`` per window one limb pair of
      ``limbs`` (default: legs, arms) swaps sides for U{``swap_frames``} frames;
    * missed detections: with probability ``gap_prob`` per window U{``gap_joints``}
      joints lose U{``gap_frames``} consecutive frames (strictly inside the window),
      which are replaced by linear interpolation between the frames before and after
      the gap: what ``poselift infer`` does (:func:`poselift.pipeline.fill_gaps`);
    * clean windows: with probability ``clean_prob`` a window keeps its exact input
      (drawn after everything else, so 0 leaves the random stream unchanged).

    ``limbs`` are ``(left indices, right indices)`` pairs; None means
    :data:`H36M17_LIMBS`.
    """

    jitter_max: float = 0.03
    bias_max: float = 0.02
    outlier_prob: float = 0.01
    outlier_range: tuple[float, float] = (0.05, 0.2)
    gap_prob: float = 0.3
    gap_joints: tuple[int, int] = (1, 3)
    gap_frames: tuple[int, int] = (1, 10)
    swap_prob: float = 0.02
    swap_frames: tuple[int, int] = (2, 8)
    clean_prob: float = 0.0
    limbs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] | None = None

    def __post_init__(self) -> None:
        for name in ("jitter_max", "bias_max"):
            if getattr(self, name) < 0:
                raise PoseliftError(f"NoiseConfig.{name} must be >= 0")
        for name in ("outlier_prob", "gap_prob", "swap_prob", "clean_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise PoseliftError(f"NoiseConfig.{name} must be a probability in [0, 1]")
        for name in ("outlier_range", "gap_joints", "gap_frames", "swap_frames"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise PoseliftError(f"NoiseConfig.{name} must be a range 0 <= low <= high, got {(lo, hi)}")
        if self.gap_frames[0] < 1 or self.gap_joints[0] < 1 or self.swap_frames[0] < 1:
            raise PoseliftError("NoiseConfig: gap_frames, gap_joints and swap_frames must start at >= 1")

    @classmethod
    def off(cls) -> "NoiseConfig":
        """No corruption at all (:func:`corrupt_keypoints` returns its input)."""
        return cls(jitter_max=0.0, bias_max=0.0, outlier_prob=0.0, gap_prob=0.0, swap_prob=0.0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["limbs"] = [[list(a), list(b)] for a, b in (H36M17_LIMBS if self.limbs is None else self.limbs)]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def limbs_for(skeleton: Skeleton) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Swappable limbs of a layout: H36M-17 legs and arms, else each left/right pair."""
    if skeleton.name == H36M_17.name:
        return H36M17_LIMBS
    return tuple(((left,), (right,)) for left, right in zip(skeleton.joints_left, skeleton.joints_right))


def _random_directions(shape: tuple[int, ...], generator: torch.Generator, dtype) -> torch.Tensor:
    angle = torch.rand(shape, generator=generator, dtype=dtype, device=generator.device) * (2 * math.pi)
    return torch.stack([torch.cos(angle), torch.sin(angle)], -1)


def corrupt_keypoints(
    kp: torch.Tensor, generator: torch.Generator, cfg: NoiseConfig | None = None, *, masked: bool | None = None
) -> torch.Tensor:
    """Corrupt screen-coordinate windows ``[B, T, J, 2]`` like a 2D detector (see
    :class:`NoiseConfig`); returns a new tensor. Order: jitter, bias, outliers, limb
    swaps, then gaps (interpolated from the corrupted frames around them).

    ``masked``: apply the swaps, gaps and clean windows with masks over the whole batch
    instead of selecting the affected windows. Same result; no host synchronisation,
    so a GPU can run ahead, but more arithmetic, which a CPU pays for. Default: masks
    everywhere but on the CPU."""
    cfg = NoiseConfig() if cfg is None else cfg
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise PoseliftError(f"keypoints must be shaped [windows, frames, joints, 2], got {list(kp.shape)}")
    b, t, j, _ = kp.shape
    dt, dev = kp.dtype, kp.device  # the generator must live on kp's device
    masked = dev.type != "cpu" if masked is None else masked
    x = kp.clone()
    if b == 0:
        return x
    low, high = torch.aminmax(kp[..., 1], dim=-1)
    height = torch.clamp(high - low, min=1e-6)[..., None, None]  # [B, T, 1, 1]
    if cfg.jitter_max > 0:
        sigma = torch.rand(b, 1, 1, 1, generator=generator, dtype=dt, device=dev) * cfg.jitter_max
        x += torch.randn(b, t, j, 2, generator=generator, dtype=dt, device=dev) * (sigma * height)
    if cfg.bias_max > 0:
        size = torch.rand(b, 1, j, 1, generator=generator, dtype=dt, device=dev) * cfg.bias_max
        x += _random_directions((b, 1, j), generator, dt) * size * height
    if cfg.outlier_prob > 0:
        # Binomial number of hits, then that many random joint-frames: O(hits), not O(B·T·J)
        # (a joint-frame drawn twice is displaced once)
        total = b * t * j
        m = int(torch.binomial(torch.tensor(float(total), device=dev), torch.tensor(float(cfg.outlier_prob), device=dev), generator=generator))
        flat = torch.randint(0, total, (m,), generator=generator, device=dev)
        hit = (flat // (t * j), (flat // j) % t, flat % j)
        lo, hi = cfg.outlier_range
        size = (lo + (hi - lo) * torch.rand(m, 1, generator=generator, dtype=dt, device=dev)) * height[hit[0], hit[1], 0]
        x[hit] += _random_directions((m,), generator, dt) * size
    limbs = H36M17_LIMBS if cfg.limbs is None else cfg.limbs
    if cfg.swap_prob > 0 and limbs:
        tables = torch.arange(j, device=dev).repeat(len(limbs), 1)  # [L, J]
        for i, (left, right) in enumerate(limbs):
            if max(left + right) >= j or len(left) != len(right):
                raise PoseliftError(f"NoiseConfig.limbs {limbs} do not fit {j} joints")
            tables[i, list(left)] = torch.tensor(right, device=dev)
            tables[i, list(right)] = torch.tensor(left, device=dev)
        swap = torch.rand(b, generator=generator, device=dev) < cfg.swap_prob
        limb = torch.randint(0, len(limbs), (b,), generator=generator, device=dev)
        length = torch.clamp(torch.randint(cfg.swap_frames[0], cfg.swap_frames[1] + 1, (b,), generator=generator, device=dev), max=t)
        start = (torch.rand(b, generator=generator, device=dev) * (t - length + 1)).long()
        if masked:
            frames = torch.arange(t, device=dev)
            active = swap[:, None] & (frames >= start[:, None]) & (frames < (start + length)[:, None])  # [B, T]
            index = torch.where(active[..., None], tables[limb][:, None, :], torch.arange(j, device=dev))  # [B, T, J]
            x = torch.gather(x, 2, index[..., None].expand(b, t, j, 2))
        elif len(sel := swap.nonzero()[:, 0]):  # only the few affected windows are touched
            frames = torch.arange(t, device=dev)
            active = (frames >= start[sel, None]) & (frames < (start + length)[sel, None])  # [S, T]
            index = torch.where(active[..., None], tables[limb[sel]][:, None, :], torch.arange(j, device=dev))  # [S, T, J]
            x[sel] = torch.gather(x[sel], 2, index[..., None].expand(len(sel), t, j, 2))
    if cfg.gap_prob > 0 and t >= 3:
        has_gap = torch.rand(b, generator=generator, device=dev) < cfg.gap_prob
        count = torch.randint(cfg.gap_joints[0], cfg.gap_joints[1] + 1, (b,), generator=generator, device=dev)
        rank = torch.rand(b, j, generator=generator, device=dev).argsort(-1).argsort(-1)
        chosen = rank < count[:, None]  # [B, J]: `count` distinct random joints
        length = torch.clamp(torch.randint(cfg.gap_frames[0], cfg.gap_frames[1] + 1, (b,), generator=generator, device=dev), max=t - 2)
        start = 1 + (torch.rand(b, generator=generator, device=dev) * (t - 1 - length)).long()  # gap in [1, T-2], edges inside
        start = torch.minimum(start, t - 1 - length)
        frames = torch.arange(t, device=dev)
        if masked:
            in_gap = has_gap[:, None] & (frames >= start[:, None]) & (frames < (start + length)[:, None])  # [B, T]
            rows = torch.arange(b, device=dev)
            before = x[rows, start - 1][:, None]  # [B, 1, J, 2]: the (corrupted) frames around the gap
            after = x[rows, start + length][:, None]
            w = ((frames[None] - start[:, None] + 1).to(dt) / (length[:, None] + 1).to(dt))[..., None, None]
            x = torch.where((in_gap[:, :, None] & chosen[:, None, :])[..., None], before + (after - before) * w, x)
        else:
            sel = has_gap.nonzero()[:, 0]
            in_gap = (frames >= start[sel, None]) & (frames < (start + length)[sel, None])  # [S, T]
            si, ti, ji = (in_gap[:, :, None] & chosen[sel, None, :]).nonzero(as_tuple=True)
            bi = sel[si]
            before = x[bi, start[bi] - 1, ji]  # [G, 2]: the (corrupted) frames around the gap
            after = x[bi, start[bi] + length[bi], ji]
            w = ((ti - start[bi] + 1).to(dt) / (length[bi] + 1).to(dt))[:, None]
            x[bi, ti, ji] = before + (after - before) * w
    if cfg.clean_prob > 0:
        clean = torch.rand(b, generator=generator, device=dev) < cfg.clean_prob
        if masked:
            x = torch.where(clean[:, None, None, None], kp, x)
        else:
            x[clean] = kp[clean]
    return x


def corrupt_sequence(
    keypoints: np.ndarray, generator: torch.Generator, cfg: NoiseConfig | None = None, chunk_frames: int = 27
) -> np.ndarray:
    """Corrupt one whole sequence ``[T, J, 2]`` (screen coordinates): it is cut into
    consecutive chunks of ``chunk_frames`` frames (the last one edge-padded), each
    corrupted as one training window by :func:`corrupt_keypoints`."""
    x = torch.as_tensor(np.asarray(keypoints, dtype=np.float32))
    t = x.shape[0]
    chunk = max(1, int(chunk_frames))
    n = -(-t // chunk)
    padded = x[torch.clamp(torch.arange(n * chunk), max=t - 1)]
    out = corrupt_keypoints(padded.reshape(n, chunk, *x.shape[1:]), generator, cfg)
    return out.reshape(n * chunk, *x.shape[1:])[:t].numpy()


# ---------------------------------------------------------------------- dataset
def flip_batch(inputs, targets, trajectory, intrinsics, flipped, perm, *, masked: bool | None = None):
    """Mirror the selected items of a batch: negate x of 2D and 3D, swap left/right
    (``perm``), negate the trajectory x and the principal point ``cx``. ``masked``
    (default: off on the CPU): mirror every item and keep the selected ones, with no
    host synchronisation (see :func:`corrupt_keypoints`); the same result."""
    if masked if masked is not None else inputs.device.type != "cpu":
        keep = flipped[:, None, None, None]
        inputs = torch.where(keep, flip_keypoints(inputs, perm), inputs)
        targets = torch.where(keep, flip_keypoints(targets, perm), targets)
    else:
        sel = flipped.nonzero()[:, 0]
        inputs, targets = inputs.clone(), targets.clone()
        inputs[sel] = flip_keypoints(inputs[sel], perm)
        targets[sel] = flip_keypoints(targets[sel], perm)
    trajectory = torch.where(flipped[:, None, None], trajectory * torch.tensor([-1.0, 1.0, 1.0], dtype=trajectory.dtype, device=trajectory.device), trajectory)
    sign = torch.tensor([1, 1, -1, 1, 1, 1, 1, -1, 1], dtype=intrinsics.dtype, device=intrinsics.device)
    intrinsics = torch.where(flipped[:, None], intrinsics * sign, intrinsics)
    return inputs, targets, trajectory, intrinsics


class WildWindowDataset:
    """Training windows of world-frame H36M-17 motion seen by random virtual cameras.

    world: per-sequence ``[T, 17, 3]`` world metres (z up). They are edge-padded and
    concatenated once; a batch is one gather of ``[B, RF, 17, 3]`` world windows, then
    per window: a static random camera aimed at the output frame's root
    (:func:`sample_cameras`, every joint of the window in front), pinhole projection to
    screen coordinates, the detector joint layout (:func:`detector_layout_from_h36m`,
    unless ``detector_layout=False``), :func:`corrupt_keypoints` (``noise=None``: off)
    and a random horizontal flip with probability 0.5 (``flip``).

    Batches are :class:`poselift.data.windows.Batch`: inputs ``[B, RF, 17, 2]``,
    targets ``[B, 1, 17, 3]`` (mocap joints, camera frame, root-relative metres),
    trajectory ``[B, 1, 3]`` (camera-frame root), intrinsics ``[B, 9]`` (normalised).

    An epoch visits every target frame ``samples_per_window`` times (each time with
    another camera); stride as in :class:`~poselift.data.windows.WindowDataset`.

    ``real_cameras`` (one :class:`CameraBatch` per sequence: its recording's calibrated
    cameras, normalised intrinsics with distortion) and ``real_camera_prob``: that share
    of the windows is filmed by one of them (uniformly chosen, lens distortion applied)
    instead of a random camera. With ``real_camera_prob=0`` no extra random numbers are
    drawn, so the batches are exactly those of a dataset without real cameras.
    """

    def __init__(
        self,
        world: Sequence[np.ndarray],
        receptive_field: int,
        *,
        causal: bool = False,
        stride: int = 1,
        flip: bool = True,
        camera: VirtualCameraConfig | None = None,
        noise: NoiseConfig | None = None,
        detector_layout: bool = True,
        samples_per_window: int = 1,
        real_cameras: Sequence[CameraBatch] | None = None,
        real_camera_prob: float = 0.0,
    ) -> None:
        if not world:
            raise PoseliftError("no training sequences were given")
        if not 0 <= real_camera_prob <= 1:
            raise PoseliftError(f"real_camera_prob must be in [0, 1], got {real_camera_prob}")
        if real_camera_prob > 0 and (real_cameras is None or len(real_cameras) != len(world)):
            raise PoseliftError("real_camera_prob > 0 needs real_cameras: one CameraBatch per world sequence")
        if stride < 1:
            raise PoseliftError(f"--stride must be a positive integer, got {stride}")
        if samples_per_window < 1:
            raise PoseliftError(f"samples_per_window must be >= 1, got {samples_per_window}")
        self.receptive_field = receptive_field
        self.flip = flip
        self.camera = camera or VirtualCameraConfig()
        self.noise = noise
        self.detector_layout = detector_layout
        self.samples_per_window = samples_per_window
        self.centre = receptive_field - 1 if causal else (receptive_field - 1) // 2
        padded, starts = [], []
        offset = 0
        for i, seq in enumerate(world):
            seq = np.asarray(seq)
            if seq.ndim != 3 or seq.shape[1:] != (17, 3) or seq.shape[0] == 0:
                raise PoseliftError(f"world sequence {i}: expected [frames, 17, 3], got {list(seq.shape)}")
            padded.append(pad_sequence(seq, receptive_field, causal))
            starts.append(offset + np.arange(0, seq.shape[0], stride))
            offset += seq.shape[0] + receptive_field - 1
        # coordinate-major [3, N, 17]: a gather gives x, y, z planes [B, RF, 17] that the
        # per-window camera transform combines with cheap element-wise ops
        self.world = torch.from_numpy(np.ascontiguousarray(np.concatenate(padded).astype(np.float32).transpose(2, 0, 1)))
        self.starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))
        self._window = torch.arange(receptive_field)
        self._perm = torch.tensor(H36M_17.flip_permutation())
        self.real_camera_prob = real_camera_prob
        if real_camera_prob > 0:
            self._set_real_cameras(real_cameras, [len(s) for s in starts])  # type: ignore[arg-type]

    def _set_real_cameras(self, cameras: Sequence[CameraBatch], windows_per_sequence: list[int]) -> None:
        """Concatenate the recordings' real cameras and index them by window."""
        counts = []
        for i, c in enumerate(cameras):
            n = c.rotation.shape[0]
            if n == 0 or tuple(c.rotation.shape) != (n, 3, 3) or tuple(c.center.shape) != (n, 3) or tuple(c.intrinsics.shape) != (n, 9):
                raise PoseliftError(f"real_cameras[{i}]: expected rotation [C, 3, 3], center [C, 3], intrinsics [C, 9] with C >= 1")
            counts.append(n)
        self._real = CameraBatch(*(torch.cat([torch.as_tensor(getattr(c, f), dtype=torch.float32) for c in cameras]) for f in CameraBatch._fields))
        count = torch.tensor(counts)
        offset = torch.cumsum(count, 0) - count
        seq = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(windows_per_sequence))
        self._real_offset, self._real_count = offset[seq], count[seq]  # per window start

    def to(self, device: torch.device | str) -> "WildWindowDataset":
        """Move the motion and the index tables to ``device`` (in place; returns self):
        batches are then rendered there, from a generator that lives on the same device
        (e.g. ``torch.Generator(device="cuda")``). The random streams of a CPU and a GPU
        generator differ, so the batches differ too; each device is deterministic."""
        device = torch.device(device)
        for name in ("world", "starts", "_window", "_perm", "_real_offset", "_real_count"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name).to(device))
        if hasattr(self, "_real"):
            self._real = CameraBatch(*(t.to(device) for t in self._real))
        return self

    @property
    def device(self) -> torch.device:
        return self.world.device

    def __len__(self) -> int:
        return len(self.starts) * self.samples_per_window

    def windows(self, sample_ids: torch.Tensor) -> torch.Tensor:
        """World windows ``[B, RF, 17, 3]`` of ``sample_ids``."""
        return self.world[:, self.starts[sample_ids % len(self.starts), None] + self._window].permute(1, 2, 3, 0)

    def _render(self, sample_ids: torch.Tensor, generator: torch.Generator):
        base = sample_ids % len(self.starts)
        xyz = self.world[:, self.starts[base, None] + self._window]  # [3, B, RF, 17]: one gather
        root = xyz[:, :, self.centre, 0].T
        cams, ray = _sample_cameras(len(base), self.camera, root, generator)
        real = None
        if self.real_camera_prob > 0:
            cams, ray, real = self._swap_in_real_cameras(base, cams, ray, root, generator)
        d = xyz - cams.center.T[:, :, None, None]
        r = cams.rotation[:, :, :, None, None]  # [B, 3, 3, 1, 1]
        pc = [r[:, i, 0] * d[0] + r[:, i, 1] * d[1] + r[:, i, 2] * d[2] for i in range(3)]  # R (X - c), per axis
        center, push = _push_back(cams, ray, pc[2].amin(dim=(1, 2)), self.camera.min_depth_m)
        pc = [pc[i] + (push * ray[:, i])[:, None, None] for i in range(3)]
        k = cams.intrinsics[:, :, None, None]
        inv_z = 1.0 / pc[2]
        screen = torch.stack([pc[0] * inv_z * k[:, 0] + k[:, 2], pc[1] * inv_z * k[:, 1] + k[:, 3]], -1)
        if real is not None and bool(real.any()):  # real cameras: with their lens distortion
            screen[real] = project_to_2d(torch.stack(pc, -1)[real], cams.intrinsics[real])
        return pc, screen, cams._replace(center=center)

    def _swap_in_real_cameras(self, base: torch.Tensor, cams: CameraBatch, ray: torch.Tensor, root: torch.Tensor, generator: torch.Generator):
        """With probability ``real_camera_prob`` per window, replace the virtual camera by
        one of the recording's real cameras (chosen uniformly). Returns the cameras, the
        unit rays to the roots (camera frame) and the boolean mask of real ones."""
        u = torch.rand(len(base), 2, generator=generator, device=self.world.device)
        real = u[:, 0] < self.real_camera_prob
        count = self._real_count[base]
        k = self._real_offset[base] + torch.minimum((u[:, 1] * count).long(), count - 1)
        pick = CameraBatch(*(t[k] for t in self._real))
        m3, m2 = real[:, None, None], real[:, None]
        cams = CameraBatch(
            torch.where(m3, pick.rotation, cams.rotation),
            torch.where(m2, pick.center, cams.center),
            torch.where(m2, pick.intrinsics, cams.intrinsics),
        )
        root_cam = (pick.rotation @ (root - pick.center)[:, :, None])[..., 0]
        ray = torch.where(m2, root_cam / torch.linalg.vector_norm(root_cam, dim=-1, keepdim=True), ray)
        return cams, ray, real

    def render(self, sample_ids: torch.Tensor, generator: torch.Generator):
        """The windows of ``sample_ids`` seen by fresh random cameras:
        ``(camera-frame windows [B, RF, 17, 3], screen [B, RF, 17, 2], cameras)``
        (clean mocap-layout projections, before layout conversion, noise and flip)."""
        pc, screen, cams = self._render(sample_ids, generator)
        return torch.stack(pc, -1), screen, cams

    def gather(self, sample_ids: torch.Tensor, generator: torch.Generator) -> Batch:
        """Build the batch for sample ids in ``[0, len(self))`` (randomness from ``generator``)."""
        pc, screen, cams = self._render(sample_ids, generator)
        inputs = detector_layout_from_h36m(screen) if self.detector_layout else screen
        if self.noise is not None:
            inputs = corrupt_keypoints(inputs, generator, self.noise)
        c = self.centre
        centre = torch.stack([p[:, c : c + 1] for p in pc], -1)  # [B, 1, 17, 3]
        trajectory = centre[:, :, 0].clone()  # [B, 1, 3]
        targets = centre - centre[:, :, :1]
        intrinsics = cams.intrinsics
        if self.flip:
            flipped = torch.rand(len(sample_ids), generator=generator, device=self.world.device) < 0.5
            inputs, targets, trajectory, intrinsics = flip_batch(inputs, targets, trajectory, intrinsics, flipped, self._perm)
        else:
            flipped = torch.zeros(len(sample_ids), dtype=torch.bool, device=self.world.device)
        return Batch(inputs, targets, trajectory, intrinsics, flipped)

    def batches(
        self, batch_size: int, generator: torch.Generator, shuffle: bool = True, shard: Shard | None = None
    ) -> Iterator[Batch]:
        """Iterate one epoch in random order (``generator`` makes it deterministic).

        ``shard``: yield only this rank's slice of each global batch (see
        :meth:`WindowDataset.batches`). Every rank renders the whole global batch and
        keeps its slice, so the cameras and noise drawn from the shared ``generator``
        (and its state afterwards) are the same on every rank and as in one process.
        """
        dev = self.world.device
        order = torch.randperm(len(self), generator=generator, device=dev) if shuffle else torch.arange(len(self), device=dev)
        for i in range(0, len(order), batch_size):
            ids = order[i : i + batch_size]
            if shard is not None and not shard.usable(len(ids)):
                return
            batch = self.gather(ids, generator)
            yield batch if shard is None else batch.narrow(*shard.bounds(len(ids)))
