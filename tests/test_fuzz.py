"""Fuzzing every file reader through the CLI.

Seeded, programmatically generated bad files for each reader: our dataset ``.npz``
(``poselift data info`` and the dataset readers behind ``poselift evaluate``),
``cameras.json``, the keypoint importers behind ``poselift infer FILE`` (COCO JSON,
OpenPose folder, ``.npz``, ``.csv``), video files (``poselift infer x.mp4``) and
checkpoints (``evaluate --checkpoint``, ``infer --checkpoint``, ``import-checkpoint``,
``export-weights``). Cases: empty, truncated, random bytes, bit flips, wrong dtype,
wrong shape, NaN/inf, huge dimensions (headers claiming enormous arrays, stride-0
tensors, configs claiming huge layers), wrong JSON types, hostile text (deep nesting,
huge integers, NUL bytes, invalid UTF-8).

Every case must end in one of two ways: the command succeeds (a mutation can leave a
file valid), or it prints exactly one ``poselift: error: ...`` line naming the file and
exits with code 2: no traceback, no Python warning, no partial outputs, no GB-sized
allocation. Cases marked ``must_fail`` may not succeed. ``data info`` may also exit 1
with ``PROBLEM:`` lines (that is its job: reporting NaN/inf or inconsistent arrays).

The default suite runs a few hundred cases in-process (``poselift.cli.main``);
``test_fuzz_sweep`` (``-m slow``) runs many more random mutations per seed file. Each
test prints its case count; set ``POSELIFT_FUZZ_REPORT=path.json`` to collect them.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import struct
import traceback
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from test_pipeline import _save_lifter  # shared tiny-lifter checkpoint

from poselift.cli import main
from poselift.models.checkpoint import save_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # as `poselift infer` does: no native FFmpeg log lines

SEED = 20_240_531
H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
COUNTS: dict[str, dict[str, int]] = {}
#: poselift's own log lines (``HH:MM:SS LEVEL message``) may accompany an error.
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING) ")


# ============================================================================ engine
@dataclass
class Case:
    """One fuzz case: ``argv`` for ``poselift``; ``name`` is the file it corrupts (the
    error must mention it); ``must_fail``: success is not acceptable."""

    label: str
    argv: list[str]
    name: str
    must_fail: bool = False
    out_dir: Path | None = None  # infer: must hold no poses.* after a failure


def _run(case: Case, capfd) -> tuple[int | None, str, str, list[str]]:
    """Run one case in-process; returns (rc, stdout, stderr, problems). ``capfd``
    captures file descriptors 1 and 2, so native library output counts too."""
    problems: list[str] = []
    rc: int | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rc = main(case.argv)
        except SystemExit as exc:  # argparse
            rc = int(exc.code) if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001 - this is what we are hunting
            problems.append(f"uncaught {type(exc).__name__}: {str(exc)[:300]}\n{traceback.format_exc(limit=-3)}")
    captured = capfd.readouterr()
    for w in caught:
        problems.append(f"warning {w.category.__name__}: {str(w.message)[:200]}")
    return rc, captured.out, captured.err, problems


def run_cases(reader: str, cases: list[Case], capfd, *, info: bool = False) -> dict[str, int]:
    """Run ``cases``; fail listing every case that tracebacks, warns, exits with an
    unclear message or an unexpected code."""
    failures: list[str] = []
    tally = {"cases": 0, "rejected": 0, "accepted": 0, "problems_reported": 0}
    capfd.readouterr()  # drop whatever building the cases printed
    for case in cases:
        tally["cases"] += 1
        rc, out, err, problems = _run(case, capfd)
        lines = [line for line in err.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("poselift: error: ")]
        stray = [line for line in lines if not line.startswith("poselift: error: ") and not LOG_LINE.match(line)]
        if rc == 2 and stray and not problems:
            problems.append(f"stray output on stderr (native library logs?): {stray[:3]}")
        if not problems:
            if rc == 2:
                tally["rejected"] += 1
                if len(errors) != 1:
                    problems.append(f"exit 2 with {len(errors)} error lines: {lines[-3:]}")
                elif case.name not in errors[0]:
                    problems.append(f"error does not name {case.name!r}: {errors[0][:300]}")
                if "Traceback" in err:
                    problems.append("traceback on stderr")
            elif rc == 0:
                tally["accepted"] += 1
                if case.must_fail:
                    problems.append("accepted a file that must be rejected")
            elif rc == 1 and info and "PROBLEM: " in out:
                tally["problems_reported"] += 1
            else:
                problems.append(f"exit code {rc}; stderr tail {lines[-3:]}")
            if rc != 0 and case.out_dir is not None and case.out_dir.exists():
                left = [p.name for p in case.out_dir.iterdir()]
                if left:
                    problems.append(f"failed run left files behind: {left}")
        if problems:
            failures.append(f"[{case.label}] {' '.join(case.argv)[:200]}\n    " + "\n    ".join(problems))
    COUNTS[reader] = tally
    print(f"fuzz {reader}: {tally}")
    report = os.environ.get("POSELIFT_FUZZ_REPORT")
    if report:
        old = json.loads(Path(report).read_text()) if Path(report).is_file() else {}
        old[reader] = tally
        Path(report).write_text(json.dumps(old, indent=2, sort_keys=True))
    assert not failures, f"{len(failures)} of {len(cases)} {reader} cases misbehaved:\n" + "\n".join(failures[:25])
    return tally


# ========================================================================= mutators
def byte_mutations(data: bytes, rng: np.random.Generator, n_random: int, binary: bool) -> list[tuple[str, bytes, bool]]:
    """(label, content, must_fail) variants of a valid file's bytes.

    ``binary``: a container format (zip, torch) where truncation and random content
    must fail; for text formats they may leave a valid file.
    """
    n = len(data)
    out: list[tuple[str, bytes, bool]] = [
        ("empty", b"", True),
        ("one-byte", data[:1], True),
        ("random-1k", rng.bytes(1024), True),
        ("random-same-size", rng.bytes(n), True),
        ("zeros", bytes(n), True),
        ("text", b"this is not the file you are looking for\n" * 3, True),
    ]
    for frac in (0.1, 0.5, 0.9):
        out.append((f"truncated-{frac}", data[: int(n * frac)], binary))
    out.append(("truncated-last-byte", data[:-1], False))
    out.append(("garbage-prefix", rng.bytes(64) + data, False))
    out.append(("garbage-suffix", data + rng.bytes(64), False))
    for i in range(n_random):
        b = bytearray(data)
        kind = i % 4
        if kind == 0:  # bit flips
            for pos in rng.integers(0, n, size=int(rng.integers(1, 16))):
                b[pos] ^= 1 << int(rng.integers(0, 8))
            label = "bitflip"
        elif kind == 1:  # a run of 0xFF or 0x00
            start = int(rng.integers(0, n))
            b[start : start + int(rng.integers(1, 64))] = bytes([0xFF if rng.random() < 0.5 else 0]) * int(rng.integers(1, 64))
            label = "overwrite-run"
        elif kind == 2:  # a chunk cut out of the middle
            start = int(rng.integers(0, n))
            del b[start : start + int(rng.integers(1, max(2, n // 8)))]
            label = "cut-chunk"
        else:  # a random chunk pasted in
            start = int(rng.integers(0, n))
            b[start:start] = rng.bytes(int(rng.integers(1, 256)))
            label = "insert-random"
        out.append((f"{label}-{i}", bytes(b), False))
    return out


BAD_JSON_VALUES: list[tuple[str, Any]] = [
    ("null", None), ("true", True), ("zero", 0), ("negative", -7), ("float", 2.5), ("inf", float("inf")),
    ("nan", float("nan")), ("huge-int", 10**300), ("string", "abc"), ("empty-string", ""), ("list", []),
    ("list-of-str", ["a", "b"]), ("object", {}), ("object-junk", {"x": [1, {"y": None}]}), ("nested", [[[[[[1]]]]]]),
]


def _paths(obj: Any, prefix: tuple = (), limit: int = 3) -> list[tuple]:
    """Every path into a JSON document (at most ``limit`` elements of each list)."""
    found = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _paths(v, prefix + (k,), limit)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:limit]):
            found += _paths(v, prefix + (i,), limit)
    return found


def _replace(obj: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    obj = json.loads(json.dumps(obj))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


def json_mutations(doc: Any, rng: np.random.Generator, max_cases: int) -> list[tuple[str, bytes, bool]]:
    """Wrong JSON types at every path (seeded sample), deleted keys, hostile text."""
    variants: list[tuple[str, bytes, bool]] = []
    for path in _paths(doc):
        label = "/".join(map(str, path))
        for name, value in BAD_JSON_VALUES:
            variants.append((f"{label}={name}", json.dumps(_replace(doc, path, value)).encode(), False))
        variants.append((f"{label}=deleted", json.dumps(_replace(doc, path, None, delete=True)).encode(), False))
    picks = rng.choice(len(variants), size=min(max_cases, len(variants)), replace=False)
    out = [variants[i] for i in sorted(picks)]
    for name, value in BAD_JSON_VALUES:  # the whole document replaced
        out.append((f"document={name}", json.dumps(value).encode(), True))
    out += [
        ("deep-nesting", b"[" * 200_000 + b"]" * 200_000, True),
        ("huge-int-literal", b"[" + b"9" * 20_000 + b"]", True),
        ("invalid-utf8", b'{"a": "\xff\xfe\xfa"}', True),
        ("utf8-bom", b"\xef\xbb\xbf" + json.dumps(doc).encode(), False),
        ("nul-bytes", json.dumps(doc).encode().replace(b",", b",\x00", 1), True),
        ("trailing-comma", json.dumps(doc).encode()[:-1] + b",}" if json.dumps(doc).endswith("}") else b"[1,]", True),
    ]
    return out


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def npy_crafted(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy member with an arbitrary header text (padded like NumPy's)."""
    h = header.encode("latin1")
    pad = (-(10 + len(h) + 1)) % 64
    h = h + b" " * pad + b"\n"
    size = struct.pack("<H", len(h)) if version == (1, 0) else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes(version) + size + h + data


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npz_members(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}


