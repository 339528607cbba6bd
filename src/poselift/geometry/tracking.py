"""Multi-person tracking of 2D detections with stable identities (frames, pixels).

A pose detector or a keypoint file gives, per frame, up to S detections
``points [T, S, J, 2]`` (px, origin top-left, NaN where missing) whose slot order carries
no identity. :func:`track_people` links them into people ``[P, T, J, 2]`` whose ids hold
across crossings, occlusions, exits and re-entries, and left/right label swaps.

Per frame, live tracks and detections are matched with the Hungarian algorithm on

    cost[n, m] = mean_j |det[m, j] - pred[n, j]| / size[n]  (+ iou_weight * (1 - IoU))

over the joints seen in both (px / px, so scale-free). ``pred`` is the track's last
seen pose moved by its velocity (px/frame, smoothed over its observations) times a
damped time ``tau * (1 - exp(-dt / tau))`` (``tau = VELOCITY_TAU_FRAMES``), so a long
gap moves it at most ``tau`` frames' worth. ``size`` is the diagonal of its last box,
never below ``MIN_SIZE_PX`` and shrinking at most by ``SIZE_DECAY`` per observation.
With ``mirror``, the joint term is the smaller for the detection and its mirror image.
Pairs costing more than ``gate`` are never matched.

Ambiguity: a matched pair (track a, detection i) is ambiguous when an alternative within
the gate costs less than ``ambiguity_margin`` more: swapping detections with another
matched track b (``C[a,j] + C[b,i] - C[a,i] - C[b,j]``), giving i to an unmatched live
track b (``C[b,i] - C[a,i]``), or giving a's other candidate j to the new track it
started (``C[a,j] - C[a,i]``). Each track of the pair gets one ``ambiguous`` event per
episode; an episode ends after ``AMBIGUITY_QUIET_FRAMES`` frames without ambiguity.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from poselift.errors import PoseliftError, finite_number

log = logging.getLogger("poselift.tracking")

#: Smallest track size (box diagonal, px) a cost is divided by.
MIN_SIZE_PX = 16.0
#: Factor by which a track's size may shrink per observation (partial detections).
SIZE_DECAY = 0.8
#: Time constant (frames) of the velocity damping during gaps.
VELOCITY_TAU_FRAMES = 10.0
#: Weight of the newest velocity estimate in the smoothed velocity.
VELOCITY_SMOOTHING = 0.5
#: Frames without ambiguity that end an ambiguity episode of a pair of tracks.
AMBIGUITY_QUIET_FRAMES = 10
#: Event kinds, in the order they are listed within one frame.
EVENT_KINDS = ("end", "dropped", "start", "gap", "ambiguous", "merged")
#: Rules :meth:`Tracks.select` knows besides an id.
SELECT_RULES = ("largest", "longest")
_INFEASIBLE = 1e9
#: The per-track arrays of :class:`_Tracker`, one row per live track.
_LIVE = ("ids", "last", "pose", "velocity", "gain", "size")


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise PoseliftError(f"`TrackerConfig.{name}` must be an integer >= {low}, got {value!r}")


def _check_number(name: str, value: object, *, positive: bool = False) -> None:
    ok = finite_number(value)
    if not ok or value < 0 or (positive and value == 0):
        raise PoseliftError(f"`TrackerConfig.{name}` must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of :func:`track_people`; times in frames, costs relative to body size.

    max_gap_frames: a track missing up to this many consecutive frames keeps its id.
    min_track_frames: tracks detected on fewer frames are dropped (spurious detections).
    gate: the highest matching cost (mean joint distance / box diagonal) of a match.
    min_joints: a slot is a detection when at least this many joints have confidence > 0.
    ambiguity_margin: extra cost below which an alternative assignment is reported; a
        swap of two people costs about twice their mean joint distance / box diagonal,
        so 0.3 flags poses closer than ~15 % of the body's diagonal (0 turns it off).
    iou_weight: weight of ``1 - IoU`` (predicted vs detected box) added to the cost.
    """

    max_gap_frames: int = 25
    min_track_frames: int = 10
    gate: float = 1.0
    min_joints: int = 4
    ambiguity_margin: float = 0.3
    iou_weight: float = 0.0

    def __post_init__(self) -> None:
        _check_int("max_gap_frames", self.max_gap_frames, 0)
        _check_int("min_track_frames", self.min_track_frames, 1)
        _check_int("min_joints", self.min_joints, 1)
        _check_number("gate", self.gate, positive=True)
        _check_number("ambiguity_margin", self.ambiguity_margin)
        _check_number("iou_weight", self.iou_weight)


