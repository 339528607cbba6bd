"""The offline multi-person detector (poselift.pipeline.people): its model bundle, the
crop geometry, and (when ../shared/data is present) both passes on real footage."""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poselift.errors import PoseliftError
from poselift.io.keypoints import PeopleKeypoints2D
from poselift.pipeline import people
from poselift.pipeline.detect import MediaPipeDetector
from poselift.pipeline.people import (
    BUNDLE_SHA256,
    people_detections,
    PeopleDetector,
    body_centre,
    box_iou,
    box_mask,
    boxes_from_points,
    bundle_name,
    check_bundle,
    crop_box,
    default_cache_dir,
    follow_crop,
    grey_others,
    grey_people,
    guide_distance,
    known_people,
    landmarker_bundle,
    pick_pose,
    plausible_pose,
    pose_distance,
    predict_box,
    predict_pose,
    prepare_crop,
    reject_duplicates,
    skeleton_mask,
    to_image_pixels,
    update_velocity,
)
from poselift.pipeline.video import open_video

# the shared data folder, found as tests/conftest.py finds it
DATA_ROOT = Path(os.environ.get("POSELIFT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CAM01 = DATA_ROOT / "multiview" / "cam01.mp4"
CAM03 = DATA_ROOT / "multiview" / "cam03.mp4"
MULTIVIEW_REFERENCE = DATA_ROOT / "multiview" / "multiperson.npz"
DEMO_VIDEO = DATA_ROOT / "video" / "sports2d_demo.mp4"
needs_cam01 = pytest.mark.skipif(
    not CAM01.is_file(), reason=f"real data not available: {CAM01} is absent (set POSELIFT_DATA to the shared data folder)"
)


@pytest.fixture(autouse=True, scope="module")
def _private_bundle_cache(tmp_path_factory):
    """The detectors here build their model bundle in a folder of the test run, not in ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSELIFT_CACHE_DIR", str(tmp_path_factory.mktemp("poselift-cache")))
        yield


def standing_figure(x: float, y_top: float, height: float) -> np.ndarray:
    """A rough upright BlazePose-33 figure [33, 2] (pixels): head at ``y_top``, feet at ``y_top + height``."""
    pts = np.zeros((33, 2), np.float32)
    h = height
    for j in range(11):  # face
        pts[j] = (x + (j % 3 - 1) * 0.02 * h, y_top + 0.05 * h)
    for left, right, dy, dx in (
        (11, 12, 0.18, 0.12),  # shoulders
        (13, 14, 0.33, 0.15),  # elbows
        (15, 16, 0.47, 0.16),  # wrists
        (17, 18, 0.50, 0.16),
        (19, 20, 0.51, 0.15),
        (21, 22, 0.50, 0.14),
        (23, 24, 0.52, 0.08),  # hips
        (25, 26, 0.73, 0.08),  # knees
        (27, 28, 0.94, 0.08),  # ankles
        (29, 30, 0.97, 0.09),
        (31, 32, 1.00, 0.05),
    ):
        pts[left] = (x + dx * h, y_top + dy * h)  # the figure faces the camera: its left is image right
        pts[right] = (x - dx * h, y_top + dy * h)
    return pts


# ------------------------------------------------------------------------ the bundle


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("POSELIFT_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.setenv("POSELIFT_CACHE_DIR", "")  # empty means unset
    assert default_cache_dir() == tmp_path / "xdg" / "poselift"
    monkeypatch.delenv("POSELIFT_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "poselift"
    import mediapipe

    assert mediapipe.__version__ in bundle_name()
    assert bundle_name("9.9.9").endswith("9.9.9.task")


def test_bundle_is_built_once_verified_and_rebuilt_when_corrupt(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("POSELIFT_CACHE_DIR", str(tmp_path / "cache"))
    path = landmarker_bundle()
    assert path.parent == tmp_path / "cache" and path.name == bundle_name()
    original = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert sorted(i.filename for i in infos) == sorted(BUNDLE_SHA256)
        assert all(i.compress_type == zipfile.ZIP_STORED and i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        for name, digest in BUNDLE_SHA256.items():
            import hashlib

            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    assert check_bundle(path) is None
    mtime = path.stat().st_mtime_ns
    assert landmarker_bundle() == path and path.stat().st_mtime_ns == mtime  # cached: not rewritten

    # a flipped byte inside a model: the zip CRC catches it → rebuilt, with a warning
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert check_bundle(path) is not None
    with caplog.at_level(logging.WARNING, logger="poselift.pipeline.people"):
        assert landmarker_bundle() == path
    assert "rebuilding" in caplog.text
    assert path.read_bytes() == original  # reproducible bytes
    # a truncated file, and a zip with other contents
    path.write_bytes(original[:1000])
    assert "zip" in check_bundle(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pose_detector.tflite", b"x")
        zf.writestr("pose_landmarks_detector.tflite", b"y")
    assert "sha256" in check_bundle(path) or "compressed" in check_bundle(path)
    assert landmarker_bundle(tmp_path / "cache").read_bytes() == original
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_cache_falls_back_to_a_temporary_folder(monkeypatch, tmp_path, caplog):
    blocked = tmp_path / "read-only"
    real_write = people._write_bundle

    def write(path, data):
        if blocked in path.parents:
            raise PermissionError(13, "Permission denied")
        real_write(path, data)

    monkeypatch.setattr(people, "_write_bundle", write)
    monkeypatch.setattr(people, "_fallbacks", {})
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the fallback goes there
    with caplog.at_level(logging.WARNING, logger="poselift.pipeline.people"):
        path = landmarker_bundle(blocked)
    assert blocked not in path.parents and tmp_path / "tmp" in path.parents and check_bundle(path) is None
    assert "cannot write the model bundle" in caplog.text and "POSELIFT_CACHE_DIR" in caplog.text
    monkeypatch.setattr(people, "build_bundle_bytes", lambda: pytest.fail("rebuilt"))
    assert landmarker_bundle(blocked) == path  # the same fallback for the rest of the process
    monkeypatch.undo()

    monkeypatch.setattr(people, "_write_bundle", lambda path, data: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    monkeypatch.setattr(people, "_fallbacks", {})
    with pytest.raises(PoseliftError, match="`cache_dir`"):
        landmarker_bundle(blocked)


# -------------------------------------------------------------------- crop geometry


def test_crop_box_is_padded_square_and_clamped():
    # a 100 x 200 box in the middle of a 1000 x 800 image: +15 % of 200 on every side, then square
    crop = crop_box((450, 300, 550, 500), 1000, 800, pad=0.15)
    x0, y0, x1, y1 = crop
    assert (x1 - x0, y1 - y0) == (260, 260)
    assert (x0 + x1) / 2 == 500 and (y0 + y1) / 2 == 400
    # near a corner: clamped to the image
    assert crop_box((-50, -20, 60, 200), 1000, 800) == (0, 0, 148, 233)  # square (-138, -53, 148, 233), clamped
    # whole image
    assert crop_box((0, 0, 1000, 800), 1000, 800) == (0, 0, 1000, 800)
    # missing or degenerate boxes, crops too small once clamped
    assert crop_box((np.nan,) * 4, 1000, 800) is None
    assert crop_box((10, 10, 10, 50), 1000, 800) is None
    assert crop_box((990, 10, 1200, 50), 1000, 800, pad=0.0, min_size=16) is None


def test_landmarks_map_back_to_image_pixels():
    crop = (100, 50, 300, 450)
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.25], [-0.1, 1.2]], np.float32)
    px = to_image_pixels(xy, crop)
    np.testing.assert_allclose(px, [[100, 50], [300, 450], [200, 150], [80, 530]], atol=1e-4)
    assert px.dtype == np.float32
    assert to_image_pixels(np.zeros((2, 5, 33, 2)), crop).shape == (2, 5, 33, 2)


def test_boxes_from_points_pad_window_and_gaps():
    T = 5
    pts = np.full((T, 33, 2), np.nan)
    pts[0, :2] = [[10, 20], [30, 120]]
    pts[2, :2] = [[50, 20], [70, 120]]
    boxes = boxes_from_points(pts)
    np.testing.assert_allclose(boxes[0], [10, 20, 30, 120])
    assert np.isnan(boxes[1]).all() and np.isnan(boxes[3]).all()
    np.testing.assert_allclose(boxes_from_points(pts, pad=0.1)[0], [0, 10, 40, 130])
    windowed = boxes_from_points(pts, window=1)
    np.testing.assert_allclose(windowed[1], [10, 20, 70, 120])  # frames 0-2 united, the gap filled
    np.testing.assert_allclose(windowed[3], [50, 20, 70, 120])
    assert np.isnan(windowed[4]).all()
    # several people at once: [P, T, 33, 2] → [P, T, 4]
    assert boxes_from_points(np.stack([pts, pts + 100])).shape == (2, T, 4)
    with pytest.raises(PoseliftError, match="`points`"):
        boxes_from_points(np.zeros((5, 2)))


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 10, 10), (np.nan,) * 4) == 0.0


def test_masks_of_a_skeleton_and_a_box():
    fig = standing_figure(200, 100, 300)
    mask = skeleton_mask((500, 400), fig)
    for j in (0, 11, 12, 15, 16, 23, 24, 27, 28):  # head, shoulders, wrists, hips, ankles
        x, y = np.round(fig[j]).astype(int)
        assert mask[y, x], j
    assert not mask[10, 10] and not mask[480, 390]
    # the same figure in a crop whose corner is image pixel (100, 50)
    shifted = skeleton_mask((500, 400), fig, offset=(100, 50))
    assert shifted[int(fig[23, 1]) - 50, int(fig[23, 0]) - 100]
    assert not skeleton_mask((50, 50), np.full((33, 2), np.nan)).any()
    # far-away points do not break the drawing
    assert skeleton_mask((50, 50), fig * 1e9).shape == (50, 50)
    box = box_mask((100, 100), (10.2, 20.7, 30, 40), offset=(5, 5))
    assert box[16:35, 5:25].all() and box.sum() == 20 * 20
    assert not box_mask((100, 100), (np.nan,) * 4).any()


def test_grey_mask_paints_the_others_but_leaves_the_own_box_intact():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    frame[frame == 128] = 127  # so that grey pixels are the painted ones
    me, other = standing_figure(350, 100, 400), standing_figure(470, 120, 380)  # overlapping people
    boxes = np.stack([boxes_from_points(me[None])[0], boxes_from_points(other[None])[0]])
    for guides in (None, np.stack([me, other])):
        crop, image = prepare_crop(frame, 0, boxes, guides, pad=0.15)
        x0, y0, x1, y1 = crop
        assert image.shape == (y1 - y0, x1 - x0, 3) and image.flags.c_contiguous
        original = frame[y0:y1, x0:x1]
        own = box_mask(image.shape[:2], boxes[0], (x0, y0))
        np.testing.assert_array_equal(image[own], original[own])  # the own box untouched
        grey = (image == 128).all(-1)
        assert grey.any() and not (grey & own).any()
        # the other's left elbow (x = 470 + 0.15 * 380 = 527) is outside my box (x <= 414): painted
        wx, wy = np.round(other[13]).astype(int)
        assert grey[wy - y0, wx - x0]
        if guides is None:  # the box mask paints the whole rest of the other's box
            rest = box_mask(image.shape[:2], boxes[1], (x0, y0)) & ~own
            assert grey[rest].all()
        else:  # the skeleton mask leaves the background between its limbs
            rest = box_mask(image.shape[:2], boxes[1], (x0, y0)) & ~own
            assert not grey[rest].all()
    assert (frame != 128).all(-1).all()  # the frame itself is not modified
    # keep_own="body" keeps only my own (grown) skeleton: the other is painted inside my box too
    (x0, y0, _, _), body = prepare_crop(frame, 0, boxes, np.stack([me, other]), keep_own="body")
    own = box_mask(body.shape[:2], boxes[0], (x0, y0))
    assert ((body == 128).all(-1) & own).any()
    mine = skeleton_mask(body.shape[:2], me, (x0, y0))
    assert not ((body == 128).all(-1) & mine).any()
    # no other person in the crop: the frame's own pixels (no copy needed)
    far = np.stack([boxes[0], [700, 500, 790, 590]])
    _, alone = prepare_crop(frame, 0, far)
    assert not (alone == 128).all(-1).any()
    assert prepare_crop(frame, 1, np.stack([boxes[0], [np.nan] * 4])) is None
    # grey_others returns the image itself when there is nothing to paint
    img = np.zeros((4, 4, 3), np.uint8)
    assert grey_others(img, np.zeros((4, 4), bool), np.zeros((4, 4), bool)) is img


def test_pose_choice_by_guide_and_by_box():
    me, other = standing_figure(300, 100, 400), standing_figure(420, 100, 400)
    box = boxes_from_points(me[None])[0]
    noisy = me + np.random.default_rng(1).normal(0, 5, me.shape)
    assert guide_distance(me, me) == 0.0
    mirrored = me.copy()
    mirrored[people.BODY_JOINTS] = me[people.SWAP[people.BODY_JOINTS]]
    assert guide_distance(mirrored, me) == 0.0  # left/right labels exchanged: the same person
    assert np.isnan(guide_distance(me, np.full((33, 2), np.nan)))
    assert pick_pose([other, noisy], box, guide=me) == 1
    assert pick_pose([other], box, guide=me) is None  # 120 px away > 0.12 × 400 px
    assert pick_pose([other], box, guide=me, gate=0.5) == 0
    assert pick_pose([other, noisy], box) == 1  # no guide: the best overlapping box
    assert pick_pose([standing_figure(900, 100, 400)], box) is None
    assert pick_pose([], box) is None
    nan_guide = np.full((33, 2), np.nan)
    assert pick_pose([other, noisy], box, guide=nan_guide) == 1  # an empty guide: by box


def test_detections_check_their_shapes():
    d = people_detections(np.full((2, 3, 33, 2), np.nan), np.zeros((2, 3, 33)), np.full((2, 3, 33, 3), np.nan), 30.0, 640, 480)
    assert d.points.dtype == np.float32 and d.num_frames == 2 and d.num_slots == 3
    assert not d.found().any() and (d.detections_per_frame() == 0).all()
    with pytest.raises(PoseliftError, match="shaped"):
        people_detections(np.zeros((2, 3, 17, 2)), np.zeros((2, 3, 17)), np.zeros((2, 3, 17, 3)), 30.0, 640, 480)


def test_timestamps_strictly_increase():
    ms, out = -1, []
    for t in range(5):
        ms = people._timestamp_ms(t, 3000.0, ms)  # 0.33 ms apart: rounded to equal values
        out.append(ms)
    assert out == [0, 1, 2, 3, 4]
    assert people._timestamp_ms(3, 30.0, -1) == 100


def test_detector_arguments_are_checked():
    with pytest.raises(PoseliftError, match="`max_people`"):
        PeopleDetector(max_people=0)
    with pytest.raises(PoseliftError, match="`min_presence_confidence`"):
        PeopleDetector(min_presence_confidence=1.5)
    with pytest.raises(PoseliftError, match="`threads`"):
        PeopleDetector(threads=0)
    assert PeopleDetector().layout == "blazepose33" and PeopleDetector().threads >= 1


# ------------------------------------------------------------- following people


def test_prediction_moves_the_pose_damped_and_grows_the_box_with_the_motion():
    pose = standing_figure(500, 100, 400).astype(np.float64)
    still = predict_pose(pose, None, 3)
    np.testing.assert_array_equal(still, pose)
    v = np.array([10.0, -4.0])
    np.testing.assert_allclose(predict_pose(pose, v, 0), pose)
    one = predict_pose(pose, v, 1, tau=10.0)
    np.testing.assert_allclose(one - pose, np.broadcast_to(v * 10 * (1 - np.exp(-0.1)), pose.shape))
    # a long gap moves it at most tau frames' worth
    far = predict_pose(pose, v, 1000, tau=10.0)
    np.testing.assert_allclose(far - pose, np.broadcast_to(v * 10, pose.shape), rtol=1e-6)
    np.testing.assert_allclose(predict_pose(pose, np.array([np.nan, 1.0]), 1, tau=0)[:, 0], pose[:, 0])  # NaN: still
    # the box: the moved pose's box, grown by the distance moved (at least one frame's worth)
    base = boxes_from_points(pose[None])[0]
    box = predict_box(pose, v, 1, tau=10.0)
    shift = v * 10 * (1 - np.exp(-0.1))
    grow = np.hypot(*v)  # one frame's worth (the damped motion of one frame is less)
    np.testing.assert_allclose(box, base + np.r_[shift, shift] + np.r_[-grow, -grow, grow, grow])
    long = predict_box(pose, v, 5, tau=10.0)
    assert long[2] - long[0] > box[2] - box[0]  # more uncertain after a gap
    np.testing.assert_allclose(predict_box(pose, None, 4), base)
    assert np.isnan(predict_box(np.full((33, 2), np.nan), v, 1)).all()


def test_velocity_is_the_smoothed_step_of_the_body_centre():
    a = standing_figure(500, 100, 400).astype(np.float64)
    b = a + [12.0, 6.0]
    np.testing.assert_allclose(body_centre(b) - body_centre(a), [12, 6])
    np.testing.assert_allclose(update_velocity(None, a, b, 1), [12, 6])
    np.testing.assert_allclose(update_velocity(None, a, b, 3), [4, 2])  # over a gap: per frame
    np.testing.assert_allclose(update_velocity(np.array([0.0, 0.0]), a, b, 1, smoothing=0.5), [6, 3])
    # left/right labels exchanged: the same centre, no motion
    np.testing.assert_allclose(update_velocity(None, a, a[people.SWAP], 1), [0, 0], atol=1e-9)
    np.testing.assert_allclose(update_velocity(np.array([1.0, 2.0]), a, np.full((33, 2), np.nan), 1), [1, 2])


def test_follow_crop_stays_put_while_it_holds_the_person():
    box = np.array([400.0, 100.0, 500.0, 500.0])  # 100 x 400 px
    crop = follow_crop(None, box, 1920, 1080, pad=0.15, slack=0.4)
    x0, y0, x1, y1 = crop
    assert x1 - x0 == y1 - y0 == int(np.ceil((400 + 2 * 0.15 * 400) * 1.4))  # square, with slack
    assert abs((x0 + x1) / 2 - 450) <= 1 and abs((y0 + y1) / 2 - 300) <= 1
    assert y0 < 0  # not clamped to the image: the top is padded grey
    moved = box + [20, 10, 20, 10]
    assert follow_crop(crop, moved, 1920, 1080, pad=0.15, slack=0.4) == crop  # still inside: kept
    gone = box + [350, 0, 350, 0]
    new = follow_crop(crop, gone, 1920, 1080, pad=0.15, slack=0.4)
    assert new != crop and abs((new[0] + new[2]) / 2 - 800) <= 1
    small = np.array([440.0, 280.0, 460.0, 340.0])  # the person got much smaller: a tighter crop
    assert follow_crop(crop, small, 1920, 1080)[2] - follow_crop(crop, small, 1920, 1080)[0] < (x1 - x0) / 2
    assert follow_crop(None, np.full(4, np.nan), 1920, 1080) is None
    assert follow_crop(None, np.array([2000.0, 10, 2100, 400]), 1920, 1080) is None  # off the image


def test_crop_outside_the_image_is_padded_grey():
    frame = np.full((100, 200, 3), 7, np.uint8)
    boxes = np.array([[10.0, 10.0, 60.0, 90.0]])
    crop, image = prepare_crop(frame, 0, boxes, crop=(-20, -30, 80, 70))
    assert crop == (-20, -30, 80, 70) and image.shape == (100, 100, 3) and image.flags.c_contiguous
    assert (image[:30] == 128).all() and (image[:, :20] == 128).all() and (image[30:, 20:] == 7).all()
    assert prepare_crop(frame, 0, np.full((1, 4), np.nan), crop=(0, 0, 50, 50)) is None


def test_pose_distance_plausibility_and_duplicates():
    a = standing_figure(500, 100, 400).astype(np.float64)
    b = standing_figure(800, 120, 380).astype(np.float64)
    assert pose_distance(a, a[people.SWAP]) == 0.0  # left/right swap-invariant
    assert pose_distance(a, a + 10) == pytest.approx(10 * np.sqrt(2) / people.pose_diagonal(a))
    assert pose_distance(a, b) > 0.5 and pose_distance(a, np.full((33, 2), np.nan)) == np.inf
    box = predict_box(a, None, 1)
    assert plausible_pose(a + 15, a, box) and not plausible_pose(b, a, box)
    assert not plausible_pose(a + [0, 2000], a, box, gate=10.0)  # near enough, but outside the box
    # duplicates: the pose farther from its own prediction loses it
    keep = reject_duplicates([a + 3, a + 1, b], [a + 20, a, b])
    assert keep == [False, True, True]
    assert reject_duplicates([a, None, b], [a, a, b]) == [True, False, True]
    assert reject_duplicates([a, b], [a, b]) == [True, True]  # two people
    # an unconfirmed person loses to a confirmed one, however near its prediction
    assert reject_duplicates([a + 1, a + 2], [a + 1, a + 40], confirmed=[False, True]) == [False, True]


def test_discovery_candidates_are_matched_to_the_people_followed():
    a = standing_figure(500, 100, 400).astype(np.float64)
    b = standing_figure(800, 120, 380).astype(np.float64)
    c = standing_figure(1300, 90, 420).astype(np.float64)
    who = known_people([b + 5, c, a[people.SWAP] + 8], [a, b])
    assert who.tolist() == [1, -1, 0]
    assert known_people([a], [None, a + 2]).tolist() == [1]
    assert known_people([a], []).tolist() == [-1]


def test_grey_people_paints_the_skeletons():
    frame = np.full((600, 800, 3), 30, np.uint8)
    pose = standing_figure(300, 100, 400)
    out = grey_people(frame, [pose])
    assert out is not frame and (frame == 30).all()  # a copy
    mask = skeleton_mask(frame.shape[:2], pose)
    assert (out[mask] == 128).all() and (out[~mask] == 30).all()
    assert grey_people(frame, []) is frame
    assert grey_people(frame, [np.full((33, 2), np.nan)]) is frame


def test_follow_people_checks_its_arguments():
    info = people.VideoInfo(30.0, 64, 64, 0)
    detector = PeopleDetector()
    for kwargs, name in (
        ({"discover_every": 0}, "`discover_every`"),
        ({"max_missed": -1}, "`max_missed`"),
        ({"poses_per_crop": 0}, "`poses_per_crop`"),
        ({"keep_own": "all"}, "`keep_own`"),
    ):
        with pytest.raises(PoseliftError, match=name):
            detector.follow_people(iter(()), info, progress=False, **kwargs)


# --------------------------------------------------------------------- real footage

FRAMES = 24


def _clip(n: int = FRAMES):
    info, frames = open_video(CAM01)
    return info, itertools.islice(frames, n)


@pytest.fixture(scope="module")
def full_frame() -> PeopleKeypoints2D:
    if not CAM01.is_file():
        pytest.skip(f"real data not available: {CAM01} is absent (set POSELIFT_DATA to the shared data folder)")
    info, frames = _clip()
    return PeopleDetector(max_people=3).detect_people(frames, info, progress=False)


@needs_cam01
@pytest.mark.realdata
def test_full_frame_pass_finds_both_actors(full_frame):
    d = full_frame
    assert (d.width, d.height, d.fps, d.layout) == (1088, 1920, 60.0, "blazepose33")
    assert d.points.shape == (FRAMES, 3, 33, 2) and d.points.dtype == np.float32
    assert d.confidence.shape == (FRAMES, 3, 33) and d.world.shape == (FRAMES, 3, 33, 3)
    found = d.found()
    counts = d.detections_per_frame()
    assert (counts == 2).sum() > FRAMES / 2 and counts.max() <= 2  # the bystander is never picked
    # empty slots: NaN points and world, zero confidence; found ones: visibility in (0, 1]
    assert np.isnan(d.points[~found]).all() and np.isnan(d.world[~found]).all() and (d.confidence[~found] == 0).all()
    assert ((d.confidence[found] > 0) & (d.confidence[found] <= 1)).all()
    assert np.isfinite(d.points[found]).all() and np.isfinite(d.world[found]).all()
    px = d.points[found]
    assert (px[..., 0] > -200).all() and (px[..., 0] < 1288).all() and (px[..., 1] > -200).all() and (px[..., 1] < 2120).all()
    # world landmarks: metres, hip-centred
    hips = d.world[found][:, 23:25].mean(1)
    assert np.abs(hips).max() < 0.1
    assert 0.8 < np.ptp(d.world[found][..., 1], axis=-1).mean() < 2.2
    one = d.person(0)
    assert one.points.shape == (FRAMES, 33, 2) and one.layout == "blazepose33"


@pytest.mark.slow
@pytest.mark.skipif(not DEMO_VIDEO.is_file(), reason=f"real data not available: {DEMO_VIDEO} is absent")
def test_bundle_matches_the_legacy_detector_on_the_demo_video():
    """The bundle's normalisation (detector 127.5/127.5, landmarks 0/255) is right: one
    person's landmarks agree with the legacy solutions.pose (the same models) within a few
    pixels. What is left is its ROI tracking and smoothing, and a few frames in which one
    of the two labels the (side-on) body left/right the other way round."""
    n = 100
    info, frames = open_video(DEMO_VIDEO)
    legacy = MediaPipeDetector().detect(itertools.islice(frames, n), info, progress=False)
    info, frames = open_video(DEMO_VIDEO)
    tasks = PeopleDetector(max_people=1).detect_people(itertools.islice(frames, n), info, progress=False)
    a, b = legacy.points, tasks.points[:, 0]
    both = np.isfinite(a).all((-1, -2)) & np.isfinite(b).all((-1, -2))
    d = np.linalg.norm(a[both] - b[both], axis=-1)  # [frames, 33] px
    mirrored = np.linalg.norm(a[both] - b[both][:, people.SWAP], axis=-1)
    swapped = mirrored.mean(1) < d.mean(1)  # frames labelled the other way round
    aware = np.where(swapped[:, None], mirrored, d)

    def stats(x):
        return f"mean {x.mean():.2f} px, median {np.median(x):.2f} px, p90 {np.percentile(x, 90):.2f} px"

    print(
        f"\nlegacy vs bundle, {both.sum()}/{n} frames with both (legacy {np.isfinite(a).all((-1, -2)).sum()}, "
        f"bundle {np.isfinite(b).all((-1, -2)).sum()}), all 33 landmarks: {stats(d)}; "
        f"{swapped.sum()} frames labelled left/right the other way; with those mirrored: {stats(aware)}"
    )
    assert both.sum() >= 0.9 * n
    assert np.median(d) < 5 and swapped.sum() <= 0.1 * both.sum()
    assert aware.mean() < 10 and np.percentile(aware, 90) < 15


@pytest.mark.realdata
@pytest.mark.skipif(not (CAM03.is_file() and MULTIVIEW_REFERENCE.is_file()), reason=f"real data not available: {CAM03}")
def test_follow_people_keeps_both_overlapping_actors_in_their_slots():
    """cam03: the woman stands behind the man (the whole-frame pass almost never returns
    her). Following finds both in most frames, each in one slot of their own."""
    n = 40
    with np.load(MULTIVIEW_REFERENCE, allow_pickle=False) as z:
        ref = z["kp2d_cam3"][:, :n, :, :2].astype(np.float64)  # [actor, frame, 33, 2], the reference's own detections
    info, frames = open_video(CAM03)
    d = PeopleDetector(threads=2).follow_people(itertools.islice(frames, n), info, progress=False)
    assert d.num_frames == n and d.num_slots >= 2
    assert d.world.shape == (n, d.num_slots, 33, 3)
    found = d.found()
    assert np.isfinite(d.world[found]).all() and np.isnan(d.points[~found]).all()
    slots_of = []
    for actor in range(2):
        hits = []
        for t in range(n):
            height = np.ptp(ref[actor, t, 11:, 1])
            dist = [guide_distance(d.points[t, s], ref[actor, t]) for s in range(d.num_slots)]
            s = int(np.nanargmin(dist)) if np.isfinite(dist).any() else -1
            if s >= 0 and dist[s] <= 0.2 * height:
                hits.append(s)
        assert len(hits) >= 0.85 * n, f"actor {actor} found in {len(hits)} of {n} frames"
        slot, count = np.unique(hits, return_counts=True)
        assert count.max() >= 0.95 * len(hits), f"actor {actor} in slots {dict(zip(slot, count))}"  # one slot each
        slots_of.append(int(slot[np.argmax(count)]))
    assert slots_of[0] != slots_of[1]


@pytest.mark.realdata
@pytest.mark.skipif(not CAM03.is_file(), reason=f"real data not available: {CAM03}")
def test_follow_people_does_not_depend_on_threads():
    """The discovery pass runs beside the following but its poses are taken at a fixed
    frame: the same frames give the same people, with one thread or several."""
    runs = []
    for threads in (1, 2):
        info, frames = open_video(CAM03)
        runs.append(PeopleDetector(threads=threads).follow_people(itertools.islice(frames, 16), info, progress=False))
    np.testing.assert_array_equal(runs[0].points, runs[1].points)
    np.testing.assert_array_equal(runs[0].world, runs[1].world)