def _header(shape: Any, descr: str = "<f4") -> str:
    return f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"


def array_variants(a: np.ndarray, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Bad versions of one array, as .npy member bytes."""
    t = a.shape[0] if a.ndim else 1
    nan_some = a.astype(np.float32).copy()
    if nan_some.size:
        nan_some.reshape(-1)[rng.integers(0, nan_some.size, size=3)] = np.nan
    inf_some = a.astype(np.float32).copy()
    if inf_some.size:
        inf_some.reshape(-1)[rng.integers(0, inf_some.size, size=2)] = np.inf
    out = [
        ("int64", npy_bytes(a.astype(np.int64))),
        ("bool", npy_bytes(a.astype(bool))),
        ("complex", npy_bytes(a.astype(np.complex64))),
        ("float16", npy_bytes(a.astype(np.float16))),
        ("float64-huge", npy_bytes(np.full(a.shape, 1e300))),
        ("strings", npy_bytes(np.full(a.shape, "x", dtype="<U3"))),
        ("bytes", npy_bytes(np.full(a.shape, b"x", dtype="S1"))),
        ("structured", npy_bytes(np.zeros(a.shape[:1], dtype=[("a", "<f4"), ("b", "<i4")]))),
        ("datetime", npy_bytes(np.zeros(a.shape, dtype="datetime64[s]"))),
        ("object-pickle", npy_bytes(np.array([{"a": 1}], dtype=object))),
        ("scalar", npy_bytes(np.array(3.0))),
        ("1d", npy_bytes(a.reshape(-1))),
        ("4d", npy_bytes(a[None])),
        ("zero-frames", npy_bytes(a[:0])),
        ("nan-all", npy_bytes(np.full(a.shape, np.nan, np.float32))),
        ("nan-some", npy_bytes(nan_some)),
        ("inf-some", npy_bytes(inf_some)),
        ("fortran", npy_bytes(np.asfortranarray(a))),
        ("header-huge-frames", npy_crafted(_header((10**12,) + a.shape[1:]), a.tobytes())),
        ("header-overflow", npy_crafted(_header((2**62, 2**62) + a.shape[2:]), a.tobytes())),
        ("header-negative", npy_crafted(_header((-5,) + a.shape[1:]), a.tobytes())),
        ("header-short-data", npy_crafted(_header(a.shape), a.tobytes()[: a.nbytes // 2])),
        ("header-code", npy_crafted("{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (3,), }")),
        ("header-not-dict", npy_crafted("[1, 2, 3]")),
        ("header-bad-descr", npy_crafted(_header(a.shape, descr="<q9"), a.tobytes())),
        ("header-object-descr", npy_crafted(_header((t,), descr="|O"), b"\x80\x04N.")),
        ("header-too-long", npy_crafted("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': '" + "a" * 20_000 + "'}", b"\0" * 4)),
        ("bad-version", npy_crafted(_header(a.shape), a.tobytes(), version=(9, 9))),
        ("bad-magic", b"\x93NUMPX" + npy_bytes(a)[6:]),
    ]
    if a.ndim == 3:
        out += [
            ("wrong-joints", npy_bytes(a[:, :-1])),
            ("wrong-dims", npy_bytes(np.concatenate([a, a[..., :1]], -1))),
            ("zero-joints", npy_bytes(a[:, :0])),
            ("transposed", npy_bytes(np.ascontiguousarray(a.transpose(1, 0, 2)))),
            ("header-huge-joints", npy_crafted(_header((a.shape[0], 10**9, a.shape[2])), a.tobytes())),
        ]
    return out


def npz_mutations(arrays: dict[str, np.ndarray], rng: np.random.Generator, keys: list[str] | None = None) -> list[tuple[str, bytes, bool]]:
    """(label, npz bytes, must_fail) for array-level corruption of one key at a time,
    plus archive-level oddities."""
    out: list[tuple[str, bytes, bool]] = []

    def pack(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=compression) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return buf.getvalue()

    good = npz_members(arrays)
    for key in keys or list(arrays):
        for label, member in array_variants(np.asarray(arrays[key]), rng):
            out.append((f"{key}:{label}", pack({**good, f"{key}.npy": member}), False))
        out.append((f"{key}:deleted", pack({k: v for k, v in good.items() if k != f"{key}.npy"}), False))
    out += [
        ("archive-no-members", pack({}), False),
        ("archive-not-npy-member", pack({**good, "readme.txt": b"hello"}), False),
        ("archive-compressed", pack(good, zipfile.ZIP_DEFLATED), False),
        ("archive-nested-zip", pack({"inner.npy": pack(good)}), False),
        ("npy-not-npz", npy_bytes(next(iter(arrays.values()))), True),
        ("raw-pickle", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.", True),
    ]
    return out


# ========================================================================= fixtures
def coco_like(t: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array([(160, 60), (165, 55), (155, 55), (170, 58), (150, 58), (180, 85), (140, 85), (188, 115),
                     (132, 115), (192, 145), (128, 145), (172, 145), (148, 145), (175, 185), (145, 185),
                     (177, 225), (143, 225)], np.float32)
    return (base[None] + rng.normal(0, 2, (t, 17, 2)) + np.arange(t)[:, None, None] * [1.0, 0.0]).astype(np.float32)


def tiny_lifter(path: Path, joints: int = 17, dataset: str = "synthetic", trajectory: bool = True) -> Path:
    from poselift.training.config import TrainConfig

    train = TrainConfig(dataset=dataset, filter_widths=(3, 3), channels=8).to_dict()
    return _save_lifter(path, joints=joints, channels=8, trajectory=trajectory, train=train)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def ckpt(work) -> Path:
    return tiny_lifter(work / "lifter.pt")


def cameras_doc(subjects=("S9", "S11"), cameras=H36M_CAMERAS) -> dict:
    intr = {c: {"focal_length": [1145.0, 1144.0], "center": [512.0, 515.0], "radial_distortion": [0.0, 0.0, 0.0],
                "tangential_distortion": [0.0, 0.0], "res_w": 1000, "res_h": 1002} for c in cameras}
    extr = {s: {c: {"R_world_to_cam": np.eye(3).tolist(), "center_m": [0.0, 0.0, -5.0]} for c in cameras} for s in subjects}
    return {"intrinsics": intr, "extrinsics": extr}


def h36m_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "S9/Walking 1": rng.normal(0, 0.3, (20, 17, 3)).astype(np.float32),
        "S11/Eating": rng.normal(0, 0.3, (15, 17, 3)).astype(np.float32),
    }


def h36m_folder(root: Path, positions: bytes | None = None, cameras: bytes | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "positions_3d.npz").write_bytes(positions if positions is not None else _npz_bytes(h36m_arrays()))
    (root / "cameras.json").write_bytes(cameras if cameras is not None else json.dumps(cameras_doc()).encode())
    return root


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


class Namer:
    """Unique file names per reader (``case-0007-<label>``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.i = 0

    def __call__(self, label: str, suffix: str) -> Path:
        self.i += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60]
        return self.folder / f"case{self.i:04d}-{safe}{suffix}"


# ============================================================== dataset .npz readers
def dataset_cases(work: Path, ckpt: Path, rng: np.random.Generator, n_random: int) -> tuple[list[Case], list[Case]]:
    """(data info cases, evaluate-on-h36m-folder cases) for positions_3d.npz corruption."""
    names = Namer(work / "dataset")
    good = _npz_bytes(h36m_arrays())
    variants = npz_mutations(h36m_arrays(), rng, keys=["S9/Walking 1"])
    variants += [(f"bytes:{l}", d, f) for l, d, f in byte_mutations(good, rng, n_random, binary=True)]
    variants += [
        ("bad-key", _npz_bytes({"nokey": h36m_arrays()["S9/Walking 1"]}), False),
        ("empty-key-part", _npz_bytes({"S9/": h36m_arrays()["S9/Walking 1"]}), False),
    ]
    info, evaluate = [], []
    for label, data, must_fail in variants:
        path = names(label, ".npz")
        path.write_bytes(data)
        info.append(Case(label, ["data", "info", str(path)], path.name, must_fail))
        folder = h36m_folder(names(label, ""), positions=data)
        evaluate.append(Case(label, ["evaluate", "--checkpoint", str(ckpt), "--dataset", "h36m", "--data-dir",
                                     str(folder), "--no-flip", "--json"], "positions_3d.npz", must_fail))
    return info, evaluate


def test_fuzz_dataset_npz_data_info(work, ckpt, capfd):
    info, _ = dataset_cases(work / "info", ckpt, np.random.default_rng(SEED), n_random=24)
    run_cases("dataset npz (data info)", info, capfd, info=True)


def test_fuzz_dataset_npz_readers_via_evaluate(work, ckpt, capfd):
    _, evaluate = dataset_cases(work / "eval", ckpt, np.random.default_rng(SEED + 1), n_random=12)
    # the uncorrupted folder evaluates: the harness is not just failing everything
    good = h36m_folder(work / "eval-good")
    assert main(["evaluate", "--checkpoint", str(ckpt), "--dataset", "h36m", "--data-dir", str(good), "--no-flip", "--json"]) == 0
    capfd.readouterr()
    run_cases("dataset npz (evaluate --dataset h36m)", evaluate, capfd)


def test_fuzz_humaneva_folder_via_evaluate(work, capfd):
    rng = np.random.default_rng(SEED + 2)
    he_ckpt = tiny_lifter(work / "he.pt", joints=15, dataset="humaneva", trajectory=False)
    pos = {"Validate/S1/Walk 1": rng.normal(0, 0.3, (20, 15, 3)).astype(np.float32)}
    kp = {f"Validate/S1/Walk 1/{c}": rng.uniform(0, 500, (20, 15, 2)).astype(np.float32) for c in ("C1", "C2", "C3")}
    cams = {"intrinsics": {c: {"res_w": 640, "res_h": 480} for c in ("C1", "C2", "C3")},
            "extrinsics": {"S1": {c: {"R_world_to_cam": np.eye(3).tolist(), "center_m": [0, 0, -5.0]} for c in ("C1", "C2", "C3")}}}
    names = Namer(work / "humaneva")

    def folder(label, pos_b=None, kp_b=None, cam_b=None) -> Path:
        root = names(label, "")
        root.mkdir()
        (root / "positions_3d.npz").write_bytes(pos_b if pos_b is not None else _npz_bytes(pos))
        (root / "keypoints_2d_gt.npz").write_bytes(kp_b if kp_b is not None else _npz_bytes(kp))
        (root / "cameras.json").write_bytes(cam_b if cam_b is not None else json.dumps(cams).encode())
        return root

    def argv(root: Path) -> list[str]:
        return ["evaluate", "--checkpoint", str(he_ckpt), "--dataset", "humaneva", "--data-dir", str(root),
                "--subjects-test", "S1", "--no-flip", "--json"]

    assert main(argv(folder("good"))) == 0
    capfd.readouterr()
    cases = []
    for label, data, must_fail in npz_mutations(pos, rng):
        cases.append(Case(f"pos:{label}", argv(folder(label, pos_b=data)), "positions_3d.npz", must_fail))
    for label, data, must_fail in npz_mutations(kp, rng, keys=["Validate/S1/Walk 1/C1"]):
        cases.append(Case(f"kp:{label}", argv(folder(label, kp_b=data)), "keypoints_2d_gt.npz", must_fail))
    cases.append(Case("kp:bad-key", argv(folder("badkey", pos_b=_npz_bytes({"S1": pos["Validate/S1/Walk 1"]}))), "positions_3d.npz"))
    for label, data, must_fail in json_mutations(cams, rng, max_cases=40):
        cases.append(Case(f"cams:{label}", argv(folder(label, cam_b=data)), "cameras.json", must_fail))
    run_cases("humaneva folder (evaluate --dataset humaneva)", cases, capfd)


# ====================================================================== cameras.json
def test_fuzz_cameras_json(work, ckpt, capfd):
    rng = np.random.default_rng(SEED + 3)
    names = Namer(work / "cameras")
    doc = cameras_doc()
    variants = json_mutations(doc, rng, max_cases=150)
    variants += [(f"bytes:{l}", d, f) for l, d, f in byte_mutations(json.dumps(doc).encode(), rng, 12, binary=False)]
    variants += [
        ("rotation-not-orthonormal", json.dumps(_replace(doc, ("extrinsics", "S9", H36M_CAMERAS[0], "R_world_to_cam"), [[2, 0, 0], [0, 1, 0], [0, 0, 1]])).encode(), True),
        ("rotation-ragged", json.dumps(_replace(doc, ("extrinsics", "S9", H36M_CAMERAS[0], "R_world_to_cam"), [[1, 0], [0, 1, 0], [0]])).encode(), True),
        ("center-nan", json.dumps(_replace(doc, ("extrinsics", "S9", H36M_CAMERAS[0], "center_m"), [float("nan"), 0, 0])).encode(), True),
        ("resolution-zero", json.dumps(_replace(doc, ("intrinsics", H36M_CAMERAS[0], "res_w"), 0)).encode(), True),
        ("resolution-fraction", json.dumps(_replace(doc, ("intrinsics", H36M_CAMERAS[0], "res_w"), 999.5)).encode(), True),
        ("resolution-string", json.dumps(_replace(doc, ("intrinsics", H36M_CAMERAS[0], "res_w"), "1000")).encode(), True),
        ("subject-missing", json.dumps(_replace(doc, ("extrinsics", "S9"), None, delete=True)).encode(), True),
    ]
    cases = []
    for label, data, must_fail in variants:
        folder = h36m_folder(names(label, ""), cameras=data)
        cases.append(Case(f"info:{label}", ["data", "info", str(folder)], "cameras.json", must_fail))
        cases.append(Case(f"eval:{label}", ["evaluate", "--checkpoint", str(ckpt), "--dataset", "h36m", "--data-dir",
                                            str(folder), "--no-flip", "--json"], "cameras.json", must_fail))
    tally = run_cases("cameras.json (data info, evaluate)", cases, capfd, info=True)
    assert tally["rejected"] > 100


# ==================================================================== keypoint files
def _infer_case(label: str, src: Path, ckpt: Path, out: Path, must_fail: bool, name: str | None = None, extra=()) -> Case:
    argv = ["infer", str(src), "--out", str(out), "--checkpoint", str(ckpt), "--no-progress", *extra]
    return Case(label, argv, name or src.name, must_fail, out_dir=out)


def coco_docs() -> tuple[list, dict]:
    pts = coco_like()
    anns = [{"image_id": t, "keypoints": np.concatenate([pts[t], np.full((17, 1), 0.9)], -1).reshape(-1).round(2).tolist(),
             "score": 0.98} for t in range(pts.shape[0])]
    images = [{"id": t, "file_name": f"frame_{t:04d}.jpg", "width": 320, "height": 240} for t in range(pts.shape[0])]
    return anns, {"images": images, "annotations": anns}


GEOMETRY = ("--width", "320", "--height", "240", "--fps", "25")


def test_fuzz_coco_json(work, ckpt, capfd):
    rng = np.random.default_rng(SEED + 4)
    names = Namer(work / "coco")
    anns, coco_file = coco_docs()
    cases = []
    for doc, tag, extra in ((anns[:6], "list", GEOMETRY), (dict(coco_file, images=coco_file["images"][:6], annotations=anns[:6]), "file", ("--fps", "25"))):
        variants = json_mutations(doc, rng, max_cases=120)
        variants += [(f"bytes:{l}", d, f) for l, d, f in byte_mutations(json.dumps(doc).encode(), rng, 12, binary=False)]
        variants += [
            ("ids-sparse-huge", json.dumps([dict(a, image_id=i * 10**9) for i, a in enumerate(anns[:3])]).encode(), True),
            ("ids-unhashable", json.dumps([dict(a, image_id=[1, 2]) for a in anns[:3]]).encode(), True),
            ("keypoints-inf", json.dumps([dict(a, keypoints=[float("inf")] * 51) for a in anns[:3]]).encode(), True),
            ("keypoints-nan", json.dumps([dict(a, keypoints=[float("nan")] * 51) for a in anns[:3]]).encode(), True),
            ("keypoints-huge", json.dumps([dict(a, keypoints=[1e300, 1e300, 1.0] * 17) for a in anns[:3]]).encode(), False),
            ("keypoints-16-joints", json.dumps([dict(a, keypoints=a["keypoints"][:48]) for a in anns[:3]]).encode(), True),
        ]
        for label, data, must_fail in variants:
            src = names(f"{tag}-{label}", ".json")
            src.write_bytes(data)
            cases.append(_infer_case(f"{tag}:{label}", src, ckpt, names("out", ""), must_fail, extra=extra))
    run_cases("keypoints coco-json (infer)", cases, capfd)


def test_fuzz_openpose_folder(work, ckpt, capfd):
    rng = np.random.default_rng(SEED + 5)
    names = Namer(work / "openpose")
    pts = coco_like(8)
    frames = []
    for t in range(8):
        flat = np.zeros((25, 3))
        flat[[0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11], :2] = pts[t]
        flat[[0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11], 2] = 0.8
        frames.append({"version": 1.3, "people": [{"pose_keypoints_2d": flat.round(2).reshape(-1).tolist()}]})

    def folder(label: str, replaced: bytes | None, index: int = 3) -> Path:
        root = names(label, "")
        root.mkdir()
        for t, doc in enumerate(frames):
            data = replaced if (t == index and replaced is not None) else json.dumps(doc).encode()
            (root / f"clip_{t:012d}_keypoints.json").write_bytes(data)
        return root

    cases = []
    variants = json_mutations(frames[3], rng, max_cases=80)
    variants += [(f"bytes:{l}", d, f) for l, d, f in byte_mutations(json.dumps(frames[3]).encode(), rng, 8, binary=False)]
    for label, data, must_fail in variants:
        root = folder(label, data)
        cases.append(_infer_case(label, root, ckpt, names("out", ""), must_fail, name="clip_000000000003_keypoints.json", extra=GEOMETRY))
    empty = names("empty-folder", "")
    empty.mkdir()
    cases.append(_infer_case("empty-folder", empty, ckpt, names("out", ""), True, extra=GEOMETRY))
    junk = names("only-junk", "")
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    cases.append(_infer_case("only-junk", junk, ckpt, names("out", ""), True, extra=GEOMETRY))
    nobody = folder("nobody", json.dumps({"people": []}).encode())
    for t in range(8):
        (nobody / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"people": []}))
    cases.append(_infer_case("nobody", nobody, ckpt, names("out", ""), True, extra=GEOMETRY))
    run_cases("keypoints openpose folder (infer)", cases, capfd)


