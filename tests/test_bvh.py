"""BVH export: file structure, the reader's conventions, and forward kinematics of the
written file reproducing the input (bone directions exact; positions exact up to
bone-length normalisation)."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synthetic import animate_figure, look_at_camera, synthetic_sequence
from poselift.errors import PoseliftError
from poselift.geometry.skeleton import COCO_17, H36M_17
from poselift.io import bvh
from poselift.io.exports import write_bvh

PARENTS = np.array(H36M_17.parents)


def fk_joints(path_or_text, skeleton=H36M_17, camera_rotation=None, scale=100.0):
    """FK of a BVH file → skeleton joints ``[T, J, 3]`` in metres, camera frame."""
    text = path_or_text.read_text() if hasattr(path_or_text, "read_text") else path_or_text
    names, pos = bvh.bvh_forward_kinematics(text)
    idx = [names.index(bvh._bvh_name(n)) for n in skeleton.joint_names]
    return bvh.bvh_to_camera(pos[:, idx] / scale, camera_rotation)


def normalised(pose, parents=PARENTS):
    """The input with every bone rescaled to its median length (directions kept)."""
    pose = np.asarray(pose, np.float64)
    out = np.zeros_like(pose)
    out[:, 0] = pose[:, 0]
    bones = pose[:, 1:] - pose[:, parents[1:]]
    lengths = np.linalg.norm(bones, axis=-1)
    med = np.median(lengths, axis=0)
    for j in range(1, len(parents)):
        out[:, j] = out[:, parents[j]] + bones[:, j - 1] / lengths[:, j - 1, None] * med[j - 1]
    return out


def bone_angles(a, b, parents=PARENTS):
    """Angle (rad) between corresponding bones of two pose sequences ``[T, J-1]``."""
    ba = a[:, 1:] - a[:, parents[1:]]
    bb = b[:, 1:] - b[:, parents[1:]]
    return np.arctan2(np.linalg.norm(np.cross(ba, bb), axis=-1), (ba * bb).sum(-1))


# ----------------------------------------------------------------------- reader / FK
def test_reader_conventions_zxy_order_and_offsets():
    text = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT B
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.02
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
"""
    data = bvh.parse_bvh(text)
    assert data.names == ["A", "B"] and data.parents == [-1, 0] and data.fps == pytest.approx(50)
    names, pos = bvh.bvh_forward_kinematics(data)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3]], atol=1e-9)
    # 90° about Z turns the +Y offset to -X
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [-10, 0, 0]], atol=1e-9)


def test_euler_zxy_roundtrip_including_gimbal():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(200, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    rot = np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)
    gimbal = bvh._axis_rotation("Z", np.array([0.3, -1.0])) @ bvh._axis_rotation("X", np.array([np.pi / 2, -np.pi / 2]))
    rot = np.concatenate([rot, gimbal @ bvh._axis_rotation("Y", np.array([0.7, 0.2]))])
    zxy = bvh._euler_zxy(rot)
    back = bvh._axis_rotation("Z", zxy[:, 0]) @ bvh._axis_rotation("X", zxy[:, 1]) @ bvh._axis_rotation("Y", zxy[:, 2])
    np.testing.assert_allclose(back, rot, atol=1e-7)


# ------------------------------------------------------------------------ structure
def test_file_structure_tpose_and_channels(tmp_path):
    seq = synthetic_sequence(30, seed=1)
    path = write_bvh(tmp_path / "m.bvh", seq.positions_3d, H36M_17, 50.0)
    text = path.read_text()
    data = bvh.parse_bvh(text)
    assert data.motion.shape[0] == 30 and data.frame_time == pytest.approx(0.02)
    assert data.names[0] == "Hip" and data.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(ch == ["Zrotation", "Xrotation", "Yrotation"] for ch in data.channels[1:])
    for name in ("RHip", "RKnee", "RFoot", "LHip", "Spine", "Thorax", "NeckNose", "Head", "LShoulder", "LWrist", "RWrist"):
        assert name in data.names
    # branch joints: the non-primary children of Hip and Thorax, zero offset
    for name in ("Hip_RHip", "Hip_LHip", "Thorax_LShoulder", "Thorax_RShoulder"):
        assert np.allclose(data.offsets[data.names.index(name)], 0)
    assert len(data.end_sites) == 5  # feet, head, wrists
    # T-pose (cm): legs down, spine up, the subject's left along +X, right along -X
    off = {n: data.offsets[i] for i, n in enumerate(data.names)}
    lengths = np.median(np.linalg.norm(seq.positions_3d[:, 1:] - seq.positions_3d[:, PARENTS[1:]], axis=-1), 0) * 100
    assert off["RKnee"][1] == pytest.approx(-lengths[1], rel=1e-5) and abs(off["RKnee"][[0, 2]]).max() < 1e-9
    assert off["Spine"][1] > 0 and off["LShoulder"][0] > 0 and off["RShoulder"][0] < 0 and off["LElbow"][0] > 0
    assert off["LHip"][0] > 0 and off["RHip"][0] < 0


