"""``poselift render``'s work: lift one dataset (or procedural) sequence with a
checkpoint and render input 2D | 3D reconstruction | ground truth, optionally
exporting the reconstruction (npz, BVH, TRC or C3D). With ``compare``, further
checkpoints lift the same input, one reconstruction panel each (e.g. single-frame
vs temporal); :func:`lift_render_sequence` gives the lifted sequence without
rendering it (for plots of the same reconstructions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.data import datasets as ds
from poselift.data.datasets import (
    Sequence,
    default_data_dir,
    normalized_keypoints,
    skeletons_for,
)
from poselift.data.synthetic import look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.evaluation.metrics import mpjpe
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import Skeleton
from poselift.io.c3d import require_ezc3d, write_c3d
from poselift.io.exports import write_bvh, write_npz
from poselift.io.staging import check_destination
from poselift.io.trc import write_trc
from poselift.models.lifter import PoseLifter, load_model, model_fps
from poselift.models.predict import lift_sequence
from poselift.training.config import TrainConfig
from poselift.viz.render import SUFFIXES, check_panel_size, render_video

DEFAULT_SYNTHETIC_SEED = 4242  # not used by any training/test split of the synthetic dataset
SYNTHETIC_FRAMES = 400
#: What ``export`` may end with.
EXPORT_SUFFIXES = (".npz", ".bvh", ".trc", ".c3d")


def synthetic_render_sequence(seed: int = DEFAULT_SYNTHETIC_SEED, num_frames: int = SYNTHETIC_FRAMES):
    """An unseen procedural sequence filmed by a known camera: ``(Sequence, R_world_to_cam)``."""
    camera = look_at_camera(distance=5.0, azimuth=0.6, height=1.5, focal=1000.0)
    return synthetic_sequence(num_frames, seed=seed, camera=camera), camera.rotation


def _pick_camera(value: str, cameras: tuple[str, ...], where: str) -> str:
    if value in cameras:
        return value
    if value.isdigit() and int(value) < len(cameras):
        return cameras[int(value)]
    raise PoseliftError(
        f"unknown camera {value!r} for {where}; use an index 0-{len(cameras) - 1} or one of {', '.join(cameras)}"
    )


def load_render_sequence(dataset: str, data_dir: str | None, subject: str, action: str, camera: str, keypoints: str, seed: int):
    """The sequence to render: ``(Sequence, camera_rotation or None, canvas image_size or None)``."""
    if dataset == "synthetic":
        seq, rotation = synthetic_render_sequence(seed)
        return seq, rotation, None  # canvas fitted around the figure
    root = Path(data_dir) if data_dir else default_data_dir(dataset)
    if not root.is_dir():
        raise PoseliftError(f"dataset folder {root} not found (give `data_dir`)")
    if dataset == "h36m":
        cam_id = _pick_camera(camera, ds.H36M_CAMERAS, "Human3.6M")
        # the Stacked Hourglass detections leave out the corrupt recordings (S11 Directions)
        sh = keypoints == "sh"
        if sh and f"{subject}/{ds.action_name(action)}" in ds.H36M_SKIP:
            raise PoseliftError(
                f"{subject} {action!r} has no Stacked Hourglass detections (a corrupt recording); use `keypoints='gt'`"
            )
        seqs = ds.load_h36m(root, [subject], keypoints=keypoints, cameras=[cam_id], skip_corrupt=sh)
        wanted_subject = subject
    elif dataset == "humaneva":
        if keypoints != "gt":
            raise PoseliftError("HumanEva-I here has ground-truth 2D only (`keypoints='gt'`)")
        cam_id = _pick_camera(camera, ds.HUMANEVA_CAMERAS, "HumanEva-I")
        split, _, bare = subject.rpartition("/")
        seqs = ds.load_humaneva(root, [bare], split=split or None, actions=None, cameras=[cam_id]) if bare else []
        wanted_subject = subject if split else None
    else:
        raise PoseliftError(f"unknown dataset {dataset!r}; expected h36m, humaneva or synthetic")
    match = [s for s in seqs if s.name == action and (wanted_subject is None or s.subject == wanted_subject)]
    if not match:
        names = sorted({s.name for s in seqs})
        raise PoseliftError(f"unknown action {action!r} for subject {subject}; available: {', '.join(names) or 'none'}")
    seq = match[0]
    _, extrinsics = load_cameras_json(root / "cameras.json")
    ext = extrinsics.get(seq.subject.split("/")[-1], {}).get(cam_id)
    rotation = None if ext is None else ext.rotation
    return seq, rotation, (seq.intrinsics.width, seq.intrinsics.height)


def _export(path: Path, positions, skeleton: Skeleton, fps: float, *, ground_truth=None, keypoints_2d=None,
            trajectory=None, frame_index=None, camera_rotation=None) -> None:
    """``.bvh`` via :func:`poselift.io.exports.write_bvh`, ``.trc`` via :func:`poselift.io.trc.write_trc`
    (metres), ``.c3d`` via :func:`poselift.io.c3d.write_c3d` (millimetres), else ``.npz`` (atomic)."""
    suffix = path.suffix.lower()
    if suffix in (".bvh", ".trc", ".c3d"):
        writer = {".bvh": write_bvh, ".trc": write_trc, ".c3d": write_c3d}[suffix]
        writer(path, positions, skeleton, fps, root_positions=trajectory, camera_rotation=camera_rotation)
        return
    f32 = lambda v: None if v is None else np.asarray(v, np.float32)  # noqa: E731
    write_npz(path, {
        "positions_3d": f32(positions),
        "ground_truth": f32(ground_truth),
        "keypoints_2d": f32(keypoints_2d),
        "trajectory": f32(trajectory),
        "frame_index": None if frame_index is None else np.asarray(frame_index, np.int64),
        "fps": np.float32(fps),
        "joint_names": list(skeleton.joint_names),
        "parents": np.array(skeleton.parents, np.int32),
    })


@dataclass
class RenderOptions:
    """What ``poselift render`` draws. ``out``: ``.mp4`` or ``.gif``; ``export``: also
    write the reconstruction (``.npz``, ``.bvh``, ``.trc`` or ``.c3d``); ``keypoints``: 2D input source
    (``None``: as the checkpoint was trained); ``limit_frames``/``downsample``: the
    first N frames / every N-th frame; ``size``: panel height in pixels; ``azimuth``,
    ``elevation``: 3D view angles in degrees. ``compare``: more checkpoints, each lifting
    the same 2D input (same joints in and out as ``checkpoint``), shown as one more
    reconstruction panel each; ``labels``: the models' names (``checkpoint`` first, then
    ``compare``; default: their run folder or file names), the titles of their panels,
    each with a caption (receptive field, MPJPE against the ground truth). ``export``
    writes ``checkpoint``'s reconstruction."""

    out: str | Path
    checkpoint: str | None = None
    dataset: str = "h36m"
    data_dir: str | None = None
    keypoints: str | None = None
    subject: str = "S11"
    action: str = "Walking 1"
    camera: str = "0"
    seed: int = DEFAULT_SYNTHETIC_SEED
    limit_frames: int | None = None
    downsample: int = 1
    size: int = 480
    azimuth: float = 70.0
    elevation: float = 15.0
    flip: bool = True
    export: str | Path | None = None
    progress: bool = True
    compare: list[str] = field(default_factory=list)
    labels: list[str] | None = None


