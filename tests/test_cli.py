"""CLI boundary: bad input exits with code 2 and one ``poselift: error:`` line naming
the file/key (no traceback); ``data info`` reports dataset problems (exit 1); help works.

Most cases call :func:`poselift.cli.main` in-process (an uncaught exception would fail
the test); a few run the installed console script to check the real process.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error
from helpers import run_cli as run

from poselift.cli import build_parser, main
from poselift.cli.main import COMMANDS
from poselift.models.checkpoint import save_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel
from poselift.version import __version__

H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")






def console_script() -> list[str]:
    script = Path(sys.executable).with_name("poselift")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from poselift.cli import main; sys.exit(main())"]


def run_process(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [*console_script(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


# ------------------------------------------------------------------------- fixtures
def write_npz(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


def good_arrays(frames=12, seed=0):
    rng = np.random.default_rng(seed)
    pos = {
        "S1/Walking 1": rng.normal(size=(frames, 17, 3)).astype(np.float32),
        "S1/Eating": rng.normal(size=(frames + 3, 17, 3)).astype(np.float32),
    }
    kp = {
        f"{seq}/{c}": rng.uniform(0, 1000, size=(a.shape[0], 17, 2)).astype(np.float32)
        for seq, a in pos.items()
        for c in H36M_CAMERAS[:2]
    }
    return pos, kp


def cameras_json(path: Path, subjects=("S1",), cameras=H36M_CAMERAS) -> Path:
    intr = {
        c: {"focal_length": [1145.0, 1144.0], "center": [512.0, 515.0], "radial_distortion": [0, 0, 0],
            "tangential_distortion": [0, 0], "res_w": 1000, "res_h": 1002}
        for c in cameras
    }
    extr = {s: {c: {"R_world_to_cam": np.eye(3).tolist(), "center_m": [0.0, 0.0, -5.0]} for c in cameras} for s in subjects}
    path.write_text(json.dumps({"intrinsics": intr, "extrinsics": extr}))
    return path


@pytest.fixture
def good_folder(tmp_path):
    folder = tmp_path / "h36m"
    folder.mkdir()
    pos, kp = good_arrays()
    write_npz(folder / "positions_3d.npz", pos)
    write_npz(folder / "keypoints_2d_gt.npz", kp)
    cameras_json(folder / "cameras.json")
    return folder


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from poselift.training.config import TrainConfig

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    cfg = ModelConfig(filter_widths=(3, 3), channels=16)
    model = TemporalModel(cfg)
    train_cfg = TrainConfig(dataset="synthetic", filter_widths=(3, 3), channels=16)
    save_checkpoint(path, {"model_pos": model.state_dict()}, {"model": cfg.to_dict(), "train": train_cfg.to_dict()})
    return path


# --------------------------------------------------------------------------- help
HELP_COMMANDS = [
    [], ["train"], ["evaluate"], ["import-checkpoint"], ["data"], ["data", "info"], ["data", "convert"],
    ["bench"], ["demo"],
]


@pytest.mark.parametrize("cmd", HELP_COMMANDS, ids=lambda c: " ".join(c) or "poselift")
def test_help_exits_zero(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: poselift" + "".join(" " + c for c in cmd))


def test_help_of_the_console_script(tmp_path):
    proc = run_process(["--help"], tmp_path)
    assert proc.returncode == 0
    assert "usage: poselift" in proc.stdout
    for verb in ("train", "evaluate", "import-checkpoint", "data", "bench", "demo"):
        assert verb in proc.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    rc, out, _ = run([], capsys)
    assert rc == 2 and "usage: poselift" in out
    rc, out, _ = run(["data"], capsys)
    assert rc == 2 and "usage: poselift data" in out


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--dataset", "nope"])
    assert exc.value.code == 2
    assert "--dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["import-checkpoint", "a.bin", "b.pt"])  # --causal / --no-causal is required
    assert exc.value.code == 2


@pytest.mark.parametrize("verb", ["train", "evaluate", "infer", "infer-batch", "stream", "bench"])
@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_threads_must_be_a_positive_whole_number(verb, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--threads", value])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err


def test_threads_are_applied_before_the_command_runs(tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        rc, _, err = run(["evaluate", "--checkpoint", tmp_path / "nope.pt", "--threads", "1"], capsys)
        assert rc == 2 and "does not exist" in err  # the command itself still ran (and failed cleanly)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- bad checkpoints
def test_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    rc, out, err = run(["evaluate", "--checkpoint", missing], capsys)
    assert_one_line_error(rc, err, missing, "does not exist")
    assert out == ""


def test_missing_checkpoint_through_the_console_script(tmp_path):
    missing = tmp_path / "nope.pt"
    proc = run_process(["evaluate", "--checkpoint", missing, "--json"], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, missing, "does not exist")
    assert proc.stdout == ""


@pytest.mark.parametrize("content", [os.urandom(4096), b"", b"PK\x03\x04 not really a zip"], ids=["random", "empty", "fake-zip"])
def test_garbage_checkpoint(tmp_path, capsys, content):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(content)
    rc, _, err = run(["evaluate", "--checkpoint", bad], capsys)
    assert_one_line_error(rc, err, bad, "could not be read")


def test_random_bytes_checkpoint_through_the_console_script(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(np.random.default_rng(0).bytes(10_000))
    proc = run_process(["evaluate", "--checkpoint", bad], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, bad)


def test_original_videopose3d_checkpoint_given_to_evaluate(tmp_path, capsys):
    orig = tmp_path / "pretrained_h36m_cpn.bin"
    torch.save({"epoch": 80, "lr": 1e-5, "model_pos": TemporalModel(ModelConfig(channels=8)).state_dict()}, orig)
    rc, _, err = run(["evaluate", "--checkpoint", orig], capsys)
    assert_one_line_error(rc, err, orig, "import-checkpoint")


def test_checkpoint_for_other_input_joints(tmp_path, capsys):
    cfg = ModelConfig(num_joints_in=16, filter_widths=(3, 3), channels=8)
    path = tmp_path / "mpii_in.pt"
    save_checkpoint(path, {"model_pos": TemporalModel(cfg).state_dict()}, {"model": cfg.to_dict(), "train": {"dataset": "synthetic"}})
    rc, _, err = run(["evaluate", "--checkpoint", path, "--no-flip"], capsys)
    assert_one_line_error(rc, err, "expects 16 input joints", "17")


def test_checkpoint_whose_weights_do_not_match_its_config(tmp_path, capsys):
    path = tmp_path / "mismatch.pt"
    weights = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()
    save_checkpoint(path, {"model_pos": weights}, {"model": ModelConfig(filter_widths=(3, 3), channels=16).to_dict()})
    rc, _, err = run(["evaluate", "--checkpoint", path], capsys)
    assert_one_line_error(rc, err, path, "model_pos", "do not match")


# ---------------------------------------------------------------------- bad options
@pytest.mark.parametrize(
    "arc, needle",
    [("3,x", "--arc must be comma-separated odd integers"), ("2,3", "odd"), ("3,4,3", "odd"), ("", "empty"), ("0,3", "odd and positive")],
)
def test_bad_arc(tmp_path, capsys, arc, needle):
    rc, _, err = run(["train", "--dataset", "synthetic", "--arc", arc, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(rc, err, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("opt", [["--epochs", "0"], ["--batch-size", "0"]])
def test_non_positive_epochs_or_batch(tmp_path, capsys, opt):
    rc, _, err = run(["train", "--dataset", "synthetic", "--arc", "3,3", "--channels", "8", *opt, "--out", tmp_path / "r"], capsys)
    assert_one_line_error(rc, err, "must be positive")


def test_bad_dropout(tmp_path, capsys):
    rc, _, err = run(["train", "--dataset", "synthetic", "--arc", "3,3", "--dropout", "1.5", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(rc, err, "dropout")


# --------------------------------------------------------------------- bad data dirs
def test_train_on_nonexistent_data_dir(tmp_path, capsys):
    missing = tmp_path / "no_such_dir"
    rc, _, err = run(
        ["train", "--data-dir", missing, "--arc", "3,3", "--channels", "8", "--epochs", "1", "--no-progress",
         "--out", tmp_path / "run"],
        capsys,
    )
    assert_one_line_error(rc, err, missing / "cameras.json", "not found")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_evaluate_on_nonexistent_data_dir(tmp_path, tiny_checkpoint, capsys):
    missing = tmp_path / "no_such_dir"
    rc, out, err = run(["evaluate", "--checkpoint", tiny_checkpoint, "--dataset", "h36m", "--data-dir", missing, "--json"], capsys)
    assert_one_line_error(rc, err, missing)
    assert out == ""


def test_train_on_data_with_wrong_joint_count(tmp_path, capsys):
    folder = tmp_path / "h36m"
    folder.mkdir()
    cameras_json(folder / "cameras.json")
    write_npz(folder / "positions_3d.npz", {"S1/Walking 1": np.zeros((30, 16, 3), np.float32)})
    rc, _, err = run(
        ["train", "--data-dir", folder, "--subjects-train", "S1", "--arc", "3,3", "--channels", "8", "--epochs", "1",
         "--no-progress", "--out", tmp_path / "run"],
        capsys,
    )
    assert_one_line_error(rc, err, "positions_3d.npz[S1/Walking 1]", "expected 17 joints, got 16")


def test_train_on_data_with_nans(tmp_path, capsys):
    folder = tmp_path / "h36m"
    folder.mkdir()
    cameras_json(folder / "cameras.json")
    pos = np.ones((30, 17, 3), np.float32)
    pos[[3, 7], 2, 1] = np.nan
    write_npz(folder / "positions_3d.npz", {"S1/Walking 1": pos})
    rc, _, err = run(
        ["train", "--data-dir", folder, "--subjects-train", "S1", "--arc", "3,3", "--channels", "8", "--epochs", "1",
         "--no-progress", "--out", tmp_path / "run"],
        capsys,
    )
    assert_one_line_error(rc, err, "positions_3d.npz[S1/Walking 1]", "2 frame(s) contain NaN")


def test_train_with_unknown_subject(tmp_path, good_folder, capsys):
    rc, _, err = run(
        ["train", "--data-dir", good_folder, "--subjects-train", "S42", "--arc", "3,3", "--channels", "8",
         "--epochs", "1", "--no-progress", "--out", tmp_path / "run"],
        capsys,
    )
    assert_one_line_error(rc, err, "S42", "positions_3d.npz")


# ----------------------------------------------------------------------- data info
def test_data_info_good_folder(good_folder, capsys):
    rc, out, err = run(["data", "info", good_folder], capsys)
    assert rc == 0, out + err
    assert "PROBLEM" not in out
    assert "cameras.json: 4 cameras" in out
    assert "positions_3d.npz: 2 sequences, 1 subjects (S1), 27 frames, joints: h36m17, dims: [3]" in out
    assert "keypoints_2d_gt.npz: 4 sequences, 1 subjects (S1), 54 frames, joints: h36m17, dims: [2]" in out


def test_data_info_good_file_json(good_folder, capsys):
    rc, out, _ = run(["data", "info", good_folder / "positions_3d.npz", "--json"], capsys)
    assert rc == 0
    info = json.loads(out)
    assert info["problems"] == []
    assert info["path"] == str(good_folder / "positions_3d.npz")
    assert len(info["summary"]) == 1


def test_data_info_nans(tmp_path, capsys):
    pos, _ = good_arrays()
    pos["S1/Eating"][[0, 4, 5], 3, 0] = np.nan
    pos["S1/Eating"][9, 0, 2] = np.inf
    path = write_npz(tmp_path / "positions_3d.npz", pos)
    rc, out, err = run(["data", "info", path], capsys)
    assert rc == 1
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM: ")]
    assert problems == ["PROBLEM: positions_3d.npz[S1/Eating]: 4 frames with NaN/inf"]
    assert "Traceback" not in err


def test_data_info_inconsistent_joint_counts(tmp_path, capsys):
    pos, _ = good_arrays()
    pos["S1/Eating"] = pos["S1/Eating"][:, :16]
    path = write_npz(tmp_path / "positions_3d.npz", pos)
    rc, out, _ = run(["data", "info", path, "--json"], capsys)
    assert rc == 1
    info = json.loads(out)
    assert info["problems"] == ["positions_3d.npz: inconsistent joint counts [16, 17]"]


def test_data_info_non_pose_array(tmp_path, capsys):
    pos, _ = good_arrays()
    pos["S1/Flat"] = np.zeros((10, 51), np.float32)
    pos["S1/Ints"] = np.zeros((10, 17, 3), np.int64)
    path = write_npz(tmp_path / "positions_3d.npz", pos)
    rc, out, _ = run(["data", "info", path], capsys)
    assert rc == 1
    assert "PROBLEM: positions_3d.npz[S1/Flat]: expected a float [frames, joints, dims] array" in out
    assert "PROBLEM: positions_3d.npz[S1/Ints]: expected a float [frames, joints, dims] array" in out


def test_data_info_2d_3d_length_mismatch_and_unknown_camera(good_folder, capsys):
    pos, kp = good_arrays()
    kp["S1/Eating/55011271"] = kp["S1/Eating/55011271"][:-2]
    kp["S1/Walking 1/12345678"] = np.zeros((12, 17, 2), np.float32)
    write_npz(good_folder / "keypoints_2d_gt.npz", kp)
    rc, out, _ = run(["data", "info", good_folder, "--json"], capsys)
    assert rc == 1
    problems = json.loads(out)["problems"]
    assert "keypoints_2d_gt.npz[S1/Eating/55011271]: 13 frames but 3D 'S1/Eating' has 15" in problems
    assert "keypoints_2d_gt.npz[S1/Walking 1/12345678]: unknown camera id '12345678'" in problems
    assert len(problems) == 2


def test_data_info_2d_without_3d_is_a_warning(good_folder, capsys):
    """2D sequences without 3D (as S5 Discussion 2 in ../shared/data/h36m) are skipped by the
    readers: listed and counted as warnings, exit 0."""
    _, kp = good_arrays()
    kp["S1/Sitting/54138969"] = np.zeros((5, 17, 2), np.float32)
    kp["S1/Sitting/55011271"] = np.zeros((5, 17, 2), np.float32)
    kp["S1/Phoning/54138969"] = np.zeros((7, 17, 2), np.float32)
    write_npz(good_folder / "keypoints_2d_gt.npz", kp)
    rc, out, _ = run(["data", "info", good_folder, "--json"], capsys)
    assert rc == 0, out
    info = json.loads(out)
    assert info["problems"] == []
    assert info["warnings"] == [
        ("keypoints_2d_gt.npz[S1/Phoning]: 2D for 1 camera(s) (54138969) but no 3D sequence in positions_3d.npz; "
         "not used for training or evaluation"),
        ("keypoints_2d_gt.npz[S1/Sitting]: 2D for 2 camera(s) (54138969, 55011271) but no 3D sequence in "
         "positions_3d.npz; not used for training or evaluation"),
    ]
    assert "keypoints_2d_gt.npz: 2 of 4 sequences have 2D but no 3D (3 camera views; listed as warnings)" in info["summary"]
    rc, out, _ = run(["data", "info", good_folder], capsys)
    assert rc == 0
    assert [line.split("[")[1].split("]")[0] for line in out.splitlines() if line.startswith("WARNING: ")] == [
        "S1/Phoning", "S1/Sitting"
    ]
    assert "PROBLEM" not in out and out.splitlines()[-1] == "0 problem(s), 2 warning(s)"


def test_data_info_2d_matching_no_3d_at_all_is_a_problem(good_folder, capsys):
    """A 2D file none of whose keys has 3D is a naming mismatch, not a few skipped sequences."""
    _, kp = good_arrays()
    write_npz(good_folder / "keypoints_2d_gt.npz", {f"Train/{k}": v for k, v in kp.items()})
    rc, out, _ = run(["data", "info", good_folder, "--json"], capsys)
    assert rc == 1
    info = json.loads(out)
    assert info["warnings"] == []
    assert info["problems"] == [
        ("keypoints_2d_gt.npz: none of its 2 sequences has 3D in positions_3d.npz "
         "(a 2D key is a 3D key plus '/CAMERA', e.g. 'Train/S1/Eating/54138969')")
    ]


def test_data_info_reads_the_compact_int16_copy(good_folder, capsys):
    """positions_3d_mm_int16.npz (what the dataset reader falls back to) is summarised as the
    compact copy and checked against positions_3d.npz; alone it is the 3D of the folder."""
    pos, _ = good_arrays()
    compact = {k: np.round(v * 1000).astype(np.int16) for k, v in pos.items()}
    write_npz(good_folder / "positions_3d_mm_int16.npz", compact)
    rc, out, _ = run(["data", "info", good_folder], capsys)
    assert rc == 0, out
    assert "positions_3d_mm_int16.npz: compact copy of the 3D positions (int16 millimetres" in out
    assert "2 sequences, 1 subjects (S1), 27 frames, joints: h36m17, dims: [3]" in out.split("positions_3d_mm_int16.npz:")[1]
    (good_folder / "positions_3d.npz").unlink()  # the compact copy alone: still the 3D the 2D is checked against
    rc, out, _ = run(["data", "info", good_folder, "--json"], capsys)
    assert rc == 0 and json.loads(out)["problems"] == []


def test_data_info_compact_copy_problems(good_folder, capsys):
    pos, _ = good_arrays()
    compact = {k: np.round(v * 1000).astype(np.int16) for k, v in pos.items()}
    compact["S1/Eating"][4, 2, 1] += 3  # 3 mm off: not a rounding difference
    compact["S1/Walking 1"] = compact["S1/Walking 1"][:-1]
    compact["S1/Extra"] = np.zeros((3, 17, 3), np.int16)
    compact["S1/Metres"] = np.zeros((3, 17, 3), np.float32)  # not int16 millimetres
    write_npz(good_folder / "positions_3d_mm_int16.npz", compact)
    rc, out, _ = run(["data", "info", good_folder, "--json"], capsys)
    assert rc == 1
    problems = json.loads(out)["problems"]
    off_by = float(problems[2].split("by up to ")[1].split(" mm")[0])  # 3 mm added to a value rounded to 0.5 mm
    assert 2.5 <= off_by <= 3.5
    assert problems == [
        "positions_3d_mm_int16.npz[S1/Metres]: expected an int16 [frames, joints, 3] array of millimetres, got float32 [3, 17, 3]",
        "positions_3d_mm_int16.npz: 1 sequence(s) are not in positions_3d.npz, e.g. 'S1/Extra'",
        f"positions_3d_mm_int16.npz[S1/Eating]: differs from positions_3d.npz by up to {off_by:.3g} mm (a compact copy rounds to 0.5 mm)",
        "positions_3d_mm_int16.npz[S1/Walking 1]: shape [11, 17, 3] but positions_3d.npz has [12, 17, 3]",
    ]


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["h36m", "humaneva"])
def test_data_info_on_the_shared_datasets(name, capsys):
    from conftest import DATA_ROOT

    folder = DATA_ROOT / name
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} is absent")
    rc, out, _ = run(["data", "info", folder, "--json"], capsys)
    info = json.loads(out)
    assert rc == 0 and info["problems"] == [], info["problems"][:5]
    if name == "h36m":  # the 5 sequences README lists as missing from the 3D source
        assert [w.split("]")[0].split("[")[1] for w in info["warnings"]] == [
            "S5/Discussion 2", "S5/Discussion 3", "S7/Discussion", "S7/SittingDown 1", "S9/Discussion 1"
        ]
        assert any(line.startswith("positions_3d_mm_int16.npz: compact copy of the 3D positions") for line in info["summary"])
    else:
        assert info["warnings"] == []
        assert any("3 subjects (S1, S2, S3)" in line for line in info["summary"])


#: 2 kB of fixed random bytes (seeded: os.urandom started with the pickle opcode 0x80 in 1 run of 256,
#: which is reported as a pickle instead)
RANDOM_BYTES = b"\x00" + np.random.default_rng(2048).bytes(2047)


@pytest.mark.parametrize("content", [b"", RANDOM_BYTES], ids=["empty", "random"])
def test_data_info_unreadable_npz(tmp_path, capsys, content):
    path = tmp_path / "positions_3d.npz"
    path.write_bytes(content)
    rc, _, err = run(["data", "info", path], capsys)
    assert_one_line_error(rc, err, path, "not a readable .npz")


def test_data_info_npy_named_npz(tmp_path, capsys):
    path = tmp_path / "positions_3d.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((4, 17, 3), np.float32))
    rc, _, err = run(["data", "info", path], capsys)
    assert_one_line_error(rc, err, path, "not a readable .npz")


def test_data_info_pickled_npz_is_refused(tmp_path, capsys):
    path = tmp_path / "data_3d_h36m.npz"
    np.savez(path, positions_3d={"S1": {"Walking 1": np.zeros((3, 32, 3))}})
    rc, _, err = run(["data", "info", path], capsys)
    assert_one_line_error(rc, err, path, "pickled", "--allow-pickle")


def test_data_info_missing_path_and_empty_folder(tmp_path, capsys):
    rc, _, err = run(["data", "info", tmp_path / "missing.npz"], capsys)
    assert_one_line_error(rc, err, tmp_path / "missing.npz", "does not exist")
    (tmp_path / "empty").mkdir()
    rc, _, err = run(["data", "info", tmp_path / "empty"], capsys)
    assert_one_line_error(rc, err, tmp_path / "empty", "no .npz")


def test_data_info_bad_cameras_json(good_folder, capsys):
    (good_folder / "cameras.json").write_text("{not json")
    rc, _, err = run(["data", "info", good_folder], capsys)
    assert_one_line_error(rc, err, good_folder / "cameras.json", "not valid JSON")


def test_data_info_problems_through_the_console_script(tmp_path):
    pos, _ = good_arrays()
    pos["S1/Walking 1"][2, 2, 2] = np.nan
    path = write_npz(tmp_path / "positions_3d.npz", pos)
    proc = run_process(["data", "info", path], tmp_path)
    assert proc.returncode == 1
    assert "PROBLEM: positions_3d.npz[S1/Walking 1]: 1 frames with NaN/inf" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_demo_runs_end_to_end_in_a_few_seconds(tmp_path, capsys):
    """`make demo`'s job with a tiny time budget: the bundled model's score, then training."""
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seconds", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Step 1 - the bundled model" in out and "Step 2 - training works here" in out
    bundled_mm = float(out.split("Step 1")[1].split("mean joint error ")[1].split(" mm")[0])
    assert bundled_mm < 120  # an unseen figure, lifted by the shipped model (measured ~94 mm)
    for name in ("last.pt", "bundled.mp4", "bundled.bvh", "trained.mp4", "trained.bvh"):
        assert (tmp_path / "demo" / name).stat().st_size > 0, name


def test_demo_never_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the default folder is taken: the next free one is used
        assert main(["demo", "--seconds", "0", "--no-progress"]) == 0
    assert (tmp_path / "runs/demo/bundled.mp4").is_file() and (tmp_path / "runs/demo-2/bundled.mp4").is_file()
    assert "runs/demo-2/bundled.mp4" in capsys.readouterr().out
    assert main(["demo", "--seconds", "0", "--out", "runs/demo"]) == 2  # a folder given explicitly: never replaced
    err = capsys.readouterr().err
    assert "already holds a demo" in err and "--overwrite" in err and "Traceback" not in err
    assert main(["demo", "--seconds", "0", "--out", "runs/demo", "--overwrite", "--no-progress"]) == 0
    assert main(["demo", "--seconds", "-1", "--out", "runs/x"]) == 2
    assert "--seconds" in capsys.readouterr().err and not (tmp_path / "runs/x").exists()


def test_help_states_the_bundled_models_real_frame_rate(capsys):
    """`infer --help` says the rate the bundled model runs at (its metadata), not a stale 50."""
    from poselift.cli.infer import BUNDLED_MODEL_FPS
    from poselift.models.lifter import checkpoint_config, model_fps

    assert model_fps(checkpoint_config()[1]) == BUNDLED_MODEL_FPS
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{BUNDLED_MODEL_FPS:g} frames/s for the bundled model" in text
    assert "default 50" not in text
    with pytest.raises(SystemExit):
        main(["stream", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: the bundled causal model" in text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"poselift {__version__}"


def test_every_command_help_ends_with_examples_that_parse():
    """`--help` of each command ends with example command lines, and each of them is
    accepted by the parser (so the examples cannot go stale)."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        text = subparsers.choices[name].format_help()
        examples = text.split("examples:\n", 1)[1].strip().splitlines()
        assert 1 <= len(examples) <= 3, (name, examples)
        for line in examples:
            words = shlex.split(line.split("#", 1)[0])
            assert words[0] == "poselift" and words[1] == name, line
            args = parser.parse_args(words[1:])
            assert args.command == name and callable(args.func), line


@pytest.mark.parametrize("dataset, downsample, fps", [("synthetic", 1, 50.0), ("synthetic", 2, 25.0), ("h36m", 2, 25.0),
                                                      ("humaneva", 1, 60.0)])
def test_checkpoint_records_the_frame_rate_of_its_training_data(dataset, downsample, fps):
    import torch

    from poselift.data.synthetic import synthetic_sequence
    from poselift.models.temporal import ModelConfig
    from poselift.training.config import TrainConfig, TrainState
    from poselift.training.resume import run_metadata

    cfg = TrainConfig(dataset=dataset, downsample=downsample, filter_widths=(3, 3), channels=8)
    meta = run_metadata(cfg, ModelConfig(filter_widths=(3, 3), channels=8), None, TrainState(), 1, torch.device("cpu"))
    assert meta["fps"] == fps
    if dataset == "synthetic":  # what the procedural figures really are
        assert synthetic_sequence(30).fps / downsample == fps
