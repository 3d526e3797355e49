"""Node failures, detection and repair, and job-level interruptions (SimPy processes).

Each node in service fails after a time drawn from its own stream (``failures.node.<id>``),
so adding or removing nodes, or changing the policy, leaves every other node's failure times
unchanged. A failure takes the node out of service at once; the jobs on it stop making
progress (they *hang*) until the failure is detected, then lose the work since their last
checkpoint and either swap in a hot spare or go back to the queue. Repair starts at
detection; a repaired node returns to service (to the spare pool first, if it is short).
Job-level interruptions (software, hangs) stop a job without taking a node down; the job
restarts in place after detection. Hazards (calibration.md section 7a):

- node: ``rate_per_1000_node_days`` per node-day in service, exponential or Weibull
  time between failures (renewal at repair), x ``early_life.multiplier`` for the first
  ``early_life.period`` after a node enters service, x ``lemons.multiplier`` for lemons;
- job: ``job_rate_per_1000_node_days`` per node-day a job runs.

Nodes of the fleet at time zero draw causes, repair classes, repair and detection times from
shared streams (``failures.cause``, ``failures.repair.<class>``, ...). Nodes delivered later
(``add_nodes(..., keys=...)``) draw everything from streams named by their key
(``failures.node.<key>`` for failure times, ``failures.node.<key>.draws`` for the rest), so
when and in what order they arrive changes nothing for the nodes already there.
"""

from __future__ import annotations

import math

import numpy as np

from clustersim.checkpoint import Plan, young_interval
from clustersim.config import CheckpointConfig, FailuresConfig, Scenario
from clustersim.engine import segments
from clustersim.engine.component import Component
from clustersim.model import REPLICA
from clustersim.results.summary import summarize_failures
from clustersim.rng import Draws, Streams

DAY = 86400.0


class _Draws:
    """The draws one node's failures consume: cause, repair class, repair times, detection."""

    __slots__ = ("cause", "repair_class", "repair_time", "detect")

    def __init__(self, cause: Draws, repair_class: Draws, repair_time: list[Draws], detect: Draws):
        self.cause = cause
        self.repair_class = repair_class
        self.repair_time = repair_time
        self.detect = detect


