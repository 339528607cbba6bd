"""``poselift render``'s work: lift one dataset (or procedural) sequence with a
checkpoint and render input 2D | 3D reconstruction | ground truth, optionally
exporting the reconstruction (npz, BVH, TRC or C3D)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.data import datasets as ds
from poselift.data.datasets import default_data_dir, normalized_keypoints, skeletons_for
from poselift.data.synthetic import look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import Skeleton
from poselift.io.c3d import require_ezc3d, write_c3d
from poselift.io.exports import write_bvh, write_npz
from poselift.io.staging import check_destination
from poselift.io.trc import write_trc
from poselift.models.lifter import load_model
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
        seqs = ds.load_h36m(root, [subject], keypoints=keypoints, cameras=[cam_id], skip_corrupt=False)
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
    ``elevation``: 3D view angles in degrees."""

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
    lifter = load_model(options.checkpoint)
    saved = TrainConfig.from_dict(lifter.metadata.get("train", {}))
    keypoints = options.keypoints or (saved.keypoints if options.dataset == "h36m" else "gt")
    seq, rotation, image_size = load_render_sequence(
        options.dataset, options.data_dir, options.subject, options.action, options.camera, keypoints, options.seed
    )
    skel_in, skel_out = skeletons_for(options.dataset, keypoints)
    cfg = lifter.config
    if seq.keypoints_2d.shape[1] != cfg.num_joints_in or cfg.num_joints_out != skel_out.num_joints:
        raise PoseliftError(
            f"checkpoint {options.checkpoint} maps {cfg.num_joints_in} → {cfg.num_joints_out} joints but {options.dataset} "
            f"'{keypoints}' keypoints have {seq.keypoints_2d.shape[1]} in and {skel_out.num_joints} out"
        )
    total = seq.num_frames
    used = total if options.limit_frames is None else min(total, options.limit_frames)
    # outputs < used only see inputs up to used - 1 + RF/2: predict on that prefix only
    x = normalized_keypoints(seq)[: min(total, used + lifter.receptive_field)]
    flip = FlipSpec.from_skeletons(skel_in, skel_out) if options.flip else None
    pred, traj = lift_sequence(lifter.pose_model, x, flip, trajectory_model=lifter.trajectory_model)
    pred = pred[:used]
    traj = None if traj is None else traj[:used]
    gt = None if seq.positions_3d is None else seq.positions_3d[:used]
    render_video(
        out, pred, skel_out, seq.fps,
        keypoints_2d=seq.keypoints_2d[:used], keypoints_skeleton=skel_in, image_size=image_size,
        ground_truth=gt, camera_rotation=rotation, size=options.size, azimuth=options.azimuth,
        elevation=options.elevation, downsample=options.downsample, progress=options.progress,
    )
    frames = len(range(0, used, options.downsample))
    if export is not None:
        idx = np.arange(0, used, options.downsample)
        _export(
            export, pred[idx], skel_out, seq.fps / options.downsample,
            ground_truth=None if gt is None else gt[idx] - gt[idx, :1],
            keypoints_2d=seq.keypoints_2d[idx], trajectory=None if traj is None else traj[idx],
            frame_index=idx, camera_rotation=rotation,
        )
    return RenderResult(out, export, seq.key, frames)
