"""Multi-person tracking with stable identities (poselift.geometry.tracking)."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import get_skeleton
from poselift.geometry.tracking import TrackerConfig, Tracks, track_people

MIRROR = get_skeleton("coco17").flip_permutation()

# A COCO-17 stick figure facing the camera, in body heights (x right, y down, hips at 0).
_FIGURE = np.array([
    [0.0, -0.44], [0.03, -0.46], [-0.03, -0.46], [0.06, -0.44], [-0.06, -0.44],  # face
    [0.12, -0.30], [-0.12, -0.30], [0.16, -0.15], [-0.16, -0.15], [0.17, -0.02], [-0.17, -0.02],  # arms
    [0.08, 0.02], [-0.08, 0.02], [0.09, 0.25], [-0.09, 0.25], [0.09, 0.48], [-0.09, 0.48],  # legs
])
_SWING = np.zeros_like(_FIGURE)
_SWING[[9, 16], 0], _SWING[[10, 15], 0] = 0.06, -0.06  # wrists and ankles swing in opposition


def walker(num_frames: int, start, end, height: float = 200.0, present=None) -> np.ndarray:
    """``[T, 17, 2]`` px: a figure of ``height`` px walking from ``start`` to ``end`` (hip
    centre, px), NaN on the frames where ``present`` (bool ``[T]``) is False."""
    s = np.linspace(0.0, 1.0, num_frames)[:, None]
    centre = (1 - s) * np.asarray(start, float) + s * np.asarray(end, float)
    phase = np.sin(np.arange(num_frames) * 0.4)[:, None, None]
    pose = (_FIGURE[None] + phase * _SWING[None]) * height + centre[:, None, :]
    if present is not None:
        pose[~np.asarray(present)] = np.nan
    return pose


def frames_mask(num_frames: int, *ranges: tuple[int, int]) -> np.ndarray:
    """``[T]`` bool, True on the inclusive frame ``ranges``."""
    mask = np.zeros(num_frames, bool)
    for first, last in ranges:
        mask[first:last + 1] = True
    return mask


def scene(people: list[np.ndarray], seed: int = 0, noise_px: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like ``points [T, S, J, 2]`` and ``confidence [T, S, J]``: the people present
    in each frame put into randomly shuffled slots, with a little seeded pixel noise."""
    rng = np.random.default_rng(seed)
    stack = np.stack(people)  # [P, T, J, 2]
    present = ~np.isnan(stack).all(axis=(2, 3))  # [P, T]
    num_slots = max(int(present.sum(axis=0).max()), 1)
    points = np.full((stack.shape[1], num_slots) + stack.shape[2:], np.nan)
    for t in range(stack.shape[1]):
        who = np.flatnonzero(present[:, t])
        points[t, rng.permutation(num_slots)[: who.size]] = stack[who, t]
    points += rng.normal(0.0, noise_px, points.shape)
    confidence = np.where(np.isnan(points[..., 0]), 0.0, 0.9)
    return points, confidence


def assert_follows(tracks: Tracks, track_id: int, truth: np.ndarray, tol_px: float = 3.0) -> None:
    """The person ``track_id`` is ``truth [T, J, 2]`` on every frame (NaN where absent)."""
    points, _ = tracks.person(track_id)
    np.testing.assert_array_equal(np.isnan(points), np.isnan(truth))
    np.testing.assert_allclose(points, truth, atol=tol_px, equal_nan=True)


def id_of(tracks: Tracks, truth: np.ndarray) -> int:
    """The id of the person whose first detection is ``truth`` (``[T, J, 2]`` px) there
    (people first seen on the same frame get their ids in the shuffled slot order)."""
    first = int(np.flatnonzero(~np.isnan(truth).all(axis=(1, 2)))[0])
    error = np.abs(tracks.points[:, first] - truth[first]).mean(axis=(1, 2))  # px, NaN where absent
    assert np.nanmin(error) < 3.0
    return int(tracks.ids[np.nanargmin(error)])


def kinds(tracks: Tracks, kind: str, track_id: int | None = None) -> list:
    return [e for e in tracks.events if e.kind == kind and track_id in (None, e.track_id)]


def crossing_people(num_frames: int = 81, identical: bool = False, hidden=None) -> list[np.ndarray]:
    """Two people walking towards each other at 5 px/frame, crossing at frame 40 (the
    second one ``identical`` to the first, or a little smaller and lower; absent on the
    frames ``hidden`` (bool ``[T]``))."""
    dy, height = (0.0, 200.0) if identical else (8.0, 184.0)
    present = None if hidden is None else ~hidden
    return [walker(num_frames, (100, 300), (500, 300), 200.0),
            walker(num_frames, (500, 300 + dy), (100, 300 + dy), height, present=present)]


