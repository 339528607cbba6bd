"""``poselift score-multiview``'s work: every view of a multi-view reference run through
``run_infer`` (every person), each actor found among the tracked people and scored
against the reference's 3D (:mod:`poselift.evaluation.multiview`), next to the
detector's own 3D on the same frames."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from poselift.errors import PoseliftError
from poselift.evaluation.multiview import TrackedPerson, score_view
from poselift.io.arrays import load_npz
from poselift.io.exports import write_json
from poselift.io.locks import folder_lock
from poselift.io.reference import MultiviewReference, load_multiview_reference
from poselift.io.staging import check_destination, created_folder
from poselift.pipeline.infer import InferOptions, check_infer_options, run_infer
from poselift.tools.bench import machine

log = logging.getLogger("poselift")

#: ``run_infer`` arguments that :func:`score_multiview` sets itself.
RESERVED_INFER_OPTIONS = ("input", "out_dir", "person", "progress", "overwrite")
#: Every argument of ``run_infer``: its own and its options (:class:`InferOptions`).
INFER_ARGUMENTS = frozenset({"checkpoint", "lifter", *(f.name for f in fields(InferOptions))})
#: The arrays of a person's ``poses.npz`` that scoring reads.
POSES_KEYS = ("frame_index", "joints_3d", "detector_keypoints_2d")
#: people.json fields kept per track in the summary.
TRACK_FIELDS = ("track_id", "first_frame", "last_frame", "detected_frames", "written")


@dataclass
class MultiviewScore:
    """What :func:`score_multiview` found: one row per view and actor."""

    rows: list[dict[str, Any]]
    table: str  # markdown
    machine: dict[str, Any]
    summary_path: Path
    tracks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # view → its tracked people (people.json)

    @property
    def machine_line(self) -> str:
        return f"# machine: {json.dumps(self.machine)}"

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "tracks": self.tracks, "machine": self.machine, "summary": str(self.summary_path)}


def load_tracked_people(folder: str | Path) -> tuple[list[TrackedPerson], list[dict[str, Any]]]:
    """The people ``run_infer(..., person="all")`` wrote into ``folder``: its
    ``people.json`` and each written person's ``<folder>/poses.npz``. Returns the
    people (in ``people.json`` order) and ``people.json``'s tracks."""
    folder = Path(folder)
    doc_path = folder / "people.json"
    if not doc_path.is_file():
        raise PoseliftError(f"{doc_path} does not exist: no infer output for every person there (run without `reuse` first)")
    try:
        doc = json.loads(doc_path.read_text())
        tracks = doc["people"]
        if not isinstance(tracks, list) or not all(isinstance(t, dict) and "track_id" in t for t in tracks):
            raise TypeError("'people' is not a list of tracks with a 'track_id'")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PoseliftError(f"{doc_path} is not a people.json written by run_infer ({type(exc).__name__}: {str(exc)[:120]})") from None
    people = []
    for track in tracks:
        if not track.get("folder"):
            continue  # not written (run with one `person`)
        poses = folder / str(track["folder"]) / "poses.npz"
        if not poses.is_file():
            raise PoseliftError(f"{poses} does not exist (track {track['track_id']} of {doc_path}); run without `reuse` to redo it")
        arrays = load_npz(poses)
        missing = [k for k in POSES_KEYS if k not in arrays]
        if missing:
            raise PoseliftError(f"{poses} has no {', '.join(repr(k) for k in missing)}; it was written by an older poselift "
                                f"(run without `reuse` to redo it)")
        layout = str(arrays.get("detector_layout", "blazepose33"))
        if layout != "blazepose33" or arrays["detector_keypoints_2d"].shape[1:] != (33, 2):
            raise PoseliftError(f"{poses}: the detections are {layout} {list(arrays['detector_keypoints_2d'].shape)}; scoring "
                                f"needs BlazePose-33 detections (the bundled `detector='mediapipe'`)")
        try:
            people.append(TrackedPerson(
                track_id=int(track["track_id"]), frame_index=arrays["frame_index"].astype("int64"),
                keypoints_2d=arrays["detector_keypoints_2d"], joints_3d=arrays["joints_3d"],
                world_3d=arrays.get("detector_world_3d"),
            ))
        except PoseliftError as exc:
            raise PoseliftError(f"{poses}: {exc}") from None
    return people, [{k: t[k] for k in TRACK_FIELDS if k in t} for t in tracks]


def _check_views(reference: MultiviewReference, views: Sequence[int] | None) -> list[int]:
    if views is None:
        return list(reference.cameras)
    if isinstance(views, (str, bytes)) or not isinstance(views, Sequence) or not views:
        raise PoseliftError(f"`views` must be a non-empty list of camera numbers, got {views!r:.40}")
    chosen: list[int] = []
    for view in views:
        if isinstance(view, bool) or not isinstance(view, int) or view not in reference.cameras:
            raise PoseliftError(f"`views` names camera {view!r:.20}, which {reference.path} has no data for; cameras: "
                                f"{', '.join(map(str, reference.cameras))}")
        if view not in chosen:
            chosen.append(view)
    return chosen


