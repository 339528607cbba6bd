"""Reliability and security: no code execution from files, checkpoint checksums,
crash safety of training (SIGKILL at random times, resume, bitwise-equal result),
output safety of ``infer``/``export-weights``, long inputs in bounded memory, and
seeded reproducibility. Figures: docs/reliability.md."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, console_script, run  # noqa: E402  shared CLI helpers
from test_pipeline import FakeDetector, _save_lifter, draw_video, write_npz_input  # noqa: E402

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.models.checkpoint import (
    CHECKSUM_KEY,
    payload_checksum,
    read_checkpoint,
    save_checkpoint,
)
from poselift.models.lifter import load_model
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.pipeline.infer import run_infer


class Evil:
    """Unpickling this object runs code: it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


# ================================================================= 2. no code execution
def _evil_npz(path: Path, marker: Path, key: str = "positions_3d") -> Path:
    np.savez(path, **{key: np.array([Evil(marker)], dtype=object)})
    return path


def test_malicious_pickles_are_never_executed(tmp_path, capsys, ckpt):
    """Every reader refuses pickled content with one clear error (exit 2) and runs
    nothing; the payloads are live (a plain unpickle would run them)."""
    marker = tmp_path / "pwned"
    raw_pickle = tmp_path / "raw.npz"
    raw_pickle.write_bytes(pickle.dumps({"positions_3d": Evil(marker)}))
    evil_dataset = _evil_npz(tmp_path / "data_3d_h36m.npz", marker)
    evil_keypoints = _evil_npz(tmp_path / "keypoints.npz", marker, key="keypoints_2d")
    folder = tmp_path / "h36m"
    folder.mkdir()
    _evil_npz(folder / "positions_3d.npz", marker)
    from test_cli import cameras_json

    cameras_json(folder / "cameras.json")
    evil_pt = tmp_path / "evil.pt"
    sd = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()
    torch.save({"format": "poselift-checkpoint", "version": 1, "metadata_json": "{}", "model_pos": sd, "x": Evil(marker)}, evil_pt)
    evil_orig = tmp_path / "evil.bin"
    torch.save({"epoch": 1, "model_pos": sd, "optimizer": Evil(marker)}, evil_orig)

    cases = [
        (["data", "info", raw_pickle], raw_pickle, "pickle"),
        (["data", "info", evil_dataset], evil_dataset, "--allow-pickle"),
        (["data", "info", folder], folder / "positions_3d.npz", "--allow-pickle"),
        (["data", "convert", evil_dataset, tmp_path / "out.npz"], evil_dataset, "--allow-pickle"),
        (["data", "convert", raw_pickle, tmp_path / "out.npz"], raw_pickle, "pickle"),
        (["infer", evil_keypoints, "--out", tmp_path / "o1", "--checkpoint", ckpt], evil_keypoints, "pickled"),
        (["infer", raw_pickle, "--out", tmp_path / "o2", "--checkpoint", ckpt], raw_pickle, "pickle"),
        (["evaluate", "--checkpoint", ckpt, "--dataset", "h36m", "--data-dir", folder], folder / "positions_3d.npz", "pickled"),
        (["evaluate", "--checkpoint", evil_pt], evil_pt, "could run code"),
        (["infer", write_npz_input(tmp_path / "kp.npz"), "--out", tmp_path / "o3", "--checkpoint", evil_pt], evil_pt, "could run code"),
        (["export-weights", evil_pt, tmp_path / "w.pt"], evil_pt, "could run code"),
        (["import-checkpoint", evil_orig, tmp_path / "i.pt", "--no-causal"], evil_orig, "could run code"),
        (["import-checkpoint", evil_pt, tmp_path / "i.pt", "--no-causal"], evil_pt, "could run code"),
    ]
    for argv, named, needle in cases:
        rc, _, err = run(argv, capsys)
        assert_one_line_error(rc, err, named, needle)
        assert not marker.exists(), f"{argv}: code was executed"
    for out in ("out.npz", "o1", "o2", "o3", "w.pt", "i.pt"):
        assert not (tmp_path / out).exists() or not any((tmp_path / out).iterdir())
    # the payloads are live: unpickling them really runs code
    pickle.loads(raw_pickle.read_bytes())
    assert marker.exists()
    marker.unlink()
    with np.load(evil_keypoints, allow_pickle=True) as f:
        f["keypoints_2d"]
    assert marker.exists()
    marker.unlink()
    torch.load(evil_pt, weights_only=False)
    assert marker.exists()


