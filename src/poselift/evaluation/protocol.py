"""Whole-sequence inference and the standard evaluation protocol.

Predictions come from the full (dilated) model run over each edge-padded sequence,
optionally averaged with the prediction on the mirrored input (flip test-time
augmentation). Errors are computed per frame, averaged over all frames of an action
(frame-weighted), then averaged over actions — the standard Human3.6M protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poselift.data.datasets import Sequence
from poselift.errors import PoseliftError
from poselift.evaluation import metrics, plausibility
from poselift.geometry.sequence import FlipSpec
from poselift.geometry.skeleton import Skeleton
from poselift.geometry.trajectory import fitted_root
from poselift.models.fast import fast_twin
from poselift.models.predict import lift_sequence
from poselift.models.temporal import TemporalModel

MM = 1000.0



@dataclass
class EvalResult:
    """Errors in millimetres: overall (mean over actions) and per action."""

    mpjpe_mm: float
    p_mpjpe_mm: float
    n_mpjpe_mm: float
    mpjve_mm: float
    per_action: dict[str, dict[str, float]] = field(default_factory=dict)
    trajectory_mm: float | None = None
    frames: int = 0
    per_subject: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # MPJPE of each joint (same protocol: per action, then the mean over actions)
    per_joint: dict[str, float] = field(default_factory=dict)
    # % of frames with a leg or arm on the wrong side of the body (per action, then mean)
    wrong_side_pct: float | None = None
    # root error after scaling the predicted depth to each test camera's known focal length
    trajectory_focal_mm: float | None = None
    # root error of the position that fits the predicted pose to the 2D (known cameras)
    root_fit_mm: float | None = None
    # root velocity errors (mm per frame): how much the trajectory jitters
    trajectory_velocity_mm: float | None = None
    root_fit_velocity_mm: float | None = None

    def to_dict(self) -> dict:
        d = {
            "mpjpe_mm": self.mpjpe_mm,
            "p_mpjpe_mm": self.p_mpjpe_mm,
            "n_mpjpe_mm": self.n_mpjpe_mm,
            "mpjve_mm": self.mpjve_mm,
            "frames": self.frames,
            "per_action": self.per_action,
            "per_subject": self.per_subject,
            "per_joint_mpjpe_mm": self.per_joint,
        }
        if self.trajectory_mm is not None:
            d["trajectory_mm"] = self.trajectory_mm
        if self.trajectory_focal_mm is not None:
            d["trajectory_focal_mm"] = self.trajectory_focal_mm
        if self.root_fit_mm is not None:
            d["root_fit_mm"] = self.root_fit_mm
        for name in ("trajectory_velocity_mm", "root_fit_velocity_mm"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.wrong_side_pct is not None:
            d["wrong_side_pct"] = self.wrong_side_pct
        return d


def evaluate_sequences(
    model: TemporalModel,
    sequences: list[Sequence],
    inputs: list[np.ndarray],
    flip: FlipSpec | None = None,
    *,
    full_metrics: bool = True,
    progress: bool = False,
    trajectory_model: TemporalModel | None = None,
    skeleton: Skeleton | None = None,
    trajectory_focal_normalized: float | None = None,
    root_fit_joints: tuple[int, ...] | list[int] | None = None,
) -> EvalResult:
    """Evaluate root-relative 3D predictions against each sequence's ground truth.

    inputs: the normalised 2D input of each sequence (same order as ``sequences``).
    skeleton: the output joints: names the per-joint MPJPE (default: joint indices) and
    enables the wrong-side rate (:func:`poselift.evaluation.plausibility.wrong_side_frames`).
    full_metrics=False computes MPJPE only (fast, for per-epoch validation).
    trajectory_focal_normalized: the normalised focal length ``2 f / w`` the trajectory
    model assumes (:func:`poselift.models.lifter.train_focal_normalized`); when given and every
    test camera has a known focal length, the result also holds the root error after
    scaling the predicted depth to each camera's focal length, as ``poselift infer --focal``
    does (``trajectory_focal_mm``).
    root_fit_joints: input joints that are the same points as the output joints of that
    index (e.g. the limbs for the detector layout); when given and every test camera has a
    known focal length, the result also holds the error of the root position that places
    the predicted pose onto the input 2D, robust and smoothed over time as ``poselift
    infer`` does (:func:`poselift.geometry.trajectory.fitted_root`; ``root_fit_mm``); no trajectory
    model needed.
    """
    from tqdm import tqdm

    was_training = model.training
    model.eval()
    per_metric: dict[str, dict[str, np.ndarray]] = {"mpjpe": {}, "p_mpjpe": {}, "n_mpjpe": {}, "mpjve": {}}
    traj_errors: dict[str, np.ndarray] = {}
    traj_focal_errors: dict[str, np.ndarray] = {}
    root_fit_errors: dict[str, np.ndarray] = {}
    traj_velocity: dict[str, np.ndarray] = {}
    root_fit_velocity: dict[str, np.ndarray] = {}
    cameras_known = all(
        s.intrinsics is not None and s.intrinsics.focal_length is not None and s.intrinsics.center is not None
        and s.intrinsics.width > 0
        for s in sequences
    )
    focal_known = trajectory_focal_normalized is not None and cameras_known
    fit_joints = list(root_fit_joints) if root_fit_joints is not None and cameras_known else None
    joint_errors: dict[str, np.ndarray] = {}  # [T, J] per sequence
    wrong_side: dict[str, np.ndarray] = {}  # [T] bool per sequence
    frames = 0

    fast_model = fast_twin(model)  # BN folded once for all sequences (CPU); same outputs
    fast_trajectory = fast_twin(trajectory_model)
    for seq, x in tqdm(list(zip(sequences, inputs)), desc="evaluate", unit="seq", disable=not progress, leave=False):
        target = seq.positions_3d - seq.positions_3d[:, :1]
        # the protocol scores the raw output (root not forced to 0), as the original implementation does
        pred, traj = lift_sequence(fast_model, x, flip, trajectory_model=fast_trajectory, root_relative=False)
        key = seq.key
        frames += len(pred)
        joint_errors[key] = metrics.joint_errors(pred, target)
        if skeleton is not None and pred.shape[-2] != skeleton.num_joints:
            raise PoseliftError(f"skeleton {skeleton.name} has {skeleton.num_joints} joints, the predictions {pred.shape[-2]}")
        if skeleton is not None and full_metrics:
            wrong_side[key] = plausibility.wrong_side_frames(pred, target, skeleton)
        per_metric["mpjpe"][key] = joint_errors[key].mean(axis=-1)
        if full_metrics and not (np.isfinite(pred).all() and np.isfinite(target).all()):
            raise PoseliftError(
                f"{key}: the predictions or the ground truth are not finite (NaN/inf); the 2D input is out of range "
                "or the checkpoint is broken"
            )
        if full_metrics:
            per_metric["p_mpjpe"][key] = metrics.p_mpjpe(pred, target)
            per_metric["n_mpjpe"][key] = metrics.n_mpjpe(pred, target)
            per_metric["mpjve"][key] = metrics.velocity_error(pred, target)
        if fit_joints is not None and full_metrics:
            intr = seq.intrinsics.vector(normalized=True)[:4]
            pinhole = np.concatenate([intr, np.zeros(5)])
            root = fitted_root(pred[:, fit_joints], np.asarray(x)[:, fit_joints], pinhole, seq.fps)  # as `infer` does
            root_fit_errors[key] = np.linalg.norm(root - seq.positions_3d[:, 0], axis=-1)
            root_fit_velocity[key] = metrics.velocity_error(root[:, None], seq.positions_3d[:, :1])
        if traj is not None:
            traj_errors[key] = np.linalg.norm(traj - seq.positions_3d[:, 0], axis=-1)
            traj_velocity[key] = metrics.velocity_error(traj[:, None], seq.positions_3d[:, :1])
            if focal_known:
                scale = 2.0 * seq.intrinsics.focal_length[0] / seq.intrinsics.width / trajectory_focal_normalized
                traj[:, 2] *= scale  # depth scales with the focal length; X and Y stay (see poselift.pipeline)
                traj_focal_errors[key] = np.linalg.norm(traj - seq.positions_3d[:, 0], axis=-1)
    if was_training:
        model.train()
    per_action: dict[str, dict[str, float]] = {}
    overall: dict[str, float] = {}
    for name, values in per_metric.items():
        if not values:
            overall[name] = float("nan")
            continue
        actions, mean = metrics.aggregate_per_action(values)
        overall[name] = mean * MM
        for action, v in actions.items():
            per_action.setdefault(action, {})[f"{name}_mm"] = v * MM
    # The same protocol restricted to each test subject (HumanEva-I reports per subject).
    per_subject: dict[str, dict[str, dict[str, float]]] = {}
    subjects = {seq.key: seq.subject.split("/")[-1] for seq in sequences}
    for subject in sorted(set(subjects.values())):
        entry: dict[str, dict[str, float]] = {}
        for name, values in per_metric.items():
            mine = {k: v for k, v in values.items() if subjects[k] == subject}
            if not mine:
                continue
            actions, mean = metrics.aggregate_per_action(mine)
            entry.setdefault("mean", {})[f"{name}_mm"] = mean * MM
            for action, v in actions.items():
                entry.setdefault(action, {})[f"{name}_mm"] = v * MM
        per_subject[subject] = entry
    num_joints = next(iter(joint_errors.values())).shape[-1] if joint_errors else 0
    names = list(skeleton.joint_names) if skeleton is not None else [str(j) for j in range(num_joints)]
    per_joint = {
        name: metrics.aggregate_per_action({k: v[:, j] for k, v in joint_errors.items()})[1] * MM
        for j, name in enumerate(names)
    }
    wrong_side_pct = metrics.aggregate_per_action(wrong_side)[1] * 100 if wrong_side else None
    traj_mm = None
    if traj_errors:
        traj_mm = metrics.aggregate_per_action(traj_errors)[1] * MM
    traj_focal_mm = metrics.aggregate_per_action(traj_focal_errors)[1] * MM if traj_focal_errors else None
    root_fit_mm = metrics.aggregate_per_action(root_fit_errors)[1] * MM if root_fit_errors else None
    traj_vel_mm = metrics.aggregate_per_action(traj_velocity)[1] * MM if traj_velocity else None
    root_fit_vel_mm = metrics.aggregate_per_action(root_fit_velocity)[1] * MM if root_fit_velocity else None
    return EvalResult(
        overall["mpjpe"], overall["p_mpjpe"], overall["n_mpjpe"], overall["mpjve"], per_action, traj_mm, frames,
        per_subject, per_joint, wrong_side_pct, traj_focal_mm, root_fit_mm, traj_vel_mm, root_fit_vel_mm,
    )


def _per_frame(velocity_mm: float | None) -> str:
    return "" if velocity_mm is None else f", velocity error {velocity_mm:.1f} mm/frame"


def format_table(result: EvalResult, title: str = "") -> str:
    """Per-action table (mm) as plain text."""
    cols = ["mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm"]
    head = f"{'action':<14}" + "".join(f"{c[:-3].upper():>10}" for c in cols)
    lines = [title] if title else []
    lines += [head, "-" * len(head)]
    for action, vals in result.per_action.items():
        lines.append(f"{action:<14}" + "".join(f"{vals.get(c, float('nan')):>10.1f}" for c in cols))
    lines.append("-" * len(head))
    lines.append(
        f"{'average':<14}"
        + "".join(f"{getattr(result, c):>10.1f}" for c in cols)
    )
    if len(result.per_subject) > 1:
        for subject, entry in result.per_subject.items():
            mean = entry.get("mean", {})
            lines.append(f"{'  ' + subject:<14}" + "".join(f"{mean.get(c, float('nan')):>10.1f}" for c in cols))
    if result.per_joint:
        lines.append("MPJPE per joint: " + ", ".join(f"{k} {v:.1f}" for k, v in result.per_joint.items()))
    if result.wrong_side_pct is not None:
        lines.append(f"frames with a leg or arm on the wrong side: {result.wrong_side_pct:.2f} %")
    if result.trajectory_mm is not None:
        lines.append(f"trajectory error (root, camera frame): {result.trajectory_mm:.1f} mm{_per_frame(result.trajectory_velocity_mm)}")
    if result.trajectory_focal_mm is not None:
        lines.append(f"trajectory error with each camera's focal length (as `infer --focal`): {result.trajectory_focal_mm:.1f} mm")
    if result.root_fit_mm is not None:
        lines.append(
            f"root position fitted to the 2D with the known camera (as `infer`): {result.root_fit_mm:.1f} mm"
            f"{_per_frame(result.root_fit_velocity_mm)}"
        )
    return "\n".join(lines)
