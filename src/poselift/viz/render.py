"""Side-by-side animations: 2D input | 3D reconstruction | 3D ground truth.

Everything is drawn with OpenCV (no matplotlib per frame), so rendering runs at
hundreds of frames per second; the output is an ``.mp4`` or an animated ``.gif``
(Pillow), chosen by the file suffix, written atomically. An ``.mp4`` is H.264
(``yuv420p``, even width and height, ``faststart``), which browsers and chat
previews play, encoded in-process by PyAV's bundled libx264; where that encoder is
missing it falls back to OpenCV's MPEG-4 Part 2 (``mp4v``) with a logged warning.

3D view
-------
Poses are root-centred (joint 0 at the origin in every frame) and shown in an
orthographic projection. Camera-frame poses (x right, y down, z forward) are first
taken to a z-up world: with ``camera_rotation`` (``R_world_to_cam`` of a z-up world,
e.g. Human3.6M extrinsics) exactly, otherwise assuming a level camera
(up = −y). ``azimuth``/``elevation`` follow matplotlib / VideoPose3D: the viewer's
angle (degrees) around the vertical axis and above the ground, in a world turned so
that the input camera sits at azimuth 70° — as VideoPose3D renders custom videos
(Human3.6M camera 0, azimuth 70°). So the default ``azimuth=70`` looks at the
figure from the input camera's side (raised by ``elevation``), 160 / −20 from the
side, 250 from behind. Axis limits (scale and centre) are fixed over the whole
sequence and shared by the reconstruction and ground-truth panels; a floor (a
shaded grid) is drawn at the lowest joint height of the sequence, with axes in
metres: ``x`` (the input camera's right) and ``depth`` (its viewing direction,
horizontal) along two edges of the floor, root-relative, and ``height`` above the
floor on a vertical axis at the back corner.

Frames whose 2D input was interpolated (``filled``: no detection) are drawn with a
grey dashed skeleton and a "no detection - interpolated" label in the input and
reconstruction panels (not the ground truth's); with a per-joint mask, the interpolated joints of the other frames are grey and
dashed in the input panel.

Colours (BGR): the subject's left side blue, right side red, centre line grey.

Several people
--------------
:func:`render_people_video` draws every tracked person of a clip (one
:class:`PersonRender` each) into the same two panels: input 2D | one 3D scene. Each
person has a colour of :data:`PERSON_PALETTE_BGR` (by track id order, cycling; the
left side a lighter shade of it, the right a darker one) and a ``#<id>`` label above
the head, and is drawn only in the frames they are present in. In the 3D scene the
poses are not re-centred: each stands at its trajectory (root position in the camera
frame), the floor grid centred on the mean of the people's mean positions, its axes
in metres from there (``View3D(..., centre=False)``). Without trajectories the people
stand side by side along x, in their left-to-right order in the image, under the
title "Reconstruction - side by side".
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import Skeleton
from poselift.io.atomic import atomic_path, atomic_write

log = logging.getLogger("poselift.viz.render")

LEFT_BGR = (200, 110, 25)
RIGHT_BGR = (35, 35, 210)
CENTRE_BGR = (70, 70, 70)
CENTRE_2D_BGR = (40, 200, 240)  # on images: yellow reads better than grey
BACKGROUND = 250
GRID_BGR = (215, 215, 215)
FLOOR_BGR = (238, 238, 238)
AXIS_BGR = (120, 120, 120)
LABEL_BGR = (60, 60, 60)
MISSING_BGR = (150, 150, 150)  # the skeleton of a frame without a detection
BANNER_BGR = (0, 170, 255)  # amber: "no detection - interpolated"
MISSING_LABEL = "no detection - interpolated"
VIDEO_AZIMUTH_OF_CAMERA = 70.0
# One colour per person (render_people_video), cycling: Tableau 10 without its grey and olive.
PERSON_PALETTE_BGR = (
    (180, 119, 31),  # blue
    (14, 127, 255),  # orange
    (44, 160, 44),  # green
    (40, 39, 214),  # red
    (189, 103, 148),  # purple
    (75, 86, 140),  # brown
    (194, 119, 227),  # pink
    (207, 190, 23),  # cyan
)
PERSON_LIGHTER = 0.45  # left side: this far from the person's colour towards white
PERSON_DARKER = 0.6  # right side: the person's colour times this
SUFFIXES = (".mp4", ".gif")
H264_ENCODER = "libx264"
_SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 px
_ONE = 1 << _SHIFT
MIN_LABELLED_SIZE = 240  # smaller 3D panels get the floor grid without axis labels
RECONSTRUCTION_TITLE = "Reconstruction"
# A level camera looking along +y of a z-up world (camera x = world x, y = -z, z = y).
_LEVEL_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


# --- input checks -------------------------------------------------------------------------


def _as_poses(x, name: str, joints: int, dims: int, frames: int | None) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise PoseliftError(f"{name} must be a numeric array shaped [T, {joints}, {dims}]") from None
    if arr.ndim != 3 or arr.shape[1] != joints or arr.shape[2] != dims or arr.shape[0] < 1:
        raise PoseliftError(f"{name} must be shaped [T, {joints}, {dims}], got {list(arr.shape)}")
    if frames is not None and arr.shape[0] != frames:
        raise PoseliftError(f"{name} has {arr.shape[0]} frames but joints_3d has {frames}")
    return arr


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def _sides(skeleton: Skeleton) -> np.ndarray:
    """Per joint: 1 left, -1 right, 0 centre."""
    side = np.zeros(skeleton.num_joints, dtype=int)
    side[list(skeleton.joints_left)] = 1
    side[list(skeleton.joints_right)] = -1
    return side


def _bone_colours(skeleton: Skeleton, centre: tuple[int, int, int], left=LEFT_BGR, right=RIGHT_BGR) -> list[tuple[int, int, int]]:
    side = _sides(skeleton)
    return [left if side[c] > 0 else right if side[c] < 0 else centre for c, _ in skeleton.bones()]


def _joint_colours(skeleton: Skeleton, centre: tuple[int, int, int], left=LEFT_BGR, right=RIGHT_BGR) -> list[tuple[int, int, int]]:
    side = _sides(skeleton)
    return [left if s > 0 else right if s < 0 else centre for s in side]


def person_colours(index: int) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """(left, right, centre) BGR colours of the ``index``-th person (the palette cycles):
    the centre line in the person's colour, the left side a lighter shade, the right a darker one."""
    c = np.array(PERSON_PALETTE_BGR[index % len(PERSON_PALETTE_BGR)], dtype=np.float64)
    left = c + (255.0 - c) * PERSON_LIGHTER
    right = c * PERSON_DARKER
    return (tuple(int(round(v)) for v in left), tuple(int(round(v)) for v in right),
            tuple(int(v) for v in c))  # type: ignore[return-value]


# --- 3D view ---------------------------------------------------------------------------------


