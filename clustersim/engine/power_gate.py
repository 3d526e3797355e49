"""The power budget that ``admission`` and ``capping`` start jobs against (the gate the queue
policies ask through ``cluster.power``).

Starting a job of ``g`` GPUs raises IT power by ``g x d``: ``d = busy_w - idle_w`` under
``admission``, ``d = floor x busy_w - idle_w`` under ``capping`` (the job could be throttled
down to its lowest limit). The gate keeps a *budget*: at every future time ``t``,

    PUE(t) x (static + sum of g x d over jobs that may still run at t) <= cap(t)

where ``static`` is the fleet with every node counted as in service and idle (a node coming
back from repair can then never break the cap), plus, with inference services, the power of
every replica each service may run (``max_replicas`` at ``inference_w``; replicas are never
held). A job starts only if the budget holds over its whole run ``[now, now + wall)`` with it
added. How long a job may still run: under ``admission`` its expected end (true run-time
estimates); under ``capping`` its latest end, the end of its segment run wholly at the
lowest limit's speed (it can only finish earlier). So the cap is never exceeded, even across a
lower summer or peak-hour cap.

EASY stays sound: ``reserve`` moves the head's shadow time to the first time at or after its
GPU shadow when its power also fits, and books the head's power from then; every backfill is
checked with that booking in place, so none delays the head for power, as the extra nodes
rule keeps it from delaying the head for GPUs.

``power_wait_s`` (jobs table): for each spell in the queue, the time from the first pass whose
gate refused the job while its GPUs were free to its start, summed over spells.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate


class Gate:
    """The start gate over the budget (module docstring). ``power`` is the Power component
    (calendar segments, cluster, engine); ``d`` the watts one started GPU adds; ``slow`` the
    speed factor a job's booked run is estimated at (1.0, or the lowest limit's speed);
    ``end_of`` how long a running job may still run (its end time)."""

    def __init__(self, power, static: float, d: float, slow: float, end_of: Callable):
        self.power = power
        self.cluster = power.cluster
        self.engine = power.engine
        self.static = static
        self.dw = d
        self.slow = slow
        self.end_of = end_of
        self.refused: dict[int, float] = {}  # job seq -> first refusal in its current queue spell
        self.waited: dict[int, float] = {}  # job seq -> power wait so far
        self.phantom: tuple | None = None  # (head, start, end, d): EASY's booking for the head
        self._profile_key = None

    def _wall(self, job, pool: int) -> float:
        speed = self.cluster.pools[pool].speed
        return job.run_estimate(speed if self.slow == 1.0 else speed * self.slow)

    def _profile(self):
        """Running jobs' power by end: (ends, prefix sums of d, total d); rebuilt when the
        cluster's allocations change."""
        key = self.cluster.changes
        if key != self._profile_key:
            end_of, dw = self.end_of, self.dw
            jobs = sorted((end_of(j), j.spec.num_gpus * dw) for j in self.engine.running)
            ends = [e for e, _ in jobs]
            cum = list(accumulate(d for _, d in jobs))
            self._profile_cache = (ends, cum, cum[-1] if cum else 0.0)
            self._profile_key = key
        return self._profile_cache

    def _fits(self, d: float, start: float, end: float, phantom: tuple | None) -> bool:
        """The budget holds over [start, end) with ``d`` more watts of IT power."""
        ends, cum, total = self._profile()
        p = self.power
        bounds = p.bounds
        i = p.segment(start)
        points = [start] + bounds[i + 1: bisect_left(bounds, end)]
        if phantom is not None and start < phantom[1] < end:
            points.append(phantom[1])
        for t in points:
            k = bisect_right(ends, t)
            committed = total - (cum[k - 1] if k else 0.0)
            if phantom is not None and phantom[1] <= t < phantom[2]:
                committed += phantom[3]
            s = p.segment(t)
            if p.seg_pue[s] * (self.static + committed + d) > p.seg_cap[s]:
                return False
        return True

    def admits(self, job, pool: int = 0) -> bool:
        """May ``job`` start now on ``pool``? Records a refusal when its GPUs are free."""
        now = self.engine.env.now
        ph = self.phantom
        if ph is not None and ph[0] is job:
            ph = None
        if self._fits(job.spec.num_gpus * self.dw, now, now + self._wall(job, pool), ph):
            return True
        if job.seq not in self.refused and self.cluster.fits(job.spec.num_gpus, pool):
            self.refused[job.seq] = now
        return False

    def reserve(self, head, shadow) -> None:
        """EASY's head: move its shadow time to when its power fits too, and book it."""
        self.phantom = None
        t0 = shadow.t
        if t0 == math.inf:
            return
        d = head.spec.num_gpus * self.dw
        wall = self._wall(head, shadow.pool)
        ends, _, _ = self._profile()
        candidates = sorted({t0, *(e for e in ends if e > t0), *(b for b in self.power.bounds if b > t0)})
        for t in candidates:
            if self._fits(d, t, t + wall, None):
                shadow.t = t
                self.phantom = (head, t, t + wall, d)
                return
        shadow.t = math.inf  # its power never fits while these jobs run: no booking

    def started(self, job, now: float) -> None:
        since = self.refused.pop(job.seq, None)
        if since is not None:
            self.waited[job.seq] = self.waited.get(job.seq, 0.0) + now - since
        if self.phantom is not None and self.phantom[0] is job:
            self.phantom = None

    def waits(self, n: int, now: float):
        """Power wait of every job (by seq) at the horizon, still-queued jobs up to now."""
        import numpy as np

        wait = np.zeros(n)
        for seq, since in self.refused.items():  # still queued at the horizon: waiting so far
            self.waited[seq] = self.waited.get(seq, 0.0) + now - since
        for seq, w in self.waited.items():
            wait[seq] = w
        return wait
