"""torchrun entry point for tests/test_distributed.py: ``poselift train`` that also
appends ``"<rank> <epoch>"`` to the file named by ``POSELIFT_TEST_SAVES`` each time a
rank calls :meth:`poselift.train.Trainer.save` (to check that only rank 0 writes)."""

from __future__ import annotations

import os
import sys

from poselift.cli import main
from poselift.training.trainer import Trainer


def _recording(save):
    def recording_save(self: Trainer, path) -> None:
        with open(os.environ["POSELIFT_TEST_SAVES"], "a", encoding="utf-8") as f:
            f.write(f"{self.dist.rank} {self.state.epoch}\n")
        save(self, path)

    return recording_save


if __name__ == "__main__":
    Trainer.save = _recording(Trainer.save)
    sys.exit(main())
