"""Alibaba GPU cluster trace 2023 (alibaba/clusterdata ``cluster-trace-gpu-v2023``).

Input: ``openb_pod_list_*.csv`` with header ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,
gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`` (times in seconds).
The data is licensed for research or study use only; do not redistribute it.

Mapping (one pod = one job):

==================  ===========================================================
native column       from
==================  ===========================================================
job_id              ``name``
submit_s            ``creation_time``
recorded_start_s    ``scheduled_time``
duration_s          ``deletion_time - scheduled_time`` (time the pod held its GPUs)
num_gpus            ``num_gpu``; a GPU-sharing pod (``num_gpu`` = 1 with
                    ``gpu_milli`` < 1000) is rounded up to one whole GPU
job_class           ``qos`` (LS, BE, Burstable, Guaranteed): the trace's priority class;
                    ``tenancy.priority.classes`` gives each a number
user                ``""`` (the trace has no user column)
==================  ===========================================================

Rejected rows: ``cpu-only job`` (``num_gpu`` = 0), ``no start time`` (never scheduled: empty
``scheduled_time``), ``no end time`` (empty ``deletion_time``), ``negative duration``,
``missing``/``non-numeric`` values, ``duplicate job_id``, ``wrong number of fields``,
``submit``/``start``/``end time out of range`` (beyond +-4,102,444,800 s), ``duration out of
range`` (over 10 years), ``GPU count out of range`` (over 1,000,000).  A ``scheduled_time``
before ``creation_time`` (such as ``-1``) is ``start before submit``.  Pods
whose ``deletion_time`` is the trace's last one were probably cut off when it ended: they
are kept with that end (a lower bound of their run time) and counted in the notes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clustersim.workload.adapters import builders, parsing, reading, rejections, tables

NAME = "alibaba2023"
REQUIRED = ("name", "num_gpu", "creation_time", "deletion_time", "scheduled_time")
USED = (*REQUIRED, "gpu_milli", "qos")


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read an ``openb_pod_list`` CSV into the native table."""
    reading.no_cluster(path, NAME, cluster)
    source = str(path)
    table = tables.load_table(source, reading.read_bytes(path), required=REQUIRED, usecols=USED)
    rows, cols = table.rows, table.columns
    n = len(rows)
    rows.reject(parsing.is_empty(cols["name"]), "missing job_id")
    submit = rejections.check_numeric(rows, "submit_s", parsing.parse_numbers(cols["creation_time"]))
    gpus = rejections.check_numeric(rows, "num_gpus", parsing.parse_numbers(cols["num_gpu"]))
    start, start_empty, start_bad = parsing.parse_numbers(cols["scheduled_time"])
    end, end_empty, end_bad = parsing.parse_numbers(cols["deletion_time"])
    rows.reject(start_bad, "non-numeric start time")
    rows.reject(end_bad, "non-numeric end time")
    rows.reject(np.isfinite(gpus) & (gpus == 0), "cpu-only job")
    rows.reject(start_empty, "no start time")
    rows.reject(end_empty, "no end time")
    rejections.check_time(rows, submit, "submit", dates=False)
    rejections.check_time(rows, start, "start", dates=False)
    rejections.check_time(rows, end, "end", dates=False)
    duration = end - start
    rows.reject(duration < 0, "negative duration")
    rejections.check_duration(rows, duration)
    milli = np.full(n, np.nan)
    if "gpu_milli" in cols:
        milli, _, milli_bad = parsing.parse_numbers(cols["gpu_milli"])
        rows.reject(milli_bad, "non-numeric gpu_milli")
    num_gpus = rejections.check_gpus(rows, gpus, "cpu-only job")
    job_id = parsing.text(cols["name"])
    rejections.check_duplicates(rows, job_id)

    ok = rows.ok
    shared = ok & (num_gpus == 1) & (milli < 1000)
    notes = [*table.notes]
    if shared.any():
        notes.append(
            f"fractional GPUs (gpu_milli < 1000) rounded up to 1 GPU: {int(shared.sum())} rows"
        )
    cut = ok & (end == np.nanmax(end)) if ok.any() else ok
    if cut.sum() > 1:
        notes.append(
            f"pods ending at the trace's last deletion_time: {int(cut.sum())} "
            "(probably cut off when the trace ended; their duration is a lower bound)"
        )
    job_class = parsing.text(cols["qos"]) if "qos" in cols else builders.DEFAULT_CLASS
    return builders.build_trace(
        NAME,
        source,
        rows,
        job_id=job_id,
        submit_s=submit,
        num_gpus=num_gpus,
        duration_s=duration,
        job_class=job_class,
        user="",
        recorded_start_s=start,
        strict=strict,
        notes=notes,
    )
