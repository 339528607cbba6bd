"""Left/right label-swap correction in 2D (poselift.geometry.swaps), on a synthetic walking figure."""

from __future__ import annotations

import time

import numpy as np
import pytest

from poselift.data.synthetic import look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import BLAZEPOSE_33, COCO_17, H36M_17, MPII_16
from poselift.geometry.swaps import SwapGroup, apply_swaps, correct_swaps, swap_groups

ARMS, LEGS = 0, 1
VIEWS = {"front": 0.0, "oblique": 0.8, "back": 3.0, "three-quarter back": -2.3}


def walking(num_frames: int = 600, azimuth: float = 0.0, noise_px: float = 2.0, seed: int = 3) -> np.ndarray:
    """A walking figure's H36M-17 2D (pixels, ~1000 px image) seen from ``azimuth``, with jitter."""
    seq = synthetic_sequence(num_frames, seed=seed, camera=look_at_camera(distance=5.0, azimuth=azimuth))
    rng = np.random.default_rng(seed)
    return seq.keypoints_2d.astype(np.float64) + rng.normal(0.0, noise_px, seq.keypoints_2d.shape)


def episodes(num_frames: int) -> np.ndarray:
    """Injected swaps [T, 2] (arms, legs): whole-body mirrors and single limb pairs, 5-40 frames."""
    truth = np.zeros((num_frames, 2), dtype=bool)
    truth[60:80] = True  # whole body mirrored, 20 frames
    truth[150:155, ARMS] = True  # arms only, 5 frames
    truth[230:270, LEGS] = True  # legs only, 40 frames
    truth[340:352] = True  # whole body, 12 frames
    truth[420:447, ARMS] = True  # arms, 27 frames
    truth[500:508, LEGS] = True  # legs, 8 frames
    return truth


@pytest.mark.parametrize("view", list(VIEWS))
def test_injected_whole_body_and_single_pair_swaps_are_restored_exactly(view):
    clean = walking(azimuth=VIEWS[view])
    groups = swap_groups(H36M_17)
    truth = episodes(len(clean))
    result = correct_swaps(apply_swaps(clean, truth, groups), None, H36M_17)
    assert result.group_names == ("arms", "legs")
    np.testing.assert_array_equal(result.swapped, truth)
    np.testing.assert_array_equal(result.points, clean)
    assert result.frames_changed == {"arms": int(truth[:, ARMS].sum()), "legs": int(truth[:, LEGS].sum())}
    assert result.gain > 0
    assert ("legs", 230, 269) in result.runs() and ("arms", 60, 79) in result.runs()
    assert "legs 230–269" in result.describe(max_runs=20)


@pytest.mark.parametrize("view", list(VIEWS))
def test_a_clean_sequence_is_left_untouched(view):
    clean = walking(azimuth=VIEWS[view])
    conf = np.random.default_rng(0).uniform(0.3, 1.0, clean.shape[:2])
    result = correct_swaps(clean, conf, H36M_17)
    assert not result.any_changed and result.frames_changed == {"arms": 0, "legs": 0}
    np.testing.assert_array_equal(result.points, clean)
    np.testing.assert_array_equal(result.confidence, conf)
    assert result.gain == 0.0 and result.describe() == "no left/right swaps"


def test_the_input_arrays_are_not_changed_and_confidences_follow_their_joints():
    clean = walking()
    truth = episodes(len(clean))
    groups = swap_groups(H36M_17)
    bad = apply_swaps(clean, truth, groups)
    conf = np.tile(np.linspace(0.5, 1.0, 17), (len(clean), 1))
    bad_conf = apply_swaps(conf, truth, groups)
    before, before_conf = bad.copy(), bad_conf.copy()
    result = correct_swaps(bad, bad_conf, H36M_17)
    np.testing.assert_array_equal(bad, before)
    np.testing.assert_array_equal(bad_conf, before_conf)
    np.testing.assert_array_equal(result.confidence, conf)
    np.testing.assert_array_equal(result.points, clean)


