"""Export a checkpoint for deployment: ONNX or TorchScript (``poselift export``).

One file holds one graph with the full (non-strided) temporal model(s):

* input ``keypoints``: ``[batch, frames, J_in, 2]`` float32, normalised screen
  coordinates (see the ``input`` entry of the metadata), ``frames ≥ min_frames``
  (the receptive field);
* output ``pose``: ``[batch, frames - RF + 1, J_out, 3]`` float32, metres, camera
  frame, relative to the root joint;
* output ``trajectory`` (when the checkpoint has a trajectory model and it is not
  dropped with ``trajectory=False``): ``[batch, frames - RF_traj + 1, 3]`` float32,
  root position in metres, camera frame.

Batch and sequence length are dynamic. The TorchScript module returns ``pose`` or the
tuple ``(pose, trajectory)``.

How to feed the model (units, padding, frame alignment, joint layouts, fps) is
written into the file — ONNX ``metadata_props`` / the TorchScript extra file
``poselift.json`` — and into a JSON sidecar ``OUT.json`` (e.g. ``model.onnx.json``).

Every export is verified before it is moved into place: the written file is run
(onnxruntime / ``torch.jit.load``) on a random input of another batch size and
sequence length than the export example and compared with the PyTorch model; the
maximum absolute difference (metres) is reported. Writes are atomic, and existing
outputs are only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poselift.errors import PoseliftError
from poselift.io.atomic import atomic_path, atomic_write
from poselift.io.staging import check_destination
from poselift.models.export_graph import ExportGraph, random_input
from poselift.models.lifter import load_model
from poselift.version import __version__

if TYPE_CHECKING:  # torch is imported lazily: building the CLI parser must stay fast
    import torch

    from poselift.models.export_graph import ExportGraph
    from poselift.models.lifter import PoseLifter

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 11, 20  # the TorchScript-based ONNX exporter of torch supports up to 20
VERIFY_TOLERANCE_M = 1e-3  # an export differing from PyTorch by more than 1 mm is refused
EXPORT_EXTRA_FRAMES = 7  # export example: min_frames + 7 frames, batch 1
VERIFY_EXTRA_FRAMES = 23  # verification: min_frames + 23 frames, batch 2 (different from the example)
INSTALL_HINT = "pip install 'poselift[export]'"
DEFAULT_INPUT = "normalised screen coordinates: x/w*2-1, y/w*2-h/w (pixels divided by image width)"
DEFAULT_OUTPUT = "metres, camera frame, relative to the root joint"
TRAJECTORY_OUTPUT = "metres, root position in the camera frame"


@dataclass
class ExportResult:
    """What :func:`export_model` wrote: ``files`` (model first, then the JSON sidecar),
    their ``sizes`` in bytes, and the verification's max abs difference in metres."""

    format: str
    files: list[Path]
    sizes: dict[str, int]
    max_abs_diff: float
    max_abs_diff_per_output: dict[str, float] = field(default_factory=dict)
    verified_input_shape: list[int] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (what ``poselift export --json`` prints)."""
        return {
            "format": self.format,
            "files": [str(p) for p in self.files],
            "sizes": self.sizes,
            "max_abs_diff": self.max_abs_diff,
            "max_abs_diff_per_output": self.max_abs_diff_per_output,
            "verified_input_shape": self.verified_input_shape,
            "receptive_field": self.info.get("receptive_field"),
            "min_frames": self.info.get("min_frames"),
            "outputs": list(self.info.get("outputs", {})),
        }


# ------------------------------------------------------------------ verification
def _max_abs_diffs(names: list[str], got: list[Any], want: list[torch.Tensor]) -> dict[str, float]:
    """Max abs difference (metres) of each exported output against PyTorch's."""
    import torch

    diffs = {}
    for name, g, w in zip(names, got, want):
        g = torch.as_tensor(g)
        if tuple(g.shape) != tuple(w.shape):
            raise PoseliftError(f"exported output '{name}' has shape {list(g.shape)}, PyTorch gives {list(w.shape)}")
        diffs[name] = float((g.float() - w).abs().max())
    return diffs


