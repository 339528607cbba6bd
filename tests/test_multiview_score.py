"""``poselift score-multiview``: a multi-view 3D reference read and checked, each actor
associated with a tracked person per frame (nearest 2D, left/right mirror allowed,
within 0.2 of the actor's height), poselift's and the detector's 3D scored on the same
frames, the command's table and JSON, and every bad input as one line (exit 2).

Everything runs on a synthetic reference and fake infer outputs (``reuse``), except one
slow test on ../shared/data/multiview."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_ROOT
from helpers import assert_one_line_error, random_rotation
from helpers import run_cli as run

from poselift.cli.main import main
from poselift.errors import PoseliftError
from poselift.evaluation.metrics import limb_agreement
from poselift.evaluation.multiview import (
    MIRROR,
    TrackedPerson,
    associate,
    body_distance,
    project_points,
    reference_2d,
    score_actor,
)
from poselift.geometry.skeleton import LIMB12
from poselift.io.reference import load_multiview_reference
from poselift.tools import multiview as tools_multiview
from poselift.tools.multiview import load_tracked_people, score_multiview

F = 8  # reference rows
OFFSET = 3  # camera 1's row k is video frame k + OFFSET
NAMES = ("man", "woman")
H36M = np.asarray(LIMB12["h36m17"])
BLAZE = np.asarray(LIMB12["blazepose33"])
K = np.array([[1000.0, 0.0, 540.0], [0.0, 1000.0, 960.0], [0.0, 0.0, 1.0]])
#: world (z up) → OpenCV camera (x right, y down, z forward): the camera looks along +y
R_FRONT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def figure(rng: np.random.Generator, x: float) -> np.ndarray:
    """``[F, 33, 3]`` metres: 33 random landmarks in a 0.5 × 0.3 × 1.7 m box standing at
    (x, 0), drifting a little from row to row."""
    base = rng.uniform([-0.25, -0.15, 0.0], [0.25, 0.15, 1.7], size=(33, 3)) + [x, 0.0, 0.0]
    return base[None] + 0.01 * rng.standard_normal((F, 33, 3)).cumsum(axis=0)


def camera(center) -> tuple[np.ndarray, np.ndarray]:
    return R_FRONT, -R_FRONT @ np.asarray(center, dtype=np.float64)


def reference_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Two actors 1.2 m apart; camera 1 with its own 2D detections (the projection, a few
    px of noise, a visibility column) and a calibration, camera 2 with a calibration only."""
    rng = np.random.default_rng(seed)
    points = np.stack([figure(rng, -0.6), figure(rng, 0.6)])
    points[0, 2, 25] = np.nan  # an unreliable reference point: the man's row 2 is not scored
    arrays = {"points3d": points, "person_names": np.asarray(NAMES), "fps": np.float64(60.0)}
    for i, center in ((1, (0.0, -5.0, 1.0)), (2, (0.5, -6.0, 1.2))):
        R, t = camera(center)
        arrays.update({f"K_cam{i}": K, f"R_cam{i}": R, f"t_cam{i}": t, f"dist_cam{i}": np.zeros(4)})
    kp = project_points(np.nan_to_num(points), K, arrays["R_cam1"], arrays["t_cam1"]) + rng.normal(0, 2.0, (2, F, 33, 2))
    arrays["kp2d_cam1"] = np.concatenate([kp, np.ones((2, F, 33, 1))], axis=-1)
    arrays["kp2d_cam1"][1, 5] = np.nan  # the woman has no detection in row 5
    arrays["frame_index_cam1"] = np.arange(F, dtype=np.int64) + OFFSET
    return arrays


def write_reference(folder: Path, arrays: dict[str, np.ndarray] | None = None, videos=(1, 2)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "multiperson.npz", **(reference_arrays() if arrays is None else arrays))
    for i in videos:
        (folder / f"cam{i:02d}.mp4").write_bytes(b"not a real video")
    return folder


