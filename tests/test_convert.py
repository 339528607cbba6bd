"""Importing what users already have: original VideoPose3D data files (pickled .npz,
explicit --allow-pickle opt-in), original checkpoints (weights-only loading, inferred
architecture), and the 3d-pose-baseline h5 tree."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers
from torch import nn

import poselift
from poselift.models.checkpoint import read_checkpoint
from poselift.models.temporal import ModelConfig, TemporalModel, TemporalModelStrided

H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
KEPT_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)




class Evil:
    """Unpickling this object runs code (creates ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


# ===================================================================== legacy .npz
def original_3d(path: Path, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    data = {
        "S1": {
            "Walking 1": rng.normal(size=(11, 32, 3)).astype(np.float32),
            "Directions": rng.normal(size=(7, 32, 3)).astype(np.float32),
        },
        "S5": {"Eating 2": rng.normal(size=(5, 32, 3)).astype(np.float32)},
    }
    np.savez_compressed(path, positions_3d=data)
    return data


def original_2d(path: Path, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    data = {
        "S1": {
            "Walking 1": [rng.uniform(0, 1000, size=(11, 17, 2)).astype(np.float32) for _ in range(4)],
            "Directions": [rng.uniform(0, 1000, size=(7, 17, 2)).astype(np.float32) for _ in range(4)],
        },
    }
    metadata = {
        "layout_name": "h36m",
        "num_joints": 17,
        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
    }
    np.savez_compressed(path, positions_2d=data, metadata=metadata)
    return data


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("poselift")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from poselift.cli import main; sys.exit(main())"]


def test_original_npz_is_pickled(tmp_path):
    """The fixture really is in the pickled original format."""
    src = tmp_path / "data_3d_h36m.npz"
    original_3d(src)
    with pytest.raises(ValueError, match="allow_pickle"):
        with np.load(src, allow_pickle=False) as f:
            f["positions_3d"]


def test_convert_without_allow_pickle_is_refused(tmp_path, capsys):
    src, out = tmp_path / "data_3d_h36m.npz", tmp_path / "positions_3d.npz"
    original_3d(src)
    rc, _, err = run(["data", "convert", src, out], capsys)
    assert_one_line_error(rc, err, src, "--allow-pickle")
    assert not out.exists()


def test_convert_3d_with_allow_pickle_through_the_console_script(tmp_path):
    src, out = tmp_path / "data_3d_h36m.npz", tmp_path / "positions_3d.npz"
    source = original_3d(src)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [*console_script(), "data", "convert", str(src), str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2 and "--allow-pickle" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [*console_script(), "data", "convert", str(src), str(out), "--allow-pickle"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" in proc.stderr and "pickled" in proc.stderr and "trust" in proc.stderr
    assert f"wrote {out}" in proc.stderr
    assert proc.stdout == ""

    with np.load(out, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert set(arrays) == {"S1/Walking 1", "S1/Directions", "S5/Eating 2", "_meta"}
    for subject, actions in source.items():
        for action, pos in actions.items():
            got = arrays[f"{subject}/{action}"]
            assert got.dtype == np.float32 and got.shape == (pos.shape[0], 17, 3)
            np.testing.assert_array_equal(got, pos[:, list(KEPT_32_TO_17)])
    meta = json.loads(str(arrays["_meta"]))
    assert meta["layout"] == "h36m17" and meta["source"] == "data_3d_h36m.npz"


def test_convert_2d_with_allow_pickle(tmp_path, capsys, caplog):
    src, out = tmp_path / "data_2d_h36m_gt.npz", tmp_path / "keypoints_2d_gt.npz"
    source = original_2d(src)
    with caplog.at_level(logging.WARNING, logger="poselift"):
        rc, _, err = run(["data", "convert", src, out, "--allow-pickle"], capsys)
    assert rc == 0, err
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "--allow-pickle" in warnings[0].getMessage() and str(src) in warnings[0].getMessage()

    with np.load(out, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    expected_keys = {f"S1/{a}/{c}" for a in ("Walking 1", "Directions") for c in H36M_CAMERAS}
    assert set(arrays) == expected_keys | {"_meta"}
    for action, views in source["S1"].items():
        for cam_id, kp in zip(H36M_CAMERAS, views):
            np.testing.assert_array_equal(arrays[f"S1/{action}/{cam_id}"], kp)
    meta = json.loads(str(arrays["_meta"]))
    assert meta["layout"] == "h36m" and meta["units"] == "pixels"


def test_converted_files_pass_data_info_together(tmp_path, capsys):
    folder = tmp_path / "h36m"
    original_3d(tmp_path / "data_3d_h36m.npz")
    original_2d(tmp_path / "data_2d_h36m_gt.npz")
    assert run(["data", "convert", tmp_path / "data_3d_h36m.npz", folder / "positions_3d.npz", "--allow-pickle"], capsys)[0] == 0
    assert run(["data", "convert", tmp_path / "data_2d_h36m_gt.npz", folder / "keypoints_2d_gt.npz", "--allow-pickle"], capsys)[0] == 0
    rc, out, _ = run(["data", "info", folder, "--json"], capsys)
    info = json.loads(out)
    assert rc == 0 and info["problems"] == []
    # S5 has 3D but no 2D here, which is not a problem
    assert any("positions_3d.npz: 3 sequences, 2 subjects (S1, S5), 23 frames" in s for s in info["summary"])


def test_convert_refuses_to_overwrite(tmp_path, capsys):
    src, out = tmp_path / "data_3d_h36m.npz", tmp_path / "positions_3d.npz"
    original_3d(src)
    out.write_bytes(b"keep me")
    rc, _, err = run(["data", "convert", src, out, "--allow-pickle"], capsys)
    assert_one_line_error(rc, err, out, "--overwrite")
    assert out.read_bytes() == b"keep me"
    rc, _, _ = run(["data", "convert", src, out, "--allow-pickle", "--overwrite"], capsys)
    assert rc == 0
    with np.load(out, allow_pickle=False) as f:
        assert "S1/Walking 1" in f.files


def test_convert_bad_sources(tmp_path, capsys):
    rc, _, err = run(["data", "convert", tmp_path / "missing.npz", tmp_path / "o.npz"], capsys)
    assert_one_line_error(rc, err, "missing.npz", "does not exist")
    (tmp_path / "x.txt").write_text("hi")
    rc, _, err = run(["data", "convert", tmp_path / "x.txt", tmp_path / "o.npz"], capsys)
    assert_one_line_error(rc, err, "x.txt", "expected an original VideoPose3D .npz")
    other = tmp_path / "other.npz"
    np.savez(other, something={"a": 1})
    rc, _, err = run(["data", "convert", other, tmp_path / "o.npz", "--allow-pickle"], capsys)
    assert_one_line_error(rc, err, other, "neither 'positions_3d' nor 'positions_2d'")
    bad_shape = tmp_path / "bad_shape.npz"
    np.savez(bad_shape, positions_3d={"S1": {"Walking": np.zeros((4, 32))}})
    rc, _, err = run(["data", "convert", bad_shape, tmp_path / "o.npz", "--allow-pickle"], capsys)
    assert_one_line_error(rc, err, "[positions_3d][S1][Walking]", "expected [T, J, 3]")
    assert not (tmp_path / "o.npz").exists()


def test_malicious_npz_is_not_unpickled_without_opt_in(tmp_path, capsys):
    marker = tmp_path / "pwned"
    src = tmp_path / "data_3d_h36m.npz"
    np.savez(src, positions_3d=np.array([Evil(marker)], dtype=object))
    rc, _, err = run(["data", "convert", src, tmp_path / "out.npz"], capsys)
    assert_one_line_error(rc, err, "--allow-pickle")
    rc, _, err = run(["data", "info", src], capsys)
    assert_one_line_error(rc, err, "pickled")
    assert not marker.exists()
    # the payload is live: loading with pickles enabled would have run it
    with np.load(src, allow_pickle=True) as f:
        f["positions_3d"]
    assert marker.exists()


# ===================================================================== checkpoints
def randomized(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(1234)
    return model.eval()


def original_checkpoint(path: Path, arc, channels, causal, *, joints_in=17, traj=False, extras=None):
    """An original-style checkpoint: state dicts of the (strided) training model."""
    pos = randomized(TemporalModelStrided(ModelConfig(num_joints_in=joints_in, filter_widths=arc, channels=channels, causal=causal)), 1)
    obj = {"epoch": 3, "lr": 0.001, "model_pos": pos.state_dict()}
    sources = {"pos": pos}
    if traj:
        t = randomized(TemporalModelStrided(ModelConfig(num_joints_in=joints_in, num_joints_out=1, filter_widths=arc, channels=channels, causal=causal)), 2)
        obj["model_traj"] = t.state_dict()
        sources["traj"] = t
    obj.update(extras or {})
    torch.save(obj, path)
    return sources


def reference_full_model(strided: nn.Module) -> TemporalModel:
    full = TemporalModel(strided.config)
    full.load_state_dict(strided.state_dict())
    return full.eval()


@pytest.mark.parametrize("arc", [(3, 3, 3), (3, 3, 3, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_import_checkpoint_reproduces_the_source_model(tmp_path, capsys, arc, causal):
    orig, out = tmp_path / "pretrained_h36m.bin", tmp_path / "imported.pt"
    sources = original_checkpoint(orig, arc, 48, causal)
    rc, _, err = run(["import-checkpoint", orig, out, "--causal" if causal else "--no-causal"], capsys)
    assert rc == 0, err
    assert f"wrote {out}" in err and "48 channels" in err

    lifter = poselift.load_model(out)
    assert not lifter.training
    assert lifter.config.filter_widths == arc
    assert lifter.config.channels == 48
    assert lifter.config.causal is causal
    assert lifter.config.num_joints_in == 17 and lifter.config.num_joints_out == 17
    assert lifter.trajectory_model is None
    assert lifter.metadata["joints_in"] == "h36m17" and lifter.metadata["imported_from"] == str(orig)

    rf = 3 ** len(arc)
    x = torch.randn(2, rf + 12, 17, 2)
    with torch.no_grad():
        expected = reference_full_model(sources["pos"])(x)
        got = lifter(x)
        # the strided training model on each window is the same function
        windows = x.unfold(1, rf, 1)[0].permute(0, 3, 1, 2)  # [T', RF, J, 2] of batch item 0
        strided = sources["pos"](windows)[:, 0]
    assert got.shape == (2, 13, 17, 3)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(got[0], strided, atol=1e-5, rtol=1e-5)
    # every tensor survived, including batch-norm statistics
    for k, v in sources["pos"].state_dict().items():
        assert torch.equal(lifter.pose_model.state_dict()[k], v), k


def test_import_checkpoint_with_trajectory_model(tmp_path, capsys):
    orig, out = tmp_path / "pretrained_h36m_cpn.bin", tmp_path / "imported.pt"
    sources = original_checkpoint(orig, (3, 3, 3), 40, False, traj=True)
    rc, _, err = run(["import-checkpoint", orig, out, "--no-causal"], capsys)
    assert rc == 0, err
    lifter = poselift.load_model(out)
    assert lifter.trajectory_model is not None and not lifter.trajectory_model.training
    assert lifter.trajectory_model.config.num_joints_out == 1
    x = torch.randn(1, 40, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(lifter(x), reference_full_model(sources["pos"])(x), atol=1e-5, rtol=0)
        traj = lifter.predict_trajectory(x)
        torch.testing.assert_close(traj, reference_full_model(sources["traj"])(x)[:, :, 0], atol=1e-5, rtol=0)
    assert traj.shape == (1, 40 - 27 + 1, 3)
    assert poselift.load_model(out, with_trajectory=False).trajectory_model is None


@pytest.mark.parametrize("semi_supervised", [False, True])
def test_import_checkpoint_as_saved_by_videopose3d_run_py(tmp_path, capsys, semi_supervised):
    """run.py also stores the optimizer and the generator's NumPy RandomState state
    (and ``model_traj: None`` when not semi-supervised)."""
    orig, out = tmp_path / "epoch_80.bin", tmp_path / "imported.pt"
    pos_probe = TemporalModelStrided(ModelConfig(filter_widths=(3, 3, 3), channels=32))
    optimizer = torch.optim.Adam(pos_probe.parameters(), lr=1e-3, amsgrad=True)
    pos_probe(torch.randn(4, 27, 17, 2)).sum().backward()
    optimizer.step()
    rs = np.random.RandomState(1234).get_state()
    extras = {"random_state": rs, "optimizer": optimizer.state_dict(), "random_state_semi": rs if semi_supervised else None}
    if not semi_supervised:
        extras["model_traj"] = None
    sources = original_checkpoint(orig, (3, 3, 3), 32, False, traj=semi_supervised, extras=extras)
    rc, _, err = run(["import-checkpoint", orig, out, "--no-causal"], capsys)
    assert rc == 0, err
    lifter = poselift.load_model(out)
    assert (lifter.trajectory_model is not None) is semi_supervised
    x = torch.randn(1, 30, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(lifter(x), reference_full_model(sources["pos"])(x), atol=1e-5, rtol=0)


def test_import_checkpoint_mpii_input_and_layout_names(tmp_path, capsys):
    orig, out = tmp_path / "sh.bin", tmp_path / "imported.pt"
    original_checkpoint(orig, (3, 3), 16, False, joints_in=16)
    rc, _, err = run(["import-checkpoint", orig, out, "--no-causal"], capsys)
    assert rc == 0, err
    payload, meta = read_checkpoint(out)
    assert meta["joints_in"] == "mpii16" and meta["joints_out"] == "h36m17"
    assert meta["model"]["num_joints_in"] == 16
    rc, _, err = run(["import-checkpoint", orig, tmp_path / "x.pt", "--no-causal", "--joints-in", "nonsense"], capsys)
    assert rc == 2 and "nonsense" in err and "Traceback" not in err


def test_malicious_checkpoint_is_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"
    orig = tmp_path / "evil.bin"
    sd = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()
    torch.save({"epoch": 3, "lr": 0.001, "model_pos": sd, "payload": Evil(marker)}, orig)
    rc, _, err = run(["import-checkpoint", orig, tmp_path / "out.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, orig, "weights-only")
    assert not (tmp_path / "out.pt").exists()
    rc, _, err = run(["evaluate", "--checkpoint", orig], capsys)
    assert_one_line_error(rc, err, orig)
    assert not marker.exists()
    # hidden in a NumPy object array (NumPy arrays are allowed for 'random_state')
    orig2 = tmp_path / "evil2.bin"
    torch.save({"model_pos": sd, "random_state": ("MT19937", np.array([Evil(marker)], dtype=object))}, orig2)
    rc, _, err = run(["import-checkpoint", orig2, tmp_path / "out.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, orig2, "weights-only")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()
    # the payloads are live: a plain torch.load would have run them
    torch.load(orig, weights_only=False)
    assert marker.exists()
    marker.unlink()
    torch.load(orig2, weights_only=False)
    assert marker.exists()


def test_import_checkpoint_bad_inputs(tmp_path, capsys):
    rc, _, err = run(["import-checkpoint", tmp_path / "missing.bin", tmp_path / "o.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, "missing.bin", "does not exist")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(1000))
    rc, _, err = run(["import-checkpoint", garbage, tmp_path / "o.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, garbage)
    no_pos = tmp_path / "no_pos.bin"
    torch.save({"epoch": 1}, no_pos)
    rc, _, err = run(["import-checkpoint", no_pos, tmp_path / "o.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, no_pos, "model_pos")
    partial = tmp_path / "partial.bin"
    sd = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=8)).state_dict()
    del sd["shrink.weight"]
    torch.save({"model_pos": sd}, partial)
    rc, _, err = run(["import-checkpoint", partial, tmp_path / "o.pt", "--no-causal"], capsys)
    assert_one_line_error(rc, err, "shrink.weight")
    assert not (tmp_path / "o.pt").exists()


# ================================================================ 3d-pose-baseline h5
def make_h5_tree(root: Path, frames=9, seed=0):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(seed)
    root.mkdir()
    cams = {}
    with h5py.File(root / "cameras.h5", "w") as f:
        for i, name in enumerate(H36M_CAMERAS[:2], start=1):
            g = f.create_group(f"subject1/camera{i}")
            angle = 0.3 * i
            R = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
            R = R @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])  # camera looking horizontally
            cam = {
                "R": R, "T": rng.normal(size=(3, 1)) * 1000, "f": np.array([[1145.0 + i], [1144.0]]),
                "c": np.array([[512.0], [515.0 + i]]), "k": rng.normal(size=(3, 1)) * 0.01, "p": rng.normal(size=(2, 1)) * 0.001,
            }
            for k, v in cam.items():
                g.create_dataset(k, data=v)
            g.create_dataset("Name", data=np.frombuffer(name.encode(), dtype=np.uint8).reshape(-1, 1))
            cams[name] = cam
    (root / "S1" / "MyPoses" / "3D_positions").mkdir(parents=True)
    (root / "S1" / "StackedHourglass").mkdir(parents=True)
    pos_mm = rng.normal(size=(frames, 32, 3)) * 300 + np.array([0, 0, 1000])
    with h5py.File(root / "S1" / "MyPoses" / "3D_positions" / "Walking 1.h5", "w") as f:
        f.create_dataset("3D_positions", data=pos_mm.reshape(frames, 96).T)  # [96, T], millimetres
    sh = {}
    for name in H36M_CAMERAS[:2]:
        poses = rng.uniform(0, 1000, size=(frames, 32))
        with h5py.File(root / "S1" / "StackedHourglass" / f"Walking_1.{name}.h5", "w") as f:
            f.create_dataset("poses", data=poses)
        sh[name] = poses
    return cams, pos_mm, sh


def test_convert_h5_tree(tmp_path, capsys):
    cams, pos_mm, sh = make_h5_tree(tmp_path / "baseline")
    out = tmp_path / "h36m"
    rc, _, err = run(["data", "convert", tmp_path / "baseline", out], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["cameras.json", "keypoints_2d_sh_pt_mpii.npz", "positions_3d.npz"]

    with np.load(out / "positions_3d.npz", allow_pickle=False) as f:
        assert f.files == ["S1/Walking 1"]
        np.testing.assert_allclose(f["S1/Walking 1"], pos_mm[:, list(KEPT_32_TO_17)] / 1000, rtol=1e-6, atol=1e-7)
    with np.load(out / "keypoints_2d_sh_pt_mpii.npz", allow_pickle=False) as f:
        assert sorted(f.files) == [f"S1/Walking 1/{c}" for c in H36M_CAMERAS[:2]]
        for name, poses in sh.items():
            np.testing.assert_allclose(f[f"S1/Walking 1/{name}"], poses.reshape(-1, 16, 2), rtol=1e-6)

    from poselift.geometry.camera import load_cameras_json

    intr, extr = load_cameras_json(out / "cameras.json")
    assert set(intr) == set(H36M_CAMERAS[:2]) and set(extr) == {"S1"}
    for name, cam in cams.items():
        assert intr[name].focal_length == tuple(cam["f"].ravel())
        assert intr[name].center == tuple(cam["c"].ravel())
        assert (intr[name].width, intr[name].height) == ((1000, 1002) if name == "54138969" else (1000, 1000))
        np.testing.assert_allclose(extr["S1"][name].rotation, cam["R"])
        np.testing.assert_allclose(extr["S1"][name].center, cam["T"].ravel() / 1000)

    # the converted folder is a valid dataset
    from poselift.data.datasets import load_h36m

    seqs = load_h36m(out, ["S1"], keypoints="sh", cameras=list(H36M_CAMERAS[:2]))
    assert [(s.key, s.keypoints_2d.shape, s.positions_3d.shape) for s in seqs] == [
        (f"S1/Walking 1/{c}", (9, 16, 2), (9, 17, 3)) for c in H36M_CAMERAS[:2]
    ]
    rc, out_text, _ = run(["data", "info", out], capsys)
    assert rc == 0 and "PROBLEM" not in out_text

    # converting again needs --overwrite
    rc, _, err = run(["data", "convert", tmp_path / "baseline", out], capsys)
    assert_one_line_error(rc, err, "--overwrite")
    assert run(["data", "convert", tmp_path / "baseline", out, "--overwrite"], capsys)[0] == 0


def test_convert_h5_tree_errors(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run(["data", "convert", empty, tmp_path / "o"], capsys)
    assert_one_line_error(rc, err, empty / "cameras.h5", "does not exist")

    make_h5_tree(tmp_path / "bad")
    bad3d = tmp_path / "bad" / "S1" / "MyPoses" / "3D_positions" / "Walking 1.h5"
    with h5py.File(bad3d, "w") as f:
        f.create_dataset("3D_positions", data=np.zeros((51, 9)))
    rc, _, err = run(["data", "convert", tmp_path / "bad", tmp_path / "o"], capsys)
    assert_one_line_error(rc, err, bad3d, "[96, T]")
    assert not (tmp_path / "o" / "positions_3d.npz").exists()