@pytest.mark.parametrize("identical, iou_weight, seed", [
    (False, 0.0, 1), (False, 0.5, 1), (True, 0.0, 2), (True, 0.0, 3), (True, 0.5, 4)])
def test_crossing_people_keep_their_ids_and_the_crossing_is_reported(identical, iou_weight, seed):
    people = crossing_people(identical=identical)
    points, confidence = scene(people, seed=seed, noise_px=1.0)
    tracks = track_people(points, confidence, config=TrackerConfig(iou_weight=iou_weight))
    assert tracks.ids.tolist() == [1, 2]
    first, second = id_of(tracks, people[0]), id_of(tracks, people[1])
    assert_follows(tracks, first, people[0], tol_px=6)
    assert_follows(tracks, second, people[1], tol_px=6)
    assert tracks.first_frame.tolist() == [0, 0] and tracks.last_frame.tolist() == [80, 80]
    assert not kinds(tracks, "gap") and not kinds(tracks, "dropped")
    # the rule guarantees: one `ambiguous` event per track and episode, naming the other
    for me, other in ((first, second), (second, first)):
        (event,) = kinds(tracks, "ambiguous", me)
        assert 30 <= event.frame <= 50 and f"track {other}" in event.detail


def test_crossing_while_one_hides_the_other_keeps_the_ids_and_is_reported():
    people = crossing_people(hidden=frames_mask(81, (36, 46)))
    tracks = track_people(*scene(people, seed=5))
    first, second = id_of(tracks, people[0]), id_of(tracks, people[1])
    assert tracks.ids.tolist() == [1, 2]
    assert_follows(tracks, first, people[0])
    assert_follows(tracks, second, people[1])
    (gap,) = kinds(tracks, "gap")
    assert (gap.frame, gap.track_id) == (47, second)
    assert {e.track_id for e in kinds(tracks, "ambiguous")} == {first, second}


def test_ambiguity_margin_zero_reports_nothing():
    tracks = track_people(*scene(crossing_people(), seed=1), config=TrackerConfig(ambiguity_margin=0.0))
    assert tracks.ids.tolist() == [1, 2] and not kinds(tracks, "ambiguous")


def test_far_apart_people_raise_no_ambiguity():
    people = [walker(60, (100, 300), (160, 300)), walker(60, (600, 300), (540, 300))]
    tracks = track_people(*scene(people, seed=2))
    assert tracks.ids.tolist() == [1, 2] and not kinds(tracks, "ambiguous")


def test_short_occlusion_keeps_the_id_with_a_gap_event():
    truth = walker(60, (100, 300), (220, 300), present=~frames_mask(60, (20, 29)))
    tracks = track_people(*scene([truth]))
    assert tracks.ids.tolist() == [1]
    assert_follows(tracks, 1, truth)
    (gap,) = kinds(tracks, "gap")
    assert (gap.frame, gap.track_id) == (30, 1) and "10 missing frames" in gap.detail
    assert tracks.detected_frames.tolist() == [50]


def test_absence_longer_than_max_gap_starts_a_new_id():
    truth = walker(100, (300, 300), (300, 300), present=~frames_mask(100, (20, 59)))
    tracks = track_people(*scene([truth]), config=TrackerConfig(max_gap_frames=25))
    assert tracks.ids.tolist() == [1, 2]
    assert [(e.frame, e.kind, e.track_id) for e in tracks.events] == [
        (0, "start", 1), (19, "end", 1), (60, "start", 2), (99, "end", 2)]
    assert "max_gap_frames=25" in tracks.events[1].detail


def test_absence_of_exactly_max_gap_frames_keeps_the_id():
    truth = walker(60, (300, 300), (300, 300), present=~frames_mask(60, (20, 29)))
    assert track_people(*scene([truth]), config=TrackerConfig(max_gap_frames=10)).ids.tolist() == [1]
    assert track_people(*scene([truth]), config=TrackerConfig(max_gap_frames=9)).ids.tolist() == [1, 2]


def test_leaving_and_reentering_near_the_same_place_keeps_the_id():
    out = walker(31, (400, 300), (550, 300))  # walks right, out of the picture
    back = walker(35, (560, 300), (420, 300))  # comes back from the right
    truth = np.concatenate([out, np.full((15, 17, 2), np.nan), back])  # absent 31-45
    tracks = track_people(*scene([truth], seed=3))
    assert tracks.ids.tolist() == [1]
    assert_follows(tracks, 1, truth)
    (gap,) = kinds(tracks, "gap")
    assert gap.frame == 46 and "15 missing frames" in gap.detail


