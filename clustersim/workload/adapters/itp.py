"""Microsoft ITP traces (microsoft/elasticflow-traces, ``raw-traces.tar.gz``, MIT licence).

Input: one CSV per cluster, header ``job_id,submission_time,duration,num_gpu``, times in
seconds from the start of collection.  ``path`` may be one CSV (optionally ``.csv.gz``), the
upstream ``.tar.gz`` or a folder of such CSVs; in the last two ``cluster`` names the member
by file stem (``cluster="cluster04"``) and may be omitted only when there is one.

Mapping:

==================  =====================================================
native column       from
==================  =====================================================
job_id              ``job_id``
submit_s            ``submission_time``
duration_s          ``duration`` (run time as recorded)
num_gpus            ``num_gpu`` (must be a whole number > 0, else rejected)
job_class           ``"trace"`` (the trace has no job categories)
user                ``""`` (the trace has no user column)
recorded_start_s    NaN (the trace has no start times)
==================  =====================================================

Rejected rows: ``missing``/``non-numeric`` values, ``negative duration``, ``zero GPUs``,
``non-integer num_gpus``, ``duplicate job_id``, ``wrong number of fields``, and values out of
any plausible range: ``submit time out of range`` (beyond +-4,102,444,800 s),
``duration out of range`` (over 10 years), ``GPU count out of range`` (over 1,000,000).  Rows need not be
sorted (the upstream files are, but the format does not promise it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clustersim.workload.adapters import builders, parsing, reading, rejections, tables

NAME = "itp"
COLUMNS = ("job_id", "submission_time", "duration", "num_gpu")


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read one ITP cluster trace into the native table."""
    source, data = reading.read_member(path, cluster, (".csv", ".csv.gz"))
    table = tables.load_table(source, data, required=COLUMNS, usecols=COLUMNS)
    rows, cols = table.rows, table.columns
    rows.reject(parsing.is_empty(cols["job_id"]), "missing job_id")
    submit = rejections.check_numeric(rows, "submit_s", parsing.parse_numbers(cols["submission_time"]))
    duration = rejections.check_numeric(rows, "duration_s", parsing.parse_numbers(cols["duration"]))
    gpus = rejections.check_numeric(rows, "num_gpus", parsing.parse_numbers(cols["num_gpu"]))
    rows.reject(duration < 0, "negative duration")
    rejections.check_time(rows, submit, "submit", dates=False)
    rejections.check_duration(rows, duration)
    num_gpus = rejections.check_gpus(rows, gpus, "zero GPUs")
    job_id = parsing.text(cols["job_id"])
    rejections.check_duplicates(rows, job_id)
    return builders.build_trace(
        NAME,
        source,
        rows,
        job_id=job_id,
        submit_s=submit,
        num_gpus=num_gpus,
        duration_s=duration,
        job_class=builders.DEFAULT_CLASS,
        user="",
        recorded_start_s=np.full(len(rows), np.nan),
        strict=strict,
        notes=[
            *table.notes,
            "ITP has no start time, user or job class: "
            "recorded_start_s is NaN, user empty, job_class 'trace'",
        ],
    )
