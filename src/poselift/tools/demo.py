"""``poselift demo``: what poselift does, end to end, with no data of your own.

Step 1 — the bundled model (the one ``poselift infer`` uses) lifts an unseen
procedurally animated figure, filmed by a virtual camera, from its 2D keypoints to
3D, and the result is scored against the figure's true 3D; writes
``<out>/bundled.mp4`` (2D input | 3D | ground truth) and ``<out>/bundled.bvh``.

Step 2 (skipped with ``train_seconds=0``) — training works on this machine: a small
model is trained from scratch on the procedural figure for a time budget, then scored
the same way; writes ``<out>/trained.mp4``, ``<out>/trained.bvh`` and the checkpoint
``<out>/last.pt``.

A demo never overwrites: the default folder ``runs/demo`` becomes ``runs/demo-2``,
``runs/demo-3``, … when it is taken; a folder given explicitly must be new or empty
unless ``overwrite``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.data.datasets import Sequence, normalized_keypoints
from poselift.errors import PoseliftError
from poselift.evaluation.metrics import mpjpe, p_mpjpe
from poselift.evaluation.protocol import evaluate_sequences
from poselift.geometry import camera as cam
from poselift.geometry.skeleton import H36M_17, convert_input_layout
from poselift.io.exports import write_bvh
from poselift.io.staging import check_destination
from poselift.models.lifter import load_model
from poselift.models.predict import lift_sequence
from poselift.pipeline.infer import lift
from poselift.tools.render_sequence import synthetic_render_sequence
from poselift.training.config import TrainConfig
from poselift.training.trainer import Trainer
from poselift.viz.render import render_video

log = logging.getLogger("poselift.tools.demo")

DEFAULT_DEMO_DIR = Path("runs/demo")
#: Frames of the unseen figure that each step lifts and renders (50 frames/s: 8 s).
DEMO_FRAMES = 400
#: The files a demo writes (step 1, then step 2).
BUNDLED_FILES = ("bundled.mp4", "bundled.bvh")
TRAINED_FILES = ("trained.mp4", "trained.bvh", "last.pt")


@dataclass
class DemoScore:
    """Pose error of one step on the unseen figure, millimetres (root-relative)."""

    mpjpe_mm: float
    p_mpjpe_mm: float


@dataclass
class DemoResult:
    out_dir: Path
    bundled: DemoScore
    files: list[Path] = field(default_factory=list)
    trained: DemoScore | None = None
    untrained_mpjpe_mm: float | None = None
    train_seconds: float = 0.0
    epochs: int = 0


def demo_folder(out: str | Path | None, overwrite: bool) -> Path:
    """The folder a demo writes to: ``out`` (new or empty, or ``overwrite``), or with
    ``out=None`` the first free one of ``runs/demo``, ``runs/demo-2``, …"""
    if out is None:
        candidate, n = DEFAULT_DEMO_DIR, 1
        while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())) and not overwrite:
            n += 1
            candidate = DEFAULT_DEMO_DIR.with_name(f"{DEFAULT_DEMO_DIR.name}-{n}")
        out = candidate
    out = Path(out)
    check_destination(out, folder=True)
    taken = [name for name in (*BUNDLED_FILES, *TRAINED_FILES) if (out / name).exists()]
    if taken and not overwrite:
        raise PoseliftError(f"{out} already holds a demo ({', '.join(taken)}); pass `overwrite=True` or choose another `out`")
    return out


def score(pred: np.ndarray, truth: np.ndarray) -> DemoScore:
    """MPJPE and P-MPJPE (mm) of root-relative ``pred`` against ``truth`` ``[T, 17, 3]`` m."""
    rel = truth - truth[:, :1]
    return DemoScore(float(mpjpe(pred, rel).mean() * 1000), float(p_mpjpe(pred, rel).mean() * 1000))


def _write(out: Path, stem: str, pred: np.ndarray, seq: Sequence, rotation: np.ndarray, progress: bool) -> list[Path]:
    video = render_video(
        out / f"{stem}.mp4", pred, H36M_17, seq.fps, keypoints_2d=seq.keypoints_2d,
        ground_truth=seq.positions_3d - seq.positions_3d[:, :1], camera_rotation=rotation, progress=progress,
    )
    bvh = write_bvh(out / f"{stem}.bvh", pred, H36M_17, seq.fps, camera_rotation=rotation)
    return [Path(video), Path(bvh)]


def bundled_step(out: Path, seq: Sequence, rotation: np.ndarray, progress: bool) -> tuple[DemoScore, list[Path]]:
    """Step 1: the bundled model lifts the figure's 2D (as a detector would give it)."""
    lifter = load_model()
    layout = lifter.metadata.get("input_layout", "h36m17")
    points = convert_input_layout(seq.keypoints_2d, layout)
    norm = cam.normalize_screen(points, seq.intrinsics.width, seq.intrinsics.height).astype(np.float32)
    pred, _ = lift(lifter, norm, seq.fps, trajectory=False)
    return score(pred, seq.positions_3d), _write(out, "bundled", pred, seq, rotation, progress)


