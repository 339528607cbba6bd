"""Augmentation for in-the-wild training: random virtual cameras and detector-like noise.

The ``wild`` training recipe (``poselift train --recipe wild``) does not use the four
fixed Human3.6M cameras: every training window is filmed by a fresh random pinhole
camera (:func:`sample_cameras`), converted to the joint layout that
:mod:`poselift.geometry.skeleton` produces from COCO / BlazePose detections
(:func:`detector_layout_from_h36m`) and corrupted the way real 2D detections are
(:func:`corrupt_keypoints`). Targets stay the motion-capture H36M-17 joints.

Everything is vectorised torch (one call per batch, no per-sample Python loop) and
draws its randomness from an explicit :class:`torch.Generator`, so a batch is a
deterministic function of the generator state.

Frames and units (see :mod:`poselift.geometry.camera`): world metres, z up; camera frame
x right, y down, z forward; screen coordinates are pixels normalised by the image
width (``x/w·2 - 1``, ``y/w·2 - h/w``); normalised intrinsics
``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` with ``f_n = 2 f / w`` (pinhole: no
distortion).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from poselift.data.datasets import Sequence as ViewSequence
from poselift.data.datasets import WorldSequence
from poselift.errors import PoseliftError
from poselift.geometry import camera as cam


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
    elevation, looks at it (like :func:`poselift.data.synthetic.look_at_camera`), is rolled
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
