"""Video decoding with OpenCV: frame rate, resolution and a stream of BGR frames.

Frames are decoded lazily (one at a time), so a long 4K video never has to fit in
memory: the detector consumes the iterator and keeps only keypoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.sequence import check_frame_rate, is_frame_rate


@dataclass(frozen=True)
class VideoInfo:
    """Stream properties: ``fps`` in frames/s, ``width``/``height`` in pixels.

    ``num_frames`` is the container's frame count, an estimate for some formats
    (the true count is the number of frames the iterator yields).
    """

    fps: float
    width: int
    height: int
    num_frames: int

    @property
    def duration_s(self) -> float:
        """Duration in seconds according to ``num_frames`` and ``fps``."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


#: Largest frame decoded, in pixels: 8K UHD (7680 x 4320 = 33.2 MP) and a little more.
#: Memory grows with the frame: about 3 bytes per pixel for the decoded frame, several
#: copies of it in the detector.
MAX_FRAME_PIXELS = 40_000_000


def _too_large(path: Path, width: int, height: int) -> str:
    return (
        f"video {path} has {width}x{height} px frames ({width * height / 1e6:.0f} MP), more than the "
        f"{MAX_FRAME_PIXELS / 1e6:.0f} MP (8K) that poselift decodes; scale it down first, e.g. "
        f"ffmpeg -i {path.name} -vf scale=1920:-2 smaller.mp4"
    )


def open_video(path: str | Path, fps: float | None = None) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Open a video: returns ``(info, frames)``; ``frames`` yields ``[H, W, 3]`` BGR uint8.

    ``fps`` (frames/s), when given, replaces the container's frame rate; it is
    required when the container has none. The first frame is decoded here so that
    unreadable, corrupt and empty files fail immediately with a
    :class:`PoseliftError` instead of half-way through a run.
    """
    import cv2

    # FFmpeg's own log lines ("moov atom not found", ...) would precede our one-line
    # error; silence them unless the user configured FFmpeg logging.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # OpenCV's own "[ERROR] ... Could not find decoder" lines likewise (our error says it)
    if "OPENCV_LOG_LEVEL" not in os.environ and hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)  # 0 = silent
    path = Path(path)
    if not path.exists():
        raise PoseliftError(f"video {path} does not exist")
    if not path.is_file():
        raise PoseliftError(f"video {path} is not a file")
    if path.stat().st_size == 0:
        raise PoseliftError(f"video {path} is empty (0 bytes)")
    if fps is not None:
        fps = check_frame_rate(fps)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise PoseliftError(f"video {path} could not be opened (corrupt file or unsupported format)")
    # the container states the frame size: refuse huge frames before one is decoded (a
    # 16000 x 16000 frame is 768 MB as pixels, several GB through the detector)
    stated = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    if stated[0] * stated[1] > MAX_FRAME_PIXELS:
        cap.release()
        raise PoseliftError(_too_large(path, *stated))
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise PoseliftError(f"video {path} has no decodable frames (empty or corrupt)")
    container_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if fps is None:
        if not is_frame_rate(container_fps):
            cap.release()
            raise PoseliftError(f"video {path} does not state its frame rate; pass `fps` (frames per second)")
        fps = container_fps
    height, width = first.shape[:2]
    if width * height > MAX_FRAME_PIXELS:  # a container that did not state its size
        cap.release()
        raise PoseliftError(_too_large(path, width, height))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    info = VideoInfo(fps=float(fps), width=int(width), height=int(height), num_frames=max(count, 1))
    return info, _frames(cap, first)


def _frames(cap, first: np.ndarray) -> Iterator[np.ndarray]:
    """Yield ``first`` then every further decodable frame; always releases ``cap``."""
    try:
        yield first
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        cap.release()


def prefetch(
    frames: Iterable[np.ndarray], depth: int = 8, transform: Callable[[np.ndarray], np.ndarray] | None = None
) -> Iterator[np.ndarray]:
    """Decode ahead in a background thread, keeping at most ``depth`` frames queued.

    OpenCV releases the GIL while decoding, so decoding (and ``transform``, e.g. a
    colour conversion, applied in the same thread) overlaps with the consumer (the
    detector). Exceptions are re-raised in the consumer; when the consumer stops
    early the thread stops and ``frames`` is closed.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            for frame in frames:
                if transform is not None:
                    frame = transform(frame)
                if not put(frame):
                    break
            put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=worker, name="poselift-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