class Failures(Component):
    """The failure model as an engine component (see the module docstring)."""

    def __init__(self, scenario: Scenario, streams: Streams):
        cfg: FailuresConfig = scenario.failures
        self.scenario = scenario
        self.cfg = cfg
        self.streams = streams
        self.node_rate = cfg.rate_per_1000_node_days / 1000.0 / DAY  # per second
        self.job_rate = cfg.job_rate_per_1000_node_days / 1000.0 / DAY
        self.detect_mean = cfg.detection.mean()
        if cfg.life.kind == "weibull":
            k = cfg.life.shape
            self._shape = k
            self._scale = (1.0 / (self.node_rate * math.gamma(1.0 + 1.0 / k))) if self.node_rate > 0 else math.inf
        else:
            self._shape = 1.0
            self._scale = 1.0 / self.node_rate if self.node_rate > 0 else math.inf
        causes = list(cfg.causes)
        cause_p = np.array([cfg.causes[c] for c in causes])
        gen_c = streams("failures.cause")
        self._cause = Draws(lambda n: gen_c.choice(len(causes), size=n, p=cause_p / cause_p.sum()), 256)
        self._causes = causes
        repairs = cfg.repair
        repair_p = np.array([r.share for r in repairs])
        gen_r = streams("failures.repair_class")
        self._repair_class = Draws(lambda n: gen_r.choice(len(repairs), size=n, p=repair_p / repair_p.sum()), 256)
        self._repair_time = [Draws(r.time.sampler(streams(f"failures.repair.{r.name}")), 256) for r in repairs]
        self._detect = Draws(cfg.detection.sampler(streams("failures.detection")), 256)
        # job-level failures depend on the schedule: their detection draws get their own
        # stream so that node failures stay identical across policies (common random numbers)
        self._job_detect = Draws(cfg.detection.sampler(streams("failures.job_detection")), 256)
        gen_j = streams("failures.job")
        self._job_e = Draws(lambda n: gen_j.exponential(1.0, n), 1024)
        self._shared = _Draws(self._cause, self._repair_class, self._repair_time, self._detect)
        self._cause_p = cause_p / cause_p.sum()
        self._repair_p = repair_p / repair_p.sum()
        self._draws: list[_Draws | str] = []  # per node: the shared draws, or its key (own draws, made lazily)
        self.node_key: list[str] = []  # per node: the name of its streams
        self._node_e: list[Draws] = []
        self.node_token: list[int] = []
        self.node_failures: list[int] = []
        self.service_start: list[float] = []
        self.lemon: list[bool] = []
        self.pulled: list[bool] = []
        self.in_repair: set[int] = set()  # nodes down for their own failure (pulled ones stay)
        self.outages = None
        self.rows: list[tuple] = []  # rows of results.columns.EVENT_COLUMNS
        self.failures = 0
        self._plans: dict[tuple, Plan] = {}
        self.job_failures = 0
        self.spare_swaps = 0
        self._gen_lemons = streams("failures.lemons")
        self._checkpoints = {cls.name: cls.checkpoint for cls in scenario.workload.classes or ()}

    # ------------------------------------------------------------------------------ component

    def attach(self, engine) -> None:
        self.engine = engine
        self.env = engine.env
        self.cluster = engine.cluster
        self.cluster.hold_spares(self.cfg.spare_nodes)
        self.add_nodes(range(self.cluster.node_count), mature=True)
        if self.cfg.domains:  # correlated outages of topology domains (engine.outages)
            from clustersim.engine.outages import DomainOutages

            self.outages = DomainOutages(self)

    def job_submitted(self, job) -> None:
        job.plan = self.plan_for(job, self._checkpoints.get(job.spec.job_class))

    def job_started(self, job, wall: float) -> None:
        self.arm_job(job, wall)

    def nodes_entered(self, nodes, keys, mature: bool) -> None:
        self.add_nodes(nodes, mature=mature, keys=keys)

    def node_left(self, node: int) -> None:
        self.remove_node(node)

    def events(self) -> list[tuple]:
        return self.rows

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario
        return summarize_failures(
            jobs, timeseries, events, horizon=s.horizon, warmup=s.warmup, spare_swaps=self.spare_swaps
        )

    # ------------------------------------------------------------------------------ nodes

    def add_nodes(self, nodes, mature: bool = False, keys=None) -> None:
        """Start the failure process of nodes entering service now (mature: no early life).
        ``keys`` name the streams of nodes new to the failure model (default: the node id,
        with the shared cause/repair/detection streams)."""
        now = self.env.now
        lemons = self.cfg.lemons
        keys = list(keys) if keys is not None else None
        for n, node in enumerate(nodes):
            while len(self._node_e) <= node:
                i = len(self._node_e)
                key = keys[n] if keys is not None and i == node else None
                self.node_key.append(key if key is not None else str(i))
                gen = self.streams(f"failures.node.{self.node_key[i]}")
                self._node_e.append(Draws(lambda n, g=gen: g.exponential(1.0, n), 16))
                self.node_token.append(0)
                self.node_failures.append(0)
                self.service_start.append(-math.inf)
                if key is None:
                    self.lemon.append(bool(lemons and self._gen_lemons.random() < lemons.fraction))
                    self._draws.append(self._shared)
                else:
                    lemon = self.streams(f"failures.lemon.{key}").random() if lemons else 1.0
                    self.lemon.append(bool(lemons and lemon < lemons.fraction))
                    self._draws.append(key)
                self.pulled.append(False)
            self.service_start[node] = -math.inf if mature else now
            self._arm(node)

    def remove_node(self, node: int) -> None:
        """The node left service for good: no more failures of it."""
        if node < len(self.node_token):
            self.node_token[node] += 1

    def _node_draws(self, node: int) -> _Draws:
        d = self._draws[node]
        if isinstance(d, str):  # a delivered node: its own streams, built at its first failure
            gen = self.streams(f"failures.node.{d}.draws")
            cp, rp, cfg = self._cause_p, self._repair_p, self.cfg
            d = _Draws(
                Draws(lambda n: gen.choice(len(cp), size=n, p=cp), 4),
                Draws(lambda n: gen.choice(len(rp), size=n, p=rp), 4),
                [Draws(r.time.sampler(gen), 4) for r in cfg.repair],
                Draws(cfg.detection.sampler(gen), 4),
            )
            self._draws[node] = d
        return d

    def _hazard_inverse(self, x: float) -> float:
        """Time at which the base cumulative hazard reaches ``x``."""
        if self._shape == 1.0:
            return self._scale * x
        return self._scale * x ** (1.0 / self._shape)

    def _base_hazard(self, t: float) -> float:
        return (t / self._scale) ** self._shape

    def _time_to_failure(self, node: int) -> float:
        x = self._node_e[node].next()
        if self.lemon[node]:
            x /= self.cfg.lemons.multiplier
        early = self.cfg.early_life
        if early is not None:
            left = self.service_start[node] + early.period - self.env.now
            if left > 0:
                h_left = self._base_hazard(left)
                if x < early.multiplier * h_left:
                    return self._hazard_inverse(x / early.multiplier)
                return self._hazard_inverse(x - early.multiplier * h_left + h_left)
        return self._hazard_inverse(x)

    def _arm(self, node: int) -> None:
        if self.node_rate <= 0:
            return
        self.node_token[node] += 1
        event = self.env.timeout(self._time_to_failure(node), value=(node, self.node_token[node]))
        event.callbacks.append(self._fail)

    def _fail(self, event) -> None:
        node, token = event._value
        if token != self.node_token[node] or not self.cluster.up[node]:
            return
        now = self.env.now
        self.failures += 1
        self.node_failures[node] += 1
        draws = self._node_draws(node)
        cause = self._causes[int(draws.cause.next())]
        rc = int(draws.repair_class.next())
        detect = float(draws.detect.next())
        victims = self.cluster.take_down(node)
        self.in_repair.add(node)
        for job in victims:
            if job.kind == REPLICA:  # gone at once: its owner replaces it
                job.owner.lost(job)
            else:
                self.hang(job, now)
        pull = self.cfg.lemons is not None and self.node_failures[node] >= self.cfg.lemons.pull_after
        repair = math.inf if pull else float(draws.repair_time[rc].next())
        name = self.cfg.repair[rc].name
        self._event(now, "failure", node, cause, "pulled" if pull else name, detect + repair, len(victims))
        self.engine.capacity_changed()
        detected = self.env.timeout(detect, value=(node, victims, [j.token for j in victims], cause, name, detect, repair))
        detected.callbacks.append(self._detected)

    def _detected(self, event) -> None:
        node, victims, tokens, cause, name, detect, repair = event._value
        for job, token in zip(victims, tokens, strict=True):
            if job.token == token:
                self.recover(job)
        if math.isinf(repair):
            self.pulled[node] = True
            self._event(self.env.now, "pulled", node, cause, "pulled", math.inf, 0)
            return
        done = self.env.timeout(repair, value=(node, cause, name, detect + repair))
        done.callbacks.append(self._repaired)

    def _repaired(self, event) -> None:
        node, cause, name, down = event._value
        self._event(self.env.now, "repair", node, cause, name, down, 0)
        self.in_repair.discard(node)
        if self.cluster.retired[node]:  # retired while in repair: it does not come back
            return
        self.cluster.bring_up(node)
        if self.cluster.up[node]:  # (a node its domain's outage holds returns with the domain)
            self._arm(node)
        self.engine.capacity_changed()

    # ------------------------------------------------------------------------------ jobs

    def plan_for(self, job, checkpoint: CheckpointConfig | None) -> Plan:
        """The job's checkpoint plan; Young's interval uses the job's MTTF on its nodes.
        Plans depend only on (checkpoint config, size, pool): they are made once each."""
        key = (id(checkpoint), job.spec.num_gpus, job.pools[0])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_plan(job, checkpoint)
        return plan

    def _make_plan(self, job, checkpoint: CheckpointConfig | None) -> Plan:
        ck = checkpoint or self.cfg.checkpoint
        if ck.interval == "young":
            pool = job.pools[0]
            nodes = self.cluster.nodes_needed(job.spec.num_gpus, pool)
            share = job.spec.num_gpus / self.cluster.pools[pool].gpus_per_node
            rate = nodes * self.node_rate + share * self.job_rate
            interval = young_interval(ck.cost, 1.0 / rate if rate > 0 else math.inf)
        else:
            interval = ck.interval
        return Plan(interval=interval, cost=ck.cost, restart=ck.restart)

    def arm_job(self, job, wall: float) -> None:
        """Draw the job-level interruption of a segment that would take ``wall`` seconds."""
        if self.job_rate <= 0:
            return
        # per node-equivalent: a 1-GPU job on an 8-GPU node carries 1/8 of a node's job hazard
        share = job.spec.num_gpus / self.cluster.pools[job.pool].gpus_per_node
        rate = self.job_rate * share
        t = self._job_e.next() / rate
        if t < wall:
            event = self.env.timeout(t, value=(job, job.token, job.expected_end_s))
            event.callbacks.append(self._job_fail)

    def job_respeeded(self, job, wall: float) -> None:
        """A running job's speed changed: its job-level hazard is drawn afresh over what is
        left of its segment (exponential, so this is exact); the earlier draw is void."""
        self.arm_job(job, wall)

    def _job_fail(self, event) -> None:
        job, token, end = event._value
        if job.token != token or job.hung_since is not None or job.expected_end_s != end:
            return  # stale (restarted, or re-timed by a speed change), or already hung
        now = self.env.now
        self.job_failures += 1
        detect = float(self._job_detect.next())
        self.hang(job, now)
        self._event(now, "job_failure", -1, "software", "", detect, 1, job)
        detected = self.env.timeout(detect, value=(job, job.token))
        detected.callbacks.append(self._job_detected)

    def _job_detected(self, event) -> None:
        job, token = event._value
        if job.token == token:
            self.recover(job)

    # ------------------------------------------------------------------------------ hang, recover

    def hang(self, job, now: float) -> None:
        """A failure stopped ``job``'s progress at ``now`` (its node may be down already)."""
        cluster = self.cluster
        up_gpus = cluster.per_node(job.spec.num_gpus, job.pool) * sum(1 for n in job.nodes if cluster.up[n])
        if job.hung_since is not None:  # already hung: fewer GPUs held from now on
            job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
            job.hang_mark = now
            job.hang_gpus = up_gpus
            return
        segments.interrupt(job, now)
        job.token += 1  # the scheduled completion is void
        job.hung_since = now
        job.hang_mark = now
        job.hang_gpus = up_gpus

    def recover(self, job) -> None:
        """The failure that hung ``job`` was detected: restart it on a spare or requeue it."""
        if job.hung_since is None:
            return
        engine = self.engine
        now = self.env.now
        job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
        job.lost_s += now - job.hung_since
        job.hung_since = None
        job.hang_gpus = 0
        job.restarts += 1
        cluster = self.cluster
        alive = tuple(n for n in job.nodes if cluster.up[n] and n not in cluster.draining)
        lost = len(job.nodes) - len(alive)
        engine.stop(job)
        engine.policy.invalidate()
        spares = cluster.take_spares(lost, job.pool, alive) if lost else []
        if spares is not None:
            if lost:
                self.spare_swaps += 1
            engine.start(job, alive + tuple(spares))
        else:
            engine.requeue(job, front=self.cfg.requeue == "front")
        engine.capacity_changed()

    # ------------------------------------------------------------------------------ output

    def _event(self, t, kind, node, cause, repair_class, down, hit, job=None) -> None:
        """One row of ``results.columns.EVENT_COLUMNS``; the GPU type is the node's (or job's) pool."""
        cluster = self.cluster
        if node >= 0:
            pool = cluster.pools[cluster.pool_of[node]]
            gpu_type, gpus = pool.name, pool.gpus_per_node
        elif job is not None:
            gpu_type, gpus = cluster.pools[job.pool].name, job.spec.num_gpus
        else:
            gpu_type, gpus = "", 0
        self.rows.append((t, kind, node, cause, repair_class, down, hit, gpu_type, gpus, -1, -1, math.nan, ""))
