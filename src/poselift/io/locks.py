"""One writer per folder: an advisory lock held while a command writes into a run or
output folder, so that a second ``train --resume`` on the same run, or a second
``infer`` into the same folder, stops at once with a clear message instead of
interleaving its files with the first one's.

The lock is ``flock`` on the folder itself (nothing is written there for it; the
operating system releases it when the process ends, killed or not). Where ``fcntl``
does not exist (Windows) folders are not locked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from poselift.errors import PoseliftError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the lock of the existing ``folder`` for the block; raise
    :class:`PoseliftError` at once if another process holds it."""
    folder = Path(folder)
    if fcntl is None:
        yield folder
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PoseliftError(
                f"{folder} is in use by another poselift process (a training run or an infer writing there); "
                "wait until it has finished, or choose another folder"
            ) from None
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock
