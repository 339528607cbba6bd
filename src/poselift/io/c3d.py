"""C3D motion files (the binary biomechanics standard) through ezc3d, an optional package.

``write_c3d`` stores the markers of :func:`poselift.io.trc.write_trc` (one per joint,
named after it; same Y-up frame, same root handling) as C3D points: float32
coordinates, ``POINT:RATE`` = ``fps``, ``POINT:UNITS`` ``mm`` (default, what most C3D
software expects) or ``m``, and ``POINT:X_SCREEN = +X``, ``POINT:Y_SCREEN = +Y`` so
viewers (Mokka, ...) show Y up. Frames count from 1. ezc3d is the C3D library OpenSim
itself reads C3D with; install it with ``pip install 'poselift[c3d]'``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_rate
from poselift.geometry.skeleton import H36M_17, Skeleton
from poselift.io.atomic import atomic_path
from poselift.io.trc import FRAME_NOTE, TRC_UNITS, check_units, marker_positions

log = logging.getLogger("poselift.io.c3d")


def require_ezc3d():
    """The ezc3d module, or a :class:`PoseliftError` saying how to install it (callers
    check this before long work that ends in a C3D file)."""
    try:
        import ezc3d
    except ImportError:
        raise PoseliftError("writing .c3d files needs ezc3d: pip install 'poselift[c3d]'") from None
    return ezc3d


def write_c3d(
    path: str | Path,
    joints_3d: np.ndarray,
    skeleton: Skeleton = H36M_17,
    fps: float = 50.0,
    *,
    units: str = "mm",
    root_positions: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
) -> Path:
    """Write ``joints_3d`` ``[T, J, 3]`` (metres, camera frame) as a C3D file, atomically.

    Arguments as :func:`poselift.io.trc.write_trc` (``units`` defaults to ``"mm"`` here);
    the frame is the TRC file's: Y up, right-handed, camera ``(x, y, z)`` →
    ``(x, -y, -z)``. Needs ezc3d (``pip install 'poselift[c3d]'``). Returns ``path``.
    """
    path = Path(path)
    units = check_units(units)
    rate = check_frame_rate(fps, "fps")
    markers = marker_positions(
        joints_3d, skeleton, root_positions=root_positions, camera_rotation=camera_rotation, what="C3D export"
    ) * TRC_UNITS[units]
    ezc3d = require_ezc3d()
    num_frames, num_markers = markers.shape[:2]
    doc = ezc3d.c3d()
    point = doc["parameters"]["POINT"]
    point["RATE"]["value"] = np.array([rate])
    point["UNITS"]["value"] = [units]
    point["LABELS"]["value"] = list(skeleton.joint_names)
    point["DESCRIPTIONS"]["value"] = [f"{skeleton.name} joint" for _ in skeleton.joint_names]
    data = np.ones((4, num_markers, num_frames))
    data[:3] = markers.transpose(2, 1, 0)
    doc["data"]["points"] = data
    doc.add_parameter("POINT", "X_SCREEN", "+X")
    doc.add_parameter("POINT", "Y_SCREEN", "+Y")
    with atomic_path(path) as tmp:
        doc.write(str(tmp))
    log.info(
        "wrote %s: %d frames, %d markers in %s, %s; %s", path.name, num_frames, num_markers, units,
        "absolute (root trajectory added)" if root_positions is not None else "root-relative",
        FRAME_NOTE if camera_rotation is None else "Y up: the camera's z-up world turned to Y up (x, z, -y)",
    )
    return path
