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

LEVEL_COLUMNS = (
    "t_s",
    "busy_gpus",
    "up_gpus",
    "running_jobs",
    "queued_jobs",
    "queued_gpus",
    "down_nodes",
)
# Capacity by stage (see supply.py); constant without a supply section: the fleet at time zero
# in service, nothing ordered, in transit, in burn-in, retired or rented.
STAGE_COLUMNS = (
    "ordered_gpus",
    "in_transit_gpus",
    "burn_in_gpus",
    "in_service_gpus",
    "retired_gpus",
    "rented_gpus",
)
# Columns of a one-pool run; with several pools each pool adds ``<column>.<pool>`` for busy and
# up GPUs and for every stage column.
TIMESERIES_COLUMNS = LEVEL_COLUMNS  # every run; STAGE_COLUMNS follow in runs with supply
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
    "gpu_request",
    "gpu_type",
    "useful_s",
)
EVENT_COLUMNS = {
    "t_s": float,
    "kind": str,
    "node_id": "int64",
    "cause": str,
    "repair_class": str,
    "down_s": float,
    "jobs_hit": "int64",
    "gpu_type": str,
    "gpus": "int64",
    "order_id": "int64",
    "batch": "int64",
    "late_s": float,
    "detail": str,
}
STATES = ("finished", "running", "queued", "rejected")


def events_frame(rows: list[tuple]):
    """The events table: one row per discrete event (failures, repairs, orders, deliveries,
    acceptance, retirement), in time order; columns ``EVENT_COLUMNS``."""
    import pandas as pd

    rows = sorted(rows, key=lambda r: r[0])  # stable: same-time rows keep their order
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return frame.astype(EVENT_COLUMNS)


class Recorder:
    """The cluster's levels over time, one row per change, same-time changes coalesced.

    ``level`` takes the base columns (and, with several pools, busy and up GPUs per pool);
    ``stage`` takes capacity by stage, which changes rarely and is merged in at ``frame``."""

    __slots__ = ("t", "cols", "names", "_last", "_prev", "stage_t", "stage_rows", "stage_names")

    def __init__(self) -> None:
        self.t = array("d")
        self.names = list(LEVEL_COLUMNS[1:])
        self.cols = [array("q") for _ in self.names]
        self._last = None  # values of the last row
        self._prev = None  # values of the row before it
        self.stage_t: list[float] = []
        self.stage_rows: list[tuple] = []
        self.stage_names: list[str] = list(STAGE_COLUMNS)

    def pool_columns(self, pools: list[str]) -> None:
        """Add busy and up GPUs per pool (before the first row)."""
        for name in pools:
            self.names += [f"busy_gpus.{name}", f"up_gpus.{name}"]
            self.cols += [array("q"), array("q")]

    def add_columns(self, names: list[str]) -> None:
        """More level columns (before the first row), given last in ``level``'s ``extra``."""
        for name in names:
            self.names.append(name)
            self.cols.append(array("q"))

    def stage_columns(self, names: list[str]) -> None:
        self.stage_names = list(names)

    def level(
        self, t: float, busy: int, up: int, running: int, queued: int, queued_gpus: int, down: int = 0, extra=()
    ) -> None:
        row = (busy, up, running, queued, queued_gpus, down)
        if extra:
            row += extra
        last = self._last
        if row == last:
            return
        cols = self.cols
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

    def stage(self, t: float, row: tuple) -> None:
        """Capacity by stage from ``t`` on (same-time rows: the last one holds)."""
        if self.stage_rows and self.stage_rows[-1] == row:
            return
        if self.stage_t and self.stage_t[-1] == t:
            self.stage_rows[-1] = row
            if len(self.stage_rows) >= 2 and self.stage_rows[-2] == row:
                self.stage_t.pop()
                self.stage_rows.pop()
            return
        self.stage_t.append(t)
        self.stage_rows.append(row)

    def frame(self):
        import pandas as pd

        t = np.frombuffer(self.t, dtype=float).copy()
        data = {"t_s": t}
        for name, col in zip(self.names, self.cols, strict=True):
            data[name] = np.frombuffer(col, dtype=np.int64).copy()
        if self.stage_t:
            st = np.array(self.stage_t, dtype=float)
            grid = np.union1d(t, st)
            if len(grid) != len(t):  # stage changes at times the levels did not change
                at = np.searchsorted(t, grid, side="right") - 1
                data = {k: (grid if k == "t_s" else v[np.maximum(at, 0)]) for k, v in data.items()}
            if len(st) == 1:  # constant (no supply section): no index arrays
                for name, value in zip(self.stage_names, self.stage_rows[0], strict=True):
                    data[name] = np.full(len(grid), value, dtype=np.int64)
            else:
                at = np.maximum(np.searchsorted(st, grid, side="right") - 1, 0)
                rows = np.array(self.stage_rows, dtype=np.int64)
                for i, name in enumerate(self.stage_names):
                    data[name] = rows[at, i]
        return pd.DataFrame(data, copy=False)


