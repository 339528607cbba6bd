"""Procedural motion for demos and tests: an animated H36M-17 figure and a camera.

Nothing here is learned from data: a figure with plausible bone lengths performs a
parametric gait (hip/knee/shoulder/elbow angles as sinusoids, a turning path, some
bounce), is placed in a world frame (metres, z up) and filmed by a virtual pinhole
camera. Good enough to train and test the lifting machinery end to end without any
licensed data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.data.datasets import SYNTHETIC_FPS, Sequence
from poselift.geometry import camera as cam

# H36M-17 rest geometry in the body frame (x right→left? no: x = subject's left,
# y = forward, z = up), metres, root (Hip) at the origin.
_BONES = {
    "hip_half_width": 0.13,
    "thigh": 0.45,
    "shin": 0.44,
    "spine": 0.23,
    "thorax": 0.25,
    "neck": 0.11,
    "head": 0.12,
    "shoulder": 0.16,
    "upper_arm": 0.28,
    "forearm": 0.25,
}


def _rot_x(a: np.ndarray) -> np.ndarray:
    """Rotation about the body's lateral (x) axis, ``[T] → [T, 3, 3]``."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def animate_figure(num_frames: int, fps: float = SYNTHETIC_FPS, seed: int = 0) -> np.ndarray:
    """A walking/gesturing figure: ``[T, 17, 3]`` world metres (z up), H36M-17 order."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.9, 1.1)
    b = {k: v * scale * rng.uniform(0.95, 1.05) for k, v in _BONES.items()}
    t = np.arange(num_frames) / fps
    freq = rng.uniform(0.6, 1.2)  # strides per second
    phase = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    amp_hip, amp_knee = rng.uniform(0.2, 0.55), rng.uniform(0.3, 1.0)
    amp_arm, elbow = rng.uniform(0.1, 0.6), rng.uniform(0.2, 1.2)
    lean = rng.uniform(-0.15, 0.25)
    down = np.array([0.0, 0.0, -1.0])
    up = -down

    def limb(rot: np.ndarray, length: float, direction: np.ndarray = down) -> np.ndarray:
        return np.einsum("tij,j->ti", rot, direction * length)

    pose = np.zeros((num_frames, 17, 3))
    # the figure faces +y with z up, so its right-hand side is +x (H36M-17: joints 1-3
    # are the right leg, 14-16 the right arm): labels match a real body's chirality
    for side, sign, ph in (("R", 1.0, 0.0), ("L", -1.0, np.pi)):
        hip_idx, knee_idx, foot_idx = (1, 2, 3) if side == "R" else (4, 5, 6)
        hip_angle = amp_hip * np.sin(phase + ph)
        knee_angle = -amp_knee * np.clip(np.sin(phase + ph + 1.2), 0, None)
        pose[:, hip_idx] = [sign * b["hip_half_width"], 0.0, 0.0]
        pose[:, knee_idx] = pose[:, hip_idx] + limb(_rot_x(hip_angle), b["thigh"])
        pose[:, foot_idx] = pose[:, knee_idx] + limb(_rot_x(hip_angle + knee_angle), b["shin"])
    trunk = _rot_x(np.full(num_frames, lean) + 0.05 * np.sin(2 * phase))
    twist = _rot_z(0.15 * np.sin(phase))
    trunk = twist @ trunk
    pose[:, 7] = limb(trunk, b["spine"], up)
    pose[:, 8] = pose[:, 7] + limb(trunk, b["thorax"], up)
    pose[:, 9] = pose[:, 8] + limb(trunk, b["neck"], up) + limb(trunk, 0.06, np.array([0.0, 1.0, 0.0]))
    pose[:, 10] = pose[:, 9] + limb(trunk, b["head"], up)
    for side, sign, ph in (("L", -1.0, 0.0), ("R", 1.0, np.pi)):
        sh, el, wr = (11, 12, 13) if side == "L" else (14, 15, 16)
        pose[:, sh] = pose[:, 8] + limb(trunk, b["shoulder"], np.array([sign, 0.0, 0.0]))
        arm = trunk @ _rot_x(amp_arm * np.sin(phase + ph))
        pose[:, el] = pose[:, sh] + limb(arm, b["upper_arm"])
        fore = arm @ _rot_x(np.full(num_frames, -elbow) + 0.3 * np.sin(phase + ph))
        pose[:, wr] = pose[:, el] + limb(fore, b["forearm"])
    # global motion: heading changes slowly, walk forward, slight bounce
    heading = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.6, 0.6) * t
    speed = rng.uniform(0.0, 1.4)
    fwd = np.stack([-np.sin(heading), np.cos(heading), np.zeros_like(heading)], -1)
    root = np.cumsum(fwd * speed / fps, axis=0)
    root -= root.mean(axis=0)
    root[:, 2] = b["thigh"] + b["shin"] + 0.02 * np.sin(2 * phase)
    world = np.einsum("tij,tkj->tki", _rot_z(heading), pose) + root[:, None]
    return world.astype(np.float32)


@dataclass(frozen=True)
class VirtualCamera:
    """A pinhole camera looking at a point; ``intrinsics`` in pixels."""

    intrinsics: cam.Intrinsics
    rotation: np.ndarray  # R_world_to_cam [3, 3]
    center: np.ndarray  # camera centre, world metres


def look_at_camera(
    distance: float = 5.0,
    azimuth: float = 0.0,
    height: float = 1.4,
    focal: float = 1000.0,
    width: int = 1000,
    height_px: int = 1000,
    target: np.ndarray | None = None,
) -> VirtualCamera:
    """A camera ``distance`` m from ``target`` at ``azimuth`` rad, ``height`` m above ground."""
    target = np.array([0.0, 0.0, 0.9]) if target is None else np.asarray(target, float)
    center = target + np.array([distance * np.sin(azimuth), -distance * np.cos(azimuth), 0.0])
    center[2] = height
    forward = target - center
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera x (right), y (down), z (forward)
    intr = cam.Intrinsics(
        focal_length=(focal, focal), center=(width / 2, height_px / 2), width=width, height=height_px
    )
    return VirtualCamera(intr, rotation, center)


def synthetic_sequence(num_frames: int = 500, seed: int = 0, fps: float = SYNTHETIC_FPS, camera: VirtualCamera | None = None) -> Sequence:
    """A labelled sequence: 2D pixels by projection, 3D in the camera frame (metres)."""
    rng = np.random.default_rng(seed + 10_000)
    world = animate_figure(num_frames, fps, seed)
    if camera is None:
        camera = look_at_camera(
            distance=rng.uniform(4.0, 6.5), azimuth=rng.uniform(-np.pi, np.pi), height=rng.uniform(0.8, 2.0),
            focal=rng.uniform(900, 1200),
        )
    pos_cam = cam.world_to_camera(world, camera.rotation, camera.center).astype(np.float32)
    kp = cam.project_to_2d(pos_cam, camera.intrinsics.vector(normalized=False)).astype(np.float32)
    return Sequence(f"Synth{seed}", "Walking 1", "virtual", kp, pos_cam, camera.intrinsics, fps)


def synthetic_dataset(num_sequences: int, num_frames: int = 400, seed: int = 0) -> list[Sequence]:
    """Several independent synthetic sequences (different figures, gaits, cameras)."""
    return [synthetic_sequence(num_frames, seed * 1000 + i) for i in range(num_sequences)]
