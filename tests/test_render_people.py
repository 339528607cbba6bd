"""Rendering several people in one video (render_people_video): one shared 3D scene."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from poselift.data.synthetic import animate_figure
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17
from poselift.viz import render
from poselift.viz.render import (
    BANNER_BGR,
    MISSING_BGR,
    PERSON_PALETTE_BGR,
    SIDE_BY_SIDE_TITLE,
    PersonRender,
    View3D,
    person_colours,
    render_people_video,
)

T = 20
SIZE = 120  # small panels keep the tests fast
IMAGE = (1280, 720)
LEVEL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # z-up world → level camera


def person(track_id: int, seed: int, x: float, depth: float, absent=(), **changes) -> PersonRender:
    """A walking figure at ``(x, depth)`` metres in front of a level camera 1 m above the
    ground; 2D keypoints by a 1000 px pinhole into a 1280x720 image; NaN where absent."""
    world = animate_figure(T, 25.0, seed)
    rel = (world - world[:, :1]) @ LEVEL.T
    trajectory = np.stack([np.full(T, x) + np.linspace(0.0, 0.3, T), np.full(T, 0.05), np.full(T, depth)], 1)
    absolute = rel + trajectory[:, None]
    kp = 1000.0 * absolute[..., :2] / absolute[..., 2:] + np.array([640.0, 360.0])
    present = np.ones(T, bool)
    present[list(absent)] = False
    rel[~present] = np.nan
    kp[~present] = np.nan
    return dataclasses.replace(PersonRender(track_id, rel, trajectory, kp, None, present), **changes)


@pytest.fixture(scope="module")
def two():
    """#3 near on the left, #7 farther on the right and absent in frames 0-4."""
    return [person(3, 1, -0.9, 4.0), person(7, 2, 0.8, 6.5, absent=range(5))]


def mask(img: np.ndarray, bgr, tol: int = 3) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(bgr)).max(-1) <= tol)


def person_mask(img: np.ndarray, rank: int) -> np.ndarray:
    """Pixels in any of the ``rank``-th person's three shades."""
    return np.logical_or.reduce([mask(img, c) for c in person_colours(rank)])


