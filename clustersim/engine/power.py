"""Power as an engine component: the fleet's draw by state, PUE, the facility cap, and what
the cap does (config: ``clustersim.config.power``; the modes: ``engine.power_modes``).

IT power at any time (no supply section):

    busy training GPUs x busy_w + replica GPUs x inference_w + idle GPUs x idle_w
    + nodes in service x node_w + nodes out of service x down_node_w

With a supply section (``_it_power_pools``) the same sum is taken per owned pool at its GPU
type's powers (replicas run on pool 0), plus GPUs in the ``burn_in`` stage (delivered, not yet in
service, acceptance repairs included) x the burn-in GPU draw + their nodes x ``node_w`` (busy:
``busy_w``; idle: ``idle_w``; off: nothing; ``config.power.burn_in_state``); rented pools are
off-site and left out. Every stage change asks for a pass, so a row is recorded at each
delivery and acceptance. Down nodes of a pool are its nodes in service less its up nodes.

Under ``capping`` the watts shed by power-capped training GPUs and replicas (``power_shed_w``)
come off; facility power = PUE(t) x IT power. Both are recorded, in whole watts, with every
timeseries row (``it_power_w``, ``facility_power_w``, and ``power_cap_w`` when there is a cap;
``power_held_jobs``: queued jobs the gate has refused since they were queued). The component
adds a row at every hour or window boundary where the PUE or the cap changes, so the columns
are exact step functions and energy is their integral.

A mode (``account``, ``admission``, ``capping``) is a small class behind one protocol
(``power_modes.Mode``): the columns it adds, its gate (``engine.power_gate``: the budget the
policies ask through ``cluster.power``), what it does at a calendar boundary, and its job
columns and summary keys. ``capping`` also slows jobs, through the core's ``speed_factor``
hook, so it is a component class of its own (``engine.capped_power.CappedPower``; how it throttles is in
``engine.power_modes``): the other modes add nothing to a job's start.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from clustersim.engine.component import Component
from clustersim.engine.power_gate import static_profile
from clustersim.engine.power_modes import build_mode
from clustersim.results.summary import clean, step_integral

HOUR = 3600.0
KWH = 3.6e6
AT_CAP = 0.98  # "at the cap": facility power at or above 98% of the cap
# capping: facility watts kept below the cap, so that the recorded whole watts (IT power and
# the watts shed, each rounded) stay within it: at least PUE + 0.5
MARGIN_W = 2.0


class Power(Component):
    """The power model; its mode decides what the cap does (module docstring)."""

    def __init__(self, scenario, streams):
        self.scenario = scenario
        self.cfg = cfg = scenario.power
        self.gpu = cfg.gpu_types[scenario.cluster.gpu_type]
        self.supply = None  # the supply component, when the fleet grows (``attach``)
        self.stages = 0  # bumped when the supply stages change (a delivery, an acceptance)
        self.capped = cfg.cap_mw is not None or bool(cfg.windows)
        self.mode = build_mode(cfg.mode, self)
        self.level_columns = ("it_power_w", "facility_power_w") + (("power_cap_w",) if self.capped else ()) + (
            self.mode.columns)

    def attach(self, engine) -> None:
        self.engine = engine
        self.env = engine.env
        self.cluster = cluster = engine.cluster
        cfg, gpu = self.cfg, self.gpu
        self.per = cluster.gpus_per_node
        self.inference = engine.part(_inference_type()) if self.scenario.services else None
        self.node_idle = self.per * gpu.idle_w + gpu.node_w
        # per pool: its type's power (None: rented, off-site) and what one node draws at most
        # without a job (in service) and in burn-in (config.power.node_draws)
        self.static_steps: list[float] = []  # times after 0 where the static draw changes
        if self.scenario.supply is not None:
            self._attach_supply(engine)
        else:
            self.pool_gpu = [gpu] * len(cluster.pools)
            self._static = None  # static_w(), when a gate first asks
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
        self.mode.attach()
        if len(bounds) > 1:
            engine.call_at(bounds[1], self._boundary)

    def static_w(self) -> float:
        """IT watts the gate books before any job: every node in service and idle (or down,
        if that draws more), and every replica the services may run (``replica_booked_w``)."""
        gpu = self.gpu
        static = self.cluster.node_count * max(self.node_idle, self.cfg.down_node_w)
        for svc in self.scenario.services or ():
            static += svc.autoscale.max_replicas * svc.gpus_per_replica * (self.cfg.replica_booked_w(gpu) - gpu.idle_w)
        return static

    def static_at(self, t: float) -> float:
        """The static IT watts the gate books at ``t`` (now or later): ``static_w`` without a
        supply section; with one, a step function over the order plans (``_attach_supply``)."""
        if not self.static_steps:
            if self._static is None:
                self._static = self.static_w()
            return self._static
        return self._static_vals[bisect_right(self.static_steps, t)] - self._left_w

    @property
    def retired_w(self) -> float:
        """Static watts of owned nodes retired so far (with a supply section; else 0)."""
        return self._left_w if self.static_steps else 0.0

    def static_max(self) -> float:
        """The most static IT watts ``static_at`` gives now or at any later time (an upper
        bound the gate compares against first)."""
        if not self.static_steps:
            return self.static_at(0.0)
        return self._static_top - self._left_w

    def pool_d(self, per_gpu) -> list[float]:
        """Per pool, the watts one started GPU adds (``per_gpu(GpuPower)``); 0 on rented pools."""
        return [0.0 if g is None else per_gpu(g) for g in self.pool_gpu]

    # --------------------------------------------------------------------------- supply

    def _attach_supply(self, engine) -> None:
        """The fleet grows by deliveries (``engine.supply``): per pool power (rented pools: None,
        off-site), burn-in draws, and the gate's static draw as a step function of time."""
        from clustersim.config.power import burn_in_state
        from clustersim.engine.supply import BURN_IN, Supply

        cfg, cluster = self.cfg, self.cluster
        supply = self.supply = engine.part(Supply)
        supply.on_stage = self._stage_changed
        state = burn_in_state(self.scenario)
        self.pool_gpu = [None if p.index in supply.rental_pools else cfg.gpu_types[p.gpu_type] for p in cluster.pools]
        # per GPU and per node in burn-in (busy: stress tests at busy_w; idle; off)
        self.burn_w = [None if g is None else {"busy": (g.busy_w, g.node_w), "idle": (g.idle_w, g.node_w),
                                               "off": (0.0, 0.0)}[state] for g in self.pool_gpu]
        # what ``_it_power_pools`` reads per owned pool, looked up once: (pool, its stage counts,
        # GPUs per node, busy, replica, idle and node watts, burn-in watts per GPU and per node)
        self._owned = [(p, supply.stage[p.index], p.gpus_per_node, g.busy_w, g.replica_w, g.idle_w, g.node_w,
                        *self.burn_w[p.index]) for p, g in zip(cluster.pools, self.pool_gpu, strict=True)
                       if g is not None]
        self._burn_in = BURN_IN
        replicas = sum(v.autoscale.max_replicas * v.gpus_per_replica for v in self.scenario.services or ()
                       if v.autoscale.max_replicas is not None)  # (None: mode account, no gate asks)
        extra = replicas * (cfg.replica_booked_w(self.gpu) - self.gpu.idle_w)
        self._service_w, times, self._static_vals = static_profile(self, supply, state, extra)
        self._static = self._static_vals[0]
        self._static_top = max(self._static_vals)
        self._left_w = 0.0  # static watts of owned nodes retired so far
        self.static_steps = times if times else [math.inf]  # non-empty: the step function is used

    def _stage_changed(self) -> None:
        """A delivery, acceptance or repair moved nodes between stages: a row at the new draw."""
        self.stages += 1
        self.engine.request_pass(changed=False)

    def node_left(self, node: int) -> None:
        """A node left service for good: the gate books its draw no more."""
        if self.supply is not None:
            self._left_w += self._service_w[self.cluster.pool_of[node]]

    # --------------------------------------------------------------------------- calendar

    def _boundary(self, _event) -> None:
        self._seg += 1
        i = self._seg
        self.mode.boundary()
        if i + 1 < len(self.bounds):
            self.engine.call_at(self.bounds[i + 1], self._boundary)

    def segment(self, t: float) -> int:
        return bisect_right(self.bounds, t) - 1

    # --------------------------------------------------------------------------- levels

    def it_power(self) -> float:
        """IT watts with every busy GPU at full power."""
        if self.supply is not None:
            return self._it_power_pools()
        c, gpu = self.cluster, self.gpu
        replica = self.inference.gpus if self.inference is not None else 0
        idle = c.up_gpus - c.busy_gpus
        return ((c.busy_gpus - replica) * gpu.busy_w + replica * gpu.replica_w + idle * gpu.idle_w
                + (c.up_gpus // self.per) * gpu.node_w + c.down_nodes * self.cfg.down_node_w)

    def _it_power_pools(self) -> float:
        """IT watts with a supply section: the sum over owned pools of busy, replica (pool 0),
        idle, per-node, down and burn-in draws; rented pools are off-site and draw nothing here.
        (Each term is the same product, summed in the same order, as ever: only the lookups of
        the pools' constant draws are done once, in ``_attach_supply``.)"""
        down_w = self.cfg.down_node_w
        burn_at = self._burn_in
        replica0 = self.inference.gpus if self.inference is not None else 0
        total = 0.0
        for p, stage, per, busy_w, replica_w, idle_w, node_w, burn_g, burn_n in self._owned:
            replica = replica0 if p.index == 0 else 0
            busy, up_nodes = p.busy_gpus, p.up_nodes
            up = up_nodes * per
            burn = stage[burn_at]
            total += ((busy - replica) * busy_w + replica * replica_w + (up - busy) * idle_w
                      + up_nodes * node_w + (len(p.nodes) - up_nodes) * down_w
                      + burn * burn_g + burn // per * burn_n)
        return total

    def levels(self) -> tuple:
        i = self.segment(self.env.now)
        it = self.it_power()
        row = (round(it), round(self.seg_pue[i] * it))
        if self.capped:
            row += (self.seg_cap[i],)
        return row + self.mode.levels()

    # --------------------------------------------------------------------------- jobs

    def job_started(self, job, wall: float) -> None:
        self.mode.started(job, wall)

    def job_ended(self, job) -> None:
        self.mode.ended(job)

    def job_respeeded(self, job, wall: float) -> None:
        self.mode.respeeded(job)

    # --------------------------------------------------------------------------- horizon

    def job_columns(self, jobs):
        return self.mode.job_columns(jobs)

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario
        out = summarize_power(jobs, timeseries, horizon=s.horizon, warmup=s.warmup,
                              price_per_kwh=self.cfg.price_per_kwh)
        out.update(self.mode.summary(jobs, timeseries))
        keys = {"power": clean(out)}
        if self.supply is not None:  # the supply summary's energy becomes this model's
            kwh = out["energy_kwh"]
            keys.update(energy_kwh=kwh, energy_kwh_per_day=kwh / (s.horizon / 86400.0), energy_cost=out["energy_cost"])
        return keys


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