def training_step(
    out: Path, seq: Sequence, rotation: np.ndarray, seconds: float, progress: bool
) -> tuple[DemoScore, float, int, float, list[Path]]:
    """Step 2: train a small model from scratch for about ``seconds``; score it on the figure.
    Returns (score, untrained MPJPE mm, epochs, seconds spent, files)."""
    cfg = TrainConfig(
        dataset="synthetic", data_dir="", filter_widths=(3, 3, 3), channels=128, epochs=1000,
        batch_size=256, lr=2e-3, lr_decay=0.97, validate_every=0, seed=7,
    )
    trainer = Trainer(cfg, out, progress=progress)
    seqs, inputs = trainer.test_data
    before = evaluate_sequences(trainer.eval_model, seqs, inputs, None)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rec = trainer.train_epoch()
        trainer.state.epoch += 1
        trainer.state.lr *= cfg.lr_decay
        for g in trainer.optimizer.param_groups:
            g["lr"] = trainer.state.lr
        log.info("epoch %d: train MPJPE %.1f mm, %.0f samples/s", trainer.state.epoch, rec["train_mpjpe_mm"], rec["samples_per_s"])
    spent = time.perf_counter() - start
    trainer.save(out / "last.pt")
    trainer.eval_model.load_state_dict(trainer.model.state_dict())
    model = trainer.eval_model.eval()
    pred, _ = lift_sequence(model, normalized_keypoints(seq), trainer.flip)
    files = _write(out, "trained", pred, seq, rotation, progress) + [out / "last.pt"]
    return score(pred, seq.positions_3d), before.mpjpe_mm, trainer.state.epoch, spent, files


def run_demo(
    out: str | Path | None = None, train_seconds: float = 60.0, *, overwrite: bool = False, progress: bool = True
) -> DemoResult:
    """Both steps (see the module docstring); ``train_seconds=0`` skips step 2."""
    if not 0 <= train_seconds <= 24 * 3600:
        raise PoseliftError(f"`train_seconds` must be between 0 and 86400, got {train_seconds}")
    folder = demo_folder(out, overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    seq, rotation = synthetic_render_sequence(num_frames=DEMO_FRAMES)
    log.info("step 1: the bundled model lifts an unseen figure (%d frames) from its 2D", DEMO_FRAMES)
    bundled, files = bundled_step(folder, seq, rotation, progress)
    result = DemoResult(folder, bundled, files)
    if train_seconds > 0:
        log.info("step 2: training a small model from scratch for about %.0f s", train_seconds)
        trained, untrained, epochs, spent, more = training_step(folder, seq, rotation, train_seconds, progress)
        result.trained, result.untrained_mpjpe_mm, result.epochs, result.train_seconds = trained, untrained, epochs, spent
        result.files += more
    return result
