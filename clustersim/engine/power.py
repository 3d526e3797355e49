"""Power as an engine component: the fleet's draw by state, PUE, the facility cap, and the
admission gate the queue policies consult (config: ``clustersim.config.power``).

IT power at any time (one GPU type, no supply section):

    busy training GPUs x busy_w + replica GPUs x inference_w + idle GPUs x idle_w
    + nodes in service x node_w + nodes out of service x down_node_w

and facility power = PUE(t) x IT power. Both are recorded, in whole watts, with every
timeseries row (``it_power_w``, ``facility_power_w``, and ``power_cap_w`` when there is a
cap; ``power_held_jobs``: queued jobs the gate has refused since they were queued). The
component adds a row at every hour or window boundary where the PUE or the cap changes, so the
columns are exact step functions and energy is their integral.

Admission (``mode: admission``). Starting a job of ``g`` GPUs raises IT power by
``d = g x (busy_w - idle_w)``. The gate keeps a *budget*: at every future time ``t``,

    PUE(t) x (static + sum of d over jobs expected to run at t) <= cap(t)

where ``static`` is the fleet with every node counted as in service and idle (a node coming
back from repair can then never break the cap). A job starts only if the budget holds over
its whole expected run ``[now, now + wall)`` with it added; running jobs end when expected
(true run-time estimates), so the cap is never exceeded, even across a lower summer or
peak-hour cap. The policies ask the gate through ``cluster.power`` (None without admission):
``start_heads`` asks before it starts a head, and EASY asks before each backfill. EASY stays
sound: ``reserve`` moves the head's shadow time to the first time at or after its GPU shadow
when its power also fits, and books the head's power from then; every backfill is checked
with that booking in place, so none delays the head for power, as the extra nodes rule keeps
it from delaying the head for GPUs.

``power_wait_s`` (jobs table): for each spell in the queue, the time from the first pass whose
gate refused the job while its GPUs were free to its start, summed over spells.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from itertools import accumulate

import numpy as np

from clustersim.engine.component import Component
from clustersim.results.summary import clean, step_integral

HOUR = 3600.0
KWH = 3.6e6
AT_CAP = 0.98  # "at the cap": facility power at or above 98% of the cap


class Power(Component):
    """The power model and, in ``admission`` mode, the start gate (module docstring)."""

    def __init__(self, scenario, streams):
        self.scenario = scenario
        self.cfg = cfg = scenario.power
        self.gpu = cfg.gpu_types[scenario.cluster.gpu_type]
        self.capped = cfg.cap_mw is not None or bool(cfg.windows)
        self.admission = cfg.mode == "admission"
        self.level_columns = ("it_power_w", "facility_power_w") + (("power_cap_w",) if self.capped else ()) + (
            ("power_held_jobs",) if self.admission else ())

    def attach(self, engine) -> None:
        self.engine = engine
        self.env = engine.env
        self.cluster = cluster = engine.cluster
        cfg, gpu = self.cfg, self.gpu
        self.per = cluster.gpus_per_node
        self.inference = engine.part(_inference_type()) if self.scenario.services else None
        self.node_idle = self.per * gpu.idle_w + gpu.node_w
        self.static = cluster.node_count * max(self.node_idle, cfg.down_node_w)  # W, every node counted up
        self.dw = gpu.busy_w - gpu.idle_w  # W per GPU started
        # the calendar: segments [bounds[i], bounds[i+1]) of constant PUE and cap
        horizon = self.scenario.horizon
        times = {0.0}
        if cfg.varies():
            times.update(h * HOUR for h in range(1, int(math.ceil(horizon / HOUR))))
            times.update(t for w in cfg.windows for t in (w.from_, w.to) if t is not None and 0 < t < horizon)
        bounds, pue, cap = [], [], []
        for t in sorted(times):
            p, c = cfg.pue_at(t), cfg.cap_at(t)
            if not pue or (p, c) != (pue[-1], cap[-1]):
                bounds.append(t)
                pue.append(p)
                cap.append(c)
        self.bounds, self.seg_pue, self.seg_cap = bounds, pue, cap
        self._seg = 0
        self.refused: dict[int, float] = {}  # job seq -> first refusal in its current queue spell
        self.waited: dict[int, float] = {}  # job seq -> power wait so far
        self.phantom: tuple | None = None  # (head, start, end, d): EASY's booking for the head
        self._profile_key = None
        if self.admission:
            cluster.power = self
        if len(bounds) > 1:
            engine.call_at(bounds[1], self._boundary)

    # --------------------------------------------------------------------------- calendar

    def _boundary(self, _event) -> None:
        self._seg += 1
        i = self._seg
        if self.admission:
            self.engine.capacity_changed()  # a higher budget may let jobs start
        else:
            self.engine.request_pass(changed=False)  # a row at the new PUE or cap
        if i + 1 < len(self.bounds):
            self.engine.call_at(self.bounds[i + 1], self._boundary)

    def _segment(self, t: float) -> int:
        return bisect_right(self.bounds, t) - 1

    # --------------------------------------------------------------------------- levels

    def it_power(self) -> float:
        c, gpu = self.cluster, self.gpu
        replica = self.inference.gpus if self.inference is not None else 0
        idle = c.up_gpus - c.busy_gpus
        return ((c.busy_gpus - replica) * gpu.busy_w + replica * gpu.replica_w + idle * gpu.idle_w
                + (c.up_gpus // self.per) * gpu.node_w + c.down_nodes * self.cfg.down_node_w)

    def levels(self) -> tuple:
        i = self._segment(self.env.now)
        it = self.it_power()
        row = (round(it), round(self.seg_pue[i] * it))
        if self.capped:
            row += (self.seg_cap[i],)
        if self.admission:
            row += (len(self.refused),)
        return row

    # --------------------------------------------------------------------------- the gate

    def _profile(self):
        """Running jobs' power by expected end: (ends, prefix sums of d, total d); rebuilt
        when the cluster's allocations change."""
        key = self.cluster.changes
        if key != self._profile_key:
            jobs = sorted((j.expected_end_s, j.spec.num_gpus * self.dw) for j in self.engine.running)
            ends = [e for e, _ in jobs]
            cum = list(accumulate(d for _, d in jobs))
            self._profile_cache = (ends, cum, cum[-1] if cum else 0.0)
            self._profile_key = key
        return self._profile_cache

    def _fits(self, d: float, start: float, end: float, phantom: tuple | None) -> bool:
        """The budget holds over [start, end) with ``d`` more watts of IT power."""
        ends, cum, total = self._profile()
        bounds = self.bounds
        i = self._segment(start)
        points = [start] + bounds[i + 1: bisect_left(bounds, end)]
        if phantom is not None and start < phantom[1] < end:
            points.append(phantom[1])
        for p in points:
            k = bisect_right(ends, p)
            committed = total - (cum[k - 1] if k else 0.0)
            if phantom is not None and phantom[1] <= p < phantom[2]:
                committed += phantom[3]
            s = self._segment(p)
            if self.seg_pue[s] * (self.static + committed + d) > self.seg_cap[s]:
                return False
        return True

    def admits(self, job, pool: int = 0) -> bool:
        """May ``job`` start now on ``pool``? Records a refusal when its GPUs are free."""
        now = self.env.now
        ph = self.phantom
        if ph is not None and ph[0] is job:
            ph = None
        wall = job.run_estimate(self.cluster.pools[pool].speed)
        if self._fits(job.spec.num_gpus * self.dw, now, now + wall, ph):
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
        wall = head.run_estimate(self.cluster.pools[shadow.pool].speed)
        ends, _, _ = self._profile()
        candidates = sorted({t0, *(e for e in ends if e > t0), *(b for b in self.bounds if b > t0)})
        for t in candidates:
            if self._fits(d, t, t + wall, None):
                shadow.t = t
                self.phantom = (head, t, t + wall, d)
                return
        shadow.t = math.inf  # its power never fits while these jobs run: no booking

    def job_started(self, job, wall: float) -> None:
        since = self.refused.pop(job.seq, None)
        if since is not None:
            self.waited[job.seq] = self.waited.get(job.seq, 0.0) + self.env.now - since
        if self.phantom is not None and self.phantom[0] is job:
            self.phantom = None

    # --------------------------------------------------------------------------- horizon

    def job_columns(self, jobs):
        if not self.admission:
            return jobs
        wait = np.zeros(len(jobs))
        now = self.env.now
        for seq, since in self.refused.items():  # still queued at the horizon: waiting so far
            self.waited[seq] = self.waited.get(seq, 0.0) + now - since
        for seq, w in self.waited.items():
            wait[seq] = w
        jobs = jobs.copy()
        jobs["power_wait_s"] = wait
        return jobs

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario
        return {"power": summarize_power(jobs, timeseries, horizon=s.horizon, warmup=s.warmup,
                                         price_per_kwh=self.cfg.price_per_kwh)}


