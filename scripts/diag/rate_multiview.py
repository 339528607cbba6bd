"""Lever 4 on real 60 fps footage: `poselift score-multiview` as `infer` lifts today (resample
60 → 25 Hz and back) vs with every video frame fed to the model as one model step (the
checkpoint's rate replaced by the clip's for the lift only: detection, tracking and
timestamps are unchanged). Add --adapt to do both with test-time adaptation.

Usage: python scripts/diag/rate_multiview.py [--adapt] [--out /tmp/mv_rate]
"""
import argparse
import sys

import poselift.pipeline.infer as infer
from poselift.models.lifter import PoseLifter
from poselift.tools.multiview import score_multiview

parser = argparse.ArgumentParser()
parser.add_argument("--adapt", action="store_true")
parser.add_argument("--out", default="/tmp/mv_rate")
parser.add_argument("--data", default="../shared/data/multiview")
args = parser.parse_args()
original_lift, original_adapted = infer.lift, infer.adapted_lifter


def at_clip_rate(lifter, fps):
    return PoseLifter(lifter.pose_model, lifter.trajectory_model, {**lifter.metadata, "fps": fps})


def lift_as_is(lifter, x, fps, **kw):
    return original_lift(at_clip_rate(lifter, fps), x, fps, **kw)


def adapted_as_is(lifter, x, conf, fps, **kw):
    return original_adapted(at_clip_rate(lifter, fps), x, conf, fps, **kw)


for name in ("resampled (infer today)", "as is"):
    if name == "as is":
        infer.lift, infer.adapted_lifter = lift_as_is, adapted_as_is
    score = score_multiview(args.data, f"{args.out}/{name.split()[0]}", infer_options={"adapt": args.adapt},
                            progress=False)
    print(f"## {name}{' + adapt' if args.adapt else ''}")
    print(score.table, flush=True)
sys.exit(0)
