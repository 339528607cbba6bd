"""Sum of the 16 bone lengths (m) of each Human3.6M subject (docs/results.md, session 11)."""
import numpy as np
from poselift.train import TrainConfig, load_split
from poselift.plausibility import bone_lengths
from poselift.skeleton import H36M_17
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
