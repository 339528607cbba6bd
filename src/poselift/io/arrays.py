"""Loading our pickle-free ``.npz`` files and checking arrays at the boundary.

Our on-disk format (the same as ``../shared/data``): a plain ``.npz`` whose keys use
``/`` as separator (``"S1/Walking 1"`` for 3D, ``"S1/Walking 1/54138969"`` for 2D)
and whose values are float arrays ``[T, J, D]``. It is always read with
``allow_pickle=False``.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError


def _memory_limit_bytes() -> int:
    """Physical memory of this machine (no single array can be larger); 64 GiB if unknown."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 64 << 30


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` member, read without pickles and without trusting its header:
    the array size the header claims must fit in the member's bytes (and in memory)
    *before* anything is allocated, so a crafted header cannot make us allocate GBs."""
    from numpy.lib import format as npy

    where = f"{path}[{info.filename}]"
    with zf.open(info) as fp:
        try:
            version = npy.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except Exception as exc:  # noqa: BLE001 - a corrupt header raises ValueError, SyntaxError, tokenize.TokenError, ...
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise PoseliftError(f"{where} is not a valid .npy array (corrupt header: {reason})") from None
        if dtype.hasobject:
            raise PoseliftError(
                f"{where} holds pickled Python objects, which can run code when loaded; if it is an "
                f"original VideoPose3D file you trust, convert it once with "
                f"`convert_dataset({path}, OUT.npz, allow_pickle)`"
            )
        if any(int(n) < 0 for n in shape):
            raise PoseliftError(f"{where} is not a valid .npy array (negative dimension in shape {list(shape)})")
        count = math.prod(int(n) for n in shape)
        nbytes = count * dtype.itemsize
        header_len = fp.tell()
        available = info.file_size - header_len
        if nbytes > available:
            raise PoseliftError(
                f"{where}: the header claims an array of shape {list(shape)} ({nbytes} bytes) but the file holds "
                f"only {max(available, 0)} bytes of data (truncated or corrupt)"
            )
        if nbytes > _memory_limit_bytes():
            raise PoseliftError(f"{where}: array of shape {list(shape)} ({nbytes / 2**30:.1f} GiB) does not fit in memory")
        array = np.empty(count, dtype=dtype)
        view = memoryview(array.reshape(-1).view(np.uint8)) if nbytes else memoryview(b"")
        done = 0
        while done < nbytes:
            n = fp.readinto(view[done : done + (1 << 24)])
            if not n:
                raise PoseliftError(f"{where}: truncated array data ({done} of {nbytes} bytes)")
            done += n
        fp.read()  # to the end of the member: checks its CRC-32
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of a pickle-free ``.npz`` into a dict (no code execution).

    Every problem with the file (not a zip archive, a raw pickle, members that are not
    ``.npy`` arrays, object arrays, headers claiming more data than the file holds,
    CRC errors) raises :class:`PoseliftError` naming the file and member.
    """
    path = Path(path)
    if not path.exists():
        raise PoseliftError(f"{path} does not exist")
    if not path.is_file():
        raise PoseliftError(f"{path} is not a file (expected a .npz archive)")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise PoseliftError(f"{path} could not be read ({exc.strerror or exc})") from None
    if not head:
        raise PoseliftError(f"{path} is not a readable .npz file (empty, 0 bytes)")
    if head[:1] == b"\x80" and not zipfile.is_zipfile(path):
        raise PoseliftError(
            f"{path} is a raw Python pickle, not a .npz archive; pickles can run code when loaded, so poselift "
            f"refuses to read it"
        )
    if head.startswith(b"\x93NUMPY"):
        raise PoseliftError(f"{path} is not a readable .npz file (it is a single .npy array, not an .npz archive)")
    # an .npz is always a zip archive (np.load would also accept .npy files and pickles)
    if not zipfile.is_zipfile(path):
        raise PoseliftError(f"{path} is not a readable .npz file (not a zip archive)")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if not info.filename.endswith(".npy"):
                    raise PoseliftError(f"{path}: member {info.filename!r} is not a .npy array; not an .npz written by NumPy")
                out[info.filename[: -len(".npy")]] = _read_member(zf, info, path)
    except PoseliftError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        # CRC errors, truncated members, unsupported compression or encryption
        raise PoseliftError(f"{path} is not a readable .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None
    except (MemoryError, zlib.error) as exc:
        raise PoseliftError(f"{path} is not a readable .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None
    return out


def check_array(
    array: np.ndarray,
    where: str,
    *,
    joints: int | None = None,
    dims: int | tuple[int, ...] | None = None,
    finite: bool = True,
    max_abs: float | None = None,
    unit: str = "",
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
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are reported below
        array = array.astype(np.float32, copy=False)
    if finite and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=(1, 2)).sum())
        raise PoseliftError(f"{where}: {bad} frame(s) contain NaN or inf values (or values too large for float32)")
    if max_abs is not None and array.size and float(np.abs(array).max()) > max_abs:
        raise PoseliftError(f"{where}: values reach {float(np.abs(array).max()):.3g} {unit}, implausibly large (limit {max_abs:g})")
    return array
