"""Report-specific import rules (tests/test_layers.py checks cycles and sizes repo-wide)."""

from __future__ import annotations

import ast
from pathlib import Path

import clustersim.report
from clustersim.report.sections import SECTIONS

PACKAGE = Path(clustersim.report.__file__).parent
FORBIDDEN = ("clustersim.engine", "clustersim.cli", "clustersim.planning")
# Inside the report, a module imports only lower floors and its own subpackage.
FLOORS = {"format": 0, "model": 1, "files": 2, "series": 2, "html": 2, "analysis": 3,
          "figures": 3, "sections": 4, "build": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function; ``from X import y``
    counts as ``X.y`` when that is a module of the package, else as ``X``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in MODULES else node.module)
    return out


def test_the_report_never_imports_the_simulator_the_cli_or_planning():
    for name, path in MODULES.items():
        bad = sorted(m for m in imports(path) if m.startswith(FORBIDDEN))
        assert not bad, f"{name} imports {bad}"


def test_report_modules_import_only_lower_floors():
    def part(module: str) -> str:
        return module.split(".")[2]

    for name, path in MODULES.items():
        if name == "clustersim.report":
            continue
        for other in imports(path):
            if other in MODULES and other != "clustersim.report" and part(other) != part(name):
                assert FLOORS[part(other)] < FLOORS[part(name)], f"{name} imports {other}"


def test_sections_import_neither_the_registry_nor_the_builder():
    for name, path in MODULES.items():
        if name.startswith("clustersim.report.sections."):
            bad = {"clustersim.report.sections", "clustersim.report.build"} & imports(path)
            assert not bad, f"{name} imports {sorted(bad)}"


def test_registry_lists_section_builders_with_the_glossary_last():
    modules = [spec.build.__module__ for spec in SECTIONS]
    assert all(m.startswith("clustersim.report.sections.") for m in modules)
    assert len(set(modules)) == len(modules)
    assert modules[-1] == "clustersim.report.sections.glossary"
    assert modules[:3] == ["clustersim.report.sections.title", "clustersim.report.sections.headline",
                           "clustersim.report.sections.summary"]