def test_a_run_at_the_start_or_the_end_is_restored():
    clean = walking(400)
    truth = np.zeros((400, 2), dtype=bool)
    truth[:25] = True  # whole body from the first frame
    truth[370:, LEGS] = True  # legs up to the last frame
    result = correct_swaps(apply_swaps(clean, truth, swap_groups(H36M_17)), None, H36M_17)
    np.testing.assert_array_equal(result.swapped, truth)


def test_gaps_do_not_break_a_run():
    clean = walking()
    truth = episodes(len(clean))
    bad = apply_swaps(clean, truth, swap_groups(H36M_17))
    gone = np.zeros(len(clean), dtype=bool)
    gone[[0, 65, 66, 67, 80, 81, 229, 230, 231, 300, 301, 302, 303, 304, 599]] = True  # inside and at run ends
    bad[gone] = np.nan
    clean_nan = clean.copy()
    clean_nan[gone] = np.nan
    bad[100:110, 13] = np.nan  # one wrist missing for a while
    clean_nan[100:110, 13] = np.nan
    bad[425:430, [14, 15, 16]] = np.nan  # one arm missing inside an arms run (labels: the left arm's data)
    clean_nan[425:430, [11, 12, 13]] = np.nan
    result = correct_swaps(bad, None, H36M_17)
    np.testing.assert_array_equal(result.swapped, truth & ~gone[:, None])
    np.testing.assert_array_equal(result.points, clean_nan)


def test_missing_confidence_counts_as_missing_and_low_confidence_joints_do_not_matter():
    clean = walking()
    truth = episodes(len(clean))
    groups = swap_groups(H36M_17)
    bad = apply_swaps(clean, truth, groups)
    conf = np.ones(clean.shape[:2])
    conf[::7, 6] = 0.0  # an ankle now and then with confidence 0
    conf[::11, 16] = np.nan  # a wrist now and then: NaN = missing
    bad[::13, 3] += 80.0  # a far-off ankle with low confidence
    conf[::13, 3] = 0.05
    result = correct_swaps(bad, apply_swaps(conf, truth, groups), H36M_17)
    np.testing.assert_array_equal(result.swapped, truth)


def test_the_majority_labelling_wins_for_a_mirrored_body():
    """A DP cannot tell a labelling from its mirror: when most frames are mirrored, the
    minority is changed (the result is consistent, labelled like the majority)."""
    clean = walking(azimuth=VIEWS["oblique"])
    truth = np.zeros((600, 2), dtype=bool)
    truth[:400] = True
    groups = swap_groups(H36M_17)
    result = correct_swaps(apply_swaps(clean, truth, groups), None, H36M_17)
    np.testing.assert_array_equal(result.swapped, ~truth)
    np.testing.assert_array_equal(result.points, apply_swaps(clean, np.ones((600, 2), dtype=bool), groups))


def test_arms_exchanged_in_most_frames_are_put_back_by_the_shoulder_hip_agreement():
    clean = walking(azimuth=VIEWS["front"])
    truth = np.zeros((600, 2), dtype=bool)
    truth[100:500, ARMS] = True  # two thirds of the clip
    result = correct_swaps(apply_swaps(clean, truth, swap_groups(H36M_17)), None, H36M_17)
    np.testing.assert_array_equal(result.swapped, truth)
    off = correct_swaps(apply_swaps(clean, truth, swap_groups(H36M_17)), None, H36M_17, coupling=0.0)
    np.testing.assert_array_equal(off.swapped, ~truth & np.array([True, False]))  # the majority rule alone


