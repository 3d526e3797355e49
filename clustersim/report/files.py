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


class Table:
    """A parquet table as pyarrow read it, for sections to take as numpy columns or as a
    pandas DataFrame.

    The core sections need a few columns as arrays, and importing pandas alone takes about a
    quarter of a second, so the DataFrame is made only when a section asks for it
    (:meth:`frame`): a report of the core sections never imports pandas. The values are the
    same either way: the ``numbers`` columns are floats (unparsable values NaN) and the
    ``texts`` columns str, converted as pandas converts them.
    """

    def __init__(self, arrow, numbers: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
        self.columns: list[str] = list(arrow.column_names)
        self._arrow = arrow
        self._frame = None
        self._texts = tuple(c for c in texts if c in self.columns)
        self._numbers = tuple(c for c in numbers if c in self.columns and c not in texts)
        self._arrays: dict[tuple[str, bool], Any] = {}

    def numbers(self, name: str):
        """Column ``name`` as a float64 array, as ``pd.to_numeric(errors="coerce")`` makes it."""
        return self._array(name, text=False)

    def texts(self, name: str):
        """Column ``name`` as an object array of str, as pandas' ``astype(str)`` makes it
        (missing values stay missing)."""
        return self._array(name, text=True)

    def column(self, name: str):
        """Column ``name`` as the loader converts it: :meth:`texts` for its text columns,
        :meth:`numbers` for the others."""
        return self._array(name, text=name in self._texts)

    def _array(self, name: str, text: bool):
        if (name, text) not in self._arrays:
            if self._frame is not None:
                array = _from_series(self._frame[name], text)
            else:
                array = _from_arrow(self._arrow.column(name), text)
            self._arrays[name, text] = array
        return self._arrays[name, text]

    def sorted_by(self, name: str) -> Table:
        """This table, or when its rows are not in order by the number column ``name``, a new
        one with them stably sorted by it (missing values last). Call before :meth:`frame`."""
        import numpy as np

        key = self.numbers(name)
        if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):  # a NaN is never in order
            return self
        return Table(self._arrow.take(np.argsort(key, kind="stable")), self._numbers, self._texts)

    def frame(self):
        """The table as a pandas DataFrame, made on the first call. The Arrow table is handed
        to pandas column by column (``self_destruct``) and the arrays taken from it so far are
        let go (later ones come from the frame), so a big table is not held twice."""
        if self._frame is None:
            import pandas as pd
            import pyarrow as pa

            self._arrays.clear()
            frame = self._arrow.to_pandas(self_destruct=True, split_blocks=True)
            self._arrow = None
            pa.default_memory_pool().release_unused()  # the pool keeps the freed pages otherwise
            for column in self._texts:
                frame[column] = frame[column].astype(str)
            for column in self._numbers:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
            self._frame = frame
        return self._frame


def _from_arrow(column, text: bool):
    """A pyarrow column as :meth:`Table.numbers` or :meth:`Table.texts` gives it: read straight
    from Arrow's buffers for the number and string columns clustersim writes (no missing
    values), through pandas for anything else. (pyarrow's own ``to_numpy`` imports pandas.)"""
    import numpy as np

    parts = []
    for chunk in column.chunks:  # a chunk per row group
        part = _chunk_texts(chunk) if text else _chunk_numbers(chunk)
        if part is None:
            return _from_series(column.to_pandas(), text)
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.array([], dtype=object if text else float)


def _chunk_numbers(chunk):
    """An integer or floating-point Arrow array without missing values as float64 (the array
    itself, read-only, when it is float64 already); None for anything else."""
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_integer(chunk.type) or pa.types.is_floating(chunk.type)):
        return None
    if not chunk.null_count:
        return np.from_dlpack(chunk).astype(float, copy=False)
    # missing values (a replay's recorded waits, say) become NaN, as pandas makes them: read
    # from the buffers, since pyarrow's fill_null and to_numpy import pandas
    dtype = _NUMPY_OF.get(str(chunk.type))
    validity, data = chunk.buffers()[:2]
    if dtype is None or validity is None or data is None:
        return None
    lo, hi = chunk.offset, chunk.offset + len(chunk)
    values = np.frombuffer(data, dtype=dtype, count=hi)[lo:].astype(float)
    valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[lo:hi].astype(bool)
    values[~valid] = np.nan
    return values


_NUMPY_OF = {  # Arrow's numeric type names -> numpy's
    "double": "float64", "float": "float32", "halffloat": "float16",
    **{f"{s}int{b}": f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)},
}


def _chunk_texts(chunk):
    """A string or dictionary-of-strings Arrow array without missing values as an object
    array of str; None for anything else."""
    import numpy as np
    import pyarrow as pa

    if chunk.null_count:
        return None
    if pa.types.is_dictionary(chunk.type):
        words = chunk.dictionary
        if words.null_count or not (pa.types.is_string(words.type) or pa.types.is_large_string(words.type)):
            return None
        return np.array(words.to_pylist(), dtype=object)[np.from_dlpack(chunk.indices)]
    if pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
        return np.array(chunk.to_pylist(), dtype=object)
    return None


def _from_series(series, text: bool):
    """A pandas column converted as :meth:`Table.frame` converts it, as a numpy array."""
    import pandas as pd

    if text:
        return series.astype(str).to_numpy()
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def read_table(path: Path, columns: tuple[str, ...], text_columns: tuple[str, ...] = (),
               skip: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> Table:
    """A parquet file as a :class:`Table` with ``columns`` present: ``text_columns`` as str,
    the others, and ``also`` where present, as float (unparsable values become NaN). Columns
    in ``skip`` are not read."""
    import pyarrow.parquet as pq

    try:  # ParquetFile rather than read_table: pyarrow's dataset layer would import pandas
        parquet = pq.ParquetFile(path)
        arrow = parquet.read(columns=[n for n in parquet.schema_arrow.names if n not in skip])
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise ClusterSimError(f"{path}: cannot read as parquet ({exc})") from None
    missing = [c for c in columns if c not in arrow.column_names]
    if missing:
        raise ClusterSimError(
            f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(columns)})"
        )
    return Table(arrow, numbers=columns + also, texts=text_columns)


def read_parquet(path: Path, columns: tuple[str, ...], text_columns: tuple[str, ...] = (), skip: tuple[str, ...] = ()):
    """A parquet file as a DataFrame with ``columns`` present: ``text_columns`` as str, the
    others as float (unparsable values become NaN). Columns in ``skip`` are not read."""
    return read_table(path, columns, text_columns, skip).frame()


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
    jobs = read_table(root / "jobs.parquet", JOB_COLUMNS, text_columns=("job_class", "state"),
                      skip=UNUSED_JOB_COLUMNS, also=("wait_s",))
    timeseries = read_table(root / "timeseries.parquet", TIMESERIES_COLUMNS)
    return Run(
        dir=root,
        config=read_json(root / "config.json"),
        summary=read_json(root / "summary.json"),
        job_table=jobs,
        series_table=timeseries.sorted_by("t_s"),  # as written by the engine it is sorted
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
