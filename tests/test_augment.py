"""The ``wild`` training recipe: random virtual cameras, detector joint layout,
detector-like 2D noise, WildWindowDataset batches, and `poselift train --recipe wild`
/ `poselift evaluate --noisy` on a fake Human3.6M folder (no licensed data needed).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch

from poselift.cli import main
from poselift.data import noise, wild
from poselift.data import virtual_cameras as A
from poselift.data.datasets import (
    H36M_CAMERAS,
    downsample_sequences,
    load_h36m_world,
    subset_sequences,
)
from poselift.data.synthetic import animate_figure, look_at_camera
from poselift.errors import PoseliftError
from poselift.geometry import camera as cam
from poselift.geometry import skeleton
from poselift.geometry.sequence import flip_keypoints
from poselift.geometry.skeleton import H36M_17, coco17_to_h36m17
from poselift.models.checkpoint import read_checkpoint
from poselift.models.lifter import load_model
from poselift.training.config import TrainConfig
from poselift.training.data import load_split
from poselift.training.trainer import Trainer

PERM = torch.tensor(H36M_17.flip_permutation())


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def world_sequences(n: int = 3, frames: int = 120) -> list[np.ndarray]:
    return [animate_figure(frames, seed=i) for i in range(n)]


def random_walk_keypoints(b=64, t=27, j=17, seed=0) -> torch.Tensor:
    g = gen(seed)
    base = torch.rand(b, 1, j, 2, generator=g) * torch.tensor([0.4, 0.8]) - torch.tensor([0.2, 0.4])
    return base + torch.cumsum(torch.randn(b, t, j, 2, generator=g) * 0.01, dim=1)


# ----------------------------------------------------------------------- cameras
def test_cameras_are_rotations_within_the_configured_ranges():
    n = 512
    cfg = A.VirtualCameraConfig()
    root = torch.randn(n, 3, generator=gen(1)) + torch.tensor([0.0, 0.0, 0.9])
    r, c, k = A.sample_cameras(n, cfg, root, gen(2))
    assert r.shape == (n, 3, 3) and c.shape == (n, 3) and k.shape == (n, 9)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(n, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(n), atol=1e-5, rtol=0)
    dist = torch.linalg.vector_norm(c - root, dim=-1)
    assert dist.min() >= 2.5 - 1e-4 and dist.max() <= 8.0 + 1e-4
    elevation = torch.rad2deg(torch.asin((c - root)[:, 2] / dist))
    assert elevation.min() >= -10 - 1e-3 and elevation.max() <= 45 + 1e-3
    lo, hi = cfg.focal_range()
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1 / math.tan(math.radians(20)))
    assert (k[:, 0] >= lo - 1e-5).all() and (k[:, 0] <= hi + 1e-5).all() and torch.equal(k[:, 0], k[:, 1])
    assert k[:, 2:4].abs().max() <= 0.06 + 1e-6  # principal point ±3 % of the width
    assert (k[:, 4:] == 0).all()  # pinhole
    # the camera looks (roughly) at the root: it is in front, near the optical axis
    root_cam = ((root - c)[:, None] @ r.transpose(1, 2))[:, 0]
    assert (root_cam[:, 2] > 0).all()
    screen = k[:, 0:2] * root_cam[:, :2] / root_cam[:, 2:] + k[:, 2:4]
    assert screen[:, 0].abs().max() <= 0.5 + 1e-4  # ±25 % of the width from the centre
    assert screen[:, 1].abs().max() <= 0.5 * 16 / 9 + 1e-4  # ±25 % of the height (tallest aspect)
    assert screen[:, 0].abs().max() > 0.3  # not always centred
    assert cfg.focal_reference() == pytest.approx(1 / math.tan(math.radians(32.5)))


def test_camera_without_aim_offset_puts_the_root_at_the_image_centre():
    cfg = A.VirtualCameraConfig(aim_offset=0.0)
    root = torch.tensor([[0.3, -1.0, 0.9]]).repeat(64, 1)
    r, c, k = A.sample_cameras(64, cfg, root, gen(3))
    root_cam = ((root - c)[:, None] @ r.transpose(1, 2))[:, 0]
    screen = k[:, 0:2] * root_cam[:, :2] / root_cam[:, 2:] + k[:, 2:4]
    torch.testing.assert_close(screen, torch.zeros(64, 2), atol=1e-5, rtol=0)
    # camera "up" is world up within the roll range: image y points downward in the world
    down_world = r[:, 1]
    assert (down_world[:, 2] < -math.cos(math.radians(45 + 5 + 30))).all()


def test_min_depth_pushes_cameras_back_along_the_root_ray():
    cfg = A.VirtualCameraConfig(distance_m=(2.5, 2.5))
    n = 256
    root = torch.zeros(n, 3)
    points = torch.randn(n, 20, 3, generator=gen(4)) * 1.2  # some points right at / behind the camera
    plain = A.sample_cameras(n, cfg, root, gen(5))
    safe = A.sample_cameras(n, cfg, root, gen(5), points=points)
    torch.testing.assert_close(safe.rotation, plain.rotation)
    z = ((points - safe.center[:, None]) @ safe.rotation.transpose(1, 2))[..., 2]
    assert z.min() >= cfg.min_depth_m - 1e-4
    moved = (safe.center - plain.center).norm(dim=-1) > 1e-6
    assert moved.any() and not moved.all()

    def root_screen(cams):
        p = ((root - cams.center)[:, None] @ cams.rotation.transpose(1, 2))[:, 0]
        return cams.intrinsics[:, :2] * p[:, :2] / p[:, 2:] + cams.intrinsics[:, 2:4]

    torch.testing.assert_close(root_screen(safe), root_screen(plain), atol=1e-5, rtol=0)  # aim kept


def test_window_projection_equals_the_camera_module():
    ds = wild.WildWindowDataset(world_sequences(), 27, noise=None, flip=False)
    ids = torch.arange(0, len(ds), 5)
    points_cam, screen, cams = ds.render(ids, gen(6))
    world = ds.windows(ids).double().numpy()
    for i in range(0, len(ids), 17):
        rot, centre = cams.rotation[i].double().numpy(), cams.center[i].double().numpy()
        expected_cam = cam.world_to_camera(world[i], rot, centre)
        np.testing.assert_allclose(points_cam[i].numpy(), expected_cam, atol=2e-5)
        expected = cam.project_to_2d_linear(expected_cam, cams.intrinsics[i].double().numpy())
        np.testing.assert_allclose(screen[i].numpy(), expected, atol=2e-5)
        # with zero distortion the full model agrees too
        np.testing.assert_allclose(cam.project_to_2d(expected_cam, cams.intrinsics[i].double().numpy()), expected, atol=1e-9)
    assert points_cam[..., 2].min() >= 0.5 - 1e-5


def real_camera_batches(n_sequences: int) -> list[A.CameraBatch]:
    """Two distorted look-at cameras per sequence (normalised intrinsics)."""
    out = []
    for i in range(n_sequences):
        views = [look_at_camera(distance=4.0 + i, azimuth=0.4 + k * 1.7, height=1.4) for k in range(2)]
        intr = torch.tensor(
            [[2.3, 2.29, 0.02, -0.01, -0.2, 0.25, -0.002, 0.0015, -0.0008], [1.8, 1.8, -0.03, 0.02, 0.1, 0.0, 0.0, 0.0, 0.0]]
        )
        out.append(A.CameraBatch(
            torch.tensor(np.stack([v.rotation for v in views]), dtype=torch.float32),
            torch.tensor(np.stack([v.center for v in views]), dtype=torch.float32),
            intr,
        ))
    return out


def test_real_cameras_film_windows_like_the_camera_module_with_distortion():
    world = world_sequences(3, 80)
    real = real_camera_batches(3)
    ds = wild.WildWindowDataset(world, 9, noise=None, flip=False, detector_layout=False, real_cameras=real, real_camera_prob=1.0)
    ids = torch.arange(0, len(ds), 3)
    points_cam, screen, cams = ds.render(ids, gen(21))
    windows = ds.windows(ids).double().numpy()
    seq_of = np.repeat(np.arange(3), 80)
    used = set()
    for i, sid in enumerate(ids.tolist()):
        options = real[seq_of[sid]]
        k = next(k for k in range(2) if torch.equal(cams.rotation[i], options.rotation[k]))  # one of its own cameras
        used.add((seq_of[sid], k))
        assert torch.equal(cams.intrinsics[i], options.intrinsics[k])
        expected_cam = cam.world_to_camera(windows[i], options.rotation[k].double().numpy(), options.center[k].double().numpy())
        np.testing.assert_allclose(points_cam[i].numpy(), expected_cam, atol=3e-5)
        expected = cam.project_to_2d(expected_cam, options.intrinsics[k].double().numpy())  # with lens distortion
        np.testing.assert_allclose(screen[i].numpy(), expected, atol=3e-5)
    assert len(used) == 6  # every camera of every sequence gets picked
    # the batch carries the real intrinsics (distortion included) and camera-frame targets
    batch = ds.gather(ids[:5], gen(22))
    assert (batch.intrinsics[:, 4] != 0).any()


def test_real_camera_fraction_mixes_and_zero_keeps_the_random_stream():
    world = world_sequences(2, 100)
    real = real_camera_batches(2)
    plain = wild.WildWindowDataset(world, 9, flip=False, noise=noise.NoiseConfig())
    off = wild.WildWindowDataset(world, 9, flip=False, noise=noise.NoiseConfig(), real_cameras=real, real_camera_prob=0.0)
    for x, y in zip(plain.batches(64, gen(5)), off.batches(64, gen(5))):
        assert torch.equal(x.inputs, y.inputs) and torch.equal(x.intrinsics, y.intrinsics)
    half = wild.WildWindowDataset(world, 9, flip=False, real_cameras=real, real_camera_prob=0.5)
    intr = torch.cat([b.intrinsics for b in half.batches(100, gen(6))])
    known = torch.cat([c.intrinsics for c in real])
    is_real = (intr[:, None, :] == known[None]).all(-1).any(-1)
    assert 0.4 < is_real.float().mean() < 0.6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"real_camera_prob": 1.5}, "real_camera_prob must be in"),
        ({"real_camera_prob": 0.5}, "needs real_cameras"),
        ({"real_camera_prob": 0.5, "real_cameras": real_camera_batches(1)}, "one CameraBatch per world sequence"),
        ({"real_camera_prob": 0.5, "real_cameras": [A.CameraBatch(torch.zeros(0, 3, 3), torch.zeros(0, 3), torch.zeros(0, 9))] * 2}, "C >= 1"),
    ],
)
def test_real_camera_options_are_checked(kwargs, match):
    with pytest.raises(PoseliftError, match=match):
        wild.WildWindowDataset(world_sequences(2, 30), 9, **kwargs)


def test_film_with_virtual_cameras_makes_exact_static_views():
    from poselift.data.datasets import WorldSequence, normalized_keypoints

    world = [WorldSequence("S9", f"Walking {i}", animate_figure(50, seed=i), 50.0) for i in range(2)]
    seqs = A.film_with_virtual_cameras(world, 3, gen(30))
    assert [s.key for s in seqs] == [f"S9/Walking {i}/virtual-{v}" for i in range(2) for v in range(3)]
    cfg = A.VirtualCameraConfig()
    lo, hi = cfg.focal_range()
    for s in seqs:
        assert s.keypoints_2d.shape == (50, 17, 2) and s.positions_3d.shape == (50, 17, 3) and s.fps == 50.0
        assert s.positions_3d[..., 2].min() >= cfg.min_depth_m - 1e-5
        intr = s.intrinsics.vector(normalized=True)
        assert lo - 1e-5 <= intr[0] <= hi + 1e-5 and (intr[4:] == 0).all()
        expected = cam.project_to_2d_linear(s.positions_3d.astype(np.float64), intr.astype(np.float64))
        np.testing.assert_allclose(normalized_keypoints(s), expected, atol=1e-5)
        # static camera: bone lengths in the camera frame equal the world ones
        w = world[int(s.name[-1])].positions_world
        np.testing.assert_allclose(np.linalg.norm(s.positions_3d[:, 1] - s.positions_3d[:, 0], axis=-1), np.linalg.norm(w[:, 1] - w[:, 0], axis=-1), atol=1e-5)
    again = A.film_with_virtual_cameras(world, 3, gen(30))
    assert all(np.array_equal(a.keypoints_2d, b.keypoints_2d) for a, b in zip(seqs, again))
    with pytest.raises(PoseliftError, match="views must be >= 1"):
        A.film_with_virtual_cameras(world, 0, gen(30))


def test_virtual_camera_presets_and_overrides():
    from poselift.cli.main import build_parser

    assert A.virtual_camera_config() == A.VirtualCameraConfig()
    studio = A.virtual_camera_config("studio")
    assert studio.fov_deg == (46.5, 47.5) and studio.aim_offset == A.VirtualCameraConfig().aim_offset
    centered = A.virtual_camera_config("studio-centered", ["yaw_deg=10,20", "roll_deg=2", "aspects=1"])
    assert (centered.yaw_deg, centered.roll_deg, centered.aspects, centered.aim_offset) == ((10.0, 20.0), 2.0, (1.0,), 0.0)
    for name in A.VIRTUAL_CAMERA_PRESETS:  # the CLI offers every preset
        assert build_parser().parse_args(["evaluate", "--virtual-preset", name]).virtual_preset == name
    for preset_name, items, match in [
        ("office", [], "unknown virtual camera preset"),
        ("wild", ["fov=40,50"], "NAME one of"),
        ("wild", ["fov_deg"], "expected NAME=VALUE"),
        ("wild", ["fov_deg=40,abc"], "comma-separated numbers"),
        ("wild", ["fov_deg=40"], "is a range"),
        ("wild", ["roll_deg=1,2"], "is one number"),
        ("wild", ["distance_m=1,nan"], "finite"),
        ("wild", ["fov_deg=50,40"], "low 50.0 > high 40.0"),
        ("wild", ["elevation_deg=-95,0"], "inside"),
    ]:
        with pytest.raises(PoseliftError, match=match):
            A.virtual_camera_config(preset_name, items)


# ------------------------------------------------------------------------ layout
def test_detector_layout_rules_hold_exactly():
    rng = np.random.default_rng(0)
    for pts in (rng.normal(size=(5, 9, 17, 2)), rng.normal(size=(4, 17, 3)).astype(np.float32)):
        out = skeleton.detector_layout_from_h36m(pts)
        np.testing.assert_allclose(out[..., 0, :], (pts[..., 1, :] + pts[..., 4, :]) / 2, atol=1e-6)
        np.testing.assert_allclose(out[..., 8, :], (pts[..., 11, :] + pts[..., 14, :]) / 2, atol=1e-6)
        np.testing.assert_allclose(out[..., 7, :], (out[..., 0, :] + out[..., 8, :]) / 2, atol=1e-6)
        np.testing.assert_array_equal(out[..., 9, :], pts[..., 9, :])
        head = pts[..., 9, :] + skeleton.HEAD_EYE_LERP * (pts[..., 10, :] - pts[..., 9, :])
        np.testing.assert_allclose(out[..., 10, :], head, atol=1e-6)
        same = [j for j in range(17) if j not in (0, 7, 8, 10)]
        np.testing.assert_array_equal(out[..., same, :], pts[..., same, :])
        t = skeleton.detector_layout_from_h36m(torch.as_tensor(pts))
        np.testing.assert_allclose(t.numpy(), out, atol=1e-6)
    with pytest.raises(PoseliftError):
        skeleton.detector_layout_from_h36m(np.zeros((3, 16, 2)))


def test_detector_layout_matches_the_coco_conversion_of_poselift_infer():
    """A COCO detection of the mocap pose (eyes straddling the approximated eye point)
    converted with poselift.geometry.skeleton gives exactly the detector layout."""
    rng = np.random.default_rng(1)
    mocap = rng.normal(size=(30, 17, 2))
    eyes = mocap[:, 9] + skeleton.HEAD_EYE_LERP * (mocap[:, 10] - mocap[:, 9])
    offset = rng.normal(size=(30, 2)) * 0.02
    coco = np.zeros((30, 17, 2))
    coco[:, 0] = mocap[:, 9]  # nose
    coco[:, 1], coco[:, 2] = eyes + offset, eyes - offset
    coco[:, 3], coco[:, 4] = eyes + 2 * offset, eyes - 2 * offset  # ears: unused
    for c, h in ((5, 11), (6, 14), (7, 12), (8, 15), (9, 13), (10, 16), (11, 4), (12, 1), (13, 5), (14, 2), (15, 6), (16, 3)):
        coco[:, c] = mocap[:, h]
    converted, _ = coco17_to_h36m17(coco)
    np.testing.assert_allclose(converted, skeleton.detector_layout_from_h36m(mocap), atol=1e-12)


def test_detector_layout_commutes_with_flip_and_screen_normalisation():
    rng = np.random.default_rng(2)
    px = rng.uniform(0, 1000, size=(7, 17, 2))
    np.testing.assert_allclose(
        skeleton.detector_layout_from_h36m(cam.normalize_screen(px, 1000, 800)),
        cam.normalize_screen(skeleton.detector_layout_from_h36m(px), 1000, 800), atol=1e-9,
    )
    x = torch.as_tensor(px)
    torch.testing.assert_close(skeleton.detector_layout_from_h36m(flip_keypoints(x, PERM)), flip_keypoints(skeleton.detector_layout_from_h36m(x), PERM))


# ------------------------------------------------------------------------- noise
def test_corrupt_with_all_noise_off_is_the_identity():
    kp = random_walk_keypoints()
    assert torch.equal(noise.corrupt_keypoints(kp, gen(0), noise.NoiseConfig.off()), kp)
    assert not torch.equal(noise.corrupt_keypoints(kp, gen(0)), kp)


def test_clean_prob_keeps_whole_windows_exact():
    kp = random_walk_keypoints(b=400)
    assert torch.equal(noise.corrupt_keypoints(kp, gen(0), noise.NoiseConfig(clean_prob=1.0)), kp)
    out = noise.corrupt_keypoints(kp, gen(0), noise.NoiseConfig(clean_prob=0.3))
    exact = (out == kp).flatten(1).all(1)
    assert 0.2 < exact.float().mean() < 0.4  # ~30% of windows untouched (jitter touches every other one)
    # the others are exactly what clean_prob=0 draws: the mask is drawn after the noise
    noisy = noise.corrupt_keypoints(kp, gen(0), noise.NoiseConfig())
    assert torch.equal(out[~exact], noisy[~exact])
    with pytest.raises(PoseliftError, match="clean_prob"):
        noise.NoiseConfig(clean_prob=1.5)


def test_noise_scales_with_the_bounding_box_height():
    kp = random_walk_keypoints(b=256)
    for cfg in (noise.NoiseConfig(), dataclasses.replace(noise.NoiseConfig.off(), jitter_max=0.03)):
        small = noise.corrupt_keypoints(kp, gen(7), cfg) - kp
        large = noise.corrupt_keypoints(kp * 3, gen(7), cfg) - kp * 3
        torch.testing.assert_close(large, small * 3, atol=1e-5, rtol=1e-4)
    # jitter only: error / bbox height ≈ E[s] = 0.015 (σ per window ~ U(0, 0.03))
    height = kp[..., 1].amax(-1) - kp[..., 1].amin(-1)
    err = small.norm(dim=-1) / height[..., None]
    mean_sigma = (err.pow(2).mean(dim=(1, 2)) / 2).sqrt()  # per window σ / h
    assert 0.0 <= mean_sigma.min() and mean_sigma.max() <= 0.033
    assert 0.012 < mean_sigma.mean() < 0.018


def test_outliers_and_bias_sizes():
    kp = random_walk_keypoints(b=256)
    height = (kp[..., 1].amax(-1) - kp[..., 1].amin(-1))[..., None]
    out = noise.corrupt_keypoints(kp, gen(8), dataclasses.replace(noise.NoiseConfig.off(), outlier_prob=0.01))
    moved = (out - kp).norm(dim=-1) / height
    hit = moved > 0
    assert 0.006 < hit.float().mean() < 0.014
    assert moved[hit].min() >= 0.05 - 1e-4 and moved[hit].max() <= 0.2 + 1e-4
    out = noise.corrupt_keypoints(kp, gen(9), dataclasses.replace(noise.NoiseConfig.off(), bias_max=0.02))
    bias = out - kp
    rel = (bias.norm(dim=-1) / height).max()
    assert rel <= 0.02 + 1e-5
    # constant over time in units of the frame's bbox height
    torch.testing.assert_close(bias / height[..., None], (bias / height[..., None])[:, :1].expand_as(bias), atol=1e-5, rtol=1e-4)


def test_gaps_are_linear_interpolations_between_the_gap_edges():
    kp = random_walk_keypoints(b=200, t=27)
    cfg = dataclasses.replace(noise.NoiseConfig.off(), gap_prob=1.0)
    out = noise.corrupt_keypoints(kp, gen(10), cfg)
    changed = (out != kp).any(-1)  # [B, T, J]
    assert not changed[:, 0].any() and not changed[:, -1].any()  # window ends untouched
    joints_hit = changed.any(1).sum(-1)
    assert joints_hit.min() >= 1 and joints_hit.max() <= 3
    lengths = set()
    for b in range(kp.shape[0]):
        for j in torch.nonzero(changed[b].any(0))[:, 0].tolist():
            frames = torch.nonzero(changed[b, :, j])[:, 0]
            s, e = int(frames[0]), int(frames[-1]) + 1  # one contiguous gap [s, e)
            assert len(frames) == e - s and 1 <= e - s <= 10
            lengths.add(e - s)
            w = (torch.arange(s, e) - (s - 1)).float()[:, None] / (e - s + 1)
            expected = kp[b, s - 1, j] + (kp[b, e, j] - kp[b, s - 1, j]) * w
            torch.testing.assert_close(out[b, s:e, j], expected, atol=1e-6, rtol=0)
        gap_frames = changed[b].any(-1)
        assert gap_frames.sum() <= 10
    assert len(lengths) > 5
    # the pipeline's gap filling gives the same values for such a gap
    from poselift.geometry.sequence import fill_gaps

    b = int(torch.nonzero(changed.any(-1).any(-1))[0])
    holes = kp[b].numpy().copy()
    holes[changed[b].numpy()] = np.nan
    filled = fill_gaps(holes, None, 10).points
    np.testing.assert_allclose(filled, out[b].numpy(), atol=1e-6)


def test_limb_swaps_exchange_left_and_right_for_a_few_frames():
    kp = random_walk_keypoints(b=100)
    out = noise.corrupt_keypoints(kp, gen(11), dataclasses.replace(noise.NoiseConfig.off(), swap_prob=1.0))
    for b in range(100):
        frames = torch.nonzero((out[b] != kp[b]).any(-1).any(-1))[:, 0]
        assert 2 <= len(frames) <= 8
        joints = set(torch.nonzero((out[b] != kp[b]).any(-1).any(0))[:, 0].tolist())
        assert joints in ({1, 2, 3, 4, 5, 6}, {11, 12, 13, 14, 15, 16})
        idx = sorted(joints)
        for f in frames.tolist():
            torch.testing.assert_close(out[b, f, idx], kp[b, f, PERM[idx]])


def test_corrupt_sequence_covers_whole_sequences():
    x = random_walk_keypoints(b=1, t=100)[0].numpy()
    out = noise.corrupt_sequence(x, gen(12), noise.NoiseConfig(), chunk_frames=27)
    assert out.shape == x.shape and np.isfinite(out).all() and not np.array_equal(out, x)
    np.testing.assert_array_equal(noise.corrupt_sequence(x, gen(12), noise.NoiseConfig(), chunk_frames=27), out)
    np.testing.assert_array_equal(noise.corrupt_sequence(x, gen(12), noise.NoiseConfig.off()), x)


def test_ar1_filter_gives_unit_variance_and_the_asked_correlation():
    filt = noise.ar1_filter(60, 0.8, torch.float64)
    assert filt.shape == (60, 60) and torch.equal(filt, filt.tril())
    x = filt @ torch.randn(60, 20000, generator=gen(13), dtype=torch.float64)
    torch.testing.assert_close(x.var(1), torch.ones(60, dtype=torch.float64), atol=0.05, rtol=0)
    for lag in (1, 2, 5):  # stationary AR(1): ρ^lag at every lag
        assert abs(float((x[lag:] * x[:-lag]).mean()) - 0.8**lag) < 0.03
    torch.testing.assert_close(noise.ar1_filter(5, 0.0), torch.eye(5))  # ρ = 0: independent frames


def test_slow_error_drifts_and_scales_per_joint():
    kp = random_walk_keypoints(b=2000, t=27)
    height = (kp[..., 1].amax(-1) - kp[..., 1].amin(-1))[..., None, None]
    gain = (1.0,) * 16 + (3.0,)
    cfg = dataclasses.replace(noise.NoiseConfig.off(), drift_scale=0.01, drift_correlation=0.9, joint_gain=gain)
    err = (noise.corrupt_keypoints(kp, gen(14), cfg) - kp) / height  # [B, T, J, 2] fractions of the height
    sigma = err.pow(2).mean(dim=(0, 1, 3)).sqrt()  # per joint
    torch.testing.assert_close(sigma[:16], torch.full((16,), 0.01), atol=0.001, rtol=0)
    assert abs(float(sigma[16] / sigma[:16].mean()) - 3.0) < 0.3
    lag1 = float((err[:, 1:] * err[:, :-1]).mean() / err.pow(2).mean())
    assert 0.85 < lag1 < 0.95  # slow, unlike the per-frame jitter
    jitter = noise.corrupt_keypoints(kp, gen(14), dataclasses.replace(noise.NoiseConfig.off(), jitter_max=0.03)) - kp
    assert abs(float((jitter[:, 1:] * jitter[:, :-1]).mean() / jitter.pow(2).mean())) < 0.05
    # a log-normal scale per window and joint: a heavy tail
    spread = noise.corrupt_keypoints(kp, gen(15), dataclasses.replace(cfg, drift_spread=1.2, joint_gain=None)) - kp
    rel = (spread / height).norm(dim=-1)
    assert float(rel.quantile(0.99) / rel.median()) > 2 * float((err[..., :16, :].norm(dim=-1)).quantile(0.99) / err[..., :16, :].norm(dim=-1).median())
    with pytest.raises(PoseliftError, match="3 factors for 17 joints"):
        noise.corrupt_keypoints(kp, gen(0), dataclasses.replace(cfg, joint_gain=(1.0, 1.0, 1.0)))


def test_slow_error_off_keeps_the_random_stream_of_the_independent_model():
    kp = random_walk_keypoints(b=100)
    base = noise.corrupt_keypoints(kp, gen(16), noise.NoiseConfig())
    same = noise.corrupt_keypoints(kp, gen(16), noise.NoiseConfig(drift_correlation=0.5, joint_gain=(2.0,) * 17))
    assert torch.equal(base, same)  # drift_scale 0: nothing drawn, the shipped recipe's batches are unchanged


@pytest.mark.parametrize("field, value, match", [
    ("drift_scale", -0.1, "drift_scale must be >= 0"), ("drift_spread", -1.0, "drift_spread must be >= 0"),
    ("drift_correlation", 1.0, r"drift_correlation must be in \[0, 1\)"), ("joint_gain", (1.0, -1.0), "joint_gain"),
    ("joint_gain", (), "joint_gain"),
])
def test_slow_error_settings_are_checked(field, value, match):
    with pytest.raises(PoseliftError, match=match):
        noise.NoiseConfig(**{field: value})


def test_noise_models_by_name():
    assert noise.noise_model("independent") == noise.NoiseConfig()
    correlated = noise.noise_model("correlated", clean_prob=0.2)
    assert correlated == noise.NoiseConfig.correlated(clean_prob=0.2) and correlated.clean_prob == 0.2
    assert correlated.drift_scale > 0 and len(correlated.joint_gain) == 17 and correlated.swap_prob > noise.NoiseConfig().swap_prob
    json.dumps(correlated.to_dict())
    with pytest.raises(PoseliftError, match="unknown noise model 'pink'"):
        noise.noise_model("pink")
    assert TrainConfig(recipe="wild", wild_noise_model="correlated").wild_noise() == noise.NoiseConfig.correlated()
    assert TrainConfig(recipe="wild", wild_clean_fraction=0.2).wild_noise() == noise.NoiseConfig(clean_prob=0.2)
    from poselift.geometry.skeleton import H36M_17, HUMANEVA_15
    from poselift.tools.evaluate import noise_for

    assert noise_for("correlated", H36M_17).joint_gain == noise.NoiseConfig.correlated().joint_gain
    humaneva = noise_for("correlated", HUMANEVA_15)  # the gains are H36M-17's: one gain for every joint
    assert humaneva.joint_gain is None and humaneva.drift_scale == noise.NoiseConfig.correlated().drift_scale
    noise.corrupt_keypoints(random_walk_keypoints(j=15), gen(0), humaneva)


def test_correlated_wild_noise_trains_and_is_recorded_and_evaluated(tmp_path, capsys):
    root, run = _train_tiny_wild(tmp_path, "--wild-noise", "correlated")
    _, meta = read_checkpoint(run / "last.pt")
    assert meta["train"]["wild_noise_model"] == "correlated"
    assert meta["augmentation"]["noise"]["drift_scale"] == noise.NoiseConfig.correlated().drift_scale
    capsys.readouterr()
    common = ["evaluate", "--checkpoint", str(run / "last.pt"), "--data-dir", str(root), "--subjects-test", "S9", "--json", "--no-flip"]
    reports = {}
    for model in ("independent", "correlated"):
        assert main([*common, "--noisy", "--noise-model", model]) == 0
        reports[model] = json.loads(capsys.readouterr().out)
        assert reports[model]["noise_model"] == model and np.isfinite(reports[model]["mpjpe_mm"])
    assert reports["independent"]["mpjpe_mm"] != reports["correlated"]["mpjpe_mm"]
    assert main([*common, "--noise-model", "correlated"]) == 2
    assert "add --noisy" in capsys.readouterr().err
    assert main(["train", "--dataset", "synthetic", "--wild-noise", "correlated", "--out", str(tmp_path / "x")]) == 2
    assert "only applies with --recipe wild" in capsys.readouterr().err


# ----------------------------------------------------------------------- dataset
def test_batches_have_the_right_shapes_and_no_nan():
    world = world_sequences(3, 100)
    ds = wild.WildWindowDataset(world, 27, stride=2, samples_per_window=3)
    assert len(ds) == 3 * 50 * 3
    seen = 0
    for batch in ds.batches(128, gen(13)):
        b = batch.inputs.shape[0]
        seen += b
        assert batch.inputs.shape == (b, 27, 17, 2)
        assert batch.targets.shape == (b, 1, 17, 3) and batch.trajectory.shape == (b, 1, 3)
        assert batch.intrinsics.shape == (b, 9) and batch.flipped.shape == (b,)
        for t in (batch.inputs, batch.targets, batch.trajectory, batch.intrinsics):
            assert torch.isfinite(t).all()
        assert (batch.targets[:, :, 0] == 0).all()
        assert (batch.trajectory[..., 2] >= 0.5).all()
    assert seen == len(ds)
    # targets are mocap bone lengths, whatever the camera
    bones = torch.tensor(H36M_17.bones())
    tgt = batch.targets[:, 0]
    lengths = (tgt[:, bones[:, 0]] - tgt[:, bones[:, 1]]).norm(dim=-1)
    assert lengths.min() > 0.05


def test_targets_belong_to_the_centre_frame_symmetric_and_causal():
    world = world_sequences(2, 60)
    for causal, centre in ((False, 13), (True, 26)):
        ds = wild.WildWindowDataset(world, 27, causal=causal, noise=None, flip=False, detector_layout=False)
        ids = torch.arange(len(ds))
        pc, screen, cams = ds.render(ids, gen(14))
        batch = ds.gather(ids, gen(14))
        torch.testing.assert_close(batch.trajectory[:, 0], pc[:, centre, 0])
        torch.testing.assert_close(batch.targets[:, 0], pc[:, centre] - pc[:, centre, :1])
        torch.testing.assert_close(batch.inputs, screen)
        # window ids 0..59 are sequence 0 frames 0..59: the output frame's world pose
        torch.testing.assert_close(ds.windows(ids)[:60, centre], torch.as_tensor(world[0]))


def test_flip_equals_projecting_the_mirrored_scene():
    world = world_sequences(2, 80)
    kwargs = dict(noise=None)
    plain = wild.WildWindowDataset(world, 9, flip=False, **kwargs)
    flip = wild.WildWindowDataset(world, 9, flip=True, **kwargs)
    ids = torch.arange(len(plain))
    a, b = plain.gather(ids, gen(15)), flip.gather(ids, gen(15))  # same cameras: the flip coin is drawn last
    f = b.flipped
    assert 0.3 < f.float().mean() < 0.7
    torch.testing.assert_close(b.inputs[~f], a.inputs[~f])
    torch.testing.assert_close(b.inputs[f], flip_keypoints(a.inputs[f], PERM))
    torch.testing.assert_close(b.targets[f], flip_keypoints(a.targets[f], PERM))
    torch.testing.assert_close(b.trajectory[f], a.trajectory[f] * torch.tensor([-1.0, 1.0, 1.0]))
    torch.testing.assert_close(b.intrinsics[f, 2], -a.intrinsics[f, 2])
    # the mirrored scene (x → -x in the camera frame, left ↔ right) seen through the
    # mirrored camera (cx → -cx) gives the flipped input
    pc, _, cams = plain.render(ids, gen(15))
    mirrored = flip_keypoints(pc, PERM)
    sign = torch.tensor([1, 1, -1, 1, 1, 1, 1, -1, 1.0])
    projected = skeleton.detector_layout_from_h36m(A.project_pinhole(mirrored, cams.intrinsics * sign))
    torch.testing.assert_close(projected[f], b.inputs[f], atol=1e-5, rtol=0)
    torch.testing.assert_close(b.targets[f], (mirrored[:, 4:5] - mirrored[:, 4:5, :1])[f])
    # flipping twice is the identity
    twice = wild.flip_batch(*wild.flip_batch(b.inputs, b.targets, b.trajectory, b.intrinsics, f, PERM), f, PERM)
    for x, y in zip(twice, (b.inputs, b.targets, b.trajectory, b.intrinsics)):
        torch.testing.assert_close(x, y)


def test_batches_are_deterministic_given_the_generator():
    ds = wild.WildWindowDataset(world_sequences(2, 60), 9, samples_per_window=2)
    first = list(ds.batches(50, gen(16)))
    again = list(ds.batches(50, gen(16)))
    other = list(ds.batches(50, gen(17)))
    for x, y in zip(first, again):
        for name in ("inputs", "targets", "trajectory", "intrinsics", "flipped"):
            assert torch.equal(getattr(x, name), getattr(y, name))
    assert not torch.equal(first[0].inputs, other[0].inputs)


def test_config_validation():
    with pytest.raises(PoseliftError):
        A.VirtualCameraConfig(fov_deg=(90, 40))
    with pytest.raises(PoseliftError):
        A.VirtualCameraConfig(elevation_deg=(-10, 95))
    with pytest.raises(PoseliftError):
        noise.NoiseConfig(gap_prob=1.5)
    with pytest.raises(PoseliftError):
        wild.WildWindowDataset([np.zeros((10, 16, 3))], 9)
    json.dumps({"camera": A.VirtualCameraConfig().to_dict(), "noise": noise.NoiseConfig().to_dict()})


# ------------------------------------------------------- training on a fake H36M
def make_fake_h36m(root, subjects=("S1", "S9"), frames=90):
    """positions_3d.npz (procedural figures, world metres, z up) + cameras.json with
    four simple look-at cameras per subject."""
    root.mkdir(parents=True, exist_ok=True)
    positions = {}
    for i, subject in enumerate(subjects):
        positions[f"{subject}/Walking 1"] = animate_figure(frames, seed=10 * i)
        positions[f"{subject}/Eating 2"] = animate_figure(frames + 10, seed=10 * i + 1)
    np.savez(root / "positions_3d.npz", **positions)
    intrinsics = {
        cid: {"focal_length": [1145.0, 1144.0], "center": [512.0, 515.0], "radial_distortion": [0, 0, 0],
              "tangential_distortion": [0, 0], "res_w": 1000, "res_h": 1002}
        for cid in H36M_CAMERAS
    }
    extrinsics = {}
    for subject in subjects:
        extrinsics[subject] = {}
        for k, cid in enumerate(H36M_CAMERAS):
            v = look_at_camera(distance=5.0, azimuth=k * math.pi / 2 + 0.3, height=1.6)
            extrinsics[subject][cid] = {"R_world_to_cam": v.rotation.tolist(), "center_m": v.center.tolist()}
    (root / "cameras.json").write_text(json.dumps({"intrinsics": intrinsics, "extrinsics": extrinsics}))
    return root, positions


def test_load_h36m_world_and_subset(tmp_path):
    root, positions = make_fake_h36m(tmp_path / "h36m")
    seqs = load_h36m_world(root, ["S1"])
    assert [s.key for s in seqs] == ["S1/Walking 1", "S1/Eating 2"]
    np.testing.assert_array_equal(seqs[0].positions_world, positions["S1/Walking 1"])
    assert [s.key for s in load_h36m_world(root, None, actions=["Eating"])] == ["S1/Eating 2", "S9/Eating 2"]
    sub = downsample_sequences(subset_sequences(seqs, 0.5, 3), 2)
    assert sub[0].num_frames == 23 and sub[0].fps == 25.0
    with pytest.raises(PoseliftError):
        load_h36m_world(root, ["S5"])


def test_wild_recipe_trains_evaluates_and_loads_for_infer(tmp_path, capsys):
    root, _ = make_fake_h36m(tmp_path / "h36m")
    run = tmp_path / "run"
    common = ["--data-dir", str(root), "--subjects-test", "S9"]
    rc = main([
        "train", "--recipe", "wild", *common, "--subjects-train", "S1", "--arc", "3,3", "--channels", "16",
        "--epochs", "1", "--batch-size", "256", "--threads", "1", "--out", str(run), "--no-progress",
    ])
    assert rc == 0
    payload, meta = read_checkpoint(run / "last.pt")
    assert meta["recipe"] == "wild" and meta["train"]["recipe"] == "wild"
    assert meta["input_layout"] == "h36m17-detector" and meta["joints_in"] == "h36m17"
    assert meta["fps"] == 50.0
    assert meta["focal_normalized"] == pytest.approx(A.VirtualCameraConfig().focal_reference())
    assert meta["focal_normalized_range"] == pytest.approx(list(A.VirtualCameraConfig().focal_range()))
    assert set(meta["augmentation"]) >= {"camera", "noise", "flip", "samples_per_window"}
    assert meta["augmentation"]["camera"]["fov_deg"] == [40.0, 90.0]
    assert "model_traj" in payload and "trajectory_model" in meta  # trajectory on by default
    record = meta["state"]["history"][0]
    assert record["epoch"] == 1 and np.isfinite(record["val_mpjpe_mm"]) and np.isfinite(record["train_trajectory_loss"])
    assert payload["model_pos"]  # weights written

    # evaluation honours the input layout; --noisy corrupts the test 2D (fixed seed)
    capsys.readouterr()
    out = {}
    for extra in ([], ["--noisy"], ["--noisy"]):
        assert main(["evaluate", "--checkpoint", str(run / "last.pt"), *common, "--json", "--no-flip", *extra]) == 0
        out.setdefault(bool(extra), []).append(json.loads(capsys.readouterr().out))
    clean, noisy = out[False][0], out[True][0]
    assert clean["input_layout"] == "h36m17-detector" and not clean["noisy"] and noisy["noisy"]
    assert clean["mpjpe_mm"] == pytest.approx(record["val_mpjpe_mm"], rel=1e-4)  # same as validation
    assert noisy["mpjpe_mm"] != clean["mpjpe_mm"]
    assert out[True][1]["mpjpe_mm"] == noisy["mpjpe_mm"]
    assert main(["evaluate", "--checkpoint", str(run / "last.pt"), *common, "--json", "--no-flip", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["mpjpe_mm"] == clean["mpjpe_mm"]
    if not torch.cuda.is_available():
        assert main(["evaluate", "--checkpoint", str(run / "last.pt"), *common, "--device", "cuda"]) != 0
        assert "sees no CUDA GPU" in capsys.readouterr().err

    # `poselift infer` accepts it and rescales depth from the stored focal length
    from poselift.models.lifter import check_lifter, model_fps, train_focal_normalized

    lifter = load_model(run / "last.pt")
    check_lifter(lifter, causal=False)
    assert lifter.trajectory_model is not None
    assert train_focal_normalized(lifter.metadata) == pytest.approx(1 / math.tan(math.radians(32.5)))
    assert model_fps(lifter.metadata) == 50.0

    # resuming with another recipe is refused
    with pytest.raises(PoseliftError, match="recipe"):
        Trainer(TrainConfig(data_dir=str(root), filter_widths=(3, 3), channels=16, epochs=2), run).load(run / "last.pt")


def test_wild_recipe_validation_input_uses_the_detector_layout(tmp_path):
    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S9",))
    std = load_split(TrainConfig(data_dir=str(root), subjects_test=["S9"]), train=False)
    wild = load_split(TrainConfig(data_dir=str(root), subjects_test=["S9"], recipe="wild"), train=False)
    assert len(std) == len(wild) == 8
    for s, w in zip(std, wild):
        np.testing.assert_allclose(w.keypoints_2d, skeleton.detector_layout_from_h36m(s.keypoints_2d), atol=1e-4)
        np.testing.assert_array_equal(w.positions_3d, s.positions_3d)  # targets stay mocap


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(dataset="synthetic"), "`dataset='h36m'`"),
        (dict(keypoints="sh"), "`keypoints='gt'`"),
        (dict(subjects_unlabeled=["S5"]), "`subjects_unlabeled`"),
        (dict(recipe="indoor"), "unknown `recipe`"),
        (dict(wild_clean_fraction=-0.1), "`wild_clean_fraction`"),
        (dict(trajectory_channels=0), "`trajectory_channels`"),
        (dict(trajectory=False, trajectory_channels=8), "needs a trajectory model"),
    ],
)
def test_wild_recipe_rejects_incompatible_options(tmp_path, overrides, match):
    cfg = TrainConfig(**{"recipe": "wild", "filter_widths": (3,), "channels": 8, **overrides})
    with pytest.raises(PoseliftError, match=match):
        Trainer(cfg, tmp_path / "run", progress=False)


def test_trajectory_default_follows_the_recipe():
    assert TrainConfig(recipe="wild").with_trajectory
    assert not TrainConfig(recipe="wild", trajectory=False).with_trajectory
    assert not TrainConfig().with_trajectory and TrainConfig(trajectory=True).with_trajectory
    assert TrainConfig.from_dict({"trajectory": False}).trajectory is False  # old checkpoints


def test_wild_clean_fraction_needs_the_recipe(tmp_path):
    with pytest.raises(PoseliftError, match="only applies with `recipe='wild'`"):
        Trainer(TrainConfig(dataset="synthetic", filter_widths=(3,), channels=8, wild_clean_fraction=0.5), tmp_path / "r")


def test_wild_real_cameras_need_the_recipe_and_a_valid_fraction(tmp_path):
    with pytest.raises(PoseliftError, match="only applies with `recipe='wild'`"):
        Trainer(TrainConfig(dataset="synthetic", filter_widths=(3,), channels=8, wild_real_cameras=0.5), tmp_path / "r")
    with pytest.raises(PoseliftError, match=r"must be in \[0, 1\]"):
        Trainer(TrainConfig(recipe="wild", filter_widths=(3,), channels=8, wild_real_cameras=-0.1), tmp_path / "r")


def _train_tiny_wild(tmp_path, *options: str):
    """One epoch of `poselift train --recipe wild` (RF 3, 8 channels) on a fake H36M
    (train S1, test S9) with extra ``options``; returns (data folder, run folder)."""
    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1", "S9"), frames=60)
    run = tmp_path / "run"
    assert main([
        "train", "--recipe", "wild", "--data-dir", str(root), "--subjects-train", "S1", "--subjects-test", "S9",
        "--arc", "3", "--channels", "8", "--epochs", "1", "--threads", "1", *options, "--out", str(run), "--no-progress",
    ]) == 0
    return root, run


def test_wild_recipe_with_real_cameras_trains_and_records_the_fraction(tmp_path, capsys):
    root, run = _train_tiny_wild(tmp_path, "--wild-real-cameras", "0.5", "--batch-size", "256")
    _, meta = read_checkpoint(run / "last.pt")
    assert meta["train"]["wild_real_cameras"] == 0.5 and meta["augmentation"]["real_camera_fraction"] == 0.5
    assert np.isfinite(meta["state"]["history"][0]["val_mpjpe_mm"])
    # evaluation away from the studio cameras: fixed random virtual cameras
    capsys.readouterr()
    common = ["evaluate", "--checkpoint", str(run / "last.pt"), "--data-dir", str(root), "--subjects-test", "S9", "--json", "--no-flip"]
    assert main([*common, "--virtual-cameras", "2"]) == 0
    virtual = json.loads(capsys.readouterr().out)
    assert virtual["virtual_cameras"] == 2 and np.isfinite(virtual["mpjpe_mm"])
    assert main([*common, "--virtual-cameras", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["mpjpe_mm"] == virtual["mpjpe_mm"]  # same cameras every time
    assert main(common) == 0
    assert json.loads(capsys.readouterr().out)["mpjpe_mm"] != virtual["mpjpe_mm"]
    # another camera distribution: other cameras, recorded in the JSON
    assert main([*common, "--virtual-cameras", "2", "--virtual-preset", "studio-centered", "--virtual-set", "yaw_deg=0,90"]) == 0
    studio = json.loads(capsys.readouterr().out)
    assert studio["mpjpe_mm"] != virtual["mpjpe_mm"] and studio["virtual_camera_preset"] == "studio-centered"
    assert studio["virtual_camera"]["yaw_deg"] == [0.0, 90.0] and studio["virtual_camera"]["aim_offset"] == 0.0
    assert virtual["virtual_camera"] == A.VirtualCameraConfig().to_dict()
    assert main([*common, "--virtual-preset", "studio"]) == 2
    assert "add --virtual-cameras" in capsys.readouterr().err
    assert main([*common, "--virtual-cameras", "2", "--virtual-set", "fov_deg=90"]) == 2
    assert "fov_deg is a range" in capsys.readouterr().err
    assert main([*common, "--virtual-cameras", "2", "--keypoints", "sh"]) == 2
    assert "--virtual-cameras films Human3.6M world 3D" in capsys.readouterr().err
    assert main([*common, "--virtual-cameras", "-1"]) == 2
    assert "positive number of views" in capsys.readouterr().err
    # a subject without calibrated cameras is a clear error
    cams = json.loads((root / "cameras.json").read_text())
    del cams["extrinsics"]["S1"]
    (root / "cameras.json").write_text(json.dumps(cams))
    from poselift.training.data import load_real_cameras, load_world_split

    cfg = TrainConfig(data_dir=str(root), subjects_train=["S1"], recipe="wild", wild_real_cameras=0.5)
    with pytest.raises(PoseliftError, match="no calibrated cameras for subject S1"):
        load_real_cameras(cfg, load_world_split(cfg))


def test_wild_camera_set_changes_the_training_prior_and_is_recorded(tmp_path, capsys):
    from poselift.training.data import wild_augmentation

    cfg = TrainConfig(recipe="wild", wild_camera_set=("elevation_deg=0,30", "roll_deg=0"))
    camera = wild_augmentation(cfg)["camera"]
    assert camera.elevation_deg == (0.0, 30.0) and camera.roll_deg == 0.0
    assert camera.fov_deg == A.VirtualCameraConfig().fov_deg  # the rest stays the default prior
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict({}).wild_camera_set == ()  # checkpoints from before the option
    options = ["--wild-camera-set", "elevation_deg=0,30", "--wild-camera-set", "roll_deg=0", "--batch-size", "256"]
    root, run = _train_tiny_wild(tmp_path, *options)
    _, meta = read_checkpoint(run / "last.pt")
    assert meta["train"]["wild_camera_set"] == ["elevation_deg=0,30", "roll_deg=0"]
    assert meta["augmentation"]["camera"]["elevation_deg"] == [0.0, 30.0] and meta["augmentation"]["camera"]["roll_deg"] == 0.0
    # resuming under another prior is refused instead of mixing two priors in one run
    capsys.readouterr()
    common = ["train", "--recipe", "wild", "--data-dir", str(root), "--subjects-train", "S1", "--subjects-test", "S9",
              "--arc", "3", "--channels", "8", "--epochs", "2", "--threads", "1", "--batch-size", "256",
              "--out", str(run), "--no-progress", "--resume"]
    assert main([*common, "--wild-camera-set", "elevation_deg=0,45"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main([*common, *options[:4]]) == 0


@pytest.mark.parametrize(
    "setting, match",
    [
        ("fov_deg=90", "fov_deg is a range"),
        ("elevation_deg=30,0", "low 30.0 > high 0.0"),
        ("elevation_deg=0,95", r"inside \(-90, 90\)"),
        ("tilt=3", "expected NAME=VALUE"),
        ("roll_deg=abc", "comma-separated numbers"),
    ],
)
def test_wild_camera_set_rejects_bad_settings_before_loading_data(tmp_path, capsys, setting, match):
    args = ["train", "--recipe", "wild", "--data-dir", str(tmp_path / "missing"), "--arc", "3", "--channels", "8",
            "--epochs", "1", "--wild-camera-set", setting, "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(args) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_wild_camera_set_needs_the_recipe(tmp_path):
    with pytest.raises(PoseliftError, match="`wild_camera_set` only applies with `recipe='wild'`"):
        Trainer(TrainConfig(dataset="synthetic", filter_widths=(3,), channels=8, wild_camera_set=("roll_deg=0",)), tmp_path / "r")


def test_smaller_trajectory_model_trains_loads_and_exports(tmp_path, capsys):
    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1", "S9"), frames=60)
    run = tmp_path / "run"
    args = [
        "train", "--recipe", "wild", "--data-dir", str(root), "--subjects-train", "S1", "--subjects-test", "S9",
        "--arc", "3,3", "--channels", "16", "--trajectory-channels", "8", "--wild-clean-fraction", "0.25",
        "--epochs", "1", "--batch-size", "256", "--threads", "1", "--out", str(run), "--no-progress",
    ]
    assert main(args) == 0
    payload, meta = read_checkpoint(run / "last.pt")
    assert meta["trajectory_model"]["channels"] == 8 and meta["model"]["channels"] == 16
    assert meta["train"]["wild_clean_fraction"] == 0.25 and meta["augmentation"]["noise"]["clean_prob"] == 0.25
    lifter = load_model(run / "last.pt")
    assert lifter.trajectory_model.config.channels == 8
    kp = torch.zeros(1, 40, 17, 2)
    assert lifter.predict_trajectory(kp).shape == (1, 40 - 8, 3)
    # resuming with another trajectory width is refused with a clear message
    capsys.readouterr()
    args[args.index("--trajectory-channels") + 1] = "16"
    assert main([*args[:-3], "--epochs", "2", "--out", str(run), "--no-progress", "--resume"]) == 2
    assert "trajectory model config differs" in capsys.readouterr().err
    # the export graph carries the smaller trajectory model too
    pytest.importorskip("onnx")
    assert main(["export", "--checkpoint", str(run / "last.pt"), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 0


def test_wild_run_resumes_exactly(tmp_path):
    from poselift.training.trainer import train

    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1",), frames=60)
    cfg = TrainConfig(
        data_dir=str(root), subjects_train=["S1"], recipe="wild", filter_widths=(3,), channels=8, epochs=2,
        batch_size=128, validate_every=0, threads=1, seed=3,
    )
    straight = train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False, stop_after=1)
    resumed = train(cfg, tmp_path / "b", progress=False, resume=True)
    (wa, _), (wb, _) = read_checkpoint(straight), read_checkpoint(resumed)
    for key in ("model_pos", "model_traj"):
        for name, tensor in wa[key].items():
            assert torch.equal(tensor, wb[key][name]), f"{key}.{name} differs after resume"


def test_resume_across_batch_devices_warns_and_continues(tmp_path, caplog):
    """A run whose batches were rendered on another device (a GPU run resumed on a CPU)
    cannot continue that random stream: it warns and goes on with a fresh one."""
    from poselift.models.checkpoint import save_checkpoint
    from poselift.training.trainer import train

    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1",), frames=60)
    cfg = TrainConfig(
        data_dir=str(root), subjects_train=["S1"], recipe="wild", filter_widths=(3,), channels=8, epochs=2,
        batch_size=128, validate_every=0, threads=1, seed=3,
    )
    path = train(cfg, tmp_path / "a", progress=False, stop_after=1)
    payload, meta = read_checkpoint(path)
    payload = {k: v for k, v in payload.items() if k not in ("format", "version")}  # written by save_checkpoint
    assert payload["rng_data_device"] == "cpu"
    payload["rng_data_device"] = "cuda"
    payload["rng_data"] = torch.zeros(16, dtype=torch.uint8)  # a Philox state: not a CPU generator's
    save_checkpoint(path, payload, meta)
    with caplog.at_level("WARNING", logger="poselift"):
        resumed = train(cfg, tmp_path / "a", progress=False, resume=True)
    assert "rendered its batches on cuda" in caplog.text
    assert read_checkpoint(resumed)[1]["state"]["epoch"] == 2


@pytest.mark.parametrize("value", ["cpu", "auto"])
def test_augment_device_option_is_recorded(tmp_path, value):
    root, run = _train_tiny_wild(tmp_path, "--batch-size", "128", "--validate-every", "0", "--augment-device", value)
    assert read_checkpoint(run / "last.pt")[1]["train"]["augment_device"] == value
    with pytest.raises(PoseliftError, match="`augment_device`"):
        Trainer(TrainConfig(data_dir=str(root), recipe="wild", augment_device="gpu"), tmp_path / "x")


def test_wild_metadata_describes_the_loader_that_trains(tmp_path):
    """The checkpoint's augmentation record and the training loader come from one source."""
    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1", "S9"), frames=60)
    cfg = TrainConfig(
        recipe="wild", data_dir=str(root), subjects_train=["S1"], subjects_test=["S9"], filter_widths=(3,), channels=8,
        wild_clean_fraction=0.3, wild_real_cameras=0.25, flip_augment=False, wild_limb_mix=0.4,
    )
    trainer = Trainer(cfg, tmp_path / "run")
    data, aug = trainer.train_data, trainer.metadata()["augmentation"]
    assert aug["samples_per_window"] == data.samples_per_window == 4  # no flips: 4 views per window
    assert aug["real_camera_fraction"] == data.real_camera_prob == 0.25
    assert aug["limb_mix"] == data.limb_mix == 0.4
    # the size infer's guard allows: the 99th percentile of these windows' 2D height, measured without
    # touching the training stream
    heights = data.screen_heights(count=2000)
    assert heights.shape == (2000,) and (heights > 0).all()
    np.testing.assert_array_equal(heights, data.screen_heights(count=2000))
    assert trainer.metadata()["input_height_p99"] == round(float(np.quantile(data.screen_heights(), 0.99)), 4)
    assert aug["noise"] == data.noise.to_dict() and aug["noise"]["clean_prob"] == 0.3
    assert aug["camera"] == data.camera.to_dict() and aug["flip"] is data.flip is False


