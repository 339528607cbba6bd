"""Scoring the people of a video against a multi-view 3D reference (NumPy only).

A reference (:class:`poselift.io.reference.MultiviewReference`) holds the 3D of each
actor of a scene filmed by calibrated cameras. For one view, the tracked people of
``poselift infer`` on that camera's video (:class:`TrackedPerson`, read from each
person's ``poses.npz``) are:

1. **associated** with each actor, frame by frame (:func:`associate`): the actor is the
   tracked person whose detected 2D (BlazePose-33) is nearest the actor's reference 2D
   (the reference's own detections ``kp2d_cam{i}``, else its 3D projected into the
   camera, :func:`project_points`): mean distance over the body landmarks 11–32,
   the smaller of as-is and left/right mirrored, accepted within
   :data:`GATE` × the actor's 2D box height in that frame;
2. **scored** (:func:`score_actor`): poselift's 3D (``joints_3d``, H36M-17) and the
   detector's own 3D (``detector_world_3d``, BlazePose-33) of the associated frames,
   against the reference on the 12 limb joints, as
   :func:`poselift.evaluation.metrics.limb_agreement` does (P-MPJPE after a per-frame
   similarity alignment, and the mean absolute error of 8 joint angles; :func:`limb_scores`
   keeps the values unrounded) — the recipe
   of ``../shared/data/multiview/scripts/score.py``. The detector's 3D is scored on the
   frames where poselift has all 12 joints, so both see the same frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poselift.errors import PoseliftError
from poselift.evaluation.metrics import limb_scores
from poselift.geometry.skeleton import BLAZEPOSE_33, LIMB12
from poselift.io.reference import MultiviewReference

#: BlazePose-33 body landmarks compared in 2D (shoulders to feet; the face is left out).
BODY = np.arange(11, 33)
#: BlazePose-33 index of each landmark's left/right mirror partner.
MIRROR = np.asarray(BLAZEPOSE_33.flip_permutation())
#: A tracked person is accepted as the actor within this fraction of the actor's 2D box height.
GATE = 0.2
_LIMB_H36M = np.asarray(LIMB12["h36m17"])
_LIMB_BLAZE = np.asarray(LIMB12["blazepose33"])


@dataclass(frozen=True, eq=False)
class TrackedPerson:
    """One tracked person of a view: its rows are video frames ``frame_index``."""

    track_id: int
    frame_index: np.ndarray  # [T] video frames, ascending
    keypoints_2d: np.ndarray  # [T, 33, 2] px, the detector's BlazePose-33 (``detector_keypoints_2d``)
    joints_3d: np.ndarray  # [T, 17, 3] poselift's 3D, H36M-17
    world_3d: np.ndarray | None = None  # [T, 33, 3] the detector's own 3D (``detector_world_3d``)

    def __post_init__(self) -> None:
        t = len(self.frame_index)
        shapes = {"frame_index": (np.shape(self.frame_index), (t,)), "keypoints_2d": (np.shape(self.keypoints_2d), (t, 33, 2)),
                  "joints_3d": (np.shape(self.joints_3d), (t, 17, 3))}
        if self.world_3d is not None:
            shapes["world_3d"] = (np.shape(self.world_3d), (t, 33, 3))
        for name, (got, wanted) in shapes.items():
            if tuple(got) != wanted:
                raise PoseliftError(f"track {self.track_id}: `{name}` must be {list(wanted)}, got {list(got)}")


def project_points(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                   dist: np.ndarray | None = None) -> np.ndarray:
    """World ``[..., 3]`` → pixels ``[..., 2]`` through an OpenCV camera (``x_cam = R @ X + t``,
    distortion k1, k2, p1, p2[, k3] when given); NaN stays NaN, points behind the camera
    become NaN."""
    cam = np.asarray(points, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64).reshape(3)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(cam[..., 2] > 0, cam[..., 2], np.nan)
        x, y = cam[..., 0] / z, cam[..., 1] / z
    if dist is not None:
        k = np.zeros(5)
        d = np.asarray(dist, dtype=np.float64).reshape(-1)
        k[: len(d)] = d
        k1, k2, p1, p2, k3 = k
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        x, y = (x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)
    K = np.asarray(K, dtype=np.float64)
    return np.stack([K[0, 0] * x + K[0, 1] * y + K[0, 2], K[1, 1] * y + K[1, 2]], axis=-1)


def reference_2d(reference: MultiviewReference, camera: int) -> np.ndarray:
    """Each actor's 2D in camera ``camera`` ``[P, F, 33, 2]`` px: the reference's own
    detections (``kp2d_cam{i}``) where the file has them, else ``points3d`` projected."""
    cam = reference.cameras.get(camera)
    if cam is None:
        raise PoseliftError(f"`camera` {camera} is not in {reference.path}; cameras: {', '.join(map(str, reference.cameras))}")
    if cam.keypoints_2d is not None:
        return cam.keypoints_2d
    return project_points(reference.points3d, cam.K, cam.R, cam.t, cam.dist)


def body_distance(reference: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Mean px distance ``[...]`` over the body landmarks (:data:`BODY`) seen in both
    ``[..., 33, 2]`` arrays, the smaller of as-is and ``detected`` mirrored left/right;
    ``inf`` where no body landmark is seen in both."""
    def mean(other: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(reference[..., BODY, :] - other[..., BODY, :], axis=-1)
        seen = np.isfinite(d)
        total = np.where(seen, d, 0.0).sum(axis=-1)
        count = seen.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.inf)
    return np.minimum(mean(detected), mean(detected[..., MIRROR, :]))