def _inference_type():
    from clustersim.engine.inference import Inference

    return Inference


def summarize_power(jobs, ts, *, horizon: float, warmup: float, price_per_kwh: float) -> dict:
    """Energy, peaks, time at or over the cap, and power waits: pure functions of the tables.
    Energy is over [0, horizon]; waits over jobs submitted after warm-up that started."""
    t = ts["t_s"].to_numpy(float)
    fac = ts["facility_power_w"].to_numpy(float)
    it = ts["it_power_w"].to_numpy(float)
    dt = np.diff(np.append(t, horizon))
    energy = step_integral(t, fac, 0.0, horizon) / KWH
    out = {
        "energy_kwh": energy,
        "it_energy_kwh": step_integral(t, it, 0.0, horizon) / KWH,
        "energy_cost": energy * price_per_kwh,
        "peak_facility_mw": float(fac.max()) / 1e6,
        "mean_facility_mw": energy * KWH / horizon / 1e6,
    }
    if "power_cap_w" in ts:
        cap = ts["power_cap_w"].to_numpy(float)
        out["hours_at_cap"] = float(dt[fac >= AT_CAP * cap].sum()) / HOUR
        out["hours_over_cap"] = float(dt[fac > cap].sum()) / HOUR
        out["min_cap_mw"] = float(cap.min()) / 1e6
    if "power_held_jobs" in ts:
        out["hours_power_held"] = float(dt[ts["power_held_jobs"].to_numpy() > 0].sum()) / HOUR
    if "power_wait_s" in jobs:
        measured = jobs[(jobs["submit_s"] >= warmup) & jobs["start_s"].notna()]
        w = measured["power_wait_s"].to_numpy(float)
        out["jobs_delayed"] = int((w > 0).sum())
        out["power_wait_s"] = {"mean": float(w.mean()) if len(w) else None,
                               "p90": float(np.percentile(w, 90)) if len(w) else None,
                               "max": float(w.max()) if len(w) else None}
        gpu_h = measured["num_gpus"].to_numpy(float) * w
        out["power_wait_gpu_hours"] = float(gpu_h.sum()) / HOUR
    return clean(out)
