"""Semi-supervised back-projection: loss terms on hand-made cases, a tiny run, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.data.windows import Batch
from poselift.errors import PoseliftError
from poselift.geometry import camera as cam
from poselift.models.checkpoint import read_checkpoint
from poselift.training.config import TrainConfig
from poselift.training.trainer import Trainer, train


def _cfg(**kw) -> TrainConfig:
    base = dict(
        dataset="synthetic", filter_widths=(3, 3), channels=32, epochs=2, batch_size=128, warmup=1,
        subjects_unlabeled=["U"], validate_every=0, threads=1, seed=7,
    )
    base.update(kw)
    return TrainConfig(**base)


def _perfect_batches(trainer: Trainer, n: int = 8):
    """A labeled and an unlabeled batch whose 2D is the exact projection of known 3D."""
    rng = np.random.default_rng(0)
    rf = trainer.model_cfg.receptive_field
    intr = cam.Intrinsics(focal_length=(1100.0, 1100.0), center=(500.0, 500.0), radial_distortion=(-0.2, 0.2, 0.0),
                          tangential_distortion=(0.001, -0.001), width=1000, height=1000)
    vec = torch.tensor(intr.vector(normalized=True)).expand(n, 9)
    pose = torch.tensor(rng.normal(0, 0.3, (n, 1, 17, 3)), dtype=torch.float32)
    pose = pose - pose[:, :, :1]
    traj = torch.tensor(np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.3, 0.3, n), rng.uniform(4, 6, n)], -1), dtype=torch.float32)[:, None]
    proj = cam.project_to_2d(pose + traj[:, :, None], vec)  # [n, 1, 17, 2]
    windows = proj.expand(n, rf, 17, 2).contiguous()
    flipped = torch.zeros(n, dtype=torch.bool)
    return pose, traj, Batch(windows, pose, traj, None, flipped), Batch(windows, None, None, vec, flipped)


class _Fixed(torch.nn.Module):
    """Stands in for a model: returns a fixed output, whatever the input."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value[: x.shape[0]]


def test_perfect_prediction_gives_zero_projection_loss():
    trainer = Trainer(_cfg(), "/nonexistent", progress=False)
    pose, traj, lab, unl = _perfect_batches(trainer)
    trainer.model = _Fixed(torch.cat([pose, pose]))
    trainer.traj_model = _Fixed(torch.cat([traj, traj])[:, :, None])
    terms = trainer.step_losses(lab, unl)
    assert float(terms["pose"]) == pytest.approx(0.0, abs=1e-7)
    assert float(terms["trajectory"]) == pytest.approx(0.0, abs=1e-7)
    assert float(terms["reprojection"]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["bone_length"]) == pytest.approx(0.0, abs=1e-7)


def test_scaling_the_unlabeled_pose_changes_the_bone_term_and_projection():
    trainer = Trainer(_cfg(), "/nonexistent", progress=False)
    pose, traj, lab, unl = _perfect_batches(trainer)
    trainer.model = _Fixed(torch.cat([pose, pose * 0.8]))
    trainer.traj_model = _Fixed(torch.cat([traj, traj])[:, :, None])
    terms = trainer.step_losses(lab, unl)
    bones = torch.linalg.vector_norm(pose[:, :, trainer.children] - pose[:, :, trainer.parents], dim=-1).mean(dim=(0, 1))
    assert float(terms["bone_length"]) == pytest.approx(float((0.2 * bones).mean()), rel=1e-5)
    assert float(terms["reprojection"]) > 1e-3


def test_trajectory_loss_is_weighted_by_inverse_depth():
    trainer = Trainer(_cfg(), "/nonexistent", progress=False)
    pose, traj, lab, unl = _perfect_batches(trainer)
    offset = torch.tensor([0.1, 0.0, 0.0])
    trainer.model = _Fixed(pose)
    trainer.traj_model = _Fixed((traj + offset)[:, :, None])
    terms = trainer.step_losses(lab)
    expected = float((0.1 / traj[:, 0, 2]).mean())
    assert float(terms["trajectory"]) == pytest.approx(expected, rel=1e-5)
    assert "reprojection" not in terms


def test_linear_projection_ignores_distortion():
    trainer = Trainer(_cfg(linear_projection=True), "/nonexistent", progress=False)
    pose, traj, lab, unl = _perfect_batches(trainer)
    trainer.model = _Fixed(torch.cat([pose, pose]))
    trainer.traj_model = _Fixed(torch.cat([traj, traj])[:, :, None])
    # the 2D was made with distortion, so a pinhole reprojection cannot be exact
    assert float(trainer.step_losses(lab, unl)["reprojection"]) > 1e-4


def test_ablation_switches_remove_terms():
    trainer = Trainer(_cfg(bone_length=False, projection=False), "/nonexistent", progress=False)
    pose, traj, lab, unl = _perfect_batches(trainer)
    terms = trainer.step_losses(lab, unl)
    assert "bone_length" not in terms and "reprojection" not in terms


def test_semi_supervised_needs_matching_joints():
    with pytest.raises(PoseliftError, match="input and output joints"):
        Trainer(_cfg(dataset="h36m", keypoints="sh"), "/nonexistent", progress=False)


def test_tiny_semi_supervised_run_lowers_reprojection_error(tmp_path):
    cfg = _cfg(epochs=4, channels=64, batch_size=256, seed=3)
    train(cfg, tmp_path / "run", progress=False)
    payload, meta = read_checkpoint(tmp_path / "run" / "last.pt")
    history = meta["state"]["history"]
    assert "train_reprojection" not in history[0]  # warm-up epoch: labeled only
    reproj = [h["train_reprojection"] for h in history[1:]]
    assert reproj[-1] < 0.8 * reproj[0]
    assert payload["model_traj"] is not None and "trajectory_model" in meta


def test_resume_equals_uninterrupted_run(tmp_path):
    full = _cfg(epochs=3)
    train(full, tmp_path / "full", progress=False)
    train(full, tmp_path / "half", progress=False, stop_after=2)
    train(_cfg(epochs=3), tmp_path / "half", resume=True, progress=False)
    a, _ = read_checkpoint(tmp_path / "full" / "last.pt")
    b, _ = read_checkpoint(tmp_path / "half" / "last.pt")
    for key in ("model_pos", "model_traj"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"


def test_resume_refuses_a_run_without_trajectory_model(tmp_path):
    train(_cfg(subjects_unlabeled=None, epochs=2), tmp_path / "run", progress=False, stop_after=1)
    with pytest.raises(PoseliftError, match="trajectory model"):
        train(_cfg(epochs=2), tmp_path / "run", resume=True, progress=False)
