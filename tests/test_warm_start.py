"""Warm start (``TrainConfig.init_from`` / ``poselift train --init-from``): a new run
starts from another checkpoint's weights (fine-tuning, or a symmetric model turned
causal), with a fresh optimiser; the architecture must match except causal/dropout."""

from __future__ import annotations

import pytest
import torch

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.models.checkpoint import read_checkpoint
from poselift.training.trainer import Trainer, train
from tests.test_train import tiny_config


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    run = tmp_path_factory.mktemp("source") / "run"
    train(tiny_config(epochs=1), run, progress=False)
    return run / "last.pt"


def test_warm_start_copies_every_weight_into_a_causal_run(source, tmp_path):
    trainer = Trainer(tiny_config(causal=True, init_from=str(source), dropout=0.1), tmp_path / "run", progress=False)
    fresh = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.warm_start()
    stored = read_checkpoint(source)[0]["model_pos"]
    loaded = trainer.model.state_dict()
    assert loaded.keys() == stored.keys()
    assert all(torch.equal(loaded[k], stored[k].float()) for k in stored)
    assert any(not torch.equal(fresh[k], loaded[k]) for k in fresh if fresh[k].is_floating_point())
    assert trainer.optimizer.state_dict()["state"] == {}  # the optimiser starts fresh


def test_warm_started_run_starts_where_the_source_ended(source, tmp_path):
    train(tiny_config(epochs=1, init_from=str(source), lr=1e-6), tmp_path / "run", progress=False)
    _, meta = read_checkpoint(tmp_path / "run" / "last.pt")
    _, src_meta = read_checkpoint(source)
    warm = meta["state"]["history"][0]["train_mpjpe_mm"]
    cold = src_meta["state"]["history"][0]["train_mpjpe_mm"]  # the source's first (cold) epoch
    assert meta["train"]["init_from"] == str(source)
    assert warm < cold  # it went on from the trained weights, not from scratch


def test_warm_start_refuses_another_architecture(source, tmp_path):
    trainer = Trainer(tiny_config(channels=48, init_from=str(source)), tmp_path / "run", progress=False)
    with pytest.raises(PoseliftError, match=r"`init_from` checkpoint .*channels 32 \(this run: 48\)"):
        trainer.warm_start()


def test_cli_warm_start_errors_are_one_line(source, tmp_path, capsys):
    args = ["train", "--dataset", "synthetic", "--arc", "3,3", "--channels", "48", "--epochs", "1",
            "--subset", "0.5", "--threads", "1", "--no-progress", "--device", "cpu"]
    assert main([*args, "--init-from", str(source), "--out", str(tmp_path / "a")]) != 0
    err = capsys.readouterr().err
    assert "--init-from" in err and "channels 32 (this run: 48)" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()  # the run folder it created is removed again
    assert main([*args, "--init-from", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "b")]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_resume_keeps_the_warm_start_provenance(source, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(epochs=2, init_from=str(source)), run, progress=False, stop_after=1)
    train(tiny_config(epochs=2), run, resume=True, progress=False)
    _, meta = read_checkpoint(run / "last.pt")
    assert meta["state"]["epoch"] == 2 and meta["train"]["init_from"] == str(source)
