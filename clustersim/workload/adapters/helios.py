"""SenseTime Helios traces (S-Lab-System-Group/HeliosData, SC '21).

Input: ``cluster_log.csv`` with header ``job_id,user,vc,gpu_num,cpu_num,node_num,state,
submit_time,start_time,end_time,duration,queue``; times are ``YYYY-MM-DD HH:MM:SS`` wall-clock
strings (read as UTC; only differences and the shift to 0 matter).  Each cluster (Earth,
Saturn, Uranus, Venus) has its own ``<Cluster>/cluster_log.csv``.

``cluster``: with ``path`` a folder of ``<Cluster>/cluster_log.csv`` files it names the
sub-folder (case-insensitive; required when there are several).  With ``path`` a merged log
that has a ``cluster`` column (the artifact's ``all_cluster_log.csv``) it selects those rows
(required when several clusters are present).  With a single cluster's file it may be given
only as that file's folder name.

Mapping:

==================  =====================================================
native column       from
==================  =====================================================
job_id              ``job_id``
submit_s            ``submit_time``
recorded_start_s    ``start_time``
duration_s          ``end_time - start_time`` (the ``duration`` column is
                    the same quantity and is not read)
num_gpus            ``gpu_num``
job_class           ``vc`` (virtual cluster)
user                ``user``
==================  =====================================================

Rejected rows: ``cpu-only job`` (``gpu_num`` = 0; Helios logs CPU jobs too), ``no start
time`` (cancelled before it ran), ``no end time``, ``negative duration``,
``missing``/``bad``/``non-numeric`` values, ``duplicate job_id``, ``wrong number of fields``.
A ``start_time`` before the ``submit_time`` keeps the job with no recorded wait, its run time
counted from the submit.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from clustersim.errors import TraceError
from clustersim.workload.adapters import builders, parsing, reading, tables

NAME = "helios"
REQUIRED = ("job_id", "gpu_num", "submit_time", "start_time", "end_time")
USED = (*REQUIRED, "vc", "user", "cluster")
_LOG = "cluster_log.csv"


def locate(path: Path, cluster: str | None) -> tuple[Path, str | None]:
    """(log file, cluster still to select by column or None)."""
    if path.is_dir():
        for name in (_LOG, _LOG + ".gz"):
            if (path / name).is_file():
                return locate(path / name, cluster)
        logs = reading.cluster_log_files(path, f"*/{_LOG}")
        logs.update(reading.cluster_log_files(path, f"*/{_LOG}.gz"))
        if not logs:
            raise TraceError(str(path), f"folder holds no {_LOG} nor <cluster>/{_LOG}")
        return logs[reading.pick_cluster(path, cluster, sorted(logs))], None
    if not path.exists():
        raise TraceError(str(path), "no such file")
    return path, cluster


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read one Helios cluster log into the native table."""
    path, cluster = locate(path, cluster)
    source = str(path)
    table = tables.load_table(source, reading.read_bytes(path), required=REQUIRED, usecols=USED)
    notes: list[str] = []
    if "cluster" in table.columns:
        names = parsing.text(table.columns["cluster"])
        present = sorted(str(v) for v in pc.unique(names).to_pylist() if v)
        chosen = reading.pick_cluster(path, cluster, present)
        table = table.select(parsing.np_bool(pc.equal(names, chosen)))
        notes.append(f"cluster {chosen} selected from the cluster column")
    elif cluster is not None and cluster.lower() != path.parent.name.lower():
        raise TraceError(
            source, f"no cluster column and the folder is {path.parent.name!r}, not {cluster!r}"
        )
    timed = builders.timed_jobs(table, end_columns=("end_time",))
    return builders.build_timed_trace(NAME, source, table, timed, class_column="vc", strict=strict, notes=notes)
