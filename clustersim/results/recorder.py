"""Recording a run as it happens: append-only typed arrays, turned into tables at the end.

``Recorder`` keeps the cluster's levels as a step function (one row per change; each value
holds until the next row) and ``JobLog`` one compact row per job that left the system. Both
are typed arrays, so a year of jobs costs tens of bytes each.
"""

from __future__ import annotations

from array import array

import numpy as np

from clustersim.results.columns import EVENT_COLUMNS, LEVEL_COLUMNS, STAGE_COLUMNS, STATES

NAN = float("nan")


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
        start, end = job.start_s, job.end_s
        self.start.append(NAN if start is None else start)
        self.end.append(NAN if end is None else end)
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
