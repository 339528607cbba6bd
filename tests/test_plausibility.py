"""Ground-truth-free checks of a prediction: bone-length variation and left/right consistency."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synthetic import look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.evaluation import plausibility as Q
from poselift.geometry.skeleton import H36M_17

LEFT_LEG, RIGHT_LEG = [4, 5, 6], [1, 2, 3]


def front_view(num_frames: int = 120):
    """A walking figure seen from the front: camera-frame 3D (m) and its 2D (px)."""
    seq = synthetic_sequence(num_frames, seed=3, camera=look_at_camera(distance=5.0, azimuth=0.0))
    return seq.positions_3d.astype(np.float64), seq.keypoints_2d.astype(np.float64)


def test_bone_length_cv_is_zero_for_rigid_bones_and_scales_with_jitter():
    joints, _ = front_view()
    cv = Q.bone_length_cv(joints, H36M_17)
    assert len(cv) == 16 and "RHip-RKnee" in cv and max(cv.values()) < 1e-5  # the figure's bones are rigid
    stretched = joints.copy()
    stretched[1::2] *= 1.2  # every other frame 20 % larger: CV = 0.1 / 1.1 for every bone
    for v in Q.bone_length_cv(stretched, H36M_17).values():
        assert v == pytest.approx(0.1 / 1.1, rel=1e-4)


def test_no_swaps_on_the_pose_that_made_the_2d():
    joints, kp = front_view()
    assert not Q.left_right_swapped(joints, kp, H36M_17).any()
    summary = Q.summarize(joints, kp, H36M_17)
    assert summary["left_right_swapped_frames"] == [] and summary["bone_length_cv_max"] < 1e-4


def test_exchanged_legs_are_flagged_only_where_they_were_exchanged():
    joints, kp = front_view()
    wrong = joints.copy()
    frames = np.arange(40, 50)
    wrong[np.ix_(frames, LEFT_LEG + RIGHT_LEG)] = joints[np.ix_(frames, RIGHT_LEG + LEFT_LEG)]
    assert np.flatnonzero(Q.left_right_swapped(wrong, kp, H36M_17)).tolist() == frames.tolist()


def test_limbs_that_overlap_in_2d_are_not_flagged():
    # legs one behind the other (only depth apart) project almost onto each other:
    # no evidence either way, so exchanging them must not be flagged
    joints, _ = front_view()
    joints[:, LEFT_LEG] = joints[:, RIGHT_LEG] + np.array([0.0, 0.0, 0.25])
    kp = joints[..., :2] / joints[..., 2:] * 1000.0 + 500.0
    wrong = joints.copy()
    wrong[:, LEFT_LEG + RIGHT_LEG] = joints[:, RIGHT_LEG + LEFT_LEG]
    assert not Q.left_right_swapped(wrong, kp, H36M_17).any()
    assert Q.left_right_swapped(wrong, kp, H36M_17).shape == (len(joints),)


def test_nan_frames_are_not_flagged_and_shapes_are_checked():
    joints, kp = front_view(20)
    joints[3] = np.nan
    assert not Q.left_right_swapped(joints, kp, H36M_17)[3]
    with pytest.raises(PoseliftError, match="poses must be shaped"):
        Q.bone_length_cv(joints[:, :16], H36M_17)
    with pytest.raises(PoseliftError, match="do not match"):
        Q.left_right_swapped(joints, kp[:10], H36M_17)


def test_detector_label_switches_mark_where_the_2d_labels_jump():
    joints, kp = front_view()
    assert not Q.detector_label_switches(kp, H36M_17).any()  # clean walking: no switch
    rng = np.random.default_rng(0)
    height = np.ptp(kp[..., 1], axis=1).mean()
    jittered = kp + rng.normal(scale=0.01 * height, size=kp.shape)  # detector jitter is not a switch
    assert not Q.detector_label_switches(jittered, H36M_17).any()
    swapped = kp.copy()
    frames = np.arange(40, 50)  # the detector exchanges the legs' labels on frames 40-49
    swapped[np.ix_(frames, LEFT_LEG + RIGHT_LEG)] = kp[np.ix_(frames, RIGHT_LEG + LEFT_LEG)]
    assert np.flatnonzero(Q.detector_label_switches(swapped, H36M_17)).tolist() == [40, 50]
    # the 3D that made the clean 2D keeps its legs: exactly the swapped stretch is flagged
    summary = Q.summarize(joints, swapped, H36M_17)
    assert summary["detector_label_switch_frames"] == [40, 50]
    assert summary["left_right_swapped_frames"] == frames.tolist()


@pytest.mark.parametrize("azimuth", [0.8, 1.57])
def test_no_detector_label_switch_when_limbs_cross_in_oblique_and_side_views(azimuth):
    seq = synthetic_sequence(200, seed=1, camera=look_at_camera(distance=5.0, azimuth=azimuth))
    assert not Q.detector_label_switches(seq.keypoints_2d, H36M_17).any()


def test_detector_label_switches_handle_nan_short_input_and_bad_shapes():
    _, kp = front_view(20)
    kp[5] = np.nan
    assert not Q.detector_label_switches(kp, H36M_17)[5:7].any()
    assert Q.detector_label_switches(kp[:1], H36M_17).tolist() == [False]
    with pytest.raises(PoseliftError, match="keypoints must be shaped"):
        Q.detector_label_switches(kp[..., :1], H36M_17)
