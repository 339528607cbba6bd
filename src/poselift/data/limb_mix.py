"""Limb mixing: new training poses from the arms and legs of other windows.

Human3.6M has 7 training subjects performing 15 scripted actions, so arm and leg
combinations that real footage shows (an arm overhead in a lunge, reaching while
stepping) are rare. :func:`mix_limbs` gives a window the arm (or leg) *motion* of
another window: each bone's direction, expressed in the donor's own body frame (the
torso frame for the arms, the pelvis frame for the legs), is put into the receiver's
body frame with the receiver's own bone lengths, frame by frame. The receiver keeps
its trunk, its root trajectory and its proportions; the limbs move as the donor's did,
so the window stays smooth in time.

Windows are ``[B, T, 17, 3]`` H36M-17 joints (metres, any right-handed frame); the
body frames are built from the joints, so the result does not depend on the frame.
"""

from __future__ import annotations

from itertools import pairwise

import torch

from poselift.errors import PoseliftError

#: Limb chains (root, middle, end) of H36M-17 and the joints of the body frame they live
#: in: (left of the body, right of the body, bottom, top) → lateral axis left − right,
#: up axis top − bottom.
ARM_CHAINS = ((11, 12, 13), (14, 15, 16))
LEG_CHAINS = ((4, 5, 6), (1, 2, 3))
TORSO_FRAME = (11, 14, 0, 8)  # LShoulder, RShoulder, Hip, Thorax
PELVIS_FRAME = (4, 1, 0, 7)  # LHip, RHip, Hip, Spine

_EPS = 1e-8


def body_frame(poses: torch.Tensor, frame: tuple[int, int, int, int]) -> torch.Tensor:
    """``[..., 17, 3]`` → rotation ``[..., 3, 3]`` whose columns are the body's lateral
    (left − right), up (top − bottom, made orthogonal to lateral) and forward axes."""
    left, right, bottom, top = frame
    lateral = poses[..., left, :] - poses[..., right, :]
    e1 = lateral / lateral.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    up = poses[..., top, :] - poses[..., bottom, :]
    up = up - (up * e1).sum(-1, keepdim=True) * e1
    e2 = up / up.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    e3 = torch.linalg.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], dim=-1)


def transplant_chains(receiver: torch.Tensor, donor: torch.Tensor, chains, frame) -> torch.Tensor:
    """``receiver`` ``[..., 17, 3]`` with each chain's bone directions taken from ``donor``
    (same shape) relative to the body frame ``frame`` of each, and the receiver's bone
    lengths. The chain roots and every other joint are unchanged."""
    rot_r, rot_d = body_frame(receiver, frame), body_frame(donor, frame)
    out = receiver.clone()
    for chain in chains:
        for parent, child in pairwise(chain):
            bone_d = donor[..., child, :] - donor[..., parent, :]
            local = (rot_d * bone_d.unsqueeze(-1)).sum(-2)  # R_d^T bone
            direction = (rot_r * local.unsqueeze(-2)).sum(-1)  # R_r local
            direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(_EPS)
            length = (receiver[..., child, :] - receiver[..., parent, :]).norm(dim=-1, keepdim=True)
            out[..., child, :] = out[..., parent, :] + direction * length
    return out


def mix_limbs(windows: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Give each window of ``windows`` ``[B, T, 17, 3]``, with probability ``prob`` per
    group and independently, the arms of another window of the batch and the legs of
    another (donors drawn uniformly, self included). ``prob`` 0 draws no random numbers
    and returns the input unchanged."""
    if not 0 <= prob <= 1:
        raise PoseliftError(f"the limb-mixing probability must be in [0, 1], got {prob}")
    if prob == 0:
        return windows
    if windows.ndim != 4 or windows.shape[-2:] != (17, 3):
        raise PoseliftError(f"limb mixing needs H36M-17 windows [batch, frames, 17, 3], got {list(windows.shape)}")
    b, dev = windows.shape[0], windows.device
    chosen = torch.rand(2, b, generator=generator, device=dev) < prob
    donors = torch.randint(0, b, (2, b), generator=generator, device=dev)
    out = windows.clone()
    for k, (chains, frame) in enumerate(((ARM_CHAINS, TORSO_FRAME), (LEG_CHAINS, PELVIS_FRAME))):
        rows = chosen[k].nonzero().squeeze(-1)
        if len(rows):
            out[rows] = transplant_chains(out[rows], windows[donors[k, rows]], chains, frame)
    return out