# ------------------------------------------------------------------ metadata
def deployment_info(lifter: PoseLifter, graph: ExportGraph, fmt: str, checkpoint_name: str) -> dict[str, Any]:
    """Everything a user needs to feed the exported model (JSON-serialisable)."""
    meta = lifter.metadata
    cfg = graph.pose_model.config
    rf = cfg.receptive_field
    outputs: dict[str, Any] = {
        "pose": {
            "shape": ["batch", f"frames - {rf - 1}", cfg.num_joints_out, 3],
            "dtype": "float32",
            "units": meta.get("output", DEFAULT_OUTPUT),
            "joints": meta.get("joints_out"),
            "note": "the root joint (index 0) is predicted near zero; subtract it for exact root-relative poses",
        }
    }
    info: dict[str, Any] = {
        "format": f"poselift-{fmt}",
        "poselift_version": __version__,
        "source_checkpoint": checkpoint_name,
        "receptive_field": rf,
        "min_frames": graph.min_frames,
        "causal": cfg.causal,
        "fps": meta.get("fps"),
        "joints_in": meta.get("joints_in"),
        "joints_out": meta.get("joints_out"),
        "input_layout": meta.get("input_layout", meta.get("joints_in")),
        "inputs": {
            "keypoints": {
                "shape": ["batch", "frames", cfg.num_joints_in, cfg.in_features],
                "dtype": "float32",
                "units": meta.get("input", DEFAULT_INPUT),
                "min_frames": graph.min_frames,
            }
        },
        "outputs": outputs,
        "alignment": (
            f"output frame i ends at input frame i + {rf - 1} (causal: sees only past frames)"
            if cfg.causal
            else f"output frame i is centred on input frame i + {cfg.pad}"
        ),
        "padding": (
            f"for one output per input frame, repeat the first frame {rf - 1} times before the sequence"
            if cfg.causal
            else f"for one output per input frame, repeat the first and last frames {cfg.pad} times at each end"
        ),
        "model": cfg.to_dict(),
    }
    if graph.trajectory_model is not None:
        tcfg = graph.trajectory_model.config
        outputs["trajectory"] = {
            "shape": ["batch", f"frames - {tcfg.receptive_field - 1}", 3],
            "dtype": "float32",
            "units": TRAJECTORY_OUTPUT,
            "note": "depth assumes the training focal length: multiply z by (2 * focal_px / image_width) / focal_normalized",
        }
        info["trajectory_model"] = tcfg.to_dict()
        info["focal_normalized"] = meta.get("focal_normalized")
    for key in ("recipe", "versions"):
        if key in meta:
            info[key] = meta[key]
    return info


def _onnx_metadata_props(info: dict[str, Any]) -> dict[str, str]:
    """Flat string key/values for ONNX ``metadata_props`` (plus the full JSON)."""
    keys = ("receptive_field", "min_frames", "causal", "fps", "joints_in", "joints_out", "input_layout", "alignment", "padding")
    props = {f"poselift.{k}": json.dumps(info[k]) if not isinstance(info[k], str) else info[k] for k in keys if k in info}
    props["poselift.input"] = str(info["inputs"]["keypoints"]["units"])
    props["poselift.output"] = str(info["outputs"]["pose"]["units"])
    if "trajectory" in info["outputs"]:
        props["poselift.trajectory"] = str(info["outputs"]["trajectory"]["units"])
    props["poselift.json"] = json.dumps(info)
    return props


# ------------------------------------------------------------------ writers
def _import_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise PoseliftError(
            f"ONNX export needs the onnx and onnxruntime packages ({exc.name or 'onnx'} is not installed); "
            f"install them with `{INSTALL_HINT}`"
        ) from None
    return onnx, onnxruntime