@dataclass(frozen=True)
class TrackEvent:
    """Something to know about a track: ``kind`` in :data:`EVENT_KINDS` at ``frame``."""

    frame: int
    kind: str
    track_id: int
    detail: str


@dataclass(frozen=True, eq=False)
class Tracks:
    """People tracked over T frames: ``ids [P]`` (ascending, gaps where tracks were
    dropped), ``points [P, T, J, 2]`` px (NaN absent), ``confidence [P, T, J]`` (0
    absent), ``slot [P, T]`` (input slot, -1 absent) and the ``events``."""

    ids: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    slot: np.ndarray
    events: list[TrackEvent] = field(default_factory=list)

    @property
    def num_people(self) -> int:
        return int(self.ids.shape[0])

    @property
    def detected(self) -> np.ndarray:
        """``[P, T]`` bool: the person was matched to a detection."""
        return self.slot >= 0

    @property
    def first_frame(self) -> np.ndarray:
        """``[P]`` first detected frame of each person."""
        return np.argmax(self.detected, axis=1).astype(np.int64)

    @property
    def last_frame(self) -> np.ndarray:
        """``[P]`` last detected frame of each person."""
        return (self.slot.shape[1] - 1 - np.argmax(self.detected[:, ::-1], axis=1)).astype(np.int64)

    @property
    def detected_frames(self) -> np.ndarray:
        """``[P]`` number of frames on which each person was detected."""
        return self.detected.sum(axis=1).astype(np.int64)

    @property
    def mean_confidence(self) -> np.ndarray:
        """``[P]`` mean confidence over all J joints of the detected frames (0 for missing joints)."""
        return self.confidence.sum(axis=(1, 2)) / np.maximum(self.detected_frames * self.confidence.shape[2], 1)

    @property
    def mean_height_px(self) -> np.ndarray:
        """``[P]`` mean bounding-box height (px) over the detected frames."""
        height = _boxes(np.where(self.confidence[..., None] > 0, self.points, np.nan))
        height = np.where(self.detected, height[..., 3] - height[..., 1], 0.0)
        return height.sum(axis=1) / np.maximum(self.detected_frames, 1)

    def summary(self) -> list[dict]:
        """One JSON-ready dict per person (frames, confidence, px)."""
        cols = (self.first_frame, self.last_frame, self.detected_frames, self.mean_confidence, self.mean_height_px)
        return [
            {"id": int(i), "first_frame": int(f), "last_frame": int(la), "detected_frames": int(n),
             "mean_confidence": float(c), "mean_height_px": float(h)}
            for i, f, la, n, c, h in zip(self.ids, *cols)
        ]

    def index(self, track_id: int) -> int:
        """Row of the person ``track_id`` in the arrays; PoseliftError listing the ids if absent."""
        hits = np.flatnonzero(self.ids == track_id)
        if isinstance(track_id, bool) or hits.size == 0:
            known = ", ".join(str(int(i)) for i in self.ids) or "none"
            raise PoseliftError(f"no tracked person with id {track_id!r}; available ids: {known}")
        return int(hits[0])

    def person(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(points [T, J, 2] px, confidence [T, J])`` of the person ``track_id``."""
        i = self.index(track_id)
        return self.points[i], self.confidence[i]

    def select(self, rule: str | int) -> int:
        """The id picked by ``rule``: ``"largest"`` (mean box height x detected frames),
        ``"longest"`` (detected frames), ties to the lowest id, or an id itself."""
        if isinstance(rule, (int, np.integer)) and not isinstance(rule, bool):
            return int(self.ids[self.index(int(rule))])
        if rule not in SELECT_RULES:
            raise PoseliftError(f"`select` takes {' or '.join(map(repr, SELECT_RULES))} or a track id, got {rule!r}")
        if self.num_people == 0:
            raise PoseliftError(f"no person was tracked, nothing to select with {rule!r}")
        score = self.detected_frames.astype(np.float64)
        if rule == "largest":
            score = score * self.mean_height_px
        return int(self.ids[int(np.argmax(score))])


def _boxes(points: np.ndarray) -> np.ndarray:
    """``[..., 4]`` boxes ``(x0, y0, x1, y1)`` px of ``points [..., J, 2]`` ignoring NaN
    joints (``inf``/``-inf`` where no joint is seen), without warnings."""
    seen = ~np.isnan(points)
    low = np.where(seen, points, np.inf).min(axis=-2)
    high = np.where(seen, points, -np.inf).max(axis=-2)
    return np.concatenate([low, high], axis=-1)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` intersection over union of boxes ``a [N, 4]`` and ``b [M, 4]``."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = np.prod(a[:, 2:] - a[:, :2], axis=-1)[:, None] + np.prod(b[:, 2:] - b[:, :2], axis=-1) - inter
    return inter / np.maximum(union, 1e-9)


def _mean_joint_distance(pred: np.ndarray, det: np.ndarray) -> np.ndarray:
    """``[N, M]`` mean distance (px) over joints seen in both of ``pred [N, J, 2]`` and
    ``det [M, J, 2]``; ``inf`` where no joint is shared."""
    diff = det[None] - pred[:, None]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    count = np.count_nonzero(dist >= 0, axis=-1)  # NaN compares False
    return np.where(count > 0, np.fmax(dist, 0.0).sum(axis=-1) / np.maximum(count, 1), np.inf)


#: Two detections of one frame closer than this (mean joint distance / the smaller box
#: diagonal, left/right swap-invariant) are one person detected twice.
DUPLICATE_DISTANCE = 0.15


def drop_duplicates(points: np.ndarray, confidence: np.ndarray, *, threshold: float = DUPLICATE_DISTANCE,
                    mirror: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Remove second detections of the same person within a frame: of two detections
    whose joints are on average closer than ``threshold`` × the smaller box diagonal (px
    / px; with ``mirror`` also against the mirrored labels), the one with the lower
    summed confidence is emptied (NaN, confidence 0). A detector sometimes returns one
    person twice, which would start a second identity. ``points [T, S, J, 2]`` px,
    ``confidence [T, S, J]``; returns the cleaned copies and the number removed."""
    pts, conf = _check_inputs(points, confidence)
    perm = _check_mirror(mirror, pts.shape[2])
    pts, conf = pts.copy(), conf.copy()
    seen = (conf > 0) & ~np.isnan(pts).any(axis=-1)
    masked = np.where(seen[..., None], pts, np.nan)
    box = _boxes(masked)
    diag = np.hypot(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])
    score = conf.sum(axis=-1)
    removed = 0
    for frame in np.flatnonzero(seen.any(axis=-1).sum(axis=-1) > 1):
        slots = np.flatnonzero(seen[frame].any(axis=-1))
        poses = masked[frame, slots]
        dist = _mean_joint_distance(poses, poses)
        if perm is not None:
            dist = np.minimum(dist, _mean_joint_distance(poses, poses[:, perm]))
        size = np.maximum(np.minimum(diag[frame, slots][:, None], diag[frame, slots][None]), MIN_SIZE_PX)
        close = np.triu(dist / size < threshold, k=1)
        for a, b in zip(*np.nonzero(close)):
            sa, sb = slots[a], slots[b]
            if not (seen[frame, sa].any() and seen[frame, sb].any()):
                continue  # one of the pair was removed already
            drop = sb if score[frame, sa] >= score[frame, sb] else sa
            pts[frame, drop] = np.nan
            conf[frame, drop] = 0.0
            seen[frame, drop] = False
            removed += 1
    return pts, conf, removed


