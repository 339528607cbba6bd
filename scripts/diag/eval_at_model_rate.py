"""MPJPE of a wild model on the H36M test split fed at 50 Hz (what `evaluate` does) vs at
the model's 25 Hz (both phases of the 2x downsampling, so every frame is scored once)."""
import sys, time
import torch
from poselift.data.datasets import normalized_keypoints, _slice_sequence, skeletons_for
from poselift.evaluation.protocol import evaluate_sequences
from poselift.models.lifter import load_model
from poselift.training.config import TrainConfig
from poselift.training.data import load_split
if len(sys.argv) != 2 or sys.argv[1] not in ("symmetric", "causal"):
    sys.exit("usage: python scripts/diag/eval_at_model_rate.py symmetric|causal   (the bundled model; data in ../shared/data/h36m)")
torch.set_num_threads(2)
causal = sys.argv[1] == "causal"
lifter = load_model(causal=causal)
meta = lifter.metadata
saved = TrainConfig.from_dict(meta["train"])
cfg = TrainConfig(dataset="h36m", data_dir="../shared/data/h36m", keypoints="gt", recipe="wild", seed=saved.seed)
seqs = load_split(cfg, train=False)  # already in the detector layout (recipe wild)
skel = skeletons_for("h36m")[1]
def run(ss, tag):
    t = time.time()
    r = evaluate_sequences(lifter.pose_model, ss, [normalized_keypoints(s) for s in ss], None, skeleton=skel)
    print(f"{'causal' if causal else 'symmetric'} {tag}: MPJPE {r.mpjpe_mm:.2f} P-MPJPE {r.p_mpjpe_mm:.2f} MPJVE {r.mpjve_mm:.2f} frames {r.frames} ({time.time()-t:.0f} s)", flush=True)
run(seqs, "50 Hz input (evaluate today)")
halves = []
for s in seqs:
    for ph in (0, 1):
        d = _slice_sequence(s, slice(ph, None, 2)); d.fps = s.fps / 2; halves.append(d)
run(halves, "25 Hz input, both phases")