@dataclass
class LiftedModel:
    """One model's reconstruction of the rendered sequence: its label, checkpoint
    (``None``: the bundled model), receptive field (frames), the frame rate it was
    trained at (frames/s) and ``joints`` ``[used, J, 3]`` (metres, camera frame,
    root-relative)."""

    label: str
    checkpoint: str | None
    receptive_field: int
    trained_fps: float
    joints: np.ndarray


@dataclass
class LiftedSequence:
    """What :func:`lift_render_sequence` lifted: the sequence (all its frames), the 2D
    source, the skeletons, the camera rotation and canvas size of the render, the
    models (``checkpoint`` first, then ``compare``; lifted at the sequence's own rate
    ``sequence.fps``, as the evaluation does, whatever rate they were trained at), the
    first model's root trajectory (``None`` without a trajectory model) and the
    root-relative ground truth (``None`` when there is none), over the first ``used``
    frames."""

    sequence: Sequence
    keypoints: str
    skeleton_in: Skeleton
    skeleton_out: Skeleton
    camera_rotation: np.ndarray | None
    image_size: tuple[int, int] | None
    models: list[LiftedModel]
    trajectory: np.ndarray | None
    ground_truth: np.ndarray | None
    used: int


@dataclass
class RenderResult:
    """What :func:`render_sequence` wrote: the video, the export (or None), the
    sequence key and the number of rendered frames."""

    video: Path
    export: Path | None
    sequence: str
    frames: int


