"""Recording and summarising a run: append-only rows, and pure functions of them.

``Recorder`` keeps the cluster's levels as a step function (one row per change; each value
holds until the next row) and ``JobLog`` one compact row per job that left the system. Both
are typed arrays, so a year of jobs costs tens of bytes each. ``summarize`` computes every
summary number from the jobs table and the timeseries alone, so anyone can recompute it
from the files of a run directory.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

TIMESERIES_COLUMNS = (
    "t_s",
    "busy_gpus",
    "up_gpus",
    "running_jobs",
    "queued_jobs",
    "queued_gpus",
    "down_nodes",
)
JOB_COLUMNS = (
    "job_id",
    "job_class",
    "num_gpus",
    "submit_s",
    "start_s",
    "end_s",
    "wait_s",
    "duration_s",
    "state",
    "reason",
    "restarts",
    "work_done_s",
    "lost_s",
    "overhead_s",
    "lost_gpu_s",
    "overhead_gpu_s",
)
STATES = ("finished", "running", "queued", "rejected")


class Recorder:
    """The cluster's levels over time, one row per change, same-time changes coalesced."""

    __slots__ = ("t", "busy", "up", "running", "queued", "queued_gpus", "down", "_last", "_prev")

    def __init__(self) -> None:
        self.t = array("d")
        self.busy = array("q")
        self.up = array("q")
        self.running = array("q")
        self.queued = array("q")
        self.queued_gpus = array("q")
        self.down = array("q")
        self._last = None  # values of the last row
        self._prev = None  # values of the row before it

    def level(
        self, t: float, busy: int, up: int, running: int, queued: int, queued_gpus: int, down: int = 0
    ) -> None:
        row = (busy, up, running, queued, queued_gpus, down)
        last = self._last
        if row == last:
            return
        cols = (self.busy, self.up, self.running, self.queued, self.queued_gpus, self.down)
        if last is not None and self.t[-1] == t:
            if row == self._prev:
                # the same-time change undid itself: drop the row
                self.t.pop()
                for col in cols:
                    col.pop()
                self._last = self._prev
                self._prev = (
                    tuple(col[-2] for col in cols) if len(self.t) >= 2 else None
                )
                return
            for col, value in zip(cols, row, strict=True):
                col[-1] = value
        else:
            self.t.append(t)
            for col, value in zip(cols, row, strict=True):
                col.append(value)
            self._prev = last
        self._last = row

    def frame(self):
        import pandas as pd

        cols = (self.t, self.busy, self.up, self.running, self.queued, self.queued_gpus, self.down)
        return pd.DataFrame(
            {
                name: np.frombuffer(col, dtype=float if col.typecode == "d" else np.int64).copy()
                for name, col in zip(TIMESERIES_COLUMNS, cols, strict=True)
            }
        )


