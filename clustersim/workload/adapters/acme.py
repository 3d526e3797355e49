"""Shanghai AI Lab Acme traces (InternLM/AcmeTrace, NSDI '24): clusters Seren and Kalos.

Input: ``trace_seren.csv`` / ``trace_kalos.csv``.  Seren's header is ``job_id,user,node_num,
gpu_num,cpu_num,type,state,submit_time,start_time,end_time,duration,queue,gpu_time``; Kalos
adds ``mem_per_pod_GB,shared_mem_per_pod,fail_time,stop_time``.  Times are ISO date strings
with a UTC offset (``2023-03-01 00:18:22+08:00``) and are converted to UTC.

``cluster``: with ``path`` a folder of ``trace_<cluster>.csv`` files it names the cluster
(``seren`` or ``kalos``; required when there are several).  With a single file it may be
given only as that file's cluster name.

Mapping:

==================  ================================================================
native column       from
==================  ================================================================
job_id              ``job_id``
submit_s            ``submit_time``
recorded_start_s    ``start_time``
duration_s          end - ``start_time``, where end is ``end_time``, or when that is
                    empty ``fail_time``, then ``stop_time`` (Kalos only); the
                    ``duration`` column is the same quantity and is not read
num_gpus            ``gpu_num``
job_class           ``type`` (workload type, e.g. Pretrain, SFT, Evaluation, Debug)
user                ``user``
==================  ================================================================

Rejected rows: ``cpu-only job`` (``gpu_num`` = 0), ``no start time`` (never ran), ``no end
time``, ``negative duration``, ``missing``/``bad``/``non-numeric`` values,
``duplicate job_id``, ``wrong number of fields``.  A ``start_time`` before the ``submit_time``
keeps the job with no recorded wait, its run time counted from the submit.
"""

from __future__ import annotations

from pathlib import Path

from clustersim.errors import TraceError
from clustersim.workload.adapters import builders, reading, tables

NAME = "acme"
REQUIRED = ("job_id", "gpu_num", "submit_time", "start_time", "end_time")
END_COLUMNS = ("end_time", "fail_time", "stop_time")
USED = (*REQUIRED, *END_COLUMNS, "type", "user")


def locate(path: Path, cluster: str | None) -> Path:
    """The trace file for ``cluster`` under ``path``."""
    if path.is_dir():
        files = reading.cluster_log_files(path, "trace_*.csv")
        files.update(reading.cluster_log_files(path, "trace_*.csv.gz"))
        if not files:
            raise TraceError(str(path), "folder holds no trace_<cluster>.csv")
        return files[reading.pick_cluster(path, cluster, sorted(files))]
    if not path.exists():
        raise TraceError(str(path), "no such file")
    if cluster is not None:
        stem = path.name.split(".")[0]
        own = stem[len("trace_") :] if stem.startswith("trace_") else stem
        reading.pick_cluster(path, cluster, [own])
    return path


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read one Acme cluster trace into the native table."""
    path = locate(path, cluster)
    source = str(path)
    table = tables.load_table(source, reading.read_bytes(path), required=REQUIRED, usecols=USED)
    timed = builders.timed_jobs(table, end_columns=END_COLUMNS)
    return builders.build_timed_trace(NAME, source, table, timed, class_column="type", strict=strict)
