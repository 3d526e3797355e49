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

Cost: the gate is asked for nearly every job a pass looks at, so its books are kept as jobs
start and end (the mode's ``started``/``ended``; ``refile`` when admission's expected end
moves) rather than rebuilt from the running jobs on each ask, with the same floats a rebuild
would give (``_resum``); with one PUE and cap for the run, a job that fits beside the most the
fleet and every running job could ever draw is admitted without the check per point
(``_roomy``); and within one state a pass's answers imply others (``_known``). Each shortcut
gives the answer the full check would.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate, islice


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
        self.flat = len(power.bounds) == 1  # one PUE and one cap for the whole run
        self.dw = d  # per pool
        self.slow = slow
        self.end_of = end_of
        self.refused: dict[int, float] = {}  # job seq -> first refusal in its current queue spell
        self.waited: dict[int, float] = {}  # job seq -> power wait so far
        self.phantom: tuple | None = None  # (head, start, end, d): EASY's booking for the head
        # the profile of running jobs' power by end, kept as jobs start and end (``_profile``)
        self._booked: dict = {}  # running job -> (end, d) as filed
        self._ends: list[float] = []  # ascending; equal ends in ascending d
        self._ds: list[float] = []  # d of each, in that order
        self._cum: list[float] = []  # prefix sums of _ds
        self._version = 0  # bumped on every change of the profile
        # answers given since the state ``_fits`` reads last changed (``_known``)
        self._state: tuple = ()
        self._phantom_seen: tuple | None = None
        self._yes: list[tuple[float, float]] = []  # (d, end) that fit
        self._no: list[tuple[float, float]] = []  # (d, end) that did not

    def _wall(self, job, pool: int) -> float:
        speed = self.cluster.pools[pool].speed
        return job.run_estimate(speed if self.slow == 1.0 else speed * self.slow)

    def _profile(self):
        """Running jobs' power by end: (ends, prefix sums of d, total d). The lists are the
        ones a sort of every running job's (end, d) would give, kept in place as jobs come and
        go (``add``, ``remove``, ``refile``) rather than rebuilt on every allocation change."""
        cum = self._cum
        return self._ends, cum, cum[-1] if cum else 0.0

    def add(self, job) -> None:
        """File a job that started (its ``end_of`` is set): its d at its end."""
        end, d = self._booked[job] = (self.end_of(job), job.spec.num_gpus * self.dw[job.pool])
        ends, ds = self._ends, self._ds
        lo, hi = bisect_left(ends, end), bisect_right(ends, end)
        i = bisect_right(ds, d, lo, hi)  # after equal (end, d) pairs, as a sort orders them
        ends.insert(i, end)
        ds.insert(i, d)
        self._resum(i)
        self._version += 1

    def remove(self, job) -> None:
        """Take a job whose segment ended out of the profile (no-op if it was never filed)."""
        entry = self._booked.pop(job, None)
        if entry is None:
            return
        end, d = entry
        ends, ds = self._ends, self._ds
        lo, hi = bisect_left(ends, end), bisect_right(ends, end)
        i = bisect_left(ds, d, lo, hi)  # one of the equal pairs: which one changes no value
        del ends[i], ds[i]
        self._resum(i)
        self._version += 1

    def refile(self, job) -> None:
        """A running job's ``end_of`` may have moved (it was re-timed): file it at its new end."""
        entry = self._booked.get(job)
        if entry is not None and entry[0] != self.end_of(job):
            self.remove(job)
            self.add(job)

    def _resum(self, i: int) -> None:
        """Recompute the prefix sums from position ``i`` on. Those before ``i`` are unchanged,
        and the rest are added one by one in the same order as ``accumulate`` over the whole
        list would, so every float equals that of a full rebuild."""
        cum, ds = self._cum, self._ds
        del cum[i:]
        if i == 0:
            cum.extend(accumulate(ds))
        else:
            cum.extend(islice(accumulate(islice(ds, i, None), initial=cum[i - 1]), 1, None))

    def _fits(self, d: float, start: float, end: float, phantom: tuple | None) -> bool:
        """The budget holds over [start, end) with ``d`` more watts of IT power."""
        cum = self._cum
        total = cum[-1] if cum else 0.0
        p = self.power
        if self.flat and self._roomy(d, total, phantom):
            return True
        ends = self._ends
        bounds, seg_pue, seg_cap = p.bounds, p.seg_pue, p.seg_cap
        i = bisect_right(bounds, start) - 1  # (``p.segment``, inlined: this is the hot path)
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
            s = bisect_right(bounds, t) - 1
            if steps:
                static = p.static_at(t)
            if seg_pue[s] * (static + committed + d) > seg_cap[s]:
                return False
        return True

    def _roomy(self, d: float, total: float, phantom: tuple | None) -> bool:
        """With one PUE and cap: does the budget hold even with the most static draw ever
        booked, every running job (``total``) and the head's booking at once? Then it holds at
        every point ``_fits`` checks, so that is its answer, with the same floats: each term
        there is at most its counterpart here (no d is negative, so a committed sum is at most
        the total), and rounded sums and products never fall when a term grows."""
        p = self.power
        committed = total if phantom is None else total + phantom[3]
        return p.seg_pue[0] * (p.static_max() + committed + d) <= p.seg_cap[0]

    def _known(self, d: float, end: float, phantom: tuple | None) -> bool | None:
        """What ``_fits(d, now, end, phantom)`` answers, if an answer given in the same state
        implies it (else None). In one state (time, profile, phantom, static draw) the budget
        is checked at the points of [now, end), a set that only grows with ``end``, and each
        point's draw only grows with ``d``: so (d, end) fits if some (d', end') with d' >= d
        and end' >= end did, and does not if some with d' <= d and end' <= end did not. A pass
        asks for many queued jobs of the same few sizes in one state."""
        p = self.power
        state = (p.env.now, self._version, p.retired_w)
        if state != self._state or phantom is not self._phantom_seen:
            self._state, self._phantom_seen = state, phantom
            self._yes.clear()
            self._no.clear()
            return None
        for d0, e0 in self._no:
            if d0 <= d and e0 <= end:
                return False
        for d1, e1 in self._yes:
            if d <= d1 and end <= e1:
                return True
        return None

    def admits(self, job, pool: int = 0) -> bool:
        """May ``job`` start now on ``pool``? Records a refusal when its GPUs are free."""
        now = self.engine.env.now
        ph = self.phantom
        if ph is not None and ph[0] is job:
            ph = None
        d, end = job.spec.num_gpus * self.dw[pool], now + self._wall(job, pool)
        fits = self._known(d, end, ph)
        if fits is None:
            fits = self._fits(d, now, end, ph)
            (self._yes if fits else self._no).append((d, end))
        if fits:
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
