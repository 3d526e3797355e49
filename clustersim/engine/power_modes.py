"""What the facility cap does: the power modes, each a small class behind one protocol
(``Mode``), and the throttle allocation of ``capping`` (config: ``clustersim.config.power``;
the component that applies it: ``engine.capped_power.CappedPower``).

- ``Account``: nothing is limited; the power columns are recorded.
- ``Admission``: a job starts only if the budget holds over its expected run
  (``engine.power_gate``); jobs gain ``power_wait_s``.
- ``Capping``: a job starts if the budget holds with every training GPU at its lowest limit
  (``capping.training[0]``) until its latest end; while the fleet's full draw would pass the
  cap, training GPUs run power-capped, and slower by the power-performance curve. Jobs gain
  ``power_wait_s`` and ``capped_s``.

Throttling (``throttle``). With ``excess = full IT draw - (cap - m) / PUE`` > 0, training
jobs shed it in the configured order: ``smallest_first`` (the default: fewest GPUs first, the
newest first among equals; the largest gangs last, since a gang runs at the pace of its
slowest GPU), ``largest_first``, or ``even`` (every training GPU to one limit). Each job in
turn drops to the limit that sheds the rest of the excess, or to the lowest limit and the next
job continues. A job of ``g`` GPUs at limit ``f`` draws ``g x f x busy_w`` and runs at
``speed(f)`` times its speed. Inference replicas keep full power, unless ``capping.inference``
gives them a curve (``engine.replica_power``: where they sit in this order). The margin ``m``
(2 W, or PUE + 0.5 W if more) keeps the recorded, rounded facility power within the cap.

When: the allocation is recomputed at the instant anything changes the fleet's draw (a job or
replica starts or ends, a node goes down or comes back, the cap or PUE steps), as an event
after that instant's scheduling pass; each job whose limit changes is re-timed through the
core's ``engine.respeed`` (work so far kept, completion rescheduled exactly), and the pass
that follows records the row. The gate guarantees the excess can always be shed, so the cap
is never exceeded.

Runs that can slow down after they start (fail-slow nodes, ``failures.slow``; a topology whose
gangs may span domains at a speed penalty, where the span is known only once placed) are
booked at the slowest speed they can fall to (``worst_speed``): each run's booking then bounds
its true end, whatever episodes come, as the guarantee needs (a job admitted beside a booking
that ended too early could overlap it in a lower cap window, where admission cannot shed power
and capping is already at its floor). Without either, bookings are as above.
"""

from __future__ import annotations

from collections.abc import Callable

from clustersim.engine.power_gate import Gate

HOUR = 3600.0


class Mode:
    """The protocol: columns, the gate (None: never limits), boundary, job columns, summary.
    ``power`` is the power component (``engine.power.Power``)."""

    columns: tuple[str, ...] = ()
    gate: Gate | None = None

    def __init__(self, power):
        self.power = power

    def attach(self) -> None:
        """The power component is attached: build the gate."""

    def boundary(self) -> None:
        """The cap or the PUE stepped: ask for a pass (and a row at the new values)."""
        self.power.engine.request_pass(changed=False)

    def levels(self) -> tuple:
        return ()

    def started(self, job, wall: float) -> None:
        pass

    def ended(self, job) -> None:
        pass

    def respeeded(self, job) -> None:
        """A running job was re-timed (``engine.respeed``)."""

    def job_columns(self, jobs):
        return jobs

    def summary(self, jobs, ts) -> dict:
        return {}


class Account(Mode):
    """Record power and energy; limit nothing."""


def worst_speed(scenario) -> float:
    """The lowest fraction of its pool speed a run can fall to after it is booked: the slow
    factor of fail-slow nodes, times a spanning gang's speed at the most domains it may span
    (1.0 when neither can happen)."""
    worst = 1.0
    failures = scenario.failures
    slow = failures.slow if failures is not None else None
    if slow is not None and slow.rate_per_1000_node_days > 0:
        worst *= slow.factor
    topology = scenario.cluster.topology
    rule = topology.locality if topology is not None else None
    if rule is not None and rule.kind == "span" and rule.penalty_per_extra_domain > 0:
        worst /= 1.0 + rule.penalty_per_extra_domain * (rule.max_domains - 1)
    return worst


