"""Every command writes its outputs the way `infer` does (issue 28): destinations are
checked before the work starts, a failure is one `poselift: error:` line (exit 2, no
traceback), nothing half-written or empty is left, and one folder has one writer.

Read-only and full disks are real filesystems: small tmpfs mounts (skipped where this
process may not mount, e.g. without root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers
from test_model_export import tiny_checkpoint  # noqa: E402
from test_pipeline import write_npz_input  # noqa: E402

from poselift.errors import PoseliftError
from poselift.io.locks import folder_lock
from poselift.io.staging import check_destination, created_folder


def train_args(epochs: int = 1) -> list[str]:
    """A tiny synthetic training run (a few seconds per epoch)."""
    return ["train", "--dataset", "synthetic", "--arc", "3,3", "--channels", "16", "--epochs", str(epochs),
            "--batch-size", "256", "--no-progress", "--threads", "1"]


TRAIN = train_args()


def _mount_tmpfs(path: Path, options: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a test filesystem needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()[:80]})")
    return path


@pytest.fixture
def read_only(tmp_path):
    path = _mount_tmpfs(tmp_path / "ro", "ro,size=1m")
    yield path
    subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 kB filesystem: room for a folder, not for any output."""
    path = _mount_tmpfs(tmp_path / "tiny", "size=16k")
    yield path
    subprocess.run(["umount", str(path)], check=False)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "m.pt")


def _commands(tmp_path: Path, ckpt: Path, out: Path) -> dict[str, list]:
    """Each command that writes, with ``out`` as (the folder of) its destination."""
    pickled = tmp_path / "data_3d_h36m.npz"
    if not pickled.exists():  # the original format (pickled); 400 frames: more than a tiny disk holds
        rng = np.random.default_rng(0)
        np.savez_compressed(pickled, positions_3d={"S1": {"Walking 1": rng.normal(size=(400, 32, 3)).astype(np.float32)}})
    kp = tmp_path / "kp.npz"
    if not kp.exists():
        write_npz_input(kp)
    return {
        "train": [*TRAIN, "--out", out / "run"],
        "export-weights": ["export-weights", ckpt, out / "w.pt"],
        "export torchscript": ["export", "--checkpoint", ckpt, "--format", "torchscript", "--out", out / "m.ts.pt"],
        "data convert": ["data", "convert", "--allow-pickle", pickled, out / "x.npz"],
        "import-checkpoint": ["import-checkpoint", ckpt, out / "i.pt", "--causal"],
        "render": ["render", "--dataset", "synthetic", "--checkpoint", ckpt, "--limit-frames", "5", "--no-progress",
                   "--out", out / "r.gif"],
        "infer": ["infer", kp, "--checkpoint", ckpt, "--no-progress", "--out", out / "inf"],
    }


@pytest.mark.parametrize("name", ["train", "export-weights", "export torchscript", "data convert", "import-checkpoint", "render", "infer"])
def test_a_file_on_the_way_is_one_error_before_any_work(tmp_path, capsys, ckpt, name):
    afile = tmp_path / "afile.npz"
    afile.write_bytes(b"x")
    rc, _, err = run(_commands(tmp_path, ckpt, afile)[name], capsys)
    assert_one_line_error(rc, err, "is a file, not a folder")
    assert afile.read_bytes() == b"x"


@pytest.mark.parametrize("name", ["train", "export-weights", "export torchscript", "data convert", "import-checkpoint", "render", "infer"])
def test_a_read_only_folder_is_one_error_before_any_work(tmp_path, capsys, ckpt, read_only, name):
    rc, _, err = run(_commands(tmp_path, ckpt, read_only)[name], capsys)
    assert_one_line_error(rc, err, str(read_only), "not writable")
    assert not any(read_only.iterdir())


