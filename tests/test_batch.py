"""`poselift infer-batch`: every video / keypoint file of a folder, one output folder
each, complete outputs skipped, failures reported without stopping the batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_one_line_error, run  # noqa: E402  shared CLI helpers
from test_pipeline import (  # noqa: E402
    FPS,
    FakeDetector,
    H,
    T,
    W,
    _save_lifter,
    draw_video,
    write_coco_json,
    write_csv_input,
    write_npz_input,
    write_openpose_folder,
)

from poselift.cli import main

OUTPUTS = ["poses.csv", "poses.json", "poses.npz"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _save_lifter(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_npz_input(folder / "walk.npz")
    write_csv_input(folder / "table.csv")
    write_coco_json(folder / "detections.json")
    write_openpose_folder(folder / "openpose_clip")
    write_npz_input(folder / "twin.npz")
    write_csv_input(folder / "twin.csv")  # same stem: OUT/twin.npz/ and OUT/twin.csv/
    (folder / "broken.npz").write_bytes(b"not an npz at all")
    (folder / "notes.txt").write_text("ignored: not a recognised extension")
    (folder / ".hidden.npz").write_bytes(b"ignored: hidden")
    (folder / "empty_subfolder").mkdir()  # ignored: no *_keypoints.json
    return folder


def batch(capsys, folder, out, ckpt, *extra):
    argv = ["infer-batch", folder, "--out", out, "--checkpoint", ckpt, "--width", W, "--height", H, "--fps", FPS,
            "--no-progress", *extra]
    rc, stdout, err = run(argv, capsys)
    return rc, stdout, err


def test_batch_over_a_folder(tmp_path, capsys, ckpt, inputs):
    out = tmp_path / "out"
    rc, stdout, err = batch(capsys, inputs, out, ckpt, "--json")
    assert rc == 1, err  # one input failed
    summary = json.loads(stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (6, 0, 1)
    by_name = {Path(f["input"]).name: f for f in summary["files"]}
    assert sorted(by_name) == ["broken.npz", "detections.json", "openpose_clip", "table.csv", "twin.csv", "twin.npz", "walk.npz"]
    assert by_name["broken.npz"]["status"] == "failed" and "broken.npz" in by_name["broken.npz"]["reason"]
    expected_dirs = {"walk": "walk", "table.csv": "table", "detections.json": "detections", "openpose_clip": "openpose_clip",
                     "twin.npz": "twin.npz", "twin.csv": "twin.csv"}
    for name, sub in expected_dirs.items():
        entry = by_name[name if "." in name or name == "openpose_clip" else name + ".npz"]
        assert entry["status"] == "done" and entry["num_frames"] == T
        assert Path(entry["out_dir"]) == out / sub
        names = sorted(p.name for p in (out / sub).iterdir())
        if name in ("detections.json", "openpose_clip"):  # may hold several people: a folder per person
            assert names[0] == "people.json" and names[1:] == [f"person_{p['track_id']}" for p in entry["people"]]
            assert all(sorted(q.name for q in (out / sub / n).iterdir()) == OUTPUTS for n in names[1:])
        else:
            assert names == OUTPUTS
    assert sorted(p.name for p in out.iterdir()) == sorted(expected_dirs.values())  # nothing for broken.npz
    # the same keypoints give the same poses whatever the file format
    with np.load(out / "walk" / "poses.npz") as a, np.load(out / "table" / "poses.npz") as b:
        np.testing.assert_allclose(a["joints_3d"], b["joints_3d"], atol=1e-5)

    # second run: complete outputs are skipped, the broken input fails again
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("poses.npz")}
    rc, stdout, err = batch(capsys, inputs, out, ckpt, "--json")
    summary = json.loads(stdout)
    assert rc == 1 and (summary["done"], summary["skipped"], summary["failed"]) == (0, 6, 1)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("poses.npz")} == stamps

    # without the broken file: exit 0; the text summary goes to stderr
    (inputs / "broken.npz").unlink()
    rc, stdout, err = batch(capsys, inputs, out, ckpt)
    assert rc == 0 and stdout == ""
    assert "0 done, 6 skipped, 0 failed" in err
    # --overwrite redoes everything
    rc, stdout, _ = batch(capsys, inputs, out, ckpt, "--overwrite", "--json")
    assert rc == 0 and json.loads(stdout)["done"] == 6
    assert all(p.stat().st_mtime_ns != stamps[p] for p in stamps)


def test_batch_reports_failures_and_incomplete_outputs(tmp_path, capsys, ckpt, inputs):
    out = tmp_path / "out"
    (inputs / "bad_joints.npz").unlink(missing_ok=True)
    np.savez(inputs / "bad_joints.npz", keypoints_2d=np.zeros((5, 15, 2)), fps=30.0, width=W, height=H)
    rc, _, err = batch(capsys, inputs, out, ckpt)
    assert rc == 1
    lines = err.splitlines()
    summary = [line for line in lines if line.startswith("infer-batch ")]
    assert len(summary) == 1 and "6 done, 0 skipped, 2 failed" in summary[0]
    assert any(line.startswith("  failed: bad_joints.npz: ") and "15 joints" in line for line in lines)
    assert any(line.startswith("  failed: broken.npz: ") for line in lines)
    assert "Traceback" not in err
    # an incomplete output folder (a file removed, or --bvh newly asked for) is not silently replaced
    (out / "walk" / "poses.csv").unlink()
    rc, stdout, _ = batch(capsys, inputs, out, ckpt, "--json")
    walk = next(f for f in json.loads(stdout)["files"] if f["input"].endswith("walk.npz"))
    assert walk["status"] == "failed" and "--overwrite" in walk["reason"]
    assert sorted(p.name for p in (out / "walk").iterdir()) == ["poses.json", "poses.npz"]
    rc, stdout, _ = batch(capsys, inputs, out, ckpt, "--json", "--bvh")
    assert all(f["status"] == "failed" for f in json.loads(stdout)["files"])


def test_batch_with_videos_and_extra_outputs(tmp_path, capsys, ckpt, monkeypatch):
    import poselift.pipeline.infer

    monkeypatch.setattr(poselift.pipeline.infer, "get_people_detector", lambda name: FakeDetector())
    folder = tmp_path / "videos"
    folder.mkdir()
    draw_video(folder / "one.mp4", figure=True)
    draw_video(folder / "two.avi", figure=True)
    write_npz_input(folder / "three.npz")
    (folder / "four.mp4").write_bytes(b"\0" * 100)
    out = tmp_path / "out"
    # --width/--height apply to keypoint inputs only (videos read their size from the file)
    rc, stdout, err = batch(capsys, folder, out, ckpt, "--json", "--bvh")
    summary = json.loads(stdout)
    assert rc == 1 and (summary["done"], summary["failed"]) == (3, 1), err
    four = next(f for f in summary["files"] if f["input"].endswith("four.mp4"))
    assert "four.mp4" in four["reason"]
    # a video may show several people: one folder per person (the fake detector finds one)
    for sub in ("one", "two"):
        assert sorted(p.name for p in (out / sub).iterdir()) == ["people.json", "person_1"]
        assert sorted(p.name for p in (out / sub / "person_1").iterdir()) == ["poses.bvh", *OUTPUTS]
    assert sorted(p.name for p in (out / "three").iterdir()) == ["poses.bvh", *OUTPUTS]


def test_batch_progress_bar_and_errors(tmp_path, capsys, ckpt, inputs):
    out = tmp_path / "out"
    rc, _, err = run(["infer-batch", inputs, "--out", out, "--checkpoint", ckpt, "--width", W, "--height", H,
                      "--fps", FPS], capsys)
    assert rc == 1 and "infer-batch: " in err and "file" in err  # tqdm bar over files on stderr
    # errors that stop the batch before it starts: exit 2, one line, nothing written
    rc, _, err = run(["infer-batch", tmp_path / "missing", "--out", tmp_path / "o"], capsys)
    assert_one_line_error(rc, err, "missing", "does not exist")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.md").write_text("x")
    rc, _, err = run(["infer-batch", tmp_path / "nothing", "--out", tmp_path / "o"], capsys)
    assert_one_line_error(rc, err, "nothing", "contains no inputs")
    rc, _, err = run(["infer-batch", inputs, "--out", tmp_path / "o", "--checkpoint", tmp_path / "none.pt"], capsys)
    assert_one_line_error(rc, err, "none.pt", "does not exist")
    assert not (tmp_path / "o").exists()
    rc, _, err = run(["infer-batch", inputs / "walk.npz", "--out", tmp_path / "o"], capsys)
    assert_one_line_error(rc, err, "walk.npz", "not a folder")
    # an output folder inside the input folder is not taken for an input
    inner = inputs / "results"
    rc, stdout, _ = run(["infer-batch", inputs, "--out", inner, "--checkpoint", ckpt, "--width", W, "--height", H,
                         "--fps", FPS, "--no-progress", "--json"], capsys)
    rc, stdout, _ = run(["infer-batch", inputs, "--out", inner, "--checkpoint", ckpt, "--width", W, "--height", H,
                         "--fps", FPS, "--no-progress", "--json"], capsys)
    assert all(not f["input"].endswith("results") for f in json.loads(stdout)["files"])
    shutil.rmtree(inner)


def test_batch_help_lists_the_shared_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["infer-batch", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--out", "--checkpoint", "--overwrite", "--fps", "--width", "--height", "--bvh", "--render", "--no-flip",
                "--json", "--no-progress"):
        assert opt in text, opt
