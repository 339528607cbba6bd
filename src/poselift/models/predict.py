"""Lifting a whole sequence with a temporal model: the one place that pads, chunks,
applies flip test-time augmentation, makes the pose root-relative and runs the
trajectory model. ``infer``, ``render``, ``demo`` and ``evaluate`` all lift through
:func:`lift_sequence`.

Input: ``[T, J_in, 2]`` normalised screen coordinates; output: ``[T, J_out, 3]``
metres, camera frame; one output frame per input frame (edge padded at the ends).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec, flip_keypoints, pad_sequence
from poselift.models.fast import fast_twin
from poselift.models.temporal import TemporalModel


@torch.inference_mode()
def predict_sequence(
    model: TemporalModel,
    keypoints: np.ndarray | torch.Tensor,
    flip: FlipSpec | None = None,
    chunk_frames: int = 20_000,
) -> np.ndarray:
    """Lift one sequence ``[T, J_in, 2]`` (normalised screen) to ``[T, J_out, 3]`` metres.

    The output frame ``t`` is centred on input frame ``t`` (ends at ``t`` when causal).
    Long sequences are processed in chunks of ``chunk_frames`` outputs with the
    receptive-field overlap, so the result equals the one-shot result. The input is
    moved to the model's device (CPU or GPU); the result is on the CPU.
    """
    param = next(model.parameters(), None)
    x = torch.as_tensor(keypoints, dtype=torch.float32)
    cfg = model.config
    if x.ndim != 3 or x.shape[0] < 1 or tuple(x.shape[1:]) != (cfg.num_joints_in, cfg.in_features):
        raise PoseliftError(
            f"`keypoints` must be shaped [frames >= 1, {cfg.num_joints_in}, {cfg.in_features}] for this model, "
            f"got {list(x.shape)}"
        )
    if param is not None:
        x = x.to(param.device)
    rf = model.receptive_field
    padded = pad_sequence(x, rf, model.config.causal)
    t = x.shape[0]
    outputs = []
    for start in range(0, t, chunk_frames):
        stop = min(t, start + chunk_frames)
        window = padded[start : stop + rf - 1][None]
        if flip is not None:
            window = torch.cat([window, flip_keypoints(window, flip.keypoints_perm)])
        y = model(window)
        if flip is not None:
            y = (y[0] + flip_keypoints(y[1], flip.joints_perm)) / 2
        else:
            y = y[0]
        outputs.append(y)
    return torch.cat(outputs).float().cpu().numpy()  # float(): bf16 under autocast


def lift_sequence(
    pose_model: nn.Module,
    keypoints: np.ndarray | torch.Tensor,
    flip: FlipSpec | None = None,
    *,
    trajectory_model: nn.Module | None = None,
    chunk_frames: int = 20_000,
    root_relative: bool = True,
    pose_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Lift one sequence: the pose ``[T, J_out, 3]`` and the root trajectory ``[T, 3]``.

    keypoints: ``[T, J_in, 2]`` normalised screen coordinates. The pose model runs with
    flip test-time augmentation when ``flip`` is given (the trajectory model never
    flips); CPU models in eval mode run as their BN-folded twin (:func:`fast_twin`,
    same outputs). ``root_relative``: subtract the root joint so that it is exactly 0
    (the model's own root output is only close to 0); the evaluation protocol keeps
    the raw output, as the original implementation scores it. ``pose_scale``: the pose
    model sees ``keypoints × pose_scale`` (about the principal point: the view of a lens
    with that many times the focal length, the same 3D pose;
    :func:`poselift.geometry.camera.oversize_scale`), the trajectory model the keypoints
    as given. Returns ``(joints,
    trajectory)``, metres, camera frame; ``trajectory`` is ``None`` without a
    ``trajectory_model``.
    """
    pose_input = keypoints if pose_scale == 1.0 else keypoints * pose_scale
    joints = predict_sequence(fast_twin(pose_model), pose_input, flip, chunk_frames=chunk_frames)
    if root_relative:
        joints -= joints[:, :1]
    trajectory = None
    if trajectory_model is not None:
        trajectory = predict_sequence(fast_twin(trajectory_model), keypoints, None, chunk_frames=chunk_frames)[:, 0]
    return joints, trajectory
