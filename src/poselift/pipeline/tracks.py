"""Every person of a clip: detections → tracked people with stable identities.

:func:`track_detections` links a :class:`poselift.io.keypoints.PeopleKeypoints2D` (a
detector's or a keypoint file's unordered detections) into people with
:func:`poselift.geometry.tracking.track_people` (or takes the identities the source
already gives, e.g. PoseTrack ``track_id`` values; a single-person source is person 1
over the whole clip). Each person is one :class:`TrackedPerson`: its keypoints over its
span of the clip, from its first to its last detected frame.

:func:`redetect_in_crops` then runs the detector again on a crop around every tracked
person, the others greyed out (:meth:`poselift.pipeline.people.PeopleDetector.detect_in_crops`):
a full-frame pass misses or fuses people who overlap, a crop pass finds them (on the
multi-view reference footage it recovered both actors in every frame). Its pose replaces
the full-frame one wherever it found the person; elsewhere the full-frame pose stays.

Frames are input (video) frames; pixels origin top-left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import get_skeleton
from poselift.geometry.tracking import TrackerConfig, TrackEvent, Tracks, drop_duplicates, track_people
from poselift.io.keypoints import Keypoints2D, PeopleKeypoints2D
from poselift.pipeline.people import PeopleDetector, boxes_from_points
from poselift.pipeline.video import open_video, prefetch

log = logging.getLogger("poselift.tracks")

#: Box padding (× box height) and temporal union (± frames) of the crop-pass boxes.
CROP_BOX_PAD = 0.05
CROP_BOX_WINDOW = 2


def tracker_config(fps: float, track_gap_s: float, min_track_s: float) -> TrackerConfig:
    """Tracker settings from seconds at ``fps`` frames/s: an identity survives
    ``track_gap_s`` without a detection; tracks detected in fewer than ``min_track_s``
    seconds of frames are dropped."""
    return TrackerConfig(max_gap_frames=int(round(track_gap_s * fps)), min_track_frames=max(1, int(round(min_track_s * fps))))


@dataclass
class TrackedPerson:
    """One person: ``keypoints`` over the person's span of the clip (input frames
    ``first_frame`` … ``first_frame + keypoints.num_frames - 1``; NaN where not detected)
    and the detector's own 3D ``world`` ``[span, J, 3]`` metres (or None)."""

    track_id: int
    first_frame: int
    keypoints: Keypoints2D
    world: np.ndarray | None = None

    @property
    def last_frame(self) -> int:
        return self.first_frame + self.keypoints.num_frames - 1


@dataclass
class TrackedPeople:
    """The people of a clip (:func:`track_detections`), in track-id order."""

    people: list[TrackedPerson]
    tracks: Tracks
    config: TrackerConfig
    #: the source holds one person only (npz/csv files, a one-person detector)
    single_source: bool = False
    #: identities came from the source (``track_ids``), not from the tracker
    ids_from_source: bool = False
    #: what the crop pass did, per track id (:func:`redetect_in_crops`)
    crops: dict[int, dict[str, int]] = field(default_factory=dict)

    def select(self, rule: str | int) -> TrackedPerson:
        """The person picked by ``rule``: ``largest`` (most visible: mean box height ×
        detected frames), ``longest`` (most detected frames) or a track id."""
        track_id = self.tracks.select(rule)
        return next(p for p in self.people if p.track_id == track_id)

    def document(self, written: list[int], folders: dict[int, str] | None) -> dict[str, Any]:
        """``people.json``: every track (id, first/last frame, detected frames, mean
        confidence, mean box height in px, whether and where it was written), the
        identity events and the tracker settings."""
        people = []
        for row in self.tracks.summary():
            track_id = row["id"]
            entry = {"track_id": track_id, **{k: v for k, v in row.items() if k != "id"}, "written": track_id in written}
            if folders is not None and track_id in folders:
                entry["folder"] = folders[track_id]
            if track_id in self.crops:
                entry["crop_pass"] = self.crops[track_id]
            people.append(entry)
        return {
            "people": people,
            "events": [event_dict(e) for e in self.tracks.events],
            "tracker": {
                "identities": "from the input file" if self.ids_from_source else "tracked",
                "max_gap_frames": self.config.max_gap_frames,
                "min_track_frames": self.config.min_track_frames,
                "gate": self.config.gate,
            },
            "units": {"frames": "input (video) frames from 0", "mean_height_px": "pixels"},
            "layout": ("one person: poses.* beside this file" if folders is None else
                       "one folder per written person (folder), each with its poses.* files"),
        }


