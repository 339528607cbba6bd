"""``python -m poselift`` and ``torchrun --nproc_per_node N -m poselift train ...``."""

import sys

from poselift.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
