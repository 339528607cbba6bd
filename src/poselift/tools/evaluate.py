"""``poselift evaluate``'s work: a checkpoint on the test split it was trained for
(or another), optionally with detector-like noise (``noisy``) or filmed by random
virtual cameras; with and without flip test-time augmentation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from poselift.data.datasets import (
    default_data_dir,
    load_h36m_world,
    normalized_keypoints,
    skeletons_for,
)
from poselift.data.noise import NoiseConfig, corrupt_sequence, noise_model
from poselift.data.virtual_cameras import (
    VirtualCameraConfig,
    film_with_virtual_cameras,
    virtual_camera_config,
)
from poselift.errors import PoseliftError
from poselift.evaluation.protocol import EvalResult, evaluate_sequences
from poselift.geometry.skeleton import limbs_for
from poselift.geometry.swaps import correct_swaps
from poselift.geometry.trajectory import ROOT_FIT_JOINTS
from poselift.models.lifter import load_model, train_focal_normalized
from poselift.training.config import TrainConfig, flip_spec_for
from poselift.training.data import load_split, with_input_layout
from poselift.training.distributed import resolve_device

log = logging.getLogger("poselift")
NOISY_EVAL_SEED = 20240  # fixed: `evaluate --noisy` numbers are comparable between checkpoints
VIRTUAL_EVAL_SEED = 20241  # fixed: `evaluate --virtual-cameras` films with the same cameras every time


def _saved_train_config(meta: dict, checkpoint: str | None):
    """The training config stored in checkpoint metadata, with the fields evaluation
    relies on checked (a corrupt or hand-edited file gives one clear error)."""
    where = f"checkpoint {checkpoint if checkpoint else '(bundled)'}"
    train = meta.get("train", {})
    if not isinstance(train, dict):
        raise PoseliftError(f"{where}: metadata 'train' must be an object, got {type(train).__name__}")
    valid = {
        "dataset": lambda v: v in ("h36m", "humaneva", "synthetic"),
        "data_dir": lambda v: isinstance(v, str),
        "keypoints": lambda v: v in ("gt", "sh"),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63,
        "actions": lambda v: v is None or (isinstance(v, list) and all(isinstance(a, str) for a in v)),
    }
    for key, ok in valid.items():
        if key in train and not ok(train[key]):
            raise PoseliftError(f"{where}: metadata 'train.{key}' has an invalid value {train[key]!r:.40}")
    try:
        return TrainConfig.from_dict(train)
    except (TypeError, ValueError) as exc:
        raise PoseliftError(f"{where}: metadata 'train' is invalid ({exc})") from None


def _root_fit_joints(layout: str, input_skeleton, output_skeleton, limbs: tuple[int, ...]) -> list[int] | None:
    """Input joints that are the same points as the output joints of that index (for
    fitting the root position to the 2D): all of them for matching skeletons, the legs
    and arms (``limbs``, what ``poselift infer`` fits) for the detector layout (its Hip,
    Spine, Thorax, Nose and Head are derived points), none when the layouts differ."""
    if input_skeleton.joint_names != output_skeleton.joint_names:
        return None
    if layout == "h36m17":
        return list(range(output_skeleton.num_joints))
    return list(limbs)


def _virtual_camera_test_split(cfg, views: int, camera_cfg=None):
    """The test recordings filmed by ``views`` random virtual cameras each (fixed seed;
    ``camera_cfg``: their distribution, default the wild training prior)."""
    import torch

    if cfg.dataset != "h36m" or cfg.keypoints != "gt":
        raise PoseliftError("`virtual_cameras` films Human3.6M world 3D: it needs `dataset='h36m'` with ground-truth keypoints (`keypoints='gt'`)")
    if views < 0:
        raise PoseliftError(f"`virtual_cameras` must be a positive number of views, got {views}")
    _, subjects_test = cfg.default_subjects()
    world = load_h36m_world(cfg.data_dir, subjects_test, actions=cfg.actions)
    return film_with_virtual_cameras(world, views, torch.Generator().manual_seed(VIRTUAL_EVAL_SEED), camera_cfg)


@dataclass
class EvaluateOptions:
    """What to evaluate. ``None`` fields default to what the checkpoint was trained on.

    virtual_cameras: film each Human3.6M test recording with this many random cameras
    (0: the studio cameras), drawn from ``virtual_preset`` with ``virtual_set``
    overrides (``NAME=VALUE``); noisy: corrupt the 2D with the detector noise model.
    """

    checkpoint: str | None = None
    dataset: str | None = None
    data_dir: str | None = None
    keypoints: str | None = None
    subjects_test: list[str] | None = None
    actions: list[str] | None = None
    flip: bool = True
    noisy: bool = False
    #: with ``noisy``: ``"independent"`` (:class:`NoiseConfig` defaults) or ``"correlated"``
    #: (:meth:`NoiseConfig.correlated`, a detector's slow, heavy-tailed error)
    noise_model: str = "independent"
    #: put back left/right label swaps in the test 2D before lifting (what ``infer`` does by
    #: default, :func:`poselift.geometry.swaps.correct_swaps`); after the noise with ``noisy``
    swap_fix: bool = False
    virtual_cameras: int = 0
    virtual_preset: str = "wild"
    virtual_set: list[str] = field(default_factory=list)
    device: str = "auto"
    progress: bool = True


@dataclass
class EvaluateReport:
    """Results by mode (``no_flip``, ``flip``) and what was evaluated."""

    results: dict[str, EvalResult]
    dataset: str
    subjects: list[str]
    input_layout: str
    camera: VirtualCameraConfig | None
    #: with ``swap_fix``: frames whose labels were put back, and the number of sequences
    swaps_fixed: dict[str, int] | None = None


def noise_for(model: str, skeleton) -> NoiseConfig:
    """The ``evaluate --noisy`` corruption of ``model`` (:data:`NOISE_MODELS`) for 2D of
    ``skeleton``; per-joint gains made for another number of joints (the correlated
    model's are H36M-17's) give way to a gain of 1 on every joint."""
    noise = noise_model(model, limbs=limbs_for(skeleton))
    if noise.joint_gain is not None and len(noise.joint_gain) != skeleton.num_joints:
        noise = replace(noise, joint_gain=None)
    return noise


def evaluate_checkpoint(options: EvaluateOptions) -> EvaluateReport:
    """Evaluate ``options.checkpoint`` (default: the bundled model) with the standard
    protocol (:func:`poselift.evaluation.protocol.evaluate_sequences`), without and
    (unless ``flip`` is false) with flip test-time augmentation."""
    if options.noise_model != "independent" and not options.noisy:
        raise PoseliftError("`noise_model` describes the corruption of `noisy`: add `noisy`")
    if not options.virtual_cameras and (options.virtual_preset != "wild" or options.virtual_set):
        raise PoseliftError("`virtual_preset` / `virtual_set` describe the cameras of `virtual_cameras`: add `virtual_cameras`")
    lifter = load_model(options.checkpoint)
    device = resolve_device(options.device)
    for net in (lifter.pose_model, lifter.trajectory_model):
        if net is not None:
            net.to(device)
    meta = lifter.metadata
    saved = _saved_train_config(meta, options.checkpoint)
    dataset = options.dataset or saved.dataset
    cfg = TrainConfig(
        dataset=dataset,
        data_dir=options.data_dir or (str(default_data_dir(dataset)) if options.dataset else saved.data_dir),
        keypoints=options.keypoints or saved.keypoints,
        subjects_test=options.subjects_test,
        actions=options.actions or saved.actions,
        seed=saved.seed,
    )
    if cfg.dataset == "humaneva" and saved.dataset == "humaneva" and options.actions is None:
        cfg.actions = saved.actions
    camera_cfg = None
    if options.virtual_cameras:
        camera_cfg = virtual_camera_config(options.virtual_preset, options.virtual_set)
        seqs = _virtual_camera_test_split(cfg, options.virtual_cameras, camera_cfg)
    else:
        seqs = load_split(cfg, train=False)
    if seqs[0].keypoints_2d.shape[1] != lifter.config.num_joints_in:
        raise PoseliftError(
            f"checkpoint expects {lifter.config.num_joints_in} input joints but the {cfg.dataset} "
            f"'{cfg.keypoints}' keypoints have {seqs[0].keypoints_2d.shape[1]}"
        )
    layout = meta.get("input_layout", "h36m17")
    if layout != "h36m17":
        log.info("input layout %s (from the checkpoint): converting the test 2D", layout)
        seqs = with_input_layout(seqs, layout)
    inputs = [normalized_keypoints(s) for s in seqs]
    input_skeleton, output_skeleton = skeletons_for(cfg.dataset, cfg.keypoints)
    if options.noisy:
        noise = noise_for(options.noise_model, input_skeleton)
        gen = torch.Generator().manual_seed(NOISY_EVAL_SEED)
        rf = lifter.config.receptive_field
        inputs = [corrupt_sequence(x, gen, noise, chunk_frames=rf) for x in inputs]
    swaps_fixed = None
    if options.swap_fix:
        corrections = [correct_swaps(x, None, input_skeleton) for x in inputs]
        inputs = [c.points.astype(np.float32) for c in corrections]
        swaps_fixed = {"frames": int(sum(c.swapped.any(axis=1).sum() for c in corrections)), "sequences": len(corrections)}
        log.info("swap fix: left/right labels put back in %d of %d frames", swaps_fixed["frames"],
                 sum(len(x) for x in inputs))
    modes = [("no_flip", None), ("flip", flip_spec_for(cfg))]
    if not options.flip:
        modes = modes[:1]
    results = {}
    for name, flip in modes:
        results[name] = evaluate_sequences(
            lifter.pose_model, seqs, inputs, flip, progress=options.progress, trajectory_model=lifter.trajectory_model,
            skeleton=output_skeleton, trajectory_focal_normalized=train_focal_normalized(meta),
            root_fit_joints=_root_fit_joints(layout, input_skeleton, output_skeleton, ROOT_FIT_JOINTS),
        )
    return EvaluateReport(results, cfg.dataset, sorted({s.subject for s in seqs}), layout, camera_cfg, swaps_fixed)