@dataclass(frozen=True, eq=False)
class Association:
    """Which tracked person is the actor in each reference row (``-1``: none)."""

    person: np.ndarray  # [F] index into the people list, -1 where none
    row: np.ndarray  # [F] row of that person's arrays, -1 where none
    distance: np.ndarray  # [F] px to the nearest person (inf where none)
    with_reference: np.ndarray  # [F] bool: the actor has reference 2D in this row


def associate(reference_2d: np.ndarray, people: Sequence[TrackedPerson], frame_index: np.ndarray | None = None,
              gate: float = GATE) -> Association:
    """Each row's tracked person for one actor (``reference_2d`` ``[F, 33, 2]`` px;
    ``frame_index`` ``[F]`` the video frame of each row, default the row): the person
    whose detection in that frame is nearest (:func:`body_distance`, first in ``people``
    on ties), kept where the distance is within ``gate`` × the actor's 2D box height
    (body landmarks, y extent)."""
    ref = np.asarray(reference_2d, dtype=np.float64)
    frames = ref.shape[0]
    frame_index = np.arange(frames) if frame_index is None else np.asarray(frame_index, dtype=np.int64)
    if ref.shape[1:] != (33, 2) or frame_index.shape != (frames,):
        raise PoseliftError(f"associate needs reference 2D [F, 33, 2] and frame_index [F], got {list(ref.shape)} and "
                            f"{list(frame_index.shape)}")
    body = ref[:, BODY]
    with_ref = np.isfinite(body).any(axis=(1, 2))
    distance = np.full((len(people), frames), np.inf)
    rows = np.full((len(people), frames), -1, dtype=np.int64)
    for n, person in enumerate(people):
        k = np.searchsorted(person.frame_index, frame_index)
        k = np.minimum(k, len(person.frame_index) - 1) if len(person.frame_index) else k
        hit = (k < len(person.frame_index)) & with_ref
        hit[hit] = person.frame_index[k[hit]] == frame_index[hit]
        distance[n, hit] = body_distance(ref[hit], np.asarray(person.keypoints_2d, dtype=np.float64)[k[hit]])
        rows[n, hit] = k[hit]
    best = np.argmin(distance, axis=0) if len(people) else np.zeros(frames, dtype=np.int64)
    nearest = distance[best, np.arange(frames)] if len(people) else np.full(frames, np.inf)
    y, y_seen = body[..., 1], np.isfinite(body[..., 1])
    height = np.where(y_seen, y, -np.inf).max(axis=1) - np.where(y_seen, y, np.inf).min(axis=1)  # -inf: no y seen
    ok = with_ref & np.isfinite(nearest) & (nearest <= gate * height)
    person = np.where(ok, best, -1)
    row = np.where(ok, rows[best, np.arange(frames)] if len(people) else -1, -1)
    return Association(person=person, row=row, distance=nearest, with_reference=with_ref)


