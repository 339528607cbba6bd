"""Writers for lifted 3D poses: ``.npz``, ``.json``, ``.csv`` (and BVH), and joint angles (``.csv``).

Every writer goes through :func:`poselift.io.atomic_write`, so a failure never
leaves a half-written file. Units: 3D joints in metres (camera frame: x right,
y down, z forward), 2D keypoints in pixels, time in seconds.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_mask, check_frame_rate
from poselift.geometry.skeleton import H36M_17, JOINT_NAME
from poselift.io import bvh
from poselift.io.atomic import atomic_write


def _npz_array(key: str, value: Any) -> np.ndarray:
    """A pickle-free array: strings become fixed-width unicode (``<U``), never objects."""
    if isinstance(value, str):
        return np.asarray(value, dtype=f"<U{max(len(value), 1)}")
    arr = np.asarray(value)
    if arr.dtype == object:
        try:
            arr = arr.astype(str)
        except (TypeError, ValueError):
            raise PoseliftError(f"cannot store {key!r} without pickles (object array)") from None
        if arr.dtype == object:
            raise PoseliftError(f"cannot store {key!r} without pickles (object array)")
    return arr


def write_npz(path: str | Path, arrays: Mapping[str, Any], *, compressed: bool = False) -> Path:
    """Write ``arrays`` to an uncompressed ``.npz`` readable with ``allow_pickle=False``.

    Strings and lists of strings are stored as fixed-width unicode arrays; scalars as
    0-d arrays; ``compressed``: deflate each array (smaller, slower). Returns ``path``.
    """
    path = Path(path)
    converted = {k: _npz_array(k, v) for k, v in arrays.items() if v is not None}
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED, allowZip64=True) as zf:
        # what np.savez writes, but the archive is closed when a write fails (disk full):
        # np.savez leaves it open and its __del__ later prints a traceback
        for key, value in converted.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
    return path


def _jsonable(value: Any, decimals: int) -> Any:
    """Arrays → nested lists; non-finite floats → ``null``; floats rounded."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, decimals) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            rounded = np.round(value.astype(np.float64), decimals)
            out = rounded.astype(object)
            out[~np.isfinite(rounded)] = None
            return out.tolist()
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return _jsonable(value.item(), decimals)
    if isinstance(value, float):
        return round(value, decimals) if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, decimals) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


#: Rows of an array converted to JSON at a time (bounds the memory of long sequences).
JSON_BLOCK_ROWS = 2048


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _write_json_value(f, value: Any, decimals: int) -> None:
    """Stream ``value`` as compact JSON: arrays are converted ``JSON_BLOCK_ROWS`` rows at
    a time, so a long sequence never exists as one big Python list or string. The
    text equals ``json.dumps(_jsonable(value), separators=(",", ":"))``."""
    if isinstance(value, Mapping):
        f.write("{")
        for i, (k, v) in enumerate(value.items()):
            f.write(("," if i else "") + _dump(str(k)) + ":")
            _write_json_value(f, v, decimals)
        f.write("}")
    elif isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] > JSON_BLOCK_ROWS:
        f.write("[")
        for start in range(0, value.shape[0], JSON_BLOCK_ROWS):
            f.write(("," if start else "") + _dump(_jsonable(value[start : start + JSON_BLOCK_ROWS], decimals))[1:-1])
        f.write("]")
    else:
        f.write(_dump(_jsonable(value, decimals)))


def write_json(path: str | Path, data: Mapping[str, Any], decimals: int = 6) -> Path:
    """Write ``data`` as JSON (arrays as nested lists, floats rounded to ``decimals``,
    NaN/inf as ``null``), streamed in blocks of rows. Returns ``path``."""
    path = Path(path)
    with atomic_write(path, "w") as f:
        _write_json_value(f, data, decimals)
        f.write("\n")
    return path


CSV_HEADER = ("frame", "time_s", "joint", "x_m", "y_m", "z_m", "u_px", "v_px", "confidence", "filled",
              "world_x_m", "world_y_m", "world_z_m")


