"""``poselift export``: ONNX / TorchScript graphs equal the PyTorch models for other
batch sizes and sequence lengths than the export example, carry the checkpoint
metadata, are written atomically, and bad input exits 2 with one clear line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers

from poselift.cli import main
from poselift.errors import PoseliftError
from poselift.models.checkpoint import save_checkpoint
from poselift.models.export import export_model, sidecar_path
from poselift.models.lifter import load_model
from poselift.models.temporal import ModelConfig, TemporalModel

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ATOL = 1e-4
INPUT_DOC = "normalised screen coordinates: x/w*2-1, y/w*2-h/w"


# ------------------------------------------------------------------------- helpers
def _randomise(model: TemporalModel, seed: int) -> TemporalModel:
    """Random weights *and* batch-norm statistics, so the check is not trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen) * (0.3 if t.dim() > 1 else 0.1))
    return model


def tiny_checkpoint(path: Path, *, causal: bool = False, dense: bool = False, trajectory: bool = True) -> Path:
    """A 32-channel RF-9 checkpoint (pose + optional trajectory model) with metadata."""
    cfg = ModelConfig(filter_widths=(3, 3), channels=32, causal=causal, dense=dense)
    payload = {"model_pos": _randomise(TemporalModel(cfg), 1).state_dict()}
    meta = {"model": cfg.to_dict(), "joints_in": "h36m17", "joints_out": "h36m17", "fps": 50.0,
            "input": INPUT_DOC, "output": "metres, camera frame, relative to the root joint"}
    if trajectory:
        tcfg = ModelConfig.from_dict(cfg.to_dict() | {"num_joints_out": 1})
        payload["model_traj"] = _randomise(TemporalModel(tcfg), 2).state_dict()
        meta["trajectory_model"] = tcfg.to_dict()
    save_checkpoint(path, payload, meta)
    return path


def reference(ckpt: Path, x: torch.Tensor) -> list[np.ndarray]:
    lifter = load_model(ckpt)
    with torch.no_grad():
        outs = [lifter(x)]
        if lifter.trajectory_model is not None:
            outs.append(lifter.predict_trajectory(x))
    return [o.numpy() for o in outs]


def inputs(rf: int):
    """Two sequence lengths (the minimum and a longer one) × batch sizes 1 and 2."""
    gen = torch.Generator().manual_seed(7)
    for frames in (rf, rf + 41):
        for batch in (1, 2):
            yield torch.rand(batch, frames, 17, 2, generator=gen) * 2 - 1


# ---------------------------------------------------------------------- equality
@pytest.mark.parametrize("kind", ["symmetric", "causal", "dense"])
def test_onnx_matches_pytorch(tmp_path, kind):
    ckpt = tiny_checkpoint(tmp_path / "m.pt", causal=kind == "causal", dense=kind == "dense")
    res = export_model(ckpt, tmp_path / "m.onnx", "onnx")
    assert res.files == [tmp_path / "m.onnx", tmp_path / "m.onnx.json"]
    assert res.max_abs_diff < ATOL and set(res.max_abs_diff_per_output) == {"pose", "trajectory"}
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["pose", "trajectory"]
    for x in inputs(9):
        pose, traj = session.run(None, {"keypoints": x.numpy()})
        want_pose, want_traj = reference(ckpt, x)
        assert pose.shape == (x.shape[0], x.shape[1] - 8, 17, 3) and traj.shape == (x.shape[0], x.shape[1] - 8, 3)
        assert np.abs(pose - want_pose).max() < ATOL
        assert np.abs(traj - want_traj).max() < ATOL


@pytest.mark.parametrize("causal", [False, True])
def test_torchscript_matches_pytorch(tmp_path, causal):
    ckpt = tiny_checkpoint(tmp_path / "m.pt", causal=causal)
    out = tmp_path / "m.torchscript.pt"
    res = export_model(ckpt, out, "torchscript")
    assert res.max_abs_diff < ATOL
    extra = {"poselift.json": ""}
    module = torch.jit.load(str(out), _extra_files=extra)
    info = json.loads(extra["poselift.json"])
    assert info["receptive_field"] == 9 and info["causal"] is causal
    for x in inputs(9):
        with torch.no_grad():
            pose, traj = module(x)
        want_pose, want_traj = reference(ckpt, x)
        assert np.abs(pose.numpy() - want_pose).max() < ATOL
        assert np.abs(traj.numpy() - want_traj).max() < ATOL


def test_without_trajectory_model_or_flag(tmp_path):
    no_traj = tiny_checkpoint(tmp_path / "pose_only.pt", trajectory=False)
    with_traj = tiny_checkpoint(tmp_path / "both.pt")
    export_model(no_traj, tmp_path / "a.onnx", "onnx")
    export_model(with_traj, tmp_path / "b.onnx", "onnx", trajectory=False)
    for name, ckpt in (("a.onnx", no_traj), ("b.onnx", with_traj)):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["pose"]
        x = torch.rand(2, 30, 17, 2)
        (pose,) = session.run(None, {"keypoints": x.numpy()})
        assert np.abs(pose - reference(ckpt, x)[0]).max() < ATOL
    module = torch.jit.load(str(export_model(no_traj, tmp_path / "a.pt", "torchscript").files[0]))
    assert module(torch.rand(1, 12, 17, 2)).shape == (1, 4, 17, 3)


