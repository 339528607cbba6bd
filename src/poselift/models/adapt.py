"""Test-time adaptation by back-projection: fine-tune a copy of the pose model on the
user's own clip (the paper's semi-supervised idea, applied to one video).

The clip's 2D keypoints are the only supervision. Each step lifts the whole clip with
the copy (eval mode: batch-norm statistics frozen, no dropout; flip test-time
augmentation as at inference), places every frame's pose in the camera by the
closed-form least-squares root (:func:`solve_root`, differentiable), projects it
through a pinhole camera and compares with the 2D. Two more terms keep it honest:

* **one set of bone lengths for the person**, shared by every frame of the clip and
  equal on the left and the right (each frame's bones are pulled to the clip's
  symmetric mean);
* a **tether** to the unadapted prediction, so it cannot drift where the 2D says
  nothing (depth, occluded joints).

All three terms are in metres: the reprojection residual (normalised camera
coordinates) is multiplied by the person's depth. Frames are the model's frames (the
clip resampled to the model's rate by the caller).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec, flip_keypoints, pad_sequence
from poselift.geometry.skeleton import Skeleton, bone_lengths
from poselift.models.temporal import TemporalModel


@dataclass(frozen=True)
class AdaptConfig:
    """How :func:`adapt_pose_model` fine-tunes. Weights are relative (every term is in metres)."""

    steps: int = 60
    lr: float = 1e-4
    reprojection_weight: float = 1.0
    bone_weight: float = 1.0
    tether_weight: float = 0.5
    #: frames (at the model's rate) one step looks at: a longer clip is adapted on windows of
    #: this many consecutive frames, in a fixed order that covers the clip, so a step costs
    #: the same for any clip length (500: 20 s at 25 Hz)
    max_frames_per_step: int = 500
    #: stop early after this many seconds (the steps done so far are kept; the result then
    #: depends on the machine's speed); None (default): always ``steps`` steps
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise PoseliftError(f"`adapt_steps` must be a whole number >= 1, got {self.steps!r:.40}")
        for name in ("lr", "reprojection_weight", "bone_weight", "tether_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise PoseliftError(f"`{name}` must be a finite number >= 0, got {value!r:.40}")
        if isinstance(self.max_frames_per_step, bool) or not isinstance(self.max_frames_per_step, int) \
                or self.max_frames_per_step < 1:
            raise PoseliftError(f"`max_frames_per_step` must be a whole number >= 1, got {self.max_frames_per_step!r:.40}")
        if self.lr <= 0:
            raise PoseliftError(f"`lr` must be > 0, got {self.lr}")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise PoseliftError(f"`max_seconds` must be > 0 or None, got {self.max_seconds!r:.40}")


@dataclass
class AdaptResult:
    """The adapted copy and how it got there."""

    model: TemporalModel
    #: one entry per step: total, reprojection, bone, tether (metres), before that step's update
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    #: the clip's symmetric bone lengths after adaptation, metres, by child joint index
    bone_lengths_m: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return len(self.history)


def solve_root(pose: torch.Tensor, uv: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Root ``[T, 3]`` (camera frame, metres) placing a root-relative pose ``[T, J, 3]``
    (metres) on its keypoints ``uv`` ``[T, J, 2]`` in normalised camera coordinates
    (``(px - c) / f``), weighted least squares on the algebraic error (the torch twin
    of :func:`poselift.geometry.camera.fit_root_position`; differentiable).
    Frames need two joints with weight > 0 at distinct points (else a 1e-9 ridge
    keeps the solve finite)."""
    u, v = uv[..., 0], uv[..., 1]
    b1 = u * pose[..., 2] - pose[..., 0]
    b2 = v * pose[..., 2] - pose[..., 1]
    sw, swu, swv = weights.sum(-1), (weights * u).sum(-1), (weights * v).sum(-1)
    s22 = (weights * (u * u + v * v)).sum(-1)
    zero = torch.zeros_like(sw)
    normal = torch.stack([
        torch.stack([sw, zero, -swu], -1),
        torch.stack([zero, sw, -swv], -1),
        torch.stack([-swu, -swv, s22], -1),
    ], -2) + 1e-9 * torch.eye(3, dtype=pose.dtype, device=pose.device)
    rhs = torch.stack([(weights * b1).sum(-1), (weights * b2).sum(-1), -(weights * (u * b1 + v * b2)).sum(-1)], -1)
    return torch.linalg.solve(normal, rhs[..., None])[..., 0]


