"""Checks of a 3D prediction that need no ground truth (what ``poselift infer`` reports).

* Bone-length stability: a person's bones do not change length, so the coefficient of
  variation (std / mean over frames) of each predicted bone is a direct measure of
  jitter and of depth confusions. Units cancel (the CV is a ratio).
* Left/right consistency: the predicted pose, seen by a weak-perspective camera fitted
  per frame, should match the input 2D limb by limb with its own labels better than
  with left and right exchanged. Frames where an exchanged limb pair fits clearly
  better are counted as swapped (the lifter put a leg or arm on the other side than
  the 2D it was given).
* Detector label switches: frames where the 2D's own left/right labels of a limb pair
  jump between consecutive frames. A swapped 3D frame inside such a stretch is usually the
  detector's swap, which the lifter (trained with swap noise) did not follow.

:func:`verdict` turns these numbers into "ok" or a list of frame ranges to check, with
thresholds measured on Human3.6M (docs/plausibility.md; reproduce them with
``python scripts/diag/plausibility_thresholds.py``). Frames are 0-based indices of the
sequence given (for ``poselift infer``: the input video's frames).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_rate
from poselift.geometry.skeleton import Skeleton, bone_lengths, limbs_for

#: A limb pair counts as swapped when the exchanged labelling's squared 2D error is
#: below this fraction of the labelled one's *and* the exchange lowers the error by more
#: than :data:`SWAP_MIN_GAIN` × the person's 2D height per joint (RMS): limbs that overlap
#: in 2D (side views) cannot be told apart and are not flagged.
SWAP_ERROR_RATIO = 0.8
SWAP_MIN_GAIN = 0.05
#: Against 3D ground truth the exchange must lower the error by more than 5 cm RMS per joint.
WRONG_SIDE_MIN_GAIN_M = 0.05


def _check_poses(joints_3d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    joints_3d = np.asarray(joints_3d, dtype=np.float64)
    if joints_3d.ndim != 3 or joints_3d.shape[1:] != (skeleton.num_joints, 3):
        raise PoseliftError(f"poses must be shaped [frames, {skeleton.num_joints}, 3], got {list(joints_3d.shape)}")
    return joints_3d


def bone_length_cv(joints_3d: np.ndarray, skeleton: Skeleton) -> dict[str, float]:
    """Coefficient of variation over frames of each bone of ``[T, J, 3]`` poses, keyed
    ``"Parent-Child"`` (NaN frames are ignored; NaN when fewer than two frames)."""
    joints_3d = _check_poses(joints_3d, skeleton)
    lengths = bone_lengths(joints_3d, skeleton)  # [T, bones]
    out: dict[str, float] = {}
    for k, (child, parent) in enumerate(skeleton.bones()):
        column = lengths[:, k][np.isfinite(lengths[:, k])]
        mean = column.mean() if len(column) >= 2 else 0.0
        cv = float(column.std() / mean) if mean > 0 else float("nan")
        out[f"{skeleton.joint_names[parent]}-{skeleton.joint_names[child]}"] = cv
    return out


def _weak_perspective(points_3d: np.ndarray, points_2d: np.ndarray) -> np.ndarray:
    """``[T, J, 2]``: the x, y of ``[T, J, 3]`` under the per-frame scale and translation
    that best fit ``points_2d`` (least squares over all joints)."""
    p = points_3d[..., :2] - points_3d[..., :2].mean(axis=1, keepdims=True)
    k = points_2d - points_2d.mean(axis=1, keepdims=True)
    scale = (p * k).sum(axis=(1, 2)) / np.maximum((p * p).sum(axis=(1, 2)), 1e-12)
    return scale[:, None, None] * p + points_2d.mean(axis=1, keepdims=True)


def exchanged_limbs(pose: np.ndarray, reference: np.ndarray, skeleton: Skeleton, tolerance: np.ndarray | float) -> np.ndarray:
    """Frames ``[T]`` (bool) where some left/right limb pair (legs, arms) of ``pose``
    matches ``reference`` (same shape ``[T, J, D]``, same unit) clearly better with its
    two sides exchanged: the squared error drops below :data:`SWAP_ERROR_RATIO` of the
    labelled one and by more than ``tolerance`` (per frame or scalar, RMS per joint).
    Frames with NaN are never flagged."""
    tolerance = np.asarray(tolerance, dtype=np.float64)
    flagged = np.zeros(len(pose), dtype=bool)
    for left, right in limbs_for(skeleton):
        left, right = list(left), list(right)

        def error(a: list[int], b: list[int]) -> np.ndarray:
            return ((pose[:, a] - reference[:, b]) ** 2).sum(axis=(1, 2))

        labelled = error(left, left) + error(right, right)
        exchanged = error(left, right) + error(right, left)
        with np.errstate(invalid="ignore"):
            clear = (exchanged < SWAP_ERROR_RATIO * labelled) & (labelled - exchanged > tolerance**2 * (len(left) + len(right)))
        flagged |= np.nan_to_num(clear, nan=False).astype(bool)
    return flagged


def left_right_swapped(joints_3d: np.ndarray, keypoints_2d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where a limb of the 3D pose sits on the other side than in the 2D.

    The 3D pose is fitted to the 2D with a per-frame scale and translation (weak
    perspective, all joints); then each left/right limb pair is compared with the 2D
    (:func:`exchanged_limbs`, tolerance :data:`SWAP_MIN_GAIN` × the person's 2D height).
    ``joints_3d``: ``[T, J, 3]`` camera frame (x right, y down), any unit;
    ``keypoints_2d``: ``[T, J, 2]`` pixels or normalised, same joints.
    """
    joints_3d = _check_poses(joints_3d, skeleton)
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    if keypoints_2d.shape != joints_3d.shape[:2] + (2,):
        raise PoseliftError(f"keypoints {list(keypoints_2d.shape)} do not match poses {list(joints_3d.shape)}")
    height = np.ptp(keypoints_2d[..., 1], axis=1)  # person's 2D height per frame
    return exchanged_limbs(_weak_perspective(joints_3d, keypoints_2d), keypoints_2d, skeleton, SWAP_MIN_GAIN * height)


