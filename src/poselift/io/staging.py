"""Where outputs go, checked before any work, and all-or-nothing output folders:

:func:`check_destination` refuses a file or folder that cannot be written (a parent
that is a file, a read-only folder) with one clear error before a command starts its
work; :func:`created_folder` removes the folders a failed command created. Then: files are written into a hidden staging folder inside the
destination, then moved into place together; replaced files are set aside first and
restored if any move fails, and a failed run leaves neither files nor the folders it
created behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from poselift.errors import PoseliftError


def check_targets(out_dir: Path, names: list[str], overwrite: bool, folders: tuple[str, ...] = ()) -> None:
    """Refuse to replace existing outputs unless ``overwrite``; never replace a folder
    unless its name is in ``folders`` (output folders, e.g. one per person)."""
    for name in names:
        target = out_dir / name
        if target.exists() and not target.is_file() and not (name in folders and target.is_dir()):
            raise PoseliftError(f"{target} exists and is not a file; remove it or choose another `out_dir`")
        if target.exists() and not overwrite:
            raise PoseliftError(f"{target} already exists; pass `overwrite=True` to replace the outputs in {out_dir}")


def commit_staged(staging: Path, out_dir: Path, names: list[str], overwrite: bool, folders: tuple[str, ...] = ()) -> list[str]:
    """Move the staged ``names`` into ``out_dir``, all or nothing: replaced files (and
    replaced output ``folders``, see :func:`check_targets`) are set aside first and
    restored if any move fails."""
    check_targets(out_dir, names, overwrite, folders)  # again: something may have appeared meanwhile
    aside = Path(tempfile.mkdtemp(prefix=".replaced-", dir=staging))
    moved: list[str] = []
    kept: list[str] = []
    try:
        for name in names:
            if (out_dir / name).exists():
                os.replace(out_dir / name, aside / name)
                kept.append(name)
            os.replace(staging / name, out_dir / name)
            moved.append(name)
    except BaseException:
        for name in moved:
            with contextlib.suppress(OSError):
                if (out_dir / name).is_dir():
                    shutil.rmtree(out_dir / name)
                else:
                    os.unlink(out_dir / name)
        for name in kept:
            with contextlib.suppress(OSError):
                os.replace(aside / name, out_dir / name)
        raise
    return [str(out_dir / name) for name in names]


def make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, deepest first."""
    created: list[Path] = []
    probe = folder
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created



def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_destination(path: str | Path, *, folder: bool = False) -> None:
    """Raise :class:`PoseliftError` unless ``path`` (a file, or a folder when
    ``folder``) can be written: the nearest existing folder on its way must be a
    writable folder, and an existing ``path`` must be of the right kind. Call it
    before the work starts; disk-full is only known when writing."""
    path = Path(path)
    if path.exists() and folder and not path.is_dir():
        raise PoseliftError(f"{path} exists and is not a folder")
    if path.exists() and not folder and path.is_dir():
        raise PoseliftError(f"{path} is a folder; give a file name")
    base = _nearest_existing(path if folder else path.parent)
    if not base.is_dir():
        raise PoseliftError(f"cannot write {path}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise PoseliftError(f"cannot write {path}: {base} is not writable (read-only or permission denied)")


@contextlib.contextmanager
def created_folder(folder: str | Path):
    """``mkdir -p folder`` for the block; if the block fails, the folders it created
    are removed again when they are empty (nothing is deleted that was there before)."""
    created = make_dirs(Path(folder))
    try:
        yield Path(folder)
    except BaseException:
        for path in created:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