class JobLog:
    """One compact row per job: appended when a job ends or is rejected, and at the horizon
    for jobs still running or queued. Rows are sorted by submission order on output."""

    def __init__(self, pools: list[str] | None = None) -> None:
        self.pools = list(pools or ["default"])  # pool names, by pool index
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
        self.pool = array("l")
        self.request = array("l")
        self.useful = array("d")
        self.ids: dict[int, str] = {}  # seq -> job id, only for jobs that carry their own
        self._classes: dict[str, int] = {}
        self._reasons: dict[str, int] = {"": 0}
        self._requests: dict[str, int] = {"any": 0}

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
        self.pool.append(job.pool)
        self.request.append(self._requests.setdefault(job.request, len(self._requests)))
        self.useful.append((spec.duration_s - job.remaining_s - job.work_fast) + job.wall_fast)  # Job.useful_s
        if spec.job_id is not None:
            self.ids[job.seq] = spec.job_id

    def frame(self):
        import pandas as pd
        import pyarrow as pa

        seq = np.frombuffer(self.seq, dtype=np.int64)
        order = np.argsort(seq, kind="stable")
        seq = seq[order]
        self.seq = array("q")

        def col(name, dtype):
            """The column in submission order; the log's own copy is freed at once, so the
            table never exists twice (peak memory stays near one copy per job)."""
            out = np.frombuffer(getattr(self, name), dtype=dtype)[order]
            setattr(self, name, array(getattr(self, name).typecode))
            return out

        if self.ids:
            ids = self.ids
            id_array = pa.array([ids.get(s, str(s)) for s in seq.tolist()], pa.string())
        else:
            id_array = pa.compute.cast(pa.array(seq), pa.string())
        del seq
        data = {"job_id": pd.array(id_array, dtype=pd.StringDtype("pyarrow"))}
        del id_array
        data["job_class"] = pd.Categorical.from_codes(col("cls", np.int_), list(self._classes))
        data["num_gpus"] = col("gpus", np.int64)
        data["submit_s"] = col("submit", float)
        data["start_s"] = col("start", float)
        data["end_s"] = col("end", float)
        data["wait_s"] = data["start_s"] - data["submit_s"]
        data["duration_s"] = col("duration", float)
        data["state"] = pd.Categorical.from_codes(col("state", np.int8), list(STATES))
        data["reason"] = pd.Categorical.from_codes(col("reason", np.int_), list(self._reasons))
        data["restarts"] = col("restarts", np.int_).astype(np.int64, copy=False)
        data["work_done_s"] = col("work", float)
        data["lost_s"] = col("lost", float)
        data["overhead_s"] = col("overhead", float)
        data["lost_gpu_s"] = col("lost_gpu", float)
        data["overhead_gpu_s"] = col("overhead_gpu", float)
        data["gpu_request"] = pd.Categorical.from_codes(col("request", np.int_), list(self._requests))
        data["gpu_type"] = pd.Categorical.from_codes(
            _codes(col("pool", np.int_), len(self.pools)), [*self.pools, ""]
        )
        data["useful_s"] = col("useful", float)
        return pd.DataFrame(data, copy=False)


