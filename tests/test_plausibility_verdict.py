"""The plausibility verdict: "ok" or the frame ranges to check, with thresholds measured on
Human3.6M (docs/plausibility.md)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from poselift.data.datasets import downsample_sequences, load_h36m, normalized_keypoints
from poselift.data.synthetic import look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.evaluation import plausibility as Q
from poselift.geometry.skeleton import H36M_17
from poselift.pipeline.infer import run_infer

LEFT_LEG, RIGHT_LEG = [4, 5, 6], [1, 2, 3]
DOC = Path(__file__).resolve().parents[1] / "docs" / "plausibility.md"


def walking(num_frames: int = 200, azimuth: float = 0.0, seed: int = 3):
    """The synthetic walking figure (rigid bones; 50 frames/s): camera-frame 3D (m), its 2D (px)."""
    seq = synthetic_sequence(num_frames, seed=seed, camera=look_at_camera(distance=5.0, azimuth=azimuth))
    return seq.positions_3d.astype(np.float64), seq.keypoints_2d.astype(np.float64)


def kinds(v: Q.Verdict) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for issue in v.issues:
        out.setdefault(issue.kind, []).append((issue.start, issue.end))
    return out


@pytest.mark.parametrize("azimuth", [0.0, 0.8, 1.57])
@pytest.mark.parametrize("fps", [None, 25.0, 50.0])
def test_clean_motion_is_ok(azimuth, fps):
    joints, kp = walking(azimuth=azimuth)
    v = Q.verdict(joints, kp, H36M_17, fps)
    assert v.ok and v.issues == () and v.line() == "ok"
    assert Q.summarize(joints, kp, H36M_17, fps)["verdict"]["ok"] is True


def test_small_jitter_like_a_good_lifter_is_ok():
    # bones varying by a few per cent per frame (the model on studio data: median CV 0.04) pass
    joints, kp = walking()
    rng = np.random.default_rng(0)
    root = joints[:, :1]
    jittered = root + (joints - root) * (1 + rng.normal(scale=0.02, size=(len(joints), 17, 1)))
    assert Q.verdict(jittered, kp, H36M_17, 50.0).ok


def test_a_3d_left_right_swap_episode_is_named_with_its_frames():
    joints, kp = walking()
    wrong = joints.copy()
    frames = np.arange(120, 135)  # 15 frames = 0.3 s at 50 frames/s: above SWAP_MIN_S
    wrong[np.ix_(frames, LEFT_LEG + RIGHT_LEG)] = joints[np.ix_(frames, RIGHT_LEG + LEFT_LEG)]
    v = Q.verdict(wrong, kp, H36M_17, 50.0)
    assert not v.ok and kinds(v) == {"left_right_swap": [(120, 134)]}
    issue = v.issues[0]
    assert issue.value == 15 and issue.threshold == 10  # 0.2 s at 50 frames/s
    assert v.line() == "check frames 120–134 (a leg or arm on the other side than in the 2D); frames count from 0"


def test_swap_runs_shorter_than_the_studio_false_alarms_are_not_reported():
    joints, kp = walking()
    wrong = joints.copy()
    frames = np.arange(120, 126)  # 6 frames: 0.24 s at 25 frames/s, 0.12 s at 50 frames/s
    wrong[np.ix_(frames, LEFT_LEG + RIGHT_LEG)] = joints[np.ix_(frames, RIGHT_LEG + LEFT_LEG)]
    assert Q.left_right_swapped(wrong, kp, H36M_17)[frames].all()
    assert kinds(Q.verdict(wrong, kp, H36M_17, 25.0)) == {"left_right_swap": [(120, 125)]}
    assert Q.verdict(wrong, kp, H36M_17, 50.0).ok


def test_a_2d_label_switch_episode_is_named_and_merged_with_the_swap_it_causes():
    joints, kp = walking()
    swapped_2d = kp.copy()
    frames = np.arange(60, 75)  # the detector exchanges the legs' labels on frames 60-74
    swapped_2d[np.ix_(frames, LEFT_LEG + RIGHT_LEG)] = kp[np.ix_(frames, RIGHT_LEG + LEFT_LEG)]
    v = Q.verdict(joints, swapped_2d, H36M_17, 50.0)
    # switches at 60 (labels jump) and 75 (back), more than MERGE_GAP_S apart; the 3D, which
    # kept its legs, disagrees with the 2D on 60-74: one range to check, 60-75
    assert kinds(v) == {"label_switch": [(60, 60), (75, 75)], "left_right_swap": [(60, 74)]}
    assert v.ranges() == [(60, 75, ["the 2D's left/right labels switched", "a leg or arm on the other side than in the 2D"])]
    assert v.line().startswith("check frames 60–75 (the 2D's left/right labels switched; a leg or arm on the other side")
    close = kp.copy()
    close[np.ix_(frames[:5], LEFT_LEG + RIGHT_LEG)] = kp[np.ix_(frames[:5], RIGHT_LEG + LEFT_LEG)]
    v = Q.verdict(joints, close, H36M_17, 50.0)  # 0.1 s: the two switches are one range
    assert kinds(v) == {"label_switch": [(60, 65)]} and v.issues[0].value == 2


def test_a_bone_length_blow_up_is_named_with_its_frames():
    joints, kp = walking()
    blown = joints.copy()
    root = joints[:, :1]
    blown[80:95] = root[80:95] + 1.5 * (joints[80:95] - root[80:95])  # every bone 50 % longer on 80-94
    v = Q.verdict(blown, kp, H36M_17, 50.0)
    found = kinds(v)
    assert found["bone_length"] == [(80, 94)]  # the running median keeps a step's edges
    peak = next(i for i in v.issues if i.kind == "bone_length")
    assert peak.value == pytest.approx(0.5) and peak.threshold == Q.BONE_DEVIATION_LIMIT
    assert found["bone_length_cv"] == [(0, len(joints) - 1)]  # the whole-sequence CV (0.127) too
    assert "check frames 80–94 (bones up to 50% off their usual length, studio ≤ 17%)" in v.line()
    # 15 of 200 frames 1.5× longer: CV = 0.5 √(p (1 - p)) / (1 + 0.5 p) with p = 0.075
    assert "bone lengths vary 1.7× the studio limit over the whole sequence (std/mean 0.127 > 0.073)" in v.line()


def test_a_small_blow_up_below_the_studio_limit_is_ok():
    joints, kp = walking()
    scaled = joints.copy()
    root = joints[:, :1]
    scaled[80:95] = root[80:95] + 1.1 * (joints[80:95] - root[80:95])  # 10 %: within the studio range
    assert Q.verdict(scaled, kp, H36M_17, 50.0).ok


def test_frame_ranges_merge_close_runs():
    flags = np.zeros(30, dtype=bool)
    flags[[2, 3, 4, 8, 20]] = True
    assert Q.frame_ranges(flags) == [(2, 4), (8, 8), (20, 20)]
    assert Q.frame_ranges(flags, merge_gap=3) == [(2, 8), (20, 20)]
    assert Q.frame_ranges(np.zeros(0, dtype=bool)) == []


def test_line_lists_at_most_max_ranges():
    issues = tuple(Q.Issue("label_switch", 10 * k, 10 * k + 1, 1.0, 1.0) for k in range(5))
    v = Q.Verdict(False, issues, 60)
    assert v.line(max_ranges=2) == (
        "check frames 0–1 (the 2D's left/right labels switched), 10–11 (the 2D's left/right labels switched), "
        "and 3 more range(s); frames count from 0"
    )


def test_thresholds_are_the_documented_constants():
    text = DOC.read_text()
    for name in ("REFERENCE_FPS", "BONE_CV_LIMIT", "BONE_DEVIATION_LIMIT", "BONE_SMOOTH_S", "SWAP_MIN_S",
                 "LABEL_SWITCH_LIMIT", "MERGE_GAP_S"):
        match = re.search(rf"`{name}` \| `?([0-9.]+)", text)
        assert match, f"{name} is not in the constants table of {DOC.name}"
        assert float(match.group(1)) == getattr(Q, name), name
    joints, kp = walking(60)
    assert Q.verdict(joints, kp, H36M_17).thresholds == {
        "fps": 25.0, "bone_length_cv": Q.BONE_CV_LIMIT, "bone_length_deviation": Q.BONE_DEVIATION_LIMIT,
        "bone_length_smooth_frames": 5, "left_right_swap_min_frames": 5, "label_switches": 1, "merge_gap_frames": 6,
    }


def test_summary_holds_the_verdict_next_to_the_numbers_and_is_json():
    joints, kp = walking()
    summary = Q.summarize(joints, kp, H36M_17, 50.0)
    assert {"bone_length_cv", "bone_length_cv_median", "left_right_swapped_frames", "detector_label_switch_frames"} <= set(summary)
    verdict = json.loads(json.dumps(summary))["verdict"]
    assert verdict["ok"] is True and verdict["line"] == "ok" and verdict["issues"] == []
    assert "0-based" in verdict["frames"] and verdict["thresholds"]["fps"] == 50.0


def test_bad_arguments_are_errors_naming_them():
    joints, kp = walking(20)
    with pytest.raises(PoseliftError, match="`fps`"):
        Q.verdict(joints, kp, H36M_17, 0.0)
    with pytest.raises(PoseliftError, match="`swapped`"):
        Q.verdict(joints, kp, H36M_17, swapped=np.zeros(5, dtype=bool))
    with pytest.raises(PoseliftError, match="poses must be shaped"):
        Q.verdict(joints[:, :16], kp, H36M_17)


def test_nan_frames_and_tiny_inputs_do_not_break_the_verdict():
    joints, kp = walking(40)
    joints[10] = np.nan
    assert Q.verdict(joints, kp, H36M_17).ok
    assert np.isnan(Q.bone_length_deviation(joints, H36M_17)[10])
    for n in (0, 1, 2):
        assert Q.verdict(joints[11 : 11 + n], kp[11 : 11 + n], H36M_17).ok


def test_human36m_ground_truth_is_ok(h36m_dir):
    seqs = load_h36m(h36m_dir, ["S9"], keypoints="gt", actions=["Walking", "Sitting"], cameras=["54138969", "60457274"])
    for s in downsample_sequences(seqs, 2):
        v = Q.verdict(s.positions_3d - s.positions_3d[:, :1], normalized_keypoints(s), H36M_17, s.fps)
        assert v.ok, (s.key, v.line())


def test_infer_stores_the_verdict_and_logs_one_line(tmp_path, caplog):
    _, kp = walking(100)
    src = tmp_path / "walk.npz"
    np.savez(src, keypoints_2d=kp, fps=50.0, width=1000, height=1000, layout="h36m17")
    with caplog.at_level(logging.INFO, logger="poselift"):
        result = run_infer(src, tmp_path / "out", progress=False)
    verdict = result.plausibility["verdict"]
    assert set(verdict) == {"ok", "line", "frames", "issues", "thresholds"} and verdict["thresholds"]["fps"] == 50.0
    lines = [r for r in caplog.records if r.getMessage().startswith("plausibility:")]
    assert len(lines) == 1
    assert lines[0].levelno == (logging.INFO if verdict["ok"] else logging.WARNING)
    assert lines[0].getMessage().startswith(f"plausibility: {verdict['line']}")
    stored = json.loads((tmp_path / "out" / "poses.json").read_text())["metadata"]["plausibility"]
    assert stored["verdict"] == verdict and "bone_length_cv_median" in stored
    assert json.loads(json.dumps(result.to_dict()))["plausibility"] == stored  # what `--json` prints