def test_csv_json_and_bvh_name_the_joints_alike(tmp_path):
    """One name per joint in every output (before: Neck/Nose in CSV/JSON, Neck_Nose in BVH)."""
    import csv
    import json

    from poselift.io.exports import write_csv, write_json

    seq = synthetic_sequence(4, seed=1)
    t, j = seq.positions_3d.shape[:2]
    names = list(H36M_17.joint_names)
    write_csv(tmp_path / "p.csv", seq.positions_3d, np.zeros((t, j, 2)), np.ones((t, j)), np.zeros(t, bool), 50.0, names)
    with open(tmp_path / "p.csv", newline="") as f:
        csv_names = list(dict.fromkeys(row["joint"] for row in csv.DictReader(f)))
    write_json(tmp_path / "p.json", {"joint_names": names})
    json_names = json.loads((tmp_path / "p.json").read_text())["joint_names"]
    bvh_names = bvh.parse_bvh(write_bvh(tmp_path / "p.bvh", seq.positions_3d, H36M_17, 50.0).read_text()).names
    assert csv_names == json_names == names
    assert set(names) <= set(bvh_names)  # plus the zero-length branch joints, e.g. Thorax_LShoulder
    assert "NeckNose" in names and not any("/" in n or " " in n for n in bvh_names)


def test_tpose_directions_by_name_and_fallback():
    d = bvh.tpose_directions(H36M_17)
    assert d is not None and np.allclose(np.linalg.norm(d[1:], axis=1), 1)
    assert bvh.tpose_directions(COCO_17) is None  # eyes/ears: no T-pose rule → rest="first"


# ------------------------------------------------------------------ forward kinematics
def test_roundtrip_exact_with_branch_joints(tmp_path):
    seq = synthetic_sequence(120, seed=3)
    pose = seq.positions_3d.astype(np.float64)
    pose[:, 12] += 0.01 * np.sin(np.arange(120) / 7)[:, None]  # vary a bone length a little
    rec = fk_joints(write_bvh(tmp_path / "m.bvh", pose, H36M_17, 50.0))
    assert bone_angles(rec, pose).max() < 1e-3  # every bone direction (rad)
    assert np.linalg.norm(rec - normalised(pose), axis=-1).max() < 1e-3  # metres, up to bone lengths
    assert np.linalg.norm(rec[:, 0] - pose[:, 0], axis=-1).max() < 1e-5  # root position


def test_constant_bone_lengths_reproduce_positions(tmp_path):
    # the procedural figure has constant bones: FK must give back the input positions
    world = animate_figure(80, seed=5)
    camera = look_at_camera(distance=5.0, azimuth=1.0, height=1.7)
    pose = (world - camera.center) @ camera.rotation.T
    for rotation in (None, camera.rotation):
        path = write_bvh(tmp_path / "c.bvh", pose, H36M_17, 25.0, camera_rotation=rotation)
        rec = fk_joints(path, camera_rotation=rotation)
        assert np.linalg.norm(rec - pose, axis=-1).max() < 0.01
    # with the camera rotation the file is upright: the head is above the feet (Y up)
    names, fk = bvh.bvh_forward_kinematics(path.read_text())
    assert (fk[:, names.index("Head"), 1] > fk[:, names.index("RFoot"), 1] + 100).all()


def random_rotations(rng, shape):
    q = rng.normal(size=shape + (4,))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def test_plain_tree_exact_when_pose_is_rest_pose_up_to_rotations(tmp_path):
    """branch_joints=False: one rotation per skeleton joint, so siblings (Hip's and
    Thorax's children) keep their rest geometry. Poses built that way come back exactly."""
    rng = np.random.default_rng(2)
    t = 40
    rest = bvh.tpose_directions(H36M_17)
    lengths = np.array([0, .13, .45, .44, .13, .45, .44, .23, .25, .11, .12, .16, .28, .25, .16, .28, .25])
    rot = random_rotations(rng, (t, 17))
    world = np.zeros((t, 17, 3))
    world[:, 0] = rng.normal(size=(t, 3))
    for j in range(1, 17):
        p = PARENTS[j]
        world[:, j] = world[:, p] + np.einsum("tij,j->ti", rot[:, p], rest[j] * lengths[j])
    pose = bvh.bvh_to_camera(world)
    rec = fk_joints(write_bvh(tmp_path / "r.bvh", pose, H36M_17, 50.0, branch_joints=False))
    assert np.linalg.norm(rec - pose, axis=-1).max() < 0.01
    assert np.linalg.norm(rec - pose, axis=-1).max() < 1e-5  # in fact exact