class JobLog:
    """One compact row per job: appended when a job ends or is rejected, and at the horizon
    for jobs still running or queued. Rows are sorted by submission order on output."""

    def __init__(self) -> None:
        self.seq = array("q")
        self.gpus = array("q")
        self.submit = array("d")
        self.start = array("d")
        self.end = array("d")
        self.duration = array("d")
        self.state = array("b")
        self.cls = array("l")
        self.reason = array("l")
        self.restarts = array("l")
        self.work = array("d")
        self.lost = array("d")
        self.overhead = array("d")
        self.lost_gpu = array("d")
        self.overhead_gpu = array("d")
        self.ids: dict[int, str] = {}  # seq -> job id, only for jobs that carry their own
        self._classes: dict[str, int] = {}
        self._reasons: dict[str, int] = {"": 0}

    def add(self, job, state: str) -> None:
        spec = job.spec
        self.seq.append(job.seq)
        self.gpus.append(spec.num_gpus)
        self.submit.append(spec.submit_s)
        self.start.append(job.start_s)
        self.end.append(job.end_s)
        self.duration.append(spec.duration_s)
        self.state.append(STATES.index(state))
        self.cls.append(self._classes.setdefault(spec.job_class, len(self._classes)))
        self.reason.append(self._reasons.setdefault(job.reason, len(self._reasons)))
        self.restarts.append(job.restarts)
        self.work.append(spec.duration_s - job.remaining_s)
        self.lost.append(job.lost_s)
        self.overhead.append(job.overhead_s)
        self.lost_gpu.append(job.lost_gpu_s)
        self.overhead_gpu.append(job.overhead_gpu_s)
        if spec.job_id is not None:
            self.ids[job.seq] = spec.job_id

    def frame(self):
        import pandas as pd
        import pyarrow as pa

        seq = np.frombuffer(self.seq, dtype=np.int64)
        order = np.argsort(seq, kind="stable")
        seq = seq[order]

        def col(arr, dtype):
            return np.frombuffer(arr, dtype=dtype)[order]

        if self.ids:
            ids = self.ids
            id_array = pa.array([ids.get(s, str(s)) for s in seq.tolist()], pa.string())
        else:
            id_array = pa.compute.cast(pa.array(seq), pa.string())
        submit = col(self.submit, float)
        start = col(self.start, float)
        return pd.DataFrame(
            {
                "job_id": pd.array(id_array, dtype=pd.StringDtype("pyarrow")),
                "job_class": pd.Categorical.from_codes(col(self.cls, np.int_), list(self._classes)),
                "num_gpus": col(self.gpus, np.int64),
                "submit_s": submit,
                "start_s": start,
                "end_s": col(self.end, float),
                "wait_s": start - submit,
                "duration_s": col(self.duration, float),
                "state": pd.Categorical.from_codes(col(self.state, np.int8), list(STATES)),
                "reason": pd.Categorical.from_codes(col(self.reason, np.int_), list(self._reasons)),
                "restarts": col(self.restarts, np.int_).astype(np.int64),
                "work_done_s": col(self.work, float),
                "lost_s": col(self.lost, float),
                "overhead_s": col(self.overhead, float),
                "lost_gpu_s": col(self.lost_gpu, float),
                "overhead_gpu_s": col(self.overhead_gpu, float),
            }
        )


def step_integral(t: np.ndarray, v: np.ndarray, start: float, end: float) -> float:
    """Integral over [start, end] of the right-continuous step function v(t) (v[i] holds on
    [t[i], t[i+1]); the last value holds to ``end``; zero before t[0])."""
    if end <= start or len(t) == 0:
        return 0.0
    edges = np.append(t, end)
    lo = np.clip(edges[:-1], start, end)
    hi = np.clip(edges[1:], start, end)
    return float(np.sum(v * (hi - lo)))


def _stats(values: np.ndarray, keys: tuple[str, ...]) -> dict:
    if len(values) == 0:
        return {k: None for k in keys}
    out = {}
    for k in keys:
        if k == "mean":
            out[k] = float(np.mean(values))
        else:
            out[k] = float(np.percentile(values, float(k[1:])))
    return out


WAIT_KEYS = ("mean", "p50", "p90", "p99")
JCT_KEYS = ("mean", "p50", "p90")


def busy_gpu_seconds_from_jobs(jobs, start: float, end: float) -> float:
    """Busy GPU-seconds in [start, end] recomputed from the jobs table alone."""
    started = jobs[jobs["start_s"].notna()]
    s = started["start_s"].to_numpy(float)
    e = started["end_s"].fillna(end).to_numpy(float)
    overlap = np.clip(np.minimum(e, end) - np.maximum(s, start), 0, None)
    return float(np.sum(overlap * started["num_gpus"].to_numpy(float)))


