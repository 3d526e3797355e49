"""Inference services sharing the fleet with training: demand steps, autoscaling, replica
placement with priority over training, and preemption (SimPy callbacks on the engine's
environment, like failures.py).

Demand is a step function (``clustersim.workload.demand``); each service schedules one event per
demand step. At a step (and when a replica is lost) the autoscaler computes the replicas it
wants, ``clamp(ceil(demand x (1 + headroom) / rps_per_replica), min, max)`` (*desired*):

- more than it has (placed + waiting): the difference is added to the waiting replicas and
  placed at once if possible; a placed replica serves ``startup`` seconds later;
- fewer: waiting (unplaced) replicas are dropped at once; placed ones are released only after
  ``cooldown`` (one timer, armed when demand first falls below the replicas it has, cancelled
  if demand comes back), then down to the desired count at that time, newest first. The freed
  GPUs go back to training (a scheduling pass).

Replicas are ``Replica`` objects, a kind of ``Job`` (``kind = REPLICA``) of infinite
duration: the cluster allocates, releases and checks them like jobs, so they count in busy GPUs
and block their nodes in EASY's reservation math (their end is never). They are never in the
training queue nor in ``engine.running``.

Placement of a replica, in order: a free slot on the nodes reserved for inference
(``inference.reserved_nodes``, a pool of its own that training never uses); a free slot on the
shared fleet (pool 0, the placement policy's order); then preemption on pool 0. A replica that
cannot be placed waits (``waiting_replicas``) and is tried again whenever capacity changes
(a job ends, a node returns, a demand step).

Preemption: see ``engine.preemption`` (which jobs a replica evicts, and why).

A node failure kills the replicas on it at once (no detection delay: a load balancer stops
routing to them); the autoscaler replaces them (they wait and are placed at the next pass).

A service with ``latency`` (issue 19) gets predicted latency columns and summary keys, an SLO
autoscaler (``target: slo``; ``engine.slo``) and request-level windows (``engine.windows``).

Power-capped replicas (``power.capping.inference``; ``engine.replica_power``): the cap sets every
replica to a speed s <= 1 (``respeed``). A replica then serves ``rps_per_replica x s``, its
latency model is the profile with every iteration 1 / s as long (``ServiceLatency.at``), and the
autoscaler sizes for that effective capacity, as one reacting to observed load would: a change
of speed is one of its decision points. Feedback (more replicas draw more power, which may cap
them further) ends: at a change of speed the autoscaler only adds replicas at once (at most
``max_replicas``, which capping requires) and releases extra ones only through its cooldown
timer, never at that instant (with no cooldown, at its next demand step or loss), so within an
instant the placed replicas only grow in number, and they are bounded.
"""

from __future__ import annotations

import math

from clustersim.checkpoint import Plan, young_interval
from clustersim.engine.component import Component
from clustersim.engine.preemption import Victims
from clustersim.engine.service_table import service_table
from clustersim.engine.slo import ServiceLatency, latency_keys
from clustersim.model import REPLICA, Job, JobSpec
from clustersim.results.recorder import add_preemptions
from clustersim.results.summary import summarize_services
from clustersim.workload.demand import read_log_rates, replicas_needed, steps

INF = math.inf


class Replica(Job):
    """One replica of a service: a gang of GPUs that never ends on its own. ``owner`` is the
    component that placed it (a failure under it hands it back there)."""

    __slots__ = ("service", "ready", "owner")
    kind = REPLICA

    def __init__(self, spec: JobSpec, seq: int, service: _Service, owner: Inference):
        super().__init__(spec, seq)
        self.service = service
        self.ready = False
        self.owner = owner


