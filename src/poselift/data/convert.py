"""Importing what users already have: original VideoPose3D checkpoints and data files,
and the public 3d-pose-baseline Human3.6M h5 tree; plus ``poselift data info``.

Original VideoPose3D ``.npz`` files hold pickled dicts. Pickles can execute code when
loaded, so they are only read with an explicit ``allow_pickle=True`` opt-in (CLI:
``--allow-pickle``), which logs a warning; the output is our pickle-free format.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from poselift.data.datasets import H36M_CAMERAS, H36M_POSITIONS_MM_INT16
from poselift.errors import PoseliftError
from poselift.geometry import skeleton as sk
from poselift.geometry.camera import load_cameras_json
from poselift.geometry.skeleton import LAYOUT_BY_JOINT_COUNT
from poselift.io.arrays import load_npz
from poselift.io.atomic import atomic_write
from poselift.io.exports import write_npz
from poselift.io.staging import check_destination

log = logging.getLogger("poselift.data.convert")

# Human3.6M sensor resolutions (not stored in cameras.h5).
H36M_RESOLUTION = {"54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002)}


# ---------------------------------------------------------------- checkpoints

# --------------------------------------------------------------- legacy .npz
def _load_pickled_npz(path: Path, allow_pickle: bool) -> dict[str, Any]:
    try:
        return load_npz(path)
    except PoseliftError as exc:
        if "pickled" not in str(exc):
            raise
    if not allow_pickle:
        raise PoseliftError(
            f"{path} holds pickled Python objects (original VideoPose3D format), which can run code when loaded; "
            f"pass `allow_pickle` only if you trust this file"
        )
    log.warning("loading pickled data from %s because --allow-pickle was given: only do this for files you trust", path)
    try:
        with np.load(path, allow_pickle=True) as f:  # opt-in, see warning above
            return {k: f[k] for k in f.files}
    except Exception as exc:  # noqa: BLE001
        raise PoseliftError(f"{path} could not be read ({type(exc).__name__}: {exc})") from None


def _as_dict(value: Any, where: str) -> dict:
    obj = value.item() if isinstance(value, np.ndarray) and value.dtype == object and value.shape == () else value
    if not isinstance(obj, dict):
        raise PoseliftError(f"{where}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def convert_videopose3d_npz(src: Path, out: Path, allow_pickle: bool) -> dict[str, np.ndarray]:
    """Original ``data_3d_*.npz`` / ``data_2d_*.npz`` → flat arrays in our key scheme."""
    raw = _load_pickled_npz(src, allow_pickle)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"source": src.name}
    if "positions_3d" in raw:
        _, kept = sk.H36M_32.remove_joints([4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31])
        for subject, actions in _as_dict(raw["positions_3d"], f"{src}[positions_3d]").items():
            for action, pos in _as_dict(actions, f"{src}[positions_3d][{subject}]").items():
                pos = np.asarray(pos, dtype=np.float32)
                if pos.ndim != 3 or pos.shape[-1] != 3:
                    raise PoseliftError(f"{src}[positions_3d][{subject}][{action}]: expected [T, J, 3], got {list(pos.shape)}")
                if pos.shape[1] == 32:
                    pos = pos[:, kept]
                arrays[f"{subject}/{action}"] = pos
        meta["layout"] = "h36m17"
        meta["units"] = "metres, world frame"
    elif "positions_2d" in raw:
        meta_raw = _as_dict(raw["metadata"], f"{src}[metadata]") if "metadata" in raw else {}
        meta["layout"] = str(meta_raw.get("layout_name", "unknown"))
        meta["units"] = "pixels"
        video_meta = meta_raw.get("video_metadata")
        if video_meta:
            meta["video_metadata"] = {k: {"w": int(v["w"]), "h": int(v["h"])} for k, v in video_meta.items()}
        for subject, actions in _as_dict(raw["positions_2d"], f"{src}[positions_2d]").items():
            for action, views in _as_dict(actions, f"{src}[positions_2d][{subject}]").items():
                for i, kp in enumerate(views):
                    kp = np.asarray(kp, dtype=np.float32)[..., :2]
                    if kp.ndim != 3:
                        raise PoseliftError(f"{src}[positions_2d][{subject}][{action}][{i}]: expected [T, J, 2], got {list(kp.shape)}")
                    cam_id = H36M_CAMERAS[i] if action != "custom" and len(views) == 4 else str(i)
                    key = f"{subject}/{cam_id}" if action == "custom" else f"{subject}/{action}/{cam_id}"
                    arrays[key] = kp
    else:
        raise PoseliftError(f"{src} has neither 'positions_3d' nor 'positions_2d'; keys: {sorted(raw)}")
    arrays["_meta"] = np.array(json.dumps(meta))
    return arrays


# ---------------------------------------------------------- 3d-pose-baseline
def _h5():
    try:
        import h5py
    except ImportError:
        raise PoseliftError("reading .h5 files needs h5py: pip install 'poselift[h5]'") from None
    return h5py


def convert_h5_tree(root: Path, out: Path, overwrite: bool) -> list[Path]:
    """3d-pose-baseline Human3.6M folder → ``positions_3d.npz``, ``keypoints_2d_sh_pt_mpii.npz``, ``cameras.json``."""
    h5py = _h5()
    cams_file = root / "cameras.h5"
    if not cams_file.is_file():
        raise PoseliftError(f"{cams_file} does not exist; expected a 3d-pose-baseline Human3.6M folder")
    intrinsics: dict[str, Any] = {}
    extrinsics: dict[str, Any] = {}
    with h5py.File(cams_file, "r") as f:
        for group in f:
            m = re.fullmatch(r"subject(\d+)", group)
            if not m:
                continue
            subject = f"S{m.group(1)}"
            for cam_group in f[group]:
                c = f[group][cam_group]
                try:
                    name = "".join(chr(int(x)) for x in np.asarray(c["Name"]).ravel())
                    R = np.asarray(c["R"], dtype=np.float64).reshape(3, 3)
                    T = np.asarray(c["T"], dtype=np.float64).reshape(3) / 1000.0
                    fxy = np.asarray(c["f"], dtype=np.float64).ravel()
                    cxy = np.asarray(c["c"], dtype=np.float64).ravel()
                    k = np.asarray(c["k"], dtype=np.float64).ravel()
                    p = np.asarray(c["p"], dtype=np.float64).ravel()
                except KeyError as exc:
                    raise PoseliftError(f"{cams_file}[{group}/{cam_group}]: missing {exc.args[0]!r}") from None
                w, h = H36M_RESOLUTION.get(name, (1000, 1000))
                intrinsics[name] = {
                    "focal_length": fxy.tolist(), "center": cxy.tolist(), "radial_distortion": k.tolist(),
                    "tangential_distortion": p.tolist(), "res_w": w, "res_h": h,
                }
                extrinsics.setdefault(subject, {})[name] = {"R_world_to_cam": R.tolist(), "center_m": T.tolist()}
    _, kept = sk.H36M_32.remove_joints([4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31])
    pos3d: dict[str, np.ndarray] = {}
    kp2d: dict[str, np.ndarray] = {}
    for subject_dir in sorted(root.glob("S*")):
        subject = subject_dir.name
        for f3 in sorted((subject_dir / "MyPoses" / "3D_positions").glob("*.h5")):
            with h5py.File(f3, "r") as f:
                if "3D_positions" not in f:
                    raise PoseliftError(f"{f3}: no '3D_positions' dataset")
                data = np.asarray(f["3D_positions"], dtype=np.float32)
            if data.shape[0] != 96:
                raise PoseliftError(f"{f3}: expected '3D_positions' of shape [96, T] (32 joints × 3, mm), got {list(data.shape)}")
            pos3d[f"{subject}/{f3.stem}"] = (data.T.reshape(-1, 32, 3) / 1000.0)[:, kept]
        for f2 in sorted((subject_dir / "StackedHourglass").glob("*.h5")):
            action, _, cam_id = f2.stem.rpartition(".")
            with h5py.File(f2, "r") as f:
                if "poses" not in f:
                    raise PoseliftError(f"{f2}: no 'poses' dataset")
                poses = np.asarray(f["poses"], dtype=np.float32).reshape(-1, 16, 2)
            kp2d[f"{subject}/{action.replace('_', ' ')}/{cam_id}"] = poses
    if not pos3d:
        raise PoseliftError(f"{root}: no S*/MyPoses/3D_positions/*.h5 files found")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    targets = [(out / "positions_3d.npz", pos3d)] + ([(out / "keypoints_2d_sh_pt_mpii.npz", kp2d)] if kp2d else [])
    for path, arrays in targets:
        _write_npz(path, arrays, overwrite)
        written.append(path)
    cams_out = out / "cameras.json"
    _check_overwrite(cams_out, overwrite)
    with atomic_write(cams_out, "w") as f:
        json.dump({"intrinsics": intrinsics, "extrinsics": extrinsics}, f, indent=1)
    written.append(cams_out)
    return written


def _check_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise PoseliftError(f"{path} already exists; pass `overwrite=True` to replace it")


def _write_npz(path: Path, arrays: dict[str, np.ndarray], overwrite: bool) -> None:
    _check_overwrite(path, overwrite)
    write_npz(path, arrays, compressed=True)


def convert_dataset(source: str | Path, out: str | Path, *, allow_pickle: bool = False, overwrite: bool = False) -> list[Path]:
    """``poselift data convert``: a legacy .npz file or an h5 folder → our format."""
    source, out = Path(source), Path(out)
    check_destination(out, folder=source.is_dir())
    if source.is_dir():
        return convert_h5_tree(source, out, overwrite)
    if not source.is_file():
        raise PoseliftError(f"{source} does not exist")
    if source.suffix != ".npz":
        raise PoseliftError(f"{source}: expected an original VideoPose3D .npz file or a 3d-pose-baseline folder")
    arrays = convert_videopose3d_npz(source, out, allow_pickle)
    _write_npz(out, arrays, overwrite)
    return [out]


# ---------------------------------------------------------------- data info
#: Largest difference between the compact int16 copy and ``positions_3d.npz``, in mm:
#: rounding to whole millimetres (0.5 mm) plus float32 resolution.
COMPACT_TOLERANCE_MM = 0.501


def dataset_info(path: str | Path) -> dict[str, Any]:
    """Summarise a file/folder in our format and check it.

    Returns ``{"path", "summary", "problems", "warnings"}``: ``problems`` are what
    makes the data wrong or unreadable (corrupt arrays, NaN, mismatched 2D/3D lengths,
    unknown cameras, a compact copy that differs from the 3D); ``warnings`` are what
    the readers skip (a 2D sequence without 3D is never used for training or
    evaluation). ``positions_3d_mm_int16.npz`` is read as what it is: the compact
    int16-millimetre copy of the 3D positions that :mod:`poselift.data.datasets` reads
    when ``positions_3d.npz`` is absent.
    """
    path = Path(path)
    problems: list[str] = []
    warnings: list[str] = []
    summary: list[str] = []
    if path.is_dir():
        files = {p.name: p for p in path.glob("*.npz")}
        if not files:
            raise PoseliftError(f"{path} contains no .npz files")
        cams = path / "cameras.json"
        camera_ids: set[str] = set()
        if cams.is_file():
            intr, extr = load_cameras_json(cams)
            camera_ids = set(intr)
            summary.append(f"cameras.json: {len(intr)} cameras ({', '.join(sorted(intr))}), extrinsics for {len(extr)} subjects")
        per_file = {name: _npz_summary(p, problems) for name, p in sorted(files.items())}
        for name, info in per_file.items():
            summary.append(f"{name}: {info['text']}")
        # the 3D reference: positions_3d.npz, else the compact copy (as the readers choose)
        three = sorted((i for i in per_file.values() if i["dims"] == {3}), key=lambda i: i["name"] == H36M_POSITIONS_MM_INT16)
        two = [i for n, i in per_file.items() if i["dims"] == {2}]
        compact = per_file.get(H36M_POSITIONS_MM_INT16)
        full = per_file.get("positions_3d.npz")
        if compact is not None and full is not None:
            _compare_compact(full, compact, problems)
        if cams.is_file():
            for info in three:  # every recorded subject needs camera extrinsics
                subjects = {_subject(key) for key in info["lengths"]}
                for subject in sorted(s for s in subjects if re.fullmatch(r"S\d+", s) and s not in extr):
                    problems.append(f"cameras.json: no extrinsics for subject {subject} (recorded in {info['name']})")
        if three and two:
            lengths3 = three[0]["lengths"]
            for info in two:
                without_3d: dict[str, list[str]] = {}
                for key, t in info["lengths"].items():
                    seq, _, cam_id = key.rpartition("/")
                    if seq not in lengths3:
                        without_3d.setdefault(seq, []).append(cam_id)
                    elif lengths3[seq] != t:
                        problems.append(f"{info['name']}[{key}]: {t} frames but 3D {seq!r} has {lengths3[seq]}")
                    if camera_ids and cam_id not in camera_ids:
                        problems.append(f"{info['name']}[{key}]: unknown camera id {cam_id!r}")
                sequences = {key.rpartition("/")[0] for key in info["lengths"]}
                if without_3d and len(without_3d) == len(sequences):
                    problems.append(
                        f"{info['name']}: none of its {len(sequences)} sequences has 3D in {three[0]['name']} "
                        f"(a 2D key is a 3D key plus '/CAMERA', e.g. {next(iter(sorted(info['lengths'])))!r})"
                    )
                    continue
                for seq, cam_ids in sorted(without_3d.items()):
                    warnings.append(
                        f"{info['name']}[{seq}]: 2D for {len(cam_ids)} camera(s) ({', '.join(sorted(cam_ids))}) but no 3D "
                        f"sequence in {three[0]['name']}; not used for training or evaluation"
                    )
                if without_3d:
                    summary.append(
                        f"{info['name']}: {len(without_3d)} of {len(sequences)} sequences have 2D but no 3D "
                        f"({sum(map(len, without_3d.values()))} camera views; listed as warnings)"
                    )
    else:
        info = _npz_summary(path, problems)
        summary.append(f"{path.name}: {info['text']}")
    return {"path": str(path), "summary": summary, "problems": problems, "warnings": warnings}


def _subject(key: str) -> str:
    """The subject of a dataset key: its ``S<number>`` part (``Train/S1/Walking 1 chunk0`` → ``S1``), else its first part."""
    parts = key.split("/")
    return next((p for p in parts if re.fullmatch(r"S\d+", p)), parts[0])


def _natural(text: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def _compare_compact(full: dict[str, Any], compact: dict[str, Any], problems: list[str]) -> None:
    """The compact int16 copy holds the same sequences as ``positions_3d.npz``, to rounding."""
    name, ref = compact["name"], full["name"]
    missing, extra = sorted(set(full["arrays"]) - set(compact["arrays"])), sorted(set(compact["arrays"]) - set(full["arrays"]))
    if missing:
        problems.append(f"{name}: {len(missing)} sequence(s) of {ref} are missing, e.g. {missing[0]!r}")
    if extra:
        problems.append(f"{name}: {len(extra)} sequence(s) are not in {ref}, e.g. {extra[0]!r}")
    for key in sorted(set(full["arrays"]) & set(compact["arrays"])):
        a, b = full["arrays"][key], compact["arrays"][key]
        if a.shape != b.shape:
            problems.append(f"{name}[{key}]: shape {list(b.shape)} but {ref} has {list(a.shape)}")
            continue
        with np.errstate(invalid="ignore"):
            diff_mm = float(np.nanmax(np.abs(b.astype(np.float32) - a * np.float32(1000.0)), initial=0.0))
        if diff_mm > COMPACT_TOLERANCE_MM:
            problems.append(f"{name}[{key}]: differs from {ref} by up to {diff_mm:.3g} mm (a compact copy rounds to 0.5 mm)")


def _npz_summary(path: Path, problems: list[str]) -> dict[str, Any]:
    arrays = load_npz(path)
    compact = path.name == H36M_POSITIONS_MM_INT16
    lengths: dict[str, int] = {}
    joints: set[int] = set()
    dims: set[int] = set()
    subjects: set[str] = set()
    groups: set[str] = set()
    kept: dict[str, np.ndarray] = {}
    frames = 0
    for key, a in arrays.items():
        if key.startswith("_"):
            continue
        if compact:
            if a.ndim != 3 or a.dtype != np.int16 or a.shape[2] != 3:
                problems.append(f"{path.name}[{key}]: expected an int16 [frames, joints, 3] array of millimetres, got {a.dtype} {list(a.shape)}")
                continue
            clipped = int((np.abs(a.astype(np.int32)) >= np.iinfo(np.int16).max).any(axis=(1, 2)).sum())
            if clipped:
                problems.append(f"{path.name}[{key}]: {clipped} frames at the int16 limit (±32.767 m: clipped)")
        elif a.ndim != 3 or a.dtype.kind != "f":
            problems.append(f"{path.name}[{key}]: expected a float [frames, joints, dims] array, got {a.dtype} {list(a.shape)}")
            continue
        elif not np.isfinite(a).all():
            problems.append(f"{path.name}[{key}]: {int((~np.isfinite(a)).any(axis=(1, 2)).sum())} frames with NaN/inf")
        if a.shape[0] == 0:
            problems.append(f"{path.name}[{key}]: empty sequence")
        lengths[key] = a.shape[0]
        joints.add(a.shape[1])
        dims.add(a.shape[2])
        subjects.add(_subject(key))
        first = key.split("/")[0]
        if first != _subject(key):
            groups.add(first)
        if a.shape[2] == 3:
            kept[key] = a
        frames += a.shape[0]
    if len(joints) > 1:
        problems.append(f"{path.name}: inconsistent joint counts {sorted(joints)}")
    layout = ", ".join(LAYOUT_BY_JOINT_COUNT.get(j, f"{j} joints") for j in sorted(joints))
    text = (
        f"{len(lengths)} sequences, {len(subjects)} subjects ({', '.join(sorted(subjects, key=_natural))}), "
        f"{frames} frames, joints: {layout}, dims: {sorted(dims)}"
    )
    if groups:
        text += f", splits: {', '.join(sorted(groups))}"
    if compact:
        text = (
            f"compact copy of the 3D positions (int16 millimetres, rounded to 0.5 mm; read when positions_3d.npz "
            f"is absent): {text}"
        )
    return {"name": path.name, "text": text, "lengths": lengths, "dims": dims, "arrays": kept}