def write_csv(
    path: str | Path,
    joints_3d: np.ndarray,
    keypoints_2d: np.ndarray,
    confidence: np.ndarray,
    filled: np.ndarray,
    fps: float,
    joint_names: Sequence[str],
    first_frame: int = 0,
    world_3d: np.ndarray | None = None,
) -> Path:
    """Long-format CSV, one row per frame and joint (header :data:`CSV_HEADER`).

    joints_3d: ``[T, J, 3]`` metres (``x_m, y_m, z_m``); keypoints_2d: ``[T, J, 2]``
    pixels (``u_px, v_px``); confidence: ``[T, J]``; filled: ``[T, J]`` or ``[T]``
    bool (written 0/1); ``frame`` counts input frames from ``first_frame`` (a person's
    span of a video), ``time_s = frame / fps``. world_3d: ``[T, J, 3]`` metres in a world
    frame (``world_x_m, world_y_m, world_z_m``; poselift infer: Y up, floor at 0), or
    None (those cells left empty).
    """
    joints_3d = np.asarray(joints_3d)
    keypoints_2d = np.asarray(keypoints_2d)
    t, j = joints_3d.shape[:2]
    confidence = np.asarray(confidence)
    filled = np.asarray(filled, dtype=bool)
    if filled.ndim == 1:
        filled = np.repeat(filled[:, None], j, axis=1)
    if joints_3d.shape != (t, j, 3) or keypoints_2d.shape != (t, j, 2) or confidence.shape != (t, j) or filled.shape != (t, j):
        raise ValueError("write_csv: joints_3d [T,J,3], keypoints_2d [T,J,2], confidence and filled [T,J] must agree")
    if len(joint_names) != j:
        raise ValueError(f"write_csv: {len(joint_names)} joint names for {j} joints")
    if world_3d is not None and np.shape(world_3d) != (t, j, 3):
        raise ValueError("write_csv: world_3d must be [T,J,3] like joints_3d")
    names = []
    for name in joint_names:  # quoted as the csv module would (commas, quotes)
        cell = io.StringIO()
        csv.writer(cell, lineterminator="").writerow([name])
        names.append(cell.getvalue().replace("%", "%%"))
    world_format = ",%.6f,%.6f,%.6f\n" if world_3d is not None else ",,,\n"
    row_formats = [f"%d,%s,{name},%.6f,%.6f,%.6f,%.3f,%.3f,%.4f,%d{world_format}" for name in names]
    block = 4096  # frames formatted at a time: memory stays bounded for long sequences
    with atomic_write(path, "w") as fh:
        fh.write(",".join(CSV_HEADER) + "\n")
        for start in range(0, t, block):
            stop = min(t, start + block)
            xyz = joints_3d[start:stop].tolist()
            uv = keypoints_2d[start:stop].tolist()
            conf = confidence[start:stop].tolist()
            fill = filled[start:stop].tolist()
            world = np.asarray(world_3d[start:stop]).tolist() if world_3d is not None else None
            lines = []
            for i, f in enumerate(range(start + first_frame, stop + first_frame)):
                time_s = f"{f / fps:.6f}"
                for k in range(j):
                    x, y, z = xyz[i][k]
                    u, v = uv[i][k]
                    values = (f, time_s, x, y, z, u, v, conf[i][k], fill[i][k])
                    lines.append(row_formats[k] % (values + tuple(world[i][k]) if world is not None else values))
            fh.write("".join(lines))
    return Path(path)


def write_angles_csv(
    path: str | Path,
    names: Sequence[str],
    degrees: np.ndarray,
    fps: float,
    filled: np.ndarray | None = None,
    decimals: int = 2,
) -> Path:
    """Wide-format CSV of angles over time, one row per frame: ``frame,time_s`` then one
    column ``<name>_deg`` per angle (degrees, ``decimals`` places; an undefined angle,
    NaN, is an empty cell), then ``filled`` (0/1: the frame's 2D was interpolated) when
    ``filled`` ``[T]`` is given. degrees: ``[T, A]`` for the ``A`` ``names``;
    ``time_s = frame / fps``. Atomic, like every writer here."""
    degrees = np.asarray(degrees, dtype=np.float64)
    names = [str(n) for n in names]
    if degrees.ndim != 2 or degrees.shape[1] != len(names):
        raise PoseliftError(f"`degrees` must be shaped [T, {len(names)}] (one column per name), got {list(degrees.shape)}")
    if len(set(names)) != len(names) or not all(JOINT_NAME.fullmatch(n) for n in names):
        raise PoseliftError("angle `names` must be distinct, each a letter followed by letters, digits or '_'")
    fps = check_frame_rate(fps)
    t = degrees.shape[0]
    if filled is not None:
        filled = check_frame_mask(filled, t)
    header = ["frame", "time_s", *(f"{n}_deg" for n in names)] + (["filled"] if filled is not None else [])
    block = 4096  # frames formatted at a time
    with atomic_write(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for start in range(0, t, block):
            stop = min(t, start + block)
            cells = np.char.mod(f"%.{decimals}f", degrees[start:stop])
            cells[~np.isfinite(degrees[start:stop])] = ""
            lines = []
            for i, f in enumerate(range(start, stop)):
                row = [str(f), f"{f / fps:.6f}", *cells[i].tolist()]
                if filled is not None:
                    row.append("1" if filled[f] else "0")
                lines.append(",".join(row))
            fh.write("\n".join(lines) + "\n")
    return Path(path)


def write_bvh(path, joints_3d, skeleton=None, fps: float = 50.0, **options) -> Path:
    """Write a BVH motion file (see :func:`poselift.io.bvh.write_bvh`; skeleton defaults to H36M-17)."""
    return bvh.write_bvh(path, joints_3d, H36M_17 if skeleton is None else skeleton, fps, **options)
