"""The video's own frame rate (issue 25, lever 4): resample to the model's 25 Hz and back
(what `poselift infer` does) vs feed the frames to the model as they are.

Human3.6M held-out clips (S9/S11, one per action, first camera, 10 s): the 50 Hz data are
resampled to each test rate (24, 30, 50, 60 frames/s; linear interpolation of the 2D and
of the ground truth alike), optionally with the `--recipe wild` noise model on the 2D
(--noisy). Each clip is lifted by the bundled model (a) at the model's rate
(`poselift.pipeline.infer.lift`: resample to 25 Hz, lift, interpolate back) and (b) as
is, every frame one model step. Reports MPJPE and P-MPJPE (mm) and the velocity error
MPJVE (mm per frame of the clip's rate) against the ground truth at the clip's rate.

Usage: python scripts/diag/rate_ab.py [--noisy] [--clips 30] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from poselift.data.datasets import normalized_keypoints, skeletons_for
from poselift.data.noise import NoiseConfig, corrupt_sequence
from poselift.evaluation.metrics import mpjpe, p_mpjpe, velocity_error
from poselift.geometry.sequence import FlipSpec, resample
from poselift.geometry.skeleton import H36M_17, limbs_for
from poselift.models.lifter import load_model
from poselift.models.predict import lift_sequence
from poselift.pipeline.infer import lift
from poselift.tools.bench import machine
from poselift.training.config import TrainConfig
from poselift.training.data import load_split

RATES = (24.0, 30.0, 50.0, 60.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noisy", action="store_true")
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lifter = load_model()
    saved = TrainConfig.from_dict(lifter.metadata["train"])
    cfg = TrainConfig(dataset="h36m", data_dir="../shared/data/h36m", keypoints="gt", recipe="wild", seed=saved.seed)
    chosen, seen = [], set()
    for s in load_split(cfg, train=False):
        key = (s.subject, s.name.split(" ")[0])
        if key not in seen and s.num_frames >= args.seconds * s.fps:
            seen.add(key)
            chosen.append(s)
    chosen = chosen[: args.clips]
    flip = FlipSpec.from_skeletons(H36M_17, H36M_17)
    noise = NoiseConfig(limbs=limbs_for(skeletons_for("h36m")[0]))
    print(f"# machine: {machine()}; {len(chosen)} clips of {args.seconds:g} s; noisy={args.noisy}")
    print("| clip rate | input | MPJPE mm | P-MPJPE mm | MPJVE mm/frame |")
    print("| --- | --- | --- | --- | --- |")
    for rate in RATES:
        scores = {"resampled to 25 Hz and back (infer)": [], "as is (one model step per frame)": []}
        gen = torch.Generator().manual_seed(1234)
        for s in chosen:
            n = int(args.seconds * s.fps)
            x = resample(normalized_keypoints(s)[:n].astype(np.float32), s.fps, rate)
            gt = resample(s.positions_3d[:n], s.fps, rate)
            gt = gt - gt[:, :1]
            if args.noisy:
                x = np.asarray(corrupt_sequence(x, gen, noise, chunk_frames=27), dtype=np.float32)
            via, _ = lift(lifter, x, rate, flip=True, trajectory=False)
            direct, _ = lift_sequence(lifter.pose_model, x, flip)
            for name, pred in zip(scores, (via, direct)):
                scores[name].append((mpjpe(pred, gt).mean(), p_mpjpe(pred, gt).mean(), velocity_error(pred, gt).mean()))
        for name, rows in scores.items():
            m = 1000 * np.mean(rows, axis=0)
            print(f"| {rate:g} fps | {name} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
