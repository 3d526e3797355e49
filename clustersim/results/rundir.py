"""Run directories on disk: every file written atomically (temp file + rename).

Layout of a run directory::

    config.json         resolved scenario, seed, clustersim version (written first)
    jobs.parquet        one row per job
    timeseries.parquet  cluster levels as a step function
    events.parquet      failures, repairs, deliveries, ... (empty when none)
    <table>.parquet     a component's own table (services.parquet)
    rejected_rows.csv   replay: trace rows that could not be used
    summary.json        summary numbers (written last: its presence marks a complete run)

A run that fails or is killed part-way leaves ``config.json`` and no ``summary.json``, never a
half-written file: every result file, ``rejected_rows.csv`` included, is written before the
summary. Before a new run starts in a folder holding an earlier run (a ``config.json``), that
run's summary is removed first, then the result and report files it may have left (so a
finished run never sits beside another run's tables).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from clustersim import __version__
from clustersim.errors import ClusterSimError

RUN_FILES = ("config.json", "jobs.parquet", "timeseries.parquet", "events.parquet", "summary.json")
STALE_FILES = (
    "jobs.parquet", "timeseries.parquet", "events.parquet", "services.parquet", "requests.parquet",
    "rejected_rows.csv",
    "report.md", "report.html",
)


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


ROW_GROUP = 1_000_000
"""Rows converted and written at a time: a long table is never copied whole into Arrow."""


def write_frame(path: Path, frame) -> None:
    """``frame`` as parquet. Up to ``ROW_GROUP`` rows in one go (the same bytes pandas writes);
    longer tables slice by slice into row groups of one file, so writing a 10-million-job run
    holds one slice's Arrow copy at a time, not the whole table's."""
    if len(frame) <= ROW_GROUP:
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
        return

    def write(tmp: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        first = pa.Table.from_pandas(frame.iloc[:ROW_GROUP], preserve_index=False)
        with pq.ParquetWriter(tmp, first.schema) as writer:
            writer.write_table(first)
            del first
            for start in range(ROW_GROUP, len(frame), ROW_GROUP):
                part = pa.Table.from_pandas(frame.iloc[start:start + ROW_GROUP], preserve_index=False)
                writer.write_table(part.cast(writer.schema) if part.schema != writer.schema else part)
                del part
                pa.default_memory_pool().release_unused()

    atomic_write(path, write)


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
        if run_dir.exists() and not run_dir.is_dir():
            raise ClusterSimError(f"{run_dir}: is a file; the run directory must be a folder (see --out)")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").unlink(missing_ok=True)
        if (run_dir / "config.json").is_file():  # an earlier run's folder: its files go too
            for name in STALE_FILES:
                (run_dir / name).unlink(missing_ok=True)
        write_json(run_dir / "config.json", config_record(scenario, seed))
    except OSError as err:
        raise ClusterSimError(f"{run_dir}: cannot write the run directory ({err.strerror or err})") from None


def write_run(run_dir: Path, result, rejected=None) -> None:
    """Write a RunResult's tables (and a replay's ``rejected`` rows, when there are any), then
    its summary (last)."""
    from concurrent.futures import ThreadPoolExecutor

    run_dir = Path(run_dir)
    tables = [("jobs", result.jobs), ("timeseries", result.timeseries), ("events", result.events),
              *getattr(result, "extra_tables", {}).items()]
    try:
        # Arrow encodes and compresses without the GIL, so two tables are written at once (the
        # job table, the longest, beside the others); each file's bytes are the same either way
        with ThreadPoolExecutor(2, thread_name_prefix="write-run") as pool:
            writes = [pool.submit(write_frame, run_dir / f"{name}.parquet", frame) for name, frame in tables]
        for done in writes:  # all have ended: raise the first failure
            done.result()
        if rejected is not None and len(rejected):
            write_csv(run_dir / "rejected_rows.csv", rejected)
        write_json(run_dir / "summary.json", result.summary)
        import pyarrow as pa

        pa.default_memory_pool().release_unused()  # the tables' Arrow copies are written: give the pages back
    except OSError as err:
        raise ClusterSimError(f"{run_dir}: cannot write results ({err.strerror or err})") from None