class _Service:
    __slots__ = ("cfg", "index", "name", "g", "rate", "steps", "demand", "replicas", "waiting", "ready",
                 "low_token", "low_armed", "rows", "spec", "latency", "speed")

    def __init__(self, cfg, index: int, stream_steps):
        self.cfg = cfg
        self.index = index
        self.name = cfg.name
        self.g = cfg.gpus_per_replica
        self.rate = cfg.rps_per_replica
        self.steps = stream_steps
        self.demand = 0.0
        self.replicas: list[Replica] = []  # placed (starting or ready), oldest first
        self.waiting = 0  # wanted, not placed
        self.ready = 0
        self.low_token = 0
        self.low_armed = False
        self.rows: list[tuple] = []  # (t, demand, ready, starting, waiting, speed)
        self.spec = JobSpec(None, 0.0, cfg.gpus_per_replica, INF, f"service:{cfg.name}")
        self.latency = ServiceLatency(cfg) if cfg.latency is not None else None
        self.speed = 1.0  # share of full throughput its replicas run at (power-capped: below 1)

    def target(self) -> int:
        """The replicas the autoscaler wants: sized for the capacity replicas have at their
        current speed (a power-capped replica serves less: module docstring)."""
        a = self.cfg.autoscale
        if a.target == "slo":
            lat = self.latency if self.speed == 1.0 else self.latency.at(self.speed)
            return lat.replicas(self.demand * (1.0 + a.headroom), a.min_replicas, a.max_replicas)
        rate = self.rate if self.speed == 1.0 else self.rate * self.speed
        return replicas_needed(self.demand, rate, a.headroom, a.min_replicas, a.max_replicas)


