"""``poselift import-checkpoint``, ``export-weights`` and ``data info|convert``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from poselift.cli.options import add_examples
from poselift.data.convert import convert_dataset, dataset_info
from poselift.errors import PoseliftError
from poselift.models.checkpoint import export_weights
from poselift.models.videopose3d import import_videopose3d_checkpoint


def cmd_import_checkpoint(args) -> int:
    cfg = import_videopose3d_checkpoint(
        args.original, args.out, causal=args.causal, joints_in=args.joints_in, joints_out=args.joints_out,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.out}: RF {cfg.receptive_field} (arc {','.join(map(str, cfg.filter_widths))}), "
          f"{cfg.channels} channels, {cfg.num_joints_in}→{cfg.num_joints_out} joints, causal={cfg.causal}", file=sys.stderr)
    return 0


def configure_import_checkpoint(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Reads the original torch.save dict (model_pos, optional model_traj) with weights_only=True; filter widths and channels are inferred from the weight shapes."
    )
    p.add_argument("original", help="original VideoPose3D checkpoint, e.g. pretrained_h36m_cpn.bin")
    p.add_argument("out", help="output poselift checkpoint (.pt)")
    c = p.add_mutually_exclusive_group(required=True)
    c.add_argument("--causal", dest="causal", action="store_true", help="the original model was trained with --causal")
    c.add_argument("--no-causal", dest="causal", action="store_false", help="the original model is symmetric (the default there)")
    p.add_argument("--joints-in", default=None, help="input joint layout name (h36m17, mpii16, coco17, humaneva15; default: from the joint count)")
    p.add_argument("--joints-out", default=None, help="output joint layout name (default: from the joint count)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    add_examples(
        p,
        'poselift import-checkpoint pretrained_h36m_cpn.bin videopose3d.pt --no-causal',
    )
    p.set_defaults(func=cmd_import_checkpoint)


def cmd_export_weights(args) -> int:
    extra = {}
    if args.metrics:
        try:
            extra["metrics"] = json.loads(Path(args.metrics).read_text())
        except (OSError, ValueError) as exc:
            raise PoseliftError(f"--metrics {args.metrics}: not a readable JSON file ({exc})") from None
    size = export_weights(args.checkpoint, args.out, half=not args.fp32, extra_metadata=extra, overwrite=args.overwrite)
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {'fp32' if args.fp32 else 'fp16'} storage)", file=sys.stderr)
    return 0


def configure_export_weights(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Strips optimiser and RNG state from a training checkpoint and stores the weights as fp16 (loaded back as fp32), keeping the metadata (config, joint layouts, recipe, history)."
    )
    p.add_argument("checkpoint", help="training checkpoint (last.pt)")
    p.add_argument("out", help="output file (.pt)")
    p.add_argument("--fp32", action="store_true", help="keep fp32 storage")
    p.add_argument("--metrics", default=None, help="JSON file from `poselift evaluate --json` to store in the metadata")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    add_examples(
        p,
        'poselift export-weights runs/h36m_rf27/last.pt h36m_rf27.pt',
    )
    p.set_defaults(func=cmd_export_weights)


def cmd_data_info(args) -> int:
    info = dataset_info(args.path)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for line in info["summary"]:
            print(line)
        for warning in info["warnings"]:
            print(f"WARNING: {warning}")
        for problem in info["problems"]:
            print(f"PROBLEM: {problem}")
        print(f"{len(info['problems'])} problem(s), {len(info['warnings'])} warning(s)")
    return 1 if info["problems"] else 0


def cmd_data_convert(args) -> int:
    written = convert_dataset(args.source, args.out, allow_pickle=args.allow_pickle, overwrite=args.overwrite)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def configure_data(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Dataset tools."
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    i = dsub.add_parser("info", help="summarise and check a dataset file or folder", description="Prints subjects, sequences, frames, cameras and joint layout, and checks consistency (2D/3D lengths, NaN/inf, joint counts, camera ids, the compact int16 copy of the 3D against positions_3d.npz). PROBLEM lines make the data wrong or unreadable: exit code 1. WARNING lines are what the readers skip (2D sequences without 3D, never used for training or evaluation): exit code 0.")
    i.add_argument("path", help="a .npz in our format, or a folder like ../shared/data/h36m")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_data_info)
    c = dsub.add_parser("convert", help="convert original VideoPose3D .npz or a 3d-pose-baseline h5 tree to our pickle-free format", description="SOURCE is an original VideoPose3D file (data_3d_h36m.npz, data_2d_h36m_<name>.npz, data_2d_custom_<name>.npz; pickled, needs --allow-pickle) or a 3d-pose-baseline Human3.6M folder (cameras.h5, S*/MyPoses/3D_positions/*.h5, S*/StackedHourglass/*.h5).")
    c.add_argument("source", help="file or folder to convert")
    c.add_argument("out", help="output .npz (for a single file) or folder (for an h5 tree)")
    c.add_argument("--allow-pickle", action="store_true", help="allow reading pickled Python objects (ONLY for files you trust: a crafted pickle can run code)")
    c.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    c.set_defaults(func=cmd_data_convert)
    add_examples(
        p,
        'poselift data info ../shared/data/h36m',
        'poselift data convert --allow-pickle data_3d_h36m.npz positions_3d.npz   # only for files you trust',
    )
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
