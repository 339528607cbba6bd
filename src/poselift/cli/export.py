"""``poselift export``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from poselift.cli.options import add_examples
from poselift.models.export import (
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
    default_output,
    export_model,
)


def _human_size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else default_output(args.checkpoint, args.format)
    result = export_model(
        args.checkpoint, out, args.format, trajectory=not args.no_trajectory, opset=args.opset, overwrite=args.overwrite
    )
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    for path in result.files:
        print(f"wrote {path} ({_human_size(result.sizes[str(path)])})", file=sys.stderr)
    per = ", ".join(f"{k} {v:.3g} m" for k, v in result.max_abs_diff_per_output.items())
    runtime = "onnxruntime" if result.format == "onnx" else "the reloaded TorchScript module"
    print(f"verified with {runtime} on input {result.verified_input_shape}: max abs diff vs PyTorch {per}", file=sys.stderr)
    return 0


def configure_export(p: argparse.ArgumentParser) -> None:
    """Register ``poselift export`` on an argparse sub-parser collection."""
    p.description = (
        "Writes the full temporal model (and the trajectory model, when the checkpoint has one) as one graph "
            "with dynamic batch and sequence length: input 'keypoints' [batch, frames >= receptive field, joints, 2] "
            "normalised screen coordinates; outputs 'pose' [batch, frames - RF + 1, joints, 3] (metres, root-relative, "
            "camera frame) and 'trajectory' [batch, frames - RF + 1, 3] (root position, metres). How to feed it "
            "(receptive field, joint layouts, fps, units, padding) is stored in the file's metadata and in a JSON "
            "sidecar OUT.json. The written file is run on a random input of another length and compared with "
            "PyTorch; the max abs difference is printed. ONNX needs `pip install 'poselift[export]'`."
    )
    p.add_argument("--checkpoint", default=None, metavar="PATH", help="poselift checkpoint (.pt); default: the model bundled with the package")
    p.add_argument("--format", required=True, metavar="{onnx,torchscript}", help="onnx: ONNX graph for onnxruntime and other ONNX runtimes (opset --opset); torchscript: traced module for torch.jit.load or C++ libtorch (TorchScript is deprecated upstream but still loads)")
    p.add_argument("--out", default=None, metavar="PATH", help="output file (default: <checkpoint name>.onnx or .torchscript.pt in the current folder); the sidecar is PATH.json")
    p.add_argument("--no-trajectory", action="store_true", help="leave the trajectory model out (pose output only)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files (default: refuse)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, metavar="N", help=f"ONNX opset version, {MIN_OPSET}-{MAX_OPSET} (default {DEFAULT_OPSET}); ignored for torchscript")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (files, sizes in bytes, max_abs_diff in metres)")
    add_examples(
        p,
        'poselift export --format onnx --out poselift.onnx   # the bundled model',
        'poselift export --checkpoint runs/h36m_rf27/last.pt --format torchscript --out rf27.torchscript.pt',
    )
    p.set_defaults(func=cmd_export)