class Inference(Component):
    """Inference services as an engine component (see the module docstring)."""

    level_columns = ("inference_gpus",)

    def __init__(self, scenario, streams):
        self.scenario = scenario
        self.streams = streams
        self.own_nodes = scenario.inference.reserved_nodes
        power = scenario.power
        self.capped = power is not None and power.caps_inference  # replicas may run power-capped

    def prepare(self, cluster) -> None:
        """The nodes reserved for inference: a pool of their own, after the shared fleet."""
        if self.own_nodes:
            c = self.scenario.cluster
            supply = self.scenario.supply
            speed = supply.gpu_types[c.gpu_type].speed if supply is not None else 1.0
            cluster.add_pool("inference", c.gpus_per_node, speed, c.gpu_type)
            cluster.add_nodes(self.own_nodes, pool=1)
            cluster.reserved_nodes = self.own_nodes

    def attach(self, engine) -> None:
        scenario, streams = self.scenario, self.streams
        self.engine = engine
        self.env = engine.env
        self.cluster = engine.cluster
        self._preempt_plans: dict[str, Plan] = {}
        if scenario.failures is None:
            # Without failures a preempted job keeps the work up to its last checkpoint only if
            # its class has a checkpoint config (interval `young` = the 3 h cap: no MTTF).
            for cls in scenario.workload.classes or ():
                ck = cls.checkpoint
                if cls.preemptible and ck is not None:
                    interval = young_interval(ck.cost, math.inf) if ck.interval == "young" else ck.interval
                    self._preempt_plans[cls.name] = Plan(interval=interval, cost=ck.cost, restart=ck.restart)
        self._preempted: dict[int, list] = {}  # job seq -> [preemptions, GPU-s lost to them]
        opts = scenario.inference
        self.reserved_pool = 1 if opts.reserved_nodes else None
        self.victims = Victims(
            opts.victims,
            {c.name for c in scenario.workload.classes or () if c.preemptible},
            opts.trace_preemptible and scenario.workload.trace is not None,
        )
        self.gpus = 0  # GPUs held by replicas
        self.waiting = 0  # replicas waiting for a placement, all services
        self.preemptions = 0
        self._seq = 0
        self._latency, self._windows = {}, {}  # per service: what its summary needs
        self.services: list[_Service] = []
        for i, cfg in enumerate(scenario.services):
            d = cfg.demand
            gen = streams(f"services.{cfg.name}.noise") if d.noise > 0 else None
            rates = read_log_rates(d) if d.trace is not None else None
            self.services.append(_Service(cfg, i, steps(d, gen, rates)))
        for svc in self.services:
            self._next_step(svc)
        self.place_waiting()  # time 0: before any job is submitted

    # ----------------------------------------------------------------------------- component

    def job_submitted(self, job) -> None:
        if self._preempt_plans:
            job.plan = self._preempt_plans.get(job.spec.job_class)

    def before_pass(self) -> None:
        if self.waiting:
            self.place_waiting()  # replicas outrank training: they take freed GPUs first

    def levels(self) -> tuple:
        return (self.gpus,)

    def job_columns(self, jobs):
        return add_preemptions(jobs, self._preempted)

    def tables(self) -> dict:
        out = {"services": self.frame()}
        if any(svc.cfg.latency is not None and svc.cfg.latency.request_level is not None for svc in self.services):
            from clustersim.engine.windows import request_table

            out["requests"], self._windows = request_table(self.services, self.streams, self.scenario)
        return out

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario
        rates = {svc.name: svc.rate for svc in self.services}
        out = summarize_services(tables["services"], jobs, horizon=s.horizon, warmup=s.warmup, rates=rates)
        for svc in self.services:
            if svc.latency is not None and svc.name in out["services"]:
                out["services"][svc.name].update(latency_keys(svc, self._latency.get(svc.name), s, self._windows))
        return out

    # ----------------------------------------------------------------------------- demand

    def _next_step(self, svc: _Service) -> None:
        step = next(svc.steps, None)
        if step is None or step[0] >= self.engine.scenario.horizon:
            return
        t, rate = step
        if t <= self.env.now:
            self._apply(svc, rate)
        else:
            self.engine.call_at(t, lambda _e, s=svc, r=rate: self._on_step(s, r))

    def _on_step(self, svc: _Service, rate: float) -> None:
        self._apply(svc, rate)
        self.engine.capacity_changed()  # place replicas first, then a training pass

    def _apply(self, svc: _Service, rate: float) -> None:
        svc.demand = rate
        self._reconcile(svc)
        self._row(svc)
        self._next_step(svc)

    def _reconcile(self, svc: _Service, at_once: bool = True) -> None:
        """Move the replica count towards the target: wanted replicas are added (waiting) at
        once; released ones only after the cooldown (``at_once`` False: never now, even with
        no cooldown; the next demand step or loss decides)."""
        want = svc.target()
        have = len(svc.replicas) + svc.waiting
        if want > have:
            svc.waiting += want - have
            self.waiting += want - have
        elif want < have:
            cut = min(svc.waiting, have - want)
            svc.waiting -= cut
            self.waiting -= cut
        if want >= len(svc.replicas):
            self._cancel_low(svc)
        elif not svc.low_armed:
            cooldown = svc.cfg.autoscale.cooldown
            if cooldown <= 0:
                if at_once:
                    self._scale_in(svc)
            else:
                svc.low_armed = True
                token = svc.low_token
                ev = self.env.timeout(cooldown, value=(svc, token))
                ev.callbacks.append(self._cooled)

    def _cancel_low(self, svc: _Service) -> None:
        if svc.low_armed:
            svc.low_armed = False
            svc.low_token += 1

    def _cooled(self, event) -> None:
        svc, token = event._value
        if token != svc.low_token:
            return
        svc.low_armed = False
        svc.low_token += 1
        if self._scale_in(svc):
            self.engine.capacity_changed()

    def _scale_in(self, svc: _Service) -> bool:
        """Release placed replicas above the desired count, newest first."""
        want = svc.target()
        released = False
        while len(svc.replicas) > want:
            self._remove(svc.replicas[-1])
            released = True
        if released:
            self._row(svc)
            self.engine.policy.invalidate()
        return released

    def respeed(self, speed: float) -> None:
        """The power cap set every replica to ``speed`` x its throughput
        (``engine.capped_power.CappedPower``): a row per service at the new speed, and each autoscaler
        sizes for it: replicas it now lacks are wanted at once, extra ones go after the cooldown
        (never at once: see the module docstring on why this terminates)."""
        for svc in self.services:
            svc.speed = speed
            self._reconcile(svc, at_once=False)
            self._row(svc)
        if self.waiting:
            self.engine.capacity_changed()  # place them, then a training pass

    # ----------------------------------------------------------------------------- replicas

    def place_waiting(self) -> None:
        """Place waiting replicas (all services, in order) while there is room."""
        placed = False
        for svc in self.services:
            if not svc.waiting:
                continue
            start = svc.waiting
            while svc.waiting:
                nodes = self._find(svc.g)
                if nodes is None:
                    break
                self._start(svc, nodes)
            if svc.waiting != start:
                placed = True
                self._row(svc)
        if placed:
            self.engine.policy.invalidate()

    def _start(self, svc: _Service, nodes: tuple[int, ...]) -> None:
        now = self.env.now
        rep = Replica(svc.spec, self._seq, svc, self)
        self._seq += 1
        rep.state = "running"
        rep.start_s = rep.seg_start_s = now
        rep.expected_end_s = INF
        self.cluster.allocate(rep, nodes)
        svc.replicas.append(rep)
        svc.waiting -= 1
        self.waiting -= 1
        self.gpus += svc.g
        startup = svc.cfg.autoscale.startup
        if startup <= 0:
            rep.ready = True
            svc.ready += 1
        else:
            self.env.timeout(startup, value=(rep, rep.token)).callbacks.append(self._ready)

    def _ready(self, event) -> None:
        rep, token = event._value
        if rep.token != token:
            return
        rep.ready = True
        rep.service.ready += 1
        self._row(rep.service)

    def _remove(self, rep: Replica) -> None:
        svc = rep.service
        self.cluster.release(rep)
        rep.token += 1  # its ready timer (and any failure detection) is void
        rep.state = "finished"
        svc.replicas.remove(rep)
        if rep.ready:
            svc.ready -= 1
        self.gpus -= svc.g

    def lost(self, rep: Replica) -> None:
        """A failure took down a node under ``rep``: it is gone; the autoscaler replaces it.
        Placement waits for the engine's next pass (the failure calls ``capacity_changed``)."""
        svc = rep.service
        self._remove(rep)
        self._reconcile(svc)
        self._row(svc)
        self.engine.policy.invalidate()

    # ----------------------------------------------------------------------------- placement

    def _find(self, g: int) -> tuple[int, ...] | None:
        cluster = self.cluster
        placement = self.engine.placement
        if self.reserved_pool is not None:
            per = cluster.pools[self.reserved_pool].gpus_per_node
            nodes = cluster.find(g, placement.order(g, per), pool=self.reserved_pool)
            if nodes is not None:
                return nodes
        nodes = cluster.find(g, placement.order(g, cluster.gpus_per_node))
        if nodes is not None:
            return nodes
        return self._preempt_for(g)

    def _preempt_for(self, g: int) -> tuple[int, ...] | None:
        now = self.env.now
        found = self.victims.choose(self.cluster, self.engine.running, g, now)
        if found is None:
            return None
        nodes, victims = found
        for job in victims:
            lost = self.engine.evict(job)
            rec = self._preempted.get(job.seq)
            if rec is None:
                rec = self._preempted[job.seq] = [0, 0.0]
            rec[0] += 1
            rec[1] += lost * job.spec.num_gpus
            self.preemptions += 1
        return nodes

    # ----------------------------------------------------------------------------- output

    def _row(self, svc: _Service) -> None:
        row = (self.env.now, svc.demand, svc.ready, len(svc.replicas) - svc.ready, svc.waiting, svc.speed)
        rows = svc.rows
        if rows and rows[-1][0] == row[0]:
            rows[-1] = row
        elif not rows or rows[-1][1:] != row[1:]:
            rows.append(row)

    def frame(self):
        """``services.parquet`` (``engine.service_table``)."""
        frame, self._latency = service_table(self.services, self.capped)
        return frame