def event_dict(event: TrackEvent) -> dict[str, Any]:
    return {"frame": event.frame, "kind": event.kind, "track_id": event.track_id, "detail": event.detail}


def _tracks_from_ids(det: PeopleKeypoints2D) -> Tracks:
    """:class:`Tracks` from the identities the source gives (``det.track_ids``)."""
    ids_tf = det.track_ids
    ids = np.unique(ids_tf[ids_tf >= 0])
    t, _, j, _ = det.points.shape
    points = np.full((len(ids), t, j, 2), np.nan, dtype=np.float32)
    conf = np.zeros((len(ids), t, j), dtype=np.float32)
    slot = np.full((len(ids), t), -1, dtype=np.int64)
    events: list[TrackEvent] = []
    for row, track_id in enumerate(ids):
        frames, slots = np.nonzero(ids_tf == track_id)
        points[row, frames] = det.points[frames, slots]
        conf[row, frames] = det.confidence[frames, slots]
        slot[row, frames] = slots
        events += [TrackEvent(int(frames.min()), "start", int(track_id), "identity from the input file"),
                   TrackEvent(int(frames.max()), "end", int(track_id), "identity from the input file")]
    events.sort(key=lambda e: (e.frame, e.kind != "end", e.track_id))
    return Tracks(ids.astype(np.int64), points, conf, slot, events)


def _mirror(layout: str) -> list[int] | None:
    try:
        return get_skeleton(layout).flip_permutation()
    except (KeyError, ValueError, PoseliftError):
        return None


def _person(det: PeopleKeypoints2D, tracks: Tracks, row: int, whole_clip: bool) -> TrackedPerson:
    """Row ``row`` of ``tracks`` as a :class:`TrackedPerson` over its span (the whole clip
    when ``whole_clip``)."""
    first = 0 if whole_clip else int(tracks.first_frame[row])
    last = det.num_frames - 1 if whole_clip else int(tracks.last_frame[row])
    span = slice(first, last + 1)
    kp = Keypoints2D(tracks.points[row, span], tracks.confidence[row, span], det.layout, det.fps, det.width, det.height)
    world = None
    if det.world is not None:
        slots = tracks.slot[row, span]
        frames = np.arange(first, last + 1)
        world = np.where((slots >= 0)[:, None, None], det.world[frames, np.maximum(slots, 0)], np.nan).astype(np.float32)
    return TrackedPerson(int(tracks.ids[row]), first, kp, world)


def track_detections(det: PeopleKeypoints2D, config: TrackerConfig) -> TrackedPeople:
    """The people of ``det`` (see the module docstring); logs one line per person."""
    single = det.track_ids is not None and det.num_slots == 1 and set(np.unique(det.track_ids).tolist()) <= {-1, 1}
    if det.track_ids is not None:
        tracks = _tracks_from_ids(det)
    else:
        mirror = _mirror(det.layout)
        points, conf, duplicates = drop_duplicates(det.points, det.confidence, mirror=mirror)
        if duplicates:
            log.info("tracking: %d detection(s) dropped as a second detection of a person in the same frame", duplicates)
        tracks = track_people(points, conf, config=config, mirror=mirror)
    people = [_person(det, tracks, row, whole_clip=single) for row in range(tracks.num_people)]
    counts = det.detections_per_frame()
    if not single:
        log.info(
            "tracking: %d %s in %d frames (detections per frame: %s); %d event(s)",
            len(people), "person" if len(people) == 1 else "people", det.num_frames,
            ", ".join(f"{n} in {int((counts == n).sum())}" for n in np.unique(counts)), len(tracks.events),
        )
        for e in tracks.events:
            if e.kind in ("ambiguous", "gap"):
                log.info("tracking: frame %d, person %d: %s (%s)", e.frame, e.track_id, e.kind, e.detail)
    return TrackedPeople(people, tracks, config, single_source=single, ids_from_source=det.track_ids is not None)