def _cost_matrix(pred: np.ndarray, sizes: np.ndarray, det: np.ndarray, mirror: np.ndarray | None,
                 iou_weight: float) -> np.ndarray:
    """``[N, M]`` matching cost of predicted poses ``[N, J, 2]`` (sizes ``[N]`` px) and
    detections ``[M, J, 2]`` (see the module docstring)."""
    dist = _mean_joint_distance(pred, det)
    if mirror is not None:
        dist = np.minimum(dist, _mean_joint_distance(pred, det[:, mirror]))
    cost = dist / sizes[:, None]
    if iou_weight > 0:
        cost = cost + iou_weight * (1.0 - _box_iou(_boxes(pred), _boxes(det)))
    return cost


def _assign(cost: np.ndarray, feasible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the minimum-cost matching that uses only ``feasible`` pairs."""
    rows, cols = linear_sum_assignment(np.where(feasible, cost, _INFEASIBLE))
    keep = feasible[rows, cols]
    return rows[keep], cols[keep]


def _ambiguous_pairs(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray, row_ids: np.ndarray,
                     col_ids: np.ndarray, margin: float) -> list[tuple[int, int, float]]:
    """``(id, other id, extra cost)`` of every alternative assignment within ``margin``
    (the three cases of the module docstring); ``cost`` is inf outside the gate."""
    best = cost[rows, cols]
    free_rows = np.flatnonzero(~np.isin(np.arange(cost.shape[0]), rows))
    free_cols = np.flatnonzero(~np.isin(np.arange(cost.shape[1]), cols))
    found = []
    with np.errstate(invalid="ignore"):
        sub = cost[np.ix_(rows, cols)]
        swap = sub + sub.T - best[:, None] - best[None, :]
        for p, q in zip(*np.nonzero(np.triu(swap < margin, 1))):
            found.append((row_ids[rows[p]], row_ids[rows[q]], swap[p, q]))
        taken = cost[np.ix_(free_rows, cols)] - best[None, :]
        for u, k in zip(*np.nonzero(taken < margin)):
            found.append((row_ids[rows[k]], row_ids[free_rows[u]], taken[u, k]))
        other = cost[np.ix_(rows, free_cols)] - best[:, None]
        for k, v in zip(*np.nonzero(other < margin)):
            found.append((row_ids[rows[k]], col_ids[free_cols[v]], other[k, v]))
    return [(int(a), int(b), float(d)) for a, b, d in found]


class _Tracker:
    """The frame-by-frame matching loop. Live tracks are rows of the arrays :data:`_LIVE`:
    ``ids``, ``last`` detected frame, last seen ``pose [N, J, 2]`` px, ``velocity [N, 2]``
    px/frame, its ``gain`` (weight of the next estimate), ``size`` px. ``owner [T, S]`` gets
    the id each detection went to (0 none), ``pending`` the events of live tracks (the
    first is the start), ``kept`` the ids that ended with enough frames, and
    ``travel[dt]`` the damped frames of motion predicted ``dt`` frames after a detection."""

    def __init__(self, config: TrackerConfig, mirror: np.ndarray | None, shape: tuple[int, ...]) -> None:
        self.config, self.mirror, self.next_id = config, mirror, 1
        self.ids, self.last = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        self.pose, self.velocity = np.zeros((0, shape[2], 2)), np.zeros((0, 2))
        self.gain, self.size = np.zeros(0), np.zeros(0)
        self.owner = np.zeros(shape[:2], dtype=np.int64)
        self.pending: dict[int, list[TrackEvent]] = {}
        self.travel = VELOCITY_TAU_FRAMES * -np.expm1(-np.arange(config.max_gap_frames + 2) / VELOCITY_TAU_FRAMES)
        self.events: list[TrackEvent] = []
        self.kept: list[int] = []
        self.last_ambiguous: dict[tuple[int, int], int] = {}

    def step(self, frame: int, slots: np.ndarray, poses: np.ndarray, diag: np.ndarray) -> None:
        """Match the detections ``poses [M, J, 2]`` px (input ``slots [M]``, box diagonals
        ``diag [M]`` px) of ``frame``; unmatched ones start tracks."""
        if len(self.ids) and frame - self.last.min() - 1 > self.config.max_gap_frames:
            expired = frame - self.last - 1 > self.config.max_gap_frames
            self._finish(expired, f"unseen for more than max_gap_frames={self.config.max_gap_frames} frames")
        if not len(slots):
            return
        rows = cols = np.zeros(0, dtype=np.int64)
        cost, row_ids = None, self.ids
        if len(self.ids):
            dt = frame - self.last
            pred = self.pose + (self.velocity * self.travel[dt][:, None])[:, None, :]
            cost = _cost_matrix(pred, self.size, poses, self.mirror, self.config.iou_weight)
            feasible = cost <= self.config.gate
            rows, cols = _assign(cost, feasible)
            self._extend(frame, rows, poses[cols], diag[cols], dt[rows])
            self.owner[frame, slots[cols]] = self.ids[rows]
        if len(cols) < len(slots):
            new = np.ones(len(slots), dtype=bool)
            new[cols] = False
            self._start(frame, slots[new], poses[new], diag[new])
        # with no more feasible pairs than matches, there is no alternative assignment
        if cost is not None and self.config.ambiguity_margin > 0 and np.count_nonzero(feasible) > len(rows):
            gated = np.where(feasible, cost, np.inf)
            pairs = _ambiguous_pairs(gated, rows, cols, row_ids, self.owner[frame, slots], self.config.ambiguity_margin)
            self._report(frame, pairs)

    def close(self) -> None:
        """End every live track (the clip is over)."""
        self._finish(np.ones(len(self.ids), dtype=bool), "the clip ends")

    def _start(self, frame: int, slots: np.ndarray, poses: np.ndarray, diag: np.ndarray) -> None:
        ids = self.next_id + np.arange(len(slots))
        self.next_id += len(slots)
        for track_id, slot in zip(ids.tolist(), slots.tolist()):
            self.pending[track_id] = [TrackEvent(frame, "start", track_id, f"first seen in slot {slot}")]
        self.owner[frame, slots] = ids
        added = (ids, np.full(len(ids), frame), poses, np.zeros((len(ids), 2)), np.ones(len(ids)),
                 np.maximum(diag, MIN_SIZE_PX))
        for name, values in zip(_LIVE, added):
            setattr(self, name, np.concatenate([getattr(self, name), values]))

    def _extend(self, frame: int, rows: np.ndarray, poses: np.ndarray, diag: np.ndarray, dt: np.ndarray) -> None:
        """Update the tracks ``rows`` (ascending) with their detections ``poses [K, J, 2]``
        px, seen ``dt [K]`` frames after the last time."""
        if dt.max(initial=0) > 1:
            for track_id, missing in zip(self.ids[rows[dt > 1]].tolist(), (dt[dt > 1] - 1).tolist()):
                self.pending[track_id].append(TrackEvent(frame, "gap", track_id, f"resumed after {missing} missing frames"))
        if len(rows) == len(self.ids):
            rows = slice(None)  # all matched: views instead of copies
        step = poses - self.pose[rows]
        unshared = np.isnan(step)
        shared_count = step.shape[1] - unshared[..., 0].sum(axis=1)
        step[unshared] = 0.0
        estimate = step.sum(axis=1) / (np.maximum(shared_count, 1) * dt)[:, None]
        weight = (self.gain[rows] * (shared_count > 0))[:, None]
        self.velocity[rows] += weight * (estimate - self.velocity[rows])
        self.gain[rows] = VELOCITY_SMOOTHING
        self.size[rows] = np.maximum(diag, np.maximum(SIZE_DECAY * self.size[rows], MIN_SIZE_PX))
        self.pose[rows], self.last[rows] = poses, frame

    def _finish(self, which: np.ndarray, why: str) -> None:
        """End the live tracks flagged in ``which [N]``: kept, or dropped when too short."""
        for track_id, last, size in zip(self.ids[which].tolist(), self.last[which].tolist(), self.size[which].tolist()):
            events = self.pending.pop(track_id)
            first = events[0].frame
            count = int(np.count_nonzero(self.owner[first:last + 1] == track_id))
            if count >= self.config.min_track_frames:
                self.kept.append(track_id)
                self.events += events + [TrackEvent(last, "end", track_id, f"last seen; {why}")]
                continue
            detail = (f"detected on {count} frames (< min_track_frames={self.config.min_track_frames}), "
                      f"frames {first}-{last}, size {size:.0f} px")
            log.info("dropped track %d: %s", track_id, detail)
            self.events.append(TrackEvent(last, "dropped", track_id, detail))
        for name in _LIVE:
            setattr(self, name, getattr(self, name)[~which])

    def _report(self, frame: int, pairs: list[tuple[int, int, float]]) -> None:
        """Turn the ambiguous ``(id, id, extra cost)`` pairs into events, once per episode."""
        for a, b, extra in pairs:
            key = (min(a, b), max(a, b))
            fresh = frame - self.last_ambiguous.get(key, -AMBIGUITY_QUIET_FRAMES - 1) > AMBIGUITY_QUIET_FRAMES
            self.last_ambiguous[key] = frame
            for me, other in ((a, b), (b, a)) if fresh else ():
                self.pending[me].append(TrackEvent(frame, "ambiguous", me, (
                    f"identity may swap with track {other}: the other assignment costs only "
                    f"{extra:.3f} more (ambiguity_margin={self.config.ambiguity_margin:g})")))


#: Frames two tracks may both be present and still be one person split in two
#: (a detector that returned the person twice while the identity moved over).
STITCH_OVERLAP_FRAMES = 3


def _last_pose_before(tracks: Tracks, row: int, frame: int) -> tuple[int, np.ndarray] | None:
    """The last detected frame of track ``row`` before ``frame`` and its pose ``[J, 2]`` px."""
    frames = np.flatnonzero(tracks.detected[row, :frame])
    if not len(frames):
        return None
    return int(frames[-1]), tracks.points[row, frames[-1]].astype(np.float64)


def _stitch_cost(tracks: Tracks, a: int, b: int, config: TrackerConfig, mirror: np.ndarray | None) -> float:
    """Cost of track ``b`` continuing track ``a`` (mean joint distance of a's last pose
    before b starts and b's first pose, over a's box diagonal), or inf when b cannot
    continue a: it starts before a, ends before a does, starts more than
    ``max_gap_frames`` after a ends, or overlaps a in more than
    :data:`STITCH_OVERLAP_FRAMES` frames."""
    first, last = tracks.first_frame, tracks.last_frame
    if first[b] <= first[a] or last[b] <= last[a] or first[b] - last[a] - 1 > config.max_gap_frames:
        return np.inf
    if np.count_nonzero(tracks.detected[a] & tracks.detected[b]) > STITCH_OVERLAP_FRAMES:
        return np.inf
    before = _last_pose_before(tracks, a, int(first[b]))
    if before is None:
        return np.inf
    frame_a, pose_a = before
    pose_b = tracks.points[b, first[b]].astype(np.float64)
    dist = _mean_joint_distance(pose_a[None], pose_b[None])[0, 0]
    if mirror is not None:
        dist = min(dist, _mean_joint_distance(pose_a[None], pose_b[None, mirror])[0, 0])
    box = _boxes(pose_a[None])[0]
    size = max(float(np.hypot(box[2] - box[0], box[3] - box[1])), MIN_SIZE_PX)
    # a person moves: allow more distance the longer the gap (up to twice the gate)
    allowance = 1.0 + min(1.0, (int(first[b]) - frame_a) / VELOCITY_TAU_FRAMES)
    return float(dist / size / allowance)


def _merge(tracks: Tracks, a: int, b: int, cost: float) -> Tracks:
    """Track ``b`` appended to track ``a`` (in frames both hold, the detection with the
    higher summed confidence); b's events move to a, with one ``merged`` event."""
    points, confidence, slot = tracks.points.copy(), tracks.confidence.copy(), tracks.slot.copy()
    take = tracks.detected[b] & (~tracks.detected[a] | (confidence[b].sum(-1) > confidence[a].sum(-1)))
    points[a, take], confidence[a, take], slot[a, take] = points[b, take], confidence[b, take], slot[b, take]
    id_a, id_b = int(tracks.ids[a]), int(tracks.ids[b])
    start_b = int(tracks.first_frame[b])
    events = []
    for e in tracks.events:
        if e.track_id == id_a and e.kind == "end":
            continue
        if e.kind == "ambiguous" and (e.track_id, id_a, id_b) in ((id_a, id_a, id_b), (id_b, id_a, id_b)) and (
                f"track {id_b}:" in e.detail or f"track {id_a}:" in e.detail):
            continue  # a possible swap between the two halves of one person
        if e.track_id == id_b:
            if e.kind == "start":
                continue
            e = TrackEvent(e.frame, e.kind, id_a, e.detail)
        events.append(e)
    events.append(TrackEvent(start_b, "merged", id_a, (
        f"a second track ({id_b}) started on this person at frame {start_b} and was joined back to it "
        f"(distance {cost:.2f} of the body size); check this frame")))
    log.info("tracking: track %d continues track %d from frame %d (distance %.2f of the body size)", id_b, id_a, start_b, cost)
    keep = np.arange(tracks.num_people) != b
    rank = {kind: i for i, kind in enumerate(EVENT_KINDS)}
    events.sort(key=lambda e: (e.frame, rank[e.kind], e.track_id))
    return Tracks(tracks.ids[keep], points[keep], confidence[keep], slot[keep], events)


def stitch_tracks(tracks: Tracks, config: TrackerConfig, mirror: np.ndarray | None = None) -> Tracks:
    """Join tracks that are one person split in two: a track that starts where another
    stops (within ``max_gap_frames``, overlapping it in at most
    :data:`STITCH_OVERLAP_FRAMES` frames, its first pose within ``gate`` of the other's
    last one, see :func:`_stitch_cost`) continues it; best pairs first. Every join is a
    ``merged`` event on the kept (earlier) id."""
    while tracks.num_people > 1:
        n = tracks.num_people
        costs = np.array([[_stitch_cost(tracks, a, b, config, mirror) if a != b else np.inf for b in range(n)] for a in range(n)])
        a, b = np.unravel_index(np.argmin(costs), costs.shape)
        if not costs[a, b] <= config.gate:
            break
        tracks = _merge(tracks, int(a), int(b), float(costs[a, b]))
    return tracks


def _check_inputs(points: object, confidence: object) -> tuple[np.ndarray, np.ndarray]:
    """``points [T, S, J, 2]`` px and ``confidence [T, S, J]`` as float64, or PoseliftError."""
    try:
        pts, conf = np.asarray(points, dtype=np.float64), np.asarray(confidence, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PoseliftError(f"`points` and `confidence` must be numeric arrays ({exc})") from None
    if pts.ndim != 4 or pts.shape[-1] != 2:
        raise PoseliftError(f"`points` must be shaped [T, S, J, 2] (frames, detections, joints, x/y px), got {list(pts.shape)}")
    if conf.shape != pts.shape[:3]:
        raise PoseliftError(f"`confidence` must be shaped [T, S, J] = {list(pts.shape[:3])} like `points`, got {list(conf.shape)}")
    if pts.shape[0] == 0 or pts.shape[2] == 0:
        raise PoseliftError(f"`points` needs at least one frame and one joint, got shape {list(pts.shape)}")
    if np.isinf(pts).any():
        frame = int(np.argwhere(np.isinf(pts))[0, 0])
        raise PoseliftError(f"`points` must be finite pixels or NaN (missing), found inf at frame {frame}")
    bad = ~((conf >= 0) & (conf <= 1))
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise PoseliftError(f"`confidence` must lie in [0, 1] (0 where missing), found {conf[where]} at frame {where[0]}")
    return pts, conf


def _check_mirror(mirror: Sequence[int] | None, joints: int) -> np.ndarray | None:
    """``mirror`` as an index array, or PoseliftError unless it permutes ``range(joints)``."""
    if mirror is None:
        return None
    perm = np.asarray(mirror)
    if perm.shape != (joints,) or not np.issubdtype(perm.dtype, np.integer) or sorted(perm.tolist()) != list(range(joints)):
        raise PoseliftError(f"`mirror` must be a permutation of the {joints} joint indices (left <-> right), got {list(perm.ravel())[:40]}")
    return perm.astype(np.int64)


def _assemble(tracker: _Tracker, masked: np.ndarray, conf: np.ndarray) -> Tracks:
    """Output arrays of the kept tracks, from the input with unseen joints NaN."""
    ids = np.array(sorted(tracker.kept), dtype=np.int64)
    num, (frames_total, _, joints, _) = len(ids), masked.shape
    row_of = np.full(tracker.next_id, -1, dtype=np.int64)
    row_of[ids] = np.arange(num)
    f, s = np.nonzero(tracker.owner)
    rows = row_of[tracker.owner[f, s]]
    f, s, rows = f[rows >= 0], s[rows >= 0], rows[rows >= 0]
    points = np.full((num, frames_total, joints, 2), np.nan, dtype=np.float32)
    confidence = np.zeros((num, frames_total, joints), dtype=np.float32)
    slot = np.full((num, frames_total), -1, dtype=np.int64)
    points[rows, f], slot[rows, f] = masked[f, s], s
    confidence[rows, f] = np.where(np.isnan(masked[f, s, :, 0]), 0.0, conf[f, s])
    rank = {kind: i for i, kind in enumerate(EVENT_KINDS)}
    events = sorted(tracker.events, key=lambda e: (e.frame, rank[e.kind], e.track_id))
    return Tracks(ids, points, confidence, slot, events)


def track_people(points: np.ndarray, confidence: np.ndarray, *, config: TrackerConfig = TrackerConfig(),
                 mirror: Sequence[int] | None = None) -> Tracks:
    """Link unordered detections ``points [T, S, J, 2]`` (px, NaN missing) with
    ``confidence [T, S, J]`` (0 missing) into people with stable ids (1, 2, ... in order
    of first appearance, never reused; dropped short tracks leave gaps in ``ids``).

    ``mirror`` is an optional left/right permutation of the J joints, so that a detector's
    label swap does not break an identity. Returns :class:`Tracks` (P = 0 when nothing is
    detected). Raises :class:`PoseliftError` for bad shapes or values.
    """
    pts, conf = _check_inputs(points, confidence)
    perm = _check_mirror(mirror, pts.shape[2])
    if config.min_joints > pts.shape[2]:
        raise PoseliftError(f"`TrackerConfig.min_joints={config.min_joints}` exceeds the {pts.shape[2]} joints of `points`")
    seen = (conf > 0) & ~np.isnan(pts).any(axis=-1)
    masked = np.where(seen[..., None], pts, np.nan)
    is_detection = seen.sum(axis=-1) >= config.min_joints
    box = _boxes(masked)
    diag = np.where(is_detection, np.hypot(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]), 0.0)
    tracker = _Tracker(config, perm, pts.shape)
    for frame in range(pts.shape[0]):
        slots = np.flatnonzero(is_detection[frame])
        tracker.step(frame, slots, masked[frame, slots], diag[frame, slots])
    tracker.close()
    return stitch_tracks(_assemble(tracker, masked, conf), config, perm)
