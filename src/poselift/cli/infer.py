"""``poselift infer`` and ``poselift infer-batch``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from poselift.cli.options import (
    add_examples,
    add_threads_option,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from poselift.errors import PoseliftError
from poselift.io.keypoints import KEYPOINT_FORMATS
from poselift.models.lifter import DEFAULT_MODEL_FPS
from poselift.pipeline.batch import run_batch
from poselift.pipeline.detect import DETECTORS
from poselift.pipeline.infer import (
    DEFAULT_MAX_GAP,
    DEFAULT_MIN_TRACK_S,
    DEFAULT_TRACK_GAP_S,
    PERSON_RULES,
    RENDER_SIZE_RANGE,
    TRAJECTORY_SOURCES,
    InferResult,
    run_infer,
)

def person_choice(text: str) -> str | int:
    """``--person``: all, largest, longest or a track id (a whole number >= 0)."""
    if text in PERSON_RULES:
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"use all, largest, longest or a track id (a whole number >= 0), not {text!r}")
    return value


#: The frame rate of the bundled model (its metadata 'fps'; tests/test_cli.py checks it),
#: stated in `poselift infer --help`.
BUNDLED_MODEL_FPS = 25.0


def person_heights(text: str) -> float | dict[int, float]:
    """``--person-height``: metres (one height for everyone) or ``ID=M,ID=M`` per track id."""
    try:
        if "=" not in text:
            return float(text)
        heights = {}
        for item in text.split(","):
            key, _, value = item.partition("=")
            heights[int(key)] = float(value)
        return heights
    except ValueError:
        raise argparse.ArgumentTypeError(f"use metres (1.78) or track id=metres pairs (1=1.80,2=1.65), not {text!r}") from None


def cmd_infer(args: argparse.Namespace) -> int:
    """``poselift infer``: run :func:`run_infer` and print a summary."""
    try:
        result = _cmd_infer_run(args)
    except OSError as exc:  # disk full, permission denied, ...: nothing was written (all-or-nothing)
        where = exc.filename or args.out
        raise PoseliftError(f"{where}: {exc.strerror or exc}; no outputs were written to {args.out}") from None
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"{result.num_frames} frames lifted (person found in {result.frames_with_person}, "
            f"{result.filled_frames} filled, {len(result.flagged_frames)} flagged) at "
            f"{result.frames_per_s:.1f} frames/s → {result.out_dir}",
            file=sys.stderr,
        )
        if len(result.people) > 1 or result.people and result.people[0]["folder"] != ".":
            for person in result.people:
                print(
                    f"person {person['track_id']}: frames {person['first_frame']}-{person['last_frame']} "
                    f"(found in {person['frames_with_person']}) → {Path(result.out_dir) / person['folder']}",
                    file=sys.stderr,
                )
        for path in result.files:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _shared_infer_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options `infer` and `infer-batch` share, as keyword arguments of :func:`run_infer`."""
    return {
        "detector": args.detector,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "focal": args.focal,
        "trajectory_source": args.trajectory_source,
        "causal": args.causal,
        "flip": not args.no_flip,
        "max_gap": args.max_gap,
        "person": args.person,
        "track_gap_s": args.track_gap,
        "min_track_s": args.min_track,
        "crops": not args.no_crops,
        "fix_swaps": not args.no_swap_fix,
        "size_guard": not args.no_size_guard,
        "adapt": args.adapt,
        "person_height_m": args.person_height,
        "bvh": args.bvh,
        "angles": args.angles,
        "level": args.level,
        "trc": args.trc,
        "trc_units": args.trc_units,
        "render": args.render,
        "overwrite": args.overwrite,
    }


def _cmd_infer_run(args: argparse.Namespace) -> InferResult:
    return run_infer(
        args.input,
        args.out,
        args.checkpoint,
        keypoints_format=args.keypoints_format,
        render_size=args.render_size,
        azimuth=args.azimuth,
        limit_frames=args.limit_frames,
        progress=not args.json and not args.no_progress,
        **_shared_infer_options(args),
    )