def symmetric_bone_target(lengths: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """``[T, B]`` per-frame bone lengths (``skeleton.bones()`` order) → ``[B]``: the clip's
    mean, left and right averaged."""
    child = [c for c, _ in skeleton.bones()]
    mirror = skeleton.flip_permutation()
    partner = [child.index(mirror[j]) for j in child]
    mean = lengths.mean(0)
    return (mean + mean[partner]) / 2


def step_windows(frames: int, max_frames: int, steps: int) -> list[tuple[int, int]]:
    """``[start, stop)`` frames of each step: the whole clip when it has at most
    ``max_frames`` frames, else windows of ``max_frames`` whose starts step evenly
    through the clip (first and last window included), cycling."""
    if frames <= max_frames:
        return [(0, frames)] * steps
    count = math.ceil(frames / max_frames) + 1  # overlapping windows that cover the clip
    starts = np.linspace(0, frames - max_frames, count).round().astype(int)
    return [(int(starts[k % count]), int(starts[k % count]) + max_frames) for k in range(steps)]


def _lift(model: TemporalModel, padded: torch.Tensor, flip: FlipSpec | None) -> torch.Tensor:
    """``[1, T + RF - 1, J, 2]`` → ``[T, J_out, 3]``, root-relative, flip-averaged as at inference."""
    window = padded if flip is None else torch.cat([padded, flip_keypoints(padded, flip.keypoints_perm)])
    y = model(window)
    y = y[0] if flip is None else (y[0] + flip_keypoints(y[1], flip.joints_perm)) / 2
    return y - y[:, :1]


def adapt_pose_model(
    model: TemporalModel,
    keypoints: np.ndarray,
    confidence: np.ndarray,
    skeleton: Skeleton,
    *,
    focal_normalized: float,
    principal_normalized: tuple[float, float] = (0.0, 0.0),
    flip: FlipSpec | None = None,
    config: AdaptConfig | None = None,
    reprojection_joints: tuple[int, ...] | None = None,
) -> AdaptResult:
    """Fine-tune a copy of ``model`` on one clip; ``model`` itself is not changed.

    keypoints: ``[T, J, 2]`` normalised screen coordinates (``x/w·2 − 1``) at the model's
    frame rate; confidence ``[T, J]`` in [0, 1] (0 = not seen: no reprojection there);
    ``focal_normalized``: the focal length in the same units (``2 f_px / w``);
    ``principal_normalized``: the principal point in screen coordinates (image centre:
    ``(0, 0)`` for x, and ``0`` for y as well since the y offset ``h/w`` is removed by
    :func:`poselift.geometry.camera.normalize_screen`). ``reprojection_joints``: the
    joints compared with the 2D (default all). Returns the adapted copy in eval mode.
    """
    cfg = config or AdaptConfig()
    kp = np.asarray(keypoints, dtype=np.float32)
    conf = np.asarray(confidence, dtype=np.float32)
    mc = model.config
    if kp.ndim != 3 or kp.shape[1:] != (mc.num_joints_in, 2) or conf.shape != kp.shape[:2]:
        raise PoseliftError(
            f"adaptation needs keypoints [frames, {mc.num_joints_in}, 2] and confidence [frames, {mc.num_joints_in}], "
            f"got {list(kp.shape)} and {list(conf.shape)}"
        )
    if mc.num_joints_out != len(skeleton.parents):
        raise PoseliftError(f"the model outputs {mc.num_joints_out} joints but the skeleton has {len(skeleton.parents)}")
    if not (math.isfinite(focal_normalized) and focal_normalized > 0):
        raise PoseliftError(f"`focal` must be a positive number, got {focal_normalized}")
    started = time.perf_counter()
    adapted = copy.deepcopy(model).eval()
    for p in adapted.parameters():
        p.requires_grad_(True)
    device = next(adapted.parameters()).device
    x = torch.as_tensor(np.nan_to_num(kp), device=device)
    padded = pad_sequence(x, mc.receptive_field, mc.causal)[None]
    # 2D of the output joints in normalised camera coordinates, and their weights
    principal = torch.tensor(principal_normalized, dtype=torch.float32, device=device)
    uv = (x - principal) / focal_normalized
    weights = torch.as_tensor(np.where(np.isfinite(kp).all(-1), np.clip(conf, 0, 1), 0), device=device)
    if reprojection_joints is not None:
        mask = torch.zeros(weights.shape[1], device=device)
        mask[list(reprojection_joints)] = 1
        weights = weights * mask
    with torch.no_grad():
        reference = _lift(adapted, padded, flip)
    # fused: one kernel for the whole update (8x faster than the default on a CPU, same arithmetic)
    optimiser = torch.optim.Adam([p for p in adapted.parameters() if p.requires_grad], lr=cfg.lr, fused=True)
    history: list[dict[str, float]] = []
    windows = step_windows(len(kp), cfg.max_frames_per_step, cfg.steps)
    rf = mc.receptive_field
    for start, stop in windows:
        if cfg.max_seconds is not None and history and time.perf_counter() - started > cfg.max_seconds:
            break
        pose = _lift(adapted, padded[:, start : stop + rf - 1], flip)
        w, target_uv = weights[start:stop], uv[start:stop]
        root = solve_root(pose, target_uv, w)
        cam = pose + root[:, None]
        depth = cam[..., 2].clamp_min(0.1)
        projected = cam[..., :2] / depth[..., None]
        residual = torch.linalg.vector_norm(projected - target_uv, dim=-1) * root[:, None, 2].detach().clamp_min(0.1)
        reprojection = (w * residual).sum() / w.sum().clamp_min(1e-6)
        lengths = bone_lengths(pose, skeleton)
        bone = (lengths - symmetric_bone_target(lengths, skeleton)).abs().mean()
        tether = torch.linalg.vector_norm(pose - reference[start:stop], dim=-1).mean()
        total = cfg.reprojection_weight * reprojection + cfg.bone_weight * bone + cfg.tether_weight * tether
        history.append({"total": float(total.detach()), "reprojection": float(reprojection.detach()), "bone": float(bone.detach()),
                        "tether": float(tether.detach())})
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
    adapted.eval()
    for p in adapted.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        lengths = bone_lengths(_lift(adapted, padded, flip), skeleton)
        target = symmetric_bone_target(lengths, skeleton).cpu().numpy()
    return AdaptResult(adapted, history, time.perf_counter() - started, target)
