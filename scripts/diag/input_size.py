"""How tall a person is in the frame, and what the size guard (`infer`'s default; `--no-size-guard`) does.

* ``train``: the distribution of the 2D height (max − min y over the 17 joints, screen units:
  half the image width) of the `--recipe wild` training windows' centre frames (Human3.6M
  S1, S5–S8 at 25 Hz through the default virtual cameras, detector layout, 20,000 windows,
  seed 0). Its 99th percentile is ``poselift.geometry.camera.TRAINED_HEIGHT_P99``.
* ``evaluate MAX [evaluate options]``: `poselift evaluate` with each test sequence's pose
  input scaled down to a median 2D height of at most MAX (``0``: off), as `infer` does with
  MAX = TRAINED_HEIGHT_P99; e.g. the held-out subjects filmed from close up with a narrow lens.

Usage: python scripts/diag/input_size.py train
       python scripts/diag/input_size.py evaluate 1.22 --virtual-cameras 2 --virtual-set fov_deg=25,30 \
           --virtual-set distance_m=1.8,2.5 --json
"""

from __future__ import annotations

import sys

import numpy as np

import poselift.evaluation.protocol as protocol
from poselift.cli.main import main as poselift_main
from poselift.data.datasets import load_h36m_world
from poselift.data.virtual_cameras import virtual_camera_config
from poselift.data.wild import WildWindowDataset
from poselift.geometry.camera import oversize_scale


def training_heights() -> None:
    seqs = load_h36m_world("../shared/data/h36m", ["S1", "S5", "S6", "S7", "S8"])
    data = WildWindowDataset([s.positions_world[::2] for s in seqs], 27, camera=virtual_camera_config("wild", []),
                             noise=None, flip=False)
    height = data.screen_heights(count=20000, seed=0)  # what a `--recipe wild` run records as input_height_p99
    levels = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999]
    print("2D height of the training windows (half image widths):")
    print("  " + "  ".join(f"p{100 * q:g} {v:.2f}" for q, v in zip(levels, np.quantile(height, levels))) + f"  max {height.max():.2f}")


def evaluate_with_guard(max_height: float, options: list[str]) -> int:
    original = protocol.lift_sequence
    scales: list[float] = []

    def lift(model, x, flip, **kw):
        s = oversize_scale(np.asarray(x), max_height) if max_height > 0 else 1.0
        scales.append(s)
        return original(model, x, flip, pose_scale=s, **kw)

    protocol.lift_sequence = lift
    rc = poselift_main(["evaluate", *options])
    print(f"sequences scaled: {np.mean(np.array(scales) < 1):.1%}, smallest scale {min(scales):.3f}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "train":
        training_heights()
    elif len(sys.argv) >= 3 and sys.argv[1] == "evaluate":
        sys.exit(evaluate_with_guard(float(sys.argv[2]), sys.argv[3:]))
    else:
        sys.exit(__doc__)
