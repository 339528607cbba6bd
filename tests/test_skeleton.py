"""Skeletons (trees, left/right pairs, reductions) and layout conversions to H36M-17."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import (
    BLAZEPOSE_33,
    COCO_17,
    FORMER_JOINT_NAMES,
    H36M32_KEPT,
    H36M32_REMOVED,
    H36M_17,
    H36M_32,
    JOINT_NAME,
    MPII16_TO_H36M17,
    MPII_16,
    SKELETONS,
    Skeleton,
    blazepose33_to_h36m17,
    bone_lengths,
    coco17_to_h36m17,
    flip_pose,
    get_skeleton,
    h36m32_to_h36m17,
    to_h36m17,
)

# H36M-17 indices used by the conversion checks.
HIP, RHIP, RKNEE, RFOOT, LHIP, LKNEE, LFOOT, SPINE, THORAX, NOSE, HEAD = range(11)
LSHO, LELB, LWRI, RSHO, RELB, RWRI = range(11, 17)

# Mirrored-name rules, one per layout: (left marker, right marker, where).
_MIRROR = {
    "h36m17": ("L", "R", "prefix"),
    "h36m32": ("L", "R", "prefix"),
    "mpii16": ("L", "R", "prefix"),
    "humaneva15": ("l", "r", "prefix"),
    "coco17": ("left_", "right_", "prefix"),
    "blazepose33": ("left", "right", "anywhere"),
}


def _mirror_name(skeleton_name: str, joint: str) -> str | None:
    """The name of the mirror partner of a *left* joint (None if not a left joint)."""
    left, right, where = _MIRROR[skeleton_name]
    if where == "prefix":
        return right + joint[len(left):] if joint.startswith(left) else None
    return joint.replace(left, right) if left in joint else None


# --- trees --------------------------------------------------------------------------


def _assert_valid_tree(skel: Skeleton) -> None:
    n = skel.num_joints
    assert len(skel.parents) == n
    roots = [j for j, p in enumerate(skel.parents) if p == -1]
    assert len(roots) == 1, f"{skel.name}: roots {roots}"
    for j in range(n):
        seen = set()
        k = j
        while skel.parents[k] != -1:
            assert k not in seen, f"{skel.name}: cycle through joint {j}"
            seen.add(k)
            k = skel.parents[k]
            assert 0 <= k < n
        assert k == roots[0]
    assert len(skel.bones()) == n - 1


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_every_skeleton_is_a_tree(name):
    skel = SKELETONS[name]
    assert skel.name == name
    assert len(set(skel.joint_names)) == skel.num_joints, "joint names must be unique"
    _assert_valid_tree(skel)


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_flip_permutation_is_involution_and_mirrors_names(name):
    skel = SKELETONS[name]
    perm = skel.flip_permutation()
    assert sorted(perm) == list(range(skel.num_joints))
    assert [perm[perm[j]] for j in range(skel.num_joints)] == list(range(skel.num_joints))
    # Left and right lists are disjoint and pair distinct joints.
    assert not set(skel.joints_left) & set(skel.joints_right)
    assert len(set(skel.joints_left)) == len(skel.joints_left)
    assert len(skel.joints_left) > 0
    for left in skel.joints_left:
        expected = _mirror_name(name, skel.joint_names[left])
        assert expected is not None, f"{name}: {skel.joint_names[left]} is not a left joint"
        assert skel.joint_names[perm[left]] == expected
    # Every joint that has a mirrored partner in the layout is paired (none is missed).
    for j, joint in enumerate(skel.joint_names):
        partner = _mirror_name(name, joint)
        if partner is not None and partner in skel.joint_names:
            assert perm[j] == skel.joint_names.index(partner)
            assert perm[skel.joint_names.index(partner)] == j
    # Unsided joints stay in place.
    sided = set(skel.joints_left) | set(skel.joints_right)
    for j in range(skel.num_joints):
        if j not in sided:
            assert perm[j] == j


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_flip_maps_bones_to_bones(name):
    """Mirroring must respect the tree: parent(flip(j)) == flip(parent(j))."""
    skel = SKELETONS[name]
    perm = skel.flip_permutation()
    for j, p in enumerate(skel.parents):
        expected = -1 if p == -1 else perm[p]
        assert skel.parents[perm[j]] == expected, f"{name}: joint {skel.joint_names[j]}"


def test_h36m17_layout():
    assert H36M_17.name == "h36m17"
    assert H36M_17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M_17.joints_left == (4, 5, 6, 11, 12, 13)
    assert H36M_17.joints_right == (1, 2, 3, 14, 15, 16)
    assert H36M_17.joint_names == (
        "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
        "NeckNose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
    )
    assert H36M_17.flip_permutation() == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


def test_h36m32_reduction():
    reduced, kept = H36M_32.remove_joints(H36M32_REMOVED)
    expected_kept = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
    assert tuple(kept) == expected_kept
    assert H36M32_KEPT == expected_kept
    assert reduced.joint_names == H36M_17.joint_names
    _assert_valid_tree(reduced)
    # Children of removed joints hang on the nearest kept ancestor: Spine (old 12) lost
    # SpineBase (11) -> Hip; the shoulders lost their "base" joints (16, 24) -> Spine.
    assert reduced.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 7, 11, 12, 7, 14, 15)
    assert reduced.joints_left == H36M_17.joints_left
    assert reduced.joints_right == H36M_17.joints_right
    # The kept joints' parents are their nearest kept ancestors in the 32-joint tree.
    for new, old in enumerate(kept):
        p = H36M_32.parents[old]
        while p >= 0 and p not in kept:
            p = H36M_32.parents[p]
        assert reduced.parents[new] == (kept.index(p) if p >= 0 else -1)


def test_remove_joints_small_skeleton():
    #        0 root
    #       / \
    #      1L  2R
    #      |    |
    #      3L  4R
    #      |
    #      5 (child of a joint to remove)
    skel = Skeleton(
        "toy",
        ("root", "La", "Ra", "Lb", "Rb", "tip"),
        (-1, 0, 0, 1, 2, 3),
        joints_left=(1, 3),
        joints_right=(2, 4),
    )
    reduced, kept = skel.remove_joints([1, 3])
    assert kept == [0, 2, 4, 5]
    assert reduced.joint_names == ("root", "Ra", "Rb", "tip")
    # tip's parent 3 and grandparent 1 are both removed -> root.
    assert reduced.parents == (-1, 0, 1, 0)
    # Pairs with a removed member are dropped.
    assert reduced.joints_left == () and reduced.joints_right == ()
    _assert_valid_tree(reduced)

    reduced2, kept2 = skel.remove_joints([3])
    assert kept2 == [0, 1, 2, 4, 5]
    assert reduced2.parents == (-1, 0, 0, 2, 1)
    assert reduced2.joints_left == (1,) and reduced2.joints_right == (2,)

    # Pose conversion via the kept indices.
    pose = np.arange(18, dtype=float).reshape(6, 3)
    np.testing.assert_array_equal(pose[kept], pose[[0, 2, 4, 5]])


def test_skeleton_validation():
    with pytest.raises(ValueError):
        Skeleton("bad", ("a", "b"), (-1,))
    with pytest.raises(ValueError):
        Skeleton("bad", ("a", "b"), (-1, 2))
    with pytest.raises(ValueError):
        Skeleton("bad", ("a", "b", "c"), (-1, 0, 0), joints_left=(1,), joints_right=())
    with pytest.raises(ValueError, match="joint name 'Neck/Nose'"):  # not writable as a BVH joint
        Skeleton("bad", ("Hip", "Neck/Nose"), (-1, 0))
    with pytest.raises(ValueError, match="joint name 'left knee'"):
        Skeleton("bad", ("Hip", "left knee"), (-1, 0))
    with pytest.raises(ValueError, match="repeat"):
        Skeleton("bad", ("a", "a"), (-1, 0))


def test_joint_names_are_valid_in_every_output_format():
    """One name per joint in CSV, JSON and BVH: letters, digits and '_' only."""
    for skel in SKELETONS.values():
        for name in skel.joint_names:
            assert JOINT_NAME.fullmatch(name), (skel.name, name)
    assert FORMER_JOINT_NAMES["Neck/Nose"] in H36M_17.joint_names


def test_get_skeleton():
    assert get_skeleton("coco17") is COCO_17
    assert get_skeleton("h36m17") is H36M_17
    with pytest.raises(PoseliftError) as info:
        get_skeleton("nope")
    message = str(info.value)
    assert "nope" in message
    for name in SKELETONS:
        assert name in message


def test_index():
    assert H36M_17.index("Thorax") == THORAX
    with pytest.raises(PoseliftError, match="Thorax"):
        H36M_17.index("nope")


def test_mpii_mapping_names_agree():
    assert len(MPII16_TO_H36M17) == 14
    assert len(set(MPII16_TO_H36M17.values())) == 14
    for m, h in MPII16_TO_H36M17.items():
        assert MPII_16.joint_names[m] == H36M_17.joint_names[h]


# --- conversions ----------------------------------------------------------------------


def _h36m_batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((5, 17, 3))


def _eyes_around(head: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    offset = rng.standard_normal(head.shape)
    return head + offset, head - offset


def _coco_from_h36m(h: np.ndarray, rng) -> np.ndarray:
    c = rng.standard_normal(h.shape[:-2] + (17, h.shape[-1]))  # ears (3, 4) stay random
    c[..., 0, :] = h[..., NOSE, :]
    c[..., 1, :], c[..., 2, :] = _eyes_around(h[..., HEAD, :], rng)
    for coco, h36 in ((5, LSHO), (6, RSHO), (7, LELB), (8, RELB), (9, LWRI), (10, RWRI),
                      (11, LHIP), (12, RHIP), (13, LKNEE), (14, RKNEE), (15, LFOOT), (16, RFOOT)):
        c[..., coco, :] = h[..., h36, :]
    return c


def _blaze_from_h36m(h: np.ndarray, rng) -> np.ndarray:
    b = rng.standard_normal(h.shape[:-2] + (33, h.shape[-1]))  # unused landmarks stay random
    b[..., 0, :] = h[..., NOSE, :]
    b[..., 2, :], b[..., 5, :] = _eyes_around(h[..., HEAD, :], rng)
    for blaze, h36 in ((11, LSHO), (12, RSHO), (13, LELB), (14, RELB), (15, LWRI), (16, RWRI),
                       (23, LHIP), (24, RHIP), (25, LKNEE), (26, RKNEE), (27, LFOOT), (28, RFOOT)):
        b[..., blaze, :] = h[..., h36, :]
    return b


DIRECT = [RHIP, RKNEE, RFOOT, LHIP, LKNEE, LFOOT, NOSE, LSHO, LELB, LWRI, RSHO, RELB, RWRI]


def _check_converted(out: np.ndarray, h: np.ndarray, src: np.ndarray, eyes: tuple[int, int]) -> None:
    assert out.shape == h.shape
    # Directly shared joints are copied exactly.
    np.testing.assert_array_equal(out[..., DIRECT, :], h[..., DIRECT, :])
    # Derived joints follow their rule.
    hip = (h[..., LHIP, :] + h[..., RHIP, :]) / 2
    thorax = (h[..., LSHO, :] + h[..., RSHO, :]) / 2
    np.testing.assert_allclose(out[..., HIP, :], hip, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[..., THORAX, :], thorax, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[..., SPINE, :], (hip + thorax) / 2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[..., HEAD, :], (src[..., eyes[0], :] + src[..., eyes[1], :]) / 2, rtol=0, atol=1e-12)
    # The eyes were placed symmetric around the true head.
    np.testing.assert_allclose(out[..., HEAD, :], h[..., HEAD, :], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dims", [2, 3])
def test_coco17_to_h36m17(dims):
    rng = np.random.default_rng(1)
    h = _h36m_batch()[..., :dims]
    coco = _coco_from_h36m(h, rng)
    out, conf = coco17_to_h36m17(coco)
    assert conf is None
    _check_converted(out, h, coco, (1, 2))
    out2, _ = to_h36m17(coco, "coco17")
    np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize("dims", [2, 3])
def test_blazepose33_to_h36m17(dims):
    rng = np.random.default_rng(2)
    h = _h36m_batch(3)[..., :dims]
    blaze = _blaze_from_h36m(h, rng)
    out, conf = blazepose33_to_h36m17(blaze)
    assert conf is None
    _check_converted(out, h, blaze, (2, 5))
    out2, _ = to_h36m17(blaze, "blazepose33")
    np.testing.assert_array_equal(out2, out)


def test_conversion_keeps_leading_shape_and_dtype():
    rng = np.random.default_rng(4)
    coco = rng.standard_normal((2, 3, 17, 2)).astype(np.float32)
    out, _ = coco17_to_h36m17(coco)
    assert out.shape == (2, 3, 17, 2)
    assert out.dtype == np.float32
    out64, _ = coco17_to_h36m17(coco.astype(np.float64))
    assert out64.dtype == np.float64
    single, _ = coco17_to_h36m17(coco[0, 0])
    np.testing.assert_array_equal(single, out[0, 0])


@pytest.mark.parametrize(
    "convert, num_src, sources",
    [
        (
            coco17_to_h36m17,
            17,
            {HIP: (11, 12), THORAX: (5, 6), SPINE: (11, 12, 5, 6), HEAD: (1, 2), NOSE: (0,),
             RHIP: (12,), LWRI: (9,)},
        ),
        (
            blazepose33_to_h36m17,
            33,
            {HIP: (23, 24), THORAX: (11, 12), SPINE: (23, 24, 11, 12), HEAD: (2, 5), NOSE: (0,),
             RHIP: (24,), LWRI: (15,)},
        ),
    ],
)
def test_confidence_is_min_of_sources(convert, num_src, sources):
    rng = np.random.default_rng(5)
    pts = rng.standard_normal((4, num_src, 2))
    conf = rng.uniform(0.1, 1.0, size=(4, num_src))
    out, conf_out = convert(pts, conf)
    assert conf_out.shape == (4, 17)
    for joint, src in sources.items():
        np.testing.assert_array_equal(conf_out[:, joint], conf[:, list(src)].min(axis=-1))
    with pytest.raises(PoseliftError):
        convert(pts, conf[:, :-1])


def test_nan_source_propagates_only_to_dependent_joints():
    rng = np.random.default_rng(6)
    coco = rng.standard_normal((3, 17, 2))
    conf = rng.uniform(0.1, 1.0, size=(3, 17))
    coco[1, 11, :] = np.nan  # left hip, frame 1
    conf[1, 11] = np.nan
    out, conf_out = coco17_to_h36m17(coco, conf)
    dependent = [HIP, LHIP, SPINE]
    assert np.isnan(out[1, dependent]).all()
    assert np.isnan(conf_out[1, dependent]).all()
    others = [j for j in range(17) if j not in dependent]
    assert np.isfinite(out[1, others]).all()
    assert np.isfinite(conf_out[1, others]).all()
    # Other frames are untouched.
    assert np.isfinite(out[[0, 2]]).all()
    assert np.isfinite(conf_out[[0, 2]]).all()

    coco2 = rng.standard_normal((17, 3))
    coco2[1] = np.nan  # left eye -> Head only
    out2, _ = coco17_to_h36m17(coco2)
    assert np.isnan(out2[HEAD]).all()
    assert np.isfinite(np.delete(out2, HEAD, axis=0)).all()


@pytest.mark.parametrize(
    "convert, shape",
    [
        (coco17_to_h36m17, (5, 16, 2)),
        (coco17_to_h36m17, (17,)),
        (blazepose33_to_h36m17, (5, 17, 2)),
        (h36m32_to_h36m17, (5, 17, 3)),
        (h36m32_to_h36m17, (32,)),
    ],
)
def test_wrong_joint_count_raises(convert, shape):
    with pytest.raises(PoseliftError, match="shaped"):
        convert(np.zeros(shape))


def test_to_h36m17_dispatch():
    rng = np.random.default_rng(7)
    h = rng.standard_normal((4, 17, 2))
    conf = rng.uniform(size=(4, 17))
    out, c = to_h36m17(h, "h36m17", conf)
    np.testing.assert_array_equal(out, h)
    assert c is conf
    with pytest.raises(PoseliftError):
        to_h36m17(np.zeros((4, 16, 2)), "h36m17")

    p32 = rng.standard_normal((4, 32, 3))
    out32, c32 = to_h36m17(p32, "h36m32", rng.uniform(size=(4, 32)))
    np.testing.assert_array_equal(out32, p32[:, list(H36M32_KEPT)])
    assert c32.shape == (4, 17)

    with pytest.raises(PoseliftError) as info:
        to_h36m17(h, "openpose25")
    message = str(info.value)
    assert "openpose25" in message
    for layout in ("h36m17", "coco17", "blazepose33", "h36m32"):
        assert layout in message


def test_h36m32_to_h36m17():
    rng = np.random.default_rng(8)
    p32 = rng.standard_normal((2, 3, 32, 3))
    conf = rng.uniform(size=(2, 3, 32))
    out, c = h36m32_to_h36m17(p32, conf)
    assert out.shape == (2, 3, 17, 3)
    kept = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    for new, old in enumerate(kept):
        np.testing.assert_array_equal(out[..., new, :], p32[..., old, :])
        np.testing.assert_array_equal(c[..., new], conf[..., old])
        assert H36M_32.joint_names[old] == H36M_17.joint_names[new]
    out_none, c_none = h36m32_to_h36m17(p32)
    assert c_none is None
    np.testing.assert_array_equal(out_none, out)


# --- pose utilities ---------------------------------------------------------------------


def test_bone_lengths_hand_computed():
    skel = Skeleton("toy", ("a", "b", "c", "d"), (-1, 0, 1, 0))
    pose = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [3.0, 4.0, 12.0], [1.0, 2.0, 2.0]])
    assert skel.bones() == [(1, 0), (2, 1), (3, 0)]
    np.testing.assert_allclose(bone_lengths(pose, skel), [5.0, 12.0, 3.0])
    batch = np.stack([pose, 2 * pose])
    np.testing.assert_allclose(bone_lengths(batch, skel), [[5.0, 12.0, 3.0], [10.0, 24.0, 6.0]])


def test_bone_lengths_h36m17_shape():
    pose = np.random.default_rng(9).standard_normal((4, 5, 17, 3))
    lengths = bone_lengths(pose, H36M_17)
    assert lengths.shape == (4, 5, 16)
    assert (lengths >= 0).all()
    # First bone is RHip -> Hip.
    np.testing.assert_allclose(lengths[..., 0], np.linalg.norm(pose[..., 1, :] - pose[..., 0, :], axis=-1))


@pytest.mark.parametrize("name", sorted(SKELETONS))
@pytest.mark.parametrize("dims", [2, 3])
def test_flip_pose(name, dims):
    skel = SKELETONS[name]
    pose = np.random.default_rng(10).standard_normal((3, skel.num_joints, dims))
    flipped = flip_pose(pose, skel)
    assert flipped.shape == pose.shape
    np.testing.assert_array_equal(flip_pose(flipped, skel), pose)
    perm = skel.flip_permutation()
    np.testing.assert_array_equal(flipped[..., 0], -pose[..., perm, 0])
    np.testing.assert_array_equal(flipped[..., 1:], pose[..., perm, 1:])
    # Bone lengths are preserved: the bone (c, p) of the flipped pose is the mirror
    # bone (perm c, perm p) of the original.
    lengths = bone_lengths(pose, skel)
    flipped_lengths = bone_lengths(flipped, skel)
    bone_index = {bone: i for i, bone in enumerate(skel.bones())}
    for i, (c, p) in enumerate(skel.bones()):
        np.testing.assert_allclose(flipped_lengths[..., i], lengths[..., bone_index[(perm[c], perm[p])]], rtol=1e-12)
    np.testing.assert_allclose(np.sort(flipped_lengths, axis=-1), np.sort(lengths, axis=-1), rtol=1e-12)
    # Input not modified.
    assert not np.shares_memory(flipped, pose)


def test_flip_pose_h36m17_swaps_named_joints():
    pose = np.zeros((17, 3))
    pose[LWRI] = [1.0, 2.0, 3.0]
    flipped = flip_pose(pose, H36M_17)
    np.testing.assert_array_equal(flipped[RWRI], [-1.0, 2.0, 3.0])
    np.testing.assert_array_equal(flipped[LWRI], [0.0, 0.0, 0.0])


def test_blazepose_mouth_is_paired():
    perm = BLAZEPOSE_33.flip_permutation()
    assert perm[9] == 10 and perm[10] == 9