def _gathered(arrays: Sequence[np.ndarray | None], assoc: Association, shape: tuple[int, ...]) -> np.ndarray:
    """``[F, *shape]``: the associated person's row of its array in each frame, NaN elsewhere."""
    out = np.full((len(assoc.person), *shape), np.nan)
    for n, array in enumerate(arrays):
        mine = assoc.person == n
        if array is not None and mine.any():
            out[mine] = np.asarray(array, dtype=np.float64)[assoc.row[mine]]
    return out


def score_actor(points3d: np.ndarray, reference_2d: np.ndarray, people: Sequence[TrackedPerson],
                frame_index: np.ndarray | None = None, gate: float = GATE) -> dict[str, Any]:
    """Associate one actor (:func:`associate`) and score poselift's and the detector's 3D of
    the associated frames against ``points3d`` ``[F, 33, 3]`` (metres).

    Returns ``tracked_frames`` (rows with an associated person) of ``reference_frames``
    (rows with reference 2D), ``track_ids`` and ``id_counts`` (frames per track id),
    ``px_mean`` / ``px_median`` (the associated detection's 2D vs the reference 2D over
    the body landmarks, as labelled), ``poselift`` and ``mediapipe_world``
    (:func:`limb_scores`; the detector's 3D on poselift's frames)."""
    points3d = np.asarray(points3d, dtype=np.float64)
    ref2d = np.asarray(reference_2d, dtype=np.float64)
    if points3d.shape != (ref2d.shape[0], 33, 3):
        raise PoseliftError(f"score_actor needs points3d [F, 33, 3] for the {ref2d.shape[0]} rows of the reference 2D, got "
                            f"{list(points3d.shape)}")
    assoc = associate(ref2d, people, frame_index, gate)
    ids = np.asarray([p.track_id for p in people], dtype=np.int64)[assoc.person[assoc.person >= 0]]
    used, counts = np.unique(ids, return_counts=True)
    pred = _gathered([p.joints_3d[:, _LIMB_H36M] for p in people], assoc, (12, 3))
    world = _gathered([None if p.world_3d is None else p.world_3d[:, _LIMB_BLAZE] for p in people], assoc, (12, 3))
    ours2d = _gathered([p.keypoints_2d for p in people], assoc, (33, 2))
    world[~np.isfinite(pred).all(axis=(1, 2))] = np.nan  # the detector's 3D on poselift's frames only
    target = points3d[:, _LIMB_BLAZE]
    diff = np.linalg.norm(ours2d[:, BODY] - ref2d[:, BODY], axis=-1)
    seen = np.isfinite(diff)
    return {
        "tracked_frames": int((assoc.person >= 0).sum()),
        "reference_frames": int(assoc.with_reference.sum()),
        "track_ids": [int(i) for i in used],
        "id_counts": {str(int(i)): int(c) for i, c in zip(used, counts)},
        "px_mean": round(float(diff[seen].mean()), 2) if seen.any() else None,
        "px_median": round(float(np.median(diff[seen])), 2) if seen.any() else None,
        "poselift": limb_scores(pred, target),
        "mediapipe_world": limb_scores(world, target),
    }


def score_view(reference: MultiviewReference, camera: int, people: Sequence[TrackedPerson],
               gate: float = GATE) -> list[dict[str, Any]]:
    """:func:`score_actor` for every actor of ``reference`` in camera ``camera`` (rows
    ``{"view": "camXX", "actor": name, ...}``, in the reference's actor order)."""
    ref2d = reference_2d(reference, camera)
    cam = reference.cameras[camera]
    return [
        {"view": cam.name, "actor": name, **score_actor(reference.points3d[p], ref2d[p], people, cam.frame_index, gate)}
        for p, name in enumerate(reference.names)
    ]
