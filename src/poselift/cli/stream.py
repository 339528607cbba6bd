"""``poselift stream``."""

from __future__ import annotations

import argparse
import json
import sys

from poselift.cli.options import (
    add_examples,
    add_threads_option,
    non_negative_int,
    positive_float,
    positive_int,
)
from poselift.pipeline.stream import run_stream


def cmd_stream(args: argparse.Namespace) -> int:
    summary = run_stream(
        args.video, camera=args.camera, checkpoint=args.checkpoint, fps=args.fps, realtime=args.realtime,
        max_frames=args.max_frames, jsonl=args.jsonl, focal=args.focal, trajectory_source=args.trajectory_source,
        size_guard=not args.no_size_guard,
    )
    if args.summary_json:
        print(json.dumps(summary), file=sys.stderr)
    return 0


def configure_stream(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Lifts each frame as it arrives with a causal model (no future frames): MediaPipe 2D → H36M-17 → "
        "3D. Prints a latency summary (detector and lifting, ms per frame) on stderr and, with --jsonl, one JSON "
        "object per frame on stdout for other programs."
    )
    p.add_argument("video", nargs="?", default=None, help="video file to stream (or use --camera)")
    p.add_argument("--camera", type=non_negative_int, default=None, help="live camera index for OpenCV (e.g. 0)")
    p.add_argument("--checkpoint", default=None, help="causal poselift checkpoint (trained with `poselift train --causal`); default: the bundled causal model (poselift_wild_causal.pt; a symmetric checkpoint is refused)")
    p.add_argument("--fps", type=positive_float, default=None, help="frame rate in frames/s: replaces the rate the video file or camera states (needed for a file that states none; a camera that states none counts as 30)")
    p.add_argument("--realtime", action="store_true", help="pace a video file at its frame rate, as a camera would deliver it")
    p.add_argument("--max-frames", type=positive_int, default=None, help="stop after N frames")
    p.add_argument("--jsonl", action="store_true", help="print one JSON object per frame on stdout (joints_3d in metres, latency in ms)")
    p.add_argument("--summary-json", action="store_true", help="also print the latency summary as JSON on stderr")
    p.add_argument("--focal", type=positive_float, default=None, metavar="PX", help="camera focal length in pixels for the fitted trajectory's depth (default: the image diagonal sqrt(w²+h²))")
    p.add_argument("--trajectory-source", choices=["fit", "model"], default="fit", help="'fit' (default): the root placed onto the 2D legs and arms each frame, smoothed causally (0.2 s running median, then a 0.1 s exponential average), for any checkpoint; 'model': the checkpoint's trajectory model (none without one)")
    p.add_argument("--no-size-guard", action="store_true", help="lift the 2D as seen; by default a person taller in the frame than the model's training data is lifted from their 2D scaled down to that size (as `infer`; the scale is fixed after the first 25 frames with a person)")
    add_threads_option(p)
    add_examples(
        p,
        'poselift stream my.mp4 --jsonl                 # the bundled causal model, one JSON line per frame',
        'poselift stream my.mp4 --checkpoint causal.pt --jsonl',
        'poselift stream --camera 0 --checkpoint causal.pt --summary-json',
    )
    p.set_defaults(func=cmd_stream)
