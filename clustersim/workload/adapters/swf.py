"""Standard Workload Format (Parallel Workloads Archive): HPC batch traces.

Input: header comment lines starting with ``;``, then one job per line as 18
whitespace-separated numbers: job number, submit time, wait time, run time, allocated
processors, average CPU time, used memory, requested processors, requested time, requested
memory, status, user id, group id, executable, queue, partition, preceding job, think time.
``-1`` means unknown.  Jobs are listed in submit order, as the format prescribes.

Mapping:

==================  ===================================================================
native column       from
==================  ===================================================================
job_id              field 1, job number (as text)
submit_s            field 2, submit time
recorded_start_s    submit time + field 3, wait time (NaN when the wait is -1)
duration_s          field 4, run time
num_gpus            field 5, allocated processors (field 8, requested processors, when
                    allocated is -1), one GPU per processor by default; ``read`` takes
                    ``procs_per_gpu`` to map N processors to ceil(N / procs_per_gpu) GPUs
job_class           field 15, queue number as text (``"trace"`` when -1)
user                field 12, user id as text (``""`` when -1)
time_limit_s        field 9, requested time (NaN when -1, not positive or not a number): the
                    run-time limit EASY plans with under ``estimate: column``
==================  ===================================================================

Rejected rows: ``wrong number of fields`` (not 18), ``unsorted submit time`` (earlier than a
previous line's), ``unknown run time`` (-1), ``unknown num_gpus`` (both processor fields -1),
``zero GPUs``, ``negative duration``, ``missing``/``non-numeric`` values,
``duplicate job_id``, ``submit``/``start time out of range`` (beyond +-4,102,444,800 s),
``duration out of range`` (over 10 years), ``GPU count out of range`` (over 1,000,000
processors' worth).  There is one cluster per file: ``cluster`` is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clustersim.errors import TraceError
from clustersim.workload.adapters import builders, parsing, reading, rejections, tables

NAME = "swf"
FIELDS = (
    "job",
    "submit",
    "wait",
    "run",
    "alloc_procs",
    "avg_cpu",
    "used_mem",
    "req_procs",
    "req_time",
    "req_mem",
    "status",
    "user",
    "group",
    "executable",
    "queue",
    "partition",
    "preceding_job",
    "think_time",
)
USED = ("job", "submit", "wait", "run", "alloc_procs", "req_procs", "req_time", "user", "queue")


def read(
    path: Path,
    *,
    strict: bool = False,
    cluster: str | None = None,
    procs_per_gpu: int = 1,
) -> builders.AdaptedTrace:
    """Read an SWF file into the native table."""
    reading.no_cluster(path, NAME, cluster)
    if procs_per_gpu < 1:
        raise TraceError(str(path), f"procs_per_gpu must be >= 1, got {procs_per_gpu}")
    source = str(path)
    table = tables.load_table(
        source, reading.read_bytes(path), sep=None, names=FIELDS, usecols=USED, comment=";"
    )
    rows, cols = table.rows, table.columns
    rejections.check_numeric(rows, "job_id", parsing.parse_numbers(cols["job"]))
    submit = rejections.check_numeric(rows, "submit_s", parsing.parse_numbers(cols["submit"]))
    wait, _, wait_bad = parsing.parse_numbers(cols["wait"])
    rows.reject(wait_bad, "non-numeric wait time")
    run = rejections.check_numeric(rows, "duration_s", parsing.parse_numbers(cols["run"]))
    alloc = rejections.check_numeric(rows, "num_gpus", parsing.parse_numbers(cols["alloc_procs"]))
    req, _, req_bad = parsing.parse_numbers(cols["req_procs"])
    rows.reject(req_bad, "non-numeric requested processors")
    limit = parsing.parse_numbers(cols["req_time"])[0]  # an unusable limit is unknown, not a bad row
    with np.errstate(invalid="ignore"):
        limit = np.where(limit > 0, limit, np.nan)  # -1: unknown

    rejections.check_time(rows, submit, "submit", dates=False)
    plausible = np.isfinite(submit) & (np.abs(submit) <= rejections.MAX_TIME_S)  # one absurd time
    earlier = np.fmax.accumulate(np.where(plausible, submit, -np.inf))  # does not unsort the rest
    previous = np.concatenate(([-np.inf], earlier[:-1]))
    rows.reject(submit < previous, "unsorted submit time")
    rows.reject(run == -1, "unknown run time")
    rows.reject(run < 0, "negative duration")
    procs = np.where(alloc == -1, req, alloc)
    rows.reject(procs == -1, "unknown num_gpus")
    gpus = np.ceil(procs / procs_per_gpu)
    num_gpus = rejections.check_gpus(rows, np.where(np.isfinite(procs), gpus, np.nan), "zero GPUs")
    rejections.check_duration(rows, run)
    with np.errstate(over="ignore", invalid="ignore"):
        start = np.where(np.isfinite(wait) & (wait >= 0), submit + wait, np.nan)
    rejections.check_time(rows, start, "start", dates=False)
    job_id = parsing.text(cols["job"])
    rejections.check_duplicates(rows, job_id)

    notes = [*table.notes]
    fell_back = rows.ok & (alloc == -1)
    if fell_back.any():
        notes.append(
            f"requested processors used where allocated is -1: {int(fell_back.sum())} rows"
        )
    if procs_per_gpu != 1:
        notes.append(f"GPUs = ceil(processors / {procs_per_gpu})")
    else:
        notes.append("one GPU per processor")
    return builders.build_trace(
        NAME,
        source,
        rows,
        job_id=job_id,
        submit_s=submit,
        num_gpus=num_gpus,
        duration_s=run,
        job_class=_unknown_as(cols["queue"], builders.DEFAULT_CLASS),
        user=_unknown_as(cols["user"], ""),
        recorded_start_s=start,
        strict=strict,
        notes=notes,
        time_limit_s=limit,
    )


def _unknown_as(values: pa.Array, default: str) -> pa.Array:
    """Field text with SWF's ``-1`` (unknown) replaced by ``default``."""
    trimmed = parsing.text(values)
    return pc.if_else(pc.equal(trimmed, "-1"), default, trimmed)