def test_allow_pickle_opt_in_prints_a_warning(tmp_path):
    """``data convert --allow-pickle`` is the only pickle opt-in, and it warns."""
    src = tmp_path / "data_3d_h36m.npz"
    np.savez(src, positions_3d={"S1": {"Walking 1": np.zeros((4, 32, 3), np.float32)}})
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([*console_script(), "data", "convert", str(src), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "--allow-pickle" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([*console_script(), "data", "convert", str(src), str(tmp_path / "out.npz"), "--allow-pickle"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warning) == 1 and "--allow-pickle" in warning[0] and "trust" in warning[0]
    with np.load(tmp_path / "out.npz", allow_pickle=False) as f:  # the output is pickle-free
        assert f["S1/Walking 1"].shape == (4, 17, 3)


# ============================================================ 3. checkpoint checksums
def test_checkpoints_carry_a_verified_payload_checksum(tmp_path):
    cfg = ModelConfig(filter_widths=(3, 3), channels=8)
    torch.manual_seed(0)
    payload = {"model_pos": TemporalModel(cfg).state_dict(), "step": torch.tensor(3)}
    path = tmp_path / "c.pt"
    save_checkpoint(path, payload, {"model": cfg.to_dict()})
    obj, meta = read_checkpoint(path)
    assert meta[CHECKSUM_KEY] == payload_checksum(payload) and len(meta[CHECKSUM_KEY]) == 64
    assert meta["checksum_scheme"] == "tensors-v1"
    # deterministic: independent of dict insertion order, sensitive to any value, dtype or shape
    reordered = {"step": payload["step"], "model_pos": dict(reversed(list(payload["model_pos"].items())))}
    assert payload_checksum(reordered) == meta[CHECKSUM_KEY]
    w = payload["model_pos"]["expand_conv.weight"]
    for changed in (w + 1e-7, w.double(), w.reshape(w.shape[0], -1, 1)):
        other = {**payload, "model_pos": {**payload["model_pos"], "expand_conv.weight": changed}}
        assert payload_checksum(other) != meta[CHECKSUM_KEY]

    # a bit flip inside the tensor data: torch.load does not notice, the checksum does
    raw = bytearray(path.read_bytes())
    data = w.numpy().tobytes()
    at = bytes(raw).find(data[:64])
    assert at > 0
    raw[at + 10] ^= 0x10
    broken = tmp_path / "flipped.pt"
    broken.write_bytes(bytes(raw))
    torch.load(broken, weights_only=True)  # loads fine: zip CRCs are not checked
    with pytest.raises(PoseliftError) as exc:
        read_checkpoint(broken)
    assert str(exc.value) == f"checkpoint {broken} is corrupt (checksum mismatch): its weights differ from what was saved"


def test_checkpoints_without_checksum_still_load(tmp_path, capsys):
    # files written before checksums existed (e.g. the session-2 bundled model) keep loading:
    # an older-format file written without save_checkpoint
    cfg = ModelConfig(filter_widths=(3, 3), channels=8)
    old = tmp_path / "old.pt"
    torch.save({"format": "poselift-checkpoint", "version": 1, "metadata_json": json.dumps({"model": cfg.to_dict()}),
                "model_pos": TemporalModel(cfg).state_dict()}, old)
    assert load_model(old).config == cfg
    # export of an old checkpoint gains a checksum
    rc, _, err = run(["export-weights", old, tmp_path / "new.pt"], capsys)
    assert rc == 0, err
    assert CHECKSUM_KEY in read_checkpoint(tmp_path / "new.pt")[1]


def test_save_removes_temp_files_of_killed_writes(tmp_path):
    orphan = tmp_path / ".last.pt.k1ll3d.tmp"  # what a SIGKILL during atomic_write leaves
    orphan.write_bytes(b"half a checkpoint")
    os.utime(orphan, (time.time() - 60, time.time() - 60))
    unrelated = tmp_path / ".other.pt.abc.tmp"
    unrelated.write_bytes(b"x")
    os.utime(unrelated, (time.time() - 60, time.time() - 60))
    save_checkpoint(tmp_path / "last.pt", {"w": torch.zeros(3)}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.abc.tmp", "last.pt"]


def test_checksum_cost_is_small(tmp_path):
    """Hashing a 1024-channel RF-243 model (17 M parameters, 68 MB) stays well under a second."""
    cfg = ModelConfig(filter_widths=(3, 3, 3, 3, 3), channels=1024)
    state = TemporalModel(cfg).state_dict()
    t0 = time.perf_counter()
    payload_checksum({"model_pos": state})
    assert time.perf_counter() - t0 < 2.0


# ============================================================== 3. crash safety (kills)
TRAIN_ARGS = ["train", "--dataset", "synthetic", "--arc", "3,3", "--channels", "32", "--batch-size", "512", "--subset", "0.5",
              "--seed", "7", "--threads", "1", "--no-progress", "--validate-every", "0", "--lr-decay", "0.9"]


def _train_process(out: Path, epochs: int, resume: bool) -> subprocess.Popen:
    args = [*console_script(), *TRAIN_ARGS, "--epochs", str(epochs), "--out", str(out)] + (["--resume"] if resume else [])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _final_state(path: Path) -> dict:
    payload, meta = read_checkpoint(path)
    return {"model_pos": payload["model_pos"], "optimizer": payload["optimizer"], "rng_torch": payload["rng_torch"],
            "rng_data": payload["rng_data"], "epoch": meta["state"]["epoch"], "lr": meta["state"]["lr"]}


def _assert_same(a, b, where: str = "") -> None:
    if torch.is_tensor(a):
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _wait_for_checkpoint(proc: subprocess.Popen, path: Path, old: int | None, timeout: float) -> bool:
    """Wait until ``path`` is (re)written or the process exits; True if it was written."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end and proc.poll() is None:
        if _mtime(path) != old:
            return True
        time.sleep(0.005)
    return False


def kill_and_resume(tmp_path: Path, kills: int, epochs: int, seed: int) -> dict:
    """Train once uninterrupted, then again with ``kills`` SIGKILLs at random times,
    restarting after each (``--resume`` once ``last.pt`` exists, a fresh start before
    the first checkpoint). A fifth of the kills land at a random time after the start
    (mostly during start-up); the others a random 0-3 epochs after a checkpoint was
    written, i.e. mid-epoch or while the next checkpoint is being written. After each
    kill ``last.pt`` must read and verify (checksum). Returns figures."""
    t0 = time.perf_counter()
    ref = _train_process(tmp_path / "reference", epochs, resume=False)
    _wait_for_checkpoint(ref, tmp_path / "reference" / "last.pt", None, 600)
    t_first = time.perf_counter()
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err
    reference_s = time.perf_counter() - t0
    epoch_s = (time.perf_counter() - t_first) / max(epochs - 1, 1)
    rng = np.random.default_rng(seed)
    run_dir = tmp_path / "killed"
    last = run_dir / "last.pt"
    survived = before_first_checkpoint = 0
    epochs_seen: list[int] = []
    t_start = time.perf_counter()
    while survived < kills:
        proc = _train_process(run_dir, epochs, resume=last.exists())
        if survived == 0 or rng.random() < 0.2:  # the first kill lands before any checkpoint exists
            time.sleep(float(rng.uniform(0.05, 1.0)))
        elif _wait_for_checkpoint(proc, last, _mtime(last), 600):
            time.sleep(float(rng.uniform(0, 3 * epoch_s)))
        if proc.poll() is not None:  # finished before the kill: nothing more to interrupt
            err = proc.stderr.read()
            proc.stderr.close()
            assert proc.returncode == 0, err
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        survived += 1
        if last.exists():
            _, meta = read_checkpoint(last)  # never half-written: reads and verifies its checksum
            epochs_seen.append(meta["state"]["epoch"])
        else:
            before_first_checkpoint += 1
    assert epochs_seen == sorted(epochs_seen), "a checkpoint went backwards"
    proc = _train_process(run_dir, epochs, resume=last.exists())  # finish the run
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    _assert_same(_final_state(last), _final_state(tmp_path / "reference" / "last.pt"), "final")
    leftovers = sorted(p.name for p in run_dir.iterdir() if p.name != "last.pt")
    # a kill during a write can leave its temporary file (never last.pt itself); the next save removes it
    assert all(n.startswith(".last.pt.") and n.endswith(".tmp") for n in leftovers), leftovers
    return {"kills": survived, "before_first_checkpoint": before_first_checkpoint, "epochs_at_kills": epochs_seen,
            "epochs": epochs, "reference_s": round(reference_s, 1), "killed_runs_s": round(time.perf_counter() - t_start, 1),
            "temp_files_left": leftovers}


def _report(name: str, figures: dict) -> None:
    print(f"{name}: {figures}")
    report = os.environ.get("POSELIFT_RELIABILITY_REPORT")
    if report:
        old = json.loads(Path(report).read_text()) if Path(report).is_file() else {}
        old[name] = figures
        Path(report).write_text(json.dumps(old, indent=2))


def test_training_survives_random_kills(tmp_path):
    figures = kill_and_resume(tmp_path, kills=8, epochs=40, seed=1)
    _report("kills (default suite)", figures)
    assert figures["kills"] == 8


@pytest.mark.slow
def test_training_survives_many_random_kills(tmp_path):
    figures = kill_and_resume(tmp_path, kills=40, epochs=150, seed=2)
    _report("kills (slow)", figures)
    assert figures["kills"] == 40


# ================================================================== 4. output safety
def test_infer_refuses_to_overwrite_outputs(tmp_path, capsys, ckpt):
    src = write_npz_input(tmp_path / "kp.npz")
    out = tmp_path / "out"
    assert main(["infer", str(src), "--out", str(out), "--checkpoint", str(ckpt), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["poses.csv", "poses.json", "poses.npz"]
    capsys.readouterr()
    rc, _, err = run(["infer", src, "--out", out, "--checkpoint", ckpt, "--no-progress"], capsys)
    assert_one_line_error(rc, err, out / "poses.npz", "already exists", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # extra outputs are checked too: an existing poses.bvh blocks a --bvh run
    other = tmp_path / "other"
    other.mkdir()
    (other / "poses.bvh").write_text("mine")
    rc, _, err = run(["infer", src, "--out", other, "--checkpoint", ckpt, "--bvh", "--no-progress"], capsys)
    assert_one_line_error(rc, err, other / "poses.bvh", "--overwrite")
    assert sorted(p.name for p in other.iterdir()) == ["poses.bvh"]
    # --overwrite replaces them
    rc, _, err = run(["infer", src, "--out", out, "--checkpoint", ckpt, "--no-progress", "--overwrite", "--no-flip"], capsys)
    assert rc == 0, err
    assert (out / "poses.npz").read_bytes() != before["poses.npz"]
    # a folder where an output file should go is never replaced
    (tmp_path / "dirs" / "poses.npz").mkdir(parents=True)
    rc, _, err = run(["infer", src, "--out", tmp_path / "dirs", "--checkpoint", ckpt, "--overwrite"], capsys)
    assert_one_line_error(rc, err, tmp_path / "dirs" / "poses.npz", "not a file")


class FailingDetector:
    """Consumes ``after`` frames, then fails like a detector crash."""

    layout = "coco17"

    def __init__(self, after: int) -> None:
        self.after = after

    def detect(self, frames, info, progress=True):
        for i, _ in enumerate(frames):
            if i == self.after:
                raise PoseliftError("detector failed at frame 5")
        raise AssertionError("unreachable")


def test_failed_runs_leave_nothing_behind(tmp_path, capsys, ckpt, monkeypatch):
    video = draw_video(tmp_path / "walk.mp4", figure=True)
    # detection fails halfway: no output folder is created at all
    out = tmp_path / "new" / "out"
    with pytest.raises(PoseliftError, match="frame 5"):
        run_infer(video, out, ckpt, detector=FailingDetector(5), progress=False)
    assert not (tmp_path / "new").exists()
    # through the CLI (the detector is looked up by name)
    import poselift.pipeline.infer

    monkeypatch.setattr(poselift.pipeline.infer, "get_people_detector", lambda name: FailingDetector(5))
    rc, _, err = run(["infer", video, "--out", out, "--checkpoint", ckpt, "--no-progress"], capsys)
    assert_one_line_error(rc, err, "frame 5")
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()

    # a failure while writing (the renderer dies after writing part of its file) with
    # --overwrite: the earlier outputs stay as they were, nothing partial appears
    done = tmp_path / "done"
    run_infer(video, done, ckpt, detector=FakeDetector(), progress=False)
    before = {p.name: p.read_bytes() for p in done.iterdir()}
    def broken_render(path, *a, **k):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(poselift.pipeline.infer, "render_video", broken_render)
    with pytest.raises(OSError):
        run_infer(video, done, ckpt, detector=FakeDetector(), render=True, overwrite=True, progress=False)
    assert {p.name: p.read_bytes() for p in done.iterdir()} == before
    # the CLI reports it as one line, exit 2
    monkeypatch.setattr(poselift.pipeline.infer, "get_people_detector", lambda name: FakeDetector())
    rc, _, err = run(["infer", video, "--out", done, "--checkpoint", ckpt, "--render", "--overwrite", "--no-progress"], capsys)
    assert_one_line_error(rc, err, "No space left on device", "no outputs were written")
    assert {p.name: p.read_bytes() for p in done.iterdir()} == before


def test_outputs_are_replaced_all_or_nothing(tmp_path, ckpt, monkeypatch):
    """A failure in the middle of moving the new files into place restores the old ones."""
    import poselift.io.staging as staging
    import poselift.pipeline.infer as pipeline

    src = write_npz_input(tmp_path / "kp.npz")
    out = tmp_path / "out"
    pipeline.run_infer(src, out, ckpt, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_replace = os.replace
    calls = []

    def flaky_replace(a, b):
        if Path(b).parent == out:
            calls.append(Path(b).name)
            if len(calls) == 2:
                raise OSError(5, "Input/output error")
        return real_replace(a, b)

    monkeypatch.setattr(staging.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="Input/output"):
        pipeline.run_infer(src, out, ckpt, progress=False, overwrite=True, flip=False)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_export_weights_refuses_to_overwrite(tmp_path, capsys, ckpt):
    dst = tmp_path / "w.pt"
    assert run(["export-weights", ckpt, dst], capsys)[0] == 0
    before = dst.read_bytes()
    rc, _, err = run(["export-weights", ckpt, dst], capsys)
    assert_one_line_error(rc, err, dst, "already exists", "--overwrite")
    assert dst.read_bytes() == before
    assert run(["export-weights", ckpt, dst, "--fp32", "--overwrite"], capsys)[0] == 0
    assert dst.read_bytes() != before
    rc, _, err = run(["export-weights", dst, dst, "--overwrite"], capsys)
    assert_one_line_error(rc, err, "overwrite its input")
    # import-checkpoint follows the same rule
    orig = tmp_path / "orig.bin"
    torch.save({"model_pos": TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()}, orig)
    rc, _, err = run(["import-checkpoint", orig, dst, "--no-causal"], capsys)
    assert_one_line_error(rc, err, dst, "--overwrite")
    assert run(["import-checkpoint", orig, dst, "--no-causal", "--overwrite"], capsys)[0] == 0


# ==================================================================== 6. long inputs
@pytest.mark.parametrize("causal", [False, True])
def test_chunked_lifting_equals_one_shot(tmp_path, causal):
    """pipeline.lift in small chunks (with resampling 30 → 50 frames/s, flip TTA and
    the trajectory model) equals one pass over the whole sequence."""
    from poselift.pipeline.infer import lift

    lifter = load_model(_save_lifter(tmp_path / "m.pt", causal=causal))
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(0, 0.01, (2000, 17, 2)), axis=0).astype(np.float32)
    one_joints, one_traj = lift(lifter, x, 30.0, chunk_frames=10**9)
    assert one_joints.shape == (2000, 17, 3)
    for chunk in (7, 37, 1000):
        joints, traj = lift(lifter, x, 30.0, chunk_frames=chunk)
        np.testing.assert_allclose(joints, one_joints, atol=1e-5, rtol=0, err_msg=f"chunk {chunk}")
        np.testing.assert_allclose(traj, one_traj, atol=1e-5, rtol=0, err_msg=f"chunk {chunk}")


def test_chunked_lifting_with_the_bundled_model():
    from poselift.pipeline.infer import lift

    lifter = load_model()
    rng = np.random.default_rng(4)
    x = (np.cumsum(rng.normal(0, 0.005, (2000, 17, 2)), axis=0) * 0.2).astype(np.float32)
    one = lift(lifter, x, 25.0, chunk_frames=10**9)
    small = lift(lifter, x, 25.0, chunk_frames=100)
    np.testing.assert_allclose(small[0], one[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(small[1], one[1], atol=1e-5, rtol=0)


ONE_HOUR_SCRIPT = """
import json, sys, time
import numpy as np
from poselift.cli import main
T = 108_000
rng = np.random.default_rng(0)
base = np.array([(160, 60), (165, 55), (155, 55), (170, 58), (150, 58), (180, 85), (140, 85), (188, 115), (132, 115),
                 (192, 145), (128, 145), (172, 145), (148, 145), (175, 185), (145, 185), (177, 225), (143, 225)], np.float32)
t = np.arange(T, dtype=np.float32)[:, None, None]
seq = base[None] * 3 + np.concatenate([200 * np.sin(t / 300), 20 * np.cos(t / 50)], -1) + rng.normal(0, 2, (T, 17, 2))
np.savez(sys.argv[1], keypoints_2d=seq.astype(np.float32), fps=30.0, width=1280, height=720, layout="coco17")
del seq, t

def peak_mb():  # VmHWM: this process's RSS high-water mark (ru_maxrss would include the parent's before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


import poselift.models.lifter, poselift.pipeline.infer  # noqa: E401 - imports (torch) before the baseline
baseline = peak_mb()
t0 = time.perf_counter()
rc = main(["infer", sys.argv[1], "--out", sys.argv[2], "--no-progress"])
print(json.dumps({"rc": rc, "frames": T, "wall_s": round(time.perf_counter() - t0, 1), "baseline_rss_mb": round(baseline),
                  "peak_rss_mb": round(peak_mb())}))
"""


@pytest.mark.slow
def test_one_hour_input_in_bounded_memory(tmp_path):
    """A 1-hour 30 frames/s keypoint file (108,000 frames) through `poselift infer`
    with the bundled model: peak RSS of the whole process stays under 1 GB."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", ONE_HOUR_SCRIPT, str(tmp_path / "long.npz"), str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    _report("one-hour input", figures)
    assert figures["rc"] == 0
    with np.load(tmp_path / "out" / "poses.npz") as z:
        assert z["joints_3d"].shape == (108_000, 17, 3) and np.isfinite(z["joints_3d"]).all()
    assert figures["peak_rss_mb"] < 1024, figures


# ================================================================= 7. reproducibility
def test_seeded_training_is_bitwise_repeatable_and_recorded(tmp_path, capsys):
    args = [a for a in TRAIN_ARGS if a != "train"]

    def train(out: Path, seed: str) -> dict:
        argv = ["train", *args, "--epochs", "2", "--out", str(out)]
        argv[argv.index("--seed") + 1] = seed
        assert main(argv) == 0
        return read_checkpoint(out / "last.pt")

    (a, meta), (b, _), (c, _) = train(tmp_path / "a", "7"), train(tmp_path / "b", "7"), train(tmp_path / "c", "8")
    _assert_same(a["model_pos"], b["model_pos"], "model_pos")
    _assert_same(a["optimizer"], b["optimizer"], "optimizer")
    assert not torch.equal(a["model_pos"]["expand_conv.weight"], c["model_pos"]["expand_conv.weight"])
    import poselift

    assert meta["train"]["seed"] == 7
    assert meta["versions"]["poselift"] == poselift.__version__
    assert meta["versions"]["torch"] == torch.__version__ and meta["versions"]["numpy"] == np.__version__
    assert meta["versions"]["python"].count(".") == 2
    assert meta[CHECKSUM_KEY] == payload_checksum({k: v for k, v in a.items() if k not in ("format", "version")})