def keypoint_npz_arrays() -> dict[str, np.ndarray]:
    return {"keypoints_2d": coco_like(), "confidence": np.full((40, 17), 0.9, np.float32), "fps": np.array(25.0),
            "width": np.array(320), "height": np.array(240), "layout": np.array("coco17")}


def test_fuzz_keypoint_npz(work, ckpt, capfd):
    rng = np.random.default_rng(SEED + 6)
    names = Namer(work / "kpnpz")
    arrays = keypoint_npz_arrays()
    variants = npz_mutations(arrays, rng, keys=["keypoints_2d", "confidence"])
    variants += [(f"bytes:{l}", d, f) for l, d, f in byte_mutations(_npz_bytes(arrays), rng, 24, binary=True)]
    for key, values in {
        "fps": [0.0, -25.0, np.inf, np.nan, 1e-300, 1e300, "abc", [25.0, 30.0], True],
        "width": [0, -1, 10**12, np.nan, np.inf, "wide", 1.5, [320, 240]],
        "height": [0, -240, np.inf, "tall"],
        "layout": ["nonsense", "h36m32", "mpii16", 17, ""],
    }.items():
        for value in values:
            variants.append((f"{key}={value!r:.20}", _npz_bytes({**arrays, key: np.asarray(value)}), False))
    cases = []
    for label, data, must_fail in variants:
        src = names(label, ".npz")
        src.write_bytes(data)
        cases.append(_infer_case(label, src, ckpt, names("out", ""), must_fail))
    run_cases("keypoints npz (infer)", cases, capfd)