class View3D:
    """Orthographic view of poses in a fixed square panel.

    ``poses``: list of ``[T, J, 3]`` camera-frame arrays sharing the axis limits.
    ``centre=True`` (one person): every pose is re-centred at its root (joint 0) in
    every frame. ``centre=False`` (a scene of several people): poses are taken as they
    are, placed relative to ``origin`` (a camera-frame point, metres; default the mean
    over the arrays of each array's mean root position), which becomes the centre of
    the floor grid; the axes then read metres from that point. ``caption``: keep room
    for a line of text under the title (:func:`_caption`).
    """

    def __init__(
        self,
        poses: list[np.ndarray],
        size: int,
        *,
        azimuth: float = 70.0,
        elevation: float = 15.0,
        camera_rotation: np.ndarray | None = None,
        centre: bool = True,
        origin: np.ndarray | None = None,
        caption: bool = False,
    ) -> None:
        self.size = size
        self.centre = bool(centre)
        self.origin = np.zeros(3)
        if not self.centre:
            if origin is not None:
                self.origin = np.asarray(origin, dtype=np.float64).reshape(3)
            else:
                roots = [np.asarray(p, dtype=np.float64)[:, 0] for p in poses]
                means = [r[np.isfinite(r).all(-1)].mean(0) for r in roots if np.isfinite(r).all(-1).any()]
                if means:
                    self.origin = np.mean(means, axis=0)
        r_wc = _LEVEL_CAMERA if camera_rotation is None else np.asarray(camera_rotation, dtype=np.float64)
        # camera → world (z up), then turn the world about z so the camera looks along +y
        forward = r_wc[2]
        heading = math.atan2(forward[1], forward[0]) if np.hypot(forward[0], forward[1]) > 1e-9 else math.pi / 2
        turn = math.pi / 2 - heading
        c, s = math.cos(turn), math.sin(turn)
        align = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        to_world = align @ r_wc.T  # camera frame → aligned z-up world
        # viewer (matplotlib convention): the camera sits at azimuth -90° of the aligned world
        az = math.radians(azimuth - VIDEO_AZIMUTH_OF_CAMERA - 90.0)
        el = math.radians(elevation)
        eye = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        right = np.array([-math.sin(az), math.cos(az), 0.0])
        up = np.cross(eye, right)
        self.world_matrix = to_world
        self.view_matrix = np.stack([right, up, eye])  # world → (u right, v up, depth towards viewer)

        world = [self.to_world(p) for p in poses]
        pts = np.concatenate([w.reshape(-1, 3) for w in world])
        pts = pts[np.isfinite(pts).all(-1)]
        if len(pts) == 0:
            raise PoseliftError("3D poses contain no finite joint positions")
        self.floor = float(pts[:, 2].min())
        horizontal = float(np.hypot(pts[:, 0], pts[:, 1]).max())
        step = 0.25 if horizontal < 1.5 else 0.5 if horizontal < 4 else 1.0
        self.grid_half = step * max(2, math.ceil((horizontal + 0.1) / step))
        self.grid_step = step
        g, f = self.grid_half, self.floor
        # axes: the floor edges nearer the viewer carry the x and depth ticks; the height
        # axis stands at the opposite (back) corner, behind the figure and clear of them
        self.front = np.where(eye[:2] >= 0, g, -g)  # (x of the depth edge, y of the x edge)
        tall = float(pts[:, 2].max()) - f
        self.height_step = 0.5 if tall > 1.0 else 0.25
        self.height_top = self.height_step * max(1, math.ceil(tall / self.height_step - 1e-6))
        back_top = [-self.front[0], -self.front[1], f + self.height_top]
        corners = np.array([[-g, -g, f], [-g, g, f], [g, -g, f], [g, g, f], back_top])
        uvd = np.concatenate([pts, corners]) @ self.view_matrix.T
        lo, hi = uvd[:, :2].min(0), uvd[:, :2].max(0)
        self.labelled = size >= MIN_LABELLED_SIZE
        margin = (0.12 if self.labelled else 0.08) * size  # room for the tick labels
        top = (0.14 if self.labelled else 0.09) * size  # room for the title (and the height axis name)
        if caption:  # and for a caption line under the title
            top += _caption_height(size)
        avail_w, avail_h = size - 2 * margin, size - margin - top
        extent = np.maximum(hi - lo, 1e-3)
        self.scale = float(min(avail_w / extent[0], avail_h / extent[1]))  # px per metre
        mid = (lo + hi) / 2
        self.offset = np.array([size / 2 - self.scale * mid[0], top + avail_h / 2 + self.scale * mid[1]])

    def to_world(self, pose_cam: np.ndarray) -> np.ndarray:
        """Camera-frame ``[T, J, 3]`` → aligned z-up world: root-centred (``centre``),
        else relative to ``origin``."""
        centred = pose_cam - pose_cam[:, :1] if self.centre else pose_cam - self.origin
        return centred @ self.world_matrix.T

    def project(self, pose_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``[T, J, 3]`` → fixed-point pixels ``[T, J, 2]`` int32 (1/16 px), depth ``[T, J]``
        (larger = nearer the viewer) and a finite mask ``[T, J]``."""
        uvd = self.to_world(pose_cam) @ self.view_matrix.T
        finite = np.isfinite(uvd).all(-1)
        uvd = np.where(finite[..., None], uvd, 0.0)
        px = np.empty(uvd.shape[:-1] + (2,))
        px[..., 0] = self.offset[0] + self.scale * uvd[..., 0]
        px[..., 1] = self.offset[1] - self.scale * uvd[..., 1]
        px = np.clip(px, -4 * self.size, 5 * self.size)
        return np.round(px * _ONE).astype(np.int32), uvd[..., 2], finite

    def _px(self, world) -> np.ndarray:
        """Aligned-world points ``[..., 3]`` → float pixels ``[..., 2]``."""
        uvd = np.asarray(world, dtype=np.float64) @ self.view_matrix.T
        return np.stack([self.offset[0] + self.scale * uvd[..., 0], self.offset[1] - self.scale * uvd[..., 1]], -1)

    def background(self, title: str) -> np.ndarray:
        """The panel without the pose: floor, grid, axes (when the panel is large enough
        for labels) and ``title``; drawn once and copied into every frame."""
        import cv2

        img = np.full((self.size, self.size, 3), BACKGROUND, np.uint8)
        g, f = self.grid_half, self.floor
        floor = self._px([[-g, -g, f], [g, -g, f], [g, g, f], [-g, g, f]])
        cv2.fillConvexPoly(img, np.round(floor * _ONE).astype(np.int32), FLOOR_BGR, cv2.LINE_AA, _SHIFT)
        n = int(round(self.grid_half / self.grid_step))
        ticks = np.arange(-n, n + 1) * self.grid_step
        for t in ticks:
            _line(img, self._px([t, -g, f]), self._px([t, g, f]), GRID_BGR)
            _line(img, self._px([-g, t, f]), self._px([g, t, f]), GRID_BGR)
        if self.labelled:
            self._axes(img, ticks)
        _title(img, title)
        return img

    def _axes(self, img: np.ndarray, ticks: np.ndarray) -> None:
        """Axes in metres: ``x`` and ``depth`` (root-relative) along the front floor edges,
        ``height`` above the floor at the back corner. The axis names are placed first;
        tick labels are thinned (every 2nd, 3rd, ... tick, always 0) until they do not overlap."""
        g, f = self.grid_half, self.floor
        fx, fy = (float(v) for v in self.front)
        font = _label_font(self.size)
        digit_h = _text_size("0", font)[1]
        centre = self._px([0.0, 0.0, f])
        placed: list[tuple[float, float, float, float]] = []
        names, axes = [], []
        for name, at in (("x (m)", lambda t: [t, fy, f]), ("depth (m)", lambda t: [fx, t, f])):
            p0, p1 = self._px(at(-g)), self._px(at(g))
            _line(img, p0, p1, AXIS_BGR)
            out = _unit(self._px(at(0.0)) - centre)
            items = [(t, self._px(at(t))) for t in ticks]
            w, h = np.max([_text_size(f"{t + 0.0:g}", font) for t in ticks], axis=0)
            beyond = self._px(at(0.0)) + out * (3.0 + abs(out[0]) * w + abs(out[1]) * h)  # outside the tick labels
            upper, lower = sorted((p0, p1), key=lambda p: p[1])
            names.append((name, [(beyond, out), (upper + _unit(upper - lower) * 1.6 * digit_h, out)]))
            axes.append((items, out, self.grid_step))
        # height: a vertical line at the back corner, tick marks pointing away from the floor's centre
        bottom, top = self._px([-fx, -fy, f]), self._px([-fx, -fy, f + self.height_top])
        _line(img, bottom, top, AXIS_BGR)
        side = np.array([1.0 if bottom[0] >= centre[0] else -1.0, 0.0])
        mark = max(3.0, self.size / 120)
        items = []
        for h in np.arange(0.0, self.height_top + 1e-6, self.height_step):
            p = self._px([-fx, -fy, f + h])
            _line(img, p, p + side * mark, AXIS_BGR)
            items.append((h, p + side * mark))
        up = np.array([0.0, -1.0])
        names.append(("height (m)", [(top + up * (digit_h / 2 + 1), up)]))  # clear of the top tick label
        axes.append((items, side, self.height_step))
        for name, spots in names:
            if not any(_put_label(img, name, anchor, out, font, placed) for anchor, out in spots):
                _put_label(img, name, *spots[-1], font, placed, force=True)
        for items, out, step in axes:
            _put_ticks(img, items, out, step, font, placed)


def _title(img: np.ndarray, text: str) -> int:
    """Write the panel title at its top left; returns the x where the title ends."""
    import cv2

    h = img.shape[0]
    scale = max(0.35, h / 900)
    thick = max(1, int(round(h / 400)))
    org = (int(0.03 * h), int(0.055 * h) + 4)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (30, 30, 30), thick, cv2.LINE_AA)
    return org[0] + cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0]


def _caption_metrics(h: int) -> tuple[float, int, int, int]:
    """(font scale, gap above, text height, descent) of a caption line in a panel ``h`` px high."""
    import cv2

    scale = max(0.33, h / 1100)
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    return scale, max(3, round(0.02 * h)), th, base


def _caption_height(h: int) -> int:
    """Pixels a caption line takes under the title's baseline (:func:`_caption`)."""
    _, gap, th, base = _caption_metrics(h)
    return gap + th + base


def _caption(img: np.ndarray, text: str) -> int:
    """Write ``text`` on a line under the panel title (smaller, grey); returns the
    height in pixels that the line takes below the title's baseline."""
    import cv2

    h = img.shape[0]
    scale, gap, th, _ = _caption_metrics(h)
    org = (int(0.03 * h), int(0.055 * h) + 4 + gap + th)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, LABEL_BGR, 1, cv2.LINE_AA)
    return _caption_height(h)