def _interpolate_span(values: np.ndarray, first: int, last: int) -> np.ndarray:
    """``[T, K]`` (NaN = missing) → each column linearly interpolated in time over its
    missing values inside ``first..last`` (edges held); rows outside the span are NaN."""
    out = np.full_like(values, np.nan, dtype=np.float64)
    frames = np.arange(first, last + 1)
    block = values[frames]
    for k in range(values.shape[1]):
        seen = np.isfinite(block[:, k])
        if seen.any():
            out[frames, k] = np.interp(frames, frames[seen], block[seen, k])
    return out


def crop_guides(tracked: TrackedPeople, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``[P, T, 4]`` px and guide skeletons ``[P, T, J, 2]`` px for the crop pass:
    each person's full-frame detections, every joint interpolated over its gaps inside
    the person's span (so the crop pass looks where the full-frame pass lost the
    person), NaN outside it. Boxes: :func:`poselift.pipeline.people.boxes_from_points`."""
    people = tracked.people
    j = people[0].keypoints.points.shape[1]
    guides = np.full((len(people), num_frames, j, 2), np.nan)
    for i, p in enumerate(people):
        track = np.full((num_frames, j * 2), np.nan)
        track[p.first_frame : p.last_frame + 1] = p.keypoints.points.reshape(p.keypoints.num_frames, -1)
        guides[i] = _interpolate_span(track, p.first_frame, p.last_frame).reshape(num_frames, j, 2)
    return boxes_from_points(guides, pad=CROP_BOX_PAD, window=CROP_BOX_WINDOW), guides


def get_people_detector(name: str) -> PeopleDetector:
    """Detector of every person by name (``mediapipe``)."""
    if name == "mediapipe":
        return PeopleDetector()
    raise PoseliftError(f"unknown detector {name!r}; available: mediapipe")


def redetect_in_crops(tracked: TrackedPeople, video: Path, fps: float | None, *, progress: bool = True,
                      detector: PeopleDetector | None = None) -> TrackedPeople:
    """Re-detect every tracked person of ``video`` on a crop around them (module
    docstring); returns the people with the crop pass's poses where it found them."""
    if tracked.single_source or not tracked.people:
        return tracked
    info, frames = open_video(video, fps=fps)
    first = tracked.people[0].keypoints
    num_frames = max(p.last_frame for p in tracked.people) + 1
    total = tracked.tracks.points.shape[1]
    boxes, guides = crop_guides(tracked, total)
    detector = detector or PeopleDetector()
    stream = prefetch(frames)
    try:
        crops = detector.detect_in_crops(stream, info, boxes, guides, progress=progress)
    finally:
        stream.close()
    if crops.num_frames < num_frames:
        raise PoseliftError(f"{video}: the crop pass saw {crops.num_frames} frames, the detection {num_frames}")
    people: list[TrackedPerson] = []
    stats: dict[int, dict[str, int]] = {}
    for i, p in enumerate(tracked.people):
        span = slice(p.first_frame, p.last_frame + 1)
        found = crops.found()[span, i]
        before = p.keypoints.person_frames()
        points = np.where(found[:, None, None], crops.points[span, i], p.keypoints.points)
        conf = np.where(found[:, None], crops.confidence[span, i], p.keypoints.confidence)
        world = p.world
        if world is not None:
            world = np.where(found[:, None, None], crops.world[span, i], world).astype(np.float32)
        kp = Keypoints2D(points, conf, first.layout, first.fps, first.width, first.height)
        people.append(TrackedPerson(p.track_id, p.first_frame, kp, world))
        stats[p.track_id] = {
            "frames": int(found.size),
            "full_frame_found": int(before.sum()),
            "crop_found": int(found.sum()),
            "found_by_crop_only": int((found & ~before).sum()),
            "found_by_neither": int((~found & ~before).sum()),
        }
        log.info(
            "crop pass, person %d: found in %d of %d frames (full-frame pass: %d; %d recovered by the crops)",
            p.track_id, stats[p.track_id]["crop_found"], found.size, int(before.sum()), stats[p.track_id]["found_by_crop_only"],
        )
    return TrackedPeople(people, tracked.tracks, tracked.config, tracked.single_source, tracked.ids_from_source, stats)