def test_fuzz_keypoint_csv(work, ckpt, capfd):
    rng = np.random.default_rng(SEED + 7)
    names = Namer(work / "csv")
    from poselift.geometry.skeleton import COCO_17

    pts = coco_like(12)
    lines = ["frame,joint,x,y,confidence"] + [
        f"{t},{n},{pts[t, j, 0]:.2f},{pts[t, j, 1]:.2f},0.9" for t in range(12) for j, n in enumerate(COCO_17.joint_names)
    ]
    good = "\n".join(lines) + "\n"

    def edit(row: int, col: int, value: str) -> bytes:
        rows = [line.split(",") for line in lines]
        rows[row][col] = value
        return ("\n".join(",".join(r) for r in rows) + "\n").encode()

    variants = byte_mutations(good.encode(), rng, 24, binary=False)
    for col, name in enumerate(["frame", "joint", "x", "y", "confidence"]):
        for value in ["", "nan", "inf", "-inf", "1e400", "abc", "-1", "1.5", "99999999999999", "0x10", "1" * 5000, '"1,2"']:
            variants.append((f"{name}={value[:12]}", edit(5, col, value), False))
    variants += [
        ("header-missing", "\n".join(lines[1:]).encode(), True),
        ("header-only", b"frame,joint,x,y,confidence\n", True),
        ("header-wrong", good.replace("frame,joint", "time,name", 1).encode(), True),
        ("extra-columns", good.replace("\n", ",extra,more\n").encode(), False),
        ("semicolons", good.replace(",", ";").encode(), True),
        ("nul-bytes", good.replace("0.9", "0\x009", 3).encode(), True),
        ("huge-field", (lines[0] + "\n0,nose," + "1" * 200_000 + ",1,1\n").encode(), True),
        ("invalid-utf8", good.encode().replace(b"nose", b"n\xffse"), True),
        ("utf16", good.encode("utf-16"), True),
        ("joint-index-out-of-range", good.replace(",nose,", ",40,", 1).encode(), True),
        ("joint-unknown", good.replace(",nose,", ",antenna,", 1).encode(), True),
        ("frames-sparse-huge", (lines[0] + "\n" + "\n".join(f"{t * 10**12},nose,1,1,1" for t in range(3)) + "\n").encode(), True),
        ("all-nan", "\n".join([lines[0]] + [f"{t},nose,nan,nan,1" for t in range(12)]).encode(), True),
        ("crlf", good.replace("\n", "\r\n").encode(), False),
        ("quoted-newline", (lines[0] + '\n0,"no\nse",1,1,1\n').encode(), True),
    ]
    cases = []
    for label, data, must_fail in variants:
        src = names(label, ".csv")
        src.write_bytes(data)
        cases.append(_infer_case(label, src, ckpt, names("out", ""), must_fail, extra=GEOMETRY))
    run_cases("keypoints csv (infer)", cases, capfd)


