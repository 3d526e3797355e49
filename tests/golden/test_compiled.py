"""The compiled build (``CLUSTERSIM_COMPILE=1``, see setup.py) gives byte-identical outputs.

The test compiles the engine's hot modules with mypyc into a copy of the package (skipped
when mypy or a C compiler is missing; the test extra installs mypy), then runs scenarios with
the copy's compiled modules and with its .py files alone, and compares the four result files
byte for byte. The scenarios cover every path the compiled modules take: the three policies
that are compiled (EASY, FIFO's strict pass, conservative backfilling under overload and
failures), failures with checkpoints, teams with reclaim, power capping, GPU supply with
typed pools, a topology with maintenance, inference services, and a trace replay. ``CLUSTERSIM_COMPILED_ONLY=all`` runs every scenario of
``seeds/`` and ``workloads/itp/``; ``=a,b`` those file stems.

When the imported ``clustersim`` is itself the compiled build (installed with
``CLUSTERSIM_COMPILE=1``), that build is compared with its own .py files instead.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import clustersim
import clustersim.engine.core

REPO = Path(__file__).resolve().parents[2]
FILES = ("jobs.parquet", "summary.json", "timeseries.parquet", "events.parquet")
SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
INSTALLED_COMPILED = clustersim.engine.core.__file__.endswith(SUFFIXES)
DEFAULT = (
    "seeds/lingang-4000.yaml",
    "seeds/lingang-4000-failures.yaml",
    "seeds/lingang-4000-teams.yaml",
    "seeds/lingang-4000-power-capping.yaml",
    "seeds/lingang-4000-growth.yaml",
    "seeds/lingang-4000-topology.yaml",
    "seeds/lingang-4000-chat.yaml",
    "workloads/itp/cluster01.yaml",
    "tests/data/core/conservative-overload.yaml",
    "tests/data/core/las-overload.yaml",
    "tests/data/core/srtf-overload.yaml",
)


def scenarios() -> list[Path]:
    only = os.environ.get("CLUSTERSIM_COMPILED_ONLY", "")
    if only == "all":
        return sorted((REPO / "seeds").glob("*.yaml")) + sorted((REPO / "workloads" / "itp").glob("*.yaml"))
    if only:
        found = sorted((REPO / "seeds").glob("*.yaml")) + sorted((REPO / "workloads" / "itp").glob("*.yaml"))
        return [p for p in found if p.stem in only.split(",")]
    return [REPO / p for p in DEFAULT if (REPO / p).exists()]


def run(path: Path, out: Path, package_root: Path) -> None:
    """The CLI on ``path`` with ``clustersim`` imported from ``package_root`` (first on the path)."""
    code = (f"import sys; sys.path.insert(0, {str(package_root)!r}); sys.argv[0] = 'clustersim'; "
            "from clustersim.cli.app import main; main()")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", str(path.relative_to(REPO)), "--out", str(out), "--no-report"],
        capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def _copy_package(dest: Path, source: Path) -> None:
    shutil.copytree(source, dest / "clustersim", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> tuple[Path, Path]:
    """(pure, compiled): two directories, each holding a ``clustersim`` package."""
    pure = tmp_path_factory.mktemp("pure")
    _copy_package(pure, Path(clustersim.__file__).parent)
    if INSTALLED_COMPILED:
        return pure, Path(clustersim.__file__).parents[1]
    if importlib.util.find_spec("mypyc") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("mypy (mypyc) or setuptools is not installed: pip install -e '.[test]'")
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    built = tmp_path_factory.mktemp("compiled")
    _copy_package(built, REPO / "clustersim")
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, built / name)
    shutil.copytree(REPO / "build_support", built / "build_support")
    env = {**os.environ, "CLUSTERSIM_COMPILE": "1"}
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=built, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert list((built / "clustersim" / "engine").glob("core*" + SUFFIXES[0])), "core was not compiled"
    return pure, built


@pytest.mark.parametrize("path", scenarios(), ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_compiled_matches_pure(path: Path, trees: tuple[Path, Path], tmp_path: Path) -> None:
    pure, compiled = trees
    run(path, tmp_path / "pure", pure)
    run(path, tmp_path / "compiled", compiled)
    for name in FILES:
        a, b = tmp_path / "pure" / name, tmp_path / "compiled" / name
        assert a.exists() == b.exists(), name
        if a.exists():
            assert a.read_bytes() == b.read_bytes(), f"{path.stem}/{name} differs"
