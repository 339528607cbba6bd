"""``poselift bench``."""

from __future__ import annotations

import argparse
import json

from poselift.cli.options import add_examples, add_model_args, add_threads_option
from poselift.models.temporal import ModelConfig, parse_arc
from poselift.tools.bench import BENCHMARKS, BenchConfig, run_bench


def cmd_bench(args: argparse.Namespace) -> int:
    model = ModelConfig(filter_widths=parse_arc(args.arc), channels=args.channels, dropout=args.dropout, causal=args.causal)
    result = run_bench(BenchConfig(
        what=args.what, model=model, batch_size=args.batch_size, frames=args.frames, steps=args.steps,
        reference=args.reference, precision=args.precision, profile=args.profile, device=args.device, wild=args.wild,
        video=args.video, checkpoint=args.checkpoint,
    ))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def configure_bench(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Prints one JSON object on stdout (progress on stderr): samples/s or frames/s, achieved GFLOP/s and the fraction of this machine's measured fp32 matmul peak."
    )
    p.add_argument("what", choices=BENCHMARKS, help="train: strided-model training steps incl. batch creation and the Adam step; infer: lift one long sequence; stream: per-frame latency of the causal model (one new frame at a time); pipeline: `poselift infer` end to end on a real video (decode, detect, lift, write)")
    add_model_args(p)
    p.add_argument("--batch-size", type=int, default=1024, help="training batch size (default 1024)")
    p.add_argument("--frames", type=int, default=10_000, help="inference sequence length (default 10000)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps (default 10)")
    p.add_argument("--reference", action="store_true", help="time the original implementation's way instead, for a side-by-side ratio on this machine: train = Conv1d with stride + per-sample Python batch loop; infer = Conv1d+BN model over the whole sequence; stream = full model on the last RF frames every frame")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="train/infer: bf16 autocast (fast only where the CPU has native bf16: AVX512-BF16/AMX; the result says native_bf16)")
    p.add_argument("--profile", action="store_true", help="train: also profile 3 steps and report the top operators by self CPU time (table on stderr)")
    p.add_argument("--video", default=None, help="pipeline: video to run (default ../shared/data/video/sports2d_demo.mp4)")
    p.add_argument("--checkpoint", default=None, help="pipeline: checkpoint to lift with (default: the bundled model)")
    add_threads_option(p)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu", help="train: where the steps run (default cpu; the peak is then measured on that device too)")
    p.add_argument("--wild", action="store_true", help="train: batches rendered like `--recipe wild` (random cameras, detector noise, flips; procedural figures, no dataset needed) on --device, instead of stored 2D windows")
    p.add_argument("--json", action="store_true", help="compact JSON on one line")
    add_examples(
        p,
        'poselift bench infer',
        'poselift bench train --channels 256 --batch-size 512 --threads 2',
        'poselift bench pipeline --video my.mp4',
    )
    p.set_defaults(func=cmd_bench)
