"""``poselift demo``: a real end-to-end run on built-in procedural data.

Trains a small temporal model on a procedurally animated figure filmed by random
virtual cameras (no licensed data needed), then lifts unseen sequences filmed by
unseen cameras and prints the standard metrics; finally renders one unseen sequence
(2D input | 3D reconstruction | ground truth) to ``<out>/demo.mp4`` and writes the
reconstruction as ``<out>/demo.bvh``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from poselift.data.datasets import normalized_keypoints, skeletons_for
from poselift.evaluation.protocol import evaluate_sequences, format_table
from poselift.geometry.skeleton import H36M_17
from poselift.io.exports import write_bvh
from poselift.models.predict import lift_sequence
from poselift.tools.render_sequence import synthetic_render_sequence
from poselift.training.config import TrainConfig
from poselift.training.trainer import Trainer
from poselift.viz.render import render_video

log = logging.getLogger("poselift.tools.demo")


def run_demo(out: str | Path = "runs/demo", seconds: float = 60.0) -> int:
    out = Path(out)
    cfg = TrainConfig(
        dataset="synthetic", data_dir="", filter_widths=(3, 3, 3), channels=128, epochs=1000,
        batch_size=256, lr=2e-3, lr_decay=0.97, validate_every=0, seed=7,
    )
    trainer = Trainer(cfg, out, progress=True)
    seqs, inputs = trainer.test_data
    before = evaluate_sequences(trainer.eval_model, seqs, inputs, None)
    log.info("demo: training RF %d, %d channels on procedural motion for about %.0f s", 27, cfg.channels, seconds)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rec = trainer.train_epoch()
        trainer.state.epoch += 1
        trainer.state.lr *= cfg.lr_decay
        for g in trainer.optimizer.param_groups:
            g["lr"] = trainer.state.lr
        log.info("epoch %d: train MPJPE %.1f mm, %.0f samples/s", trainer.state.epoch, rec["train_mpjpe_mm"], rec["samples_per_s"])
    trainer.save(out / "last.pt")
    trainer.eval_model.load_state_dict(trainer.model.state_dict())
    after = evaluate_sequences(trainer.eval_model, seqs, inputs, trainer.flip, skeleton=skeletons_for(cfg.dataset)[1])
    print(f"untrained model on unseen sequences: MPJPE {before.mpjpe_mm:.1f} mm")
    print(format_table(after, "after training, unseen figures and cameras (flip TTA)"))
    print(f"checkpoint: {out / 'last.pt'} (try: poselift evaluate --checkpoint {out / 'last.pt'})")
    video, bvh = render_demo(trainer, out)
    print(f"video: {video} (input 2D | 3D reconstruction | ground truth of an unseen sequence)")
    print(f"motion: {bvh} (the reconstruction as BVH, e.g. File > Import > Motion Capture in Blender)")
    return 0


def render_demo(trainer: Trainer, out: Path, num_frames: int = 300) -> tuple[Path, Path]:
    """Lift one unseen procedural sequence (flip TTA) and write ``demo.mp4`` and ``demo.bvh``."""
    seq, rotation = synthetic_render_sequence(num_frames=num_frames)
    model = trainer.eval_model.eval()
    pred, _ = lift_sequence(model, normalized_keypoints(seq), trainer.flip)  # root-relative
    video = render_video(
        out / "demo.mp4", pred, H36M_17, seq.fps, keypoints_2d=seq.keypoints_2d,
        ground_truth=seq.positions_3d, camera_rotation=rotation,
    )
    bvh = write_bvh(out / "demo.bvh", pred, H36M_17, seq.fps, camera_rotation=rotation)
    return video, bvh