def test_spurious_short_detection_is_dropped_and_logged(caplog):
    person = walker(60, (100, 300), (200, 300))
    ghost = walker(60, (600, 200), (600, 200), 120.0, present=frames_mask(60, (20, 22)))
    with caplog.at_level(logging.INFO, logger="poselift.tracking"):
        tracks = track_people(*scene([person, ghost]))
    assert tracks.ids.tolist() == [1]
    assert_follows(tracks, 1, person)
    (dropped,) = kinds(tracks, "dropped")
    assert (dropped.frame, dropped.track_id) == (22, 2) and "3 frames" in dropped.detail
    assert not [e for e in tracks.events if e.track_id == 2 and e.kind != "dropped"]
    (record,) = [r for r in caplog.records if r.name == "poselift.tracking"]
    assert "track 2" in record.getMessage() and "frames 20-22" in record.getMessage()
    assert "size" in record.getMessage()


def test_left_right_label_swap_with_mirror_keeps_the_id():
    truth = walker(60, (100, 300), (220, 300))
    swapped = truth.copy()
    swapped[30] = truth[30, MIRROR]
    points, confidence = scene([swapped])
    tight = TrackerConfig(gate=0.08, min_track_frames=1)
    tracks = track_people(points, confidence, config=tight, mirror=MIRROR)
    assert tracks.ids.tolist() == [1] and not kinds(tracks, "gap")
    assert_follows(tracks, 1, swapped)  # the output keeps the detector's labels
    # the same gate without `mirror` does break the identity: the test can tell
    assert track_people(points, confidence, config=tight).num_people > 1
    assert track_people(points, confidence, mirror=MIRROR).ids.tolist() == [1]


def test_three_people_with_empty_frames():
    empty = ~frames_mask(90, (40, 44))
    people = [
        walker(90, (100, 300), (160, 300), 200.0, present=empty),
        walker(90, (400, 320), (380, 320), 220.0, present=empty & ~frames_mask(90, (60, 65))),
        walker(90, (700, 280), (640, 280), 150.0, present=empty & ~frames_mask(90, (0, 9))),
    ]
    points, confidence = scene(people, seed=4)
    assert (confidence[40:45] == 0).all()
    tracks = track_people(points, confidence)
    assert tracks.ids.tolist() == [1, 2, 3]
    a, b, c = (id_of(tracks, truth) for truth in people)
    assert c == 3  # first seen last
    for track_id, truth in zip((a, b, c), people):
        assert_follows(tracks, track_id, truth)
    assert (tracks.slot[:, 40:45] == -1).all()
    assert np.isnan(tracks.points[:, 40:45]).all() and (tracks.confidence[:, 40:45] == 0).all()
    gaps = {(e.track_id, e.frame, e.detail) for e in kinds(tracks, "gap")}
    assert gaps == {(a, 45, "resumed after 5 missing frames"), (b, 45, "resumed after 5 missing frames"),
                    (b, 66, "resumed after 6 missing frames"), (c, 45, "resumed after 5 missing frames")}
    assert tracks.first_frame[tracks.ids == c].tolist() == [10]


def test_slot_records_the_matched_input_slot():
    people = crossing_people(41)
    points, confidence = scene(people, seed=5)
    tracks = track_people(points, confidence)
    for p in range(tracks.num_people):
        picked = points[np.arange(41), tracks.slot[p]].astype(np.float32)
        np.testing.assert_array_equal(picked, tracks.points[p])


def test_select_summary_and_person():
    big = walker(80, (150, 300), (150, 300), 300.0, present=frames_mask(80, (0, 49)))
    small = walker(80, (600, 300), (600, 300), 100.0)
    tracks = track_people(*scene([big, small]))
    big_id, small_id = id_of(tracks, big), id_of(tracks, small)
    assert tracks.select("largest") == big_id  # 300 px x 50 frames > 100 px x 80 frames
    assert tracks.select("longest") == small_id
    assert tracks.select(2) == 2 and tracks.select(np.int64(1)) == 1
    with pytest.raises(PoseliftError, match="available ids: 1, 2"):
        tracks.select(7)
    with pytest.raises(PoseliftError, match="'widest'"):
        tracks.select("widest")
    summary = {s["id"]: s for s in json.loads(json.dumps(tracks.summary()))}
    assert sorted(summary) == [1, 2]
    assert summary[big_id]["detected_frames"] == 50 and summary[big_id]["last_frame"] == 49
    assert summary[big_id]["first_frame"] == 0 and summary[small_id]["last_frame"] == 79
    assert summary[big_id]["mean_height_px"] == pytest.approx(0.94 * 300, abs=2)
    assert summary[small_id]["mean_confidence"] == pytest.approx(0.9)
    points, confidence = tracks.person(2)
    assert points.shape == (80, 17, 2) and confidence.shape == (80, 17)
    with pytest.raises(PoseliftError, match="no tracked person with id 3"):
        tracks.person(3)


