"""Vectorised window extraction, flip augmentation and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.data.windows import WindowDataset
from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec, flip_keypoints, pad_sequence

PERM = np.array([0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13])


def _seqs(lengths, joints=17, dims=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((t, joints, dims)).astype(np.float32) for t in lengths]


def _reference_window(seq: np.ndarray, frame: int, rf: int, causal: bool) -> np.ndarray:
    """Per-sample loop reference: edge-padded window for one output frame."""
    pad = (rf - 1) // 2
    offsets = np.arange(-2 * pad, 1) if causal else np.arange(-pad, pad + 1)
    idx = np.clip(frame + offsets, 0, len(seq) - 1)
    return seq[idx]


@pytest.mark.parametrize("causal", [False, True])
def test_windows_equal_per_sample_reference(causal):
    inputs = _seqs([30, 5, 50])
    targets = _seqs([30, 5, 50], dims=3, seed=1)
    data = WindowDataset(inputs, targets, 9, causal=causal)
    assert len(data) == 85
    batch = data.gather(torch.arange(len(data)))
    k = 0
    for seq, tgt in zip(inputs, targets):
        for f in range(len(seq)):
            np.testing.assert_array_equal(batch.inputs[k].numpy(), _reference_window(seq, f, 9, causal))
            np.testing.assert_allclose(batch.targets[k, 0].numpy(), tgt[f] - tgt[f, :1], atol=1e-6)
            np.testing.assert_allclose(batch.trajectory[k, 0].numpy(), tgt[f, 0])
            k += 1


def test_stride_keeps_every_nth_target():
    inputs, targets = _seqs([20]), _seqs([20], dims=3)
    data = WindowDataset(inputs, targets, 3, stride=4)
    assert len(data) == 5
    batch = data.gather(torch.arange(5))
    np.testing.assert_allclose(batch.targets[:, 0].numpy(), (targets[0] - targets[0][:, :1])[::4], atol=1e-6)


def test_flip_augmentation_doubles_and_mirrors():
    inputs, targets = _seqs([10]), _seqs([10], dims=3)
    flip = FlipSpec(PERM, PERM)
    data = WindowDataset(inputs, targets, 3, flip=flip)
    assert len(data) == 20
    plain = data.gather(torch.arange(10))
    mirrored = data.gather(torch.arange(10, 20))
    assert mirrored.flipped.all() and not plain.flipped.any()
    np.testing.assert_allclose(mirrored.inputs[:, :, PERM, 0].numpy(), -plain.inputs[:, :, :, 0].numpy())
    np.testing.assert_allclose(mirrored.inputs[:, :, PERM, 1].numpy(), plain.inputs[:, :, :, 1].numpy())
    np.testing.assert_allclose(mirrored.targets[:, :, PERM, 0].numpy(), -plain.targets[:, :, :, 0].numpy())


def test_flip_is_involution():
    x = torch.randn(4, 17, 2)
    torch.testing.assert_close(flip_keypoints(flip_keypoints(x, PERM), PERM), x)


def test_epoch_order_is_deterministic_with_seed():
    data = WindowDataset(_seqs([40]), _seqs([40], dims=3), 3, flip=FlipSpec(PERM, PERM))
    a = [b.inputs for b in data.batches(16, torch.Generator().manual_seed(3))]
    b = [b.inputs for b in data.batches(16, torch.Generator().manual_seed(3))]
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert sum(len(x) for x in a) == 80


def test_pad_sequence_numpy_and_torch_agree():
    x = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    p = pad_sequence(x, 5, causal=False)
    assert p.shape[0] == 9 and p[0, 0, 0] == 0 and p[-1, 0, 0] == 4
    pc = pad_sequence(torch.from_numpy(x), 5, causal=True)
    assert pc.shape[0] == 9 and float(pc[3, 0, 0]) == 0 and float(pc[4, 0, 0]) == 0 and float(pc[-1, 0, 0]) == 4


def test_bad_arguments():
    with pytest.raises(PoseliftError):
        WindowDataset([], None, 3)
    with pytest.raises(PoseliftError, match="frames"):
        WindowDataset(_seqs([10]), _seqs([9], dims=3), 3)
    with pytest.raises(PoseliftError, match="stride"):
        WindowDataset(_seqs([10]), None, 3, stride=0)
