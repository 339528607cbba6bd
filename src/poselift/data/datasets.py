"""Dataset readers: Human3.6M and HumanEva-I in our pickle-free layout.

Each reader returns a list of :class:`Sequence` (one per subject / sequence /
camera view) holding 2D keypoints in **pixels**, 3D joints in the **camera frame
in metres**, the root trajectory and the camera intrinsics. Folder layout and
formulas: ``../shared/data/README.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry import camera as cam
from poselift.geometry import skeleton as sk
from poselift.io.arrays import check_array, load_npz

H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")
H36M_FPS = 50.0
HUMANEVA_FPS = 60.0
#: the procedural figures of :mod:`poselift.data.synthetic` (its default rate)
SYNTHETIC_FPS = 50.0
#: frames/s of each dataset's recordings
DATASET_FPS = {"h36m": H36M_FPS, "humaneva": HUMANEVA_FPS, "synthetic": SYNTHETIC_FPS}
HUMANEVA_CAMERAS = ("C1", "C2", "C3")
HUMANEVA_ACTIONS = ("Walk", "Jog", "Box")
# S11 "Directions" is corrupted in the original video release; the standard protocol drops it.
H36M_SKIP = frozenset({"S11/Directions"})

KEYPOINT_SOURCES = ("gt", "sh")
#: Where the datasets live unless a folder is given (``<root>/<dataset>``), relative to
#: the working directory: the layout of this project's checkout next to ``shared/``.
DEFAULT_DATA_ROOT = Path("../shared/data")
#: Plausibility limits for dataset arrays: 3D positions in metres, 2D keypoints in pixels.
MAX_METRES = 1e4
MAX_PIXELS = 1e7


@dataclass
class Sequence:
    """One camera view of one recorded sequence.

    keypoints_2d: ``[T, J_in, 2]`` pixels. positions_3d: ``[T, J_out, 3]`` metres,
    camera frame (absolute, root not subtracted), or None for unlabeled video.
    """

    subject: str
    name: str
    camera_id: str
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray | None
    intrinsics: cam.Intrinsics
    fps: float
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.name}/{self.camera_id}"

    @property
    def num_frames(self) -> int:
        return int(self.keypoints_2d.shape[0])


def _check_keys(arrays: dict, parts: int, path: Path, example: str) -> None:
    """Every key of a dataset ``.npz`` has at least ``parts`` ``/``-separated parts."""
    for key in arrays:
        if len(key.split("/", parts - 1)) < parts or not all(key.split("/", parts - 1)):
            raise PoseliftError(f"{path}: key {key!r:.60} is not of the form {example}")


def _select(items, wanted, what: str, available_from: str) -> list[str]:
    items = list(items)
    if wanted is None:
        return items
    wanted = list(wanted)
    missing = [w for w in wanted if w not in items]
    if missing:
        raise PoseliftError(f"unknown {what} {missing} in {available_from}; available: {items}")
    return wanted


def _subset_chunk(length: int, fraction: float, rng: np.random.Generator) -> slice:
    """A random contiguous chunk covering ``fraction`` of ``length`` frames."""
    n = max(1, int(round(length * fraction)))
    start = int(rng.integers(0, length - n + 1))
    return slice(start, start + n)


def load_h36m(
    root: str | Path,
    subjects: tuple[str, ...] | list[str] | None = None,
    *,
    keypoints: str = "gt",
    cameras: tuple[str, ...] | list[str] | None = None,
    actions: list[str] | None = None,
    skip_corrupt: bool = True,
) -> list[Sequence]:
    """Read Human3.6M sequences from a folder in our format (``../shared/data/h36m``).

    keypoints: ``"gt"`` projects the 3D joints with the full distortion model
    (17 joints); ``"sh"`` reads the Stacked-Hourglass (MPII-16) detections.
    actions: optional list of action names (``"Walking"``) to keep.
    """
    root = Path(root)
    if keypoints not in KEYPOINT_SOURCES:
        raise PoseliftError(f"unknown keypoint source {keypoints!r}; expected one of {KEYPOINT_SOURCES}")
    intrinsics, extrinsics = cam.load_cameras_json(root / "cameras.json")
    recordings = load_h36m_world(root, subjects, actions, skip_corrupt=skip_corrupt)
    detections = load_npz(root / "keypoints_2d_sh_pt_mpii.npz") if keypoints == "sh" else None
    cameras = _select(H36M_CAMERAS, cameras, "camera id(s)", str(root / "cameras.json"))

    out: list[Sequence] = []
    for rec in recordings:
        subject, name, key, world = rec.subject, rec.name, rec.key, rec.positions_world
        if subject not in extrinsics:
            raise PoseliftError(f"{root / 'cameras.json'}: no extrinsics for subject {subject}")
        for cam_id in cameras:
            if cam_id not in intrinsics or cam_id not in extrinsics[subject]:
                raise PoseliftError(f"{root / 'cameras.json'}: no camera {cam_id} for subject {subject}")
            ext = extrinsics[subject][cam_id]
            pos_cam = cam.world_to_camera(world, ext.rotation, ext.center).astype(np.float32)
            intr = intrinsics[cam_id]
            if detections is None:
                with np.errstate(all="ignore"):  # a point on the camera plane: checked just below
                    kp = cam.project_to_2d(pos_cam, intr.vector(normalized=False)).astype(np.float32)
                if not np.isfinite(kp).all() or np.abs(kp).max() > MAX_PIXELS:
                    raise PoseliftError(
                        f"{root / 'cameras.json'}: camera {cam_id} of subject {subject} projects {key} outside any "
                        "image (non-finite or huge pixel coordinates): check its extrinsics/intrinsics"
                    )
            else:
                dkey = f"{key}/{cam_id}"
                if dkey not in detections:
                    raise PoseliftError(f"{root / 'keypoints_2d_sh_pt_mpii.npz'}: missing key {dkey!r}")
                kp = check_array(detections[dkey], f"keypoints_2d_sh_pt_mpii.npz[{dkey}]", joints=16, dims=2, max_abs=MAX_PIXELS, unit="pixels")
                if kp.shape[0] != pos_cam.shape[0]:
                    n = min(kp.shape[0], pos_cam.shape[0])
                    kp, pos_cam = kp[:n], pos_cam[:n]
            out.append(Sequence(subject, name, cam_id, kp, pos_cam, intr, H36M_FPS))
    return out


@dataclass
class WorldSequence:
    """One recorded sequence in the world frame (no camera): ``positions_world``
    ``[T, J, 3]`` metres, z up. Used by the ``wild`` training recipe, which films it
    with random virtual cameras (:mod:`poselift.data.virtual_cameras`)."""

    subject: str
    name: str
    positions_world: np.ndarray
    fps: float

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.name}"

    @property
    def num_frames(self) -> int:
        return int(self.positions_world.shape[0])


#: the compact copy of ``positions_3d.npz``: the same keys as int16 millimetres
H36M_POSITIONS_MM_INT16 = "positions_3d_mm_int16.npz"


def _h36m_positions(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """World positions (metres) from ``positions_3d.npz``, or, when a folder has only
    the compact ``positions_3d_mm_int16.npz`` (int16 millimetres, rounding ≤ 0.5 mm),
    from that one converted to float32 metres."""
    path = root / "positions_3d.npz"
    compact = root / H36M_POSITIONS_MM_INT16
    if path.exists() or not compact.exists():
        return path, load_npz(path)
    raw = load_npz(compact)
    for key, value in raw.items():
        if value.dtype != np.int16:
            raise PoseliftError(f"{compact}[{key}]: expected int16 millimetres, got {value.dtype}")
    return compact, {key: value.astype(np.float32) / np.float32(1000.0) for key, value in raw.items()}


def load_h36m_world(
    root: str | Path,
    subjects: tuple[str, ...] | list[str] | None = None,
    actions: list[str] | None = None,
    *,
    skip_corrupt: bool = True,
) -> list[WorldSequence]:
    """Read Human3.6M world 3D (``positions_3d.npz``: metres, z up; or the compact
    ``positions_3d_mm_int16.npz`` when it is the only one), one
    :class:`WorldSequence` per recording; ``cameras.json`` is not needed.

    Same subject / action selection and corrupt-sequence skipping as :func:`load_h36m`
    (and the same order, so :func:`subset_sequences` picks the same chunks).
    """
    root = Path(root)
    path, positions = _h36m_positions(root)
    _check_keys(positions, 2, path, "SUBJECT/SEQUENCE, e.g. 'S1/Walking 1'")
    all_subjects = sorted({k.split("/")[0] for k in positions}, key=lambda s: int(s[1:]) if s[1:].isdigit() else 0)
    subjects = _select(all_subjects, subjects, "subject(s)", str(path))
    out: list[WorldSequence] = []
    for key in positions:
        subject, name = key.split("/", 1)
        if subject not in subjects:
            continue
        if skip_corrupt and f"{subject}/{action_name(name)}" in H36M_SKIP:
            continue
        if actions is not None and action_name(name) not in actions:
            continue
        world = check_array(positions[key], f"{path}[{key}]", joints=17, dims=3, max_abs=MAX_METRES, unit="metres")
        out.append(WorldSequence(subject, name, world, H36M_FPS))
    if not out:
        raise PoseliftError(f"no Human3.6M sequences matched subjects={subjects} actions={actions} in {path}")
    return out


def load_humaneva(
    root: str | Path,
    subjects: list[str] | None = None,
    *,
    split: str | None = None,
    actions: list[str] | tuple[str, ...] | None = HUMANEVA_ACTIONS,
    cameras: list[str] | None = None,
) -> list[Sequence]:
    """Read HumanEva-I chunks (``../shared/data/humaneva``): 15 joints, 60 Hz.

    subjects like ``["S1", "S2"]``; split ``"Train"`` or ``"Validate"`` (None: both);
    actions are matched on the action name without trailing numbers (Walking ≡ Walk).
    """
    root = Path(root)
    intrinsics, extrinsics = cam.load_cameras_json(root / "cameras.json")
    positions = load_npz(root / "positions_3d.npz")
    _check_keys(positions, 3, root / "positions_3d.npz", "SPLIT/SUBJECT/SEQUENCE, e.g. 'Train/S1/Walking 1'")
    kp2d = load_npz(root / "keypoints_2d_gt.npz")
    if split is not None and split not in ("Train", "Validate"):
        raise PoseliftError(f"HumanEva split must be Train or Validate, got {split!r}")

    wanted_actions = None if actions is None else {_humaneva_action(a) for a in actions}
    out: list[Sequence] = []
    for key in positions:
        part, subject, name = key.split("/", 2)
        if split is not None and part != split:
            continue
        if subjects is not None and subject not in subjects:
            continue
        if wanted_actions is not None and _humaneva_action(action_name(name)) not in wanted_actions:
            continue
        world = check_array(positions[key], f"humaneva positions_3d.npz[{key}]", joints=15, dims=3, max_abs=MAX_METRES, unit="metres")
        for cam_id in cameras or HUMANEVA_CAMERAS:
            dkey = f"{key}/{cam_id}"
            if dkey not in kp2d:
                raise PoseliftError(f"{root / 'keypoints_2d_gt.npz'}: missing key {dkey!r}")
            if cam_id not in intrinsics or cam_id not in extrinsics.get(subject, {}):
                raise PoseliftError(f"{root / 'cameras.json'}: no camera {cam_id} for subject {subject}")
            ext = extrinsics[subject][cam_id]
            pos_cam = cam.world_to_camera(world, ext.rotation, ext.center).astype(np.float32)
            kp = check_array(kp2d[dkey], f"keypoints_2d_gt.npz[{dkey}]", joints=15, dims=2, max_abs=MAX_PIXELS, unit="pixels")
            out.append(Sequence(f"{part}/{subject}", name, cam_id, kp, pos_cam, intrinsics[cam_id], HUMANEVA_FPS))
    if not out:
        raise PoseliftError(
            f"no HumanEva sequences matched subjects={subjects} split={split} actions={actions} in {root / 'positions_3d.npz'}"
        )
    return out


def _humaneva_action(name: str) -> str:
    """Canonical HumanEva action: ``Walking``/``Walk`` → ``Walk``."""
    return {"Walking": "Walk", "Jogging": "Jog", "Boxing": "Box"}.get(name, name)


SUBSET_MODES = ("seeded", "length-hash")


def _length_hash_chunk(length: int, fraction: float) -> slice:
    """The original implementation's rule: ``round(length · fraction)`` frames starting
    at a position derived from a SHA-256 hash of the decimal sequence length, so the
    same recordings give the same labeled frames as the original's ``--subset``."""
    import hashlib

    n = max(1, int(round(length * fraction)))
    high = length - n + 1
    raw = int.from_bytes(hashlib.sha256(str(length).encode()).digest()[:4], byteorder="little", signed=False)
    start = int(raw / (2**32 - 1) * high)
    return slice(start, start + n)