# ============================================================================ videos
def _video_bytes(path: Path, frames: int = 6, size=(64, 48), fourcc: str = "mp4v") -> bytes:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, size)
    for t in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * t % 255, np.uint8))
    writer.release()
    return path.read_bytes()


def video_cases(work: Path, ckpt: Path, rng: np.random.Generator, n_random: int, decodable: int) -> list[Case]:
    """Corrupt videos. Variants that still decode run the MediaPipe detector (about
    0.5 s each; a blank clip ends with 'no person detected'), so ``decodable`` limits
    how many byte mutations are kept."""
    names = Namer(work)
    good = _video_bytes(work / "good.mp4")
    variants = byte_mutations(good, rng, n_random, binary=False)
    cases = []
    kept_decodable = 0
    import cv2

    for label, data, must_fail in variants:
        src = names(label, ".mp4")
        src.write_bytes(data)
        cap = cv2.VideoCapture(str(src))
        decodes = cap.isOpened() and cap.read()[0]
        cap.release()
        if decodes:
            kept_decodable += 1
            if kept_decodable > decodable:
                src.unlink()
                continue
        cases.append(_infer_case(label, src, ckpt, names("out", ""), must_fail))
    for suffix in (".avi", ".mov", ".gif", ".mkv", ".webm", ".txt"):
        src = names(f"random{suffix}", suffix)
        src.write_bytes(rng.bytes(4096))
        cases.append(_infer_case(f"random{suffix}", src, ckpt, names("out", ""), True))
    folder = names("folder", ".mp4")
    folder.mkdir()
    cases.append(_infer_case("folder-named-mp4", folder, ckpt, names("out", ""), True))
    no_moov = good.replace(b"moov", b"free")
    src = names("moov-removed", ".mp4")
    src.write_bytes(no_moov)
    cases.append(_infer_case("moov-removed", src, ckpt, names("out", ""), True))
    # fps: a container that says 0 frames/s is handled through --fps; absurd --fps values are refused
    src = names("fps-tiny", ".mp4")
    src.write_bytes(good)
    cases.append(_infer_case("fps-tiny", src, ckpt, names("out", ""), True, extra=("--fps", "1e-300")))
    return cases