def blazepose_from_h36m(kp: np.ndarray) -> np.ndarray:
    """BlazePose-33 landmarks placed around a H36M-17 figure (face around the head, hands
    beyond the wrists, heels/toes around the ankles)."""
    out = np.zeros((len(kp), 33, 2))
    side = kp[:, 11] - kp[:, 14]  # the figure's right-to-left direction in the image (its left shoulder minus right)
    side /= np.linalg.norm(side, axis=-1, keepdims=True) + 1e-9
    up = kp[:, 10] - kp[:, 9]
    pairs = {11: 11, 12: 14, 13: 12, 14: 15, 15: 13, 16: 16, 23: 4, 24: 1, 25: 5, 26: 2, 27: 6, 28: 3}
    for b, h in pairs.items():
        out[:, b] = kp[:, h]
    out[:, 0] = kp[:, 9]
    for b, (s, u) in {1: (4, 6), 2: (8, 6), 3: (12, 6), 4: (-4, 6), 5: (-8, 6), 6: (-12, 6), 7: (16, 0), 8: (-16, 0),
                      9: (5, -6), 10: (-5, -6)}.items():
        out[:, b] = kp[:, 9] + s * side + u * up / (np.linalg.norm(up, axis=-1, keepdims=True) + 1e-9)
    for wrist, elbow, fingers in ((15, 13, (17, 19, 21)), (16, 14, (18, 20, 22))):
        along = out[:, wrist] - out[:, elbow]
        for k, f in enumerate(fingers):
            out[:, f] = out[:, wrist] + (0.25 + 0.05 * k) * along
    for ankle, knee, (heel, toe) in ((27, 25, (29, 31)), (28, 26, (30, 32))):
        out[:, heel] = out[:, ankle] + 0.1 * (out[:, knee] - out[:, ankle]) + 5.0 * side
        out[:, toe] = out[:, ankle] + 0.15 * (out[:, ankle] - out[:, knee]) - 5.0 * side
    return out


def test_blazepose_groups_with_hands_feet_and_face():
    groups = {g.name: g for g in swap_groups(BLAZEPOSE_33, ["arms", "legs", "face"])}
    names = BLAZEPOSE_33.joint_names
    assert {names[j] for j in groups["arms"].left} == {"left_shoulder", "left_elbow", "left_wrist", "left_pinky", "left_index", "left_thumb"}
    assert {names[j] for j in groups["legs"].left} == {"left_hip", "left_knee", "left_ankle", "left_heel", "left_foot_index"}
    assert {names[j] for j in groups["face"].left} == {"left_eye_inner", "left_eye", "left_eye_outer", "left_ear", "mouth_left"}
    assert names[groups["arms"].left[groups["arms"].base]] == "left_shoulder"
    assert names[groups["legs"].left[groups["legs"].base]] == "left_hip"
    assert names[groups["face"].left[groups["face"].base]] == "left_ear"
    for g in groups.values():  # every pair is a left joint with its own right partner
        for l, r in zip(g.left, g.right):
            assert BLAZEPOSE_33.flip_permutation()[l] == r

    clean = blazepose_from_h36m(walking(azimuth=VIEWS["oblique"]))
    truth = np.zeros((600, 3), dtype=bool)
    truth[60:80] = True
    truth[230:270, 1] = True
    truth[420:447, 0] = True
    truth[150:160, 2] = True  # the face alone
    order = (groups["arms"], groups["legs"], groups["face"])
    result = correct_swaps(apply_swaps(clean, truth, order), None, BLAZEPOSE_33, groups=["arms", "legs", "face"])
    assert result.group_names == ("arms", "legs", "face")
    np.testing.assert_array_equal(result.swapped, truth)
    np.testing.assert_allclose(result.points, clean)


def test_groups_of_other_layouts_and_explicit_groups():
    assert [(g.name, g.left, g.right) for g in swap_groups(H36M_17)] == [("arms", (11, 12, 13), (14, 15, 16)), ("legs", (4, 5, 6), (1, 2, 3))]
    coco = {g.name: g for g in swap_groups(COCO_17, ["arms", "legs", "face"])}
    assert coco["arms"].left == (5, 7, 9) and coco["legs"].left == (11, 13, 15) and set(coco["face"].left) == {1, 3}
    mpii = {g.name: g for g in swap_groups(MPII_16)}
    assert set(mpii["arms"].left) == {13, 14, 15} and set(mpii["legs"].left) == {3, 4, 5}
    clean = walking()
    truth = np.zeros((600, 1), dtype=bool)
    truth[230:270] = True
    knees_ankles = {"lower legs": ((5, 6), (2, 3))}
    bad = apply_swaps(clean, truth, [SwapGroup("lower legs", (5, 6), (2, 3))])
    result = correct_swaps(bad, None, H36M_17, groups=knees_ankles)
    assert result.group_names == ("lower legs",)
    np.testing.assert_array_equal(result.swapped, truth)
    only_legs = correct_swaps(clean, None, H36M_17, groups=["legs"])
    assert only_legs.group_names == ("legs",) and only_legs.swapped.shape == (600, 1)


