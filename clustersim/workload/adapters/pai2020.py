"""Alibaba PAI trace 2020 (alibaba/clusterdata ``cluster-trace-gpu-v2020``).

Input: the headerless ``pai_job_table.csv`` (``job_name,inst_id,user,status,start_time,
end_time``) and ``pai_task_table.csv`` (``job_name,task_name,inst_num,status,start_time,
end_time,plan_cpu,plan_mem,plan_gpu,gpu_type``), times in seconds.  ``path`` is the job
table (the task table is looked up beside it, same suffix) or a folder holding both.  A first
line equal to the upstream ``.header`` file is accepted and skipped.

Mapping (one job = one row of the job table, joined to its task rows on ``job_name``):

==================  ==================================================================
native column       from
==================  ==================================================================
job_id              ``job_name``
submit_s            job ``start_time`` (the upstream README: "job submission time")
recorded_start_s    earliest task ``start_time`` of the job (first task launch)
duration_s          job ``end_time`` - recorded_start_s
num_gpus            sum over the job's tasks of ``inst_num * ceil(plan_gpu / 100)``:
                    ``plan_gpu`` is a percentage of one GPU per instance, so a fractional
                    GPU request is rounded up to one whole GPU per instance; an empty
                    ``plan_gpu`` means no GPU
job_class           ``task_name`` of the job's task with the most GPUs (ties: first by
                    name), e.g. ``tensorflow``, ``PyTorch``, ``worker``
user                ``user``
==================  ==================================================================

Rejected job rows: ``no tasks`` (no row in the task table), ``bad task row`` (one of its task
rows is unusable; the notes name the first one, ``strict`` raises on it with its line in the
task table), ``cpu-only job``, ``no start time`` (no task ever launched), ``no end time``,
``negative duration``, ``missing``/``non-numeric`` values, ``duplicate job_id``,
``wrong number of fields``, ``submit``/``start``/``end time out of range`` (beyond
+-4,102,444,800 s), ``duration out of range`` (over 10 years), ``GPU count out of range``
(over 1,000,000), ``start before submit`` (a first task launch recorded before the
job's submission).  Line numbers in ``rejected`` refer to the job table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clustersim.errors import TraceError
from clustersim.workload.adapters import builders, parsing, reading, rejections, tables

NAME = "pai2020"
JOB_COLUMNS = ("job_name", "inst_id", "user", "status", "start_time", "end_time")
TASK_COLUMNS = (
    "job_name",
    "task_name",
    "inst_num",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
    "plan_gpu",
    "gpu_type",
)
JOB_USED = ("job_name", "user", "start_time", "end_time")
TASK_USED = ("job_name", "task_name", "inst_num", "start_time", "plan_gpu")
_SUFFIXES = (".csv", ".csv.gz")


def locate(path: Path) -> tuple[Path, Path]:
    """(job table, task table) for a job-table path or a folder holding both."""
    if path.is_dir():
        job = _find(path, "pai_job_table")
        if job is None:
            raise TraceError(str(path), "folder holds no pai_job_table.csv")
    elif path.exists():
        job = path
        if "pai_task_table" in path.name:
            raise TraceError(str(path), "this is the task table; pass pai_job_table.csv")
    else:
        raise TraceError(str(path), "no such file")
    task = job.with_name(job.name.replace("pai_job_table", "pai_task_table"))
    if task == job or not task.is_file():
        found = _find(job.parent, "pai_task_table")
        if found is None:
            raise TraceError(str(job), f"no pai_task_table.csv beside it in {job.parent}")
        task = found
    return job, task


@dataclass
class TaskSummary:
    """Per distinct job_name of the task table (aligned with ``names``)."""

    names: pa.Array
    gpus: np.ndarray
    start: np.ndarray
    bad: np.ndarray
    lead: pa.Array


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read the PAI job and task tables into the native table."""
    reading.no_cluster(path, NAME, cluster)
    job_path, task_path = locate(path)
    tasks, task_notes = _task_summary(task_path, strict)
    source = str(job_path)
    table = tables.load_table(
        source, reading.read_bytes(job_path), names=JOB_COLUMNS, usecols=JOB_USED
    )
    rows, cols = table.rows, table.columns
    job_id = parsing.text(cols["job_name"])
    rows.reject(parsing.is_empty(cols["job_name"]), "missing job_id")
    submit = rejections.check_numeric(rows, "submit_s", parsing.parse_numbers(cols["start_time"]))
    end, end_empty, end_bad = parsing.parse_numbers(cols["end_time"])
    rows.reject(end_bad, "non-numeric end time")

    # join on job_name through arrow's hash lookup: -1 where the job has no task row
    pos = pc.index_in(job_id, value_set=tasks.names).fill_null(-1).to_numpy(zero_copy_only=False)
    found = pos >= 0
    pick = np.where(found, pos, 0)
    gpus = np.where(found, tasks.gpus[pick] if len(tasks.gpus) else 0.0, 0.0)
    start = np.where(found, tasks.start[pick] if len(tasks.gpus) else np.nan, np.nan)
    bad_task = found & (tasks.bad[pick] if len(tasks.gpus) else False)
    lead = pc.take(tasks.lead, pa.array(pick)) if len(tasks.gpus) else pa.nulls(len(pos))
    job_class = pc.if_else(pa.array(found), lead, "")

    rows.reject(~found, "no tasks")
    rows.reject(bad_task, "bad task row")
    rows.reject(found & (gpus == 0), "cpu-only job")
    rows.reject(np.isnan(start), "no start time")
    rows.reject(end_empty, "no end time")
    rejections.check_time(rows, submit, "submit", dates=False)
    rejections.check_time(rows, start, "start", dates=False)
    rejections.check_time(rows, end, "end", dates=False)
    duration = end - start
    rows.reject(duration < 0, "negative duration")
    rejections.check_duration(rows, duration)
    num_gpus = rejections.check_gpus(rows, gpus, "cpu-only job")
    rejections.check_duplicates(rows, job_id)
    return builders.build_trace(
        NAME,
        source,
        rows,
        job_id=job_id,
        submit_s=submit,
        num_gpus=num_gpus,
        duration_s=duration,
        job_class=job_class,
        user=parsing.text(cols["user"]),
        recorded_start_s=start,
        strict=strict,
        notes=[*table.notes, *task_notes],
    )


