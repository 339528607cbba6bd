"""Every person of a clip: detections → tracked people with stable identities.

:func:`track_detections` links a :class:`poselift.io.keypoints.PeopleKeypoints2D` (a
detector's or a keypoint file's unordered detections) into people with
:func:`poselift.geometry.tracking.track_people` (or takes the identities the source
already gives, e.g. PoseTrack ``track_id`` values; a single-person source is person 1
over the whole clip). Each person is one :class:`TrackedPerson`: its keypoints over its
span of the clip, from its first to its last detected frame.

The bundled detector's slots are already people for a video
(:meth:`poselift.pipeline.people.PeopleDetector.follow_people` follows each person with a
landmarker of their own); the tracker still links them, so that a person found again
after being lost (a new slot) keeps their identity, short spurious tracks are dropped,
and near-identical duplicates too (:data:`FOLLOWED_DUPLICATE_DISTANCE`).

Frames are input (video) frames; pixels origin top-left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeleton import get_skeleton
from poselift.geometry.tracking import DUPLICATE_DISTANCE, TrackerConfig, TrackEvent, Tracks, drop_duplicates, track_people
from poselift.io.keypoints import Keypoints2D, PeopleKeypoints2D
from poselift.pipeline.people import PeopleDetector

log = logging.getLogger("poselift.tracks")

#: The duplicate distance (:func:`poselift.geometry.tracking.drop_duplicates`) for the
#: detections of :meth:`poselift.pipeline.people.PeopleDetector.follow_people`: it has
#: already turned down a second landmarker's pose of a person (its own measure, and the
#: pose nearer its prediction kept), so only near-identical poses are dropped here; the
#: default would drop one of two people who really stand close (0.11 on the multi-view
#: footage, cam03, where the whole-frame detector's duplicates are what the default is for).
FOLLOWED_DUPLICATE_DISTANCE = 0.05


def tracker_config(fps: float, track_gap_s: float, min_track_s: float, num_frames: int | None = None) -> TrackerConfig:
    """Tracker settings from seconds at ``fps`` frames/s: an identity survives
    ``track_gap_s`` without a detection; tracks detected in fewer than ``min_track_s``
    seconds of frames are dropped, but never a track as long as a quarter of a short
    clip of ``num_frames`` (a 0.3 s clip still has its people)."""
    min_frames = max(1, int(round(min_track_s * fps)))
    if num_frames is not None:
        min_frames = max(1, min(min_frames, num_frames // 4))
    return TrackerConfig(max_gap_frames=int(round(track_gap_s * fps)), min_track_frames=min_frames)


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


def track_detections(det: PeopleKeypoints2D, config: TrackerConfig, *,
                     duplicate_distance: float = DUPLICATE_DISTANCE) -> TrackedPeople:
    """The people of ``det`` (see the module docstring); logs one line per person.
    ``duplicate_distance``: two detections of a frame closer than this are one person
    detected twice (:func:`poselift.geometry.tracking.drop_duplicates`;
    :data:`FOLLOWED_DUPLICATE_DISTANCE` for followed people)."""
    single = det.one_person
    if det.track_ids is not None:
        tracks = _tracks_from_ids(det)
    else:
        mirror = _mirror(det.layout)
        points, conf, duplicates = drop_duplicates(det.points, det.confidence, threshold=duplicate_distance, mirror=mirror)
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


def get_people_detector(name: str) -> PeopleDetector:
    """Detector of every person by name (``mediapipe``)."""
    if name == "mediapipe":
        return PeopleDetector()
    raise PoseliftError(f"unknown detector {name!r}; available: mediapipe")
