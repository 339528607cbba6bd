"""Every person of a clip: multi-person keypoint files, tracking into people, one output
folder per person, ``--person`` to keep one, duplicates and split tracks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from poselift.cli.main import main
from poselift.errors import PoseliftError
from poselift.geometry.tracking import TrackerConfig, TrackEvent, Tracks, drop_duplicates, stitch_tracks
from poselift.io.keypoints import PeopleKeypoints2D, load_keypoints, load_people_keypoints
from poselift.pipeline.infer import run_infer
from test_pipeline import W, H, FPS, _save_lifter

T = 60
#: COCO-17 standing pose, 170 px tall, feet at y = 0, centred on x = 0.
POSE = np.array(
    [
        (0, -160), (5, -165), (-5, -165), (10, -162), (-10, -162),
        (20, -135), (-20, -135), (28, -105), (-28, -105), (32, -75), (-32, -75),
        (12, -75), (-12, -75), (15, -35), (-15, -35), (17, 0), (-17, 0),
    ],
    dtype=np.float32,
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def crossing_people(frames: int = T) -> np.ndarray:
    """``[T, 2, 17, 2]`` px: person A walks right, person B (smaller, further) walks left;
    they cross in the middle of the clip."""
    t = np.arange(frames, dtype=np.float32)
    a = POSE[None] * 0.9 + np.stack([40 + 4 * t, np.full_like(t, 220)], -1)[:, None]
    b = POSE[None] * 0.7 + np.stack([280 - 4 * t, np.full_like(t, 200)], -1)[:, None]
    return np.stack([a, b], axis=1)


def write_coco_people(path: Path, people: np.ndarray, *, shuffle: bool = True, track_ids: bool = False) -> Path:
    """COCO JSON with every person of every frame (annotation order shuffled per frame)."""
    rng = np.random.default_rng(0)
    anns = []
    for t in range(people.shape[0]):
        order = rng.permutation(people.shape[1]) if shuffle else range(people.shape[1])
        for p in order:
            if np.isnan(people[t, p]).all():
                continue
            kp = np.concatenate([people[t, p], np.full((17, 1), 0.9)], axis=1).ravel().tolist()
            ann = {"image_id": t, "keypoints": kp, "score": 0.9}
            if track_ids:
                ann["track_id"] = int(p) + 7
            anns.append(ann)
    path.write_text(json.dumps(anns))
    return path


def test_importers_keep_every_person(tmp_path):
    people = crossing_people()
    src = write_coco_people(tmp_path / "two.json", people)
    det = load_people_keypoints(src, width=W, height=H, fps=FPS)
    assert det.points.shape == (T, 2, 17, 2) and det.track_ids is None
    assert (det.detections_per_frame() == 2).all()
    # the single-person reader still keeps one (the highest score; ties: the first)
    assert load_keypoints(src, width=W, height=H, fps=FPS).points.shape == (T, 17, 2)
    # PoseTrack-style track ids are kept as the identities
    det = load_people_keypoints(write_coco_people(tmp_path / "ids.json", people, track_ids=True), width=W, height=H, fps=FPS)
    assert set(np.unique(det.track_ids)) == {7, 8}
    # OpenPose: every entry of 'people'
    folder = tmp_path / "op"
    folder.mkdir()
    body25 = [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]  # BODY_25 index of each COCO joint
    for t in range(T):
        entries = []
        for p in range(2):
            flat = np.zeros((25, 3))
            flat[body25, :2], flat[body25, 2] = people[t, p], 0.8
            entries.append({"pose_keypoints_2d": flat.ravel().tolist()})
        (folder / f"clip_{t:06d}_keypoints.json").write_text(json.dumps({"people": entries}))
    det = load_people_keypoints(folder, width=W, height=H, fps=FPS)
    assert det.points.shape == (T, 2, 17, 2)


def test_people_keypoints_checks():
    with pytest.raises(PoseliftError, match="people keypoints must be"):
        PeopleKeypoints2D(np.zeros((4, 17, 2)), np.ones((4, 17)), "coco17", 25.0, W, H)
    with pytest.raises(PoseliftError, match="confidence must be in"):
        PeopleKeypoints2D(np.zeros((4, 2, 17, 2)), np.full((4, 2, 17), 2.0), "coco17", 25.0, W, H)
    with pytest.raises(PoseliftError, match="track_ids"):
        PeopleKeypoints2D(np.zeros((4, 2, 17, 2)), np.ones((4, 2, 17)), "coco17", 25.0, W, H, track_ids=np.zeros((4, 3), int))


def test_coco_track_ids_must_be_all_or_none(tmp_path):
    anns = [{"image_id": 0, "keypoints": [1, 2, 1] * 17, "track_id": 1}, {"image_id": 1, "keypoints": [1, 2, 1] * 17}]
    (tmp_path / "x.json").write_text(json.dumps(anns))
    with pytest.raises(PoseliftError, match="only some annotations have a 'track_id'"):
        load_people_keypoints(tmp_path / "x.json", width=W, height=H, fps=FPS)
    anns = [{"image_id": 0, "keypoints": [1, 2, 1] * 17, "track_id": -3}]
    (tmp_path / "x.json").write_text(json.dumps(anns))
    with pytest.raises(PoseliftError, match="'track_id' must be a whole number"):
        load_people_keypoints(tmp_path / "x.json", width=W, height=H, fps=FPS)


def test_every_person_gets_a_folder_and_keeps_its_identity(tmp_path, ckpt):
    people = crossing_people()
    people[20:26, 1] = np.nan  # B hidden for 6 frames (behind A): the identity survives
    src = write_coco_people(tmp_path / "two.json", people)
    out = tmp_path / "out"
    result = run_infer(src, out, ckpt, width=W, height=H, fps=FPS, bvh=True, progress=False)
    doc = json.loads((out / "people.json").read_text())
    assert [p["track_id"] for p in doc["people"]] == [1, 2] and all(p["written"] for p in doc["people"])
    assert sorted(p.name for p in out.iterdir()) == ["people.json", "person_1", "person_2"]
    assert [p["folder"] for p in result.people] == ["person_1", "person_2"]
    kinds = {(e["kind"], e["track_id"]) for e in doc["events"]}
    assert ("gap", 2) in kinds and not any(k == "merged" for k, _ in kinds)
    for folder, truth in (("person_1", people[:, 0]), ("person_2", people[:, 1])):
        assert sorted(p.name for p in (out / folder).iterdir()) == ["poses.bvh", "poses.csv", "poses.json", "poses.npz"]
        with np.load(out / folder / "poses.npz") as z:
            # each folder follows one person through the crossing: its hip stays on that person's path
            hip = z["keypoints_2d"][:, 0]
            seen = np.isfinite(truth).all(axis=(1, 2))
            true_hip = truth[:, 11:13].mean(axis=1)
            assert np.abs(hip[seen] - true_hip[seen]).max() < 1.0
            assert z["frame_index"][0] == 0 and len(z["frame_index"]) == T and int(z["track_id"]) in (1, 2)
        meta = json.loads((out / folder / "poses.json").read_text())["metadata"]
        assert meta["person"]["track_id"] == int(folder[-1])

    # both people are placed in one camera frame (the bundled model): A (larger) in front of B
    run_infer(src, tmp_path / "bundled", None, width=W, height=H, fps=FPS, progress=False)
    with np.load(tmp_path / "bundled" / "person_1" / "poses.npz") as a, np.load(tmp_path / "bundled" / "person_2" / "poses.npz") as b:
        depth_a, depth_b = np.median(a["trajectory"][:, 2]), np.median(b["trajectory"][:, 2])
        assert 0 < depth_a < depth_b, (depth_a, depth_b)


def test_person_option_keeps_one(tmp_path, ckpt, capsys):
    src = write_coco_people(tmp_path / "two.json", crossing_people())
    out = tmp_path / "largest"
    result = run_infer(src, out, ckpt, width=W, height=H, fps=FPS, person="largest", progress=False)
    assert result.people[0]["track_id"] == 1 and result.people[0]["folder"] == "."
    assert sorted(p.name for p in out.iterdir()) == ["people.json", "poses.csv", "poses.json", "poses.npz"]
    doc = json.loads((out / "people.json").read_text())
    assert [p["written"] for p in doc["people"]] == [True, False]
    rc = main(["infer", str(src), "--out", str(tmp_path / "two"), "--checkpoint", str(ckpt), "--width", str(W),
               "--height", str(H), "--fps", str(FPS), "--person", "2", "--no-progress"])
    assert rc == 0
    with np.load(tmp_path / "two" / "poses.npz") as z:
        assert int(z["track_id"]) == 2
    # an id that was not tracked: one line naming the ids there are, nothing written
    rc = main(["infer", str(src), "--out", str(tmp_path / "none"), "--checkpoint", str(ckpt), "--width", str(W),
               "--height", str(H), "--fps", str(FPS), "--person", "5", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "no tracked person with id 5" in err[-1] and "1, 2" in err[-1]
    assert not (tmp_path / "none").exists()
    with pytest.raises(SystemExit):
        main(["infer", str(src), "--out", str(tmp_path / "x"), "--person", "tallest"])
    with pytest.raises(PoseliftError, match="`person` must be"):
        run_infer(src, tmp_path / "y", ckpt, person=-1, progress=False)
    with pytest.raises(PoseliftError, match="`track_gap_s` must be"):
        run_infer(src, tmp_path / "y", ckpt, track_gap_s=float("nan"), progress=False)


def test_rerun_replaces_person_folders(tmp_path, ckpt):
    people = crossing_people()
    src = write_coco_people(tmp_path / "two.json", people)
    out = tmp_path / "out"
    run_infer(src, out, ckpt, width=W, height=H, fps=FPS, progress=False)
    with pytest.raises(PoseliftError, match="already exists"):
        run_infer(src, out, ckpt, width=W, height=H, fps=FPS, progress=False)
    one = write_coco_people(tmp_path / "one.json", people[:, :1])
    run_infer(one, out, ckpt, width=W, height=H, fps=FPS, overwrite=True, progress=False)
    # the earlier run's person_2 is gone: the folder holds this run's people only
    assert sorted(p.name for p in out.iterdir()) == ["people.json", "person_1"]


def test_render_draws_every_person(tmp_path, ckpt):
    import cv2

    src = write_coco_people(tmp_path / "two.json", crossing_people(20))
    out = tmp_path / "out"
    run_infer(src, out, ckpt, width=W, height=H, fps=FPS, render=True, render_size=120, progress=False)
    cap = cv2.VideoCapture(str(out / "render.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20 and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 120
    cap.release()


def test_duplicate_detections_are_dropped():
    people = crossing_people(10)
    twice = np.concatenate([people[:, :1], people[:, :1] + 2.0, people[:, 1:]], axis=1)  # A detected twice
    conf = np.full(twice.shape[:3], 0.9)
    conf[:, 1] = 0.5
    points, conf, removed = drop_duplicates(twice, conf)
    assert removed == 10 and np.isnan(points[:, 1]).all() and (conf[:, 1] == 0).all()
    assert np.isfinite(points[:, [0, 2]]).all()


def _two_tracks(first: np.ndarray, second: np.ndarray) -> Tracks:
    """Tracks 1 and 2 from ``[T, 17, 2]`` arrays (NaN where absent), with start/end events."""
    points = np.stack([first, second]).astype(np.float32)
    detected = np.isfinite(points).all(axis=(2, 3))
    events = []
    for row, track_id in enumerate((1, 2)):
        frames = np.flatnonzero(detected[row])
        events += [TrackEvent(int(frames[0]), "start", track_id, ""), TrackEvent(int(frames[-1]), "end", track_id, "")]
    conf = np.where(np.isnan(points[..., 0]), 0.0, 0.9).astype(np.float32)
    return Tracks(np.array([1, 2]), points, conf, np.where(detected, 0, -1), events)


def test_a_split_track_is_joined_back_with_an_event():
    """A person whose identity moved to a second track (both present for a frame) is one
    track again, with a `merged` event (never silent); far-apart tracks stay apart."""
    person = crossing_people()[:, 0]
    first, second = np.full_like(person, np.nan), np.full_like(person, np.nan)
    first[:31], second[30:] = person[:31], person[30:] + 3.0
    tracks = stitch_tracks(_two_tracks(first, second), TrackerConfig(max_gap_frames=5))
    assert tracks.num_people == 1 and tracks.first_frame[0] == 0 and tracks.last_frame[0] == T - 1
    assert [e.kind for e in tracks.events] == ["start", "merged", "end"] and tracks.events[1].frame == 30
    # another person starting elsewhere, or long after, is not joined
    far = np.full_like(person, np.nan)
    far[30:] = person[30:] + 200.0
    assert stitch_tracks(_two_tracks(first, far), TrackerConfig(max_gap_frames=5)).num_people == 2
    late = np.full_like(person, np.nan)
    late[40:] = person[40:]
    assert stitch_tracks(_two_tracks(first, late), TrackerConfig(max_gap_frames=5)).num_people == 2
    # tracks present together for long are two people
    together = np.full_like(person, np.nan)
    together[20:] = person[20:] + 3.0
    assert stitch_tracks(_two_tracks(first, together), TrackerConfig(max_gap_frames=5)).num_people == 2


def test_limb_agreement_is_invariant_to_similarity_and_counts_frames():
    from poselift.evaluation.metrics import limb_agreement

    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 12, 3))
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    b = 1.3 * a @ rot.T + [0.2, -1.0, 3.0]
    b[4] = np.nan  # not counted
    same = limb_agreement(a, b)
    assert same["frames"] == 4 and same["pmpjpe_mm"] < 1e-6 and same["angle_diff_deg"] < 1e-6
    moved = a.copy()
    moved[:, 4] += 0.1  # a wrist 10 cm off
    diff = limb_agreement(a, moved)
    assert diff["pmpjpe_mm"] > 1.0 and diff["angle_diff_deg"] > 0.1
    assert limb_agreement(a, np.full_like(a, np.nan)) == {"frames": 0, "pmpjpe_mm": None, "angle_diff_deg": None}
    with pytest.raises(PoseliftError, match="two \\[T, 12, 3\\] arrays"):
        limb_agreement(a[:, :11], b[:, :11])


def test_short_clips_keep_their_people_and_errors_name_the_option(tmp_path, ckpt, capsys):
    """A clip shorter than --min-track still has its people (a track as long as a quarter
    of the clip is kept); with every track dropped the error says which option to change."""
    people = crossing_people(8)
    src = write_coco_people(tmp_path / "short.json", people)
    result = run_infer(src, tmp_path / "out", ckpt, width=W, height=H, fps=FPS, progress=False)
    assert [p["track_id"] for p in result.people] == [1, 2]
    sparse = np.full_like(people, np.nan)  # A in frame 0 only, B in frame 7 only: two 1-frame tracks
    sparse[0, 0], sparse[7, 1] = people[0, 0], people[7, 1]
    src = write_coco_people(tmp_path / "sparse.json", sparse)
    with pytest.raises(PoseliftError, match="lower `min_track_s`"):
        run_infer(src, tmp_path / "o2", ckpt, width=W, height=H, fps=FPS, min_track_s=1.0, progress=False)
    rc = main(["infer", str(src), "--out", str(tmp_path / "o3"), "--checkpoint", str(ckpt), "--width", str(W),
               "--height", str(H), "--fps", str(FPS), "--min-track", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "--min-track" in err[-1] and "`" not in err[-1]


def test_a_posetrack_file_with_one_person_is_still_a_tracked_source(tmp_path, ckpt):
    """One person with `track_id` 1 in a COCO file: the file could hold several, so the
    layout is a person folder over that person's frames, not the one-person layout."""
    people = crossing_people()[:, :1].copy()
    people[:5] = np.nan  # the person enters at frame 5
    anns = [{"image_id": t, "keypoints": np.concatenate([people[t, 0], np.full((17, 1), 0.9)], 1).ravel().tolist(),
             "track_id": 1} for t in range(T) if np.isfinite(people[t, 0]).all()]
    images = [{"id": t, "width": W, "height": H} for t in range(T)]
    (tmp_path / "one.json").write_text(json.dumps({"images": images, "annotations": anns}))
    result = run_infer(tmp_path / "one.json", tmp_path / "out", ckpt, fps=FPS, progress=False)
    assert result.people[0]["folder"] == "person_1" and result.people[0]["first_frame"] == 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["people.json", "person_1"]
