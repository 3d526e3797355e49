"""The shared builders: accepted rows into the native job table, as an :class:`AdaptedTrace`.

Every adapter reads its input into a :class:`~.rejections.RowSet` (via :mod:`.tables`),
flags unusable rows with a short stable reason, and hands aligned column arrays to
:func:`build_trace`, which shifts, sorts and types them into the native table.  Traces whose
times are date strings with submit/start/end columns (Helios, Acme) share
:func:`timed_jobs` and :func:`build_timed_trace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clustersim.errors import TraceError
from clustersim.workload.adapters.parsing import is_empty, parse_numbers, parse_timestamps, text
from clustersim.workload.adapters.rejections import (
    RowSet,
    check_duplicates,
    check_duration,
    check_gpus,
    check_numeric,
    check_time,
)
from clustersim.workload.adapters.tables import Table

NATIVE_COLUMNS: tuple[str, ...] = (
    "job_id",
    "submit_s",
    "num_gpus",
    "duration_s",
    "job_class",
    "user",
    "recorded_start_s",
)
DEFAULT_CLASS = "trace"  # as clustersim.model.JobSpec: a trace job with no category


@dataclass(frozen=True)
class AdaptedTrace:
    """One trace turned into the native job table, plus the rows that could not be used.

    ``jobs`` has exactly :data:`NATIVE_COLUMNS` (in that order), sorted by
    ``(submit_s, job_id)`` with the first submission at 0.0.  ``rejected`` has ``line``
    (1-based physical line, header = 1; for a JSON array the record index + 1), ``reason``
    and ``raw`` (the row's text, at most 200 characters).
    """

    jobs: pd.DataFrame
    rejected: pd.DataFrame
    format: str
    source: str
    notes: tuple[str, ...]


def build_trace(
    fmt: str,
    source: str,
    rows: RowSet,
    *,
    job_id: pa.Array | np.ndarray | Sequence[str],
    submit_s: np.ndarray,
    num_gpus: np.ndarray,
    duration_s: np.ndarray,
    job_class: pa.Array | np.ndarray | Sequence[str] | str,
    user: pa.Array | np.ndarray | Sequence[str] | str,
    recorded_start_s: np.ndarray | None,
    strict: bool,
    notes: Sequence[str] = (),
    time_limit_s: np.ndarray | None = None,
) -> AdaptedTrace:
    """Shift, sort and type the accepted rows; raise on the first rejection when ``strict``.
    ``time_limit_s`` (the run time users requested, NaN where unknown), where the format has
    one, becomes an extra column after :data:`NATIVE_COLUMNS`.

    A recorded start before the submit (clock skew, a sentinel such as ``-1``) is a rejected
    row, ``start before submit``: a job cannot run before it exists, and neither its recorded
    wait nor a run time counted from that start can be trusted."""
    if recorded_start_s is not None:
        with np.errstate(invalid="ignore"):
            rows.reject(np.asarray(recorded_start_s, dtype=np.float64) < np.asarray(submit_s, dtype=np.float64),
                        "start before submit")
    if strict:
        first = rows.first()
        if first is not None:
            raise TraceError(source, first[1], line=first[0])
    keep = np.flatnonzero(rows.ok)
    n = len(rows)
    ids = _str_column(job_id, keep, n, "")
    submit = np.asarray(submit_s, dtype=np.float64)[keep]
    start = (
        np.full(len(keep), np.nan)
        if recorded_start_s is None
        else np.asarray(recorded_start_s, dtype=np.float64)[keep]
    )
    shift = float(submit.min()) if len(submit) else 0.0
    submit = submit - shift
    start = start - shift
    order = sort_order(submit, ids)
    take = pa.array(order, pa.int64())
    jobs = pd.DataFrame(
        {
            "job_id": _str_series(ids, take),
            "submit_s": pd.Series(submit[order], dtype="float64"),
            "num_gpus": pd.Series(np.asarray(num_gpus)[keep][order], dtype="int64"),
            "duration_s": pd.Series(
                np.asarray(duration_s, dtype=np.float64)[keep][order], dtype="float64"
            ),
            "job_class": _str_series(_str_column(job_class, keep, n, DEFAULT_CLASS), take),
            "user": _str_series(_str_column(user, keep, n, ""), take),
            "recorded_start_s": pd.Series(start[order], dtype="float64"),
        },
        columns=list(NATIVE_COLUMNS),
    )
    if time_limit_s is not None:
        jobs["time_limit_s"] = pd.Series(np.asarray(time_limit_s, dtype=np.float64)[keep][order], dtype="float64")
    rejected = rows.frame()
    summary = f"{len(jobs)} jobs read, {len(rejected)} rows rejected"
    if len(jobs) and shift != 0.0:
        amount = f"{-shift:+.3f}".rstrip("0").rstrip(".")
        summary += f"; times shifted by {amount} s so the first job submits at 0"
    all_notes = [summary, *notes]
    if len(rejected):
        counts = rejected["reason"].value_counts()
        all_notes.append(
            "rejected: " + ", ".join(f"{reason} ({count})" for reason, count in counts.items())
        )
    return AdaptedTrace(jobs, rejected, fmt, source, tuple(all_notes))


def _str_column(
    values: pa.Array | np.ndarray | Sequence[str] | str, keep: np.ndarray, n: int, default: str
) -> pa.Array:
    """Trimmed text of the kept rows; empty or missing values become ``default``."""
    if isinstance(values, str):
        return pa.repeat(pa.scalar(values.strip() or default, pa.large_string()), len(keep))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), pa.large_string(), from_pandas=True)
    if not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.large_string())
    if len(values) != n:
        raise ValueError(f"column has {len(values)} values for {n} rows")
    values = pc.take(values, pa.array(keep, pa.int64()))
    trimmed = text(values)
    if default:
        trimmed = pc.if_else(pc.equal(trimmed, ""), default, trimmed)
    return trimmed


def _str_series(values: pa.Array, order: pa.Array) -> pd.Series:
    return pd.Series(pc.take(values, order).to_pandas(), dtype="str")


def sort_order(submit: np.ndarray, ids: pa.Array) -> np.ndarray:
    """Indices ordering rows by (submit, job_id); ids are only compared among equal submits."""
    order = np.argsort(submit, kind="stable")
    if len(order) < 2:
        return order
    ordered = submit[order]
    tie = np.zeros(len(order), dtype=bool)
    same = ordered[1:] == ordered[:-1]
    tie[1:] |= same
    tie[:-1] |= same
    pos = np.flatnonzero(tie)
    if len(pos):
        sub = order[pos]
        sub_ids = pc.take(ids, pa.array(sub, pa.int64())).to_numpy(zero_copy_only=False)
        order[pos] = sub[np.lexsort((sub_ids.astype(str), submit[sub]))]
    return order


# --------------------------------------------------------------------------- date-time traces


@dataclass
class TimedJobs:
    """Columns of a trace whose times are date strings (Helios, Acme)."""

    job_id: pa.Array
    submit: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    num_gpus: np.ndarray
    notes: list[str]


def timed_jobs(table: Table, *, end_columns: Sequence[str]) -> TimedJobs:
    """Validate ``job_id, gpu_num, submit_time, start_time`` and the first non-empty of
    ``end_columns`` (a job's end); duration = end - start.

    Rejections: ``missing job_id``, ``missing``/``bad submit time``, ``bad start time``,
    ``bad end time``, ``missing``/``non-numeric num_gpus``, ``cpu-only job`` (0 GPUs),
    ``no start time``, ``no end time``, ``submit``/``start``/``end time out of range`` (before
    1970 or from 2100 on), ``negative duration``, ``duration out of range`` (over 10 years),
    ``GPU count out of range``, ``duplicate job_id``; and, in :func:`build_trace`,
    ``start before submit``.
    """
    rows, cols = table.rows, table.columns
    rows.reject(is_empty(cols["job_id"]), "missing job_id")
    submit, submit_empty, submit_bad = parse_timestamps(cols["submit_time"])
    rows.reject(submit_empty, "missing submit time")
    rows.reject(submit_bad, "bad submit time")
    gpus = check_numeric(rows, "num_gpus", parse_numbers(cols["gpu_num"]))
    start, start_empty, start_bad = parse_timestamps(cols["start_time"])
    rows.reject(start_bad, "bad start time")
    end = np.full(len(rows), np.nan)
    fallback = np.zeros(len(rows), dtype=bool)
    notes: list[str] = []
    for i, name in enumerate(c for c in end_columns if c in cols):
        values, empty, bad = parse_timestamps(cols[name])
        rows.reject(np.isnan(end) & bad, f"bad {name.replace('_', ' ')}")
        fill = np.isnan(end) & ~empty & ~bad
        if i > 0:
            fallback |= fill
        end = np.where(fill, values, end)
    rows.reject(np.isfinite(gpus) & (gpus == 0), "cpu-only job")
    rows.reject(start_empty, "no start time")
    rows.reject(np.isnan(end), "no end time")
    check_time(rows, submit, "submit", dates=True)
    check_time(rows, start, "start", dates=True)
    check_time(rows, end, "end", dates=True)
    duration = end - start
    rows.reject(duration < 0, "negative duration")
    check_duration(rows, duration)
    num_gpus = check_gpus(rows, gpus, "cpu-only job")
    job_id = text(cols["job_id"])
    check_duplicates(rows, job_id)
    used = rows.ok & fallback
    if used.any():
        others = " or ".join(c for c in end_columns[1:] if c in cols)
        notes.append(
            f"end taken from {others} where {end_columns[0]} is empty: {int(used.sum())} rows"
        )
    return TimedJobs(job_id, submit, start, duration, num_gpus, notes)


def build_timed_trace(
    name: str,
    source: str,
    table: Table,
    timed: TimedJobs,
    *,
    class_column: str,
    strict: bool,
    notes: Sequence[str] = (),
) -> AdaptedTrace:
    """The native table of a trace with submit/start/end columns (Helios, Acme): job class
    from ``class_column`` and user from ``user`` when the trace has them."""
    cols = table.columns
    return build_trace(
        name,
        source,
        table.rows,
        job_id=timed.job_id,
        submit_s=timed.submit,
        num_gpus=timed.num_gpus,
        duration_s=timed.duration,
        job_class=text(cols[class_column]) if class_column in cols else DEFAULT_CLASS,
        user=text(cols["user"]) if "user" in cols else "",
        recorded_start_s=np.asarray(timed.start),
        strict=strict,
        notes=[*table.notes, *notes, *timed.notes],
    )