def subset_sequences(sequences: list[Sequence], fraction: float, seed: int, mode: str = "seeded") -> list[Sequence]:
    """Keep a contiguous chunk covering ``fraction`` of each sequence (same frame rate).

    mode ``"seeded"``: a random chunk per recording from ``seed``; ``"length-hash"``:
    the chunk the original VideoPose3D code picks (see :func:`_length_hash_chunk`), for
    like-for-like comparisons. All camera views of a recording get the same chunk.
    Also takes :class:`WorldSequence`.
    """
    if not 0 < fraction <= 1:
        raise PoseliftError(f"`subset` must be in (0, 1], got {fraction}")
    if mode not in SUBSET_MODES:
        raise PoseliftError(f"`subset_mode` must be one of {', '.join(SUBSET_MODES)}, got {mode!r}")
    if fraction == 1:
        return sequences
    if mode == "length-hash":
        return [_slice_sequence(s, _length_hash_chunk(s.num_frames, fraction)) for s in sequences]
    rng = np.random.default_rng(seed)
    chunks: dict[tuple[str, str], slice] = {}
    out = []
    for s in sequences:
        rec = (s.subject, s.name)
        if rec not in chunks:
            chunks[rec] = _subset_chunk(s.num_frames, fraction, rng)
        sl = chunks[rec]
        out.append(_slice_sequence(s, sl))
    return out


