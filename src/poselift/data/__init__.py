"""Dataset readers, format conversion and training windows."""

from poselift.data.arrays import check_array, load_npz
from poselift.data.datasets import Sequence, load_h36m, load_humaneva
from poselift.data.windows import Batch, FlipSpec, WindowDataset, pad_sequence

__all__ = [
    "Batch",
    "FlipSpec",
    "Sequence",
    "WindowDataset",
    "check_array",
    "load_h36m",
    "load_humaneva",
    "load_npz",
    "pad_sequence",
]
