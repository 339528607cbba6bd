"""Supervised training on the built-in synthetic dataset: loss goes down, checkpoints
every epoch, exact resume (weights + optimiser + RNG states), lr schedule, determinism.

Tiny models (32 channels, RF 9) on half of the synthetic clips: each epoch takes a
fraction of a second on one CPU thread.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

import poselift
from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.models.checkpoint import read_checkpoint
from poselift.models.temporal import ModelConfig
from poselift.training.config import TrainConfig, model_config_for
from poselift.training.trainer import Trainer, train


def tiny_config(**overrides) -> TrainConfig:
    base = dict(
        dataset="synthetic",
        filter_widths=(3, 3),
        channels=32,
        epochs=2,
        batch_size=512,
        lr=2e-3,
        lr_decay=0.9,
        subset=0.5,
        seed=7,
        threads=1,
    )
    base.update(overrides)
    return TrainConfig(**base)


def _weights(path):
    payload, _ = read_checkpoint(path)
    return payload["model_pos"]


def _assert_state_dicts_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"tensor {k!r} differs"


def _assert_optimizer_states_equal(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for pid in a["state"]:
        for name, value in a["state"][pid].items():
            other = b["state"][pid][name]
            if torch.is_tensor(value):
                assert torch.equal(value, other), f"optimizer state {pid}.{name} differs"
            else:
                assert value == other


class _Crash(Exception):
    """Simulated interruption right after a checkpoint was written."""


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """A 3-epoch uninterrupted run; records the epoch of every checkpoint write."""
    run_dir = tmp_path_factory.mktemp("straight")
    cfg = tiny_config(epochs=3)
    saves: list[tuple[int, bool]] = []
    original_save = Trainer.save

    def recording_save(self, path):
        original_save(self, path)
        _, meta = read_checkpoint(path)
        saves.append((meta["state"]["epoch"], path.name == "last.pt" and path.parent == run_dir))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "save", recording_save)
        last = train(cfg, run_dir, progress=False)
    return cfg, run_dir, last, saves


def test_training_writes_last_pt_every_epoch(straight_run):
    cfg, run_dir, last, saves = straight_run
    assert last == run_dir / "last.pt"
    assert saves == [(1, True), (2, True), (3, True)]
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in run_dir.iterdir()) == ["last.pt"]


def test_training_lowers_the_loss(straight_run):
    _, _, last, _ = straight_run
    _, meta = read_checkpoint(last)
    history = meta["state"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    train_loss = [h["train_mpjpe_mm"] for h in history]
    val = [h["val_mpjpe_mm"] for h in history]
    assert train_loss[1] < train_loss[0] and train_loss[2] < train_loss[1], train_loss
    assert train_loss[2] < 0.8 * train_loss[0], train_loss
    assert val[2] < val[0], val
    assert meta["state"]["best_val_mpjpe_mm"] == pytest.approx(min(val))


def test_checkpoint_metadata_is_json_with_config_epoch_lr(straight_run):
    cfg, _, last, _ = straight_run
    # the file is loadable without unpickling arbitrary objects
    raw = torch.load(last, map_location="cpu", weights_only=True)
    assert raw["format"] == "poselift-checkpoint"
    assert isinstance(raw["metadata_json"], str)
    meta = json.loads(raw["metadata_json"])
    assert TrainConfig.from_dict(meta["train"]) == cfg
    assert ModelConfig.from_dict(meta["model"]) == model_config_for(cfg)
    assert meta["state"]["epoch"] == 3
    assert meta["joints_in"] == "h36m17" and meta["joints_out"] == "h36m17"
    assert meta["versions"]["poselift"] == poselift.__version__
    for key in ("model_pos", "optimizer", "rng_torch", "rng_data"):
        assert key in raw


def test_lr_after_n_epochs_is_lr_times_decay_to_the_n(straight_run):
    cfg, _, last, _ = straight_run
    payload, meta = read_checkpoint(last)
    expected = cfg.lr * cfg.lr_decay**3
    assert meta["state"]["lr"] == pytest.approx(expected, rel=1e-12)
    for group in payload["optimizer"]["param_groups"]:
        assert group["lr"] == pytest.approx(expected, rel=1e-12)
    # each epoch trained with lr * decay^(epoch - 1)
    for h in meta["state"]["history"]:
        assert h["lr"] == pytest.approx(cfg.lr * cfg.lr_decay ** (h["epoch"] - 1), rel=1e-12)


def test_checkpoint_loads_as_eval_mode_lifter(straight_run):
    cfg, _, last, _ = straight_run
    lifter = poselift.load_model(last)
    assert isinstance(lifter, torch.nn.Module)
    assert not lifter.training
    assert all(not m.training for m in lifter.modules())
    assert lifter.trajectory_model is None
    assert lifter.receptive_field == 9
    _assert_state_dicts_equal(lifter.pose_model.state_dict(), _weights(last))
    x = torch.randn(2, 20, 17, 2)
    with torch.no_grad():
        y = lifter(x)
        y2 = lifter(x)
    assert y.shape == (2, 20 - 9 + 1, 17, 3)
    assert torch.isfinite(y).all()
    assert torch.equal(y, y2)  # eval mode: no dropout


def test_resume_after_interruption_gives_identical_weights(straight_run, tmp_path):
    """Crash right after the epoch-1 checkpoint, resume: bitwise the same run."""
    cfg, _, straight_last, _ = straight_run
    run_dir = tmp_path / "interrupted"
    original_save = Trainer.save

    def save_then_crash(self, path):
        original_save(self, path)
        if self.state.epoch == 1:
            raise _Crash

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "save", save_then_crash)
        with pytest.raises(_Crash):
            train(cfg, run_dir, progress=False)
    _, meta = read_checkpoint(run_dir / "last.pt")
    assert meta["state"]["epoch"] == 1

    # a fresh process-like start: perturb the global RNG first, resume must restore it
    torch.manual_seed(999)
    train(cfg, run_dir, resume=True, progress=False)

    a_payload, a_meta = read_checkpoint(straight_last)
    b_payload, b_meta = read_checkpoint(run_dir / "last.pt")
    _assert_state_dicts_equal(a_payload["model_pos"], b_payload["model_pos"])
    _assert_optimizer_states_equal(a_payload["optimizer"], b_payload["optimizer"])
    assert torch.equal(a_payload["rng_torch"], b_payload["rng_torch"])
    assert torch.equal(a_payload["rng_data"], b_payload["rng_data"])
    assert b_meta["state"]["epoch"] == 3
    assert b_meta["state"]["lr"] == a_meta["state"]["lr"]
    strip = lambda hs: [{k: v for k, v in h.items() if k not in ("samples_per_s", "epoch_time_s")} for h in hs]  # noqa: E731
    assert strip(b_meta["state"]["history"]) == strip(a_meta["state"]["history"])


def test_resume_with_more_epochs_continues_the_same_run(tmp_path):
    """1 epoch, stop, ``resume`` with --epochs 2 == 2 epochs straight (same seed)."""
    cfg2 = tiny_config(epochs=2)
    straight = tmp_path / "straight2"
    train(cfg2, straight, progress=False)

    staged = tmp_path / "staged"
    train(dataclasses.replace(cfg2, epochs=1), staged, progress=False)
    _, meta1 = read_checkpoint(staged / "last.pt")
    assert meta1["state"]["epoch"] == 1
    torch.manual_seed(4321)
    train(cfg2, staged, resume=True, progress=False)

    a, _ = read_checkpoint(straight / "last.pt")
    b, meta = read_checkpoint(staged / "last.pt")
    assert meta["state"]["epoch"] == 2
    _assert_state_dicts_equal(a["model_pos"], b["model_pos"])
    _assert_optimizer_states_equal(a["optimizer"], b["optimizer"])


def test_resume_of_a_finished_run_trains_nothing(straight_run, tmp_path):
    cfg, _, last, _ = straight_run
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    shutil.copy(last, run_dir / "last.pt")
    before = (run_dir / "last.pt").read_bytes()
    train(cfg, run_dir, resume=True, progress=False)
    assert (run_dir / "last.pt").read_bytes() == before


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    cfg = tiny_config(epochs=1)
    train(cfg, tmp_path / "a", progress=False)
    torch.manual_seed(12345)  # global RNG state before the run must not matter
    train(cfg, tmp_path / "b", progress=False)
    train(dataclasses.replace(cfg, seed=8), tmp_path / "c", progress=False)
    a, b, c = (_weights(tmp_path / n / "last.pt") for n in "abc")
    _assert_state_dicts_equal(a, b)
    assert not torch.equal(a["expand_conv.weight"], c["expand_conv.weight"])


def test_resume_on_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PoseliftError, match=r"`resume=True` given but .*last\.pt does not exist"):
        train(tiny_config(), tmp_path, resume=True, progress=False)
    assert not (tmp_path / "last.pt").exists()


def test_existing_run_without_resume_is_refused(straight_run, tmp_path):
    _, _, last, _ = straight_run
    shutil.copy(last, tmp_path / "last.pt")
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(PoseliftError, match="already exists; pass `resume=True`"):
        train(tiny_config(), tmp_path, progress=False)
    assert (tmp_path / "last.pt").read_bytes() == before


def test_resume_with_a_different_architecture_is_refused(straight_run, tmp_path):
    _, _, last, _ = straight_run
    shutil.copy(last, tmp_path / "last.pt")
    with pytest.raises(PoseliftError, match="model config differs"):
        train(tiny_config(channels=16), tmp_path, resume=True, progress=False)


# ----------------------------------------------------------------------- via the CLI
TINY_ARGS = [
    "--dataset", "synthetic", "--arc", "3,3", "--channels", "32", "--batch-size", "512",
    "--subset", "0.5", "--seed", "7", "--threads", "1", "--no-progress",
]


def test_cli_train_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--epochs", "1", "--out", str(out)]) == 0
    _, meta = read_checkpoint(out / "last.pt")
    assert meta["state"]["epoch"] == 1
    assert meta["model"]["filter_widths"] == [3, 3] and meta["model"]["channels"] == 32

    capsys.readouterr()
    assert main(["train", *TINY_ARGS, "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("poselift: error:") and "--resume" in err and "Traceback" not in err

    assert main(["train", *TINY_ARGS, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    _, meta = read_checkpoint(out / "last.pt")
    assert meta["state"]["epoch"] == 2


def test_cli_resume_on_empty_folder(tmp_path, capsys):
    rc = main(["train", *TINY_ARGS, "--epochs", "1", "--out", str(tmp_path / "empty"), "--resume"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [err.strip()]
    assert "--resume given but" in err and "last.pt does not exist" in err
