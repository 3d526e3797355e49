"""The native trace format: reading it (CSV or Parquet) and turning its rows into JobSpecs.

A native trace has the columns ``job_id, submit_s, num_gpus, duration_s`` and optionally
``job_class, user, gpu_type, priority``. :func:`read_native` reads one into a (jobs, rejected)
pair of DataFrames; :func:`trace_jobs` turns a native-schema frame (from here or from any
adapter) into a lazy JobSpec stream. pandas and pyarrow are imported only when a file is read.

``priority`` is the job's priority for tenancy (higher first), a whole number within
+-``MAX_PRIORITY``; an empty cell means "not given": the job gets its class's priority
(``tenancy.priority``). A trace with the column yields :class:`PrioritySpec` jobs (a JobSpec
with one more field), one without it plain JobSpecs, so traces without priorities cost nothing.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from clustersim.errors import TraceError
from clustersim.model import JobSpec

NATIVE_REQUIRED = ("job_id", "submit_s", "num_gpus", "duration_s")
NATIVE_OPTIONAL = ("job_class", "user", "gpu_type", "priority")

# Plausible ranges (as for the adapters' rows): beyond them a row is refused with its line.
MAX_GPUS = 1_000_000
MAX_DURATION_S = 10 * 365 * 86400.0  # 10 years
MAX_SUBMIT_S = 4_102_444_800.0  # about 130 years (the Unix time of 2100-01-01)
MAX_PRIORITY = 2**31 - 1  # a priority is a whole number within +-MAX_PRIORITY

# A trace job with a priority column: JobSpec's fields, then ``priority`` (None: not given,
# the job's class decides). It reads as a JobSpec everywhere (same fields in the same places).
PrioritySpec = namedtuple(
    "PrioritySpec", (*JobSpec._fields, "priority"), defaults=(*JobSpec._field_defaults.values(), None)
)


def trace_jobs(frame, chunk: int = 65536) -> Iterator[JobSpec]:
    """JobSpecs from a native-schema DataFrame already sorted by submit time, converted
    lazily a chunk at a time (a million-row trace never exists as a million objects)."""
    n = len(frame)
    ids = frame["job_id"].astype(str)
    submit = frame["submit_s"].to_numpy(float)
    gpus = frame["num_gpus"].to_numpy(np.int64)
    duration = frame["duration_s"].to_numpy(float)
    classes = frame["job_class"].astype(str) if "job_class" in frame else None
    users = frame["user"].astype(str) if "user" in frame else None
    starts = frame["recorded_start_s"].to_numpy(float) if "recorded_start_s" in frame else None
    types = frame["gpu_type"].astype(str) if "gpu_type" in frame else None
    limits = frame["time_limit_s"].to_numpy(float) if "time_limit_s" in frame else None  # SWF: requested time
    prios = frame["priority"].to_numpy(float) if "priority" in frame else None  # NaN: not given
    # the spec type's own constructor is a Python function; a row already holds every field in
    # order, so the tuple is made directly (the same object; ~20% less to convert a trace)
    spec = JobSpec if prios is None else PrioritySpec
    make = partial(tuple.__new__, spec)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        m = hi - lo
        columns = (
            ids.iloc[lo:hi].tolist(),
            submit[lo:hi].tolist(),
            gpus[lo:hi].tolist(),
            duration[lo:hi].tolist(),
            classes.iloc[lo:hi].tolist() if classes is not None else ["trace"] * m,
            users.iloc[lo:hi].tolist() if users is not None else [""] * m,
            starts[lo:hi].tolist() if starts is not None else [float("nan")] * m,
            [t.strip() or "any" for t in types.iloc[lo:hi].tolist()] if types is not None else ["any"] * m,
            limits[lo:hi].tolist() if limits is not None else [float("nan")] * m,
            *([[None if p != p else int(p) for p in prios[lo:hi].tolist()]] if prios is not None else []),
        )
        assert len(columns) == len(spec._fields)  # every field, in order: nothing left to defaults
        yield from map(make, zip(*columns, strict=True))


def _rejected_frame(rows: list[tuple[int, str, str]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=["line", "reason", "raw"]).astype({"line": "int64"})


def read_native(path: str | Path, *, strict: bool = True):
    """Read a native trace (CSV or Parquet) into (jobs, rejected).

    Columns: ``job_id, submit_s, num_gpus, duration_s`` and optionally ``job_class, user,
    gpu_type, priority`` (a whole number; empty: not given).
    With ``strict`` the first bad row raises ``TraceError`` naming its line (CSV: the file
    line, header = 1; Parquet: row number + 1); otherwise bad rows are returned as rejected.
    The result is sorted by submit time, then file order. A clean CSV takes a fast typed
    path (pyarrow); any problem falls back to a careful path that finds every bad line.
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "trace file not found")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    if not is_parquet:
        fast = _read_native_fast(path)
        if fast is not None:
            return fast, _rejected_frame([])
    return _read_native_careful(path, is_parquet, strict)