def test_compact_int16_positions_load_as_metres(tmp_path):
    """A folder with only positions_3d_mm_int16.npz (what the GPU runs carry) reads like
    positions_3d.npz, to within the 0.5 mm rounding; a wrong dtype is a clear error."""
    root, positions = make_fake_h36m(tmp_path / "h36m")
    full = load_h36m_world(root, ["S1"])
    compact = tmp_path / "compact"
    compact.mkdir()
    (compact / "cameras.json").write_text((root / "cameras.json").read_text())
    np.savez(compact / "positions_3d_mm_int16.npz", **{k: np.round(v * 1000).astype(np.int16) for k, v in positions.items()})
    seqs = load_h36m_world(compact, ["S1"])
    assert [s.key for s in seqs] == [s.key for s in full]
    for a, b in zip(seqs, full):
        assert a.positions_world.dtype == np.float32
        assert np.abs(a.positions_world - b.positions_world).max() <= 0.0005 + 1e-6
    # the camera-based loader (evaluate, validation) reads it too
    assert len(load_split(TrainConfig(data_dir=str(compact), subjects_test=["S9"]), train=False)) == 2 * 4
    np.savez(compact / "positions_3d_mm_int16.npz", **{k: v.astype(np.float32) for k, v in positions.items()})
    with pytest.raises(PoseliftError, match="expected int16 millimetres"):
        load_h36m_world(compact, ["S1"])
    # positions_3d.npz wins when both are there
    np.savez(compact / "positions_3d.npz", **positions)
    np.testing.assert_array_equal(load_h36m_world(compact, ["S1"])[0].positions_world, full[0].positions_world)


