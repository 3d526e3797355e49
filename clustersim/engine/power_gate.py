"""The power budget that ``admission`` and ``capping`` start jobs against (the gate the queue
policies ask through ``cluster.power``).

Starting a job of ``g`` GPUs raises IT power by ``g x d``: ``d = busy_w - idle_w`` under
``admission``, ``d = floor x busy_w - idle_w`` under ``capping`` (the job could be throttled
down to its lowest limit). The gate keeps a *budget*: at every future time ``t``,

    PUE(t) x (static + sum of g x d over jobs that may still run at t) <= cap(t)

where ``static`` is the fleet with every node counted as in service and idle (a node coming
back from repair can then never break the cap), plus, with inference services, the power of
every replica each service may run (``max_replicas`` at ``inference_w``, or at the inference
curve's lowest limit when replicas may be capped: ``PowerConfig.replica_booked_w``; replicas are
never held). With a supply section ``static`` is a step function of time (``Power.static_at``): the
fleet at time 0, plus every ordered node from its delivery at its burn-in draw, then from its
entry into service at the larger of its idle and down draws (the order plans are drawn at time
0, so these times are known), less the nodes retired so far; rented nodes and jobs on them add
nothing (off-site). ``d`` is per pool, at that pool's GPU type. A job starts only if the budget
holds over its whole run ``[now, now + wall)`` with it added (checked at its start and at every
calendar boundary and static step within it; committed power only falls between them). How
long a job may still run: under ``admission`` its expected end (true run-time estimates); under ``capping`` its latest end, the end of its segment run wholly at the
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

    def __init__(self, power, d: list[float], slow: float, end_of: Callable):
        self.power = power
        self.cluster = power.cluster
        self.engine = power.engine
        self.steps = power.static_steps  # times the static draw steps at (supply); empty: constant
        self.static = power.static_at(0.0)
        self.dw = d  # per pool
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
            jobs = sorted((end_of(j), j.spec.num_gpus * dw[j.pool]) for j in self.engine.running)
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
        steps = self.steps
        if steps:  # the fleet's static draw steps up at a delivery (supply)
            points += steps[bisect_right(steps, start): bisect_left(steps, end)]
        static = self.static
        for t in points:
            k = bisect_right(ends, t)
            committed = total - (cum[k - 1] if k else 0.0)
            if phantom is not None and phantom[1] <= t < phantom[2]:
                committed += phantom[3]
            s = p.segment(t)
            if steps:
                static = p.static_at(t)
            if p.seg_pue[s] * (static + committed + d) > p.seg_cap[s]:
                return False
        return True

    def admits(self, job, pool: int = 0) -> bool:
        """May ``job`` start now on ``pool``? Records a refusal when its GPUs are free."""
        now = self.engine.env.now
        ph = self.phantom
        if ph is not None and ph[0] is job:
            ph = None
        if self._fits(job.spec.num_gpus * self.dw[pool], now, now + self._wall(job, pool), ph):
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
        d = head.spec.num_gpus * self.dw[shadow.pool]
        wall = self._wall(head, shadow.pool)
        ends, _, _ = self._profile()
        candidates = sorted({t0, *(e for e in ends if e > t0), *(b for b in self.power.bounds if b > t0),
                             *(b for b in self.steps if t0 < b < math.inf)})
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


def static_profile(power, supply, burn_in: str, extra: float) -> tuple[list[float], list[float], list[float]]:
    """The static draw with a supply section (module docstring): per pool the most a node in
    service draws without a job, the times after 0 where the static draw steps, and its values
    (before the first step, then after each). ``extra``: the services' booked replica watts."""
    from clustersim.config.power import node_draws
    from clustersim.engine.supply import BURN_IN

    cfg, pools = power.cfg, power.cluster.pools
    draws = [None if g is None else node_draws(g, p.gpus_per_node, cfg.down_node_w, burn_in)
             for g, p in zip(power.pool_gpu, pools, strict=True)]
    service_w = [0.0 if d is None else d[0] for d in draws]
    base = len(pools[0].nodes) * service_w[0] + extra
    steps: dict[float, float] = {}
    for t, pool, n, stage in node_timeline(supply):
        if draws[pool] is not None:
            service, burn = draws[pool]
            steps[t] = steps.get(t, 0.0) + n * (burn if stage == BURN_IN else service - burn)
    times = sorted(t for t in steps if t > 0)
    values = [base + sum(v for t, v in steps.items() if t <= 0)]
    for t in times:
        values.append(values[-1] + steps[t])
    return service_w, times, values


def node_timeline(supply) -> list[tuple[float, int, int, int]]:
    """Where every ordered node will be, from the order plans ``engine.supply`` draws up front:
    (time, pool, nodes, stage), stage BURN_IN at a batch's delivery and IN_SERVICE when nodes
    enter service (at acceptance, or after an acceptance repair). Times are computed as the
    supply's events compute them (``_placed``, ``_delivered``, ``_accepted``, ``_repaired``:
    SimPy adds each delay to the time of the event that schedules it), so they are equal."""
    from clustersim.engine.supply import BURN_IN, IN_SERVICE

    out = []
    for plan in supply.orders:
        if plan.gpu_type is None:  # refused
            continue
        for k, n in enumerate(plan.batches):
            delivered = plan.at + (plan.lead + k * plan.every)
            out.append((delivered, plan.pool, n, BURN_IN))
            accepted = delivered + plan.burn_in[k]
            failed = plan.repair[k]
            if n > len(failed):
                out.append((accepted, plan.pool, n - len(failed), IN_SERVICE))
            for _j, _name, repair in failed:
                out.append((accepted + repair, plan.pool, 1, IN_SERVICE))
    return out