def test_fuzz_video_files(work, ckpt, capfd):
    cases = video_cases(work / "video", ckpt, np.random.default_rng(SEED + 8), n_random=12, decodable=3)
    run_cases("video files (infer)", cases, capfd)


# ======================================================================= checkpoints
def _payload_and_meta(ckpt: Path) -> tuple[dict, dict]:
    obj = torch.load(ckpt, weights_only=True)
    meta = json.loads(obj.pop("metadata_json"))
    obj.pop("format"), obj.pop("version")
    meta.pop("payload_sha256", None)
    return obj, meta


def checkpoint_variants(ckpt: Path, rng: np.random.Generator, n_random: int) -> list[tuple[str, Callable[[Path], None], bool]]:
    """(label, writer(path), must_fail) for corrupt poselift checkpoints."""
    payload, meta = _payload_and_meta(ckpt)
    good = ckpt.read_bytes()
    out: list[tuple[str, Callable[[Path], None], bool]] = []

    def raw(data: bytes):
        return lambda p: p.write_bytes(data)

    def saved(new_payload: dict, new_meta: dict):  # through save_checkpoint: a valid checksum
        return lambda p: save_checkpoint(p, new_payload, new_meta)

    def torch_saved(obj: Any):  # a plain torch.save: no checksum
        return lambda p: torch.save(obj, p)

    for label, data, must_fail in byte_mutations(good, rng, n_random, binary=True):
        out.append((f"bytes:{label}", raw(data), must_fail))

    pos = payload["model_pos"]
    w = "expand_conv.weight"

    def with_pos(**changes):
        state = dict(pos)
        for k, v in changes.items():
            if v is None:
                state.pop(k.replace("__", "."), None)
            else:
                state[k.replace("__", ".")] = v
        return {**payload, "model_pos": state}

    def meta_with(path: tuple, value: Any, delete: bool = False) -> dict:
        return _replace(meta, path, value, delete)

    tensor_cases = {
        "weights-int": with_pos(expand_conv__weight=pos[w].to(torch.int32)),
        "weights-bool": with_pos(expand_conv__weight=pos[w] > 0),
        "weights-complex": with_pos(expand_conv__weight=pos[w].to(torch.complex64)),
        "weights-nan": with_pos(expand_conv__weight=torch.full_like(pos[w], float("nan"))),
        "weights-inf": with_pos(expand_conv__weight=torch.full_like(pos[w], float("inf"))),
        "weights-wrong-shape": with_pos(expand_conv__weight=pos[w][:, :, :2].contiguous()),
        "weights-scalar": with_pos(expand_conv__weight=torch.tensor(1.0)),
        "weights-missing": with_pos(expand_conv__weight=None),
        "weights-extra": with_pos(surprise=torch.zeros(3)),
        "bn-count-float": with_pos(expand_bn__num_batches_tracked=torch.tensor(1.5)),
        "model_pos-list": {**payload, "model_pos": [1, 2, 3]},
        "model_pos-tensor": {**payload, "model_pos": torch.zeros(3)},
        "model_pos-strings": {**payload, "model_pos": {k: "x" for k in pos}},
        "model_pos-missing": {k: v for k, v in payload.items() if k != "model_pos"},
        "model_traj-garbage": {**payload, "model_traj": {"a": torch.zeros(2)}},
        "model_traj-wrong-shapes": {**payload, "model_traj": pos},
    }
    for label, new_payload in tensor_cases.items():
        out.append((f"payload:{label}", saved(new_payload, meta), label not in ("weights-extra",)))
    meta_cases: dict[str, Any] = {}
    for name, value in BAD_JSON_VALUES:
        meta_cases[f"model={name}"] = meta_with(("model",), value)
        meta_cases[f"channels={name}"] = meta_with(("model", "channels"), value)
        meta_cases[f"filter_widths={name}"] = meta_with(("model", "filter_widths"), value)
        meta_cases[f"train={name}"] = meta_with(("train",), value)
        meta_cases[f"train.dataset={name}"] = meta_with(("train", "dataset"), value)
        meta_cases[f"train.seed={name}"] = meta_with(("train", "seed"), value)
        meta_cases[f"fps={name}"] = meta_with(("fps",), value)
        meta_cases[f"joints_in={name}"] = meta_with(("joints_in",), value)
        meta_cases[f"trajectory_model={name}"] = meta_with(("trajectory_model",), value)
    meta_cases.update({
        "channels-huge": meta_with(("model", "channels"), 10**9),
        "channels-astronomic": meta_with(("model", "channels"), 10**30),
        "widths-rf-huge": meta_with(("model", "filter_widths"), [3] * 40),
        "widths-even": meta_with(("model", "filter_widths"), [2, 2]),
        "widths-kernel-huge": meta_with(("model", "filter_widths"), [3, 999_999]),
        "joints-huge": meta_with(("model", "num_joints_in"), 10**8),
        "dropout-2": meta_with(("model", "dropout"), 2.0),
        "model-unknown-key": meta_with(("model", "surprise"), 1),
        "causal-string": meta_with(("model", "causal"), "yes"),
        "model-deleted": meta_with(("model",), None, delete=True),
    })
    for label, new_meta in meta_cases.items():
        benign = label.split("=")[0] in ("fps", "joints_in", "train.seed", "train", "train.dataset", "trajectory_model")
        out.append((f"meta:{label}", saved(payload, new_meta), not benign))

    full = {"format": "poselift-checkpoint", "version": 1, "metadata_json": json.dumps(meta), **payload}
    huge = dict(pos)
    huge[w] = torch.zeros(1).expand(10**11)  # stride 0: 4 bytes on disk, 400 GB when materialised
    bad_meta_json = dict(full)
    out += [
        ("torch:stride0-huge-tensor", torch_saved({**full, "model_pos": huge}), True),
        ("torch:stride0-huge-extra", torch_saved({**full, "extra": torch.zeros(1).expand(10**11)}), True),
        ("torch:metadata-int", torch_saved({**full, "metadata_json": 5}), True),
        ("torch:metadata-invalid", torch_saved({**full, "metadata_json": "{not json"}), True),
        ("torch:metadata-list", torch_saved({**full, "metadata_json": "[1, 2]"}), True),
        ("torch:metadata-deep", torch_saved({**full, "metadata_json": "[" * 100_000 + "]" * 100_000}), True),
        ("torch:metadata-missing", torch_saved({k: v for k, v in bad_meta_json.items() if k != "metadata_json"}), True),
        ("torch:format-wrong", torch_saved({**full, "format": "other"}), True),
        ("torch:not-a-dict", torch_saved([1, 2, 3]), True),
        ("torch:tensor-only", torch_saved(torch.zeros(3)), True),
        ("torch:original-videopose3d", torch_saved({"epoch": 3, "model_pos": pos}), True),
        ("torch:sparse-tensor", torch_saved({**full, "model_pos": {**pos, w: pos[w].reshape(pos[w].shape[0], -1).to_sparse()}}), True),
        ("torch:legacy-format-valid", lambda p: torch.save(full, p, _use_new_zipfile_serialization=False), False),
        ("npz-named-pt", raw(_npz_bytes({"a": np.zeros(3)})), True),
    ]

    def tampered(p: Path) -> None:  # a valid file whose weights changed after saving: checksum mismatch
        save_checkpoint(p, payload, meta)
        obj = torch.load(p, weights_only=True)
        obj["model_pos"][w] = obj["model_pos"][w] + 1e-3
        torch.save(obj, p)

    out.append(("checksum:tampered-weights", tampered, True))
    return out