def similar(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``points`` ``[..., J, 3]`` moved by a random similarity transform per frame (what
    P-MPJPE and the joint angles do not see)."""
    out = np.empty_like(points)
    for f in range(points.shape[0]):
        out[f] = 0.7 * points[f] @ random_rotation(rng).T + rng.normal(0, 1, 3)
    return out


def person_from(points: np.ndarray, ref2d: np.ndarray, track_id: int, frames: np.ndarray, rng: np.random.Generator,
                world: np.ndarray | None = None) -> TrackedPerson:
    """A tracked person whose 2D is ``ref2d`` and whose 3D (poselift's H36M-17 limbs; the
    detector's BlazePose-33) is ``points`` up to a similarity transform, in video ``frames``."""
    joints = rng.normal(0, 1, (len(frames), 17, 3))
    joints[:, H36M] = similar(points[:, BLAZE], rng)
    return TrackedPerson(track_id=track_id, frame_index=np.asarray(frames, dtype=np.int64),
                         keypoints_2d=np.asarray(ref2d, dtype=np.float32), joints_3d=joints,
                         world_3d=similar(points, rng) if world is None else world)


def write_infer_output(folder: Path, people: list[TrackedPerson]) -> None:
    """What ``run_infer(..., person="all")`` leaves for scoring: people.json and person_<id>/poses.npz."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for p in people:
        sub = folder / f"person_{p.track_id}"
        sub.mkdir()
        np.savez(sub / "poses.npz", frame_index=p.frame_index, joints_3d=p.joints_3d.astype(np.float32),
                 detector_keypoints_2d=p.keypoints_2d.astype(np.float32),
                 detector_world_3d=p.world_3d.astype(np.float32), detector_layout="blazepose33")
        tracks.append({"track_id": p.track_id, "first_frame": int(p.frame_index[0]), "last_frame": int(p.frame_index[-1]),
                       "detected_frames": len(p.frame_index), "written": True, "folder": sub.name})
    (folder / "people.json").write_text(json.dumps({"people": tracks, "events": []}))


def fake_outputs(out: Path, arrays: dict[str, np.ndarray], seed: int = 1) -> None:
    """Both actors tracked in camera 1 (man = track 7, woman = track 9, listed woman first)
    and camera 2 (from the projection; man = track 1, woman = track 2)."""
    rng = np.random.default_rng(seed)
    points = np.nan_to_num(arrays["points3d"])
    kp1 = np.nan_to_num(arrays["kp2d_cam1"][..., :2], nan=0.0)
    video1 = arrays["frame_index_cam1"]
    write_infer_output(out / "cam01", [person_from(points[1], kp1[1], 9, video1, rng),
                                       person_from(points[0], kp1[0], 7, video1, rng)])
    kp2 = project_points(points, K, arrays["R_cam2"], arrays["t_cam2"])
    write_infer_output(out / "cam02", [person_from(points[p], kp2[p], p + 1, np.arange(F), rng) for p in (0, 1)])






# ------------------------------------------------------------------ the reference file


def test_reference_is_read_with_cameras_and_frame_indices(tmp_path):
    ref = load_multiview_reference(write_reference(tmp_path / "ref"))
    assert ref.names == NAMES and ref.points3d.shape == (2, F, 33, 3) and ref.fps == 60.0
    assert sorted(ref.cameras) == [1, 2] and ref.folder == tmp_path / "ref"
    one, two = ref.cameras[1], ref.cameras[2]
    assert one.keypoints_2d.shape == (2, F, 33, 2) and one.calibrated and one.name == "cam01"
    assert (one.frame_index == np.arange(F) + OFFSET).all() and (two.frame_index == np.arange(F)).all()
    assert two.keypoints_2d is None and two.calibrated
    assert ref.video(2) == tmp_path / "ref" / "cam02.mp4"
    # camera 1: its own detections; camera 2: the reference projected (OpenCV, x_cam = R X + t)
    assert np.array_equal(reference_2d(ref, 1), one.keypoints_2d, equal_nan=True)
    cam = ref.points3d @ two.R.T + two.t
    assert np.allclose(reference_2d(ref, 2), cam[..., :2] / cam[..., 2:] * 1000.0 + [540.0, 960.0], equal_nan=True)
    # a file path works as well as its folder
    assert load_multiview_reference(tmp_path / "ref" / "multiperson.npz").names == NAMES


def test_projection_follows_opencv_distortion():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(3)
    points = rng.uniform([-1, -1, 3], [1, 1, 6], (20, 3))
    R, t = cv2.Rodrigues(np.array([0.1, -0.05, 0.02]))[0], np.array([0.1, -0.2, 0.3])
    dist = np.array([-0.2, 0.05, 0.001, -0.002])
    expected, _ = cv2.projectPoints(points, cv2.Rodrigues(R)[0], t, K, dist)
    assert np.allclose(project_points(points, K, R, t, dist), expected[:, 0], atol=1e-6)
    assert np.isnan(project_points(np.array([0.0, 0.0, -1.0]), K, np.eye(3), np.zeros(3))).all()  # behind the camera


@pytest.mark.parametrize(
    "change, needles",
    [
        (lambda a: a.pop("points3d"), ["has no 'points3d'"]),
        (lambda a: a.update(points3d=np.zeros((2, F, 17, 3))), ["'points3d' must be [people, frames, 33, 3]", "[2, 8, 17, 3]"]),
        (lambda a: a.pop("person_names"), ["has no 'person_names'"]),
        (lambda a: a.update(person_names=np.asarray(["one"])), ["'person_names' must be 2 strings"]),
        (lambda a: a.update(kp2d_cam1=np.zeros((2, F, 17, 3))), ["'kp2d_cam1' must be [people, frames, 33, 2 or 3]"]),
        (lambda a: a.pop("R_cam2"), ["camera 2 has", "but no 'R_cam2'"]),
        (lambda a: a.update(K_cam2=np.eye(4)), ["'K_cam2' must be a camera matrix [3, 3]"]),
        (lambda a: a.update(frame_index_cam1=np.arange(3)), ["'frame_index_cam1' must be [8]"]),
        (lambda a: a.update(fps=np.float64(-1)), ["'fps' must be one positive number"]),
        (lambda a: [a.pop(k) for k in list(a) if "_cam" in k], ["has no camera", "'kp2d_cam{i}'", "'K_cam{i}'"]),
    ],
)
def test_bad_reference_files_are_one_error_naming_file_and_key(tmp_path, change, needles):
    arrays = reference_arrays()
    change(arrays)
    folder = write_reference(tmp_path / "ref", arrays)
    with pytest.raises(PoseliftError) as err:
        load_multiview_reference(folder)
    assert str(folder / "multiperson.npz") in str(err.value)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_missing_reference(tmp_path):
    with pytest.raises(PoseliftError, match="does not exist"):
        load_multiview_reference(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoseliftError, match="no reference multiperson.npz in"):
        load_multiview_reference(tmp_path / "empty")


# ------------------------------------------------------------------ association


def test_each_actor_is_the_nearest_tracked_person(tmp_path):
    arrays = reference_arrays()
    ref = load_multiview_reference(write_reference(tmp_path / "ref", arrays))
    fake_outputs(tmp_path / "out", arrays)
    people, tracks = load_tracked_people(tmp_path / "out" / "cam01")
    assert [p.track_id for p in people] == [9, 7] and [t["track_id"] for t in tracks] == [9, 7]
    ref2d = reference_2d(ref, 1)
    man = associate(ref2d[0], people, ref.cameras[1].frame_index)
    woman = associate(ref2d[1], people, ref.cameras[1].frame_index)
    assert (man.person == 1).all() and (man.row == np.arange(F)).all()  # track 7, row k = video frame k + 3
    assert (woman.person[np.arange(F) != 5] == 0).all() and woman.person[5] == -1  # no reference 2D in row 5
    assert not woman.with_reference[5] and woman.with_reference.sum() == F - 1
    # rows are matched to the tracks by video frame: without the offset, nothing lines up
    assert (associate(ref2d[0], people, np.arange(F) + 100).person == -1).all()


def test_association_is_left_right_invariant_and_gated_at_a_fifth_of_the_height():
    rng = np.random.default_rng(5)
    ref2d = rng.uniform([300, 400], [500, 1400], (F, 33, 2))  # 22 body landmarks in a ~1000 px tall box
    body_y = ref2d[:, 11:, 1]
    height = body_y.max(axis=1) - body_y.min(axis=1)
    joints = np.zeros((F, 17, 3))

    def person(track_id, points):
        return TrackedPerson(track_id, np.arange(F), points, joints)

    mirrored = person(1, ref2d[:, MIRROR])  # the actor with left and right exchanged
    assert np.allclose(body_distance(ref2d, mirrored.keypoints_2d), 0.0)
    assert (associate(ref2d, [mirrored]).person == 0).all()
    # within 0.2 × height (here 0.19) accepted, beyond (0.21) rejected
    shift = np.zeros((F, 33, 2))
    shift[..., 0] = height[:, None]
    near, far = person(2, ref2d + 0.19 * shift), person(3, ref2d + 0.21 * shift)
    assert np.allclose(body_distance(ref2d, near.keypoints_2d), 0.19 * height)
    assert (associate(ref2d, [far]).person == -1).all()
    assert (associate(ref2d, [far, near]).person == 1).all()  # the nearer of two
    assert (associate(ref2d, [near, far], gate=0.1).person == -1).all()
    # a track that misses a frame, and landmarks seen by only one side, are handled
    gap = person(4, np.where(np.arange(F)[:, None, None] == 2, np.nan, ref2d))
    found = associate(ref2d, [gap])
    assert found.person[2] == -1 and (np.delete(found.person, 2) == 0).all() and np.isinf(found.distance[2])
    short = TrackedPerson(5, np.arange(2, 5), ref2d[2:5], joints[2:5])
    assert list(associate(ref2d, [short]).person) == [-1, -1, 0, 0, 0, -1, -1, -1]
    assert (associate(ref2d, []).person == -1).all()


# ------------------------------------------------------------------ scores


def naive_scores(pred: np.ndarray, ref: np.ndarray) -> tuple[int, float, float]:
    """An independent per-frame implementation of the reference's recipe on [F, 12, 3]
    (Umeyama without reflection; the 8 angles elbow, knee, hip, shoulder)."""
    triplets = ((0, 2, 4), (1, 3, 5), (6, 8, 10), (7, 9, 11), (0, 6, 8), (1, 7, 9), (6, 0, 2), (7, 1, 3))
    errors, angles = [], []
    for p, r in zip(pred, ref):
        if not (np.isfinite(p).all() and np.isfinite(r).all()):
            continue
        p0, r0 = p - p.mean(0), r - r.mean(0)
        u, s, vt = np.linalg.svd(r0.T @ p0)
        d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        rot = u @ d @ vt
        aligned = (s * np.diag(d)).sum() / (p0**2).sum() * p0 @ rot.T + r.mean(0)
        errors.append(np.linalg.norm(aligned - r, axis=-1).mean() * 1000)

        def angle(x, a, b, c):
            u_, v_ = x[a] - x[b], x[c] - x[b]
            return np.degrees(np.arccos(np.clip(u_ @ v_ / np.linalg.norm(u_) / np.linalg.norm(v_), -1, 1)))

        angles.append(np.mean([abs(angle(p, *t) - angle(r, *t)) for t in triplets]))
    return len(errors), float(np.mean(errors)), float(np.mean(angles))


def test_a_similar_pose_scores_zero_and_a_known_change_its_error():
    rng = np.random.default_rng(11)
    points = figure(rng, 0.0)
    ref2d = rng.uniform(0, 1000, (F, 33, 2))
    exact = person_from(points, ref2d, 1, np.arange(F), rng)
    row = score_actor(points, ref2d, [exact])
    assert row["tracked_frames"] == row["reference_frames"] == F and row["track_ids"] == [1] and row["id_counts"] == {"1": F}
    assert row["px_mean"] == row["px_median"] == 0.0
    for scored in (row["poselift"], row["mediapipe_world"]):
        assert scored["frames"] == F and scored["pmpjpe_mm"] < 1e-6 and scored["angle_deg"] < 1e-4
    # the left wrist turned by 24° about the left elbow, in the arm's plane, opening the
    # elbow: that one angle of 8 changes by 24°, so the mean is 3°; P-MPJPE as computed
    # independently
    moved = points.copy()
    for f in range(F):
        s, e, w = moved[f, 11], moved[f, 13], moved[f, 15]
        axis = np.cross(s - e, w - e)
        axis /= -np.linalg.norm(axis)  # turning away from the shoulder: the angle grows
        theta = np.radians(24.0)
        v = w - e
        rotated = v * np.cos(theta) + np.cross(axis, v) * np.sin(theta) + axis * (axis @ v) * (1 - np.cos(theta))
        moved[f, 15] = e + rotated
    ref_angle = np.degrees(np.arccos(np.einsum("fj,fj->f", points[:, 11] - points[:, 13], points[:, 15] - points[:, 13])
                                     / np.linalg.norm(points[:, 11] - points[:, 13], axis=1)
                                     / np.linalg.norm(points[:, 15] - points[:, 13], axis=1)))
    assert (ref_angle < 150).all()  # still below 180° after opening by 24°
    bent = person_from(moved, ref2d, 1, np.arange(F), rng)
    row = score_actor(points, ref2d, [bent])
    assert row["poselift"]["angle_deg"] == pytest.approx(3.0, abs=1e-6)
    frames, pmpjpe, angle = naive_scores(moved[:, BLAZE], points[:, BLAZE])
    assert row["poselift"]["frames"] == frames == F and angle == pytest.approx(3.0, abs=1e-6)
    assert row["poselift"]["pmpjpe_mm"] == pytest.approx(pmpjpe, rel=1e-9) and pmpjpe > 5
    # limb_agreement, the library's recipe, rounds the same numbers to 0.01
    agreed = limb_agreement(bent.joints_3d[:, H36M], points[:, BLAZE])
    assert agreed["pmpjpe_mm"] == round(row["poselift"]["pmpjpe_mm"], 2)
    assert agreed["angle_diff_deg"] == round(row["poselift"]["angle_deg"], 2)


def test_the_detector_3d_is_scored_on_poselifts_frames():
    rng = np.random.default_rng(12)
    points = figure(rng, 0.0)
    points[1, 23] = np.nan  # not in the reference: no one scores row 1
    ref2d = rng.uniform(0, 1000, (F, 33, 2))
    person = person_from(points, ref2d, 4, np.arange(F), rng)
    person.joints_3d[3, 16] = np.nan  # poselift lacks a limb joint (H36M 16, the right wrist) in row 3 ...
    person.joints_3d[4, 0] = np.nan  # ... but not the pelvis (no limb joint) in row 4
    person.world_3d[5, 11] = np.nan  # the detector lacks a shoulder in row 5
    person.world_3d[6, 0] = np.nan  # ... and its nose (no limb joint) in row 6
    row = score_actor(points, ref2d, [person])
    assert row["poselift"]["frames"] == F - 2  # rows 1 and 3
    assert row["mediapipe_world"]["frames"] == F - 3  # rows 1, 3 (poselift's) and 5
    # a detector 3D that is finite everywhere is still not scored where poselift is not
    whole = TrackedPerson(4, person.frame_index, person.keypoints_2d, person.joints_3d, similar(points, rng))
    assert np.isfinite(whole.world_3d[3]).all()
    assert score_actor(points, ref2d, [whole])["mediapipe_world"]["frames"] == F - 2
    # nobody tracked: zero frames, no numbers
    none = score_actor(points, ref2d, [])
    assert none["tracked_frames"] == 0 and none["track_ids"] == [] and none["px_mean"] is None
    assert none["poselift"] == {"frames": 0, "pmpjpe_mm": None, "pmpjpe_mm_median": None, "angle_deg": None}


# ------------------------------------------------------------------ the command


def test_command_scores_every_view_and_actor_from_existing_outputs(tmp_path, capsys):
    arrays = reference_arrays()
    data = write_reference(tmp_path / "ref", arrays)
    fake_outputs(tmp_path / "out", arrays)
    rc, out, err = run(["score-multiview", data, "--out", tmp_path / "out", "--reuse"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("# machine: {") and "python" in lines[0]
    assert lines[1].startswith("| view | actor | tracked / ref frames | track ids (frames) |") and lines[2].startswith("| --- |")
    table = [line.split(" | ") for line in lines[3:]]
    assert [(r[0], r[1]) for r in table] == [("| cam01", "man"), ("| cam01", "woman"), ("| cam02", "man"), ("| cam02", "woman")]
    assert table[0][2] == "8 / 8" and table[0][3] == "7 (8)" and table[1][2] == "7 / 7" and table[1][3] == "9 (7)"
    assert table[2][3] == "1 (8)" and table[3][3] == "2 (8)"
    assert table[0][5] == "0.0 / 0.0 (7)" and table[0][6] == "0.0 / 0.0 (7)"  # man row 2 lacks a reference knee
    assert table[1][5] == "0.0 / 0.0 (7)" and table[0][7] == "– |"  # woman: row 5 untracked; reused: no infer time
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["views"] == ["cam01", "cam02"] and summary["reuse"] is True and len(summary["rows"]) == 4
    assert summary["tracks"]["cam01"][0]["track_id"] == 9 and "cpu" in summary["machine"]
    # --json: one object; --views picks cameras
    rc, out, err = run(["score-multiview", data, "--out", tmp_path / "out", "--reuse", "--json", "--views", "2"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert [(r["view"], r["actor"]) for r in doc["rows"]] == [("cam02", "man"), ("cam02", "woman")]
    row = doc["rows"][0]
    assert row["tracked_frames"] == row["reference_frames"] == F and row["id_counts"] == {"1": F}
    assert row["poselift"]["frames"] == row["mediapipe_world"]["frames"] == 7 and row["poselift"]["pmpjpe_mm"] < 1e-3
    assert row["px_mean"] < 1e-3 and row["infer_seconds"] is None
    assert doc["summary"] == str(tmp_path / "out" / "summary.json")


def test_command_runs_infer_per_view_with_the_pass_through_options(tmp_path, capsys, monkeypatch):
    arrays = reference_arrays()
    data = write_reference(tmp_path / "ref", arrays)
    fake_outputs(tmp_path / "made", arrays)
    calls = []

    def fake_run_infer(video, out_dir, checkpoint, **options):
        calls.append((Path(video).name, Path(out_dir).name, checkpoint, options))
        source = tmp_path / "made" / Path(out_dir).name
        for path in source.rglob("*"):
            target = Path(out_dir) / path.relative_to(source)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())

    monkeypatch.setattr(tools_multiview, "run_infer", fake_run_infer)
    rc, out, err = run(["score-multiview", data, "--out", tmp_path / "out", "--no-swap-fix", "--no-crops", "--adapt",
                        "--no-size-guard", "--no-progress"], capsys)
    assert rc == 0, err
    assert [c[:3] for c in calls] == [("cam01.mp4", "cam01", None), ("cam02.mp4", "cam02", None)]
    assert calls[0][3] == {"person": "all", "progress": False, "overwrite": True, "crops": False, "fix_swaps": False,
                           "adapt": True, "size_guard": False}
    assert out.count("| cam0") == 4 and "0.0 / 0.0 (7)" in out
    # the library: defaults pass nothing but the fixed arguments; options are checked before any work
    calls.clear()
    score = score_multiview(data, tmp_path / "lib", views=[2], progress=False)
    assert calls[0][3] == {"person": "all", "progress": False, "overwrite": True}
    assert [r["view"] for r in score.rows] == ["cam02", "cam02"] and isinstance(score.rows[0]["infer_seconds"], float)
    assert score.table.count("\n") == 3 and score.machine_line.startswith("# machine:")
    calls.clear()
    for options, needle in (({"person": 1}, "may not set 'person'"), ({"swap_fix": False}, "no argument of run_infer"),
                            ({"max_gap": -1}, "`max_gap` must be >= 0")):
        with pytest.raises(PoseliftError, match=needle):
            score_multiview(data, tmp_path / "lib", infer_options=options)
    assert calls == []


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    arrays = reference_arrays()
    data = write_reference(tmp_path / "ref", arrays, videos=(1,))
    out = tmp_path / "out"
    rc, _, err = run(["score-multiview", tmp_path / "missing", "--out", out], capsys)
    assert_one_line_error(rc, err, "missing", "does not exist")
    no_points = dict(arrays)
    no_points.pop("points3d")
    rc, _, err = run(["score-multiview", write_reference(tmp_path / "bad", no_points), "--out", out], capsys)
    assert_one_line_error(rc, err, "multiperson.npz", "'points3d'")
    rc, _, err = run(["score-multiview", data, "--out", out], capsys)  # camera 2 has no video
    assert_one_line_error(rc, err, "no video cam02.mp4 in", "view 2 (--views)")
    rc, _, err = run(["score-multiview", data, "--out", out, "--views", "1,5"], capsys)
    assert_one_line_error(rc, err, "--views names camera 5", "cameras: 1, 2")
    rc, _, err = run(["score-multiview", data, "--out", out, "--views", "1", "--reuse"], capsys)
    assert_one_line_error(rc, err, "cam01/people.json does not exist", "run without --reuse first")
    assert not out.exists()  # nothing was created by the failed runs
    (out / "cam01" / "person_1").mkdir(parents=True)
    (out / "cam01" / "people.json").write_text(json.dumps({"people": [{"track_id": 1, "folder": "person_1"}]}))
    rc, _, err = run(["score-multiview", data, "--out", out, "--views", "1", "--reuse"], capsys)
    assert_one_line_error(rc, err, "person_1/poses.npz does not exist")
    (out / "cam01" / "people.json").write_text("{not json")
    rc, _, err = run(["score-multiview", data, "--out", out, "--views", "1", "--reuse"], capsys)
    assert_one_line_error(rc, err, "is not a people.json written by run_infer")
    np.savez(out / "cam01" / "person_1" / "poses.npz", frame_index=np.arange(3))
    (out / "cam01" / "people.json").write_text(json.dumps({"people": [{"track_id": 1, "folder": "person_1"}]}))
    rc, _, err = run(["score-multiview", data, "--out", out, "--views", "1", "--reuse"], capsys)
    assert_one_line_error(rc, err, "has no 'joints_3d', 'detector_keypoints_2d'")
    with pytest.raises(SystemExit) as exc:  # a malformed --views is argparse's usage error
        main(["score-multiview", str(data), "--views", "one"])
    assert exc.value.code == 2 and "expected camera numbers" in capsys.readouterr().err


@pytest.mark.slow
def test_one_real_view_end_to_end(tmp_path, capsys):
    """cam04 of ../shared/data/multiview through infer and scoring (~30 s on 2 cores)."""
    data = DATA_ROOT / "multiview"
    if not (data / "multiperson.npz").is_file():
        pytest.skip(f"real data not available: {data / 'multiperson.npz'} is absent (set POSELIFT_DATA to the shared data folder)")
    rc, out, err = run(["score-multiview", data, "--out", tmp_path / "mv", "--views", "4", "--json"], capsys)
    assert rc == 0, err
    rows = json.loads(out)["rows"]
    assert [r["actor"] for r in rows] == ["man_blue_cap", "woman_grey_shirt"]
    for row in rows:
        assert row["tracked_frames"] >= 0.9 * row["reference_frames"] and len(row["track_ids"]) == 1
        assert row["poselift"]["frames"] >= 60 and row["poselift"]["frames"] == row["mediapipe_world"]["frames"]
        assert row["poselift"]["pmpjpe_mm"] < 100 and row["poselift"]["angle_deg"] < 20
    assert (tmp_path / "mv" / "summary.json").is_file() and (tmp_path / "mv" / "cam04" / "people.json").is_file()