def detector_label_switches(keypoints_2d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where the 2D itself exchanged a leg or arm pair's left/right
    labels since the previous frame (a detector swap, e.g. while the legs cross in a
    side view): the limbs match the previous frame clearly better with their sides
    exchanged, by more than :data:`SWAP_MIN_GAIN` × the person's 2D height per joint
    (RMS), so ordinary motion and jitter do not count. Frame 0 and frames next to NaN
    are never flagged. ``keypoints_2d``: ``[T, J, 2]`` pixels or normalised.

    A 3D frame counted by :func:`left_right_swapped` between such switches usually means
    the lifter kept the limb where it was while the detector's labels jumped."""
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[1:] != (skeleton.num_joints, 2):
        raise PoseliftError(f"keypoints must be shaped [frames, {skeleton.num_joints}, 2], got {list(keypoints_2d.shape)}")
    switched = np.zeros(len(keypoints_2d), dtype=bool)
    if len(keypoints_2d) > 1:
        height = np.ptp(keypoints_2d[1:, :, 1], axis=1)
        switched[1:] = exchanged_limbs(keypoints_2d[1:], keypoints_2d[:-1], skeleton, SWAP_MIN_GAIN * height)
    return switched


def wrong_side_frames(pred_3d: np.ndarray, target_3d: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Frames ``[T]`` (bool) where a predicted leg or arm is on the wrong side of the body
    compared with the ground truth (root-relative ``[T, J, 3]``, metres): exchanging
    the predicted pair lowers its error by > 20 % and by more than
    :data:`WRONG_SIDE_MIN_GAIN_M` RMS per joint."""
    pred_3d = _check_poses(pred_3d, skeleton)
    target_3d = _check_poses(target_3d, skeleton)
    if pred_3d.shape != target_3d.shape:
        raise PoseliftError(f"prediction {list(pred_3d.shape)} and target {list(target_3d.shape)} differ in shape")
    return exchanged_limbs(pred_3d, target_3d, skeleton, WRONG_SIDE_MIN_GAIN_M)


# ------------------------------------------------------------------------- verdict
#
# Thresholds of :func:`verdict`. Each is measured on Human3.6M test subjects S9 and S11
# (all actions, 4 cameras, 228 sequences of 45 s on average, 25 frames/s) with
# ``python scripts/diag/plausibility_thresholds.py``; docs/plausibility.md lists the
# percentiles. Durations are in seconds and become frames at the sequence's frame rate.

#: Frame rate (frames/s) of the measurements: the bundled model's; the default of ``fps``.
REFERENCE_FPS = 25.0
#: Whole sequence: median over the bones of the bone-length CV (std / mean over frames).
#: 99 % of the bundled model's Human3.6M test sequences (2D with detector-like noise)
#: stay at or below it; ground-truth 3D is 0.000.
BONE_CV_LIMIT = 0.073
#: Per frame: median over the bones of ``|length / the bone's median length - 1|``,
#: smoothed by a running median over :data:`BONE_SMOOTH_S`. 99 % of the same sequences
#: never exceed it in any frame.
BONE_DEVIATION_LIMIT = 0.17
#: The window of that running median, seconds (a choice: one- or two-frame spikes do not
#: count, and a step keeps its edges).
BONE_SMOOTH_S = 0.2
#: A run of consecutive frames with a leg or arm on the other side than in the 2D
#: (:func:`left_right_swapped`) is reported from this duration on (0.2 s = 5 frames at
#: 25 frames/s): with ground-truth 2D, 99 % of the test sequences have no run longer
#: than 4 frames (the longest is 9).
SWAP_MIN_S = 0.2
#: Any detector label switch (:func:`detector_label_switches`) is reported: none in the
#: 256,880 frames of ground-truth 2D.
LABEL_SWITCH_LIMIT = 1
#: Ranges of one kind less than this apart are reported as one (a choice for reading,
#: not a measurement).
MERGE_GAP_S = 0.25
#: The ``kind`` of an :class:`Issue` and what it means.
ISSUE_KINDS = {
    "bone_length_cv": "bone lengths vary over the whole sequence more than on studio data",
    "bone_length": "bones longer or shorter than their usual length in these frames",
    "left_right_swap": "a leg or arm on the other side than in the 2D",
    "label_switch": "the 2D's left/right labels switched",
}
FRAMES_NOTE = "0-based indices of the frames given (for poselift infer: the input's frames), both ends included"


@dataclass(frozen=True)
class Issue:
    """One reason to look at a sequence: ``kind`` (a key of :data:`ISSUE_KINDS`) over
    frames ``start``..``end`` (0-based, both included), with the ``value`` measured there
    and the ``threshold`` it passed (same unit: see :func:`verdict`)."""

    kind: str
    start: int
    end: int
    value: float
    threshold: float

    def describe(self) -> str:
        """The issue in a few words (for :meth:`Verdict.line`)."""
        if self.kind == "bone_length_cv":
            return (
                f"bone lengths vary {self.value / self.threshold:.1f}× the studio limit over the whole sequence "
                f"(std/mean {self.value:.3f} > {self.threshold:.3f})"
            )
        if self.kind == "bone_length":
            return f"bones up to {self.value:.0%} off their usual length, studio ≤ {self.threshold:.0%}"
        return ISSUE_KINDS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "frames": [self.start, self.end], "value": round(float(self.value), 4),
            "threshold": round(float(self.threshold), 4), "what": self.describe(),
        }


@dataclass(frozen=True)
class Verdict:
    """``ok`` when no check passed its threshold, else the ``issues`` (by first frame).
    ``thresholds``: the limits used, durations in frames at the sequence's rate."""

    ok: bool
    issues: tuple[Issue, ...] = ()
    num_frames: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)

    def ranges(self) -> list[tuple[int, int, list[str]]]:
        """Frame ranges to check, ``(start, end, reasons)``: the per-frame issues of all
        kinds, overlapping or touching ones merged (the whole-sequence issue is not a range)."""
        out: list[tuple[int, int, list[str]]] = []
        for issue in sorted((i for i in self.issues if i.kind != "bone_length_cv"), key=lambda i: (i.start, i.end)):
            if out and issue.start <= out[-1][1] + 1:
                start, end, reasons = out[-1]
                if issue.describe() not in reasons:
                    reasons.append(issue.describe())
                out[-1] = (start, max(end, issue.end), reasons)
            else:
                out.append((issue.start, issue.end, [issue.describe()]))
        return out

    def line(self, max_ranges: int = 8) -> str:
        """One readable line: ``"ok"``, or ``"check frames 64–73 (reasons), ...; <whole-sequence
        issue>; frames count from 0"`` (at most ``max_ranges`` ranges, then how many more)."""
        if self.ok:
            return "ok"
        parts = []
        ranges = self.ranges()
        if ranges:
            shown = [f"{a}–{b} ({'; '.join(r)})" if a != b else f"{a} ({'; '.join(r)})" for a, b, r in ranges[:max_ranges]]
            more = f", and {len(ranges) - max_ranges} more range(s)" if len(ranges) > max_ranges else ""
            parts.append("check frames " + ", ".join(shown) + more)
        parts += [i.describe() for i in self.issues if i.kind == "bone_length_cv"]
        if ranges:
            parts.append("frames count from 0")
        return ("" if ranges else "check: ") + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "line": self.line(), "frames": FRAMES_NOTE,
            "issues": [i.to_dict() for i in self.issues], "thresholds": dict(self.thresholds),
        }


