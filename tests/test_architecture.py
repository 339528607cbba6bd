"""The architecture rules of docs/architecture.md hold.

* The import-linter contracts in pyproject.toml (layers point down; argparse only in
  ``cli``; viz fed arrays; errors/version import nothing) are all kept.
* No function-local poselift imports: every dependency is visible at the top of its
  module (heavy optional third-party packages such as mediapipe, cv2 and onnx may still
  be imported where they are used).
* Library errors speak of arguments and config fields, never of command-line flags:
  no ``PoseliftError`` message outside ``poselift.cli`` contains ``--flag``.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import poselift

PACKAGE = Path(poselift.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
LAYERS = ("geometry", "io", "data", "models", "training", "evaluation", "viz", "pipeline", "tools", "cli")
FLAG = re.compile(r"(?<![\w-])--(?:[a-z][a-z0-9-]*|\{)")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _function_local_poselift_imports(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "poselift":
                lines.append(node.lineno)
            elif isinstance(node, ast.ImportFrom) and node.level:
                lines.append(node.lineno)
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "poselift" for a in node.names):
                lines.append(node.lineno)
    return sorted(set(lines))


def _message_strings(node: ast.AST) -> list[str]:
    """The literal text of a message expression (plain strings and f-string parts)."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.append(sub.value)
    return out


def _flag_mentions_in_errors(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE.parent) else path.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "PoseliftError":
            for arg in node.args:
                for text in _message_strings(arg):
                    for flag in FLAG.findall(text):
                        found.append(f"{where}:{node.lineno}: {flag}")
    return found


def test_every_module_lives_in_a_layer():
    stray = [p.name for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__", "errors", "version")]
    assert not stray, f"modules outside the layer folders: {stray} (see docs/architecture.md)"
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(LAYERS)


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is missing: `make test` installs it (pip install -e '.[test]')"
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_function_local_poselift_imports():
    found = [f"{p.relative_to(PACKAGE.parent)}:{line}" for p in _modules() for line in _function_local_poselift_imports(p)]
    assert not found, "import these at the top of the module instead: " + ", ".join(found)


def test_library_errors_name_arguments_not_flags():
    found = [hit for p in _modules() if "cli" not in p.relative_to(PACKAGE).parts for hit in _flag_mentions_in_errors(p)]
    assert not found, "library errors should name the argument as `name` (the CLI maps it to its flag): " + "; ".join(found)


def test_checks_see_violations(tmp_path):
    """The checks above find what they look for (so that a green run means something)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from poselift.errors import PoseliftError\n"
        "def f(x):\n"
        "    from poselift.geometry import camera\n"
        "    raise PoseliftError(f'--max-gap must be >= 0, got {x}')\n"
    )
    assert _function_local_poselift_imports(bad) == [3]
    assert _flag_mentions_in_errors(bad) == ["bad.py:4: --max-gap"]
    assert FLAG.findall("pass --overwrite to replace it") == ["--overwrite"]
    assert FLAG.findall("`max_gap` must be >= 0 (range 1--5)") == []