def _export_onnx(graph: ExportGraph, tmp: Path, info: dict[str, Any], opset: int) -> tuple[dict[str, float], list[int]]:
    """Write the ONNX graph to ``tmp``, attach metadata, and verify it with onnxruntime."""
    import torch

    onnx, ort = _import_onnx()
    names = graph.output_names
    dynamic = {"keypoints": {0: "batch", 1: "frames"}}
    dynamic.update({n: {0: "batch", 1: f"{n}_frames"} for n in names})
    example = random_input(graph, 1, graph.min_frames + EXPORT_EXTRA_FRAMES, seed=0)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter is deprecated, still reliable
        try:
            torch.onnx.export(
                graph, (example,), str(tmp), dynamo=False, input_names=["keypoints"], output_names=names,
                dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True,
            )
        except Exception as exc:  # noqa: BLE001 - exporter failures become one clear line
            raise PoseliftError(f"ONNX export failed at opset {opset}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    proto = onnx.load(str(tmp))
    proto.doc_string = "poselift temporal lifter: 2D keypoints [batch, frames, joints, 2] -> 3D; see metadata 'poselift.json'"
    for key, value in _onnx_metadata_props(info).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    x = random_input(graph, 2, graph.min_frames + VERIFY_EXTRA_FRAMES, seed=1)
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(names, {"keypoints": x.numpy()})
    return _max_abs_diffs(names, got, graph.reference(x)), list(x.shape)


def _export_torchscript(graph: ExportGraph, tmp: Path, info: dict[str, Any]) -> tuple[dict[str, float], list[int]]:
    """Trace the graph, save it with the metadata as extra file ``poselift.json``, reload and verify."""
    import torch

    example = random_input(graph, 1, graph.min_frames + EXPORT_EXTRA_FRAMES, seed=0)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream, still supported
        traced = torch.jit.trace(graph, example)
        # saved to memory first: torch.jit.save onto a full disk aborts the process (C++ error)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={"poselift.json": json.dumps(info)})
        tmp.write_bytes(buffer.getvalue())
        loaded = torch.jit.load(str(tmp), map_location="cpu").eval()
        x = random_input(graph, 2, graph.min_frames + VERIFY_EXTRA_FRAMES, seed=1)
        got = loaded(x)
    got = list(got) if isinstance(got, tuple) else [got]
    return _max_abs_diffs(graph.output_names, got, graph.reference(x)), list(x.shape)


# ------------------------------------------------------------------ public API
def sidecar_path(out: str | Path) -> Path:
    """The JSON sidecar next to an exported model: ``OUT`` + ``.json``."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def default_output(checkpoint: str | Path | None, fmt: str) -> Path:
    """``<checkpoint stem>.onnx`` / ``.torchscript.pt`` in the current folder."""
    stem = Path(checkpoint).stem if checkpoint is not None else "poselift_wild"
    return Path(stem + SUFFIXES[fmt])


def _check_outputs(paths: list[Path], overwrite: bool) -> None:
    for p in paths:
        if p.is_dir():
            raise PoseliftError(f"output {p} is a folder; pass a file name such as {p / ('model' + SUFFIXES['onnx'])}")
        if p.exists() and not overwrite:
            raise PoseliftError(f"output {p} already exists; pass `overwrite=True` to replace it")


def export_model(
    checkpoint: str | Path | None,
    out: str | Path,
    fmt: str,
    *,
    trajectory: bool = True,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``checkpoint`` (``None``: the bundled model) to ``out`` as ``fmt``
    (``"onnx"`` or ``"torchscript"``) plus the JSON sidecar ``out + ".json"``.

    ``trajectory=False`` leaves the trajectory model out. The written model is run on
    a random ``[2, min_frames + 23, J_in, 2]`` input and compared with PyTorch; a
    difference above 1 mm raises :class:`PoseliftError` and nothing is written.
    """
    if fmt not in FORMATS:
        raise PoseliftError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        if not MIN_OPSET <= int(opset) <= MAX_OPSET:
            raise PoseliftError(f"`opset` must be between {MIN_OPSET} and {MAX_OPSET}, got {opset}")
        _import_onnx()
    out = Path(out)
    side = sidecar_path(out)
    check_destination(out)
    _check_outputs([out, side], overwrite)
    if checkpoint is not None and out.resolve() == Path(checkpoint).resolve():
        raise PoseliftError(f"`out` {out} is the checkpoint itself; choose another output file")

    lifter = load_model(checkpoint, with_trajectory=trajectory)
    graph = ExportGraph(lifter.pose_model, lifter.trajectory_model)
    name = Path(checkpoint).name if checkpoint is not None else "bundled:poselift_wild.pt"
    info = deployment_info(lifter, graph, fmt, name)
    if fmt == "onnx":
        info["opset"] = int(opset)
    with atomic_path(out) as tmp:  # moved into place only if verification and the sidecar succeed
        if fmt == "onnx":
            diffs, shape = _export_onnx(graph, tmp, info, int(opset))
        else:
            diffs, shape = _export_torchscript(graph, tmp, info)
        worst = max(diffs.values())
        if not worst <= VERIFY_TOLERANCE_M:
            raise PoseliftError(
                f"the exported {fmt} model differs from PyTorch by {worst:.3g} m (limit {VERIFY_TOLERANCE_M} m); nothing was written"
            )
        info["verification"] = {"input_shape": shape, "max_abs_diff_m": diffs}
        with atomic_write(side, "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
    files = [out, side]
    return ExportResult(
        format=fmt,
        files=files,
        sizes={str(p): p.stat().st_size for p in files},
        max_abs_diff=worst,
        max_abs_diff_per_output=diffs,
        verified_input_shape=shape,
        info=info,
    )


# ------------------------------------------------------------------ CLI

