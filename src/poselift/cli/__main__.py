"""``python -m poselift.cli`` (same as ``python -m poselift``)."""

import sys

from poselift.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
