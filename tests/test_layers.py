"""The house rules, read from the source with ``ast``: imports only go down the layers, the
report never sees the engine, only the engine imports SimPy, no module imports itself back
through a circle, and no module grows past the size where it should be split.

Every import counts, including those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clustersim"

# Lower number = lower floor. A module may import its own package and anything on a lower floor.
FLOORS = {
    "ground": 0,  # units, rng, errors, model, checkpoint (top-level modules)
    "config": 1,
    "results": 2,
    "workload": 3,
    "engine": 4,
    "report": 5,
    "planning": 6,
    "cli": 7,
    "__main__": 8,
}
FORBIDDEN = {("report", "engine"), ("report", "workload"), ("report", "planning")}
MAX_LINES = 400


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "ground"  # the package's own __init__
    if parts[1] in FLOORS:
        return parts[1]
    return "ground"


def _in_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            return True
    return False


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every clustersim module (and simpy) that ``path`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            if all(s in MODULES for s in subs):  # ``from clustersim.x import y``, y a module
                found += [(node.lineno, s) for s in subs]
            else:
                found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "simpy" or m.startswith(("clustersim", "simpy."))]


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def test_imports_only_go_down_the_floors():
    bad = []
    for name, found in GRAPH.items():
        here = layer(name)
        for line, target in found:
            if not target.startswith("clustersim"):
                continue
            there = layer(target)
            if there == here:
                continue
            if FLOORS[there] > FLOORS[here] or (here, there) in FORBIDDEN:
                bad.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} ({here}) imports {target} ({there})")
    assert not bad, "upward or forbidden imports:\n" + "\n".join(bad)


def test_only_the_engine_imports_simpy():
    bad = [
        f"{name}:{line}"
        for name, found in GRAPH.items()
        for line, target in found
        if target.split(".")[0] == "simpy" and layer(name) != "engine"
    ]
    assert not bad, bad


def test_no_import_circles():
    graph = {n: {t for _, t in found if t in MODULES and t != n} for n, found in GRAPH.items()}
    # a package's __init__ importing its own submodules is how a package shows its face; a
    # submodule importing the package's __init__ back would close a circle, so both count
    index, low, stack, on, circles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_past_the_split_size(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)} has {lines} lines (split it)"


def test_every_package_says_what_it_owns_and_may_import():
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name.count(".") == 1:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "import" in doc.lower() and len(doc) > 80, f"{name}: docstring must say what it owns and may import"


def test_every_package_is_installed():
    """A subpackage missing from pyproject's list works in a checkout and fails installed."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


def test_the_rules_catch_what_they_are_for():
    """The checks themselves: an upward import and a circle are found in a made-up graph."""
    assert FLOORS[layer("clustersim.engine.core")] > FLOORS[layer("clustersim.config.scenario")]
    assert layer("clustersim.units") == "ground" and layer("clustersim.report.build") == "report"
    assert ("report", "engine") in FORBIDDEN


def test_the_cli_starts_without_the_heavy_libraries():
    """``clustersim --help`` must start fast (issue 11: <= 0.3 s): importing the CLI may not pull
    in numpy, pandas, pyarrow, pydantic, matplotlib or simpy; each command imports what it needs
    inside its function. Checked in a fresh interpreter, so other tests' imports do not count."""
    import subprocess
    import sys

    heavy = ("numpy", "pandas", "pyarrow", "pydantic", "matplotlib", "simpy", "yaml")
    code = ("import sys, clustersim.cli.app; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at CLI start-up: {out.stdout.strip()}"