def _checkpoint_cases(work: Path, ckpt: Path, rng, n_random: int, command: str) -> list[Case]:
    names = Namer(work / command)
    kp = work / "kp.npz"
    if not kp.exists():
        np.savez(kp, **keypoint_npz_arrays())
    cases = []
    for label, writer, must_fail in checkpoint_variants(ckpt, rng, n_random):
        path = names(label, ".pt")
        writer(path)
        if command == "infer":
            out = names("out", "")
            argv = ["infer", str(kp), "--out", str(out), "--checkpoint", str(path), "--no-progress"]
            cases.append(Case(label, argv, path.name, must_fail, out_dir=out))
        elif command == "evaluate":
            # evaluate does not read fps/joints_in (infer does); and a 'train' object without a
            # dataset means the default, Human3.6M in ../shared/data: a full evaluation where present
            if label.startswith(("meta:fps=", "meta:joints_in=")) or label in ("meta:train=object", "meta:train=object-junk"):
                path.unlink()
                continue
            argv = ["evaluate", "--checkpoint", str(path), "--no-flip", "--json"]
            cases.append(Case(label, argv, path.name, must_fail))
        else:
            out = names("exported", ".pt")
            cases.append(Case(label, ["export-weights", str(path), str(out)], path.name, must_fail))
    return cases


