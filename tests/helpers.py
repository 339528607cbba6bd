"""Small helpers shared by several test modules (import as ``from helpers import ...``)."""

from __future__ import annotations

import numpy as np

from poselift.cli import main


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation matrix ``[3, 3]`` (det +1)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """``poselift ARGV`` in-process: exit code, stdout, stderr."""
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def assert_one_line_error(rc: int, err: str, *needles) -> None:
    """A user error: exit code 2, no traceback, one ``poselift: error: ...`` line (log lines at
    INFO aside) that contains every needle."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1 and lines[0].startswith("poselift: error: "), err
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