def test_short_and_empty_inputs():
    for t in (0, 1):
        result = correct_swaps(np.zeros((t, 17, 2)), None, H36M_17)
        assert result.swapped.shape == (t, 2) and not result.any_changed
    nothing = correct_swaps(np.full((20, 17, 2), np.nan), None, H36M_17)
    assert not nothing.any_changed and np.isnan(nothing.points).all()


@pytest.mark.parametrize(
    "points, confidence, kwargs, message",
    [
        (np.zeros((10, 16, 2)), None, {}, "points must be shaped"),
        (np.zeros((10, 17, 3)), None, {}, "points must be shaped"),
        (np.zeros((17, 2)), None, {}, "points must be shaped"),
        (np.full((10, 17, 2), np.inf), None, {}, "not infinite"),
        (np.zeros((10, 17, 2)), np.ones((10, 16)), {}, "confidence must be shaped"),
        (np.zeros((10, 17, 2)), np.full((10, 17), 1.5), {}, r"confidence must lie in \[0, 1\]"),
        (np.zeros((10, 17, 2)), np.full((10, 17), -0.1), {}, r"confidence must lie in \[0, 1\]"),
        (np.zeros((10, 17, 2)), np.full((10, 17), np.inf), {}, r"confidence must lie in \[0, 1\]"),
        (np.zeros((10, 17, 2)), None, {"switch_cost": -1.0}, "`switch_cost` must be a finite number >= 0"),
        (np.zeros((10, 17, 2)), None, {"prior": float("nan")}, "`prior` must be"),
        (np.zeros((10, 17, 2)), None, {"noise_factor": -0.5}, "`noise_factor` must be"),
        (np.zeros((10, 17, 2)), None, {"coupling": "a lot"}, "`coupling` must be"),
        (np.zeros((10, 17, 2)), None, {"max_gap": -1}, "`max_gap` must be a whole number"),
        (np.zeros((10, 17, 2)), None, {"max_gap": 2.5}, "`max_gap` must be a whole number"),
        (np.zeros((10, 17, 2)), None, {"groups": ["tail"]}, "unknown swap group"),
        (np.zeros((10, 17, 2)), None, {"groups": ["face"]}, "no left/right joints of swap group 'face'"),
        (np.zeros((10, 17, 2)), None, {"groups": ["arms", "arms"]}, "swap groups repeat"),
        (np.zeros((10, 17, 2)), None, {"groups": {"x": ((1, 2), (3,))}}, "same number"),
        (np.zeros((10, 17, 2)), None, {"groups": {"x": ((1,), (17,))}}, "out of range"),
        (np.zeros((10, 17, 2)), None, {"groups": {"x": ((1,), (4,)), "y": ((4,), (5,))}}, "two pairs or groups"),
        (np.zeros((10, 17, 2)), None, {"groups": 3}, "`groups` must be"),
    ],
)
def test_bad_input_is_a_poselift_error(points, confidence, kwargs, message):
    with pytest.raises(PoseliftError, match=message):
        correct_swaps(points, confidence, H36M_17, **kwargs)


def test_ten_thousand_frames_take_well_under_a_second():
    clean = np.concatenate([walking(2000, azimuth=a, seed=s) for s, a in enumerate([0.0, 0.8, 3.0, -2.3, 1.2])])
    truth = np.zeros((len(clean), 2), dtype=bool)
    for start in range(100, len(clean) - 100, 500):  # away from the seams between the five clips
        truth[start:start + 20, start // 500 % 2] = True
    bad = apply_swaps(clean, truth, swap_groups(H36M_17))
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        result = correct_swaps(bad, None, H36M_17)
        best = min(best, time.perf_counter() - t0)
    assert len(clean) == 10_000
    assert best < 1.0, f"{best:.2f} s for 10,000 frames"
    assert (result.swapped[truth]).all()