def test_plain_tree_on_real_motion_errors_only_at_multi_child_joints(tmp_path):
    """branch_joints=False on general motion: single-child bones stay exact; the
    children of Hip/Thorax share one least-squares rotation (documented error)."""
    pose = synthetic_sequence(100, seed=9).positions_3d.astype(np.float64)
    rec = fk_joints(write_bvh(tmp_path / "p.bvh", pose, H36M_17, 50.0, branch_joints=False))
    ang = bone_angles(rec, pose)  # per bone, bone index = joint - 1
    multi_child_children = {1, 4, 7, 9, 11, 14}  # children of Hip (0) and Thorax (8)
    single = [j - 1 for j in range(1, 17) if j not in multi_child_children]
    assert ang[:, single].max() < 1e-3
    err = np.linalg.norm(rec - pose, axis=-1)
    assert err.max() < 0.03  # the procedural figure: ≤ ~2 cm


def test_rest_first_for_unknown_names(tmp_path):
    rng = np.random.default_rng(4)
    pose = rng.normal(size=(15, 17, 3))
    rec_path = write_bvh(tmp_path / "coco.bvh", pose, COCO_17, 30.0)
    names, fk = bvh.bvh_forward_kinematics(rec_path.read_text())
    idx = [names.index(bvh._bvh_name(n)) for n in COCO_17.joint_names]
    rec = bvh.bvh_to_camera(fk[:, idx] / 100)
    parents = np.array(COCO_17.parents)
    assert bone_angles(rec, pose, parents).max() < 1e-3


def test_root_positions_and_scale(tmp_path):
    pose = synthetic_sequence(20, seed=2).positions_3d.astype(np.float64)
    rel = pose - pose[:, :1]
    traj = pose[:, 0]
    path = write_bvh(tmp_path / "t.bvh", rel, H36M_17, 50.0, root_positions=traj, scale=1.0)
    rec = fk_joints(path, scale=1.0)
    assert np.linalg.norm(rec - pose, axis=-1).max() < 0.01
    assert "Frame Time: 0.02" in path.read_text()


# ------------------------------------------------------------------------------ errors
def test_bad_inputs_raise_and_leave_no_file(tmp_path):
    good = synthetic_sequence(10, seed=1).positions_3d
    out = tmp_path / "x.bvh"
    with pytest.raises(PoseliftError, match=r"\[T, 17, 3\]"):
        write_bvh(out, good[:, :16], H36M_17, 50.0)
    bad = good.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(PoseliftError, match="NaN"):
        write_bvh(out, bad, H36M_17, 50.0)
    with pytest.raises(PoseliftError, match="root_positions"):
        write_bvh(out, good, H36M_17, 50.0, root_positions=np.zeros((9, 3)))
    with pytest.raises(PoseliftError, match="fps"):
        write_bvh(out, good, H36M_17, 0.0)
    assert list(tmp_path.iterdir()) == []
    out.write_text("old")
    with pytest.raises(PoseliftError):
        write_bvh(out, bad, H36M_17, 50.0)
    assert out.read_text() == "old"


def test_parser_rejects_truncated_file():
    text = bvh.bvh_text(synthetic_sequence(5, seed=1).positions_3d, H36M_17, 50.0)
    with pytest.raises(PoseliftError, match="motion values"):
        bvh.parse_bvh(text[: len(text) - 40])


# ---------------------------------------------------------------------------- real data
def test_real_h36m_sequence(h36m_dir, tmp_path):
    from poselift.data.datasets import load_h36m

    seq = load_h36m(h36m_dir, ["S11"], actions=["Walking"], cameras=["54138969"])[0]
    pose = seq.positions_3d[:300].astype(np.float64)
    rec = fk_joints(write_bvh(tmp_path / "h.bvh", pose, H36M_17, 50.0))
    assert bone_angles(rec, pose).max() < 1e-3
    assert np.linalg.norm(rec - pose, axis=-1).max() < 0.01  # mocap bones are constant
    # plain tree: Human3.6M hips are collinear (small error), shoulders are not rigid
    plain = fk_joints(write_bvh(tmp_path / "p.bvh", pose, H36M_17, 50.0, branch_joints=False))
    err = np.linalg.norm(plain - pose, axis=-1)
    assert err[:, [1, 2, 3, 4, 5, 6]].mean() < 0.02 and err.max() < 0.15