@pytest.mark.parametrize("command, n_random", [("infer", 16), ("evaluate", 4), ("export-weights", 16)])
def test_fuzz_checkpoints(work, ckpt, capfd, command, n_random):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cases = _checkpoint_cases(work, ckpt, np.random.default_rng(SEED + 9), n_random, command)
    run_cases(f"checkpoint ({command})", cases, capfd)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1024, f"peak memory grew by {grown_mb:.0f} MB while reading corrupt checkpoints"


def original_checkpoint_variants(rng: np.random.Generator, n_random: int, work: Path) -> list[tuple[str, Callable[[Path], None], bool]]:
    torch.manual_seed(1)
    sd = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()
    good = {"epoch": 3, "lr": 1e-4, "model_pos": sd, "model_traj": TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8, num_joints_out=1)).state_dict()}
    path = work / "orig-good.bin"
    torch.save(good, path)
    out: list[tuple[str, Callable[[Path], None], bool]] = []
    for label, data, must_fail in byte_mutations(path.read_bytes(), rng, n_random, binary=True):
        out.append((f"bytes:{label}", (lambda d: lambda p: p.write_bytes(d))(data), must_fail))

    def saved(obj):
        return lambda p: torch.save(obj, p)

    w = "layers_conv.0.weight"
    variants = {
        "model_pos-list": {**good, "model_pos": [1, 2]},
        "model_pos-empty": {**good, "model_pos": {}},
        "expand-2d": {**good, "model_pos": {**sd, "expand_conv.weight": sd["expand_conv.weight"][:, :, 0]}},
        "expand-not-tensor": {**good, "model_pos": {**sd, "expand_conv.weight": [1.0]}},
        "shrink-odd": {**good, "model_pos": {**sd, "shrink.weight": sd["shrink.weight"][:-1]}},
        "kernel-huge": {**good, "model_pos": {**sd, w: torch.zeros(8, 8, 999_999)[:, :1].contiguous().expand(8, 8, 999_999)}},
        "kernel-huge-rf": {**good, "model_pos": {**sd, w: torch.zeros(1, 1, 1).expand(8, 8, 99_999)}},
        "kernel-mismatch": {**good, "model_pos": {**sd, w: torch.zeros(8, 8, 5)}},
        "weights-nan": {**good, "model_pos": {**sd, w: torch.full_like(sd[w], float("nan"))}},
        "weights-int": {**good, "model_pos": {**sd, w: sd[w].to(torch.int64)}},
        "stride0-huge": {**good, "model_pos": {**sd, "expand_conv.weight": torch.zeros(1).expand(10**6, 34, 3)}},
        "traj-mismatch": {**good, "model_traj": {**good["model_traj"], "shrink.weight": torch.zeros(5, 8, 1)}},
        "traj-list": {**good, "model_traj": [1]},
        "numpy-random-state": {**good, "random_state": ("MT19937", np.arange(624, dtype=np.uint32), 624, 0, 0.0)},
        "not-a-dict": [1, 2, 3],
    }
    for label, obj in variants.items():
        # kernel-mismatch is a consistent model with another kernel width: valid
        out.append((f"torch:{label}", saved(obj), label not in ("traj-list", "numpy-random-state", "kernel-mismatch")))
    return out


def test_fuzz_import_checkpoint(work, capfd):
    names = Namer(work / "import")
    cases = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for label, writer, must_fail in original_checkpoint_variants(np.random.default_rng(SEED + 10), 16, work):
        src = names(label, ".bin")
        writer(src)
        cases.append(Case(label, ["import-checkpoint", str(src), str(names("out", ".pt")), "--no-causal"], src.name, must_fail))
    run_cases("original checkpoint (import-checkpoint)", cases, capfd)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1024, f"peak memory grew by {grown_mb:.0f} MB while importing corrupt checkpoints"


def test_fuzz_huge_headers_do_not_allocate(work, ckpt, capfd):
    """Headers claiming enormous arrays are refused before allocation (numpy's own
    allocations are traced by tracemalloc)."""
    import tracemalloc

    names = Namer(work / "huge")
    arrays = keypoint_npz_arrays()
    cases = []
    for label, member in array_variants(arrays["keypoints_2d"], np.random.default_rng(SEED)):
        if label.startswith("header-huge") or label == "header-overflow":
            src = names(label, ".npz")
            write_zip(src, {**npz_members(arrays), "keypoints_2d.npy": member})
            cases.append(_infer_case(label, src, ckpt, names("out", ""), True))
            path = names(label, ".npz")
            write_zip(path, {**npz_members(h36m_arrays()), "S9/Walking 1.npy": member})
            cases.append(Case(f"info:{label}", ["data", "info", str(path)], path.name, True))
    tracemalloc.start()
    try:
        run_cases("huge headers", cases, capfd)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20, f"peak traced allocation {peak / 2**20:.0f} MB"


# ====================================================================== large sweep
@pytest.mark.slow
def test_fuzz_sweep(work, ckpt, capfd):
    """Many more random byte mutations for every binary reader (minutes)."""
    rng = np.random.default_rng(SEED + 100)
    info, evaluate = dataset_cases(work / "sweep-dataset", ckpt, rng, n_random=300)
    run_cases("sweep: dataset npz (data info)", info, capfd, info=True)
    run_cases("sweep: dataset npz (evaluate)", evaluate[::3], capfd)
    names = Namer(work / "sweep-kp")
    cases = []
    for label, data, must_fail in byte_mutations(_npz_bytes(keypoint_npz_arrays()), rng, 300, binary=True):
        src = names(label, ".npz")
        src.write_bytes(data)
        cases.append(_infer_case(label, src, ckpt, names("out", ""), must_fail))
    run_cases("sweep: keypoints npz (infer)", cases, capfd)
    for command in ("infer", "export-weights"):
        run_cases(f"sweep: checkpoint ({command})", _checkpoint_cases(work / "sweep", ckpt, rng, 300, command), capfd)
    run_cases("sweep: video files (infer)", video_cases(work / "sweep-video", ckpt, rng, 60, decodable=15), capfd)