def _add_shared_infer_args(p: argparse.ArgumentParser, *, keypoints_format: bool) -> None:
    """Options `infer` and `infer-batch` share (read back by :func:`_shared_infer_options`)."""
    p.add_argument("--checkpoint", default=None, metavar="PATH", help="poselift checkpoint (.pt) trained on H36M-17 2D keypoints; default: the bundled model")
    p.add_argument("--detector", choices=DETECTORS, default="mediapipe", help="2D detector for videos (default mediapipe: BlazePose-33, model_complexity 1, bundled in the wheel, tracking mode)")
    if keypoints_format:
        p.add_argument("--keypoints-format", choices=("auto",) + KEYPOINT_FORMATS, default="auto", help="format of a keypoint INPUT (default auto: folder → openpose, .json → coco-json, .npz → npz, .csv → csv, anything else is decoded as a video)")
    g = p.add_argument_group("input geometry and timing")
    g.add_argument("--width", type=positive_int, default=None, metavar="PX", help="image width in pixels of a keypoint INPUT: required when the file does not state it, overrides it otherwise (videos: read from the file)")
    g.add_argument("--height", type=positive_int, default=None, metavar="PX", help="image height in pixels of a keypoint INPUT (like --width)")
    g.add_argument("--fps", type=positive_float, default=None, metavar="FPS", help="input frame rate in frames/s: required for keypoint files without one; for a video it replaces the container's rate (needed when the container has none)")
    g.add_argument("--focal", type=positive_float, default=None, metavar="PX", help="camera focal length in pixels, used for the trajectory (root position) depth; default: the image diagonal sqrt(w²+h²) (≈53° diagonal field of view)")
    g.add_argument("--trajectory-source", choices=TRAJECTORY_SOURCES, default="fit", help="where the root trajectory comes from: 'fit' (default) places the lifted pose onto the 2D legs and arms through a pinhole camera with --focal (a robust fit, smoothed over 0.5 s (median) and 0.18 s (mean)), for any checkpoint; 'model' uses the checkpoint's trajectory model (depth scaled by --focal; none without one). On Human3.6M 'fit' is 4-5x more accurate and jitters far less")
    g = p.add_argument_group("people")
    g.add_argument("--person", type=person_choice, default="all", metavar="{all,largest,longest,ID}", help="whom to lift: 'all' (default) tracks every person and writes each into OUT/person_<id>/ with OUT/people.json (tracks, first/last frame, identity events); 'largest' (the most visible over the clip), 'longest' (the most frames) or a track id writes that one person's files into OUT itself. npz and csv keypoint files hold one person and are always written into OUT itself")
    g.add_argument("--track-gap", type=non_negative_float, default=DEFAULT_TRACK_GAP_S, metavar="S", help=f"seconds a person may go undetected (occluded, out of the frame) and keep their identity (default {DEFAULT_TRACK_GAP_S:g})")
    g.add_argument("--min-track", type=non_negative_float, default=DEFAULT_MIN_TRACK_S, metavar="S", help=f"tracks detected in fewer seconds of frames are dropped, with a log line (default {DEFAULT_MIN_TRACK_S:g})")
    g.add_argument("--no-crops", action="store_true", help="videos: run the whole-frame detection on every frame and let the tracker link its poses, instead of following each person with a landmarker of their own on a crop around them (others greyed out) and looking for new people every few frames; people who overlap are then missed or fused, and it is slower for one or two people")
    g = p.add_argument_group("lifting")
    g.add_argument("--no-size-guard", action="store_true", help="lift every person from their 2D as seen; by default a person taller in the frame than the model's training data (for the bundled model over 1.22 half image widths: e.g. someone filling a portrait clip) is lifted from their 2D scaled down to that size, as a longer lens would show them from the same place (the checkpoint's input_height_p99; Human3.6M filmed from 1.8-2.5 m with a 25-30 degree lens: MPJPE 146.9 -> 76.3 mm; scripts/diag/input_size.py)")
    g.add_argument("--no-swap-fix", action="store_true", help="keep the detector's left/right labels as they are; by default runs of frames where it exchanged them (both arms, both legs, the whole body) are found by how smoothly each labelling moves and put back before lifting (Human3.6M with injected swaps: 96-99%% of the frames restored, none changed in clean sequences; multiview: P-MPJPE 96 -> 68 mm in the one view with such swaps, the others unchanged)")
    g.add_argument("--adapt", action="store_true", help="test-time adaptation: before lifting each person, fine-tune a copy of the model on their own clip so that its 3D, placed in the camera of --focal, reprojects onto the 2D, with one set of bone lengths for the whole clip (left = right) and a tether to the unadapted 3D (a few seconds per person on a laptop CPU; poses.json gains the loss before/after and poses.npz the loss curve)")
    g.add_argument("--person-height", type=person_heights, default=None, metavar="M|ID=M,...", help="the person's standing height in metres, e.g. 1.78 (or each person's: 1=1.80,2=1.65 by track id): scales their 3D, root trajectory, BVH/TRC and segment lengths so that the skeleton's standing height (shank + thigh + spine to head top, plus the ankle height) is that. Without it the size is the training subjects' average (1.65-1.77 m); the shape, angles and the 2D fit do not change")
    g.add_argument("--causal", action="store_true", help="lift causally (each output sees only past frames): with --checkpoint, that checkpoint must be causal; without, the bundled causal model is used")
    g.add_argument("--no-flip", action="store_true", help="skip flip test-time augmentation (averaging with the mirrored input; never used for causal models); about 2x faster lifting")
    g.add_argument("--max-gap", type=non_negative_int, default=DEFAULT_MAX_GAP, metavar="FRAMES", help=f"longest run of missing frames (per joint, in input frames) that is interpolated silently; longer gaps are filled too but flagged in the output (default {DEFAULT_MAX_GAP})")
    g = p.add_argument_group("extra outputs")
    g.add_argument("--bvh", action="store_true", help="also write poses.bvh in the output folder (motion capture file for Blender etc.)")
    g.add_argument("--level", action=argparse.BooleanOptionalAction, default=True, help="on by default: estimate the vertical from the people's own poses (straight legs, upright trunk) and the floor under their feet, and use them for the render, BVH, TRC, angles and the CSV's world_* columns, so that a tilted camera no longer tilts the figure and it stands on the floor; kept only with enough standing frames (else the camera's up is used, with a warning). Human3.6M: 3.5° median error vs 12.4° for assuming a level camera (docs/model-card.md). --no-level: the camera frame (BVH/TRC as the camera sees them)")
    g.add_argument("--angles", action="store_true", help="also write angles.csv (one row per frame, degrees) and angles.png (angles over time) in the output folder: hip, knee, shoulder and elbow flexion (left/right), shoulder elevation, trunk flexion, and thigh, shank, upper arm, forearm and trunk angles from the horizontal (Sports2D conventions, in 3D); trunk flexion and segment angles are measured against the camera's up direction (a level camera is assumed); no ankle angle (no toe joint)")
    g.add_argument("--trc", action="store_true", help="also write poses.trc in the output folder: the 17 joints as OpenSim markers (Scale, Inverse Kinematics), Y up (camera x right, y up, z towards the camera), absolute positions when there is a trajectory, else root-relative")
    g.add_argument("--trc-units", default="m", metavar="{m,mm}", help="units of poses.trc: m (default) or mm")
    g.add_argument("--render", action="store_true", help="also write render.mp4 in the output folder: the input video (or the 2D keypoints) next to the 3D skeleton")
    add_threads_option(p)


