"""What the rendered frames show: interpolated (no detection) frames marked, 3D axes in metres."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synthetic import synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import H36M_17
from poselift.viz import render
from poselift.viz.render import (
    BANNER_BGR,
    LABEL_BGR,
    LEFT_BGR,
    MISSING_BGR,
    RIGHT_BGR,
    View3D,
    render_video,
)

T = 12
SIZE = 240


@pytest.fixture(scope="module")
def seq():
    return synthetic_sequence(T, seed=7)


def pixels(img: np.ndarray, bgr, tol: int = 12) -> int:
    return int((np.abs(img.astype(int) - np.array(bgr)).max(-1) <= tol).sum())


def panels(frame: np.ndarray, count: int) -> list[np.ndarray]:
    """The input panel (whatever width) and ``count - 1`` square 3D panels, left to right."""
    h = frame.shape[0]
    first = frame.shape[1] - (count - 1) * h
    return [frame[:, :first]] + [frame[:, first + i * h : first + (i + 1) * h] for i in range(count - 1)]


def draw(drawn_frames, tmp_path, seq, filled, **kwargs) -> list[np.ndarray]:
    """The frames drawn with ``filled`` (``None``: unmarked)."""
    drawn_frames.clear()
    render_video(tmp_path / "m.mp4", seq.positions_3d + 0.01, H36M_17, 25.0, keypoints_2d=seq.keypoints_2d,
                 image_size=(1000, 1000), filled=filled, size=SIZE, progress=False, **kwargs)
    return list(drawn_frames)


def test_frames_without_detection_are_grey_dashed_and_labelled(tmp_path, seq, drawn_frames):
    filled = np.zeros(T, bool)
    filled[[0, 1, 2, 7]] = True
    plain = draw(drawn_frames, tmp_path, seq, None, ground_truth=seq.positions_3d)
    marked = draw(drawn_frames, tmp_path, seq, filled, ground_truth=seq.positions_3d)
    assert len(marked) == T
    for n in range(T):
        if not filled[n]:
            assert np.array_equal(marked[n], plain[n])  # detected frames: unchanged
            continue
        inp, rec, gt = panels(marked[n], 3)
        plain_inp, plain_rec, plain_gt = panels(plain[n], 3)
        for panel, before in ((inp, plain_inp), (rec, plain_rec)):  # the amber label, a grey skeleton, no side colours
            assert pixels(panel, BANNER_BGR, 0) > 200 and pixels(before, BANNER_BGR, 0) == 0
            assert pixels(panel, MISSING_BGR, 0) > pixels(before, MISSING_BGR, 0) + 20
            assert pixels(before, LEFT_BGR, 40) > 0 and pixels(before, RIGHT_BGR, 40) > 0
            assert pixels(panel, LEFT_BGR, 40) == 0 and pixels(panel, RIGHT_BGR, 40) == 0
        assert np.array_equal(gt, plain_gt)  # the ground truth does not depend on the detection


def test_per_joint_mask_greys_the_interpolated_joints_in_the_input_panel(tmp_path, seq, drawn_frames):
    filled = np.zeros((T, 17), bool)
    filled[3, [15, 16]] = True  # right wrist and elbow interpolated: a partial frame
    filled[5] = True  # nothing detected
    plain = draw(drawn_frames, tmp_path, seq, None)
    marked = draw(drawn_frames, tmp_path, seq, filled)
    inp, rec = panels(marked[3], 2)
    plain_inp, plain_rec = panels(plain[3], 2)
    assert np.array_equal(rec, plain_rec)  # partial: the 3D panel is unchanged
    assert not np.array_equal(inp, plain_inp) and pixels(inp, BANNER_BGR, 0) == 0
    assert pixels(inp, MISSING_BGR, 0) > pixels(plain_inp, MISSING_BGR, 0) + 5
    assert pixels(inp, LEFT_BGR, 40) > 0 and pixels(inp, RIGHT_BGR, 40) > 0  # the other joints keep their colours
    for panel in panels(marked[5], 2):
        assert pixels(panel, BANNER_BGR, 0) > 200 and pixels(panel, LEFT_BGR, 40) == 0
    for n in set(range(T)) - {3, 5}:
        assert np.array_equal(marked[n], plain[n])


def test_mask_follows_limit_frames_and_downsample(tmp_path, seq, drawn_frames):
    filled = np.zeros(T, bool)
    filled[6] = True
    render_video(tmp_path / "d.mp4", seq.positions_3d, H36M_17, 25.0, keypoints_2d=seq.keypoints_2d,
                 image_size=(1000, 1000), filled=filled, size=SIZE, downsample=3, limit_frames=10, progress=False)
    marked = [pixels(panels(f, 2)[1], BANNER_BGR, 0) > 0 for f in drawn_frames]
    assert marked == [False, False, True, False]  # frames 0, 3, 6, 9


def test_mask_without_input_panel_and_gif(tmp_path, seq):
    from PIL import Image

    filled = np.zeros(T, bool)
    filled[:2] = True
    out = render_video(tmp_path / "g.gif", seq.positions_3d, H36M_17, 25.0, filled=filled, size=SIZE, progress=False)
    with Image.open(out) as im:
        first = np.asarray(im.convert("RGB"))[..., ::-1]
        im.seek(5)
        later = np.asarray(im.convert("RGB"))[..., ::-1]
    assert first.shape == (SIZE, SIZE, 3)
    assert pixels(first, BANNER_BGR, 30) > 100 and pixels(later, BANNER_BGR, 30) == 0


@pytest.mark.parametrize(
    "filled",
    [np.zeros(T - 1, bool), np.zeros((T, 16), bool), np.zeros(T, np.int64), [[True]], np.zeros((T, 17, 1), bool)],
)
def test_bad_mask_raises(tmp_path, seq, filled):
    with pytest.raises(PoseliftError, match="`filled` must be a bool array shaped"):
        render_video(tmp_path / "b.mp4", seq.positions_3d, H36M_17, 25.0, keypoints_2d=seq.keypoints_2d,
                     filled=filled, size=SIZE, progress=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- 3D axes
@pytest.mark.parametrize("azimuth", [70.0, 160.0, 250.0, 30.0])
def test_3d_panel_has_floor_and_labelled_axes(seq, azimuth):
    view = View3D([seq.positions_3d], 480, azimuth=azimuth)
    tall = float(view.to_world(seq.positions_3d)[..., 2].max()) - view.floor
    assert view.labelled and tall <= view.height_top < tall + view.height_step
    bg = view.background("Reconstruction")
    assert pixels(bg[int(0.1 * 480):], LABEL_BGR, 30) > 150  # tick labels and axis names (below the title)
    assert pixels(bg, render.FLOOR_BGR, 0) > 0.02 * 480 * 480  # the shaded floor (seen from 15° above)
    # the floor, axes and every label stay inside the panel below the title
    body = bg[int(0.1 * 480):]
    ys, xs = np.nonzero((np.abs(body.astype(int) - render.BACKGROUND) > 3).any(-1))
    assert xs.min() > 0 and xs.max() < 479 and ys.max() < body.shape[0] - 1


def test_small_3d_panel_has_no_labels(seq):
    bg = View3D([seq.positions_3d], 96).background("R")
    assert not View3D([seq.positions_3d], 96).labelled
    assert pixels(bg[int(0.15 * 96):], LABEL_BGR, 30) == 0


def test_axes_project_metres_consistently(seq):
    """One metre along x on the floor spans ``scale`` pixels at the default view (x is screen-horizontal)."""
    view = View3D([seq.positions_3d], 480)
    a, b = view._px([0.0, 0.0, view.floor]), view._px([1.0, 0.0, view.floor])
    assert b[0] - a[0] == pytest.approx(view.scale) and b[1] == pytest.approx(a[1])
    top = view._px([0.0, 0.0, view.floor + 1.0])
    assert a[1] - top[1] == pytest.approx(view.scale * np.cos(np.radians(15.0)))  # elevation 15°


# ------------------------------------------------------------------------ infer → renderer
def test_infer_passes_the_interpolated_joints_to_the_renderer(tmp_path, monkeypatch):
    import torch

    from poselift.models.checkpoint import save_checkpoint
    from poselift.models.temporal import ModelConfig, TemporalModel
    from poselift.pipeline import infer

    torch.manual_seed(0)
    cfg = ModelConfig(num_joints_in=17, num_joints_out=17, channels=16, filter_widths=(3, 3))
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, {"model_pos": TemporalModel(cfg).state_dict()},
                    {"model": cfg.to_dict(), "joints_in": "h36m17", "joints_out": "h36m17", "fps": 50.0})
    frames = 20
    seq = synthetic_sequence(frames, seed=3)
    points = seq.keypoints_2d.astype(np.float32).copy()
    conf = np.full((frames, 17), 0.9, np.float32)
    points[[0, 1, 9]] = np.nan  # no detection
    conf[[0, 1, 9]] = 0.0
    points[4, 16] = np.nan  # one wrist missing
    conf[4, 16] = 0.0
    kp = tmp_path / "kp.npz"
    np.savez(kp, keypoints_2d=points, confidence=conf, fps=25.0, width=1000, height=1000, layout="h36m17")

    seen = {}
    real = infer.render_video

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(infer, "render_video", spy)
    infer.run_infer(kp, tmp_path / "out", ckpt, render=True, render_size=96, progress=False)
    mask = seen["filled"]
    assert mask.shape == (frames, 17) and mask.dtype == bool
    assert np.flatnonzero(mask.all(axis=1)).tolist() == [0, 1, 9]
    assert np.argwhere(mask & ~mask.all(axis=1, keepdims=True)).tolist() == [[4, 16]]
    with np.load(tmp_path / "out" / "poses.npz") as z:
        assert np.array_equal(z["filled_joints"], mask)  # the same mask poses.npz reports
    assert (tmp_path / "out" / "render.mp4").is_file()