def downsample_sequences(sequences: list[Sequence], factor: int) -> list[Sequence]:
    """Keep every ``factor``-th frame (lowers the frame rate by ``factor``); also takes :class:`WorldSequence`."""
    if factor < 1:
        raise PoseliftError(f"`downsample` must be a positive integer, got {factor}")
    if factor == 1:
        return sequences
    out = []
    for s in sequences:
        d = _slice_sequence(s, slice(None, None, factor))
        d.fps = s.fps / factor
        out.append(d)
    return out


def _slice_sequence(s, sl: slice):
    if isinstance(s, WorldSequence):
        return WorldSequence(s.subject, s.name, s.positions_world[sl], s.fps)
    return Sequence(
        s.subject,
        s.name,
        s.camera_id,
        s.keypoints_2d[sl],
        None if s.positions_3d is None else s.positions_3d[sl],
        s.intrinsics,
        s.fps,
        dict(s.extra),
    )


def describe_cameras_json(path: str | Path) -> dict:
    """Raw JSON of a cameras file (for ``poselift data info``)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise PoseliftError(f"{path} is not a readable JSON file ({exc})") from None


def normalized_keypoints(seq: Sequence) -> np.ndarray:
    """The sequence's 2D keypoints in normalised screen coordinates ``[T, J, 2]``."""
    w, h = seq.intrinsics.width, seq.intrinsics.height
    return cam.normalize_screen(seq.keypoints_2d, w, h).astype(np.float32)


