"""Put back left/right labels that a 2D detector exchanged for a run of frames.

Detectors sometimes give a person's left arm the right arm's label (and the other way
round) for a run of frames, or mirror the whole body. A lifter follows the labels it
is given, so its 3D puts the limb on the wrong side. :func:`correct_swaps` finds such
runs in a 2D sequence and exchanges the labels back.

Method
------
The joints are split into *groups* whose labels a detector exchanges together
(:func:`swap_groups`: arms = shoulder, elbow, wrist [+ hand landmarks]; legs = hip,
knee, ankle [+ foot landmarks]; optionally the face). Each frame has a swap state per
group (2^G states), found by a Viterbi dynamic programme that minimises

* **motion**: per left/right pair, the distance each joint moved since the frame
  before (the last frame it was seen, up to ``max_gap`` frames back, weight
  ``1/sqrt(age)``), with the labels of the two frames' states; weighted by the smaller
  of the two confidences, divided by the person's 2D size (the RMS distance of the
  joints from their centroid, a running median over time; swap-invariant, so the cost
  is scale-free), capped at ``cap`` per joint, averaged over the group's pairs;
* **switch**: per group whose state changes between two frames, ``switch_cost`` plus
  ``noise_factor`` × the local typical motion cost (a running median over ±15 frames of
  the cheaper hypothesis's cost): with jittery 2D, a jump proves less;
* **coupling** (two or more groups): within a frame the shoulders' left-to-right
  direction agrees with the hips' (and the ears' with the shoulders'); a state whose
  directions point against each other pays ``coupling`` × ``max(0, −dot) / size²``.
  It tells which of two groups was exchanged alone;
* **prior**: ``prior`` per frame and exchanged group (where the group is seen), which
  picks the *absolute* labelling: motion and switches cannot tell a labelling from its
  mirror, so among equally smooth answers the one that changes the fewest frames wins
  (the labels of the majority of frames are taken as right).

A run of exchanged frames between correct ones is therefore flipped back when the
jumps at its two ends cost more than two switches. The defaults were tuned on Human3.6M
(injected swaps with detector-like noise, and the Stacked-Hourglass detections' own
swaps) and the multi-view reference (``scripts/diag/swap_ab.py``). Frames where a group is not seen
carry its state (the next seen frame is compared with the last seen one), so gaps do
not break a run. Runs whose ends fall where the two sides overlap in the image (legs
crossing in a side view, a body turning through a profile view) give no motion evidence
and are left alone; a detector that flickers frame by frame between labellings is only
partly corrected. Costs are
vectorised over frames; the DP is ``T × 2^G × 2^G`` (10,000 frames in a few tens of
milliseconds for two groups).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import Skeleton

#: Base cost of one group changing its swap state between two frames, in units of the
#: per-pair motion cost (person-size-normalised distance, see the module docstring).
DEFAULT_SWITCH_COST = 0.2
#: Cost per frame of a group in the exchanged state (picks the majority labelling).
DEFAULT_PRIOR = 0.002
#: Weight of the shoulder/hip (ears/shoulders) direction agreement per frame.
DEFAULT_COUPLING = 0.2
#: Frames a joint may be unseen and still be compared with its last position.
DEFAULT_MAX_GAP = 25
#: Cap of one joint's normalised motion cost (outliers and long gaps).
DEFAULT_CAP = 1.0
#: The switch cost grows by this factor × the local typical motion cost (a running
#: median of the cheaper hypothesis's motion cost): with jittery 2D a jump proves less.
DEFAULT_NOISE_FACTOR = 1.0
#: Half-width (frames) of the running medians of the person's 2D size and of the motion cost.
SIZE_HALF_WINDOW = 15

#: Group names and the words of the joint names that belong to them (case-insensitive;
#: the leg words are tried first, so ``left_foot_index`` is a leg, not a hand).
GROUP_WORDS: dict[str, tuple[str, ...]] = {
    "legs": ("hip", "knee", "ankle", "foot", "heel", "toe"),
    "arms": ("shoulder", "elbow", "wrist", "hand", "thumb", "pinky", "index", "finger"),
    "face": ("eye", "ear", "mouth"),
}
#: Reported order of the groups.
GROUP_ORDER = ("arms", "legs", "face")
#: The pair whose left-to-right direction stands for the group in the coupling term.
BASE_WORDS = {"arms": "shoulder", "legs": "hip", "face": "ear"}
#: Which groups' directions are compared (coupling): the arms with the legs, the face with the arms.
COUPLED = (("arms", "legs"), ("face", "arms"))


@dataclass(frozen=True)
class SwapGroup:
    """Joints whose left/right labels a detector exchanges together: ``left[k]`` and
    ``right[k]`` are partners; ``base`` is the index (into ``left``/``right``) of the
    pair used for the coupling term."""

    name: str
    left: tuple[int, ...]
    right: tuple[int, ...]
    base: int = 0


@dataclass(frozen=True)
class SwapCorrection:
    """The result of :func:`correct_swaps`.

    ``points`` ``[T, J, 2]`` and ``confidence`` ``[T, J]``: the input with the labels put
    back; ``swapped`` ``[T, G]`` bool: group ``g`` (``group_names[g]``) was exchanged in
    frame ``t`` (only frames where the group was seen); ``groups``: the joints of each
    group; ``gain``: how much lower the DP cost of the answer is than that of the labels
    as given (0 when nothing changed; units of the motion cost)."""

    points: np.ndarray
    confidence: np.ndarray
    swapped: np.ndarray
    group_names: tuple[str, ...]
    groups: tuple[SwapGroup, ...]
    gain: float = 0.0

    @property
    def frames_changed(self) -> dict[str, int]:
        """Frames whose labels were exchanged back, per group (for logging)."""
        return {name: int(self.swapped[:, g].sum()) for g, name in enumerate(self.group_names)}

    @property
    def any_changed(self) -> bool:
        return bool(self.swapped.any())

    def runs(self) -> list[tuple[str, int, int]]:
        """``(group, first, last)`` of every run of exchanged frames (both ends included,
        0-based frames), by first frame."""
        out = []
        for g, name in enumerate(self.group_names):
            flags = self.swapped[:, g]
            idx = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
            out += [(name, int(a), int(b) - 1) for a, b in zip(idx[0::2], idx[1::2])]
        return sorted(out, key=lambda r: (r[1], GROUP_ORDER.index(r[0]) if r[0] in GROUP_ORDER else 99, r[0]))

    def describe(self, max_runs: int = 6) -> str:
        """One line for a log: ``"no left/right swaps"`` or the frames per group and the runs."""
        if not self.any_changed:
            return "no left/right swaps"
        counts = ", ".join(f"{n} {k}" for k, n in self.frames_changed.items() if n)
        runs = self.runs()
        shown = ", ".join(f"{g} {a}–{b}" if a != b else f"{g} {a}" for g, a, b in runs[:max_runs])
        more = f" and {len(runs) - max_runs} more" if len(runs) > max_runs else ""
        return f"left/right labels put back in {counts} frame(s): {shown}{more} (frames count from 0)"


def _depths(skeleton: Skeleton) -> list[int]:
    depth = []
    for j in range(skeleton.num_joints):
        d, p = 0, skeleton.parents[j]
        while p >= 0 and d <= skeleton.num_joints:
            d, p = d + 1, skeleton.parents[p]
        depth.append(d)
    return depth


def _classify(name: str) -> str | None:
    low = name.lower()
    for group in ("legs", "arms", "face"):
        if any(word in low for word in GROUP_WORDS[group]):
            return group
    return None


def swap_groups(skeleton: Skeleton, names: Sequence[str] | None = None) -> tuple[SwapGroup, ...]:
    """The swap groups of a joint layout, from its left/right pairs and joint names:
    ``arms`` (shoulder, elbow, wrist, hand landmarks), ``legs`` (hip, knee, ankle, foot
    landmarks) and ``face`` (eyes, ears, mouth). ``names``: the groups wanted (default:
    arms and legs, the ones that change a lifted pose); a group the layout has no pair
    for is an error when asked for by name."""
    wanted = ("arms", "legs") if names is None else tuple(names)
    unknown = [n for n in wanted if n not in GROUP_WORDS]
    if unknown:
        raise PoseliftError(f"unknown swap group(s) {unknown}; known: {', '.join(GROUP_ORDER)}")
    if len(set(wanted)) != len(wanted):
        raise PoseliftError(f"swap groups repeat: {list(wanted)}")
    pairs: dict[str, list[tuple[int, int]]] = {}
    for left, right in zip(skeleton.joints_left, skeleton.joints_right):
        group = _classify(skeleton.joint_names[left])
        if group is not None and _classify(skeleton.joint_names[right]) == group:
            pairs.setdefault(group, []).append((left, right))
    depth = _depths(skeleton)
    out = []
    for name in wanted:
        found = pairs.get(name, [])
        if not found:
            if names is None:
                continue
            raise PoseliftError(f"layout {skeleton.name} has no left/right joints of swap group {name!r}")
        preferred = [k for k, (l, _) in enumerate(found) if BASE_WORDS[name] in skeleton.joint_names[l].lower()]
        candidates = preferred or list(range(len(found)))
        base = min(candidates, key=lambda k: (depth[found[k][0]], k))
        out.append(SwapGroup(name, tuple(l for l, _ in found), tuple(r for _, r in found), base))
    if not out:
        raise PoseliftError(f"layout {skeleton.name} has no left/right arm or leg joints to correct")
    return tuple(out)


def _groups_from(groups, skeleton: Skeleton) -> tuple[SwapGroup, ...]:
    if groups is None or (isinstance(groups, Sequence) and not isinstance(groups, str) and all(isinstance(g, str) for g in groups)):
        return swap_groups(skeleton, groups)
    if isinstance(groups, str):
        return swap_groups(skeleton, [groups])
    if isinstance(groups, Mapping):
        out = []
        used: set[int] = set()
        for name, spec in groups.items():
            try:
                left, right = (tuple(int(i) for i in side) for side in spec)
            except (TypeError, ValueError):
                raise PoseliftError(f"swap group {name!r} must be (left indices, right indices), got {spec!r:.60}") from None
            if len(left) != len(right) or not left:
                raise PoseliftError(f"swap group {name!r}: left and right must list the same number (> 0) of joints")
            joints = left + right
            if min(joints) < 0 or max(joints) >= skeleton.num_joints:
                raise PoseliftError(f"swap group {name!r}: joint index out of range for {skeleton.num_joints} joints")
            if used & set(joints) or len(set(joints)) != len(joints):
                raise PoseliftError(f"swap group {name!r}: a joint belongs to two pairs or groups")
            used |= set(joints)
            out.append(SwapGroup(str(name), left, right, 0))
        if not out:
            raise PoseliftError("`groups` is empty")
        return tuple(out)
    raise PoseliftError(f"`groups` must be None, group names or a mapping name → (left, right), got {type(groups).__name__}")


def _check_inputs(points, confidence, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=np.float64)
    j = skeleton.num_joints
    if points.ndim != 3 or points.shape[1:] != (j, 2):
        raise PoseliftError(f"points must be shaped [frames, {j}, 2] ({skeleton.name}), got {list(points.shape)}")
    if np.isinf(points).any():
        raise PoseliftError("points must be finite pixels or NaN (missing), not infinite")
    if confidence is None:
        confidence = np.ones(points.shape[:2])
    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.shape != points.shape[:2]:
        raise PoseliftError(f"confidence must be shaped {list(points.shape[:2])}, got {list(confidence.shape)}")
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(confidence) & ((confidence < 0) | (confidence > 1)) | np.isinf(confidence)
    if bad.any():
        raise PoseliftError(f"confidence must lie in [0, 1] (NaN = missing); got values from {np.nanmin(confidence):.3g} to {np.nanmax(confidence):.3g}")
    return points, confidence


def _check_costs(**costs: float) -> None:
    for name, value in costs.items():
        if not (isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value) and value >= 0):
            raise PoseliftError(f"`{name}` must be a finite number >= 0, got {value!r:.40}")


def _running_median(x: np.ndarray, half: int) -> np.ndarray:
    """Running median over ``2·half + 1`` frames ``[T]``, NaN ignored (all-NaN windows → NaN)."""
    if len(x) < 2 or half <= 0:
        return x.copy()
    padded = np.pad(x, (half, half), mode="constant", constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        return np.nanmedian(sliding_window_view(padded, 2 * half + 1), axis=-1)


def _person_size(points: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per frame ``[T]``: RMS distance of the seen joints from their centroid (swap
    invariant), a running median over ``2·SIZE_HALF_WINDOW + 1`` frames; NaN where no
    frame nearby has two joints."""
    count = seen.sum(axis=1)
    p = np.where(seen[..., None], points, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = p.sum(axis=1) / count[:, None]
        spread = (np.where(seen, ((points - centroid[:, None]) ** 2).sum(-1), 0.0)).sum(axis=1) / count
        size = np.where((count >= 2) & (spread > 0), np.sqrt(spread), np.nan)
    return _running_median(size, SIZE_HALF_WINDOW)


def _previous(points: np.ndarray, weight: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """For each frame t >= 1 and joint: its last seen position before t and that
    observation's weight × ``1/sqrt(age)`` (0 when unseen for more than ``max_gap``
    frames). Shapes ``[T-1, J, 2]`` and ``[T-1, J]`` (row k is for frame k + 1)."""
    t = len(points)
    frames = np.arange(t)[:, None]
    last = np.where(weight > 0, frames, -1)
    last = np.maximum.accumulate(last, axis=0)[:-1]  # [T-1, J]: last seen at or before t-1
    age = np.arange(1, t)[:, None] - last
    ok = (last >= 0) & (age <= max_gap + 1)
    idx = np.maximum(last, 0)
    cols = np.arange(points.shape[1])[None, :]
    prev = points[idx, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(ok, weight[idx, cols] / np.sqrt(np.maximum(age, 1)), 0.0)
    return prev, w


def _motion(points, weight, prev, prev_w, size, group: SwapGroup, cap: float) -> np.ndarray:
    """``[T-1, 2]``: the group's motion cost from the frame before into frame t with
    the two frames' states equal (column 0) or different (column 1)."""
    left, right = list(group.left), list(group.right)
    cur_l, cur_r = points[1:, left], points[1:, right]
    pl, pr = prev[:, left], prev[:, right]
    wl, wr = weight[1:, left], weight[1:, right]
    pwl, pwr = prev_w[:, left], prev_w[:, right]
    scale = size[1:, None]

    def term(a, b, wa, wb):
        with np.errstate(invalid="ignore"):
            d = np.minimum(np.linalg.norm(a - b, axis=-1) / scale, cap)
        return np.nan_to_num(np.minimum(wa, wb) * d, nan=0.0).sum(axis=1)

    same = term(cur_l, pl, wl, pwl) + term(cur_r, pr, wr, pwr)
    cross = term(cur_l, pr, wl, pwr) + term(cur_r, pl, wr, pwl)
    return np.stack([same, cross], axis=1) / len(left)


def _direction_dot(points, weight, size, a: SwapGroup, b: SwapGroup) -> np.ndarray:
    """``[T]``: confidence-weighted dot product of group a's and b's base-pair
    left-to-right vectors, over size² (NaN → 0)."""
    da = points[:, a.left[a.base]] - points[:, a.right[a.base]]
    db = points[:, b.left[b.base]] - points[:, b.right[b.base]]
    w = np.minimum.reduce([weight[:, a.left[a.base]], weight[:, a.right[a.base]], weight[:, b.left[b.base]], weight[:, b.right[b.base]]])
    with np.errstate(invalid="ignore", divide="ignore"):
        dot = (da * db).sum(-1) / size**2
    return np.nan_to_num(w * dot, nan=0.0, posinf=0.0, neginf=0.0)


def _viterbi(unary: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Minimum-cost state path: ``unary [T, S]``, ``pair [T-1, S, S]`` (previous, current)."""
    t, s = unary.shape
    back = np.zeros((t, s), dtype=np.int64)
    cost = unary[0].copy()
    cols = np.arange(s)
    for k in range(1, t):
        total = cost[:, None] + pair[k - 1]
        best = total.argmin(axis=0)
        back[k] = best
        cost = total[best, cols] + unary[k]
    path = np.empty(t, dtype=np.int64)
    path[-1] = int(cost.argmin())
    for k in range(t - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def _path_cost(path: np.ndarray, unary: np.ndarray, pair: np.ndarray) -> float:
    k = np.arange(len(path))
    total = unary[k, path].sum()
    if len(path) > 1:
        total += pair[k[:-1], path[:-1], path[1:]].sum()
    return float(total)


def apply_swaps(points: np.ndarray, swapped: np.ndarray, groups: Sequence[SwapGroup]) -> np.ndarray:
    """Exchange each group's left and right joints in the frames where ``swapped[:, g]``;
    ``points`` ``[T, J, ...]`` (positions or confidences); returns a new array."""
    out = np.array(points, copy=True)
    for g, group in enumerate(groups):
        rows = np.flatnonzero(swapped[:, g])
        if len(rows):
            left, right = list(group.left), list(group.right)
            out[np.ix_(rows, left + right)] = np.asarray(points)[np.ix_(rows, right + left)]
    return out


def correct_swaps(
    points: np.ndarray,
    confidence: np.ndarray | None,
    skeleton: Skeleton,
    *,
    groups: Sequence[str] | Mapping[str, tuple[Sequence[int], Sequence[int]]] | None = None,
    switch_cost: float = DEFAULT_SWITCH_COST,
    prior: float = DEFAULT_PRIOR,
    coupling: float = DEFAULT_COUPLING,
    noise_factor: float = DEFAULT_NOISE_FACTOR,
    max_gap: int = DEFAULT_MAX_GAP,
    cap: float = DEFAULT_CAP,
) -> SwapCorrection:
    """Find and undo runs of frames whose left/right labels the detector exchanged.

    ``points``: ``[T, J, 2]`` pixels (or any 2D unit; NaN = missing) in ``skeleton``'s
    layout; ``confidence``: ``[T, J]`` in [0, 1] (NaN or 0 = missing; None = all 1).
    ``groups``: the swap groups (:func:`swap_groups` names, default arms and legs; or a
    mapping ``name → (left indices, right indices)``). ``switch_cost``, ``prior``,
    ``coupling``, ``noise_factor``, ``cap`` (dimensionless) and ``max_gap`` (frames): see
    the module docstring. Returns a :class:`SwapCorrection`; the input arrays are not changed.
    """
    points, conf = _check_inputs(points, confidence, skeleton)
    _check_costs(switch_cost=switch_cost, prior=prior, coupling=coupling, noise_factor=noise_factor, cap=cap)
    if not (isinstance(max_gap, (int, np.integer)) and not isinstance(max_gap, bool) and max_gap >= 0):
        raise PoseliftError(f"`max_gap` must be a whole number of frames >= 0, got {max_gap!r:.40}")
    group_list = _groups_from(groups, skeleton)
    names = tuple(g.name for g in group_list)
    t, ng = len(points), len(group_list)
    seen = np.isfinite(points).all(-1) & (np.nan_to_num(conf, nan=0.0) > 0)
    weight = np.where(seen, np.nan_to_num(conf, nan=0.0), 0.0)
    group_seen = np.stack([np.isfinite(points[:, list(g.left + g.right)]).all(-1).any(-1) for g in group_list], axis=1)
    nothing = np.zeros((t, ng), dtype=bool)
    if t < 2:
        return SwapCorrection(points.copy(), conf.copy(), nothing, names, group_list)
    size = _person_size(points, seen)
    if not np.isfinite(size).any():
        return SwapCorrection(points.copy(), conf.copy(), nothing, names, group_list)
    size = np.where(np.isfinite(size), size, np.nanmedian(size))

    states = 2**ng
    bits = (np.arange(states)[:, None] >> np.arange(ng)) & 1  # [S, G]
    xor = bits[:, None, :] ^ bits[None, :, :]  # [S, S, G]
    prev, prev_w = _previous(points, weight, max_gap)
    pair = np.zeros((t - 1, states, states))  # motion + switches, [previous, current] state
    for g, group in enumerate(group_list):
        m = _motion(points, weight, prev, prev_w, size, group, cap)  # [T-1, 2]
        typical = _running_median(np.where(m.max(axis=1) > 0, m.min(axis=1), np.nan), SIZE_HALF_WINDOW)
        switch = switch_cost + noise_factor * np.nan_to_num(typical, nan=0.0)  # [T-1]
        pair += m[:, xor[:, :, g]] + switch[:, None, None] * xor[None, :, :, g]
    unary = prior * (group_seen[:, None, :] * bits[None]).sum(-1).astype(np.float64)  # [T, S]
    if coupling > 0:
        index = {g.name: k for k, g in enumerate(group_list)}
        for a, b in COUPLED:
            if a in index and b in index:
                ga, gb = group_list[index[a]], group_list[index[b]]
                dot = _direction_dot(points, weight, size, ga, gb)  # [T]
                sign = 1 - 2 * (bits[:, index[a]] ^ bits[:, index[b]])  # [S]: +1 same state, −1 different
                unary += coupling * np.maximum(0.0, -dot[:, None] * sign[None, :])
    path = _viterbi(unary, pair)
    swapped = bits[path].astype(bool) & group_seen
    if not swapped.any():
        return SwapCorrection(points.copy(), conf.copy(), swapped, names, group_list)
    gain = _path_cost(np.zeros(t, dtype=np.int64), unary, pair) - _path_cost(path, unary, pair)
    return SwapCorrection(
        apply_swaps(points, swapped, group_list), apply_swaps(conf, swapped, group_list), swapped, names, group_list,
        float(gain),
    )
