"""Plain types shared by every layer: the immutable job request (``JobSpec``) and the runtime
state of whatever holds GPUs (``Job``: a training job; inference replicas subclass it with
``kind = REPLICA``)."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from mypy_extensions import mypyc_attr

# Job states at the horizon (and during the run). Final: a compiled build inlines these
# (and the kinds below) instead of looking each one up in the module's namespace at every use.
QUEUED: Final = "queued"
RUNNING: Final = "running"
FINISHED: Final = "finished"
REJECTED: Final = "rejected"

# What holds GPUs: a training job (queued, scheduled, checkpointed) or a service replica.
TRAINING: Final = "training"
REPLICA: Final = "replica"


class JobSpec(NamedTuple):
    """What a user asked for: an immutable input row (from a synthetic class or a trace).

    A named tuple rather than a frozen dataclass: a million-row trace creates a million of
    these, and a tuple is built about three times faster."""

    job_id: str | None  # None for synthetic jobs: their id is their submission number
    submit_s: float
    num_gpus: int
    duration_s: float
    job_class: str = "trace"
    user: str = ""
    recorded_start_s: float = float("nan")
    gpu_type: str = "any"  # GPU type requested, or "any" (a synthetic job takes its class's)
    time_limit_s: float = float("nan")  # run-time limit the user requested (trace), NaN: none given


@mypyc_attr(allow_interpreted_subclasses=True)
class Job:
    """A job's runtime state. Slots keep it small: a year of jobs must fit in memory.

    Times not reached yet are ``None`` (``start_s`` before the first start, ``end_s`` before
    the end, ``hung_since`` unless a failure has stopped the job and is not yet detected)."""

    kind = TRAINING

    __slots__ = (
        "spec",
        "seq",
        "state",
        "start_s",
        "end_s",
        "nodes",
        "expected_end_s",
        "token",
        "reason",
        "prio",
        "remaining_s",
        "plan",
        "seg_start_s",
        "seg_restart",
        "restarts",
        "lost_s",
        "overhead_s",
        "lost_gpu_s",
        "overhead_gpu_s",
        "hung_since",
        "hang_mark",
        "hang_gpus",
        "request",
        "pools",
        "pool",
        "speed",
        "work_fast",
        "wall_fast",
        "_est_speed",
        "_est_rem",
        "_est_restarts",
        "_est",
        "team",
        "priority",
        "pieces",
        "end_token",
    )

    def __init__(self, spec: JobSpec, seq: int):
        self.spec = spec
        self.seq = seq  # submission order (replicas: their own count); breaks ties everywhere
        self.state = QUEUED
        self.start_s: float | None = None  # first start
        self.end_s: float | None = None
        self.nodes: tuple[int, ...] = ()
        self.expected_end_s = float("inf")
        self.token = 0  # bumped whenever a scheduled completion becomes stale
        self.reason = ""
        self.prio = 0  # queue priority before the policy key (-1: requeued to the front)
        self.remaining_s = spec.duration_s  # work still to do, in seconds at speed 1.0
        self.plan: Any = None  # checkpoint.Plan when failures are modelled
        self.seg_start_s = 0.0  # start of the current run segment
        self.seg_restart = False  # the current segment begins with a restart cost
        self.restarts = 0
        self.lost_s = 0.0  # wall seconds of lost work (since the last checkpoint, and hangs)
        self.overhead_s = 0.0  # wall seconds writing checkpoints and restarting
        self.lost_gpu_s = 0.0
        self.overhead_gpu_s = 0.0
        self.hung_since: float | None = None  # a failure stopped progress; not yet detected
        self.hang_mark = 0.0
        self.hang_gpus = 0
        self.request = spec.gpu_type  # GPU type asked for ("any", or its class's type)
        self.pools: tuple[int, ...] = (0,)  # node pools it may run on, in the order to try
        self.pool = -1  # pool it runs (or last ran) on
        self.speed = 1.0  # speed of that pool's GPU type
        self.work_fast = 0.0  # work done on pools of speed != 1 (s at speed 1.0) ...
        self.wall_fast = 0.0  # ... and the wall seconds it took there
        self._est_speed = -1.0  # run_estimate's memo: (speed, work left, restarts) -> wall
        self._est_rem = -1.0
        self._est_restarts = -1
        self._est = 0.0
        self.team = 0  # index of its team (tenancy; 0 without one)
        self.priority = 0  # its priority (tenancy; higher runs first)
        # the current segment's speed changes (``engine.segments.respeed``), or None while its
        # speed has not changed: [(progress wall s, work done s, speed from then on), ...]
        self.pieces: list[tuple[float, float, float]] | None = None
        self.end_token = -1  # token of its entry in its pool's end heap (``Cluster.ends``)

    def run_estimate(self, speed: float = 1.0) -> float:
        """Wall time this job needs if it (re)starts now on GPUs of ``speed`` and nothing
        interrupts it. Work is in seconds at speed 1.0; it takes work / speed of wall time,
        and checkpoints are every ``plan.interval`` seconds of that wall time."""
        if self.plan is None:
            return self.remaining_s / speed
        # a backfill pass asks this of every job in its window, every time: remember the
        # answer until the work left, the restart count or the speed changes
        if self._est_speed == speed and self._est_rem == self.remaining_s and self._est_restarts == self.restarts:
            return self._est
        est = self.plan.segment_wall(self.remaining_s / speed, self.restarts > 0)
        self._est_speed, self._est_rem, self._est_restarts, self._est = speed, self.remaining_s, self.restarts, est
        return est

    def progress(self, wall: float) -> None:
        """Credit ``wall`` seconds of kept progress (progress time of the current segment, at
        its speeds) and end the segment's speed history."""
        if self.pieces is not None:
            self._progress_pieces(wall)
            return
        speed = self.speed
        work = wall * speed
        self.remaining_s -= work
        if speed != 1.0:
            self.work_fast += work
            self.wall_fast += wall

    def _progress_pieces(self, wall: float) -> None:
        pieces: list = self.pieces  # type: ignore[assignment]
        self.pieces = None
        last = len(pieces) - 1
        for i, (p, _work, speed) in enumerate(pieces):
            if p >= wall:
                break
            span = (wall if i == last else min(wall, pieces[i + 1][0])) - p
            work = span * speed
            self.remaining_s -= work
            if speed != 1.0:
                self.work_fast += work
                self.wall_fast += span

    @property
    def useful_s(self) -> float:
        """Wall seconds of kept progress (equals work done when every segment ran at 1.0)."""
        return (self.spec.duration_s - self.remaining_s - self.work_fast) + self.wall_fast

    @property
    def num_gpus(self) -> int:
        return self.spec.num_gpus

    @property
    def duration_s(self) -> float:
        return self.spec.duration_s

    def __repr__(self) -> str:
        return f"Job({self.spec.job_id!r}, gpus={self.spec.num_gpus}, state={self.state})"