class Admission(Mode):
    """Start a job only if the facility stays within the cap for its whole expected run."""

    columns = ("power_held_jobs",)

    def __init__(self, power):
        super().__init__(power)
        self.worst = worst_speed(power.scenario)
        self.booked: dict = {}  # running job -> its booked end (runs that can slow down)

    def attach(self) -> None:
        p = self.power
        d = p.pool_d(lambda g: g.busy_w - g.idle_w)
        if self.worst == 1.0:
            self.gate = Gate(p, d, 1.0, _expected_end)
        else:
            booked = self.booked
            self.gate = Gate(p, d, self.worst, lambda j: booked.get(j, j.expected_end_s))
        p.cluster.power = self.gate

    def ended(self, job) -> None:
        self.gate.remove(job)
        self.booked.pop(job, None)

    def respeeded(self, job) -> None:
        if self.worst == 1.0:  # booked at its expected end, which a re-timing moves
            self.gate.refile(job)

    def boundary(self) -> None:
        self.power.engine.capacity_changed()  # a higher budget may let jobs start

    def levels(self) -> tuple:
        return (len(self.gate.refused),)

    def started(self, job, wall: float) -> None:
        now = self.power.env.now
        self.gate.started(job, now)
        if self.worst != 1.0:  # at the slowest it can fall to: its end is no later
            self.booked[job] = now + job.run_estimate(self.power.cluster.pools[job.pool].speed * self.worst)
        self.gate.add(job)

    def job_columns(self, jobs):
        jobs = jobs.copy()
        jobs["power_wait_s"] = self.gate.waits(len(jobs), self.power.env.now)
        return jobs


class Capping(Admission):
    """Admit at the lowest limit; throttle training GPUs to keep within the cap."""

    columns = ("power_held_jobs", "throttled_gpus", "power_shed_w")

    def __init__(self, power):
        super().__init__(power)
        self.curve = power.cfg.capping
        self.floor = self.curve.floor
        if power.cfg.caps_inference and power.scenario.services:
            self.columns = Capping.columns + ("throttled_replica_gpus",)
        self.floor_speed = self.curve.speed(self.floor)
        self.latest: dict = {}  # running job -> the latest its segment can end (at the floor)

    def attach(self) -> None:
        p = self.power
        floor = self.floor
        self.gate = Gate(p, p.pool_d(lambda g: floor * g.busy_w - g.idle_w), self.floor_speed * self.worst,
                         self.latest.get)
        p.cluster.power = self.gate

    def started(self, job, wall: float) -> None:
        self.gate.started(job, self.power.env.now)
        # the segment at the lowest limit from now: its speed without this mode's factor (or,
        # when runs can slow down, the slowest its pool can give it)
        if self.worst == 1.0:
            base = job.speed / self.power.speed_of(job)
        else:
            base = self.power.cluster.pools[job.pool].speed * self.worst
        self.latest[job] = self.power.env.now + job.run_estimate(base * self.floor_speed)
        self.gate.add(job)

    def ended(self, job) -> None:
        self.gate.remove(job)
        self.latest.pop(job, None)

    def respeeded(self, job) -> None:
        pass  # its latest end was fixed at its start, at the floor: a new limit moves nothing

    def job_columns(self, jobs):
        jobs = super().job_columns(jobs)
        jobs["capped_s"] = self.power.capped_seconds(len(jobs))
        return jobs

    def summary(self, jobs, ts) -> dict:
        s = self.power.scenario
        out = summarize_capping(jobs, ts, horizon=s.horizon, warmup=s.warmup, lost_gpu_s=self.power.lost_gpu_s())
        if self.power.replicas is not None:
            out.update(summarize_replica_capping(ts, horizon=s.horizon, lost_gpu_s=self.power.replicas.lost_gpu_s()))
        return out


MODES = {"account": Account, "admission": Admission, "capping": Capping}


def build_mode(name: str, power) -> Mode:
    """The mode named ``name`` of the power component ``power`` (``engine.power.Power``)."""
    return MODES[name](power)


def _expected_end(job) -> float:
    return job.expected_end_s


