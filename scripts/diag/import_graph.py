"""Structure figures of the poselift package: modules, largest file, import graph depth,
import circles and function-local poselift imports (issue 23's before/after table).

    python scripts/diag/import_graph.py [src/poselift]

Reads the source with :mod:`ast` only (nothing is imported). Every ``import``/``from``
statement counts, wherever it stands; an edge ``a -> b`` means module ``a`` imports
module ``b`` (a package's ``__init__`` counts as the package). Depth is the number of
modules on the longest import chain once circles are merged into one node.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(node: ast.AST, current: str, is_package: bool, known: set[str]) -> list[str]:
    """poselift modules that ``node`` (an Import/ImportFrom) imports."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = current if is_package else current.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{a.name}" for a in node.names] + [base]
    found = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name.startswith("poselift"):
            found.append(name)
    return found


def scan(root: Path) -> dict:
    files = sorted(p for p in root.rglob("*.py"))
    modules = {module_name(p, root): p for p in files}
    known = set(modules)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    local_imports: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and imported_modules(node, name, is_package, known):
                        local_imports.append(f"{path.relative_to(root.parent)}:{node.lineno}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in imported_modules(node, name, is_package, known):
                    if target != name and not name.startswith(target + "."):
                        edges[name].add(target)
    return {"modules": modules, "edges": edges, "local_imports": sorted(set(local_imports))}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative enough for a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            result.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return result


def depth(edges: dict[str, set[str]], components: list[list[str]]) -> int:
    owner = {m: i for i, comp in enumerate(components) for m in comp}
    memo: dict[int, int] = {}

    def longest(c: int) -> int:
        if c not in memo:
            below = {owner[w] for m in components[c] for w in edges[m]} - {c}
            memo[c] = 1 + max((longest(b) for b in below), default=0)
        return memo[c]

    return max(longest(c) for c in range(len(components)))


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "src/poselift").resolve()
    info = scan(root)
    modules = info["modules"]
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules.items()}
    largest = max(sizes, key=sizes.get)
    components = strongly_connected(info["edges"])
    circles = [c for c in components if len(c) > 1]
    print(f"modules (.py files): {len(modules)}")
    print(f"lines: {sum(sizes.values())}; largest file: {modules[largest].relative_to(root.parent)} ({sizes[largest]} lines)")
    print(f"import graph depth (modules on the longest chain): {depth(info['edges'], components)}")
    print(f"import circles: {len(circles)}" + "".join(f"\n  {' <-> '.join(c)}" for c in circles))
    print(f"function-local poselift imports: {len(info['local_imports'])}")
    for where in info["local_imports"]:
        print(f"  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