def _check_infer_options(infer_options: dict[str, Any] | None) -> dict[str, Any]:
    options = dict(infer_options or {})
    known = INFER_ARGUMENTS - set(RESERVED_INFER_OPTIONS)
    for name in options:
        if name in RESERVED_INFER_OPTIONS:
            raise PoseliftError(f"`infer_options` may not set {name!r}: score_multiview sets it itself")
        if name not in known:
            raise PoseliftError(f"`infer_options` has {name!r:.40}, which is no argument of run_infer; known: {', '.join(sorted(known))}")
    check_infer_options(**{k: v for k, v in options.items() if k not in ("checkpoint",)})
    return options


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`score_multiview` as a markdown table."""
    def scored(s: dict[str, Any], frames: bool = True) -> str:
        if not s["frames"]:
            return "– (0)"
        return f"{s['pmpjpe_mm']:.1f} / {s['angle_deg']:.1f}" + (f" ({s['frames']})" if frames else "")

    lines = [
        ("| view | actor | tracked / ref frames | track ids (frames) | 2D vs reference px, mean / median | "
         "poselift P-MPJPE mm / angle ° (frames) | MediaPipe world, same frames | infer s |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ids = ", ".join(f"{k} ({v})" for k, v in r["id_counts"].items()) or "–"
        seconds = "–" if r.get("infer_seconds") is None else f"{r['infer_seconds']}"
        lines.append(
            f"| {r['view']} | {r['actor']} | {r['tracked_frames']} / {r['reference_frames']} | {ids} | "
            f"{r['px_mean']} / {r['px_median']} | {scored(r['poselift'])} | {scored(r['mediapipe_world'])} | {seconds} |"
        )
    return "\n".join(lines)


def score_multiview(
    data_dir: str | Path,
    out_dir: str | Path,
    views: Sequence[int] | None = None,
    reuse: bool = False,
    infer_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> MultiviewScore:
    """Score poselift (and the detector's own 3D) per view and actor against the
    multi-view reference in ``data_dir`` (``multiperson.npz`` and ``camXX.mp4``,
    :mod:`poselift.io.reference`).

    Each view (``views``: camera numbers, default every camera of the reference) is run
    through :func:`poselift.pipeline.infer.run_infer` into ``out_dir/camXX`` (every
    person, ``overwrite=True``, ``infer_options`` passed on: ``crops``, ``fix_swaps``,
    ``checkpoint``, ...), or with ``reuse`` read from an earlier run's
    ``out_dir/camXX/people.json`` and person folders. Then each actor is associated and
    scored (:func:`poselift.evaluation.multiview.score_view`). Writes
    ``out_dir/summary.json`` (atomically). Inputs, views and options are checked before
    anything is run."""
    options = _check_infer_options(infer_options)
    reference = load_multiview_reference(data_dir)
    chosen = _check_views(reference, views)
    out_dir = Path(out_dir)
    for view in chosen:
        if reuse:
            if not (out_dir / f"cam{view:02d}" / "people.json").is_file():
                raise PoseliftError(f"{out_dir / f'cam{view:02d}' / 'people.json'} does not exist: nothing to reuse for view "
                                    f"{view} (run without `reuse` first)")
        elif not reference.video(view).is_file():
            raise PoseliftError(f"no video {reference.video(view).name} in {reference.folder} for view {view} (`views`)")
    check_destination(out_dir, folder=True)
    checkpoint = options.pop("checkpoint", None)
    rows: list[dict[str, Any]] = []
    tracks: dict[str, list[dict[str, Any]]] = {}
    with created_folder(out_dir), folder_lock(out_dir):
        for view in chosen:
            name = reference.cameras[view].name
            seconds = None
            if not reuse:
                log.info("score-multiview: %s: infer %s", name, reference.video(view))
                t0 = time.perf_counter()
                run_infer(reference.video(view), out_dir / name, checkpoint, person="all", progress=progress, overwrite=True,
                          **options)
                seconds = round(time.perf_counter() - t0, 1)
            people, tracks[name] = load_tracked_people(out_dir / name)
            found = score_view(reference, view, people)
            for row in found:
                row["infer_seconds"] = seconds
                log.info("score-multiview: %s %s: %d / %d frames tracked, poselift %s, detector's 3D %s", name, row["actor"],
                         row["tracked_frames"], row["reference_frames"], row["poselift"], row["mediapipe_world"])
            rows += found
        info = machine()
        summary_path = out_dir / "summary.json"
        write_json(summary_path, {
            "reference": str(reference.path), "views": [reference.cameras[v].name for v in chosen], "reuse": bool(reuse),
            "infer_options": {k: v if v is None or isinstance(v, (bool, int, float, str)) else repr(v)[:80]
                              for k, v in {**options, "checkpoint": None if checkpoint is None else str(checkpoint)}.items()},
            "machine": info, "rows": rows, "tracks": tracks,
        })
    return MultiviewScore(rows=rows, table=format_table(rows), machine=info, summary_path=summary_path, tracks=tracks)
