"""Dataset helpers: --subset chunk selection and --downsample."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from poselift.data.datasets import downsample_sequences, subset_sequences
from poselift.data.synthetic import synthetic_dataset
from poselift.errors import PoseliftError


def _views_of_one_recording(n: int = 3):
    base = synthetic_dataset(1, 500, seed=1)[0]
    return [type(base)(base.subject, base.name, f"cam{i}", base.keypoints_2d + i, base.positions_3d, base.intrinsics, base.fps) for i in range(n)]


@pytest.mark.parametrize("mode", ["seeded", "length-hash"])
def test_subset_is_one_contiguous_chunk_shared_by_all_views(mode):
    views = _views_of_one_recording()
    out = subset_sequences(views, 0.1, seed=3, mode=mode)
    assert all(o.num_frames == 50 for o in out)
    starts = []
    for v, o in zip(views, out):
        start = int(np.flatnonzero((v.keypoints_2d == o.keypoints_2d[0]).all(axis=(1, 2)))[0])
        np.testing.assert_array_equal(o.keypoints_2d, v.keypoints_2d[start : start + 50])
        starts.append(start)
    assert len(set(starts)) == 1


def test_length_hash_mode_follows_the_original_rule():
    views = _views_of_one_recording(1)
    out = subset_sequences(views, 0.1, seed=0, mode="length-hash")[0]
    raw = int.from_bytes(hashlib.sha256(b"500").digest()[:4], "little")
    start = int(raw / (2**32 - 1) * (500 - 50 + 1))
    np.testing.assert_array_equal(out.keypoints_2d, views[0].keypoints_2d[start : start + 50])
    # independent of the seed
    again = subset_sequences(views, 0.1, seed=99, mode="length-hash")[0]
    np.testing.assert_array_equal(out.keypoints_2d, again.keypoints_2d)


def test_seeded_mode_depends_on_seed_and_is_deterministic():
    views = _views_of_one_recording(1)
    a = subset_sequences(views, 0.1, seed=1)[0].keypoints_2d
    b = subset_sequences(views, 0.1, seed=1)[0].keypoints_2d
    np.testing.assert_array_equal(a, b)


def test_bad_subset_and_downsample():
    views = _views_of_one_recording(1)
    with pytest.raises(PoseliftError, match="`subset`"):
        subset_sequences(views, 0.0, seed=0)
    with pytest.raises(PoseliftError, match="`subset_mode`"):
        subset_sequences(views, 0.5, seed=0, mode="nope")
    with pytest.raises(PoseliftError, match="`downsample`"):
        downsample_sequences(views, 0)
    half = downsample_sequences(views, 2)[0]
    assert half.num_frames == 250 and half.fps == views[0].fps / 2