def test_select_ties_go_to_the_lowest_id():
    people = [walker(30, (100, 300), (100, 300)), walker(30, (500, 300), (500, 300))]
    tracks = track_people(*scene(people, noise_px=0.0))
    assert tracks.select("longest") == 1 and tracks.select("largest") == 1


def test_no_detections_give_no_people():
    points = np.full((20, 2, 17, 2), np.nan)
    points[3, 0, :3] = 10.0  # 3 joints: fewer than min_joints, not a detection
    confidence = np.where(np.isnan(points[..., 0]), 0.0, 0.8)
    tracks = track_people(points, confidence)
    assert tracks.num_people == 0 and tracks.points.shape == (0, 20, 17, 2) and tracks.events == []
    assert tracks.summary() == []
    with pytest.raises(PoseliftError, match="no person"):
        tracks.select("largest")


def _valid(frames: int = 5) -> tuple[np.ndarray, np.ndarray]:
    return scene([walker(frames, (100, 100), (120, 100))])


@pytest.mark.parametrize("points, confidence, message", [
    (np.zeros((5, 1, 17)), np.zeros((5, 1, 17)), r"shaped \[T, S, J, 2\]"),
    (np.zeros((5, 1, 17, 3)), np.zeros((5, 1, 17)), r"shaped \[T, S, J, 2\]"),
    (np.zeros((5, 1, 17, 2)), np.zeros((5, 2, 17)), r"`confidence` must be shaped"),
    (np.zeros((0, 1, 17, 2)), np.zeros((0, 1, 17)), "at least one frame"),
    (np.zeros((5, 1, 17, 2)), np.full((5, 1, 17), 1.5), r"\[0, 1\].*1.5"),
    (np.zeros((5, 1, 17, 2)), np.full((5, 1, 17), np.nan), r"\[0, 1\]"),
    (np.full((5, 1, 17, 2), np.inf), np.ones((5, 1, 17)), "found inf at frame 0"),
    ([["a"]], [[0]], "numeric arrays"),
])
def test_bad_input_is_refused(points, confidence, message):
    with pytest.raises(PoseliftError, match=message):
        track_people(points, confidence)


@pytest.mark.parametrize("mirror", [[0, 1, 2], list(range(16)) + [15], [0.5] * 17])
def test_bad_mirror_is_refused(mirror):
    with pytest.raises(PoseliftError, match="`mirror` must be a permutation of the 17"):
        track_people(*_valid(), mirror=mirror)


@pytest.mark.parametrize("field, value", [
    ("max_gap_frames", -1), ("max_gap_frames", 2.5), ("min_track_frames", 0), ("min_joints", 0),
    ("min_joints", True), ("gate", 0.0), ("gate", float("inf")), ("ambiguity_margin", -0.1),
    ("iou_weight", float("nan")), ("gate", "1"),
])
def test_bad_config_is_refused(field, value):
    with pytest.raises(PoseliftError, match=f"`TrackerConfig.{field}`"):
        TrackerConfig(**{field: value})


def test_min_joints_above_the_joint_count_is_refused():
    with pytest.raises(PoseliftError, match="`TrackerConfig.min_joints=18` exceeds the 17 joints"):
        track_people(*_valid(), config=TrackerConfig(min_joints=18))


def test_ten_thousand_frames_of_three_people_are_fast():
    frames, joints = 10_000, 33
    rng = np.random.default_rng(6)
    shape = rng.uniform(-0.25, 0.25, (joints, 2)) * 200.0
    t = np.arange(frames)[:, None]
    centres = [np.hstack([300 + 100 * np.sin(t / 200 + k), 300 + 150 * k + 0 * t]) for k in range(3)]
    points = np.stack([c[:, None, :] + shape for c in centres], axis=1)  # [T, 3, J, 2]
    points = np.take_along_axis(points, rng.permuted(np.tile(np.arange(3), (frames, 1)), axis=1)[..., None, None], 1)
    confidence = np.full(points.shape[:3], 0.9)
    start = time.process_time()  # CPU seconds: the test machine's cores are shared
    tracks = track_people(points, confidence)
    elapsed = time.process_time() - start
    assert tracks.ids.tolist() == [1, 2, 3] and tracks.detected_frames.tolist() == [frames] * 3
    assert np.ptp(tracks.points[..., 1].mean(axis=2), axis=1).max() < 1e-3  # each id stays on its row
    assert elapsed < 5.0, f"{elapsed:.2f} s"
