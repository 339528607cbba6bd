"""``poselift score-multiview``."""

from __future__ import annotations

import argparse
import json

from poselift.cli.options import add_examples, add_threads_option
from poselift.tools.multiview import score_multiview


def camera_numbers(text: str) -> list[int]:
    """``"1,3"`` → ``[1, 3]`` (argparse's one-line usage error otherwise)."""
    try:
        views = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected camera numbers separated by commas (1,3), got {text!r}") from None
    if not views:
        raise argparse.ArgumentTypeError(f"expected camera numbers separated by commas (1,3), got {text!r}")
    return views


def cmd_score_multiview(args: argparse.Namespace) -> int:
    options = {"crops": not args.no_crops, "fix_swaps": not args.no_swap_fix, "adapt": args.adapt,
               "size_guard": not args.no_size_guard}
    if args.checkpoint is not None:
        options["checkpoint"] = args.checkpoint
    score = score_multiview(args.data_dir, args.out, views=args.views, reuse=args.reuse, infer_options=options,
                            progress=not args.json and not args.no_progress)
    if args.json:
        print(json.dumps(score.to_dict(), indent=1))
        return 0
    print(score.machine_line)
    print(score.table)
    return 0


def configure_score_multiview(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Score poselift against a multi-view 3D reference (a folder with multiperson.npz and cam01.mp4, cam02.mp4, ...; "
        "../shared/data/multiview/README.md): every view is run through `poselift infer` (every person), each actor is "
        "found in each frame as the tracked person whose 2D is nearest the reference's 2D of that actor (body landmarks, "
        "left/right mirror allowed, within 0.2 of the actor's height), and poselift's 3D and MediaPipe's own 3D of the "
        "same frames are scored against the reference on the 12 limb joints: P-MPJPE (mm, per-frame similarity "
        "alignment) and the mean error of 8 joint angles (degrees). Prints a markdown table (or --json); writes "
        "OUT/camXX/ (the infer outputs) and OUT/summary.json."
    )
    p.add_argument("data_dir", metavar="DATA", help="reference folder: multiperson.npz and the camXX.mp4 videos")
    p.add_argument("--out", default="multiview_score", metavar="DIR",
                   help="output folder: one infer output per view (camXX/, replaced) and summary.json (default multiview_score)")
    p.add_argument("--views", type=camera_numbers, default=None, metavar="1,3",
                   help="camera numbers to score, comma-separated (default: every camera of the reference)")
    p.add_argument("--reuse", action="store_true",
                   help="score the infer outputs already in --out (camXX/people.json and person folders) instead of running infer again")
    p.add_argument("--checkpoint", default=None, help="poselift checkpoint (.pt) to lift with; default: the bundled model")
    p.add_argument("--no-swap-fix", action="store_true", help="infer without putting back the detector's left/right label swaps")
    p.add_argument("--no-size-guard", action="store_true", help="infer without scaling down the 2D of people taller in the frame than the model's training data (infer --no-size-guard)")
    p.add_argument("--adapt", action="store_true", help="infer with test-time adaptation (poselift infer --adapt)")
    p.add_argument("--no-crops", action="store_true", help="infer with the whole-frame detection on every frame instead of following each person on a crop")
    add_threads_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (rows, tracks, machine) on stdout; no progress bars")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_examples(
        p,
        'poselift score-multiview ../shared/data/multiview --out mv',
        'poselift score-multiview ../shared/data/multiview --out mv --views 1,3 --no-swap-fix',
        'poselift score-multiview ../shared/data/multiview --out mv --reuse --json   # score the outputs already in mv',
    )
    p.set_defaults(func=cmd_score_multiview)