def test_dataset_to_device_keeps_the_batches_and_checks_the_generator():
    """.to() moves every table (a CPU → CPU move changes nothing)."""
    ds = wild.WildWindowDataset(world_sequences(2, 60), 9, noise=noise.NoiseConfig(), samples_per_window=2)
    before = list(ds.batches(32, gen(5)))
    assert ds.to("cpu") is ds and ds.device == torch.device("cpu")
    after = list(ds.batches(32, gen(5)))
    for a, b in zip(before, after):
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    meta = wild.WildWindowDataset(world_sequences(1, 30), 3).to("meta")  # no data: only where the tables live
    assert all(getattr(meta, n).device.type == "meta" for n in ("world", "starts", "_window", "_perm"))


def test_masked_corruption_and_flip_equal_the_selecting_ones():
    """The GPU path (masks over the whole batch, no host sync) gives the same windows,
    bit for bit, as the CPU path (select the affected windows), from the same draws."""
    kp = random_walk_keypoints(b=96, t=27)
    cfg = noise.NoiseConfig(swap_prob=0.5, gap_prob=0.5, clean_prob=0.3)
    g1, g2 = gen(4), gen(4)
    selected = noise.corrupt_keypoints(kp, g1, cfg, masked=False)
    masked = noise.corrupt_keypoints(kp, g2, cfg, masked=True)
    assert torch.equal(selected, masked) and torch.equal(g1.get_state(), g2.get_state())
    assert not torch.equal(selected, kp)
    targets = torch.randn(96, 1, 17, 3)
    traj, intr = torch.randn(96, 1, 3), torch.randn(96, 9)
    flipped = torch.rand(96, generator=gen(5)) < 0.5
    a = wild.flip_batch(kp, targets, traj, intr, flipped, PERM, masked=False)
    b = wild.flip_batch(kp, targets, traj, intr, flipped, PERM, masked=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(a[0][~flipped], kp[~flipped]) and not torch.equal(a[0][flipped], kp[flipped])


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")


@needs_cuda
def test_batches_rendered_on_the_gpu_are_deterministic_and_well_formed():
    ds = wild.WildWindowDataset(world_sequences(2, 60), 9, noise=noise.NoiseConfig(clean_prob=0.2), samples_per_window=2).to("cuda")
    first = list(ds.batches(32, torch.Generator(device="cuda").manual_seed(3)))
    second = list(ds.batches(32, torch.Generator(device="cuda").manual_seed(3)))
    for a, b in zip(first, second):
        assert a.inputs.device.type == "cuda" and a.inputs.shape[1:] == (9, 17, 2)
        assert torch.isfinite(a.inputs).all() and torch.isfinite(a.targets).all()
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)


@needs_cuda
def test_wild_training_on_the_gpu_evaluates_and_resumes_on_the_cpu(tmp_path, capsys, caplog):
    from poselift.training.trainer import train

    root, _ = make_fake_h36m(tmp_path / "h36m", subjects=("S1", "S9"), frames=60)
    cfg = TrainConfig(
        data_dir=str(root), subjects_train=["S1"], subjects_test=["S9"], recipe="wild", filter_widths=(3,),
        channels=8, epochs=2, batch_size=128, validate_every=1, device="cuda",
    )
    last = train(cfg, tmp_path / "run", progress=False, stop_after=1)
    payload, meta = read_checkpoint(last)
    assert payload["rng_data_device"] == "cuda" and np.isfinite(meta["state"]["history"][0]["val_mpjpe_mm"])
    assert main(["evaluate", "--checkpoint", str(last), "--device", "cuda", "--json", "--no-flip"]) == 0
    assert np.isfinite(json.loads(capsys.readouterr().out)["mpjpe_mm"])
    with caplog.at_level("WARNING", logger="poselift"):
        train(dataclasses.replace(cfg, device="cpu"), tmp_path / "run", progress=False, resume=True)
    assert "rendered its batches on cuda" in caplog.text
