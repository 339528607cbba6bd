"""Cameras: records, world/camera frames, screen normalisation and projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import random_rotation

from poselift.errors import PoseliftError
from poselift.geometry import camera as cam
from poselift.geometry.camera import (
    Extrinsics,
    Intrinsics,
    camera_to_world,
    image_coordinates,
    load_cameras_json,
    normalize_screen,
    project_to_2d,
    project_to_2d_linear,
    world_to_camera,
)
from poselift.geometry.skeleton import MPII16_TO_H36M17

# Human3.6M camera 54138969 (rounded), pixels.
H36M_CAM = {
    "focal_length": [1145.0494, 1143.7811],
    "center": [512.5415, 515.4515],
    "radial_distortion": [-0.2070989, 0.2477752, -0.0030752],
    "tangential_distortion": [-0.0009757, -0.0014245],
    "res_w": 1000,
    "res_h": 1002,
}
#: Sign applied to a normalised intrinsic vector when the image is mirrored
#: (``poselift/data/windows.py``): cx and p1 change sign.
FLIP_SIGN = np.array([1, 1, -1, 1, 1, 1, 1, -1, 1], dtype=np.float64)


def _points_in_front(rng, shape, max_ratio=0.5) -> np.ndarray:
    """Camera-frame points with z in [2, 5] and |x/z|, |y/z| < max_ratio."""
    z = rng.uniform(2.0, 5.0, size=shape + (1,))
    xy = rng.uniform(-max_ratio, max_ratio, size=shape + (2,)) * z
    return np.concatenate([xy, z], axis=-1)


def _random_intrinsics(rng, normalized=True) -> np.ndarray:
    if normalized:
        f = rng.uniform(1.8, 2.4, size=2)
        c = rng.uniform(-0.05, 0.05, size=2)
    else:
        f = rng.uniform(900, 1200, size=2)
        c = rng.uniform(450, 550, size=2)
    k = np.array([-0.2, 0.25, -0.003]) + rng.uniform(-0.02, 0.02, size=3)
    p = rng.uniform(-0.003, 0.003, size=2)
    return np.concatenate([f, c, k, p])


# --- records ---------------------------------------------------------------------------


def test_intrinsics_vector_pixels_and_normalized():
    intr = Intrinsics.from_dict(H36M_CAM)
    assert intr.calibrated
    assert (intr.width, intr.height) == (1000, 1002)
    pix = intr.vector(normalized=False)
    assert pix.shape == (9,) and pix.dtype == np.float32
    np.testing.assert_allclose(
        pix,
        H36M_CAM["focal_length"] + H36M_CAM["center"] + H36M_CAM["radial_distortion"] + H36M_CAM["tangential_distortion"],
        rtol=1e-6,
    )
    norm = intr.vector()
    w, h = 1000, 1002
    np.testing.assert_allclose(norm[:2], np.array(H36M_CAM["focal_length"]) * 2 / w, rtol=1e-6)
    np.testing.assert_allclose(
        norm[2:4], [H36M_CAM["center"][0] / w * 2 - 1, H36M_CAM["center"][1] / w * 2 - h / w], rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(norm[4:], pix[4:])
    assert Intrinsics.from_dict(intr.to_dict()) == intr


def test_intrinsics_without_calibration():
    intr = Intrinsics.from_dict({"res_w": 640, "res_h": 480})
    assert not intr.calibrated
    assert intr.to_dict() == {"res_w": 640, "res_h": 480}
    with pytest.raises(PoseliftError, match="640x480"):
        intr.vector()


@pytest.mark.parametrize(
    "record, match",
    [
        ({"res_h": 1002, "focal_length": [1, 1], "center": [1, 1]}, "res_w"),
        ({"res_w": 1000, "focal_length": [1, 1], "center": [1, 1]}, "res_h"),
        ({"res_w": 0, "res_h": 1002}, "positive"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": ["a", 1], "center": [1, 1]}, "focal_length"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": "big", "center": [1, 1]}, "focal_length"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": [1, 2, 3], "center": [1, 1]}, "focal_length"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": [1, float("nan")], "center": [1, 1]}, "focal_length"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": [1, 1]}, "both"),
        ({"res_w": 1000, "res_h": 1002, "center": [1, 1]}, "both"),
        ({"res_w": 1000, "res_h": 1002, "focal_length": [1, 1], "center": [1, 1], "radial_distortion": [0, 0]}, "radial"),
        ([1, 2, 3], "object"),
    ],
)
def test_intrinsics_from_dict_errors(record, match):
    with pytest.raises(PoseliftError, match=match):
        Intrinsics.from_dict(record)


def test_extrinsics_from_dict():
    rng = np.random.default_rng(0)
    r = random_rotation(rng)
    ext = Extrinsics.from_dict({"R_world_to_cam": r.tolist(), "center_m": [1.0, 2.0, 3.0]})
    np.testing.assert_array_equal(ext.rotation, r)
    np.testing.assert_array_equal(ext.center, [1.0, 2.0, 3.0])
    back = Extrinsics.from_dict(ext.to_dict())
    np.testing.assert_array_equal(back.rotation, r)
    with pytest.raises(PoseliftError, match="rotation"):
        Extrinsics.from_dict({"R_world_to_cam": (2 * r).tolist(), "center_m": [0, 0, 0]})
    with pytest.raises(PoseliftError, match="3x3"):
        Extrinsics.from_dict({"R_world_to_cam": r[:2].tolist(), "center_m": [0, 0, 0]})
    with pytest.raises(PoseliftError, match="center_m"):
        Extrinsics.from_dict({"R_world_to_cam": r.tolist()})


def _write_cameras(path, rotation):
    path.write_text(json.dumps({
        "intrinsics": {"54138969": H36M_CAM},
        "extrinsics": {"S1": {"54138969": {"R_world_to_cam": rotation, "center_m": [1.0, 2.0, 3.0]}}},
    }))


def test_load_cameras_json_roundtrip(tmp_path):
    path = tmp_path / "cams.json"
    r = random_rotation(np.random.default_rng(1))
    _write_cameras(path, r.tolist())
    intrinsics, extrinsics = load_cameras_json(path)
    assert list(intrinsics) == ["54138969"]
    assert intrinsics["54138969"] == Intrinsics.from_dict(H36M_CAM)
    np.testing.assert_allclose(extrinsics["S1"]["54138969"].rotation, r)
    np.testing.assert_array_equal(extrinsics["S1"]["54138969"].center, [1.0, 2.0, 3.0])


def test_load_cameras_json_errors(tmp_path):
    missing = tmp_path / "missing_cams.json"
    with pytest.raises(PoseliftError, match="missing_cams.json"):
        load_cameras_json(missing)

    bad = tmp_path / "broken_cams.json"
    bad.write_text("{not json")
    with pytest.raises(PoseliftError, match="broken_cams.json"):
        load_cameras_json(bad)

    shape = tmp_path / "list_cams.json"
    shape.write_text("[1, 2]")
    with pytest.raises(PoseliftError, match="list_cams.json"):
        load_cameras_json(shape)

    not_rot = tmp_path / "skewed_cams.json"
    _write_cameras(not_rot, [[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(PoseliftError, match="skewed_cams.json") as info:
        load_cameras_json(not_rot)
    assert "rotation" in str(info.value)

    bad_intr = tmp_path / "nores_cams.json"
    bad_intr.write_text(json.dumps({"intrinsics": {"C1": {"res_h": 480}}}))
    with pytest.raises(PoseliftError, match="nores_cams.json"):
        load_cameras_json(bad_intr)


# --- frames -------------------------------------------------------------------------------


def test_world_camera_roundtrip_numpy():
    rng = np.random.default_rng(2)
    r = random_rotation(rng)
    c = rng.standard_normal(3) * 3
    world = rng.standard_normal((6, 17, 3))
    cam = world_to_camera(world, r, c)
    assert cam.shape == (6, 17, 3)
    # Per-point definition: Xc = R (X - c).
    np.testing.assert_allclose(cam[2, 5], r @ (world[2, 5] - c), atol=1e-12)
    np.testing.assert_allclose(world_to_camera(c, r, c), np.zeros(3), atol=1e-12)
    np.testing.assert_allclose(camera_to_world(cam, r, c), world, atol=1e-12)
    # Distances are preserved (rigid transform).
    np.testing.assert_allclose(
        np.linalg.norm(cam[:, 1] - cam[:, 0], axis=-1), np.linalg.norm(world[:, 1] - world[:, 0], axis=-1), rtol=1e-12
    )


def test_world_camera_roundtrip_torch():
    rng = np.random.default_rng(3)
    r = random_rotation(rng)
    c = rng.standard_normal(3)
    world = rng.standard_normal((5, 17, 3))
    world_t = torch.tensor(world, dtype=torch.float64, requires_grad=True)
    cam_t = world_to_camera(world_t, r, c)
    assert isinstance(cam_t, torch.Tensor) and cam_t.dtype == torch.float64
    np.testing.assert_allclose(cam_t.detach().numpy(), world_to_camera(world, r, c), atol=1e-12)
    back = camera_to_world(cam_t, torch.tensor(r), torch.tensor(c))
    np.testing.assert_allclose(back.detach().numpy(), world, atol=1e-12)
    back.sum().backward()
    np.testing.assert_allclose(world_t.grad.numpy(), np.ones_like(world), atol=1e-12)


def test_frames_reject_wrong_shape():
    with pytest.raises(PoseliftError):
        world_to_camera(np.zeros((4, 2)), np.eye(3), np.zeros(3))
    with pytest.raises(PoseliftError):
        camera_to_world(np.zeros((4, 2)), np.eye(3), np.zeros(3))


# --- screen coordinates --------------------------------------------------------------------


def test_normalize_screen_exact_values():
    w, h = 1000.0, 1002.0
    pts = np.array([[0.0, 0.0], [w, h], [w / 2, h / 2], [250.0, 100.0]])
    out = normalize_screen(pts, w, h)
    expected = np.array([
        [-1.0, -h / w],
        [1.0, h / w],
        [0.0, 0.0],
        [250 / w * 2 - 1, 100 / w * 2 - h / w],  # [-0.5, -0.802]
    ])
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[3], [-0.5, -0.802], atol=1e-12)
    # Aspect ratio kept: a pixel step is the same in x and y.
    d = normalize_screen(np.array([[11.0, 11.0]]), w, h) - normalize_screen(np.array([[10.0, 10.0]]), w, h)
    np.testing.assert_allclose(d, [[2 / w, 2 / w]], atol=1e-15)


def test_screen_roundtrip_numpy_and_torch():
    rng = np.random.default_rng(4)
    w, h = 640, 480
    pix = rng.uniform(0, 640, size=(7, 15, 2))
    screen = normalize_screen(pix, w, h)
    np.testing.assert_allclose(image_coordinates(screen, w, h), pix, atol=1e-9)
    pix_t = torch.tensor(pix)
    screen_t = normalize_screen(pix_t, w, h)
    assert isinstance(screen_t, torch.Tensor)
    np.testing.assert_allclose(screen_t.numpy(), screen, atol=1e-12)
    np.testing.assert_allclose(image_coordinates(screen_t, w, h).numpy(), pix, atol=1e-9)


def test_screen_errors():
    with pytest.raises(PoseliftError):
        normalize_screen(np.zeros((3, 3)), 10, 10)
    with pytest.raises(PoseliftError):
        normalize_screen(np.zeros((3, 2)), 0, 10)
    with pytest.raises(PoseliftError):
        image_coordinates(np.zeros((3, 2)), 10, -1)


# --- projection ----------------------------------------------------------------------------


def test_projection_hand_computed_single_point():
    fx, fy, cx, cy = 1100.0, 1090.0, 500.0, 510.0
    k1, k2, k3 = -0.2, 0.25, -0.01
    p1, p2 = 0.002, -0.003
    X, Y, Z = 0.3, -0.2, 2.0
    x, y = X / Z, Y / Z  # 0.15, -0.1
    r2 = x * x + y * y  # 0.0325
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    xd = x * (radial + tan) + p1 * r2
    yd = y * (radial + tan) + p2 * r2
    u, v = fx * xd + cx, fy * yd + cy
    intr = np.array([fx, fy, cx, cy, k1, k2, k3, p1, p2])
    out = project_to_2d(np.array([X, Y, Z]), intr)
    np.testing.assert_allclose(out, [u, v], rtol=0, atol=1e-9)
    # Worked by hand: radial = 1 - 0.0065 + 0.0002640625 - 0.000000343281 = 0.993763719,
    # tan = 0.0003 + 0.0003 = 0.0006, x' = 0.15 * 0.994363719 + 0.000065 = 0.149219558,
    # y' = -0.1 * 0.994363719 - 0.0000975 = -0.099533872.
    np.testing.assert_allclose(out, [664.1415137, 401.5080796], rtol=0, atol=1e-6)
    out_t = project_to_2d(torch.tensor([X, Y, Z], dtype=torch.float64), torch.tensor(intr))
    np.testing.assert_allclose(out_t.numpy(), [u, v], rtol=0, atol=1e-9)
    lin = project_to_2d_linear(np.array([X, Y, Z]), intr)
    np.testing.assert_allclose(lin, [fx * x + cx, fy * y + cy], atol=1e-9)


def test_project_numpy_matches_torch_with_distortion():
    rng = np.random.default_rng(5)
    pts = _points_in_front(rng, (4, 17), max_ratio=0.9)
    for normalized in (True, False):
        intr = _random_intrinsics(rng, normalized)
        np_out = project_to_2d(pts, intr)
        t_out = project_to_2d(torch.tensor(pts), torch.tensor(intr))
        assert np_out.shape == (4, 17, 2) and t_out.shape == (4, 17, 2)
        assert t_out.dtype == torch.float64
        np.testing.assert_allclose(t_out.numpy(), np_out, rtol=1e-12, atol=1e-12)
        np_lin = project_to_2d_linear(pts, intr)
        t_lin = project_to_2d_linear(torch.tensor(pts), torch.tensor(intr))
        np.testing.assert_allclose(t_lin.numpy(), np_lin, rtol=1e-12, atol=1e-12)


def test_zero_distortion_equals_linear():
    rng = np.random.default_rng(6)
    pts = _points_in_front(rng, (3, 17))
    intr = _random_intrinsics(rng, normalized=False)
    intr[4:] = 0
    np.testing.assert_allclose(project_to_2d(pts, intr), project_to_2d_linear(pts, intr), rtol=0, atol=1e-9)
    pts_t, intr_t = torch.tensor(pts), torch.tensor(intr)
    np.testing.assert_allclose(
        project_to_2d(pts_t, intr_t).numpy(), project_to_2d_linear(pts_t, intr_t).numpy(), rtol=0, atol=1e-9
    )
    # With distortion the two differ.
    intr2 = _random_intrinsics(rng, normalized=False)
    assert np.abs(project_to_2d(pts, intr2) - project_to_2d_linear(pts, intr2)).max() > 1.0


def test_normalized_vector_projects_to_screen_coordinates():
    rng = np.random.default_rng(7)
    cam = Intrinsics.from_dict(H36M_CAM)
    pts = _points_in_front(rng, (5, 17))
    pix = project_to_2d(pts, cam.vector(normalized=False).astype(np.float64))
    screen = project_to_2d(pts, cam.vector(normalized=True).astype(np.float64))
    np.testing.assert_allclose(screen, normalize_screen(pix, cam.width, cam.height), rtol=0, atol=1e-6)
    lin_pix = project_to_2d_linear(pts, cam.vector(normalized=False).astype(np.float64))
    lin_screen = project_to_2d_linear(pts, cam.vector(normalized=True).astype(np.float64))
    np.testing.assert_allclose(lin_screen, normalize_screen(lin_pix, cam.width, cam.height), rtol=0, atol=1e-6)


def test_batched_intrinsics_equal_per_item():
    rng = np.random.default_rng(8)
    b = 3
    pts = _points_in_front(rng, (b, 4, 17))
    intr = np.stack([_random_intrinsics(rng) for _ in range(b)])
    out = project_to_2d(pts, intr)
    out_lin = project_to_2d_linear(pts, intr)
    assert out.shape == (b, 4, 17, 2)
    out_t = project_to_2d(torch.tensor(pts), torch.tensor(intr)).numpy()
    for i in range(b):
        np.testing.assert_allclose(out[i], project_to_2d(pts[i], intr[i]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(out_lin[i], project_to_2d_linear(pts[i], intr[i]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(out_t[i], project_to_2d(pts[i], intr[i]), rtol=0, atol=1e-12)
    # The items really use different cameras.
    assert not np.allclose(out[0], project_to_2d(pts[0], intr[1]))


def test_projection_shape_errors():
    with pytest.raises(PoseliftError):
        project_to_2d(np.ones((4, 17, 3)), np.ones(8))
    with pytest.raises(PoseliftError):
        project_to_2d(np.ones((4, 17, 2)), np.ones(9))
    with pytest.raises(PoseliftError):
        project_to_2d_linear(np.ones((3,)), np.ones((2, 9)))


def test_torch_projection_clamps_wild_points():
    intr = torch.tensor(_random_intrinsics(np.random.default_rng(9)))
    pts = torch.tensor([[1.0, -1.0, 1e-6], [0.1, 0.1, 2.0]], dtype=torch.float64)
    out = project_to_2d(pts, intr)
    assert torch.isfinite(out).all()
    # The clamped point projects like x/z = 1, y/z = -1.
    ref = project_to_2d(np.array([1.0, -1.0, 1.0]), intr.numpy())
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("fn", [project_to_2d, project_to_2d_linear])
@pytest.mark.parametrize("batched", [False, True])
def test_projection_gradcheck(fn, batched):
    rng = np.random.default_rng(10)
    pts = torch.tensor(_points_in_front(rng, (2, 3, 4)), dtype=torch.float64, requires_grad=True)
    if batched:
        intr_np = np.stack([_random_intrinsics(rng) for _ in range(2)])
    else:
        intr_np = _random_intrinsics(rng)
    intr = torch.tensor(intr_np, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (pts, intr), eps=1e-6, atol=1e-5)
    out = fn(pts, intr)
    out.sum().backward()
    assert torch.isfinite(pts.grad).all() and torch.isfinite(intr.grad).all()
    assert pts.grad.abs().sum() > 0
    if fn is project_to_2d:
        assert (intr.grad[..., 4:].abs() > 0).all(), "distortion parameters must receive gradients"


# --- horizontal flip -----------------------------------------------------------------------


@pytest.mark.parametrize("use_torch", [False, True])
def test_flip_negates_cx_and_p1(use_torch):
    """Mirroring the image (screen x -> -x, pixels u -> w - u) equals projecting the
    x-negated points with cx and p1 negated in the normalised vector."""
    rng = np.random.default_rng(11)
    cam = Intrinsics.from_dict(H36M_CAM)
    intr = cam.vector(normalized=True).astype(np.float64)
    pts = _points_in_front(rng, (4, 17))
    mirrored_pts = pts * np.array([-1.0, 1.0, 1.0])
    if use_torch:
        screen = project_to_2d(torch.tensor(pts), torch.tensor(intr)).numpy()
        flipped = project_to_2d(torch.tensor(mirrored_pts), torch.tensor(intr * FLIP_SIGN)).numpy()
    else:
        screen = project_to_2d(pts, intr)
        flipped = project_to_2d(mirrored_pts, intr * FLIP_SIGN)
    np.testing.assert_allclose(flipped, screen * np.array([-1.0, 1.0]), rtol=0, atol=1e-12)
    # The same in pixels: u -> w - u, v unchanged.
    pix = image_coordinates(screen, cam.width, cam.height)
    pix_flipped = image_coordinates(flipped, cam.width, cam.height)
    np.testing.assert_allclose(pix_flipped[..., 0], cam.width - pix[..., 0], atol=1e-9)
    np.testing.assert_allclose(pix_flipped[..., 1], pix[..., 1], atol=1e-9)
    # Negating only cx (not p1) would not be exact with tangential distortion.
    sign_cx_only = np.array([1, 1, -1, 1, 1, 1, 1, 1, 1], dtype=np.float64)
    wrong = project_to_2d(mirrored_pts, intr * sign_cx_only)
    assert np.abs(wrong - screen * np.array([-1.0, 1.0])).max() > 1e-6


# --- real data --------------------------------------------------------------------------------

H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")


@pytest.mark.realdata
def test_real_cameras_json(h36m_dir):
    intrinsics, extrinsics = load_cameras_json(h36m_dir / "cameras.json")
    assert sorted(intrinsics) == sorted(H36M_CAMERAS)
    for intr in intrinsics.values():
        assert intr.calibrated
        assert intr.width > 0 and intr.height > 0
    assert sorted(extrinsics) == sorted(H36M_SUBJECTS)
    for subject in H36M_SUBJECTS:
        assert sorted(extrinsics[subject]) == sorted(H36M_CAMERAS)
        for ext in extrinsics[subject].values():
            np.testing.assert_allclose(ext.rotation @ ext.rotation.T, np.eye(3), atol=1e-4)


@pytest.mark.realdata
def test_real_projection_matches_detections(h36m_dir):
    intrinsics, extrinsics = load_cameras_json(h36m_dir / "cameras.json")
    with np.load(h36m_dir / "positions_3d.npz", allow_pickle=False) as f:
        world = f["S1/Walking 1"].astype(np.float64)
    with np.load(h36m_dir / "keypoints_2d_sh_pt_mpii.npz", allow_pickle=False) as f:
        det = f["S1/Walking 1/54138969"].astype(np.float64)
    assert world.shape[1:] == (17, 3) and det.shape == (world.shape[0], 16, 2)
    ext = extrinsics["S1"]["54138969"]
    cam = world_to_camera(world, ext.rotation, ext.center)
    assert (cam[..., 2] > 1.0).all(), "the subject is in front of the camera"
    pix = project_to_2d(cam, intrinsics["54138969"].vector(normalized=False))
    mpii = list(MPII16_TO_H36M17)
    h36 = [MPII16_TO_H36M17[m] for m in mpii]
    dist = np.linalg.norm(pix[:, h36] - det[:, mpii], axis=-1)
    median = float(np.median(dist))
    assert median < 20.0, f"median detection-to-projection distance {median:.1f} px"
    # The torch path (as used in training) gives the same pixels.
    pix_t = project_to_2d(torch.tensor(cam[:50]), torch.tensor(intrinsics["54138969"].vector(normalized=False)))
    np.testing.assert_allclose(pix_t.numpy(), pix[:50], atol=1e-6)


def test_fit_root_position_recovers_the_translation():
    rng = np.random.default_rng(3)
    pose = rng.normal(size=(4, 6, 17, 3)) * 0.3
    pose -= pose[..., :1, :]
    root = rng.normal(size=(4, 6, 3)) * 0.4 + np.array([0.0, 0.0, 5.0])
    intr = np.array([1.8, 1.9, 0.05, -0.02, 0, 0, 0, 0, 0])
    kp = cam.project_to_2d_linear(pose + root[..., None, :], intr)
    np.testing.assert_allclose(cam.fit_root_position(pose, kp, intr), root, atol=1e-9)
    # unusable joints (NaN, zero weight) are left out; a joint pulled far off with weight 0 changes nothing
    bad = kp.copy()
    bad[..., 3, :] = np.nan
    bad[..., 5, :] += 10.0
    weights = np.ones(kp.shape[:-1])
    weights[..., 5] = 0
    np.testing.assert_allclose(cam.fit_root_position(pose, bad, intr, weights), root, atol=1e-9)
    # fewer than two usable joints, or all at one 2D point: NaN, no exception
    one = np.full_like(kp, np.nan)
    one[..., 0, :] = kp[..., 0, :]
    assert np.isnan(cam.fit_root_position(pose, one, intr)).all()
    same = np.broadcast_to(kp[..., :1, :], kp.shape)
    assert np.isnan(cam.fit_root_position(pose, same, intr)).all()
    # a detector that swapped two keypoints: the robust fit stays closer to the truth
    swapped = kp.copy()
    swapped[..., [1, 4], :] = kp[..., [4, 1], :]
    swapped[..., [2, 5], :] = kp[..., [5, 2], :]
    plain = np.linalg.norm(cam.fit_root_position(pose, swapped, intr) - root, axis=-1)
    robust = np.linalg.norm(cam.fit_root_position(pose, swapped, intr, robust_iterations=3) - root, axis=-1)
    assert robust.mean() < 0.7 * plain.mean()
    np.testing.assert_allclose(cam.fit_root_position(pose, kp, intr, robust_iterations=3), root, atol=1e-9)
    assert np.isnan(cam.fit_root_position(pose, one, intr, robust_iterations=2)).all()
    with pytest.raises(PoseliftError, match="expected pose"):
        cam.fit_root_position(pose, kp[..., :16, :], intr)
    with pytest.raises(PoseliftError, match="expected pose"):
        cam.fit_root_position(pose, kp, intr[:4])
