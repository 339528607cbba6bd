"""Angles over time as a PNG (``angles.png`` of ``poselift infer --angles``), fed arrays.

One subplot per angle: a ``left_*`` / ``right_*`` pair shares a subplot (left blue,
right red, as in the 3D render), any other angle has its own (black). Joint angles
fill the left column, segment angles (names ending in ``_segment``) the right one.
x: time in seconds; y: degrees. Frames whose 2D input was interpolated (``filled``:
no detection) are shaded grey. matplotlib is imported inside :func:`plot_angles`
(Agg canvas, no pyplot: the caller's backend is untouched), so importing this module
is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_mask, check_frame_rate
from poselift.io.atomic import atomic_path

LEFT_COLOUR = "#1f5fd6"  # the render's left side: blue
RIGHT_COLOUR = "#d62728"  # right: red
SINGLE_COLOUR = "#222222"
FILLED_COLOUR = "#d9d9d9"

#: What 0° (and the sign) means, shown under each subplot's title (``poselift.geometry.angles``).
HINTS = {
    "hip_flexion": "thigh vs trunk, sagittal; 0 = aligned, + flexion, − extension",
    "knee_flexion": "thigh vs shank; 0 = straight",
    "shoulder_flexion": "upper arm vs trunk, sagittal; 0 = hanging, + forward",
    "shoulder_elevation": "upper arm vs trunk, any plane; 0 = hanging, 90 = horizontal",
    "elbow_flexion": "upper arm vs forearm; 0 = straight",
    "trunk_flexion": "trunk vs the vertical (see the note above); 0 = upright, + leaning forward",
    "thigh_segment": "hip→knee from forward horizontal; −90 = down",
    "shank_segment": "knee→ankle from forward horizontal; −90 = down",
    "upper_arm_segment": "shoulder→elbow from forward horizontal; −90 = down",
    "forearm_segment": "elbow→wrist from forward horizontal; −90 = down",
    "trunk_segment": "hip→thorax from forward horizontal; +90 = upright",
}
#: A subplot spans at least this many degrees (a nearly constant angle is not blown up).
MIN_SPAN_DEG = 30.0


def _groups(names: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
    """``(key, {"left"/"right"/"": column})`` in order of first appearance."""
    groups: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        side, key = "", name
        for prefix in ("left_", "right_"):
            if name.startswith(prefix):
                side, key = prefix[:-1], name[len(prefix):]
        groups.setdefault(key, {})[side] = i
    return list(groups.items())


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def _break_wraps(time: np.ndarray, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(time, series)`` with a NaN point inserted wherever the series jumps by more than
    180° between frames (a signed angle wrapping at ±180°), so that the plot breaks the
    line there instead of drawing it across the axes."""
    at = np.flatnonzero(np.abs(np.diff(series)) > 180.0) + 1
    if not at.size:
        return time, series
    return np.insert(time, at, (time[at - 1] + time[at]) / 2), np.insert(series, at, np.nan)


def _title(key: str) -> str:
    text = key.replace("_segment", " segment angle").replace("_", " ")
    return text[0].upper() + text[1:]


def plot_angles(
    path: str | Path,
    names: Sequence[str],
    degrees: np.ndarray,
    fps: float,
    *,
    filled: np.ndarray | None = None,
    title: str = "Joint and segment angles",
    note: str | None = None,
    dpi: int = 100,
) -> Path:
    """Write a PNG of ``degrees`` ``[T, A]`` (the angles ``names``, degrees) over time
    (``fps`` frames/s) to ``path``, atomically. ``filled``: ``[T]`` bool, frames shaded
    as interpolated (no detection); ``note``: a line under the title (e.g. what the
    segment angles are measured against). Returns ``path``."""
    degrees = np.asarray(degrees, dtype=np.float64)
    names = [str(n) for n in names]
    if degrees.ndim != 2 or degrees.shape[1] != len(names) or degrees.shape[0] == 0 or not names:
        raise PoseliftError(f"`degrees` must be shaped [T, {len(names)}] with T > 0 (one column per name), got {list(degrees.shape)}")
    fps = check_frame_rate(fps)
    t = degrees.shape[0]
    if filled is not None:
        filled = check_frame_mask(filled, t)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    groups = _groups(names)
    columns = [[g for g in groups if not g[0].endswith("_segment")], [g for g in groups if g[0].endswith("_segment")]]
    columns = [c for c in columns if c]
    rows = max(len(c) for c in columns)
    fig = Figure(figsize=(6.2 * len(columns), 2.35 * rows + 1.3), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, len(columns), squeeze=False, sharex=True)
    time = np.arange(t) / fps
    runs = _runs(filled) if filled is not None else []
    half = 0.5 / fps
    for c, column in enumerate(columns):
        for r in range(rows):
            ax = axes[r][c]
            if r >= len(column):
                ax.set_visible(False)
                continue
            key, sides = column[r]
            if runs:
                ax.broken_barh([(s / fps - half, n / fps) for s, n in runs], (0, 1), transform=ax.get_xaxis_transform(),
                               facecolors=FILLED_COLOUR, edgecolors="none", zorder=0)
            for side, colour, label in (("left", LEFT_COLOUR, "left"), ("right", RIGHT_COLOUR, "right"), ("", SINGLE_COLOUR, None)):
                if side in sides:
                    ax.plot(*_break_wraps(time, degrees[:, sides[side]]), color=colour, lw=1.3, label=label, zorder=2)
            values = degrees[:, list(sides.values())]
            finite = values[np.isfinite(values)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 90.0)
            if hi - lo < MIN_SPAN_DEG:
                mid = (hi + lo) / 2
                lo, hi = mid - MIN_SPAN_DEG / 2, mid + MIN_SPAN_DEG / 2
            pad = 0.06 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_xlim(time[0] - half, time[-1] + half)
            hint = HINTS.get(key)
            ax.set_title(_title(key) + (f"\n{hint}" if hint else ""), fontsize=9.5, loc="left")
            ax.set_ylabel("angle (°)")
            ax.grid(True, color="#e6e6e6", lw=0.6, zorder=1)
            ax.tick_params(labelsize=8)
            if r == len(column) - 1 or r == rows - 1:
                ax.set_xlabel("time (s)")
                ax.tick_params(labelbottom=True)
    handles = [Line2D([], [], color=LEFT_COLOUR, lw=2, label="left"), Line2D([], [], color=RIGHT_COLOUR, lw=2, label="right")]
    if any("" in sides for _, sides in groups):
        handles.append(Line2D([], [], color=SINGLE_COLOUR, lw=2, label="centre (trunk)"))
    if runs:
        handles.append(Patch(facecolor=FILLED_COLOUR, label="2D interpolated (no detection)"))
    fig.suptitle(title, fontsize=13, x=0.01, ha="left", y=0.995)
    if note:
        fig.text(0.01, 1 - 0.42 / fig.get_figheight(), note, fontsize=8.5, ha="left", va="top", color="#444444")
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=9, frameon=False,
               bbox_to_anchor=(0.995, 1 - 0.05 / fig.get_figheight()))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()), h_pad=0.9, w_pad=1.5)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