# ---------------------------------------------------------------------- metadata
def test_onnx_metadata_and_sidecar_describe_the_input(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "m.pt", causal=True)
    export_model(ckpt, tmp_path / "m.onnx", "onnx", opset=13)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["poselift.receptive_field"] == "9" and props["poselift.causal"] == "true"
    assert props["poselift.fps"] == "50.0" and props["poselift.joints_in"] == "h36m17"
    assert props["poselift.input"] == INPUT_DOC and "metres" in props["poselift.output"]
    assert proto.opset_import[0].version == 13
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "frames", 17, 2]
    side = json.loads(sidecar_path(tmp_path / "m.onnx").read_text())
    assert side == {**json.loads(props["poselift.json"]), "verification": side["verification"]}
    assert side["min_frames"] == 9 and side["inputs"]["keypoints"]["units"] == INPUT_DOC
    assert "repeat the first frame 8 times" in side["padding"]
    assert side["verification"]["max_abs_diff_m"]["pose"] < ATOL


# --------------------------------------------------------------------------- CLI
def test_cli_json_reports_files_sizes_and_diff(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "sub" / "model.onnx"
    rc, stdout, _ = run(["export", "--checkpoint", ckpt, "--format", "onnx", "--out", out, "--json"], capsys)
    assert rc == 0
    report = json.loads(stdout)
    assert report["files"] == [str(out), str(out) + ".json"]
    assert report["sizes"] == {p: Path(p).stat().st_size for p in report["files"]}
    assert 0 <= report["max_abs_diff"] < ATOL and report["receptive_field"] == 9
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx", "model.onnx.json"]  # no temp files


def test_cli_human_output_and_default_name(tmp_path, capsys, monkeypatch):
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    monkeypatch.chdir(tmp_path)
    rc, stdout, err = run(["export", "--checkpoint", ckpt, "--format", "torchscript"], capsys)
    assert rc == 0 and stdout == ""
    assert (tmp_path / "tiny.torchscript.pt").is_file() and (tmp_path / "tiny.torchscript.pt.json").is_file()
    assert "max abs diff" in err and "wrote" in err


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--checkpoint", "--format", "--out", "--no-trajectory", "--overwrite", "--opset", "--json"):
        assert opt in text
    assert "poselift[export]" in text


def test_missing_checkpoint(tmp_path, capsys):
    rc, _, err = run(["export", "--checkpoint", tmp_path / "nope.pt", "--format", "onnx", "--out", tmp_path / "o.onnx"], capsys)
    assert_one_line_error(rc, err, "nope.pt", "does not exist")
    assert not (tmp_path / "o.onnx").exists()


def test_non_checkpoint_file(tmp_path, capsys):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello")
    rc, _, err = run(["export", "--checkpoint", bad, "--format", "torchscript", "--out", tmp_path / "o.pt"], capsys)
    assert_one_line_error(rc, err, "notes.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pt"]


@pytest.mark.parametrize("existing", ["m.onnx", "m.onnx.json"])
def test_existing_output_is_untouched_without_overwrite(tmp_path, capsys, existing):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    (tmp_path / existing).write_bytes(b"precious")
    rc, _, err = run(["export", "--checkpoint", ckpt, "--format", "onnx", "--out", tmp_path / "m.onnx"], capsys)
    assert_one_line_error(rc, err, existing, "--overwrite")
    assert (tmp_path / existing).read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.pt", existing])
    rc, _, _ = run(["export", "--checkpoint", ckpt, "--format", "onnx", "--out", tmp_path / "m.onnx", "--overwrite"], capsys)
    assert rc == 0 and onnx.load(str(tmp_path / "m.onnx")).graph.input[0].name == "keypoints"


def test_unknown_format(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    rc, _, err = run(["export", "--checkpoint", ckpt, "--format", "tflite", "--out", tmp_path / "m.x"], capsys)
    assert_one_line_error(rc, err, "tflite", "onnx, torchscript")


def test_bad_opset(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    rc, _, err = run(["export", "--checkpoint", ckpt, "--format", "onnx", "--opset", "99", "--out", tmp_path / "m.onnx"], capsys)
    assert_one_line_error(rc, err, "--opset", "99")


def test_onnx_not_installed(tmp_path, capsys, monkeypatch):
    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    rc, _, err = run(["export", "--checkpoint", ckpt, "--format", "onnx", "--out", tmp_path / "m.onnx"], capsys)
    assert_one_line_error(rc, err, "onnxruntime", "pip install 'poselift[export]'")
    assert not (tmp_path / "m.onnx").exists()


def test_failed_verification_writes_nothing(tmp_path, monkeypatch):
    import poselift.models.export as me

    ckpt = tiny_checkpoint(tmp_path / "m.pt")
    monkeypatch.setattr(me, "VERIFY_TOLERANCE_M", -1.0)
    for fmt, name in (("onnx", "m.onnx"), ("torchscript", "m.ts")):
        with pytest.raises(PoseliftError, match="differs from PyTorch"):
            export_model(ckpt, tmp_path / name, fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
