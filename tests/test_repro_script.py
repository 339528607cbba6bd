"""scripts/compare_to_bundled.py: the verdict of the model card's reproducibility check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poselift.models.checkpoint import save_checkpoint
from poselift.models.lifter import load_model
from poselift.models.temporal import ModelConfig, TemporalModel

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_to_bundled.py"


@pytest.fixture(scope="module")
def bundled_metadata() -> dict:
    return load_model(None).metadata


def _run_dir(tmp_path: Path, meta: dict, mpjpe_shift: float, p_mpjpe_shift: float, train_changes: dict | None = None) -> Path:
    """A run folder with a tiny checkpoint that carries the bundled training config
    (optionally changed) and an eval.json whose GT metrics are the bundled ones shifted."""
    cfg = ModelConfig(filter_widths=(3, 3), channels=16)
    train = dict(meta["train"], **(train_changes or {}))
    save_checkpoint(tmp_path / "last.pt", {"model_pos": TemporalModel(cfg).state_dict()}, {"model": cfg.to_dict(), "train": train})
    m = meta["metrics"]
    result = {"mpjpe_mm": m["mpjpe_mm"] + mpjpe_shift, "p_mpjpe_mm": m["p_mpjpe_mm"] + p_mpjpe_shift}
    (tmp_path / "eval.json").write_text(json.dumps(result))
    return tmp_path


def _compare(run: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, timeout=120)


def test_within_one_mm_passes(tmp_path, bundled_metadata):
    out = _compare(_run_dir(tmp_path, bundled_metadata, 0.6, -0.4))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "GT 2D: within 1 mm" in out.stdout
    assert "+0.60 / -0.40" in out.stdout
    assert "training config differs" not in out.stdout


def test_more_than_one_mm_fails(tmp_path, bundled_metadata):
    out = _compare(_run_dir(tmp_path, bundled_metadata, 0.2, 1.3))
    assert out.returncode == 1
    assert "NOT within 1 mm" in out.stdout and "1.30 mm" in out.stdout


def test_changed_recipe_is_reported(tmp_path, bundled_metadata):
    channels = bundled_metadata["train"]["channels"]
    out = _compare(_run_dir(tmp_path, bundled_metadata, 0.0, 0.0, {"channels": channels + 8, "threads": 1}))
    assert out.returncode == 0
    assert f"'channels': ({channels}, {channels + 8})" in out.stdout
    assert "threads" not in out.stdout.split("S9/S11")[0]  # thread count is not part of the recipe


def test_missing_evaluation_fails(tmp_path, bundled_metadata):
    run = _run_dir(tmp_path, bundled_metadata, 0.0, 0.0)
    (run / "eval.json").unlink()
    out = _compare(run)
    assert out.returncode == 1
    assert "no ground-truth-2D metrics" in out.stdout
