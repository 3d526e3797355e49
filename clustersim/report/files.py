"""Reading a run directory into a :class:`~clustersim.report.model.Run`, and writing report
files atomically. Every failure is a ClusterSimError naming the path and what is wrong."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from clustersim.errors import ClusterSimError
from clustersim.report.model import Run

RUN_FILES = ("config.json", "summary.json", "jobs.parquet", "timeseries.parquet")
JOB_COLUMNS = ("job_class", "num_gpus", "submit_s", "start_s", "state")
TIMESERIES_COLUMNS = ("t_s", "busy_gpus", "up_gpus", "queued_jobs", "queued_gpus")
UNUSED_JOB_COLUMNS = ("job_id", "reason", "restarts", "lost_s", "overhead_s", "useful_s", "gpu_request")
"""Job columns no section reads: left on disk, so a 10-million-job report holds less."""


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file holding an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ClusterSimError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterSimError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ClusterSimError(f"{path}: expected a JSON object at the top level")
    return data


def read_parquet(path: Path, columns: tuple[str, ...], text_columns: tuple[str, ...] = (), skip: tuple[str, ...] = ()):
    """A parquet file as a DataFrame with ``columns`` present: ``text_columns`` as str, the
    others as float (unparsable values become NaN). Columns in ``skip`` are not read. The
    Arrow table is handed to pandas column by column (``self_destruct``), so a big file is
    not held twice while it is converted."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[n for n in names if n not in skip])
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        pa.default_memory_pool().release_unused()  # the pool keeps the freed pages otherwise
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise ClusterSimError(f"{path}: cannot read as parquet ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ClusterSimError(
            f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(columns)})"
        )
    for column in columns:
        if column in text_columns:
            frame[column] = frame[column].astype(str)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read a run directory, or raise ClusterSimError naming the path and what is wrong."""
    root = Path(run_dir)
    expected = f"a run directory holds {', '.join(RUN_FILES)}"
    if not root.exists():
        raise ClusterSimError(f"{root}: no such directory ({expected})")
    if not root.is_dir():
        raise ClusterSimError(f"{root}: not a directory ({expected})")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if len(missing) == len(RUN_FILES):
        raise ClusterSimError(f"{root}: not a run directory ({expected}; found none of them)")
    if "summary.json" in missing and (root / "config.json").is_file():
        raise ClusterSimError(
            f"{root}: incomplete run: config.json is there but summary.json is not (it is written "
            "last), so the run stopped or was killed before it finished; run it again"
        )
    if missing:
        raise ClusterSimError(f"{root / missing[0]}: missing ({expected})")
    jobs = read_parquet(root / "jobs.parquet", JOB_COLUMNS, text_columns=("job_class", "state"), skip=UNUSED_JOB_COLUMNS)
    if "wait_s" in jobs.columns:
        import pandas as pd

        jobs["wait_s"] = pd.to_numeric(jobs["wait_s"], errors="coerce").astype(float)
    timeseries = read_parquet(root / "timeseries.parquet", TIMESERIES_COLUMNS)
    if not timeseries["t_s"].is_monotonic_increasing:  # as written by the engine it is sorted
        timeseries = timeseries.sort_values("t_s", kind="stable").reset_index(drop=True)
    return Run(
        dir=root,
        config=read_json(root / "config.json"),
        summary=read_json(root / "summary.json"),
        jobs=jobs,
        timeseries=timeseries,
    )


def read_optional_table(run_dir: Path, name: str):
    """``run_dir/name`` (a component's parquet table) as a DataFrame, or None when it is
    missing or unreadable: sections that show it then leave it out."""
    import pandas as pd

    path = Path(run_dir) / name
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``, so
    readers never see half a file. Errors become ClusterSimError naming the path."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ClusterSimError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ClusterSimError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_figure(run: Run, name: str, png: bytes | None) -> Path | None:
    """Write ``figures/NAME.png`` (or remove a stale one when ``png`` is None)."""
    path = run.figures_dir / f"{name}.png"
    if png is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    write_atomic(path, png)
    return path