def _banner(img: np.ndarray, text: str, title_end: int, colour=BANNER_BGR, below: int = 0) -> None:
    """A label on a filled box: right of the title when it fits there, else under it
    (``below``: and that many more pixels down, under a caption)."""
    import cv2

    h, w = img.shape[:2]
    scale, thick = max(0.33, h / 1100), 1
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, round(h / 160))
    x1 = w - int(0.03 * h)
    x0 = x1 - tw - 2 * pad
    bottom = int(0.055 * h) + 4 + pad  # on the title's baseline
    if x0 < title_end + 2 * pad:
        x0, x1 = int(0.03 * h), int(0.03 * h) + tw + 2 * pad
        bottom += th + base + 3 * pad + below
    top = bottom - th - base - 2 * pad
    cv2.rectangle(img, (x0, top), (x1, bottom), colour, -1)
    cv2.putText(img, text, (x0 + pad, bottom - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thick,
                cv2.LINE_AA)


def _line(img: np.ndarray, p0: np.ndarray, p1: np.ndarray, colour, thickness: int = 1) -> None:
    """Anti-aliased line between float pixel positions (sub-pixel)."""
    import cv2

    a, b = np.round(np.asarray(p0) * _ONE).astype(int), np.round(np.asarray(p1) * _ONE).astype(int)
    cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, thickness, cv2.LINE_AA, _SHIFT)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return np.asarray(v, dtype=np.float64) / n if n > 1e-9 else np.array([0.0, 1.0])


def _label_font(size: int) -> tuple[float, int]:
    """(font scale, thickness) of the axis labels of a ``size`` px panel."""
    return max(0.33, size / 1200), 1


def _text_size(text: str, font: tuple[float, int]) -> tuple[int, int]:
    import cv2

    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font[0], font[1])
    return w, h


def _label_box(text: str, anchor, out, font) -> tuple[float, float, float, float]:
    """Box of ``text`` set next to ``anchor`` on the side ``out`` (a unit vector)."""
    w, h = _text_size(text, font)
    cx, cy = np.asarray(anchor) + np.asarray(out) * (3.0 + abs(out[0]) * w / 2 + abs(out[1]) * h / 2)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _overlap(a, b, pad: float = 2.0) -> bool:
    return not (a[2] + pad < b[0] or b[2] + pad < a[0] or a[3] + pad < b[1] or b[3] + pad < a[1])


def _put_label(img, text: str, anchor, out, font, placed: list, *, force: bool = False) -> bool:
    """Write ``text`` next to ``anchor`` on the side ``out``, unless it would leave the
    panel or overlap a box in ``placed`` (``force``: write it anyway, moved into the panel)."""
    import cv2

    box = _label_box(text, anchor, out, font)
    height, width = img.shape[:2]
    inside = box[0] >= 1 and box[1] >= 1 and box[2] <= width - 1 and box[3] <= height - 1
    if not force and not (inside and not any(_overlap(box, p) for p in placed)):
        return False
    if not inside:
        dx = max(1 - box[0], 0.0) - max(box[2] - (width - 1), 0.0)
        dy = max(1 - box[1], 0.0) - max(box[3] - (height - 1), 0.0)
        box = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
    placed.append(box)
    cv2.putText(img, text, (round(box[0]), round(box[3])), cv2.FONT_HERSHEY_SIMPLEX, font[0], LABEL_BGR,
                font[1], cv2.LINE_AA)
    return True


def _put_ticks(img, items, out, step: float, font, placed: list) -> None:
    """Label the ticks ``items`` (``(value, anchor)``): every tick, else every 2nd, 3rd, ...
    (0 always among them), the first stride whose labels do not overlap each other."""
    space = _text_size("0", font)[0]  # at least a digit's width between two tick labels
    for stride in range(1, len(items) + 1):
        chosen = [(f"{v + 0.0:g}", a) for v, a in items if round(v / step) % stride == 0]
        boxes = [_label_box(text, a, out, font) for text, a in chosen]
        if not any(_overlap(p, q, space) for i, p in enumerate(boxes) for q in boxes[i + 1 :]):
            break
    for text, anchor in chosen:
        _put_label(img, text, anchor, out, font, placed)