def throttle(jobs, excess_w: float, floor: float, order: str) -> dict:
    """Power limits (fractions of each job's ``busy_w``) that shed ``excess_w`` watts: ``jobs``
    is a list of (key, GPUs, seq, busy_w of its pool); returns {key: fraction} for the jobs
    below full power."""
    if excess_w <= 0 or not jobs:
        return {}
    if order == "even":
        total = sum(g * busy_w for _, g, _, busy_w in jobs)
        f = max(floor, 1.0 - excess_w / total)
        return {key: f for key, _, _, _ in jobs}
    return shed(sorted(jobs, key=throttle_rank(order)), excess_w, floor)


def throttle_rank(order: str) -> Callable:
    """The sort key of a ``throttle`` entry under ``smallest_first`` or ``largest_first``: by
    GPUs (fewest first, or most), the newest first among equals (seqs are unique: a total order)."""
    sign = 1 if order == "smallest_first" else -1
    return lambda j: (sign * j[1], -j[2])


def shed(ordered, excess_w: float, floor: float) -> dict:
    """``throttle`` over entries already in their order (``throttle_rank``), ``excess_w`` > 0:
    each job in turn drops to the limit that sheds the rest, or to the floor and the next
    continues."""
    out = {}
    for key, g, _seq, busy_w in ordered:
        room = g * busy_w * (1.0 - floor)
        if excess_w >= room:
            out[key] = floor
            excess_w -= room
        else:
            out[key] = 1.0 - excess_w / (g * busy_w)
            break
    return out


def summarize_replica_capping(ts, *, horizon: float, lost_gpu_s: float) -> dict:
    """Power-capped replicas over [0, horizon]: their GPU-hours capped, hours with replicas
    capped, and the replica throughput lost (GPU-hours at full speed, and as a share of the
    replica GPU-hours run)."""
    import numpy as np

    from clustersim.results.summary import step_integral

    t = ts["t_s"].to_numpy(float)
    thr = ts["throttled_replica_gpus"].to_numpy(float)
    dt = np.diff(np.append(t, horizon))
    replica_gpu_s = step_integral(t, ts["inference_gpus"].to_numpy(float), 0.0, horizon)
    return {
        "replica_throttled_gpu_hours": step_integral(t, thr, 0.0, horizon) / HOUR,
        "hours_replicas_throttled": float(dt[thr > 0].sum()) / HOUR,
        "replica_throttle_lost_gpu_hours": lost_gpu_s / HOUR,
        "replica_throttle_lost_share": lost_gpu_s / replica_gpu_s if replica_gpu_s > 0 else 0.0,
    }


def summarize_capping(jobs, ts, *, horizon: float, warmup: float, lost_gpu_s: float) -> dict:
    """Throttling: GPU-hours capped, hours with any GPU capped, throughput lost (GPU-hours at
    full speed, and as a share of the training GPU-hours run), jobs slowed (submitted after
    warm-up, started) and their capped time. Over [0, horizon] like energy."""
    import numpy as np

    from clustersim.results.summary import step_integral

    t = ts["t_s"].to_numpy(float)
    thr = ts["throttled_gpus"].to_numpy(float)
    dt = np.diff(np.append(t, horizon))
    measured = jobs[(jobs["submit_s"] >= warmup) & jobs["start_s"].notna()]
    c = measured["capped_s"].to_numpy(float)
    training = ts["busy_gpus"].to_numpy(float)
    if "inference_gpus" in ts:
        training = training - ts["inference_gpus"].to_numpy(float)
    busy_gpu_s = step_integral(t, training, 0.0, horizon)
    return {
        "throttled_gpu_hours": step_integral(t, thr, 0.0, horizon) / HOUR,
        "hours_throttled": float(dt[thr > 0].sum()) / HOUR,
        "throttle_lost_gpu_hours": lost_gpu_s / HOUR,
        "throttle_lost_share": lost_gpu_s / busy_gpu_s if busy_gpu_s > 0 else 0.0,
        "mean_shed_mw": step_integral(t, ts["power_shed_w"].to_numpy(float), 0.0, horizon) / horizon / 1e6,
        "jobs_slowed": int((c > 0).sum()),
        "capped_s": {"mean": float(c.mean()) if len(c) else None,
                     "p90": float(np.percentile(c, 90)) if len(c) else None,
                     "max": float(c.max()) if len(c) else None},
    }
