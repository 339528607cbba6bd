"""``poselift demo``."""

from __future__ import annotations

import argparse

from poselift.cli.options import add_examples
from poselift.tools.demo import run_demo


def cmd_demo(args) -> int:
    result = run_demo(args.out, train_seconds=args.seconds, overwrite=args.overwrite, progress=not args.no_progress)
    out = result.out_dir
    b = result.bundled
    print()
    print("Step 1 - the bundled model (what `poselift infer` uses) on an unseen animated figure, 2D in, 3D out:")
    print(f"  mean joint error {b.mpjpe_mm:.0f} mm (after aligning scale and rotation: {b.p_mpjpe_mm:.0f} mm)")
    print(f"  video: {out / 'bundled.mp4'}  (left: the 2D input, middle: the 3D it made, right: the true 3D)")
    print(f"  motion: {out / 'bundled.bvh'}  (open in Blender: File > Import > Motion Capture (.bvh))")
    if result.trained is not None:
        t = result.trained
        print()
        print(f"Step 2 - training works here: a small model trained from scratch for {result.train_seconds:.0f} s "
              f"({result.epochs} epochs) on the figure:")
        print(f"  mean joint error {result.untrained_mpjpe_mm:.0f} mm before training, {t.mpjpe_mm:.0f} mm after "
              f"({t.p_mpjpe_mm:.0f} mm aligned)")
        print("  (it has only ever seen this kind of figure; the bundled model is trained on real people's motion)")
        print(f"  video: {out / 'trained.mp4'}  checkpoint: {out / 'last.pt'}")
    print()
    print("Next: lift your own video with   poselift infer my_video.mp4 --render")
    return 0


def configure_demo(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Shows what poselift does with no data of your own. Step 1: the bundled model lifts an unseen animated "
        "figure from 2D to 3D and is scored against its true 3D (a video and a BVH). Step 2: a small model is "
        "trained from scratch for --seconds to show training works on this machine (--seconds 0 skips it). "
        "Never overwrites: the default folder runs/demo becomes runs/demo-2, runs/demo-3, ... when taken."
    )
    p.add_argument("--out", default=None, help="output folder (default: runs/demo, or the next free runs/demo-N)")
    p.add_argument("--seconds", type=float, default=60.0, help="training time of step 2 in seconds (default 60; 0 skips step 2)")
    p.add_argument("--overwrite", action="store_true", help="replace the demo files already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_examples(
        p,
        'poselift demo',
        'poselift demo --seconds 0            # step 1 only: the bundled model (a few seconds)',
        'poselift demo --seconds 20 --out runs/demo_quick',
    )
    p.set_defaults(func=cmd_demo)