def _draw_skeleton(img, pts, finite, depth, bones, bone_colours, joint_colours, thickness, radius, outline=False,
                   faded=None) -> None:
    """Draw one pose: ``pts [J, 2]`` fixed-point int32; far bones first when ``depth`` is given.
    ``faded`` (``[J]`` bool): interpolated joints, drawn grey, their bones dashed."""
    import cv2

    order = range(len(bones))
    if depth is not None:
        order = np.argsort([depth[c] + depth[p] for c, p in bones], kind="stable")
    for b in order:
        c, p = bones[b]
        if not (finite[c] and finite[p]):
            continue
        p0, p1 = (int(pts[c, 0]), int(pts[c, 1])), (int(pts[p, 0]), int(pts[p, 1]))
        if faded is not None and (faded[c] or faded[p]):
            _dashed(img, p0, p1, MISSING_BGR, thickness, 3 * thickness + 4, outline)
            continue
        if outline:
            cv2.line(img, p0, p1, (0, 0, 0), thickness + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(img, p0, p1, bone_colours[b], thickness, cv2.LINE_AA, _SHIFT)
    for j in range(len(pts)):
        if finite[j]:
            colour = MISSING_BGR if faded is not None and faded[j] else joint_colours[j]
            cv2.circle(img, (int(pts[j, 0]), int(pts[j, 1])), radius * _ONE, colour, -1, cv2.LINE_AA, _SHIFT)


def _dashed(img, p0, p1, colour, thickness: int, dash: int, outline: bool) -> None:
    """A dashed line between fixed-point ``p0`` and ``p1``; ``dash``: dash length in pixels."""
    import cv2

    a, b = np.array(p0, np.float64), np.array(p1, np.float64)
    n = max(1, round(float(np.hypot(*(b - a))) / _ONE / (2 * dash)))
    for k in range(n):
        q0 = tuple(int(v) for v in a + (b - a) * (k / n))
        q1 = tuple(int(v) for v in a + (b - a) * ((k + 0.55) / n))
        if outline:
            cv2.line(img, q0, q1, (0, 0, 0), thickness + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(img, q0, q1, colour, thickness, cv2.LINE_AA, _SHIFT)


# --- writers ------------------------------------------------------------------------------------


def _h264_encoder():
    """PyAV (its wheels bundle FFmpeg with libx264) and ``""``, or ``None`` and why not."""
    try:
        import av
    except ImportError as exc:
        return None, f"PyAV is not installed ({exc})"
    try:
        av.codec.Codec(H264_ENCODER, "w")
    except Exception as exc:  # noqa: BLE001 - any failure means: no encoder
        return None, f"PyAV {getattr(av, '__version__', '?')} has no {H264_ENCODER} encoder ({exc})"
    return av, ""


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float, width: int, height: int) -> int:
    """H.264 when PyAV's libx264 is there, else OpenCV's ``mp4v`` with a warning."""
    if width % 2 or height % 2:
        raise PoseliftError(f"an H.264 video needs an even width and height, got {width}x{height}")
    av, why = _h264_encoder()
    if av is not None:
        return _write_h264(av, path, frames, fps, width, height)
    log.warning(
        "writing %s as MPEG-4 Part 2 (mp4v), which browsers do not play: %s; reinstall poselift's dependency "
        "PyAV (pip install av) for H.264", path, why,
    )
    return _write_mp4v(path, frames, fps, width, height)


def _write_h264(av, path: Path, frames: Iterator[np.ndarray], fps: float, width: int, height: int) -> int:
    """H.264 High profile, yuv420p, BT.601 (tagged), ``faststart`` (plays while downloading)."""
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            stream = container.add_stream(H264_ENCODER, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            # superfast: ~1/3 the size of mp4v, and unlike veryfast no colour left behind by
            # moving coloured lines (visible when a skeleton turns grey)
            stream.options = {"crf": "23", "preset": "superfast"}
            ctx = stream.codec_context
            # swscale converts BGR → yuv420p with BT.601 limited-range coefficients: say so
            ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 6, 6, 6, 1
            for frame in frames:
                image = av.VideoFrame.from_ndarray(frame, format="bgr24")
                image.pts = count
                image.time_base = 1 / rate
                for packet in stream.encode(image):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
        except BaseException:
            with contextlib.suppress(Exception):
                container.close()
            raise
        container.close()
    return count


def _write_mp4v(path: Path, frames: Iterator[np.ndarray], fps: float, width: int, height: int) -> int:
    import cv2

    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise PoseliftError(f"OpenCV cannot write an mp4v video to {path}")
        count = 0
        try:
            for frame in frames:
                writer.write(frame)
                count += 1
        finally:
            writer.release()
    return count


def _write_gif(path: Path, frames: Iterator[np.ndarray], fps: float, fixed_palette: bool,
               swatch: np.ndarray | None = None) -> int:
    """Animated GIF; ``fixed_palette``: reuse the first frame's palette (drawings on a
    blank canvas: 3x faster), else an adaptive palette per frame (video). ``swatch``
    (BGR rows as wide as a frame): colours the fixed palette must hold although the
    first frame may lack them (a person who enters later), added under that frame
    when the palette is made."""
    import cv2

    try:
        from PIL import Image
    except ImportError:
        raise PoseliftError("GIF output needs Pillow (pip install pillow); or render to .mp4") from None

    count = 0
    palette = None

    def images():
        nonlocal count, palette
        for frame in frames:
            count += 1
            im = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if palette is None and fixed_palette and swatch is not None:
                palette = Image.fromarray(cv2.cvtColor(np.concatenate([frame, swatch]), cv2.COLOR_BGR2RGB)).quantize(
                    colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
            if palette is None:
                q = im.quantize(colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
                if fixed_palette:
                    palette = q
            else:
                q = im.quantize(palette=palette, dither=Image.Dither.NONE)
            yield q

    it = images()
    first = next(it)
    duration = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s
    with atomic_write(path, "wb") as f:
        first.save(f, format="GIF", save_all=True, append_images=it, duration=duration, loop=0, optimize=False, disposal=1)
    return count


# --- main entry --------------------------------------------------------------------------------


#: Panel heights (pixels) that :func:`render_video` accepts (its ``size``).
PANEL_SIZE_RANGE = (64, 4096)


def check_panel_size(size, name: str = "size") -> None:
    """Raise :class:`PoseliftError` unless ``size`` is a whole number of pixels in
    :data:`PANEL_SIZE_RANGE` (``name``: the argument it came from, for the message)."""
    low, high = PANEL_SIZE_RANGE
    whole = isinstance(size, (int, np.integer)) and not isinstance(size, bool)
    if not whole or not low <= size <= high:
        raise PoseliftError(
            f"`{name}` must be a whole number of pixels from {low} to {high} (the rendered video's height), got {size!r:.40}"
        )


def _check_options(fps, size, downsample, limit_frames, camera_rotation) -> tuple[int, int, np.ndarray | None]:
    """The checks the renderers share; returns the even panel size, the integer
    ``downsample`` and ``camera_rotation`` as a float array (or None)."""
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise PoseliftError(f"fps must be a positive number, got {fps!r}")
    check_panel_size(size)
    size = _even(size)
    if int(downsample) != downsample or downsample < 1:
        raise PoseliftError(f"downsample must be a positive integer, got {downsample}")
    downsample = int(downsample)
    if limit_frames is not None and (int(limit_frames) != limit_frames or limit_frames < 1):
        raise PoseliftError(f"limit_frames must be a positive integer, got {limit_frames}")
    if camera_rotation is not None:
        camera_rotation = np.asarray(camera_rotation, dtype=np.float64)
        if camera_rotation.shape != (3, 3):
            raise PoseliftError(f"camera_rotation must be a 3x3 matrix, got {list(camera_rotation.shape)}")
    return size, downsample, camera_rotation


def _check_title(title, name: str) -> str:
    if not isinstance(title, str):
        raise PoseliftError(f"`{name}` must be a string, got {type(title).__name__}")
    return title


def _check_more_3d(more_3d, skeleton: Skeleton, total: int) -> list[tuple[str, np.ndarray]]:
    """``more_3d`` as a list of ``(title, float array [T, J, 3])``."""
    if more_3d is None:
        return []
    if isinstance(more_3d, np.ndarray) or isinstance(more_3d, tuple) and len(more_3d) == 2 and isinstance(more_3d[0], str):
        raise PoseliftError("`more_3d` must be a sequence of (title, [T, J, 3] array) pairs, e.g. [('temporal', joints)]")
    checked = []
    for i, item in enumerate(more_3d):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise PoseliftError(f"more_3d[{i}] must be a (title, [T, J, 3] array) pair, got {type(item).__name__}")
        title = _check_title(item[0], f"more_3d[{i}][0]")
        checked.append((title, _as_poses(item[1], f"more_3d[{i}] ({title})", skeleton.num_joints, 3, total)))
    return checked


def _check_captions(captions, panels: int) -> list[str]:
    """One caption (``""``: none) per reconstruction panel."""
    if captions is None:
        return [""] * panels
    if isinstance(captions, str):
        raise PoseliftError("`captions` must be a sequence of strings (one per reconstruction), got a single string")
    texts = list(captions)
    if len(texts) != panels:
        raise PoseliftError(f"`captions` has {len(texts)} entries for {panels} reconstruction panel(s)")
    for i, t in enumerate(texts):
        if t is not None and not isinstance(t, str):
            raise PoseliftError(f"captions[{i}] must be a string or None, got {type(t).__name__}")
    return [t or "" for t in texts]


def render_video(
    out_path: str | Path,
    joints_3d: np.ndarray,
    skeleton: Skeleton,
    fps: float,
    *,
    keypoints_2d: np.ndarray | None = None,
    keypoints_skeleton: Skeleton | None = None,
    frames: Iterable[np.ndarray] | None = None,
    image_size: tuple[int, int] | None = None,
    ground_truth: np.ndarray | None = None,
    camera_rotation: np.ndarray | None = None,
    filled: np.ndarray | None = None,
    size: int = 480,
    azimuth: float = 70.0,
    elevation: float = 15.0,
    limit_frames: int | None = None,
    downsample: int = 1,
    progress: bool = True,
    more_3d: Sequence[tuple[str, np.ndarray]] = (),
    title_3d: str = RECONSTRUCTION_TITLE,
    captions: Sequence[str | None] | None = None,
) -> Path:
    """Render input 2D | 3D reconstruction(s) | 3D ground truth side by side.

    joints_3d: ``[T, J, 3]`` metres, camera frame (x right, y down, z forward).
    keypoints_2d: ``[T, J2, 2]`` pixels of the input image (``keypoints_skeleton``,
    default ``skeleton``); frames: the source video as BGR uint8 images (any
    iterable, consumed lazily); image_size: ``(w, h)`` of the blank canvas when
    there are no frames (default: fitted around the keypoints). Without frames and
    keypoints the input panel is left out. ground_truth: ``[T, J, 3]`` like
    joints_3d (adds a third panel). filled: which 2D input was interpolated rather
    than detected, ``[T]`` bool per frame or ``[T, J2]`` per keypoint; frames
    with nothing detected get a grey dashed skeleton and a "no detection -
    interpolated" label in the input and reconstruction panels, the interpolated
    joints of other frames a grey dashed look in the input panel. size: panel height in pixels. limit_frames:
    use only the first N input frames; downsample: then keep every N-th (the video
    plays at ``fps / downsample`` so it keeps real time). The suffix picks the
    format: ``.mp4`` or ``.gif``. Returns the output path.

    Several reconstructions of the same input (models compared): ``more_3d`` adds one
    panel per ``(title, [T, J, 3])`` after the first reconstruction's, all with the
    axis limits of the others; ``title_3d`` is the first one's title (default
    "Reconstruction"); ``captions``: one line of text under the title of each
    reconstruction panel (``joints_3d``'s first, then ``more_3d``'s; ``None`` or
    ``""``: none), e.g. the model's receptive field. Without them the output is the
    one-reconstruction video.
    """
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PoseliftError(f"cannot render to {out_path}: unknown suffix {out_path.suffix!r}; use .mp4 or .gif")
    joints = _as_poses(joints_3d, "joints_3d", skeleton.num_joints, 3, None)
    total = joints.shape[0]
    recons = [(_check_title(title_3d, "title_3d"), joints)] + _check_more_3d(more_3d, skeleton, total)
    texts = _check_captions(captions, len(recons))
    gt = None if ground_truth is None else _as_poses(ground_truth, "ground_truth", skeleton.num_joints, 3, total)
    kskel = keypoints_skeleton or skeleton
    kp = None if keypoints_2d is None else _as_poses(keypoints_2d, "keypoints_2d", kskel.num_joints, 2, total)
    size, downsample, camera_rotation = _check_options(fps, size, downsample, limit_frames, camera_rotation)
    used = total if limit_frames is None else min(total, int(limit_frames))
    indices = np.arange(0, used, downsample)
    missing = joint_filled = None
    if filled is not None:
        mask = np.asarray(filled)
        if mask.dtype != bool or mask.shape not in ((total,), (total, kskel.num_joints)):
            raise PoseliftError(
                f"`filled` must be a bool array shaped [{total}] (per frame) or [{total}, {kskel.num_joints}] "
                f"(per keypoint), got {mask.dtype} {list(mask.shape)}"
            )
        mask = mask[indices]
        missing = mask if mask.ndim == 1 else mask.all(axis=1)
        if mask.ndim == 2 and kp is not None:
            joint_filled = mask & ~missing[:, None]

    # ---- panels
    captioned = any(texts)
    view = View3D([a[:used] for _, a in recons] + ([gt[:used]] if gt is not None else []), size,
                  azimuth=azimuth, elevation=elevation, camera_rotation=camera_rotation, caption=captioned)
    bones = skeleton.bones()
    colours3 = _bone_colours(skeleton, CENTRE_BGR)
    jcolours3 = _joint_colours(skeleton, CENTRE_BGR)
    thick3 = max(1, int(round(size / 130)))
    radius3 = max(1, int(round(size / 170)))
    panels3 = []  # (background, pixels, depth, finite, title end, caption height) per panel; None: ground truth
    for (title, poses), text in zip(recons, texts):
        bg = view.background(title)
        below = _caption(bg, text) if text else 0
        ends = (_title(np.zeros((size, size, 3), np.uint8), title), below)
        panels3.append((bg, *view.project(poses[indices]), ends))
    if gt is not None:
        panels3.append((view.background("Ground truth"), *view.project(gt[indices]), None))
    all_faded = np.ones(skeleton.num_joints, bool)
    all_faded2 = np.ones(kskel.num_joints, bool)

    show_input = kp is not None or frames is not None
    in_w = 0
    first = frame_iter = None  # the first video frame and the rest (with a video)
    if show_input:
        first, frame_iter, origin, (src_w, src_h), in_w, canvas = _input_panel(
            frames, image_size, size, lambda: kp[:used].reshape(-1, 2), "keypoints_2d contain no finite points")
        thick2 = max(1, int(round(size / 180)))
        radius2 = max(1, int(round(size / 200)))
        colours2 = _bone_colours(kskel, CENTRE_2D_BGR if frames is not None else CENTRE_BGR)
        jcolours2 = _joint_colours(kskel, CENTRE_2D_BGR if frames is not None else CENTRE_BGR)
        bones2 = kskel.bones()
        if kp is not None:
            k = (kp[indices] - origin) * np.array([in_w / src_w, size / src_h])
            finite2 = np.isfinite(k).all(-1)
            k2 = np.round(np.clip(np.where(finite2[..., None], k, 0.0), -4 * size, 5 * size) * _ONE).astype(np.int32)

    width = in_w + size * len(panels3)
    n_out = len(indices)

    def render_frames() -> Iterator[np.ndarray]:
        out = np.empty((size, width, 3), np.uint8)
        for n, src in enumerate(_frame_source(first, frame_iter, used, indices)):
            x = 0
            if show_input:
                panel = out[:, :in_w]
                _input_background(panel, src, canvas, (src_w, src_h), int(indices[n]))
                lost = missing is not None and missing[n]
                part = joint_filled is not None and joint_filled[n].any()
                if kp is not None:
                    faded = all_faded2 if lost else joint_filled[n] if part else None
                    _draw_skeleton(panel, k2[n], finite2[n], None, bones2, colours2, jcolours2, thick2, radius2,
                                   outline=frames is not None, faded=faded)
                end = _title(panel, f"Input 2D  {indices[n] + 1}/{total}")
                if lost:
                    _banner(panel, MISSING_LABEL, end)
                elif part:
                    _banner(panel, f"{int(joint_filled[n].sum())} joint(s) interpolated", end, colour=GRID_BGR)
                x = in_w
            for bg, pts, depth, finite, ends in panels3:
                panel = out[:, x : x + size]
                panel[:] = bg
                lost = ends is not None and missing is not None and missing[n]  # the reconstructions, not the ground truth
                _draw_skeleton(panel, pts[n], finite[n], depth[n], bones, colours3, jcolours3, thick3, radius3,
                               faded=all_faded if lost else None)
                if lost:
                    _banner(panel, MISSING_LABEL, ends[0], below=ends[1])
                x += size
            yield out

    if n_out == 0:
        raise PoseliftError("nothing to render (no frames)")
    start = time.perf_counter()
    stream: Iterator[np.ndarray] = render_frames()
    if progress:
        from tqdm import tqdm

        stream = iter(tqdm(stream, total=n_out, desc=f"render {out_path.name}", unit="frame", leave=False, file=sys.stderr))
    out_fps = fps / downsample
    if suffix == ".mp4":
        count = _write_mp4(out_path, stream, out_fps, width, size)
    else:
        count = _write_gif(out_path, stream, out_fps, fixed_palette=frames is None)
    elapsed = time.perf_counter() - start
    log.info("rendered %d frames (%dx%d) to %s in %.1f s (%.0f frames/s)", count, width, size, Path(out_path).name, elapsed, count / max(elapsed, 1e-9))
    return out_path


# --- several people ------------------------------------------------------------------------------

#: The reconstruction panel's title when people are placed side by side (no trajectories).
SIDE_BY_SIDE_TITLE = "Reconstruction - side by side"
MIN_SIDE_BY_SIDE_SPACING = 1.0  # metres between neighbouring roots placed side by side


@dataclass(frozen=True, eq=False)
class PersonRender:
    """One tracked person of a clip, for :func:`render_people_video`. Every array has
    the clip's ``T`` frames.

    track_id: shown as ``#<id>`` next to the head; unique within a video.
    joints_3d: ``[T, J, 3]`` metres, root-relative, camera frame (x right, y down,
    z forward); NaN in frames where the person is absent.
    trajectory: ``[T, 3]`` metres, the root's (joint 0's) position in the camera
    frame, or None (no person has one: they are shown side by side).
    keypoints_2d: ``[T, J2, 2]`` pixels of the input image, or None (the person is
    not drawn in the input panel).
    filled: which 2D input was interpolated, ``[T]`` bool per frame or ``[T, J2]``
    per keypoint, drawn as by :func:`render_video`; or None.
    present: ``[T]`` bool, the frames in which the person is in the clip; nothing of
    the person is drawn in the others. None: the frames where ``joints_3d`` has a
    finite joint.
    """

    track_id: int
    joints_3d: np.ndarray
    trajectory: np.ndarray | None = None
    keypoints_2d: np.ndarray | None = None
    filled: np.ndarray | None = None
    present: np.ndarray | None = None


@dataclass
class _Person:
    """A checked :class:`PersonRender`: float arrays, ``present`` filled in."""

    track_id: int
    joints: np.ndarray
    trajectory: np.ndarray | None
    keypoints: np.ndarray | None
    filled: np.ndarray | None
    present: np.ndarray


def _check_people(people, skeleton: Skeleton, kskel: Skeleton) -> tuple[list[_Person], int]:
    """Check ``people`` (shapes, one frame count, unique ids); returns them and ``T``."""
    if isinstance(people, PersonRender):
        raise PoseliftError("`people` must be a sequence of PersonRender, got a single PersonRender (pass [person])")
    try:
        people = list(people)
    except TypeError:
        raise PoseliftError(f"`people` must be a sequence of PersonRender, got {type(people).__name__}") from None
    if not people:
        raise PoseliftError("`people` is empty: there is nobody to render")
    for i, p in enumerate(people):
        if not isinstance(p, PersonRender):
            raise PoseliftError(f"people[{i}] must be a PersonRender, got {type(p).__name__}")
        if not isinstance(p.track_id, (int, np.integer)) or isinstance(p.track_id, (bool, np.bool_)):
            raise PoseliftError(f"people[{i}].track_id must be an integer, got {p.track_id!r:.40}")
    ids = [int(p.track_id) for p in people]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise PoseliftError(f"duplicate track ids {', '.join(f'#{i}' for i in repeated)}: every person needs their own id")
    checked: list[_Person] = []
    total = 0
    for p, tid in zip(people, ids):
        tag = f"person #{tid}"
        joints = _as_poses(p.joints_3d, f"{tag} joints_3d", skeleton.num_joints, 3, None)
        if not checked:
            total = joints.shape[0]
        elif joints.shape[0] != total:
            raise PoseliftError(
                f"{tag} has {joints.shape[0]} frames but person #{checked[0].track_id} has {total}: every person "
                "needs the clip's frame count (NaN where absent)"
            )
        trajectory = None
        if p.trajectory is not None:
            try:
                trajectory = np.asarray(p.trajectory, dtype=np.float64)
            except (TypeError, ValueError):
                raise PoseliftError(f"{tag} trajectory must be a numeric array shaped [{total}, 3]") from None
            if trajectory.shape != (total, 3):
                raise PoseliftError(f"{tag} trajectory must be shaped [{total}, 3], got {list(trajectory.shape)}")
        kp = None if p.keypoints_2d is None else _as_poses(p.keypoints_2d, f"{tag} keypoints_2d", kskel.num_joints, 2, total)
        if p.present is None:
            present = np.isfinite(joints).all(-1).any(-1)
        else:
            present = np.asarray(p.present)
            if present.dtype != bool or present.shape != (total,):
                raise PoseliftError(f"{tag} `present` must be a bool array shaped [{total}], got {present.dtype} {list(present.shape)}")
        filled = None
        if p.filled is not None:
            filled = np.asarray(p.filled)
            if filled.dtype != bool or filled.shape not in ((total,), (total, kskel.num_joints)):
                raise PoseliftError(
                    f"{tag} `filled` must be a bool array shaped [{total}] (per frame) or [{total}, {kskel.num_joints}] "
                    f"(per keypoint), got {filled.dtype} {list(filled.shape)}"
                )
        checked.append(_Person(tid, joints, trajectory, kp, filled, present))
    with_track = [p.track_id for p in checked if p.trajectory is not None]
    if with_track and len(with_track) != len(checked):
        without = [f"#{p.track_id}" for p in checked if p.trajectory is None]
        raise PoseliftError(
            f"a trajectory is given for some people but not for {', '.join(without)}: give one for every person "
            "(placed where they are) or for none (shown side by side)"
        )
    return checked, total


def _place_people(persons: list[_Person], used: int) -> list[np.ndarray]:
    """Each person's joints in the camera frame, joint 0 at the trajectory; NaN outside
    the frames the person is present in. Without trajectories the people stand side by
    side along the camera's x axis at one depth, as far apart as the widest needs, in
    their left-to-right order in the image when every person has 2D keypoints, else by
    track id."""
    rel = [p.joints - p.joints[:, :1] for p in persons]
    if persons[0].trajectory is not None:
        roots = [p.trajectory[:, None] for p in persons]
    else:
        reach = 0.3
        for r, p in zip(rel, persons):
            x = np.abs(r[:used][p.present[:used], :, 0])
            x = x[np.isfinite(x)]
            reach = max(reach, float(x.max()) if x.size else 0.0)
        spacing = max(MIN_SIDE_BY_SIDE_SPACING, 2 * reach + 0.4)
        keys = []
        for p in persons:
            x = np.inf
            if all(q.keypoints is not None for q in persons):
                k = p.keypoints[:used][p.present[:used], :, 0]
                k = k[np.isfinite(k)]
                x = float(k.mean()) if k.size else np.inf
            keys.append((x, p.track_id))
        order = sorted(range(len(persons)), key=lambda i: keys[i])
        slots = np.empty(len(persons), int)
        slots[order] = np.arange(len(persons))
        roots = [np.array([(s - (len(persons) - 1) / 2) * spacing, 0.0, 0.0]) for s in slots]
    placed = []
    for r, root, p in zip(rel, roots, persons):
        a = r + root
        a[~p.present] = np.nan
        placed.append(a)
    return placed


def _head_joint(skeleton: Skeleton) -> int | None:
    """The joint the id label sits above: the head (top), else the nose, else None."""
    names = [n.lower() for n in skeleton.joint_names]
    for want in ("headtop", "head_top", "head", "nose"):
        if want in names:
            return names.index(want)
    return next((i for i, n in enumerate(names) if "head" in n), None)


def _label_anchors(px: np.ndarray, finite: np.ndarray, head: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Where a person's id label goes, per frame: above the top-most drawn joint, centred
    on the head (or on the drawn joints' mean x). ``px [n, J, 2]`` float pixels,
    ``finite [n, J]``; returns the anchors ``[n, 2]`` and whether there is one ``[n]``."""
    drawn = finite.any(1)
    top = np.where(finite, px[..., 1], np.inf).min(1)
    mean_x = np.where(finite, px[..., 0], 0.0).sum(1) / np.maximum(finite.sum(1), 1)
    x = mean_x if head is None else np.where(finite[:, head], px[:, head, 0], mean_x)
    return np.stack([x, np.where(drawn, top, 0.0)], -1), drawn


def _id_label(img: np.ndarray, text: str, anchor: np.ndarray, colour, scale: float, gap: float) -> None:
    """``text`` on a box in ``colour``, centred ``gap`` px above ``anchor``, kept inside the panel."""
    import cv2

    h, w = img.shape[:2]
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    pad = max(2, round(th / 3))
    bw, bh = tw + 2 * pad, th + 2 * pad
    x0 = int(round(min(max(anchor[0] - bw / 2, 0), w - bw)))
    y0 = int(round(min(max(anchor[1] - gap - bh, 0), h - bh)))
    cv2.rectangle(img, (x0, y0), (x0 + bw - 1, y0 + bh - 1), colour, -1)
    light = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2] > 150
    cv2.putText(img, text, (x0 + pad, y0 + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (20, 20, 20) if light else (255, 255, 255), 1, cv2.LINE_AA)


def _palette_swatch(colours, width: int, rows: int = 6) -> np.ndarray:
    """BGR rows holding ``colours`` blended into the background and the floor (their
    anti-aliased edges), for a GIF's fixed palette."""
    cells = []
    for c in colours:
        c = np.asarray(c, dtype=np.float64)
        for bg in (np.full(3, float(BACKGROUND)), np.asarray(FLOOR_BGR, dtype=np.float64)):
            for a in (0.35, 0.7, 1.0):
                cells.append(np.round(a * c + (1 - a) * bg))
    cells = np.asarray(cells, dtype=np.uint8)
    pick = (np.arange(width) * len(cells)) // width
    return np.ascontiguousarray(np.repeat(cells[pick][None], rows, axis=0))


def render_people_video(
    out_path: str | Path,
    people: Sequence[PersonRender],
    skeleton: Skeleton,
    fps: float,
    *,
    keypoints_skeleton: Skeleton | None = None,
    frames: Iterable[np.ndarray] | None = None,
    image_size: tuple[int, int] | None = None,
    camera_rotation: np.ndarray | None = None,
    size: int = 480,
    azimuth: float = 70.0,
    elevation: float = 15.0,
    limit_frames: int | None = None,
    downsample: int = 1,
    progress: bool = True,
) -> Path:
    """Render several people of one clip: input 2D | one shared 3D scene.

    people: one :class:`PersonRender` per track, all with the clip's ``T`` frames.
    Each person is drawn in their own colour (:data:`PERSON_PALETTE_BGR` in the order
    of their track ids, cycling; the left side a lighter shade, the right a darker
    one) with a ``#<id>`` label above the head, in both panels, and only in the frames
    they are ``present`` in. The 3D panel is one scene: every pose stands at its
    ``trajectory`` (the root in the camera frame), so people at different depths keep
    their places relative to each other; the floor grid is centred on the mean of the
    people's mean positions over the clip and its axes read metres from there. Without
    trajectories (None for every person) the people stand side by side along x, in
    their left-to-right order in the image (or by track id), and the panel is titled
    :data:`SIDE_BY_SIDE_TITLE`. Limits are fixed over the whole clip, the floor at the
    lowest joint of anyone. Interpolated input (``filled``) is drawn as by
    :func:`render_video`, the banner naming the people it concerns.

    The other arguments are :func:`render_video`'s: ``keypoints_skeleton`` (default
    ``skeleton``) is every person's ``keypoints_2d`` joint set; ``frames`` the source
    video, ``image_size`` the blank canvas (default: fitted around everyone's
    keypoints); without frames and keypoints the input panel is left out.
    Returns the output path (``.mp4`` or ``.gif``).
    """
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PoseliftError(f"cannot render to {out_path}: unknown suffix {out_path.suffix!r}; use .mp4 or .gif")
    kskel = keypoints_skeleton or skeleton
    persons, total = _check_people(people, skeleton, kskel)
    size, downsample, camera_rotation = _check_options(fps, size, downsample, limit_frames, camera_rotation)
    used = total if limit_frames is None else min(total, int(limit_frames))
    indices = np.arange(0, used, downsample)
    n_out = len(indices)
    count = len(persons)
    ids = [p.track_id for p in persons]
    rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
    shades = [person_colours(int(r)) for r in rank]  # (left, right, centre) per person
    labels = [f"#{i}" for i in ids]
    present = [p.present[indices] for p in persons]

    # interpolated input, per person: whole frames (also marked in 3D) and single joints (2D)
    missing: list[np.ndarray | None] = []
    joint_filled: list[np.ndarray | None] = []
    for p, here in zip(persons, present):
        if p.filled is None:
            missing.append(None)
            joint_filled.append(None)
            continue
        mask = p.filled[indices]
        lost = (mask if mask.ndim == 1 else mask.all(axis=1)) & here
        missing.append(lost)
        joint_filled.append(mask & ~lost[:, None] & here[:, None] if mask.ndim == 2 and p.keypoints is not None else None)
    lost_text: list[str | None] = []
    part_text: list[str | None] = []
    for n in range(n_out):
        lost = [labels[i] for i in range(count) if missing[i] is not None and missing[i][n]]
        part = [f"{labels[i]}: {int(joint_filled[i][n].sum())}" for i in range(count)
                if joint_filled[i] is not None and joint_filled[i][n].any()]
        lost_text.append(f"{' '.join(lost)} {MISSING_LABEL}" if lost else None)
        part_text.append(f"{', '.join(part)} joint(s) interpolated" if part else None)

    # ---- the 3D scene
    placed = _place_people(persons, used)
    side_by_side = persons[0].trajectory is None
    view = View3D([a[:used] for a in placed], size, azimuth=azimuth, elevation=elevation,
                  camera_rotation=camera_rotation, centre=False)
    title3 = SIDE_BY_SIDE_TITLE if side_by_side else "Reconstruction"
    background3 = view.background(title3)
    title_end3 = _title(np.zeros((size, size, 3), np.uint8), title3)
    bones = skeleton.bones()
    colours3 = [_bone_colours(skeleton, c, l, r) for l, r, c in shades]
    jcolours3 = [_joint_colours(skeleton, c, l, r) for l, r, c in shades]
    thick3 = max(1, int(round(size / 130)))
    radius3 = max(1, int(round(size / 170)))
    label_scale = max(0.35, size / 1100)
    projected = [view.project(a[indices]) for a in placed]  # (pts, depth, finite) per person
    head3 = _head_joint(skeleton)
    anchors3 = [_label_anchors(pts / _ONE, finite, head3) for pts, _, finite in projected]
    nearness = np.stack([np.where(finite.any(1), (depth * finite).sum(1) / np.maximum(finite.sum(1), 1), -np.inf)
                         for _, depth, finite in projected], axis=1)
    order3 = np.argsort(nearness, axis=1, kind="stable")  # the farthest person first
    all_faded = np.ones(skeleton.num_joints, bool)
    all_faded2 = np.ones(kskel.num_joints, bool)

    # ---- the input panel
    has_kp = [p.keypoints is not None for p in persons]
    show_input = any(has_kp) or frames is not None
    first = frame_iter = None  # the first video frame and the rest (with a video)
    in_w = 0
    if show_input:
        first, frame_iter, origin, (src_w, src_h), in_w, canvas = _input_panel(
            frames, image_size, size,
            lambda: np.concatenate([p.keypoints[:used][p.present[:used]].reshape(-1, 2) for p in persons
                                    if p.keypoints is not None]),
            "keypoints_2d contain no finite points in the frames the people are present in")
        thick2 = max(1, int(round(size / 180)))
        radius2 = max(1, int(round(size / 200)))
        colours2 = [_bone_colours(kskel, c, l, r) for l, r, c in shades]
        jcolours2 = [_joint_colours(kskel, c, l, r) for l, r, c in shades]
        bones2 = kskel.bones()
        head2 = _head_joint(kskel)
        k2: list[np.ndarray | None] = []
        finite2: list[np.ndarray | None] = []
        anchors2: list[tuple[np.ndarray, np.ndarray] | None] = []
        for p, here in zip(persons, present):
            if p.keypoints is None:
                k2.append(None)
                finite2.append(None)
                anchors2.append(None)
                continue
            k = (p.keypoints[indices] - origin) * np.array([in_w / src_w, size / src_h])
            fin = np.isfinite(k).all(-1) & here[:, None]
            k = np.clip(np.where(fin[..., None], k, 0.0), -4 * size, 5 * size)
            k2.append(np.round(k * _ONE).astype(np.int32))
            finite2.append(fin)
            anchors2.append(_label_anchors(k, fin, head2))
        if side_by_side:
            order2 = np.tile(np.arange(count), (n_out, 1))
        else:  # the farthest from the camera first
            depth2 = np.stack([np.nan_to_num(p.trajectory[indices, 2], nan=0.0) for p in persons], axis=1)
            order2 = np.argsort(-depth2, axis=1, kind="stable")

    width = in_w + size
    swatch = None
    if suffix == ".gif" and frames is None:
        swatch = _palette_swatch([c for s in shades for c in s] + [MISSING_BGR, BANNER_BGR, GRID_BGR], width)

    def render_frames() -> Iterator[np.ndarray]:
        out = np.empty((size, width, 3), np.uint8)
        for n, src in enumerate(_frame_source(first, frame_iter, used, indices)):
            x = 0
            if show_input:
                panel = out[:, :in_w]
                _input_background(panel, src, canvas, (src_w, src_h), int(indices[n]))
                drawn = [i for i in order2[n] if has_kp[i] and present[i][n]]
                for i in drawn:
                    lost = missing[i] is not None and missing[i][n]
                    part = joint_filled[i] is not None and joint_filled[i][n].any()
                    faded = all_faded2 if lost else joint_filled[i][n] if part else None
                    _draw_skeleton(panel, k2[i][n], finite2[i][n], None, bones2, colours2[i], jcolours2[i], thick2,
                                   radius2, outline=frames is not None, faded=faded)
                for i in drawn:
                    at, ok = anchors2[i]
                    if ok[n]:
                        _id_label(panel, labels[i], at[n], shades[i][2], label_scale, radius2 + 3)
                end = _title(panel, f"Input 2D  {indices[n] + 1}/{total}")
                if lost_text[n]:
                    _banner(panel, lost_text[n], end)
                elif part_text[n]:
                    _banner(panel, part_text[n], end, colour=GRID_BGR)
                x = in_w
            panel = out[:, x : x + size]
            panel[:] = background3
            drawn = [i for i in order3[n] if present[i][n]]
            for i in drawn:
                pts, depth, finite = projected[i]
                lost = missing[i] is not None and missing[i][n]
                _draw_skeleton(panel, pts[n], finite[n], depth[n], bones, colours3[i], jcolours3[i], thick3, radius3,
                               faded=all_faded if lost else None)
            for i in drawn:
                at, ok = anchors3[i]
                if ok[n]:
                    _id_label(panel, labels[i], at[n], shades[i][2], label_scale, radius3 + 3)
            if lost_text[n]:
                _banner(panel, lost_text[n], title_end3)
            yield out

    start = time.perf_counter()
    stream: Iterator[np.ndarray] = render_frames()
    if progress:
        from tqdm import tqdm

        stream = iter(tqdm(stream, total=n_out, desc=f"render {out_path.name}", unit="frame", leave=False, file=sys.stderr))
    out_fps = fps / downsample
    if suffix == ".mp4":
        written = _write_mp4(out_path, stream, out_fps, width, size)
    else:
        written = _write_gif(out_path, stream, out_fps, fixed_palette=frames is None, swatch=swatch)
    elapsed = time.perf_counter() - start
    log.info("rendered %d frames (%dx%d) to %s in %.1f s (%.0f frames/s)", written, width, size, out_path.name, elapsed,
             written / max(elapsed, 1e-9))
    return out_path


def _input_panel(frames: Iterable[np.ndarray] | None, image_size: tuple[int, int] | None, size: int,
                 fit_points: Callable[[], np.ndarray], no_points: str):
    """Geometry of the input panel: ``(first video frame, the rest, origin [2] px, (w, h) of
    the source image px, panel width px, empty canvas)``. The source is the video (its
    first frame is read), else a blank image of ``image_size``, else a canvas fitted around
    ``fit_points()`` (``[N, 2]`` px; ``no_points`` is the error when none is finite), kept
    between 3:4 and 4:3. The blank canvases get a grid-coloured border."""
    import cv2

    first = frame_iter = None
    if frames is not None:
        frame_iter = iter(frames)
        try:
            first = next(frame_iter)
        except StopIteration:
            raise PoseliftError("the video has no frames") from None
        first = _as_bgr(first)
        src_h, src_w = first.shape[:2]
        if image_size is not None and tuple(int(v) for v in image_size) != (src_w, src_h):
            raise PoseliftError(f"image_size {tuple(image_size)} differs from the video frames ({src_w}x{src_h})")
        origin = np.zeros(2)
    elif image_size is not None:
        src_w, src_h = (int(v) for v in image_size)
        if src_w < 1 or src_h < 1:
            raise PoseliftError(f"image_size must be two positive integers (w, h), got {tuple(image_size)}")
        origin = np.zeros(2)
    else:  # fit a canvas around the keypoints
        pts = fit_points()
        pts = pts[np.isfinite(pts).all(-1)]
        if len(pts) == 0:
            raise PoseliftError(no_points)
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.1 * max(float((hi - lo).max()), 1.0)
        extent = hi - lo + 2 * pad
        # keep the canvas between 3:4 and 4:3 (pad the short side, centred)
        extent = np.maximum(extent, np.array([extent[1] * 0.75, extent[0] * 0.75]))
        origin = (lo + hi) / 2 - extent / 2
        src_w, src_h = (int(math.ceil(v)) for v in extent)
    in_w = _even(src_w * (size / src_h))
    canvas = np.full((size, in_w, 3), BACKGROUND, np.uint8)
    if frames is None:
        cv2.rectangle(canvas, (0, 0), (in_w - 1, size - 1), GRID_BGR, 1)
    return first, frame_iter, origin, (src_w, src_h), in_w, canvas


def _input_background(panel: np.ndarray, frame: np.ndarray | None, canvas: np.ndarray, size: tuple[int, int],
                      index: int) -> None:
    """Fill the input panel with the video ``frame`` (checked to be ``size`` = (w, h) px,
    the ``index``-th of the video) scaled down, or with the blank ``canvas``."""
    if frame is None:
        panel[:] = canvas
        return
    if frame.shape[:2] != (size[1], size[0]):
        raise PoseliftError(f"video frame {index} is {frame.shape[1]}x{frame.shape[0]}, expected {size[0]}x{size[1]}")
    _resize_into(frame, panel)


def _frame_source(first: np.ndarray | None, rest: Iterator[np.ndarray] | None, used: int,
                  indices: np.ndarray) -> Iterator[np.ndarray | None]:
    """The video frames at ``indices`` (of the first ``used``) as BGR, from ``first`` and
    the iterator ``rest`` of the frames after it; without a video (``rest`` None) one
    ``None`` per output frame."""
    n_out = len(indices)
    if rest is None:
        for _ in range(n_out):
            yield None
        return
    wanted = set(indices.tolist())
    produced = 0
    for i in range(used):
        img = first if i == 0 else next(rest, None)
        if img is None:
            raise PoseliftError(f"the video ended after {i} frames but the poses have {used}")
        if i in wanted:
            produced += 1
            yield _as_bgr(img)
        if produced == n_out:
            return


def _resize_into(src: np.ndarray, dst: np.ndarray) -> None:
    """Downscale ``src`` into ``dst``: Gaussian pyramid halvings, then bilinear (about
    10x faster than INTER_AREA on non-integer factors, without its aliasing)."""
    import cv2

    h = dst.shape[0]
    while src.shape[0] >= 2 * h:
        src = cv2.pyrDown(src)
    cv2.resize(src, (dst.shape[1], h), dst=dst, interpolation=cv2.INTER_LINEAR)


def _as_bgr(img) -> np.ndarray:
    import cv2

    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise PoseliftError(f"video frames must be uint8 images, got {arr.dtype}")
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    raise PoseliftError(f"video frames must be HxW, HxWx3 (BGR) or HxWx4 images, got shape {list(arr.shape)}")


# --- command line: poselift render ------------------------------------------------------------


