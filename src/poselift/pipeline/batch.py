"""``infer-batch``: :func:`poselift.pipeline.infer.run_infer` on every video and keypoint
file of a folder, one output folder per input, loading the checkpoint once."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from poselift.errors import PoseliftError
from poselift.pipeline.infer import (
    check_infer_options,
    input_kind,
    load_checked_lifter,
    outputs_complete,
    run_infer,
)
from poselift.pipeline.video import VIDEO_SUFFIXES

log = logging.getLogger("poselift.infer")


#: Keypoint file suffixes ``poselift infer-batch`` picks up (videos: :data:`poselift.pipeline.video.VIDEO_SUFFIXES`).
KEYPOINT_SUFFIXES = (".json", ".npz", ".csv")


@dataclass
class BatchItem:
    """Outcome of one input of ``poselift infer-batch`` (``status``: done, skipped or failed)."""

    input: str
    out_dir: str
    status: str
    reason: str | None = None
    num_frames: int | None = None
    seconds: float = 0.0
    #: the people written (track id, frames, folder; see :class:`poselift.pipeline.infer.InferResult`)
    people: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BatchResult:
    """Summary of ``poselift infer-batch``."""

    input_dir: str
    out_dir: str
    items: list[BatchItem]

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_dir": self.input_dir,
            "out_dir": self.out_dir,
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "files": [asdict(item) for item in self.items],
        }


def batch_inputs(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The inputs of a batch in ``folder`` (not recursive), sorted by name: videos
    (:data:`poselift.pipeline.video.VIDEO_SUFFIXES`), keypoint files (``.json``, ``.npz``,
    ``.csv``) and OpenPose folders (sub-folders holding ``*_keypoints.json``).
    Hidden files and ``exclude`` (the output folder, when inside) are skipped."""
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or (exclude is not None and path.resolve() == exclude.resolve()):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES + KEYPOINT_SUFFIXES:
            found.append(path)
        elif path.is_dir() and any(path.glob("*_keypoints.json")):
            found.append(path)
    return found


def batch_output_dirs(inputs: list[Path], out_dir: Path) -> dict[Path, Path]:
    """``OUT/<stem>`` per input; inputs sharing a stem (``a.mp4``, ``a.json``) get
    ``OUT/<file name>`` instead so that no two inputs write to one folder."""
    def key(p: Path) -> str:
        return p.name if p.is_dir() else p.stem

    counts: dict[str, int] = {}
    for p in inputs:
        counts[key(p)] = counts.get(key(p), 0) + 1
    return {p: out_dir / (key(p) if counts[key(p)] == 1 else p.name) for p in inputs}


def run_batch(
    input_dir: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    width: int | None = None,
    height: int | None = None,
    **options: Any,
) -> BatchResult:
    """:func:`run_infer` on every input of ``input_dir`` (:func:`batch_inputs`), one
    output folder per input (:func:`batch_output_dirs`).

    The checkpoint is loaded once (a bad one is an error before anything runs). An
    input whose outputs are all present is skipped unless ``overwrite``; a failing
    input is recorded with its reason and the batch goes on. ``width``/``height``
    apply to keypoint inputs only; ``options`` are passed to :func:`run_infer`.
    """
    from tqdm import tqdm

    input_dir, out_dir = Path(input_dir), Path(out_dir)
    check_infer_options(width=width, height=height, **options)  # one error, not one per input
    if not input_dir.exists():
        raise PoseliftError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise PoseliftError(f"{input_dir} is not a folder; use `poselift infer` for a single file")
    if out_dir.exists() and not out_dir.is_dir():
        raise PoseliftError(f"`out_dir` {out_dir} exists and is not a folder")
    inputs = batch_inputs(input_dir, exclude=out_dir)
    if not inputs:
        raise PoseliftError(
            f"{input_dir} contains no inputs (videos {', '.join(VIDEO_SUFFIXES)}; keypoint files "
            f"{', '.join(KEYPOINT_SUFFIXES)}; OpenPose folders)"
        )
    lifter = load_checked_lifter(checkpoint, bool(options.get("causal", False)))
    targets = batch_output_dirs(inputs, out_dir)
    items: list[BatchItem] = []
    bar = tqdm(inputs, desc="infer-batch", unit="file", disable=not progress, file=sys.stderr)
    for source in bar:
        dst = targets[source]
        bar.set_postfix_str(source.name[:40])
        complete = outputs_complete(
            dst, source, detector=options.get("detector", "mediapipe"), person=options.get("person", "all"),
            **{k: bool(options.get(k)) for k in ("bvh", "trc", "render", "angles")},
        )
        if not overwrite and complete:
            items.append(BatchItem(str(source), str(dst), "skipped", "outputs already complete (`overwrite=True` to redo)"))
            continue
        t0 = time.perf_counter()
        try:
            keypoints = input_kind(source) == "keypoints"
            result = run_infer(
                source, dst, checkpoint, lifter=lifter, overwrite=overwrite, progress=False,
                width=width if keypoints else None, height=height if keypoints else None, **options,
            )
        except PoseliftError as exc:
            items.append(BatchItem(str(source), str(dst), "failed", str(exc), seconds=time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            log.debug("infer-batch: %s failed", source, exc_info=True)
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            items.append(BatchItem(str(source), str(dst), "failed", reason, seconds=time.perf_counter() - t0))
        else:
            items.append(BatchItem(str(source), str(dst), "done", num_frames=result.num_frames, seconds=time.perf_counter() - t0,
                                   people=result.people))
    bar.close()
    return BatchResult(str(input_dir), str(out_dir), items)