def _codes(pool: np.ndarray, never: int) -> np.ndarray:
    """Pool index per job as category codes; -1 (never started) becomes ``never``."""
    pool = pool.astype(np.int16 if never < 2**15 else np.int64)
    pool[pool < 0] = never
    return pool


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
    if "inference_gpus" in timeseries:  # the identity is over training GPUs only
        busy -= step_integral(t, timeseries["inference_gpus"].to_numpy(float), 0.0, horizon)
    gpus = jobs["num_gpus"].to_numpy(float)
    # useful_s: wall seconds of kept progress (= work done at speed 1.0; older runs lack it)
    useful_s = jobs["useful_s" if "useful_s" in jobs else "work_done_s"].to_numpy(float)
    useful = float(np.sum(useful_s * gpus))
    lost = float(jobs["lost_gpu_s"].sum())
    overhead = float(jobs["overhead_gpu_s"].sum())
    kind = events["kind"].to_numpy(object) if len(events) else np.array([], dtype=object)
    finished = (jobs["state"] == "finished").to_numpy(bool) & (jobs["submit_s"].to_numpy(float) >= warmup)
    wall = (jobs["end_s"] - jobs["start_s"]).to_numpy(float)
    work = jobs["useful_s"].to_numpy(float) if "useful_s" in jobs else jobs["duration_s"].to_numpy(float)

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


def add_preemptions(jobs, preempted: dict):
    """Add ``preemptions`` and ``preempted_lost_gpu_s`` to a jobs table (runs with services),
    from ``{seq: [count, lost GPU-seconds]}`` (jobs' rows are in submission order)."""
    n = len(jobs)
    count = np.zeros(n, dtype=np.int64)
    lost = np.zeros(n, dtype=float)
    for seq, (c, gpu_s) in preempted.items():
        count[seq] = c
        lost[seq] = gpu_s
    jobs = jobs.copy()
    jobs["preemptions"] = count
    jobs["preempted_lost_gpu_s"] = lost
    return jobs


def summarize_services(services, jobs, *, horizon: float, warmup: float) -> dict:
    """Service levels and the cost to training, from ``services.parquet`` and the jobs table.

    Per service, over [warmup, horizon]: ``slo_attainment`` = fraction of time with no unserved
    demand; ``unserved_fraction`` = unserved over demanded requests; ``replica_gpu_hours`` =
    GPU-hours held by replicas (starting or ready); ``peak_replicas`` = most replicas placed at
    once; ``shortfall_hours`` = time with unserved demand; ``waiting_replica_hours`` = replica-
    hours wanted but not placed (no GPUs). Training: ``preemptions`` and
    ``preempted_gpu_hours_lost`` (work lost to preemption) over the whole run."""
    out: dict = {}
    window = horizon - warmup
    for name in sorted(set(services["service"].tolist())) if len(services) else []:
        rows = services[services["service"] == name]
        t = rows["t_s"].to_numpy(float)
        unserved = rows["unserved_rps"].to_numpy(float)
        demand = step_integral(t, rows["demand_rps"].to_numpy(float), warmup, horizon)
        short = step_integral(t, (unserved > 1e-9).astype(float), warmup, horizon)
        placed = (rows["ready_replicas"] + rows["starting_replicas"]).to_numpy(float)
        inside = (t < horizon) & (np.append(t[1:], horizon) > warmup)
        out[name] = {
            "slo_attainment": 1.0 - short / window,
            "unserved_fraction": step_integral(t, unserved, warmup, horizon) / demand if demand > 0 else 0.0,
            "unserved_requests": step_integral(t, unserved, warmup, horizon),
            "demand_requests": demand,
            "shortfall_hours": short / 3600.0,
            "replica_gpu_hours": step_integral(t, rows["replica_gpus"].to_numpy(float), warmup, horizon) / 3600.0,
            "peak_replicas": int(placed[inside].max()) if inside.any() else 0,
            "waiting_replica_hours": step_integral(t, rows["waiting_replicas"].to_numpy(float), warmup, horizon)
            / 3600.0,
        }
    return _clean(
        {
            "services": out,
            "preemptions": int(jobs["preemptions"].sum()) if "preemptions" in jobs else 0,
            "preempted_gpu_hours_lost": float(jobs["preempted_lost_gpu_s"].sum()) / 3600.0
            if "preempted_lost_gpu_s" in jobs
            else 0.0,
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
