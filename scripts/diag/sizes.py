"""Sum of the 16 bone lengths (m) of each Human3.6M subject (docs/results.md, session 11)."""
import numpy as np

from poselift.geometry.skeleton import H36M_17, bone_lengths
from poselift.training.config import TrainConfig
from poselift.training.data import load_split

cfg = TrainConfig(dataset="h36m", data_dir="../shared/data/h36m", keypoints="gt")
for train in (True, False):
    seqs = load_split(cfg, train=train)
    by = {}
    for s in seqs:
        if s.camera_id != seqs[0].camera_id: continue
        p = s.positions_3d
        b = bone_lengths(p, H36M_17).mean(0)
        by.setdefault(s.subject, []).append(b.sum())
    for k, v in by.items(): print(k, "sum of bone lengths %.3f m" % np.mean(v))