@pytest.mark.parametrize("name", ["train", "export-weights", "export torchscript", "data convert", "render", "infer"])
def test_a_full_disk_is_one_error_and_leaves_nothing(tmp_path, ckpt, tiny_disk, name):
    """In a child process (as a user runs it): exit 2, one line, no traceback, no
    'Exception ignored' from a half-closed zip, no abort, nothing left on the disk."""
    cmd = [str(a) for a in _commands(tmp_path, ckpt, tiny_disk)[name]]
    done = subprocess.run([sys.executable, "-m", "poselift", *cmd], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]
    assert err[-1].startswith("poselift: error:") and "No space left on device" in err[-1], err[-3:]
    assert sorted(p.name for p in tiny_disk.rglob("*")) == [], sorted(p.name for p in tiny_disk.rglob("*"))


def test_train_on_bad_data_leaves_no_empty_run_folder(tmp_path, capsys):
    data = tmp_path / "h36m"
    data.mkdir()
    (data / "positions_3d.npz").write_bytes(b"not an npz")
    rc, _, err = run(["train", "--data-dir", data, "--out", tmp_path / "new" / "run", "--no-progress"], capsys)
    assert rc == 2 and err.startswith("poselift: error:")
    assert not (tmp_path / "new").exists()


def test_check_destination_and_created_folder(tmp_path):
    check_destination(tmp_path / "a" / "b" / "c.npz")  # folders to be created: fine
    (tmp_path / "d").mkdir()
    with pytest.raises(PoseliftError, match="is a folder; give a file name"):
        check_destination(tmp_path / "d")
    with pytest.raises(PoseliftError, match="exists and is not a folder"):
        (tmp_path / "f").write_text("x")
        check_destination(tmp_path / "f", folder=True)
    with pytest.raises(RuntimeError), created_folder(tmp_path / "x" / "y"):
        assert (tmp_path / "x" / "y").is_dir()
        raise RuntimeError("the command failed")
    assert not (tmp_path / "x").exists()
    (tmp_path / "keep").mkdir()
    with pytest.raises(RuntimeError), created_folder(tmp_path / "keep" / "y"):
        (tmp_path / "keep" / "y" / "file").write_text("written before the failure")
        raise RuntimeError
    assert (tmp_path / "keep" / "y" / "file").exists()  # never deletes what is there


# ---------------------------------------------------------------------------- locks
HOLD = "import sys, time; from poselift.io.locks import folder_lock\nwith folder_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)\n"


@pytest.fixture
def held(tmp_path):
    """A folder whose lock another process holds."""
    folder = tmp_path / "busy"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield folder
    holder.kill()
    holder.wait()


def test_a_second_writer_stops_at_once(held, tmp_path, capsys, ckpt):
    with pytest.raises(PoseliftError, match="in use by another poselift process"):
        with folder_lock(held):
            pass
    kp = write_npz_input(tmp_path / "kp.npz")
    t0 = time.perf_counter()
    rc, _, err = run(["infer", kp, "--checkpoint", ckpt, "--no-progress", "--out", held], capsys)
    assert_one_line_error(rc, err, str(held), "in use by another poselift process")
    rc, _, err = run([*TRAIN, "--out", held], capsys)
    assert_one_line_error(rc, err, str(held), "in use by another poselift process")
    assert time.perf_counter() - t0 < 30
    assert not any(held.iterdir())


def test_two_resumes_of_one_run(tmp_path, capsys):
    """A second `train --resume` on a run that is training fails fast; the first goes on."""
    run_dir = tmp_path / "run"
    assert run([*TRAIN, "--out", run_dir], capsys)[0] == 0
    first = subprocess.Popen(
        [sys.executable, "-m", "poselift", *train_args(500), "--resume", "--out", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # the first holds the lock once it has started
            probe = subprocess.run([sys.executable, "-c", "import sys; from poselift.io.locks import folder_lock\n"
                                    "with folder_lock(sys.argv[1]): pass", str(run_dir)], capture_output=True, text=True)
            if probe.returncode != 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the first training run never held its folder's lock")
        rc, _, err = run([*train_args(500), "--resume", "--out", run_dir], capsys)
        assert_one_line_error(rc, err, "in use by another poselift process")
    finally:
        first.kill()
        first.wait()