def skeletons_for(dataset: str, keypoints: str = "gt"):
    """(input skeleton, output skeleton) of a dataset / keypoint source."""
    if dataset == "h36m":
        return (sk.MPII_16 if keypoints == "sh" else sk.H36M_17), sk.H36M_17
    if dataset == "humaneva":
        return sk.HUMANEVA_15, sk.HUMANEVA_15
    if dataset == "synthetic":
        return sk.H36M_17, sk.H36M_17
    raise PoseliftError(f"unknown dataset {dataset!r}; expected h36m or humaneva")


def load_dataset(
    dataset: str,
    root: str | Path,
    subjects: list[str] | None,
    *,
    keypoints: str = "gt",
    actions: list[str] | None = None,
    split: str | None = None,
) -> list[Sequence]:
    """Dispatch to :func:`load_h36m` or :func:`load_humaneva`."""
    if dataset == "h36m":
        return load_h36m(root, subjects, keypoints=keypoints, actions=actions)
    if dataset == "humaneva":
        if keypoints != "gt":
            raise PoseliftError("HumanEva-I here has ground-truth 2D only (`keypoints='gt'`)")
        return load_humaneva(root, subjects, split=split, actions=actions if actions is not None else HUMANEVA_ACTIONS)
    raise PoseliftError(f"unknown dataset {dataset!r}; expected h36m or humaneva")


_TRAILING = re.compile(r"(\s+chunk\d+)?$")


def action_name(sequence: str) -> str:
    """Action of a sequence: the last path part without its trailing take number.

    ``"S1/Walking 1"`` → ``"Walking"``; ``"Walking 1 chunk0"`` → ``"Walking"``;
    ``"WalkDog"`` → ``"WalkDog"``.
    """
    name = sequence.split("/")[-1]
    name = _TRAILING.sub("", name)
    parts = name.split(" ")
    if len(parts) > 1 and parts[-1].isdigit():
        parts = parts[:-1]
    return " ".join(parts)


def default_data_dir(dataset: str) -> Path:
    """The default folder of ``dataset`` (``h36m``, ``humaneva``): ``DEFAULT_DATA_ROOT / dataset``."""
    return DEFAULT_DATA_ROOT / dataset
