"""Loading our pickle-free ``.npz`` files and checking arrays at the boundary.

Our on-disk format (the same as ``../shared/data``): a plain ``.npz`` whose keys use
``/`` as separator (``"S1/Walking 1"`` for 3D, ``"S1/Walking 1/54138969"`` for 2D)
and whose values are float arrays ``[T, J, D]``. It is always read with
``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of a pickle-free ``.npz`` into a dict (no code execution)."""
    path = Path(path)
    if not path.is_file():
        raise PoseliftError(f"{path} does not exist")
    # np.load sniffs the content: a non-zip file would be read as .npy (an array, not
    # an archive) or reported as a pickle; an .npz is always a zip archive.
    if not zipfile.is_zipfile(path):
        raise PoseliftError(f"{path} is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise PoseliftError(
                f"{path} holds pickled Python objects, which can run code when loaded; if it is an "
                f"original VideoPose3D file you trust, convert it once with "
                f"`poselift data convert {path} OUT.npz --allow-pickle`"
            ) from None
        raise PoseliftError(f"{path} is not a readable .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise PoseliftError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc})") from None


def check_array(
    array: np.ndarray,
    where: str,
    *,
    joints: int | None = None,
    dims: int | tuple[int, ...] | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Validate a ``[T, J, D]`` float array and return it as float32.

    Raises :class:`PoseliftError` naming ``where`` (file/key) and what was expected.
    """
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise PoseliftError(f"{where}: expected a numeric array, got {getattr(array, 'dtype', type(array))}")
    if array.ndim != 3:
        raise PoseliftError(f"{where}: expected shape [frames, joints, dims], got {list(array.shape)}")
    if joints is not None and array.shape[1] != joints:
        raise PoseliftError(f"{where}: expected {joints} joints, got {array.shape[1]} (shape {list(array.shape)})")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if array.shape[2] not in allowed:
            raise PoseliftError(f"{where}: expected last dimension {' or '.join(map(str, allowed))}, got {array.shape[2]}")
    if array.shape[0] == 0:
        raise PoseliftError(f"{where}: the sequence is empty (0 frames)")
    array = array.astype(np.float32, copy=False)
    if finite and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=(1, 2)).sum())
        raise PoseliftError(f"{where}: {bad} frame(s) contain NaN or inf values")
    return array
