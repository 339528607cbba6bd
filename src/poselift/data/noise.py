"""Detector-like corruption of 2D keypoints for in-the-wild training and the
``noisy`` evaluation: jitter, per-joint bias, outliers, left/right confusion and
missed detections, as a fraction of the person's 2D height.

Vectorised torch with an explicit :class:`torch.Generator`: a corrupted batch is a
deterministic function of the generator state.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M17_LIMBS


@dataclass(frozen=True)
class NoiseConfig:
    """Detector-like corruption of 2D keypoints. Every magnitude is a fraction of the
    person's 2D bounding-box height ``h`` (y extent of the joints) in that frame.

    * jitter: per-frame Gaussian noise, σ = s · h with s ~ U(0, ``jitter_max``) per window;
    * bias: a per-window, per-joint constant offset of length U(0, ``bias_max``) · h in a
      random direction;
    * slow error (off by default): per window and joint, a stationary Gaussian AR(1)
      process over the frames with lag-1 autocorrelation ``drift_correlation`` (per frame
      of the window) and standard deviation ``drift_scale`` · g · e^(``drift_spread`` · z) · h
      per axis, z ~ N(0, 1) per window and joint (a log-normal scale: most joints are
      near ``drift_scale``, a few are far off for the whole window: a heavy tail) and g
      the joint's entry of ``joint_gain`` (None: 1 for every joint). Real detectors err
      like this: their error drifts over many frames instead of jumping independently
      per frame (``scripts/diag/sh_vs_noise.py``);
    * outliers: each joint-frame with probability ``outlier_prob`` is displaced by
      U(``outlier_range``) · h in a random direction;
    * left/right confusion: with probability ``swap_prob`` per window one limb pair of
      ``limbs`` (default: legs, arms) swaps sides for U{``swap_frames``} frames;
    * missed detections: with probability ``gap_prob`` per window U{``gap_joints``}
      joints lose U{``gap_frames``} consecutive frames (strictly inside the window),
      which are replaced by linear interpolation between the frames before and after
      the gap: what ``poselift infer`` does (:func:`poselift.geometry.sequence.fill_gaps`);
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
    drift_scale: float = 0.0
    drift_spread: float = 0.0
    drift_correlation: float = 0.9
    joint_gain: tuple[float, ...] | None = None
    limbs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] | None = None

    def __post_init__(self) -> None:
        for name in ("jitter_max", "bias_max", "drift_scale", "drift_spread"):
            if getattr(self, name) < 0:
                raise PoseliftError(f"NoiseConfig.{name} must be >= 0")
        if not 0 <= self.drift_correlation < 1:
            raise PoseliftError(f"NoiseConfig.drift_correlation must be in [0, 1), got {self.drift_correlation}")
        if self.joint_gain is not None and (not len(self.joint_gain) or min(self.joint_gain) < 0):
            raise PoseliftError(f"NoiseConfig.joint_gain must be one factor >= 0 per joint, got {self.joint_gain}")
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

    @classmethod
    def correlated(cls, **overrides: Any) -> "NoiseConfig":
        """The slow, heavy-tailed detector error measured on Human3.6M's training subjects
        (Stacked-Hourglass detections against the projected ground truth, at 25 Hz, 27-frame
        windows; ``scripts/diag/sh_vs_noise.py --subjects S1,S5,S6,S7,S8 --downsample 2``):
        :data:`CORRELATED` over the defaults, then ``overrides``."""
        return cls(**{**CORRELATED, **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["limbs"] = [[list(a), list(b)] for a, b in (H36M17_LIMBS if self.limbs is None else self.limbs)]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


#: :meth:`NoiseConfig.correlated`: calibrated on the training subjects' Stacked-Hourglass
#: error (docs/results.md, session 17), joint gains in H36M-17 order.
CORRELATED: dict[str, Any] = {
    "jitter_max": 0.015,
    "bias_max": 0.05,
    "drift_scale": 0.004,
    "drift_spread": 1.2,
    "drift_correlation": 0.9,
    # pelvis, R hip/knee/ankle, L hip/knee/ankle, spine, thorax, nose, head, L shoulder/elbow/wrist, R shoulder/elbow/wrist
    "joint_gain": (1.2, 1.2, 3.0, 3.5, 1.2, 3.0, 3.5, 1.0, 1.0, 1.0, 1.0, 1.2, 2.5, 3.5, 1.2, 2.5, 3.5),
    "swap_prob": 0.07,
    "swap_frames": (2, 12),
}


#: The named noise models: ``train --wild-noise`` and ``evaluate --noise-model``.
NOISE_MODELS = ("independent", "correlated")


def noise_model(name: str, **overrides: Any) -> NoiseConfig:
    """``"independent"``: :class:`NoiseConfig` defaults (per-frame jitter; what the bundled
    model trained on); ``"correlated"``: :meth:`NoiseConfig.correlated`; then ``overrides``."""
    if name not in NOISE_MODELS:
        raise PoseliftError(f"unknown noise model {name!r}; expected one of {', '.join(NOISE_MODELS)}")
    return NoiseConfig(**overrides) if name == "independent" else NoiseConfig.correlated(**overrides)


def _random_directions(shape: tuple[int, ...], generator: torch.Generator, dtype) -> torch.Tensor:
    angle = torch.rand(shape, generator=generator, dtype=dtype, device=generator.device) * (2 * math.pi)
    return torch.stack([torch.cos(angle), torch.sin(angle)], -1)


def ar1_filter(frames: int, correlation: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """``[T, T]`` lower-triangular L such that ``L @ white`` (white: independent N(0, 1)
    per frame) is a stationary AR(1) sequence with unit variance and lag-1
    autocorrelation ``correlation``: x₀ = w₀, xₜ = ρ xₜ₋₁ + √(1 − ρ²) wₜ."""
    index = torch.arange(frames, device=device)
    lag = index[:, None] - index[None, :]
    decay = torch.where(lag >= 0, torch.tensor(float(correlation), dtype=torch.float64, device=device) ** lag.clamp(min=0),
                        torch.zeros((), dtype=torch.float64, device=device))
    innovation = torch.where(index == 0, 1.0, math.sqrt(1.0 - correlation**2)).to(torch.float64)
    return (decay * innovation[None, :]).to(dtype)


def slow_error(b: int, t: int, j: int, cfg: NoiseConfig, generator: torch.Generator, dtype) -> torch.Tensor:
    """The slow error of :class:`NoiseConfig` for ``b`` windows of ``t`` frames and ``j``
    joints: ``[B, T, J, 2]`` as a fraction of the 2D height (multiply by it)."""
    dev = generator.device
    scale = cfg.drift_scale * torch.exp(cfg.drift_spread * torch.randn(b, 1, j, 1, generator=generator, dtype=dtype, device=dev))
    if cfg.joint_gain is not None:
        if len(cfg.joint_gain) != j:
            raise PoseliftError(f"NoiseConfig.joint_gain has {len(cfg.joint_gain)} factors for {j} joints")
        scale = scale * torch.tensor(cfg.joint_gain, dtype=dtype, device=dev)[None, None, :, None]
    white = torch.randn(b, t, j, 2, generator=generator, dtype=dtype, device=dev)
    slow = torch.einsum("ts,bsjd->btjd", ar1_filter(t, cfg.drift_correlation, dtype, dev), white)
    return slow * scale


def corrupt_keypoints(
    kp: torch.Tensor, generator: torch.Generator, cfg: NoiseConfig | None = None, *, masked: bool | None = None
) -> torch.Tensor:
    """Corrupt screen-coordinate windows ``[B, T, J, 2]`` like a 2D detector (see
    :class:`NoiseConfig`); returns a new tensor. Order: jitter, bias, slow error,
    outliers, limb swaps, then gaps (interpolated from the corrupted frames around them).

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
    if cfg.drift_scale > 0:
        x += slow_error(b, t, j, cfg, generator, dt) * height
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