def summarize(jobs, timeseries, *, scenario: str, seed: int, horizon: float, warmup: float) -> dict:
    """Every summary number, from the jobs table and the timeseries alone.

    Waits are over jobs submitted at or after ``warmup`` that started by the horizon; JCT
    over those that finished. Utilisation is busy over up GPU-seconds in [warmup, horizon].
    """
    state = jobs["state"]
    job_class = jobs["job_class"]
    submit = jobs["submit_s"].to_numpy(float)
    start = jobs["start_s"].to_numpy(float)
    end = jobs["end_s"].to_numpy(float)
    counts = {s: int((state == s).sum()) for s in STATES}
    t = timeseries["t_s"].to_numpy(float)
    window = horizon - warmup
    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), warmup, horizon)
    up = step_integral(t, timeseries["up_gpus"].to_numpy(float), warmup, horizon)
    measured = (submit >= warmup) & (state != "rejected").to_numpy(bool)
    started = measured & ~np.isnan(start)
    finished = measured & (state == "finished").to_numpy(bool)
    wait = start - submit
    jct = end - submit
    offered = float(np.sum(jobs["num_gpus"].to_numpy(float)[measured] * jobs["duration_s"].to_numpy(float)[measured]))
    summary = {
        "scenario": scenario,
        "seed": seed,
        "horizon_s": horizon,
        "warmup_s": warmup,
        "jobs": {"submitted": int(len(state)), **counts},
        "gpu_utilisation": (busy / up) if up > 0 else None,
        "offered_load": (offered / up) if up > 0 else None,
        "mean_queued_jobs": step_integral(t, timeseries["queued_jobs"].to_numpy(float), warmup, horizon) / window,
        "wait_s": _stats(wait[started], WAIT_KEYS),
        "jct_s": _stats(jct[finished], JCT_KEYS),
        "by_class": {},
    }
    for name in sorted(str(c) for c in job_class.unique().tolist()):
        mine = (job_class == name).to_numpy(bool)
        summary["by_class"][name] = {
            "jobs": int(np.sum(mine & measured)),
            "wait_s": _stats(wait[mine & started], WAIT_KEYS),
            "jct_s": _stats(jct[mine & finished], JCT_KEYS),
        }
    return _clean(summary)


def summarize_failures(jobs, timeseries, events, *, horizon: float, warmup: float, spare_swaps: int) -> dict:
    """Failure and goodput numbers, from the jobs table, timeseries and events alone.

    GPU-second accounting is over the whole run [0, horizon]: busy = useful + lost +
    overhead, where useful is work done (kept), lost is work since the last checkpoint plus
    time hung before detection, overhead is checkpoint writing and restarts.
    """
    t = timeseries["t_s"].to_numpy(float)
    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), 0.0, horizon)
    gpus = jobs["num_gpus"].to_numpy(float)
    useful = float(np.sum(jobs["work_done_s"].to_numpy(float) * gpus))
    lost = float(jobs["lost_gpu_s"].sum())
    overhead = float(jobs["overhead_gpu_s"].sum())
    kind = events["kind"].to_numpy(object) if len(events) else np.array([], dtype=object)
    finished = (jobs["state"] == "finished").to_numpy(bool) & (jobs["submit_s"].to_numpy(float) >= warmup)
    wall = (jobs["end_s"] - jobs["start_s"]).to_numpy(float)
    work = jobs["duration_s"].to_numpy(float)

    def ettr(mask) -> float | None:
        denom = float(np.sum(wall[mask] * gpus[mask]))
        return float(np.sum(work[mask] * gpus[mask])) / denom if denom > 0 else None

    classes = sorted(str(c) for c in jobs["job_class"].unique().tolist())
    job_class = jobs["job_class"]
    return _clean(
        {
            "failures": int(np.sum(kind == "failure")),
            "job_failures": int(np.sum(kind == "job_failure")),
            "job_interruptions": int(jobs["restarts"].sum()),
            "spare_swaps": int(spare_swaps),
            "nodes_pulled": int(np.sum(kind == "pulled")),
            "lost_gpu_hours": lost / 3600.0,
            "overhead_gpu_hours": overhead / 3600.0,
            "useful_gpu_hours": useful / 3600.0,
            "busy_gpu_hours": busy / 3600.0,
            "goodput": useful / busy if busy > 0 else None,
            "ettr": {
                "overall": ettr(finished),
                "by_class": {c: ettr(finished & (job_class == c).to_numpy(bool)) for c in classes},
            },
            "mean_nodes_down": step_integral(t, timeseries["down_nodes"].to_numpy(float), warmup, horizon)
            / (horizon - warmup),
        }
    )


def _clean(value):
    """JSON-safe: NaN and inf become None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