def split(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(input panel, 3D panel)."""
    h = frame.shape[0]
    return frame[:, : frame.shape[1] - h], frame[:, frame.shape[1] - h :]


def input_width(size: int) -> int:
    return render._even(IMAGE[0] * size / IMAGE[1])


# ------------------------------------------------------------------------------ files
def test_two_people_mp4_has_every_frame_at_the_right_size(tmp_path, two):
    out = render_people_video(tmp_path / "two.mp4", two, H36M_17, 25.0, image_size=IMAGE, size=SIZE, progress=False)
    assert out == tmp_path / "two.mp4" and out.is_file()
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert len(frames) == T and fps == pytest.approx(25.0)
    assert frames[0].shape == (SIZE, input_width(SIZE) + SIZE, 3)


def test_gif_keeps_the_colour_of_a_person_who_enters_later(tmp_path, two):
    from PIL import Image

    out = render_people_video(tmp_path / "two.gif", two, H36M_17, 25.0, image_size=IMAGE, size=SIZE, downsample=2,
                              progress=False)
    with Image.open(out) as im:
        assert im.n_frames == T // 2 and im.size == (input_width(SIZE) + SIZE, SIZE)
        im.seek(6)  # frame 12: #7 is there, though not in the first frame (the palette's)
        rgb = np.asarray(im.convert("RGB")).astype(int)
    orange = np.array(PERSON_PALETTE_BGR[1][::-1])
    assert np.abs(rgb - orange).max(-1).min() <= 3


def test_a_single_person_renders(tmp_path, two, drawn_frames):
    render_people_video(tmp_path / "one.mp4", [two[0]], H36M_17, 25.0, size=SIZE, progress=False)
    # keypoints without image_size: a canvas fitted around them, then the 3D panel
    assert len(drawn_frames) == T and drawn_frames[0].shape[0] == SIZE and drawn_frames[0].shape[1] > SIZE
    inp, scene = split(drawn_frames[10])
    assert person_mask(inp, 0).any() and person_mask(scene, 0).any()
    # without a trajectory, and without any 2D input: just the 3D panel
    drawn_frames.clear()
    alone = dataclasses.replace(two[0], trajectory=None, keypoints_2d=None)
    render_people_video(tmp_path / "one.mp4", [alone], H36M_17, 25.0, size=SIZE, progress=False)
    assert len(drawn_frames) == T and drawn_frames[0].shape == (SIZE, SIZE, 3)
    assert person_mask(drawn_frames[10], 0).any()


# ------------------------------------------------------------------------ what is drawn
def test_people_have_their_colours_and_places_and_absent_people_are_not_drawn(tmp_path, two, drawn_frames):
    render_people_video(tmp_path / "p.mp4", two, H36M_17, 25.0, image_size=IMAGE, size=240, elevation=30.0,
                        progress=False)
    assert len(drawn_frames) == T
    for n, frame in enumerate(drawn_frames):
        inp, scene = split(frame)
        for panel in (inp, scene):
            assert person_mask(panel, 0).sum() > 20  # #3 (rank 0: blue) always
            if n < 5:
                assert not person_mask(panel, 1).any(), n  # #7 (rank 1: orange) absent
            else:
                assert person_mask(panel, 1).sum() > 20, n
    inp, scene = split(drawn_frames[10])
    for panel in (inp, scene):
        ys3, xs3 = np.nonzero(person_mask(panel, 0))
        ys7, xs7 = np.nonzero(person_mask(panel, 1))
        assert xs3.mean() < xs7.mean()  # #3 on the left, #7 on the right
    # #7 stands 2.5 m farther away: seen from above its feet are higher up the panel
    assert ys7.max() < ys3.max() - 10


def test_ids_are_labelled_next_to_the_head(tmp_path, two, drawn_frames):
    render_people_video(tmp_path / "p.mp4", two, H36M_17, 25.0, image_size=IMAGE, size=240, progress=False)
    for panel in split(drawn_frames[10]):
        for rank in (0, 1):
            colour = person_colours(rank)[2]
            boxes = mask(panel, colour, 0).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(boxes)
            # the label is a filled box in the person's colour, wider than any bone is thick
            assert any(stats[i, cv2.CC_STAT_WIDTH] >= 12 and stats[i, cv2.CC_STAT_HEIGHT] >= 8 for i in range(1, n))


def test_interpolated_frames_are_grey_and_named_in_the_banner(tmp_path, two, drawn_frames):
    filled = np.zeros(T, bool)
    filled[8:12] = True
    people = [two[0], dataclasses.replace(two[1], filled=filled)]
    render_people_video(tmp_path / "f.mp4", people, H36M_17, 25.0, image_size=IMAGE, size=240, progress=False)
    # grey: the interpolated skeleton's pixels on top of the grey of text edges and axes
    greys = np.array([[mask(panel, MISSING_BGR, 8).sum() for panel in split(frame)] for frame in drawn_frames])
    base = greys.min(0)
    for n, frame in enumerate(drawn_frames):
        lost = 8 <= n < 12
        assert ((greys[n] > base + 40) == lost).all(), (n, greys[n], base)
        for panel in split(frame):
            assert (mask(panel, BANNER_BGR).sum() > 50) == lost, n
            assert person_mask(panel, 0).sum() > 20  # #3 keeps its colour
            # #7's skeleton grey, not in its shades (its label keeps its colour, to tell who it is)
            left, right, centre = person_colours(1)
            assert ((mask(panel, left) | mask(panel, right)).sum() > 20) == (n >= 5 and not lost), n
            assert mask(panel, centre).sum() > 20 if n >= 5 else not mask(panel, centre).any()


def test_without_trajectories_people_stand_side_by_side_in_image_order(tmp_path, two, drawn_frames):
    people = [dataclasses.replace(p, trajectory=None) for p in reversed(two)]
    render_people_video(tmp_path / "s.mp4", people, H36M_17, 25.0, image_size=IMAGE, size=240, progress=False)
    _, scene = split(drawn_frames[10])
    xs3 = np.nonzero(person_mask(scene, 0))[1]  # colours follow the ids, not the list order
    xs7 = np.nonzero(person_mask(scene, 1))[1]
    assert xs3.mean() + 20 < xs7.mean()
    # the title says so
    title = np.full((240, 240, 3), render.BACKGROUND, np.uint8)
    end = render._title(title, SIDE_BY_SIDE_TITLE)
    assert np.array_equal(scene[:16, :end], title[:16, :end])


def test_view_without_centring_keeps_people_apart():
    pose = np.zeros((1, 17, 3))
    pose[0, 10] = [0.0, -0.7, 0.0]  # head above the root
    a, b = pose + [-1.0, 0.0, 4.0], pose + [1.0, 0.0, 6.0]
    view = View3D([a, b], 200, centre=False)
    assert np.allclose(view.origin, [0.0, 0.0, 5.0])
    pa, pb = (view.project(p)[0][0] / 16 for p in (a, b))
    assert pa[0, 0] < pb[0, 0]  # left / right kept
    assert pb[0, 1] < pa[0, 1]  # farther: higher up the panel (seen from above)
    centred = View3D([a, b], 200)  # the default: each re-centred at its root
    assert np.array_equal(centred.project(a)[0], centred.project(b)[0])


def test_palette():
    colours = [person_colours(i) for i in range(len(PERSON_PALETTE_BGR) + 1)]
    centres = [c for _, _, c in colours]
    assert len(set(centres[:-1])) == len(PERSON_PALETTE_BGR) and centres[-1] == centres[0]  # cycles
    for left, right, centre in colours:
        assert sum(left) > sum(centre) > sum(right)  # left lighter, right darker


# --------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda p: [], "`people` is empty"),
        (lambda p: p[0], "single PersonRender"),
        (lambda p: [p[0], "x"], "people[1] must be a PersonRender"),
        (lambda p: [p[0], dataclasses.replace(p[1], track_id=3)], "duplicate track ids #3"),
        (lambda p: [p[0], dataclasses.replace(p[1], track_id=1.5)], "track_id must be an integer"),
        (lambda p: [p[0], dataclasses.replace(p[1], joints_3d=p[1].joints_3d[:12],
                                             trajectory=p[1].trajectory[:12], keypoints_2d=None, present=None)],
         "person #7 has 12 frames but person #3 has 20"),
        (lambda p: [dataclasses.replace(p[0], joints_3d=p[0].joints_3d[:, :16])], "person #3 joints_3d must be shaped [T, 17, 3]"),
        (lambda p: [dataclasses.replace(p[0], trajectory=p[0].trajectory[:, :2])], "person #3 trajectory must be shaped [20, 3]"),
        (lambda p: [dataclasses.replace(p[0], keypoints_2d=p[0].keypoints_2d[:5])], "person #3 keypoints_2d has 5 frames"),
        (lambda p: [dataclasses.replace(p[0], present=np.ones(T))], "person #3 `present` must be a bool array shaped [20]"),
        (lambda p: [dataclasses.replace(p[0], filled=np.zeros((T, 3), bool))], "person #3 `filled` must be a bool array"),
        (lambda p: [p[0], dataclasses.replace(p[1], trajectory=None)], "not for #7"),
    ],
)
def test_bad_people_are_refused(tmp_path, two, change, needle):
    with pytest.raises(PoseliftError) as info:
        render_people_video(tmp_path / "bad.mp4", change(two), H36M_17, 25.0, size=SIZE, progress=False)
    assert needle in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"out_path": "x.avi"}, "unknown suffix"),
        ({"fps": 0}, "fps must be a positive number"),
        ({"size": 10}, "`size` must be a whole number"),
        ({"downsample": 0}, "downsample must be a positive integer"),
        ({"camera_rotation": np.eye(2)}, "camera_rotation must be a 3x3 matrix"),
        ({"frames": iter([])}, "the video has no frames"),
    ],
)
def test_bad_options_are_refused(tmp_path, two, kwargs, needle):
    args = {"out_path": tmp_path / "bad.mp4", "people": two, "skeleton": H36M_17, "fps": 25.0, "size": SIZE,
            "progress": False}
    args.update(kwargs)
    if isinstance(args["out_path"], str):
        args["out_path"] = tmp_path / args["out_path"]
    with pytest.raises(PoseliftError, match=needle.replace("`", ".").replace("(", r"\(")):
        render_people_video(**args)