def render_sequence(options: RenderOptions) -> RenderResult:
    """Lift one sequence with ``options.checkpoint`` (default: the bundled model) and
    render input 2D | 3D reconstruction | ground truth (see :class:`RenderOptions`)."""
    out = Path(options.out)
    if out.suffix.lower() not in SUFFIXES:
        raise PoseliftError(f"`out` {out}: unknown suffix {out.suffix!r}; use .mp4 or .gif")
    export = Path(options.export) if options.export else None
    if export is not None and export.suffix.lower() not in EXPORT_SUFFIXES:
        raise PoseliftError(f"`export` {export}: unknown suffix {export.suffix!r}; use {', '.join(EXPORT_SUFFIXES[:-1])} or {EXPORT_SUFFIXES[-1]}")
    if export is not None and export.suffix.lower() == ".c3d":
        require_ezc3d()  # before the model and the data load
    for name in ("limit_frames", "downsample"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise PoseliftError(f"`{name}` must be a positive integer, got {value}")
    check_panel_size(options.size)  # before the model and the data load
    for destination in (out, export):
        if destination is not None:
            check_destination(destination)
    lifted = lift_render_sequence(options)
    first, more = lifted.models[0], lifted.models[1:]
    gt = lifted.ground_truth
    seq, used = lifted.sequence, lifted.used
    panels: dict = {}
    if options.compare or options.labels:  # otherwise the plain one-model video
        captions = [_caption(m, gt) for m in lifted.models]
        panels = {"title_3d": first.label, "more_3d": [(m.label, m.joints) for m in more], "captions": captions}
    render_video(
        out, first.joints, lifted.skeleton_out, seq.fps,
        keypoints_2d=seq.keypoints_2d[:used], keypoints_skeleton=lifted.skeleton_in, image_size=lifted.image_size,
        ground_truth=None if seq.positions_3d is None else seq.positions_3d[:used], camera_rotation=lifted.camera_rotation,
        size=options.size, azimuth=options.azimuth, elevation=options.elevation, downsample=options.downsample,
        progress=options.progress, **panels,
    )
    frames = len(range(0, used, options.downsample))
    if export is not None:
        idx = np.arange(0, used, options.downsample)
        traj = lifted.trajectory
        _export(
            export, first.joints[idx], lifted.skeleton_out, seq.fps / options.downsample,
            ground_truth=None if gt is None else gt[idx],
            keypoints_2d=seq.keypoints_2d[idx], trajectory=None if traj is None else traj[idx],
            frame_index=idx, camera_rotation=lifted.camera_rotation,
        )
    return RenderResult(out, export, seq.key, frames)


def _caption(model: LiftedModel, ground_truth: np.ndarray | None) -> str:
    """A reconstruction panel's caption: receptive field, and MPJPE over the rendered clip."""
    text = f"RF {model.receptive_field}"
    if ground_truth is not None:
        text += f" | MPJPE {float(mpjpe(model.joints, ground_truth).mean()) * 1000:.1f} mm"
    return text


def _checkpoint_name(path: str | None) -> str:
    return "the bundled model" if path is None else str(path)


def default_label(path: str | None) -> str:
    """A model's name when no label is given: its run folder for ``last.pt``/``best.pt``
    (``runs/rf27/last.pt`` → ``rf27``), else the file name without ``.pt``."""
    if path is None:
        return "bundled model"
    p = Path(path)
    return p.parent.name if p.stem in ("last", "best") and p.parent.name not in ("", ".") else p.stem


def _model_labels(options: RenderOptions) -> list[str]:
    paths = [options.checkpoint, *options.compare]
    if options.labels is None:
        labels = [default_label(p) for p in paths]
        seen: dict[str, int] = {}
        for i, label in enumerate(labels):  # the same model twice: label the repeats
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                labels[i] = f"{label} ({seen[label]})"
        return labels
    labels = [str(v).strip() for v in options.labels]
    if len(labels) != len(paths):
        raise PoseliftError(
            f"`labels` names {len(labels)} model(s) but there are {len(paths)} (`checkpoint` and "
            f"{len(options.compare)} `compare`): give one label per model, the checkpoint's first"
        )
    if not all(labels):
        raise PoseliftError("`labels` has an empty label")
    return labels


def _io_layout(lifter: PoseLifter) -> tuple[str, int, int, str, str, int]:
    """What a model takes and gives: (input joints name, count, features per joint, input
    layout, output joints name, count)."""
    cfg, meta = lifter.config, lifter.metadata
    return (str(meta.get("joints_in", "h36m17")), cfg.num_joints_in, cfg.in_features,
            str(meta.get("input_layout", "h36m17")), str(meta.get("joints_out", "h36m17")), cfg.num_joints_out)


def _describe_layout(io: tuple) -> str:
    joints_in, n_in, features, layout, joints_out, n_out = io
    where = "" if layout == "h36m17" else f", layout {layout!r}"
    per = "" if features == 2 else f", {features} values each"
    return f"{n_in} {joints_in!r} joints in{where}{per} → {n_out} {joints_out!r} out"


def _load_models(options: RenderOptions) -> list[PoseLifter]:
    """Load ``checkpoint`` and every ``compare`` checkpoint; all must lift the same input."""
    if isinstance(options.compare, (str, Path)):
        raise PoseliftError("`compare` must be a list of checkpoint paths, got a single path")
    lifters = [load_model(options.checkpoint)]
    reference = _io_layout(lifters[0])
    for path in options.compare:
        lifter = load_model(path)
        io = _io_layout(lifter)
        if io != reference:
            raise PoseliftError(
                f"`compare` checkpoint {path} takes {_describe_layout(io)} but `checkpoint` "
                f"{_checkpoint_name(options.checkpoint)} takes {_describe_layout(reference)}: compared models must "
                "lift the same 2D input to the same joints"
            )
        lifters.append(lifter)
    return lifters


def lift_render_sequence(options: RenderOptions) -> LiftedSequence:
    """Load the sequence ``options`` names and lift its first ``limit_frames`` frames with
    ``checkpoint`` and every ``compare`` checkpoint (flip test-time augmentation unless
    ``flip=False``), as :func:`render_sequence` does; reads only the sequence and model
    fields of ``options``."""
    labels = _model_labels(options)
    lifters = _load_models(options)
    lifter = lifters[0]
    saved = TrainConfig.from_dict(lifter.metadata.get("train", {}))
    keypoints = options.keypoints or (saved.keypoints if options.dataset == "h36m" else "gt")
    seq, rotation, image_size = load_render_sequence(
        options.dataset, options.data_dir, options.subject, options.action, options.camera, keypoints, options.seed
    )
    skel_in, skel_out = skeletons_for(options.dataset, keypoints)
    cfg = lifter.config
    if seq.keypoints_2d.shape[1] != cfg.num_joints_in or cfg.num_joints_out != skel_out.num_joints:
        raise PoseliftError(
            f"checkpoint {_checkpoint_name(options.checkpoint)} maps {cfg.num_joints_in} → {cfg.num_joints_out} joints "
            f"but {options.dataset} '{keypoints}' keypoints have {seq.keypoints_2d.shape[1]} in and {skel_out.num_joints} out"
        )
    total = seq.num_frames
    used = total if options.limit_frames is None else min(total, options.limit_frames)
    # outputs < used only see inputs up to used - 1 + RF/2: predict on that prefix only
    x = normalized_keypoints(seq)[: min(total, used + max(m.receptive_field for m in lifters))]
    flip = FlipSpec.from_skeletons(skel_in, skel_out) if options.flip else None
    models, trajectory = [], None
    for i, (m, label, path) in enumerate(zip(lifters, labels, [options.checkpoint, *options.compare])):
        pred, traj = lift_sequence(m.pose_model, x, flip, trajectory_model=m.trajectory_model if i == 0 else None)
        if i == 0:
            trajectory = None if traj is None else traj[:used]
        models.append(LiftedModel(label, None if path is None else str(path), m.receptive_field,
                                  model_fps(m.metadata), pred[:used]))
    gt = None if seq.positions_3d is None else seq.positions_3d[:used] - seq.positions_3d[:used, :1]
    return LiftedSequence(seq, keypoints, skel_in, skel_out, rotation, image_size, models, trajectory, gt, used)