def _read_native_fast(path: Path):
    """Typed pyarrow read of a clean CSV; None if anything needs the careful path."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    try:
        with open(path, "rb") as fh:
            header = fh.readline().decode("utf-8", "replace").strip().split(",")
        names = [h.strip() for h in header]
        if any(c not in names for c in NATIVE_REQUIRED):
            return None
        types = {"submit_s": pa.float64(), "num_gpus": pa.float64(), "duration_s": pa.float64(), "job_id": pa.string()}
        for opt in NATIVE_OPTIONAL:
            if opt in names:
                types[opt] = pa.string()
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=True),
            parse_options=pcsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=types, include_columns=list(types), strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowException, OSError, UnicodeError, KeyError):  # e.g. a header with stray blanks
        return None
    for col in ("submit_s", "num_gpus", "duration_s"):
        arr = table[col]
        if arr.null_count or not pc.all(pc.is_finite(arr)).as_py():
            return None
    gpus = table["num_gpus"]
    if not pc.all(pc.and_(pc.equal(gpus, pc.round(gpus)), pc.greater_equal(gpus, 1))).as_py():
        return None
    if pc.any(pc.less(table["submit_s"], 0)).as_py() or pc.any(pc.less(table["duration_s"], 0)).as_py():
        return None
    if (
        pc.any(pc.greater(gpus, MAX_GPUS)).as_py()
        or pc.any(pc.greater(table["submit_s"], MAX_SUBMIT_S)).as_py()
        or pc.any(pc.greater(table["duration_s"], MAX_DURATION_S)).as_py()
    ):
        return None
    ids = pc.utf8_trim_whitespace(table["job_id"])
    if pc.any(pc.equal(ids, "")).as_py() or pc.count_distinct(ids).as_py() != len(ids):
        return None
    priority = None
    if "priority" in names:
        priority, bad = _priorities(pd.Series(table["priority"].to_pandas(), dtype="string"))
        if bad.any():
            return None
    frame = pd.DataFrame(
        {
            "job_id": pd.array(ids, dtype=pd.StringDtype("pyarrow")),
            "submit_s": table["submit_s"].to_numpy(),
            "num_gpus": table["num_gpus"].to_numpy().astype(np.int64),
            "duration_s": table["duration_s"].to_numpy(),
            "job_class": pd.array(table["job_class"], dtype=pd.StringDtype("pyarrow")) if "job_class" in names else "trace",
            "user": pd.array(table["user"], dtype=pd.StringDtype("pyarrow")) if "user" in names else "",
            "gpu_type": pd.array(table["gpu_type"], dtype=pd.StringDtype("pyarrow")) if "gpu_type" in names else "any",
        }
    )
    if priority is not None:
        frame["priority"] = priority
    if not np.all(np.diff(frame["submit_s"].to_numpy()) >= 0):
        frame = frame.sort_values("submit_s", kind="stable", ignore_index=True)
    return frame


def _read_native_careful(path: Path, is_parquet: bool, strict: bool):
    import pandas as pd

    try:
        if is_parquet:
            raw = pd.read_parquet(path)
            raw = raw.astype({c: "string" for c in raw.columns})
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise TraceError(str(path), f"cannot read as {'Parquet' if is_parquet else 'CSV'}: {err}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in NATIVE_REQUIRED if c not in raw.columns]
    if missing:
        raise TraceError(
            str(path),
            f"missing column(s) {', '.join(missing)}; expected {', '.join(NATIVE_REQUIRED)} "
            f"(found {', '.join(map(str, raw.columns)) or 'none'})",
            line=1,
        )
    n = len(raw)
    line_of = _csv_line_numbers(path, n) if not is_parquet else np.arange(n) + 1
    bad_reason = np.full(n, "", dtype=object)

    def flag(mask, reason):
        mask = np.asarray(mask) & (bad_reason == "")
        bad_reason[mask] = reason

    ids = raw["job_id"].astype("string").str.strip()
    flag(ids.isna().to_numpy() | (ids == "").to_numpy(), "missing job_id")
    numbers = {}
    for col in ("submit_s", "num_gpus", "duration_s"):
        text = raw[col].astype("string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy()
        flag(empty, f"missing {col}")
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        flag(~empty & ~np.isfinite(values), f"{col} is not a number")
        numbers[col] = values
    gpus = numbers["num_gpus"]
    with np.errstate(invalid="ignore"):
        flag(np.isfinite(gpus) & ((gpus != np.round(gpus)) | (gpus < 1)), "num_gpus must be a whole number >= 1")
        flag(numbers["submit_s"] < 0, "submit_s must be >= 0")
        flag(numbers["duration_s"] < 0, "duration_s must be >= 0")
        flag(gpus > MAX_GPUS, f"num_gpus out of range (at most {MAX_GPUS:,})")
        flag(numbers["submit_s"] > MAX_SUBMIT_S, f"submit_s out of range (at most {MAX_SUBMIT_S:,.0f} s)")
        flag(numbers["duration_s"] > MAX_DURATION_S, f"duration_s out of range (at most {MAX_DURATION_S:,.0f} s = 10 years)")
    dup = ids.duplicated(keep="first").to_numpy() & (bad_reason == "")
    flag(dup, "duplicate job_id")
    priority = None
    if "priority" in raw:
        priority, bad_prio = _priorities(raw["priority"].astype("string"))
        flag(bad_prio == 1, "priority must be a whole number (or empty: the class's priority)")
        flag(bad_prio == 2, f"priority out of range (at most {MAX_PRIORITY:,} either side of 0)")
    bad = bad_reason != ""
    if bad.any():
        first = int(np.argmax(bad))
        if strict:
            col = bad_reason[first]
            raise TraceError(str(path), f"{col} (row: {_raw_row(raw, first)})", line=int(line_of[first]))
        rejected = _rejected_frame(
            [(int(line_of[i]), str(bad_reason[i]), _raw_row(raw, i)) for i in np.flatnonzero(bad)]
        )
    else:
        rejected = _rejected_frame([])
    keep = ~bad
    frame = pd.DataFrame(
        {
            "job_id": ids[keep].astype(str).to_numpy(),
            "submit_s": numbers["submit_s"][keep],
            "num_gpus": gpus[keep].astype(np.int64),
            "duration_s": numbers["duration_s"][keep],
            "job_class": (raw["job_class"].astype(str).to_numpy()[keep] if "job_class" in raw else "trace"),
            "user": (raw["user"].astype(str).to_numpy()[keep] if "user" in raw else ""),
            "gpu_type": (raw["gpu_type"].astype(str).str.strip().to_numpy()[keep] if "gpu_type" in raw else "any"),
        }
    )
    if priority is not None:
        frame["priority"] = priority[keep]
    frame = frame.sort_values("submit_s", kind="stable", ignore_index=True)
    return frame, rejected


def _priorities(text):
    """Priorities of a ``priority`` column (strings): float values (NaN where empty: not given)
    and a problem code per row (0 fine, 1 not a whole number, 2 out of range)."""
    import pandas as pd

    text = text.str.strip()
    empty = (text.isna() | (text == "")).to_numpy()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.zeros(len(values), dtype=np.int8)
    with np.errstate(invalid="ignore"):
        bad[~empty & (~np.isfinite(values) | (values != np.round(values)))] = 1
        bad[(bad == 0) & ~empty & (np.abs(values) > MAX_PRIORITY)] = 2
    values[empty] = np.nan
    return values, bad


def _csv_line_numbers(path: Path, rows: int) -> np.ndarray:
    """The physical line (1-based) of each data row of a CSV read by pandas, which skips
    blank lines: the non-blank lines after the header. Rows plus 2 if that does not add up
    (a quoted field spanning lines)."""
    try:
        with open(path, "rb") as fh:
            numbers = [i for i, line in enumerate(fh, start=1) if line.strip()]
    except OSError:
        numbers = []
    if len(numbers) == rows + 1:
        return np.asarray(numbers[1:], dtype=np.int64)
    return np.arange(rows) + 2


def _raw_row(raw, i: int) -> str:
    import pandas as pd

    return ",".join("" if pd.isna(v) else str(v) for v in raw.iloc[i].tolist())[:200]
