"""The workload layer imports config, results and the ground floor only (never the engine,
report, planning or cli, not even lazily), and importing it does not load pandas, pyarrow or
matplotlib: those come with the first trace read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import clustersim.workload

PACKAGE = Path(clustersim.workload.__file__).parent
ABOVE = ("engine", "report", "planning", "cli")
HEAVY = ("pandas", "pyarrow", "matplotlib")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement in ``path`` names, at any depth (lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_workload_imports_nothing_above_it():
    upward = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] == "clustersim" and len(name.split(".")) > 1 and name.split(".")[1] in ABOVE
    }
    assert not upward, sorted(upward)


def test_importing_workload_does_not_load_heavy_libraries():
    code = f"import sys, clustersim.workload; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_native_reader_and_adapters_agree_on_the_required_columns():
    from clustersim.workload.adapters import NATIVE_COLUMNS
    from clustersim.workload.native import NATIVE_REQUIRED

    assert NATIVE_COLUMNS[: len(NATIVE_REQUIRED)] == NATIVE_REQUIRED
