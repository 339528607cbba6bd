"""Shared test fixtures. Real-data tests skip when ../shared/data is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from poselift.viz import render

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("POSELIFT_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set POSELIFT_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def h36m_dir() -> Path:
    return _require(DATA_ROOT / "h36m")


@pytest.fixture(scope="session")
def humaneva_dir() -> Path:
    return _require(DATA_ROOT / "humaneva")


@pytest.fixture(scope="session")
def demo_video() -> Path:
    return _require(DATA_ROOT / "video" / "sports2d_demo.mp4")


@pytest.fixture
def drawn_frames(monkeypatch) -> list:
    """The frames the renderer (:mod:`poselift.viz.render`) draws into an mp4, collected
    before encoding (exact colours) instead of being written."""
    frames: list = []

    def grab(path, stream, fps, width, height):
        for frame in stream:
            frames.append(frame.copy())
        return len(frames)

    monkeypatch.setattr(render, "_write_mp4", grab)
    return frames
