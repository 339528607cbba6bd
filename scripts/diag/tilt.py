"""How much of the bundled model's GT-2D error one transform per recording would fix:
the best scale, the best tilt about the camera x axis, the best rotation (S9/S11, flip,
every STEP-th recording). Usage: python scripts/diag/tilt.py [STEP]   (docs/results.md, session 11)"""
import sys

import numpy as np
import torch

from poselift.data.datasets import normalized_keypoints
from poselift.models.lifter import load_model
from poselift.models.predict import predict_sequence
from poselift.training.config import TrainConfig, flip_spec_for
from poselift.training.data import load_split, with_input_layout

torch.set_num_threads(1)
step = int(sys.argv[1]) if len(sys.argv) > 1 else 4
lifter = load_model(None)
cfg = TrainConfig(dataset="h36m", data_dir="../shared/data/h36m", keypoints="gt")
seqs = load_split(cfg, train=False)[::step]
seqs = with_input_layout(seqs, lifter.metadata.get("input_layout", "h36m17"))
flip = flip_spec_for(cfg)

def rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

def kabsch(p, g):  # rotation R minimising |p R^T - g| over all points (no scale/translation)
    h = p.reshape(-1, 3).T @ g.reshape(-1, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1, 1, d]) @ u.T

rows = []
for s in seqs:
    pred = predict_sequence(lifter.pose_model, normalized_keypoints(s), flip)
    gt = s.positions_3d - s.positions_3d[:, :1]
    pred = pred - pred[:, :1]
    e = lambda p: np.linalg.norm(p - gt, axis=-1).mean() * 1000
    angles = np.radians(np.linspace(-20, 20, 161))
    ex = [e(pred @ rot_x(a).T) for a in angles]
    r = kabsch(pred, gt)
    ang = np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))
    scale = (pred * gt).sum() / (pred * pred).sum()
    rows.append((len(gt), e(pred), min(ex), np.degrees(angles[int(np.argmin(ex))]), e(pred @ r.T), ang, e(pred * scale), scale))
    print(s.key, " ".join(f"{v:.2f}" for v in rows[-1][1:]), flush=True)
a = np.array(rows); w = a[:, 0] / a[:, 0].sum()
print("weighted: MPJPE %.1f | best x-tilt %.1f (mean tilt %.1f deg, |tilt| %.1f) | best rotation %.1f (mean angle %.1f deg) | best scale %.1f (mean %.3f)" % (
    (w * a[:, 1]).sum(), (w * a[:, 2]).sum(), (w * a[:, 3]).sum(), (w * abs(a[:, 3])).sum(), (w * a[:, 4]).sum(), (w * a[:, 5]).sum(), (w * a[:, 6]).sum(), (w * a[:, 7]).sum()))