def configure_infer(p: argparse.ArgumentParser) -> None:
    """Register ``poselift infer`` on an argparse sub-parser collection."""
    p.description = (
        "Lift every person's motion to 3D. INPUT is a video (everyone is detected with MediaPipe and followed) or a "
            "keypoint file you already have: COCO-style JSON, an OpenPose JSON folder, our .npz or a long-format "
            ".csv (formats: README and poselift.io.keypoints). Writes OUT/people.json (every tracked person and the "
            "identity events) and one folder per person, OUT/person_<id>/ (--person keeps one person and writes its "
            "files into OUT itself; npz/csv inputs hold one person and are written there too), each with poses.npz, "
            "poses.json and poses.csv: H36M-17 joints in metres, root-relative, camera frame (x right, y down, "
            "z forward), the root trajectory, the joints in a levelled world (Y up, floor at 0), the 2D keypoints in "
            "pixels, per-joint confidence and which frames were interpolated. Left/right label swaps of the detector "
            "are put back first. Missing detections are interpolated in time; gaps longer than "
            "--max-gap frames are filled too but flagged. The 2D sequence is resampled to the model's own frame rate "
            f"(checkpoint metadata 'fps': {BUNDLED_MODEL_FPS:g} frames/s for the bundled model, {DEFAULT_MODEL_FPS:g} for a "
            "checkpoint that does not state one) by linear interpolation and the 3D result back to the input's. Every "
            "option is checked before the video is decoded."
    )
    p.add_argument("input", metavar="VIDEO|KEYPOINTS", help="video file (mp4, mov, avi, ...) or keypoint file/folder")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created); a run that fails writes nothing there")
    p.add_argument("--overwrite", action="store_true", help="replace outputs (people.json, person_<id>/, poses.*, render.mp4) already in --out; they are replaced only when the run succeeds (default: refuse)")
    _add_shared_infer_args(p, keypoints_format=True)
    g = p.add_argument_group("rendering")
    g.add_argument("--render-size", type=positive_int, default=None, metavar="PX", help=f"height of the rendered video in pixels, {RENDER_SIZE_RANGE[0]} to {RENDER_SIZE_RANGE[1]} (default 480); with --render")
    g.add_argument("--azimuth", type=float, default=None, metavar="DEG", help="viewing angle of the 3D panel around the vertical axis, in degrees (default 70: the input camera's side, as VideoPose3D; 160 = side view, 250 = from behind)")
    g.add_argument("--limit-frames", type=positive_int, default=None, metavar="N", help="render only the first N frames (the pose files always hold every frame)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (frames, person frames, flagged frames, per-stage timings in s, end-to-end frames/s) on stdout; no progress bars")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_examples(
        p,
        'poselift infer my.mp4 --out out',
        'poselift infer my.mp4 --out out --person largest --bvh --render --focal 1500',
        'poselift infer keypoints.json --width 1920 --height 1080 --fps 30 --out out',
    )
    p.set_defaults(func=cmd_infer)


