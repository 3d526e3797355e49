"""Recording a run as it happens: append-only typed arrays, turned into tables at the end.

``Recorder`` keeps the cluster's levels as a step function (one row per change; each value
holds until the next row) and ``JobLog`` one compact row per job that left the system. Both
are typed arrays, so a year of jobs costs tens of bytes each.
"""

from __future__ import annotations

from array import array
from struct import Struct
from typing import Final

import numpy as np

from clustersim.model import Job
from clustersim.results.columns import EVENT_COLUMNS, LEVEL_COLUMNS, STAGE_COLUMNS, STATES

# Final: a compiled build keeps these in C variables (or inlines them) instead of looking
# each one up in the module's namespace at every use
NAN: Final = float("nan")
_INT_ROW: Final = Struct("@2i")  # JobLog.INTS, native C ints as in array("i")
_FLOAT_ROW: Final = Struct("@4d")  # JobLog.FLOATS, C doubles as in array("d")


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
    append of packed bytes, whatever the number of columns."""

    __slots__ = ("t", "flat", "names", "_last", "_prev", "_pack", "stage_t", "stage_rows", "stage_names",
                 "_t_last", "_append_t", "_append_row")

    def __init__(self) -> None:
        self.t = array("d")
        self.names = list(LEVEL_COLUMNS[1:])
        self.flat = array("q")  # row-major: len(names) values per row
        self._last: tuple | None = None  # values of the last row
        self._prev: tuple | None = None  # values of the row before it
        self._pack: Struct | None = None  # a row as the flat array's bytes (made at the first row)
        # the last row's time and the arrays' appends, kept: at a row per change, reading them
        # off the arrays (a float made, two method lookups) was a few percent of a compiled run
        self._t_last = NAN
        self._append_t = self.t.append
        self._append_row = self.flat.frombytes
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
        row: tuple = (busy, up, running, queued, queued_gpus, down)
        if extra:
            row += extra
        last = self._last
        if row == last:
            return
        flat = self.flat
        if last is not None and self._t_last == t:
            n = len(row)
            if row == self._prev:
                # the same-time change undid itself: drop the row
                self.t.pop()
                self._t_last = self.t[-1] if len(self.t) else NAN
                del flat[-n:]
                self._last = self._prev
                self._prev = tuple(flat[-2 * n : -n]) if len(self.t) >= 2 else None
                return
            flat[-n:] = array("q", row)
        else:
            self._append_t(t)
            self._t_last = t
            pack = self._pack
            if pack is None:
                pack = self._pack = Struct(f"@{len(row)}q")  # native int64s, as array("q") holds them
            self._append_row(pack.pack(*row))  # a third of the time of extend(row), same bytes
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

        t = np.frombuffer(self.t, dtype=float)  # a view, like the rows: nothing is recorded after
        rows = np.frombuffer(self.flat, dtype=np.int64).reshape(len(t), len(self.names))
        if not self.stage_t:
            # the level columns stay in the recorded rows (one 2-D block, not copied): the
            # table costs no more memory than the recording
            frame = pd.DataFrame(rows, columns=self.names, copy=False)
            frame.insert(0, "t_s", t)
            return frame
        data = {"t_s": t}
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

    A plain row (no restart, loss, overhead, work left or fast pool: most finished jobs)
    is 40 bytes: its sequence number and a code for (GPUs, state, class, reason, pool,
    request) in one int32 array, submit, start, end and duration in one float array. Any
    other row also stores its index, restarts and six more floats in side arrays (``EXTRA``),
    and ``frame`` fills the plain rows' columns from their duration (work done = useful =
    duration, the rest zero: exactly what those jobs' attributes give)."""

    INTS = ("seq", "kind")
    FLOATS = ("submit", "start", "end", "duration")
    EXTRA = ("work", "lost", "overhead", "lost_gpu", "overhead_gpu", "useful")
    KIND = ("gpus", "state", "cls", "reason", "pool", "request")

    def __init__(self, pools: list[str] | None = None) -> None:
        self.pools = list(pools or ["default"])  # pool names, by pool index
        self.ints = array("i")  # seq, kind per row (a run holds far fewer than 2**31 jobs)
        self.floats = array("d")
        self.extra_rows = array("i")  # row index of each non-plain row
        self.extra_restarts = array("i")
        self.extra_floats = array("d")  # EXTRA per non-plain row
        # the row arrays' appends and the row packers, kept bound: looked up at every row, they
        # were a few percent of a compiled run
        self._add_ints = self.ints.frombytes
        self._add_floats = self.floats.frombytes
        self._pack_ints = _INT_ROW.pack
        self._pack_floats = _FLOAT_ROW.pack
        self.ids: dict[int, str] = {}  # seq -> job id, only for jobs that carry their own
        self._kinds: dict[tuple, int] = {}  # (gpus, state, cls, reason, pool, request) -> code
        self._kind_rows: list[tuple] = []  # code -> its integer columns, in KIND order
        self._classes: dict[str, int] = {}
        self._reasons: dict[str, int] = {"": 0}
        self._requests: dict[str, int] = {"any": 0}
        self._states = {state: i for i, state in enumerate(STATES)}

    def __len__(self) -> int:
        return len(self.ints) // 2

    def _kind(self, key: tuple) -> int:
        gpus, state, job_class, reason, pool, request = key
        cls = self._classes.get(job_class)
        if cls is None:
            cls = self._classes[job_class] = len(self._classes)
        r = self._reasons.get(reason)
        if r is None:
            r = self._reasons[reason] = len(self._reasons)
        q = self._requests.get(request)
        if q is None:
            q = self._requests[request] = len(self._requests)
        code = self._kinds[key] = len(self._kinds)
        self._kind_rows.append((gpus, self._states[state], cls, r, pool, q))
        return code

    def add(self, job: Job, state: str) -> None:
        spec = job.spec
        start, end = job.start_s, job.end_s
        key = (spec.num_gpus, state, spec.job_class, job.reason, job.pool, job.request)
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kind(key)
        duration, remaining = spec.duration_s, job.remaining_s
        if (remaining or job.restarts or job.lost_s or job.overhead_s or job.lost_gpu_s or job.overhead_gpu_s
                or job.work_fast or job.wall_fast):
            self.extra_rows.append(len(self.ints) // 2)
            self.extra_restarts.append(job.restarts)
            self.extra_floats.extend((
                duration - remaining,
                job.lost_s,
                job.overhead_s,
                job.lost_gpu_s,
                job.overhead_gpu_s,
                (duration - remaining - job.work_fast) + job.wall_fast,  # Job.useful_s
            ))
        self._add_ints(self._pack_ints(job.seq, kind))  # the bytes array.extend would append
        self._add_floats(
            self._pack_floats(spec.submit_s, NAN if start is None else start, NAN if end is None else end, duration)
        )
        if spec.job_id is not None:
            self.ids[job.seq] = spec.job_id

    def frame(self):
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute  # noqa: F401  (pa.compute)

        n = len(self)
        pairs = np.frombuffer(self.ints, dtype=np.int32).reshape(n, 2)
        order = np.argsort(pairs[:, 0], kind="stable")
        seq = pairs[order, 0].astype(np.int64)
        code = pairs[order, 1]
        del pairs
        self.ints = array("i")
        self._add_ints = self.ints.frombytes
        table = np.array(self._kind_rows, dtype=np.int64).reshape(-1, len(self.KIND))
        column = dict(zip(self.KIND, range(len(self.KIND)), strict=True))

        def ints(name: str) -> np.ndarray:  # one integer column at a time, in submission order
            return table[code, column[name]]

        floats = np.frombuffer(self.floats, dtype=float).reshape(n, len(self.FLOATS))
        f = {name: floats[order, k] for k, name in enumerate(self.FLOATS)}
        del floats
        self.floats = array("d")
        self._add_floats = self.floats.frombytes  # (the old array's method would keep it alive)
        # non-plain rows: their place in submission order, then their own values
        where = np.empty(n, dtype=np.int64)
        where[order] = np.arange(n, dtype=np.int64)
        rows = where[np.frombuffer(self.extra_rows, dtype=np.int32)]
        del where, order
        extra = np.frombuffer(self.extra_floats, dtype=float).reshape(len(rows), len(self.EXTRA))
        restarts = np.zeros(n, dtype=np.int64)
        restarts[rows] = np.frombuffer(self.extra_restarts, dtype=np.int32)
        for k, name in enumerate(self.EXTRA):
            if name in ("work", "useful"):
                col = f["duration"].copy()
            else:
                col = np.zeros(n, dtype=float)
            col[rows] = extra[:, k]
            f[name] = col
        del extra, rows
        self.extra_rows, self.extra_restarts, self.extra_floats = array("i"), array("i"), array("d")

        if self.ids:
            ids = self.ids
            id_array = pa.array([ids.get(s, str(s)) for s in seq.tolist()], pa.string())
        else:
            id_array = pa.compute.cast(pa.array(seq), pa.string())
        del seq
        data = {"job_id": pd.array(id_array, dtype=pd.StringDtype("pyarrow"))}
        del id_array
        data["job_class"] = pd.Categorical.from_codes(ints("cls"), list(self._classes))
        data["num_gpus"] = ints("gpus")
        data["submit_s"] = f.pop("submit")
        data["start_s"] = f.pop("start")
        data["end_s"] = f.pop("end")
        data["wait_s"] = data["start_s"] - data["submit_s"]
        data["duration_s"] = f.pop("duration")
        data["state"] = pd.Categorical.from_codes(ints("state").astype(np.int8), list(STATES))
        data["reason"] = pd.Categorical.from_codes(ints("reason"), list(self._reasons))
        data["restarts"] = restarts
        data["work_done_s"] = f.pop("work")
        data["lost_s"] = f.pop("lost")
        data["overhead_s"] = f.pop("overhead")
        data["lost_gpu_s"] = f.pop("lost_gpu")
        data["overhead_gpu_s"] = f.pop("overhead_gpu")
        data["gpu_request"] = pd.Categorical.from_codes(ints("request"), list(self._requests))
        data["gpu_type"] = pd.Categorical.from_codes(_codes(ints("pool"), len(self.pools)), [*self.pools, ""])
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
