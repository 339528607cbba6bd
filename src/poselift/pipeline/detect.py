"""2D keypoints from video: the MediaPipe detector.

A detector produces a :class:`poselift.io.keypoints.Keypoints2D` (as the keypoint-file
importers of :mod:`poselift.io.keypoints` do): ``points`` ``[T, J, 2]`` in pixels
(origin top-left, x right, y down; NaN where the joint is missing), ``confidence``
``[T, J]`` in ``[0, 1]`` (exactly 0 where missing), the joint ``layout`` name
(``coco17``, ``blazepose33``, ``h36m17``; see :mod:`poselift.geometry.skeleton`), the frame
rate in frames/s and the image size in pixels. One person per frame: when a file
holds several, the highest-scoring one is kept.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, Callable, Iterable, Iterator, Protocol

import numpy as np

from poselift.errors import PoseliftError
from poselift.io.keypoints import Keypoints2D
from poselift.pipeline.video import VideoInfo, prefetch


class Detector(Protocol):
    """A 2D pose detector: frames in, one person's keypoints out.

    ``layout`` is the skeleton name of its output. ``detect`` consumes ``frames``
    (an iterable of ``[H, W, 3]`` BGR uint8 images of the video ``info``) and returns
    one row per frame; ``progress`` shows a progress bar on stderr.
    """

    layout: str

    def detect(self, frames: Iterable[np.ndarray], info: VideoInfo, progress: bool = True) -> Keypoints2D: ...


DETECTORS = ("mediapipe",)


def get_detector(name: str) -> Detector:
    """Detector by name (``mediapipe``)."""
    if name == "mediapipe":
        return MediaPipeDetector()
    raise PoseliftError(f"unknown detector {name!r}; available: {', '.join(DETECTORS)}")


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[IO[str]]:
    """Send native (C++) writes to file descriptor 2 to /dev/null for the block.

    MediaPipe/TFLite print several log lines per run that Python cannot silence.
    Yields a text stream on the *original* stderr for progress bars. Python's
    ``sys.stderr`` is pointed at it too, so Python warnings and logs still show.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield sys.stderr
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    old_sys_stderr = sys.stderr
    redirected = sys.stderr is sys.__stderr__
    try:
        os.dup2(devnull, 2)
        if redirected:
            sys.stderr = stream
        yield stream if redirected else old_sys_stderr
    finally:
        with contextlib.suppress(Exception):
            stream.flush()
        sys.stderr = old_sys_stderr
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        stream.close()


class MediaPipeDetector:
    """MediaPipe BlazePose (``model_complexity=1``, the model inside the wheel) in
    video/tracking mode: BlazePose-33 landmarks in pixels, landmark visibility as the
    confidence; frames without a person are NaN with confidence 0.

    Only ``model_complexity=1`` works offline (0 and 2 download models at run time).
    """

    layout = "blazepose33"

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5, quiet: bool = True) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.quiet = quiet

    @contextlib.contextmanager
    def tracker(self) -> Iterator[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]:
        """A per-frame tracker for streaming: ``track(rgb_frame) -> (points [33, 2] px,
        confidence [33])``; no person → NaN points and zero confidence."""
        ctx = _quiet_native_stderr() if self.quiet else contextlib.nullcontext(sys.stderr)
        nan_row = np.full((33, 2), np.nan, dtype=np.float32)
        zero_row = np.zeros(33, dtype=np.float32)
        with ctx:  # MediaPipe's native log lines go to /dev/null while the tracker lives
            try:
                import mediapipe as mp
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise PoseliftError(f"the mediapipe detector needs the 'mediapipe' package ({exc})") from None
            pose = mp.solutions.pose.Pose(
                static_image_mode=False,
                model_complexity=1,
                smooth_landmarks=True,
                enable_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )

            def track(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                h, w = frame.shape[:2]
                result = pose.process(frame)
                if result.pose_landmarks is None:
                    return nan_row, zero_row
                lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
                # visibility is a sigmoid in (0, 1); keep a found joint > 0 (0 means missing)
                return lm[:, :2] * np.array([w, h], dtype=np.float32), np.clip(lm[:, 2], 1e-6, 1.0)

            try:
                yield track
            finally:
                pose.close()

    def detect(self, frames: Iterable[np.ndarray], info: VideoInfo, progress: bool = True) -> Keypoints2D:
        """Run the tracker over ``frames`` (BGR uint8) → :class:`Keypoints2D` in pixels."""
        import cv2
        from tqdm import tqdm

        points: list[np.ndarray] = []
        conf: list[np.ndarray] = []
        with self.tracker() as track:
            rgb_frames = None
            bar = tqdm(total=info.num_frames, desc="detect 2D (mediapipe)", unit="frame", file=sys.stderr, disable=not progress, leave=False)
            try:
                # BGR → RGB in a background thread, overlapping with the tracker
                rgb_frames = prefetch(frames, depth=4, transform=lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
                for frame in rgb_frames:
                    h, w = frame.shape[:2]
                    if (w, h) != (info.width, info.height):
                        raise PoseliftError(f"frame {len(points)} is {w}x{h} pixels; the video said {info.width}x{info.height}")
                    p, c = track(frame)
                    points.append(p)
                    conf.append(c)
                    bar.update(1)
            finally:
                bar.close()
                if rgb_frames is not None:
                    rgb_frames.close()
        if not points:
            raise PoseliftError("the video has no frames")
        return Keypoints2D(np.stack(points), np.stack(conf), self.layout, info.fps, info.width, info.height)


# ----------------------------------------------------------------------- importers



