"""Limb mixing (poselift.data.limb_mix) and its use by the wild recipe (`train --wild-limb-mix`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from poselift.cli.main import main
from poselift.data import wild
from poselift.data.limb_mix import (
    ARM_CHAINS,
    LEG_CHAINS,
    PELVIS_FRAME,
    TORSO_FRAME,
    body_frame,
    mix_limbs,
    transplant_chains,
)
from poselift.data.synthetic import animate_figure
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17, bone_lengths
from poselift.training.config import TrainConfig

TRUNK = [0, 1, 4, 7, 8, 9, 10, 11, 14]


def windows(b: int = 6, t: int = 9) -> torch.Tensor:
    return torch.tensor(np.stack([animate_figure(t, seed=i) for i in range(b)]), dtype=torch.float32)


def rotation_z(deg: float) -> torch.Tensor:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_body_frame_is_a_rotation():
    rot = body_frame(windows(), TORSO_FRAME)
    eye = torch.eye(3).expand_as(rot)
    assert torch.allclose(rot.transpose(-1, -2) @ rot, eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(rot.shape[:-2]), atol=1e-5)


def test_a_window_is_its_own_donor_unchanged():
    w = windows()
    for chains, frame in ((ARM_CHAINS, TORSO_FRAME), (LEG_CHAINS, PELVIS_FRAME)):
        assert torch.allclose(transplant_chains(w, w, chains, frame), w, atol=1e-5)


def test_transplant_keeps_the_receivers_trunk_and_bone_lengths_and_takes_the_donors_bend():
    w = windows()
    donor = w.roll(1, 0)
    out = transplant_chains(w, donor, ARM_CHAINS, TORSO_FRAME)
    assert torch.equal(out[..., TRUNK, :], w[..., TRUNK, :])
    assert torch.allclose(bone_lengths(out, H36M_17), bone_lengths(w, H36M_17), atol=1e-5)
    assert torch.equal(out[..., [2, 3, 5, 6], :], w[..., [2, 3, 5, 6], :])  # the legs are the receiver's

    def elbow_angle(p, s, e, h):
        u, v = p[..., s, :] - p[..., e, :], p[..., h, :] - p[..., e, :]
        return torch.acos((u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)))

    for s, e, h in ARM_CHAINS:  # the elbow bends as the donor's does
        assert torch.allclose(elbow_angle(out, s, e, h), elbow_angle(donor, s, e, h), atol=1e-3)


def test_transplant_ignores_where_the_donor_faces_and_turns_with_the_receiver():
    w = windows()
    donor = w.roll(2, 0)
    rot = rotation_z(70.0)
    base = transplant_chains(w, donor, LEG_CHAINS, PELVIS_FRAME)
    assert torch.allclose(transplant_chains(w, donor @ rot.T + 3.0, LEG_CHAINS, PELVIS_FRAME), base, atol=1e-5)
    assert torch.allclose(transplant_chains(w @ rot.T, donor, LEG_CHAINS, PELVIS_FRAME), base @ rot.T, atol=1e-5)


def test_mix_limbs_probabilities():
    w = windows(32)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert mix_limbs(w, 0.0, g) is w and torch.equal(g.get_state(), state)  # off: nothing drawn
    out = mix_limbs(w, 1.0, torch.Generator().manual_seed(1))
    changed = (out - w).abs().amax(dim=(1, 2, 3)) > 1e-4
    assert changed.sum() >= 28  # every window gets donors (a few may draw themselves)
    assert torch.equal(out[..., TRUNK, :], w[..., TRUNK, :])
    assert torch.allclose(bone_lengths(out, H36M_17), bone_lengths(w, H36M_17), atol=1e-5)
    a = mix_limbs(w, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(a, mix_limbs(w, 0.5, torch.Generator().manual_seed(2)))  # deterministic per generator
    assert 0 < ((a - w).abs().amax(dim=(1, 2, 3)) > 1e-4).sum() < 32


@pytest.mark.parametrize("prob, shape, match", [
    (1.5, (4, 9, 17, 3), r"must be in \[0, 1\]"), (-0.1, (4, 9, 17, 3), r"must be in \[0, 1\]"),
    (0.5, (9, 17, 3), r"\[batch, frames, 17, 3\]"), (0.5, (4, 9, 15, 3), r"\[batch, frames, 17, 3\]"),
])
def test_mix_limbs_rejects_bad_input(prob, shape, match):
    with pytest.raises(PoseliftError, match=match):
        mix_limbs(torch.zeros(shape), prob, torch.Generator())


def test_wild_batches_are_unchanged_without_mixing_and_keep_bone_lengths_with_it():
    world = [animate_figure(80, seed=i) for i in range(3)]
    plain = wild.WildWindowDataset(world, 9, flip=False, noise=None)
    off = wild.WildWindowDataset(world, 9, flip=False, noise=None, limb_mix=0.0)
    on = wild.WildWindowDataset(world, 9, flip=False, noise=None, limb_mix=1.0)
    ids = torch.arange(64)
    a = plain.gather(ids, torch.Generator().manual_seed(5))
    b = off.gather(ids, torch.Generator().manual_seed(5))
    c = on.gather(ids, torch.Generator().manual_seed(5))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.targets, c.targets)
    assert torch.allclose(bone_lengths(c.targets, H36M_17), bone_lengths(a.targets, H36M_17), atol=1e-4)
    with pytest.raises(PoseliftError, match=r"limb_mix must be in \[0, 1\]"):
        wild.WildWindowDataset(world, 9, limb_mix=2.0)


def test_limb_mix_setting_is_checked():
    TrainConfig(recipe="wild", wild_limb_mix=0.5).validate()
    with pytest.raises(PoseliftError, match=r"`wild_limb_mix` must be in \[0, 1\]"):
        TrainConfig(recipe="wild", wild_limb_mix=1.5).validate()
    with pytest.raises(PoseliftError, match="`wild_limb_mix` only applies with `recipe='wild'`"):
        TrainConfig(dataset="synthetic", wild_limb_mix=0.5).validate()


def test_cli_rejects_a_bad_limb_mix(tmp_path, capsys):
    assert main(["train", "--recipe", "wild", "--wild-limb-mix", "2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "wild-limb-mix" in err or "wild_limb_mix" in err
    assert "Traceback" not in err
    assert main(["train", "--dataset", "synthetic", "--wild-limb-mix", "0.5", "--out", str(tmp_path / "x")]) == 2
    assert "only applies with --recipe wild" in capsys.readouterr().err