def _task_summary(task_path: Path, strict: bool) -> tuple[TaskSummary, list[str]]:
    """Per job_name: GPUs, first task start, class and whether any task row is unusable."""
    source = str(task_path)
    table = tables.load_table(
        source, reading.read_bytes(task_path), names=TASK_COLUMNS, usecols=TASK_USED
    )
    rows, cols = table.rows, table.columns
    rows.reject(parsing.is_empty(cols["job_name"]), "missing job_name")
    inst = rejections.check_numeric(rows, "inst_num", parsing.parse_numbers(cols["inst_num"]))
    rows.reject(np.isfinite(inst) & ((inst < 0) | (inst != np.floor(inst))), "bad inst_num")
    plan, _plan_empty, plan_bad = parsing.parse_numbers(cols["plan_gpu"])
    rows.reject(plan_bad, "non-numeric plan_gpu")
    rows.reject(plan < 0, "negative plan_gpu")
    start, _start_empty, start_bad = parsing.parse_numbers(cols["start_time"])
    rows.reject(start_bad, "non-numeric start time")
    if strict:
        first = rows.first()
        if first is not None:
            raise TraceError(source, first[1], line=first[0])

    ok = rows.ok
    plan = np.nan_to_num(plan, nan=0.0)
    per_instance = np.ceil(plan / 100.0)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd counts become inf: out of range
        gpus = np.where(ok, np.nan_to_num(inst, nan=0.0) * per_instance, 0.0)
    frac = ok & (plan > 0) & (plan % 100 != 0)
    job = parsing.text(cols["job_name"])
    broken = rows.rejected_for("wrong number of fields")
    if broken.any():  # still charge the row to its job: the first field names it
        first_field = pc.list_element(pc.split_pattern(rows.raw, ",", max_splits=1), 0)
        job = pc.if_else(pa.array(broken), parsing.text(first_field), job)
    names = pc.unique(job)
    code = pc.index_in(job, value_set=names).to_numpy(zero_copy_only=False)
    k = len(names)
    first_start = np.full(k, np.inf)
    np.minimum.at(first_start, code, np.where(ok & np.isfinite(start), start, np.inf))
    # the task with the most GPUs names the job's class (ties: first by name)
    order = pc.sort_indices(
        pa.table({"code": code, "gpus": gpus, "name": parsing.text(cols["task_name"])}),
        sort_keys=[("code", "ascending"), ("gpus", "descending"), ("name", "ascending")],
    ).to_numpy()
    sorted_code = code[order]
    heads = order[np.flatnonzero(np.r_[True, sorted_code[1:] != sorted_code[:-1]])]
    summary = TaskSummary(
        names=names,
        gpus=np.bincount(code, weights=gpus, minlength=k),
        start=np.where(np.isinf(first_start), np.nan, first_start),
        bad=np.bincount(code, weights=(~ok).astype(float), minlength=k) > 0,
        lead=pc.take(parsing.text(cols["task_name"]), pa.array(heads)),
    )

    notes = [*(f"task table: {n}" for n in table.notes)]
    if frac.any():
        notes.append(
            f"fractional GPUs (plan_gpu not a multiple of 100) rounded up per instance: "
            f"{int(frac.sum())} task rows"
        )
    first = rows.first()
    if first is not None:
        bad = int((~ok).sum())
        notes.append(
            f"unusable task rows: {bad} (first at {task_path.name} line {first[0]}: {first[1]})"
        )
    return summary, notes