def frame_ranges(flags: np.ndarray, merge_gap: int = 0) -> list[tuple[int, int]]:
    """``(first, last)`` (both included) of every run of True in a 1D bool array, runs
    at most ``merge_gap`` False frames apart joined."""
    idx = np.flatnonzero(np.asarray(flags, dtype=bool))
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge_gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def _running_median(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(x) < 2:
        return x.copy()
    half = window // 2
    padded = np.pad(x, (half, window - 1 - half), mode="edge")
    with warnings.catch_warnings():  # windows of NaN frames stay NaN ("All-NaN slice")
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(sliding_window_view(padded, window), axis=-1)


def bone_length_deviation(joints_3d: np.ndarray, skeleton: Skeleton, smooth_frames: int = 1) -> np.ndarray:
    """Per frame ``[T]``: the median over the bones of ``|length / the bone's median length
    over all frames - 1|`` (0.1: the typical bone is 10 % longer or shorter than usual),
    then a running median over ``smooth_frames`` (odd; 1 = none). NaN where a frame has no
    finite bone."""
    joints_3d = _check_poses(joints_3d, skeleton)
    lengths = bone_lengths(joints_3d, skeleton)  # [T, bones]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN frames / bones stay NaN
        typical = np.nanmedian(lengths, axis=0)
        relative = np.abs(lengths / np.where(typical > 0, typical, np.nan) - 1.0)
        per_frame = np.nanmedian(relative, axis=1)
    return _running_median(per_frame, int(smooth_frames))


def _frames(seconds: float, fps: float) -> int:
    return max(1, math.ceil(seconds * fps - 1e-9))


def verdict(
    joints_3d: np.ndarray,
    keypoints_2d: np.ndarray,
    skeleton: Skeleton,
    fps: float | None = None,
    *,
    swapped: np.ndarray | None = None,
    switches: np.ndarray | None = None,
    first_frame: int = 0,
) -> Verdict:
    """Whether the sequence looks ok, else what to check and where: the checks of this
    module against the thresholds measured on Human3.6M (module constants;
    docs/plausibility.md).

    ``joints_3d`` ``[T, J, 3]`` and ``keypoints_2d`` ``[T, J, 2]`` as for :func:`summarize`;
    ``fps``: their frame rate (default :data:`REFERENCE_FPS`), which turns the durations
    into frames. ``swapped`` / ``switches``: the results of :func:`left_right_swapped` /
    :func:`detector_label_switches` when already computed. Issues (frames 0-based, both
    ends included):

    * ``bone_length_cv``, whole sequence: the median bone-length CV > :data:`BONE_CV_LIMIT`
      (value: that CV);
    * ``bone_length``: frames whose :func:`bone_length_deviation` (smoothed over
      :data:`BONE_SMOOTH_S`) > :data:`BONE_DEVIATION_LIMIT` (value: the range's peak, a fraction);
    * ``left_right_swap``: at least :data:`SWAP_MIN_S` of consecutive swapped frames
      (value and threshold: frames);
    * ``label_switch``: detector label switches (value: how many in the range).

    Ranges of one kind less than :data:`MERGE_GAP_S` apart are joined. ``first_frame``:
    the number of the sequence's first frame (a person's span of a video), added to every range.
    """
    rate = REFERENCE_FPS if fps is None else check_frame_rate(fps, "fps")
    joints_3d = _check_poses(joints_3d, skeleton)
    num_frames = len(joints_3d)
    smooth = round(BONE_SMOOTH_S * rate) | 1  # odd
    merge_gap = round(MERGE_GAP_S * rate)
    min_swap = _frames(SWAP_MIN_S, rate)
    if swapped is None:
        swapped = left_right_swapped(joints_3d, keypoints_2d, skeleton)
    if switches is None:
        switches = detector_label_switches(keypoints_2d, skeleton)
    swapped, switches = np.asarray(swapped, dtype=bool), np.asarray(switches, dtype=bool)
    if swapped.shape != (num_frames,) or switches.shape != (num_frames,):
        raise PoseliftError(f"`swapped` and `switches` must be [{num_frames}] per-frame flags")
    issues: list[Issue] = []

    cv = np.array([v for v in bone_length_cv(joints_3d, skeleton).values() if np.isfinite(v)])
    if len(cv) and float(np.median(cv)) > BONE_CV_LIMIT:
        issues.append(Issue("bone_length_cv", 0, num_frames - 1, float(np.median(cv)), BONE_CV_LIMIT))

    deviation = bone_length_deviation(joints_3d, skeleton, smooth)
    with np.errstate(invalid="ignore"):
        over = np.nan_to_num(deviation, nan=0.0) > BONE_DEVIATION_LIMIT
    for a, b in frame_ranges(over, merge_gap):
        issues.append(Issue("bone_length", a, b, float(np.nanmax(deviation[a : b + 1])), BONE_DEVIATION_LIMIT))

    long_runs = np.zeros(num_frames, dtype=bool)
    for a, b in frame_ranges(swapped):
        if b - a + 1 >= min_swap:
            long_runs[a : b + 1] = True
    for a, b in frame_ranges(long_runs, merge_gap):
        issues.append(Issue("left_right_swap", a, b, float(swapped[a : b + 1].sum()), float(min_swap)))

    for a, b in frame_ranges(switches, merge_gap):
        count = int(switches[a : b + 1].sum())
        if count >= LABEL_SWITCH_LIMIT:
            issues.append(Issue("label_switch", a, b, float(count), float(LABEL_SWITCH_LIMIT)))

    if first_frame:
        issues = [replace(i, start=i.start + first_frame, end=i.end + first_frame) for i in issues]
    issues.sort(key=lambda i: (i.start, i.end, i.kind))
    thresholds = {
        "fps": rate,
        "bone_length_cv": BONE_CV_LIMIT,
        "bone_length_deviation": BONE_DEVIATION_LIMIT,
        "bone_length_smooth_frames": smooth,
        "left_right_swap_min_frames": min_swap,
        "label_switches": LABEL_SWITCH_LIMIT,
        "merge_gap_frames": merge_gap,
    }
    return Verdict(not issues, tuple(issues), num_frames, thresholds)


def summarize(joints_3d: np.ndarray, keypoints_2d: np.ndarray, skeleton: Skeleton, fps: float | None = None,
              first_frame: int = 0) -> dict[str, Any]:
    """Both checks as a JSON-ready dict: per-bone CV, its median and maximum, the
    left/right-swapped frames of the 3D and the frames where the 2D switched labels,
    and under ``verdict`` their :func:`verdict` (``fps``: the frames' rate, default
    :data:`REFERENCE_FPS`; frame numbers start at ``first_frame``)."""
    cv = bone_length_cv(joints_3d, skeleton)
    values = np.array([v for v in cv.values() if np.isfinite(v)])
    swapped = left_right_swapped(joints_3d, keypoints_2d, skeleton)
    switches = detector_label_switches(keypoints_2d, skeleton)
    return {
        "bone_length_cv": {k: round(v, 4) for k, v in cv.items()},
        "bone_length_cv_median": round(float(np.median(values)), 4) if len(values) else None,
        "bone_length_cv_max": round(float(values.max()), 4) if len(values) else None,
        "left_right_swapped_frames": (np.flatnonzero(swapped) + first_frame).tolist(),
        "detector_label_switch_frames": (np.flatnonzero(switches) + first_frame).tolist(),
        "verdict": verdict(joints_3d, keypoints_2d, skeleton, fps, swapped=swapped, switches=switches,
                           first_frame=first_frame).to_dict(),
    }
