"""``poselift render``."""

from __future__ import annotations

import argparse
import sys

from poselift.cli.options import add_examples
from poselift.tools.render_sequence import (
    DEFAULT_SYNTHETIC_SEED,
    RenderOptions,
    render_sequence,
)


def cmd_render(args: argparse.Namespace) -> int:
    result = render_sequence(RenderOptions(
        out=args.out, checkpoint=args.checkpoint, dataset=args.dataset, data_dir=args.data_dir,
        keypoints=args.keypoints, subject=args.subject, action=args.action, camera=args.camera, seed=args.seed,
        limit_frames=args.limit_frames, downsample=args.downsample, size=args.size, azimuth=args.azimuth,
        elevation=args.elevation, flip=not args.no_flip, export=args.export, progress=not args.no_progress,
        compare=args.compare or [], labels=None if args.labels is None else args.labels.split(","),
    ))
    print(f"wrote {result.video} ({result.sequence}, {result.frames} frames)", file=sys.stderr)
    if result.export is not None:
        print(f"wrote {result.export}", file=sys.stderr)
    return 0


def configure_render(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Predicts one sequence with flip test-time augmentation and renders the 2D input (on a blank "
        "canvas of the camera resolution), the 3D reconstruction and the 3D ground truth side by side; "
        "with --compare, the reconstructions of several models of the same input."
    )
    p.add_argument("--checkpoint", default=None, help="poselift checkpoint (.pt); default: the model bundled with the package")
    p.add_argument("--compare", action="append", default=None, metavar="CHECKPOINT",
                   help="another checkpoint lifting the same 2D input (same joints in and out as --checkpoint): one more "
                        "reconstruction panel, after --checkpoint's; repeat for more models")
    p.add_argument("--labels", default=None, metavar="A,B,...",
                   help="comma-separated model names for the panel titles, --checkpoint's first, then each --compare's "
                        "(default: the run folder or file names); each panel is captioned with the model's receptive "
                        "field and its MPJPE on the rendered frames")
    p.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default="h36m", help="dataset (default h36m; synthetic needs no files)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    p.add_argument("--keypoints", choices=["gt", "sh"], default=None, help="2D input (default: as the checkpoint was trained)")
    p.add_argument("--subject", default="S11", help="subject (default S11; HumanEva e.g. Validate/S1)")
    p.add_argument("--action", default="Walking 1", help='sequence name, e.g. "Walking 1" (default); HumanEva e.g. "Walking 1 chunk0"')
    p.add_argument("--camera", default="0", help="camera index (0-3) or id such as 54138969 (default 0)")
    p.add_argument("--seed", type=int, default=DEFAULT_SYNTHETIC_SEED, help=f"synthetic sequence seed (default {DEFAULT_SYNTHETIC_SEED}; --subject/--action/--camera do not apply to synthetic)")
    p.add_argument("--out", required=True, help="output video: .mp4 or .gif")
    p.add_argument("--limit-frames", type=int, default=None, help="render only the first N frames")
    p.add_argument("--downsample", type=int, default=1, help="render every N-th frame (default 1)")
    p.add_argument("--size", type=int, default=480, help="panel height in pixels (default 480)")
    p.add_argument("--azimuth", type=float, default=70.0, help="3D view azimuth in degrees; 70 = from the input camera's side (default, as VideoPose3D), 160 = side view")
    p.add_argument("--elevation", type=float, default=15.0, help="3D view elevation in degrees (default 15)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test-time augmentation")
    p.add_argument("--export", default=None, metavar="PATH", help="also write the reconstruction (--checkpoint's): .npz (positions_3d, ground_truth, keypoints_2d, trajectory, fps, ...) or .bvh, or the markers as .trc (OpenSim, metres) or .c3d (millimetres; needs pip install 'poselift[c3d]'), Y up")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_examples(
        p,
        'poselift render --out walking.gif --limit-frames 200   # S11 Walking 1, bundled model',
        'poselift render --dataset synthetic --out synthetic.mp4 --azimuth 160',
        'poselift render --checkpoint rf1/last.pt --compare rf27/last.pt --labels "single-frame,temporal" --out cmp.mp4',
    )
    p.set_defaults(func=cmd_render)