def cmd_infer_batch(args: argparse.Namespace) -> int:
    """``poselift infer-batch``: run :func:`run_batch`, print the summary; exit 1 if any input failed."""
    result = run_batch(
        args.input_dir,
        args.out,
        args.checkpoint,
        progress=not args.no_progress,
        keypoints_format="auto",
        **_shared_infer_options(args),
    )
    for item in result.items:  # the reasons are library messages: show this command's options
        if item.reason is not None:
            item.reason = args.cli_message(item.reason)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"infer-batch {result.input_dir} → {result.out_dir}: {result.count('done')} done, "
            f"{result.count('skipped')} skipped, {result.count('failed')} failed",
            file=sys.stderr,
        )
        for item in result.items:
            if item.status != "done":
                print(f"  {item.status}: {Path(item.input).name}: {item.reason}", file=sys.stderr)
    return 1 if result.count("failed") else 0


def configure_infer_batch(p: argparse.ArgumentParser) -> None:
    """Register ``poselift infer-batch`` on an argparse sub-parser collection."""
    p.description = (
        "Runs `poselift infer` on every input in INPUT_DIR (not recursive): videos (.mp4, .mov, .avi, ...), "
            "keypoint files (.json COCO-style, .npz, .csv) and OpenPose folders (sub-folders of *_keypoints.json). "
            "Each input gets its own folder OUT/<name without extension>/ (OUT/<file name>/ when two inputs share "
            "a name), laid out as `poselift infer` writes it (people.json and person_<id>/ for videos and multi-person "
            "files). Inputs whose outputs are already complete are skipped (unless --overwrite); a failing input "
            "does not stop the batch. Prints a summary (done / skipped / failed with the reason); exit code 1 if "
            "any input failed, 0 otherwise."
    )
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of videos and/or keypoint files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: one sub-folder per input")
    p.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs exist (default: skip complete ones)")
    _add_shared_infer_args(p, keypoints_format=False)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (done/skipped/failed counts and one entry per input)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_examples(
        p,
        'poselift infer-batch videos/ --out results/',
        'poselift infer-batch videos/ --out results/ --bvh --json',
    )
    p.set_defaults(func=cmd_infer_batch)
