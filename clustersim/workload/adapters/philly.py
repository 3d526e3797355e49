"""Microsoft Philly trace (msr-fiddle/philly-traces, ``cluster_job_log``, ATC '19).

Input: a JSON array of job records (the published file), or JSON Lines (one record per
line).  A record has ``jobid``, ``user``, ``vc``, ``status`` (Pass/Killed/Failed),
``submitted_time`` and ``attempts``: a list of scheduling attempts, each with ``start_time``,
``end_time`` and ``detail`` (a list of ``{"ip": machine, "gpus": ["gpu0", ...]}``).  Times are
``YYYY-MM-DD HH:MM:SS`` wall-clock strings, read as UTC (the trace names no zone; if they
are US Pacific local time, an attempt spanning the 2017-11-05 DST change is off by an
hour).  Line numbers in ``rejected`` are the record's index + 1 for a JSON array and the
physical line for JSON Lines.

Mapping (one record = one job; its attempts are folded into it):

==================  ====================================================================
native column       from
==================  ====================================================================
job_id              ``jobid``
submit_s            ``submitted_time``
recorded_start_s    ``start_time`` of the first attempt that has one
duration_s          sum over attempts of ``end_time - start_time``: the time the job held
                    GPUs; gaps between attempts (re-queueing) are left out, since the
                    simulator does its own queueing.  Attempts missing a start or end time
                    (logging gaps upstream) are skipped and counted in the notes
num_gpus            the largest number of GPUs any attempt held (sum of the lengths of its
                    ``detail[*].gpus`` lists)
job_class           ``vc`` (virtual cluster)
user                ``user``
==================  ====================================================================

Rejected records: ``no attempts`` (never scheduled), ``no end time`` (last attempt has no
``end_time``: still running at the snapshot), ``no start time`` (no attempt with both
times), ``zero GPUs`` (no GPU listed in any attempt), ``negative duration`` (an attempt ends
before it starts), ``missing job_id``, ``missing``/``bad submit time``, ``not a job record``
(not a JSON object), ``invalid JSON`` (JSON Lines only), ``duplicate job_id``, and values out
of any plausible range: ``submit``/``start``/``end time out of range`` (a date before 1970 or
from 2100 on), ``duration out of range`` (over 10 years), ``GPU count out of range`` (over
1,000,000).  A first attempt that starts before the submit time is
``start before submit``.
There is one cluster per file: ``cluster`` is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from clustersim.errors import TraceError
from clustersim.workload.adapters import builders, parsing, reading, rejections

NAME = "philly"
_INVALID = object()  # stands for a JSON Lines entry that does not parse


class _RawRecords(Sequence[str]):
    """Raw text of records, rendered only for the rows that are rejected."""

    def __init__(self, records: list[object], texts: list[str | None]):
        self._records = records
        self._texts = texts

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        text = self._texts[i]
        if text is not None:
            return text[: rejections.RAW_LIMIT]
        return json.dumps(self._records[i], separators=(",", ":"))[: rejections.RAW_LIMIT]


def load_records(source: str, data: bytes) -> tuple[list[object], np.ndarray, list[str | None]]:
    """(records, line numbers, raw texts); a JSON Lines entry that does not parse becomes the
    ``_INVALID`` marker with its text kept.  Raw texts are None for a JSON array."""
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TraceError(source, "not UTF-8 text", line=line) from exc
    stripped = body.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(body)
        except json.JSONDecodeError as exc:
            raise TraceError(source, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
        return records, np.arange(1, len(records) + 1), [None] * len(records)
    try:
        whole = json.loads(body)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [whole], np.ones(1, dtype=np.int64), [None]
    records = []
    lines: list[int] = []
    texts: list[str | None] = []
    for number, line in enumerate(body.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append(_INVALID)
        texts.append(line.rstrip("\r"))
        lines.append(number)
    if records and all(r is _INVALID for r in records):
        raise TraceError(source, "not JSON: expected a JSON array or JSON Lines", line=lines[0])
    return records, np.asarray(lines, dtype=np.int64), texts


def read(path: Path, *, strict: bool = False, cluster: str | None = None) -> builders.AdaptedTrace:
    """Read a Philly ``cluster_job_log`` into the native table."""
    reading.no_cluster(path, NAME, cluster)
    source = str(path)
    records, lines, texts = load_records(source, reading.read_bytes(path))
    n = len(records)
    invalid = np.zeros(n, dtype=bool)
    not_record = np.zeros(n, dtype=bool)
    no_attempts = np.zeros(n, dtype=bool)
    last_open = np.zeros(n, dtype=bool)
    ids: list[object] = [None] * n
    submitted: list[object] = [None] * n
    vcs: list[object] = [None] * n
    users: list[object] = [None] * n
    att_job: list[int] = []
    att_start: list[object] = []
    att_end: list[object] = []
    att_gpus: list[int] = []
    for i, rec in enumerate(records):
        if type(rec) is not dict:
            if rec is _INVALID:
                invalid[i] = True
            else:
                not_record[i] = True
            continue
        get = rec.get
        ids[i] = get("jobid")
        submitted[i] = get("submitted_time")
        vcs[i] = get("vc")
        users[i] = get("user")
        attempts = get("attempts")
        if type(attempts) is not list or not attempts:
            no_attempts[i] = True
            continue
        last = attempts[-1]
        last_open[i] = not (type(last) is dict and last.get("end_time"))
        for attempt in attempts:
            if type(attempt) is not dict:
                continue
            att_job.append(i)
            att_start.append(attempt.get("start_time"))
            att_end.append(attempt.get("end_time"))
            att_gpus.append(_count_gpus(attempt.get("detail")))

    rows = rejections.RowSet(lines, _RawRecords(records, texts))
    rows.reject(invalid, "invalid JSON")
    rows.reject(not_record, "not a job record")
    job_id = _texts(ids)
    rows.reject(parsing.is_empty(job_id), "missing job_id")
    submit, submit_empty, submit_bad = parsing.parse_timestamps(_texts(submitted))
    rows.reject(submit_empty, "missing submit time")
    rows.reject(submit_bad, "bad submit time")
    rows.reject(no_attempts, "no attempts")
    rows.reject(last_open, "no end time")

    job = np.asarray(att_job, dtype=np.int64)
    start, _, _ = parsing.parse_timestamps(_texts(att_start))
    end, _, _ = parsing.parse_timestamps(_texts(att_end))
    complete = np.isfinite(start) & np.isfinite(end)
    run = np.where(complete, end - start, 0.0)
    duration = np.bincount(job, weights=run, minlength=n)
    n_complete = np.bincount(job, weights=complete, minlength=n)
    negative = np.bincount(job, weights=(run < 0).astype(float), minlength=n) > 0
    # attempts are listed in order, so a job's first attempt with a start comes first
    first_start = np.full(n, np.nan)
    with_start = np.flatnonzero(np.isfinite(start))
    jobs_started, first = np.unique(job[with_start], return_index=True)
    first_start[jobs_started] = start[with_start[first]]
    # the latest time any complete attempt names (its start or end): out of range is rejected
    last_time = np.full(n, -np.inf)
    np.maximum.at(last_time, job, np.where(complete, np.fmax(start, end), -np.inf))
    last_time = np.where(np.isinf(last_time), np.nan, last_time)
    earliest = np.full(n, np.inf)
    np.minimum.at(earliest, job, np.where(complete, np.fmin(start, end), np.inf))
    last_time = np.where(earliest < rejections.MIN_DATE_S, earliest, last_time)
    counts = np.asarray(att_gpus, dtype=np.int64)
    gpus = np.zeros(n, dtype=np.int64)
    np.maximum.at(gpus, job, counts)
    fewest = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(fewest, job, counts)
    varied = (fewest != gpus) & (fewest != np.iinfo(np.int64).max)

    rows.reject(n_complete == 0, "no start time")
    rows.reject(gpus == 0, "zero GPUs")
    rows.reject(negative, "negative duration")
    rows.reject(gpus > rejections.MAX_GPUS, "GPU count out of range")
    rejections.check_time(rows, submit, "submit", dates=True)
    rejections.check_time(rows, first_start, "start", dates=True)
    rejections.check_time(rows, last_time, "end", dates=True)
    rejections.check_duration(rows, duration)
    rejections.check_duplicates(rows, job_id)

    ok = rows.ok
    notes = []
    skipped = int((~complete & ok[job]).sum())
    if skipped:
        notes.append(f"attempts without a usable start or end time skipped: {skipped}")
    if (ok & varied).any():
        notes.append(
            f"jobs whose attempts held different GPU counts (largest used): {int((ok & varied).sum())}"
        )
    return builders.build_trace(
        NAME,
        source,
        rows,
        job_id=job_id,
        submit_s=submit,
        num_gpus=gpus,
        duration_s=duration,
        job_class=_texts(vcs),
        user=_texts(users),
        recorded_start_s=first_start,
        strict=strict,
        notes=notes,
    )


def _texts(values: list[object]) -> pa.Array:
    """JSON values as text: strings kept, null as empty, anything else via ``str``."""
    try:
        arr = pa.array(values, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(["" if v is None else str(v) for v in values], pa.large_string())
    return arr.fill_null("") if arr.null_count else arr


def _count_gpus(detail: object) -> int:
    """GPUs an attempt held: the summed lengths of its ``detail[*].gpus`` lists."""
    if type(detail) is not list:
        return 0
    total = 0
    for machine in detail:
        if type(machine) is dict:
            gpus = machine.get("gpus")
            if type(gpus) is list:
                total += len(gpus)
    return total
