"""Run directories on disk: every file written atomically (temp file + rename).

Layout of a run directory::

    config.json         resolved scenario, seed, clustersim version (written first)
    jobs.parquet        one row per job
    timeseries.parquet  cluster levels as a step function
    events.parquet      failures, repairs, deliveries, ... (empty when none)
    summary.json        summary numbers (written last: its presence marks a complete run)

A run that fails part-way leaves ``config.json`` and no ``summary.json``, never a half-written
file; the summary of an earlier run in the same folder is removed before a new run starts.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from clustersim import __version__
from clustersim.errors import ClusterSimError

RUN_FILES = ("config.json", "jobs.parquet", "timeseries.parquet", "events.parquet", "summary.json")


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def write_frame(path: Path, frame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def config_record(scenario, seed: int) -> dict:
    return {
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "seed": seed,
        "clustersim_version": __version__,
    }


def begin_run(run_dir: Path, scenario, seed: int) -> None:
    """Prepare ``run_dir`` for a new run: drop an old summary, write the resolved config."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").unlink(missing_ok=True)
        write_json(run_dir / "config.json", config_record(scenario, seed))
    except OSError as err:
        raise ClusterSimError(f"{run_dir}: cannot write the run directory ({err.strerror})") from None


def write_run(run_dir: Path, result) -> None:
    """Write a RunResult's tables, then its summary (last)."""
    run_dir = Path(run_dir)
    try:
        write_frame(run_dir / "jobs.parquet", result.jobs)
        write_frame(run_dir / "timeseries.parquet", result.timeseries)
        write_frame(run_dir / "events.parquet", result.events)
        for name, frame in getattr(result, "extra_tables", {}).items():
            write_frame(run_dir / f"{name}.parquet", frame)
        write_json(run_dir / "summary.json", result.summary)
    except OSError as err:
        raise ClusterSimError(f"{run_dir}: cannot write results ({err.strerror})") from None
