"""`python -m build` makes a wheel and an sdist that hold the package and its weights; the
sdist installs into a fresh venv outside the checkout and `poselift infer` runs there with
the bundled weights (slow: creates venvs and installs every dependency, at the tested
versions of constraints.txt).

Run: `make test-slow` or `pytest -m slow tests/test_wheel_install.py -s` (prints the log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from test_pipeline import draw_video

ROOT = Path(__file__).resolve().parents[1]
DEMO_VIDEO = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"


def _run(cmd: list[str], cwd: Path, log: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    log.append(f"$ {' '.join(str(c) for c in cmd)}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    assert proc.returncode == 0, "\n".join(log[-1:])
    return proc


@pytest.mark.slow
def test_wheel_and_sdist_build_and_the_sdist_installs_in_a_fresh_venv_and_infers(tmp_path):
    log: list[str] = []
    dist = tmp_path / "dist"
    builder = tmp_path / "builder"  # `build` in a venv of its own (not a project dependency)
    _run([sys.executable, "-m", "venv", builder], tmp_path, log)
    _run([builder / "bin" / "pip", "install", "-q", "build"], tmp_path, log)
    _run([builder / "bin" / "python", "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT], tmp_path, log)
    wheel, sdist = next(dist.glob("poselift-*.whl")), next(dist.glob("poselift-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "poselift/weights/poselift_wild.pt" in names and "poselift/weights/poselift_wild_causal.pt" in names
    assert not any(n.startswith(("tests/", "docs/", "scripts/")) for n in names)
    assert wheel.stat().st_size < 20e6
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    top = members[0].split("/")[0]
    for needed in ("pyproject.toml", "README.md", "src/poselift/weights/poselift_wild.pt",
                   "src/poselift/weights/poselift_wild_causal.pt", "src/poselift/pipeline/infer.py"):
        assert f"{top}/{needed}" in members, needed
    assert not any(m.startswith((f"{top}/runs/", f"{top}/build/", f"{top}/.venv/")) for m in members)

    # the sdist installs (pip builds a wheel from it) into a fresh venv outside the checkout
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path, log)
    pip, python = venv / "bin" / "pip", venv / "bin" / "python"
    _run([pip, "install", "-q", "torch==2.13.0"], tmp_path, log)  # the CPU wheel first, as the Makefile does
    _run([pip, "install", "-q", "-c", ROOT / "constraints.txt", sdist], tmp_path, log)
    where = _run([python, "-c", "import poselift; print(poselift.__file__)"], tmp_path, log).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout

    video = DEMO_VIDEO if DEMO_VIDEO.is_file() else draw_video(tmp_path / "figure.mp4", figure=True)
    out = tmp_path / "out"
    proc = _run([venv / "bin" / "poselift", "infer", video, "--out", out, "--no-progress", "--json"], tmp_path, log)
    summary = json.loads(proc.stdout)
    assert summary["checkpoint"] == "bundled" and summary["frames_with_person"] > 0
    # a video may show several people: one folder per person, listed in people.json
    people = json.loads((out / "people.json").read_text())["people"]
    written = [p["folder"] for p in people if p["written"]]
    assert written and all({"poses.npz", "poses.json", "poses.csv"} <= {f.name for f in (out / w).iterdir()} for w in written)
    print("\n\n".join(log))
