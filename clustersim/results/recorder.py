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
    ``stage`` takes capacity by stage, which changes rarely and is merged in at ``frame``.
    Rows are kept in one flat integer array (row after row), so recording one is a single
    append of a tuple, whatever the number of columns."""

    __slots__ = ("t", "flat", "names", "_last", "_prev", "stage_t", "stage_rows", "stage_names")

    def __init__(self) -> None:
        self.t = array("d")
        self.names = list(LEVEL_COLUMNS[1:])
        self.flat = array("q")  # row-major: len(names) values per row
        self._last = None  # values of the last row
        self._prev = None  # values of the row before it
        self.stage_t: list[float] = []
        self.stage_rows: list[tuple] = []
        self.stage_names: list[str] = list(STAGE_COLUMNS)

    def pool_columns(self, pools: list[str]) -> None:
        """Add busy and up GPUs per pool (before the first row)."""
        for name in pools:
            self.names += [f"busy_gpus.{name}", f"up_gpus.{name}"]

    def add_columns(self, names: list[str]) -> None:
        """More level columns (before the first row), given last in ``level``'s ``extra``."""
        self.names.extend(names)

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
        flat = self.flat
        if last is not None and self.t[-1] == t:
            n = len(row)
            if row == self._prev:
                # the same-time change undid itself: drop the row
                self.t.pop()
                del flat[-n:]
                self._last = self._prev
                self._prev = tuple(flat[-2 * n : -n]) if len(self.t) >= 2 else None
                return
            flat[-n:] = array("q", row)
        else:
            self.t.append(t)
            flat.extend(row)
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
        rows = np.frombuffer(self.flat, dtype=np.int64).reshape(len(t), len(self.names))
        for i, name in enumerate(self.names):
            data[name] = rows[:, i].copy()
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
    for jobs still running or queued. Rows are sorted by submission order on output.

    A row is two appends: its integers to one flat array and its times to another (``INTS``
    and ``FLOATS`` give the order), turned into columns at ``frame``."""

    INTS = ("seq", "gpus", "state", "cls", "reason", "restarts", "pool", "request")
    FLOATS = ("submit", "start", "end", "duration", "work", "lost", "overhead", "lost_gpu", "overhead_gpu", "useful")

    def __init__(self, pools: list[str] | None = None) -> None:
        self.pools = list(pools or ["default"])  # pool names, by pool index
        self.ints = array("q")
        self.floats = array("d")
        self.ids: dict[int, str] = {}  # seq -> job id, only for jobs that carry their own
        self._classes: dict[str, int] = {}
        self._reasons: dict[str, int] = {"": 0}
        self._requests: dict[str, int] = {"any": 0}
        self._states = {state: i for i, state in enumerate(STATES)}

    def __len__(self) -> int:
        return len(self.ints) // len(self.INTS)

    def add(self, job, state: str) -> None:
        spec = job.spec
        start, end = job.start_s, job.end_s
        cls = self._classes.get(spec.job_class)
        if cls is None:
            cls = self._classes[spec.job_class] = len(self._classes)
        reason = self._reasons.get(job.reason)
        if reason is None:
            reason = self._reasons[job.reason] = len(self._reasons)
        request = self._requests.get(job.request)
        if request is None:
            request = self._requests[job.request] = len(self._requests)
        self.ints.extend(
            (job.seq, spec.num_gpus, self._states[state], cls, reason, job.restarts, job.pool, request)
        )
        duration, remaining = spec.duration_s, job.remaining_s
        self.floats.extend((
            spec.submit_s,
            NAN if start is None else start,
            NAN if end is None else end,
            duration,
            duration - remaining,
            job.lost_s,
            job.overhead_s,
            job.lost_gpu_s,
            job.overhead_gpu_s,
            (duration - remaining - job.work_fast) + job.wall_fast,  # Job.useful_s
        ))
        if spec.job_id is not None:
            self.ids[job.seq] = spec.job_id

    def frame(self):
        import pandas as pd
        import pyarrow as pa

        n = len(self)
        ints = np.frombuffer(self.ints, dtype=np.int64).reshape(n, len(self.INTS))
        seq = ints[:, 0]
        order = np.argsort(seq, kind="stable")
        seq = seq[order]
        # columns in submission order, one at a time; each flat log is freed as soon as its
        # columns are out, so the table exists about once (not twice) at the peak
        i = {name: ints[order, k] for k, name in enumerate(self.INTS) if name != "seq"}
        del ints
        self.ints = array("q")
        floats = np.frombuffer(self.floats, dtype=float).reshape(n, len(self.FLOATS))
        f = {name: floats[order, k] for k, name in enumerate(self.FLOATS)}
        del floats, order
        self.floats = array("d")

        if self.ids:
            ids = self.ids
            id_array = pa.array([ids.get(s, str(s)) for s in seq.tolist()], pa.string())
        else:
            id_array = pa.compute.cast(pa.array(seq), pa.string())
        del seq
        data = {"job_id": pd.array(id_array, dtype=pd.StringDtype("pyarrow"))}
        del id_array
        data["job_class"] = pd.Categorical.from_codes(i.pop("cls"), list(self._classes))
        data["num_gpus"] = i.pop("gpus")
        data["submit_s"] = f.pop("submit")
        data["start_s"] = f.pop("start")
        data["end_s"] = f.pop("end")
        data["wait_s"] = data["start_s"] - data["submit_s"]
        data["duration_s"] = f.pop("duration")
        data["state"] = pd.Categorical.from_codes(i.pop("state").astype(np.int8), list(STATES))
        data["reason"] = pd.Categorical.from_codes(i.pop("reason"), list(self._reasons))
        data["restarts"] = i.pop("restarts")
        data["work_done_s"] = f.pop("work")
        data["lost_s"] = f.pop("lost")
        data["overhead_s"] = f.pop("overhead")
        data["lost_gpu_s"] = f.pop("lost_gpu")
        data["overhead_gpu_s"] = f.pop("overhead_gpu")
        data["gpu_request"] = pd.Categorical.from_codes(i.pop("request"), list(self._requests))
        data["gpu_type"] = pd.Categorical.from_codes(_codes(i.pop("pool"), len(self.pools)), [*self.pools, ""])
        data["useful_s"] = f.pop("useful")
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
