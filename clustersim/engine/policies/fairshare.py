"""Fair share: Slurm's multifactor priority (priority/multifactor), then EASY backfill.

A job's priority is the weighted sum of factors in [0, 1], as Slurm's multifactor plugin
documents them (one level of accounts: the tenancy's teams):

- **age**: time since submission / ``max_age`` (PriorityMaxAge), at most 1;
- **fair share** (the classic algorithm): ``F = 2^(-U/S)``, where ``S`` is the team's
  normalised shares (its weight over the sum of weights) and ``U`` its normalised usage (its
  decayed GPU-seconds over all teams'). Usage decays with half-life ``half_life``
  (PriorityDecayHalfLife): at each recalculation ``U_t <- U_t x 2^(-dt / half_life) + (GPU-seconds
  used since the last one)``;
- **job size**: GPUs / the cluster's GPUs (``favor_small``: 1 minus that).

Priorities are recomputed every ``recalc`` seconds (PriorityCalcPeriod), at the first
scheduling pass at or after that time, and the queue is re-sorted then; a job queued between
recalculations gets its priority when it enters the queue. Jobs run in priority order (after
any tenancy priority class: ``job.prio`` first), with EASY backfill (``backfill``) or strictly.
Usage is a team's GPUs held (``engine.tenancy``), so a preempted job's lost work counts too.

Cost: a recalculation does not re-sort the queue. Between two jobs of one team, tenancy
priority (and, with a size weight, size) the only difference is age, so the older stays ahead
at every recalculation; the queue (``engine.grouped_queue``) keeps such groups in submission
order and merges them by priority only as far as a pass looks. Jobs whose age factor reached 1
move to their team's group of equal ages (ordered by ``seq``), at the head of the younger group.
The order is the same as a full re-sort's (``tests/policies/test_fairshare_grouped.py``).
"""

from __future__ import annotations

from clustersim.engine.grouped_queue import GroupedQueue
from clustersim.engine.policies.easy import EasyBackfill
from clustersim.engine.policies.strict import start_heads
from clustersim.model import Job

INF = float("inf")


class Fairshare:
    """Multifactor priority with fair share (see the module docstring)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.backfill = EasyBackfill(cfg.depth) if cfg.backfill else None
        self.tenancy = None
        self._pri: dict[Job, float] = {}
        self._now = 0.0
        self._next = 0.0  # time of the next recalculation
        self._decayed: list[float] = []
        self._seen: list[float] = []  # GPU-seconds per team at the last recalculation
        self._factor: list[float] = []
        self._gpus = 0
        self._at = 0.0  # time of the last recalculation
        # Within a group jobs are ordered by submit time; that agrees with the priority only
        # if submit times never decrease with ``seq`` (true of every workload source): else
        # the queue re-sorts every job at a recalculation.
        self.grouped = True
        self._last = (-1, -INF)  # (seq, submit time) of the newest job keyed

    def make_queue(self) -> GroupedQueue:
        return GroupedQueue(self)

    @classmethod
    def from_config(cls, cfg) -> Fairshare:
        return cls(cfg)

    def bind(self, tenancy) -> None:
        """Read the teams' usage and weights from the tenancy component."""
        self.tenancy = tenancy
        n = len(tenancy.names)
        self._decayed = [0.0] * n
        self._seen = [0.0] * n
        self._factor = [1.0] * n
        total = sum(tenancy.weights)
        self._shares = [w / total for w in tenancy.weights]
        self._gpus = max(1, tenancy.cluster.up_gpus)

    def key(self, job: Job) -> tuple:
        """A job queued now: its priority when it entered the queue (kept until a recalculation)."""
        p = self._pri.get(job)
        if p is None:
            p = self._pri[job] = self.priority(job, self._now)
            if job.seq > self._last[0]:
                if job.spec.submit_s < self._last[1]:
                    self.grouped = False
                self._last = (job.seq, job.spec.submit_s)
        return (job.prio, -p, job.seq)

    def member_key(self, job: Job) -> tuple:
        """A job queued at the last recalculation (and maybe taken out and back since)."""
        p = self._pri.get(job)
        if p is None:
            p = self._pri[job] = self.priority(job, self._at)
        return (job.prio, -p, job.seq)

    def group(self, job: Job) -> tuple:
        """Jobs whose order cannot change at a recalculation: (tenancy priority, team, age
        factor at 1, size if it has a weight)."""
        capped = max(0.0, self._at - job.spec.submit_s) / self.cfg.max_age >= 1.0
        return (job.prio, job.team, capped, job.spec.num_gpus if self.cfg.weights.size else 0)

    @staticmethod
    def inner(gid: tuple):
        return _by_seq if gid[2] else _by_submit

    @staticmethod
    def movable(gid: tuple) -> bool:
        return not gid[2]  # the oldest jobs reach the age cap first

    def priority(self, job: Job, now: float) -> float:
        w = self.cfg.weights
        age = min(1.0, max(0.0, now - job.spec.submit_s) / self.cfg.max_age)
        size = min(1.0, job.spec.num_gpus / self._gpus)
        if self.cfg.favor_small:
            size = 1.0 - size
        fs = self._factor[job.team] if self._factor else 1.0
        return w.age * age + w.fairshare * fs + w.size * size

    def factors(self) -> list[float]:
        return list(self._factor)

    def refresh(self, queue, now: float) -> bool:
        """Recompute usage and priorities if ``recalc`` has passed; True if it did."""
        self._now = now
        if now < self._next or self.tenancy is None:
            return False
        self._next = now + self.cfg.recalc
        used = self.tenancy.usage()
        hl = self.cfg.half_life
        dt = now - self._at
        self._at = now
        decay = 2.0 ** (-dt / hl)
        for t, u in enumerate(used):
            self._decayed[t] = self._decayed[t] * decay + (u - self._seen[t])
            self._seen[t] = u
        total = sum(self._decayed)
        self._factor = [
            2.0 ** (-(u / total) / s) if total > 0 else 1.0 for u, s in zip(self._decayed, self._shares, strict=True)
        ]
        if isinstance(queue, GroupedQueue):
            self._pri = {}  # members get their new priority when the merge reads it
            queue.regroup()
        else:  # a flat queue: re-sort it all
            jobs = list(queue.jobs)
            queue.remove_indices(list(range(len(jobs))))
            self._pri = {j: self.priority(j, now) for j in jobs}
            for j in jobs:
                queue.push(j)
        self.invalidate()
        return True

    def invalidate(self) -> None:
        if self.backfill is not None:
            self.backfill.invalidate()

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        if self.refresh(queue, now):
            new = None
        if self.backfill is not None:
            self.backfill.schedule(queue, cluster, placement, now, start, new)
        else:
            start_heads(queue, cluster, placement, start)


def _by_submit(job: Job) -> tuple:
    return (job.spec.submit_s, job.seq)


def _by_seq(job: Job) -> tuple:
    return (job.seq,)
