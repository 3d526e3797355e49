"""The engine: wires SimPy, the cluster, the queue and the policies; no file I/O.

``simulate(scenario, seed)`` runs one replication and returns a ``RunResult`` of plain
tables. The scheduler acts only when something changes (an arrival, a completion, a failure,
a repair, a delivery). Job completions are SimPy timeouts carrying a token; a job interrupted
later (failure, preemption) bumps its token and the stale completion is ignored.

GPU types (with a supply section): nodes belong to pools, one per type (see cluster.py). A job
asks for a type or ``any``; at submission it gets the pools it may use, in the order to try
(``Supply.route``), or is rejected when no pool will ever hold it. A job's work is its
``duration_s`` at speed 1.0; a segment that starts on a pool of speed ``s`` needs
``remaining / s`` seconds of wall time (checkpoints every ``interval`` seconds of that wall
time), and progress is credited back as ``wall * s``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import simpy
import simpy.core

from clustersim.checkpoint import split
from clustersim.config import Scenario
from clustersim.engine.cluster import Cluster
from clustersim.engine.queue import JobQueue
from clustersim.model import FINISHED, QUEUED, REJECTED, RUNNING, Job, JobSpec
from clustersim.results import metrics
from clustersim.rng import Streams
from clustersim.workload.jobs import scenario_jobs

ProgressFn = Callable[[float], None]


@dataclass
class RunResult:
    """Everything one run produced, as tables and a summary (no files)."""

    scenario: Scenario
    seed: int
    jobs: object  # pandas.DataFrame, columns metrics.JOB_COLUMNS
    timeseries: object  # pandas.DataFrame, columns metrics.TIMESERIES_COLUMNS
    events: object  # pandas.DataFrame
    summary: dict = field(default_factory=dict)
    extra_tables: dict = field(default_factory=dict)  # name -> DataFrame, written as <name>.parquet


class Engine:
    def __init__(self, scenario: Scenario, streams: Streams, specs: Iterable[JobSpec] | None = None):
        self.scenario = scenario
        self.streams = streams
        self.env = simpy.Environment()
        c = scenario.cluster
        supply = scenario.supply
        speed = supply.gpu_types[c.gpu_type].speed if supply is not None else 1.0
        reserved = scenario.inference.reserved_nodes if scenario.services else 0
        self.cluster = Cluster(c.nodes - reserved, c.gpus_per_node, c.gpu_type, speed)
        if reserved:  # a pool of its own: training jobs (pools (0,)) never use it
            self.cluster.add_pool("inference", c.gpus_per_node, speed, c.gpu_type)
            self.cluster.add_nodes(reserved, pool=1)
            self.cluster.reserved_nodes = reserved
        self.policy = scenario.scheduler.policy.build()
        self.placement = scenario.scheduler.placement.build()
        self.placement.bind(c.gpus_per_node)
        self.queue = JobQueue(self.policy.key)
        self.submitted = 0
        self.running: dict[Job, None] = {}
        self.recorder = metrics.Recorder()
        self._shape: dict[int, str | None] = {}
        self._routes: dict[tuple[int, str], tuple[int, ...] | str] = {}
        self._class_type = {
            cls.name: cls.gpu_type for cls in scenario.workload.classes or () if cls.gpu_type != "any"
        }
        self.failures = None
        self._checkpoints = {}
        self._preempt_plans = {}  # class -> checkpoint Plan, without failures (see preempt)
        self._preempted: dict[int, list] = {}  # seq -> [preemptions, GPU-s lost to them]
        if scenario.failures is not None:
            from clustersim.engine.failures import Failures

            self.failures = Failures(self, scenario.failures, streams)
            for cls in scenario.workload.classes or ():
                self._checkpoints[cls.name] = cls.checkpoint
        self.supply = None
        if supply is not None:
            from clustersim.engine.supply import Supply

            self.supply = Supply(self, supply, streams, scenario)
        # without supply the capacity stages are constant (all in service): not recorded
        self._pool_levels = self.cluster.typed
        self._routing = supply is not None or bool(self._class_type)
        self._speed0 = speed
        if self._pool_levels:
            self.recorder.pool_columns([p.name for p in self.cluster.pools])
        self.log = metrics.JobLog([p.name for p in self.cluster.pools])
        self.inference = None
        if scenario.services:
            self._init_services(scenario, streams)
        specs = scenario_jobs(scenario, streams) if specs is None else specs
        self._specs = iter(specs)
        self._next_spec: JobSpec | None = None
        self._result: RunResult | None = None
        self._record()
        self._schedule_arrival()

    def _init_services(self, scenario: Scenario, streams: Streams) -> None:
        from clustersim.checkpoint import Plan, young_interval
        from clustersim.engine.inference import Inference

        if self.failures is None:
            # Without failures a preempted job keeps the work up to its last checkpoint only if
            # its class has a checkpoint config (interval `young` = the 3 h cap: no MTTF).
            for cls in scenario.workload.classes or ():
                ck = cls.checkpoint
                if cls.preemptible and ck is not None:
                    interval = young_interval(ck.cost, math.inf) if ck.interval == "young" else ck.interval
                    self._preempt_plans[cls.name] = Plan(interval=interval, cost=ck.cost, restart=ck.restart)
        self.recorder.add_columns(["inference_gpus"])
        self._record = self._record_services  # every record also carries the replicas' GPUs
        self.inference = Inference(self, scenario, streams)

    # ------------------------------------------------------------------------------- running

    def run(self, progress: ProgressFn | None = None, chunks: int = 100) -> None:
        horizon = self.scenario.horizon
        if progress is None:
            self.env.run(until=horizon)
            return
        for i in range(1, chunks + 1):
            self.env.run(until=horizon * i / chunks)
            progress(i / chunks)

    def result(self) -> RunResult:
        """The run's tables and summary. Closes the books at the current time, once."""
        if self._result is not None:
            return self._result
        s = self.scenario
        now = self.env.now
        for job in self.running:
            if job.plan is None:
                job.progress(now - job.seg_start_s)
            else:
                self._close_segment(job, now)
            self.log.add(job, RUNNING)
        for job in self.queue.jobs:
            self.log.add(job, QUEUED)
        jobs = self.log.frame()
        extra_tables = {}
        if self.inference is not None:
            jobs = metrics.add_preemptions(jobs, self._preempted)
        ts = self.recorder.frame()
        rows = []
        if self.failures is not None:
            rows += self.failures.events
        if self.supply is not None:
            rows += self.supply.events
        events = metrics.events_frame(rows)
        summary = metrics.summarize(
            jobs, ts, scenario=s.name, seed=self.streams.seed, horizon=s.horizon, warmup=s.warmup
        )
        if self.failures is not None:
            summary.update(
                metrics.summarize_failures(
                    jobs, ts, events, horizon=s.horizon, warmup=s.warmup,
                    spare_swaps=self.failures.spare_swaps,
                )
            )
        if self.supply is not None:
            from clustersim.results.costs import summarize_supply

            summary.update(
                summarize_supply(
                    jobs, ts, events, self.supply.summary_inputs(s), horizon=s.horizon, warmup=s.warmup
                )
            )
        if self.inference is not None:
            services = extra_tables["services"] = self.inference.frame()
            summary.update(metrics.summarize_services(services, jobs, horizon=s.horizon, warmup=s.warmup))
        self._result = RunResult(s, self.streams.seed, jobs, ts, events, summary, extra_tables)
        return self._result

    def _close_segment(self, job: Job, now: float) -> None:
        """Account a job still running (or hung) at the horizon: progress so far counts as
        useful, a hang so far as lost."""
        if job.plan is None:
            return
        if job.hung_since == job.hung_since:
            job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
            job.lost_s += now - job.hung_since
            return
        part = split(job.plan, now - job.seg_start_s, job.seg_restart)
        g = job.spec.num_gpus
        job.overhead_s += part.restart + part.checkpoint
        job.overhead_gpu_s += (part.restart + part.checkpoint) * g
        job.progress(part.saved + part.unsaved)  # progress so far counts as work done

    # ------------------------------------------------------------------------------- arrivals

    def _schedule_arrival(self) -> None:
        """Submit every job due now, then wake up at the next one's submit time."""
        env = self.env
        horizon = self.scenario.horizon
        spec = self._next_spec
        while True:
            if spec is None:
                spec = next(self._specs, None)
                if spec is None or spec.submit_s >= horizon:
                    self._next_spec = None
                    return
            if spec.submit_s > env.now:
                self._next_spec = spec
                self._call_at(spec.submit_s, self._arrive)
                return
            self.submit(spec)
            spec = None

    def _call_at(self, when: float, callback) -> None:
        """Run ``callback`` at exactly ``when``. A timeout of ``when - now`` can land an ulp
        early (now + (when - now) != when in floating point), which would start a job before
        its submit time; so the event goes into SimPy's queue at the absolute time."""
        event = simpy.Event(self.env)
        event._ok = True
        event._value = None
        event.callbacks.append(callback)
        heapq.heappush(self.env._queue, (when, simpy.core.NORMAL, next(self.env._eid), event))

    def _arrive(self, _event) -> None:
        spec = self._next_spec
        self._next_spec = None
        self.submit(spec)
        self._schedule_arrival()

    def submit(self, spec: JobSpec) -> Job:
        job = Job(spec, self.submitted)
        self.submitted += 1
        g = spec.num_gpus
        if self._routing or spec.gpu_type != "any":
            problem = self._route(job)
        else:
            problem = self._shape.get(g, 0)
            if problem == 0:
                problem = self._shape[g] = self.cluster.shape_problem(g)
        if problem is not None:
            job.state = REJECTED
            job.reason = problem
            self.log.add(job, REJECTED)
            return job
        if self.failures is not None:
            job.plan = self.failures.plan_for(job, self._checkpoints.get(spec.job_class))
        elif self._preempt_plans:
            job.plan = self._preempt_plans.get(spec.job_class)
        self.queue.push(job)
        self.policy.schedule(self.queue, self.cluster, self.placement, self.env.now, self._start, [job])
        self._record()
        return job

    def _route(self, job: Job) -> str | None:
        """Give ``job`` the pools it may run on (its type's, in order), or say why none."""
        request = job.spec.gpu_type
        if request == "any":
            request = self._class_type.get(job.spec.job_class, "any")
        job.request = request
        key = (job.spec.num_gpus, request)
        route = self._routes.get(key)
        if route is None:
            if self.supply is not None:
                route = self.supply.route(*key)
            elif request not in ("any", self.scenario.cluster.gpu_type):
                route = f"unknown GPU type {request!r}"
            else:
                route = self.cluster.shape_problem(key[0]) or (0,)
            self._routes[key] = route
        if isinstance(route, str):
            return route
        job.pools = route
        return None

    # ------------------------------------------------------------------------------- jobs

    def _start(self, job: Job, nodes: tuple[int, ...]) -> None:
        now = self.env.now
        job.state = RUNNING
        if job.start_s != job.start_s:  # NaN: first start
            job.start_s = now
        job.token += 1
        cluster = self.cluster
        if cluster.typed:
            speed = job.speed = cluster.pools[cluster.pool_of[nodes[0]]].speed
        else:
            speed = job.speed = self._speed0
        wall = job.run_estimate(speed)
        job.seg_start_s = now
        job.seg_restart = job.restarts > 0
        job.expected_end_s = now + wall
        cluster.allocate(job, nodes)
        self.running[job] = None
        self.env.timeout(wall, value=(job, job.token)).callbacks.append(self._finish)
        if self.failures is not None:
            self.failures.arm_job(job, wall)

    def _finish(self, event) -> None:
        job, token = event._value
        if job.token != token:
            return  # interrupted since: this completion is stale
        now = self.env.now
        speed = job.speed
        if job.plan is not None:
            extra = (now - job.seg_start_s) - job.remaining_s / speed  # restart + checkpoints
            job.overhead_s += extra
            job.overhead_gpu_s += extra * job.spec.num_gpus
        if speed != 1.0:
            job.work_fast += job.remaining_s
            job.wall_fast += job.remaining_s / speed
        job.remaining_s = 0.0
        self.cluster.release(job)
        del self.running[job]
        job.state = FINISHED
        job.end_s = now
        self.log.add(job, FINISHED)
        inference = self.inference
        if inference is not None and inference.waiting:
            inference.place_waiting()  # replicas outrank training: they take freed GPUs first
        self.policy.schedule(self.queue, self.cluster, self.placement, now, self._start, None)
        self._record()

    # ------------------------------------------------------------------------------- failures

    def hang(self, job: Job, now: float) -> None:
        """A failure stopped ``job``'s progress at ``now`` (its node may be down already)."""
        if job.seq < 0:  # an inference replica: gone at once, the autoscaler replaces it
            self.inference.lost(job)
            return
        per = self.cluster.per_node(job.spec.num_gpus, job.pool)
        up_gpus = per * sum(1 for n in job.nodes if self.cluster.up[n])
        if job.hung_since == job.hung_since:  # already hung: fewer GPUs held from now on
            job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
            job.hang_mark = now
            job.hang_gpus = up_gpus
            return
        part = split(job.plan, now - job.seg_start_s, job.seg_restart)
        g = job.spec.num_gpus
        overhead = part.restart + part.checkpoint
        job.overhead_s += overhead
        job.overhead_gpu_s += overhead * g
        job.lost_s += part.unsaved
        job.lost_gpu_s += part.unsaved * g
        job.progress(part.saved)
        job.token += 1  # the scheduled completion is void
        job.hung_since = now
        job.hang_mark = now
        job.hang_gpus = up_gpus

    def recover(self, job: Job) -> None:
        """The failure that hung ``job`` was detected: restart it on a spare or requeue it."""
        if job.hung_since != job.hung_since:
            return
        now = self.env.now
        job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
        job.lost_s += now - job.hung_since
        job.hung_since = float("nan")
        job.hang_gpus = 0
        job.restarts += 1
        cluster = self.cluster
        alive = tuple(n for n in job.nodes if cluster.up[n] and n not in cluster.draining)
        lost = len(job.nodes) - len(alive)
        cluster.release(job)
        del self.running[job]
        self.policy.invalidate()
        spares = cluster.take_spares(lost, job.pool) if lost else []
        if spares is not None:
            if lost:
                self.failures.spare_swaps += 1
            self._start(job, alive + tuple(spares))
        else:
            job.state = QUEUED
            if self.scenario.failures.requeue == "front":
                job.prio = -1
            self.queue.push(job)
        self.capacity_changed()

    def capacity_changed(self) -> None:
        """Nodes or running jobs changed other than as planned: replan and schedule."""
        self.policy.invalidate()
        inference = self.inference
        if inference is not None and inference.waiting:
            inference.place_waiting()
        self.policy.schedule(self.queue, self.cluster, self.placement, self.env.now, self._start, None)
        self._record()

    # ------------------------------------------------------------------------------- preemption

    def unsaved(self, job: Job, now: float) -> float:
        """Wall seconds of ``job``'s current segment that preemption now would lose."""
        elapsed = now - job.seg_start_s
        if job.plan is None:
            return elapsed
        return split(job.plan, elapsed, job.seg_restart).unsaved

    def preempt(self, job: Job) -> None:
        """Evict a running training job for an inference replica: it loses the work since its
        last checkpoint (all of its segment without a checkpoint plan), and is requeued at its
        original place; its next segment pays the restart cost (``restarts`` counts it)."""
        now = self.env.now
        g = job.spec.num_gpus
        elapsed = now - job.seg_start_s
        if job.plan is not None:
            part = split(job.plan, elapsed, job.seg_restart)
            overhead = part.restart + part.checkpoint
            job.overhead_s += overhead
            job.overhead_gpu_s += overhead * g
            lost = part.unsaved
            job.progress(part.saved)
        else:
            lost = elapsed
        job.lost_s += lost
        job.lost_gpu_s += lost * g
        rec = self._preempted.get(job.seq)
        if rec is None:
            rec = self._preempted[job.seq] = [0, 0.0]
        rec[0] += 1
        rec[1] += lost * g
        job.token += 1  # the scheduled completion is void
        job.restarts += 1
        self.cluster.release(job)
        del self.running[job]
        job.state = QUEUED
        self.queue.push(job)
        self.policy.invalidate()

    def _record_services(self) -> None:
        Engine._record(self, extra=(self.inference.gpus,))  # self._record is this method

    def _record(self, extra: tuple = ()) -> None:
        """Append the cluster's levels (and per-pool and inference columns where present)."""
        c = self.cluster
        if self._pool_levels:
            extra = tuple(v for p in c.pools for v in (p.busy_gpus, p.up_nodes * p.gpus_per_node)) + extra
        self.recorder.level(
            self.env.now,
            c.busy_gpus,
            c.up_gpus,
            len(self.running),
            len(self.queue),
            self.queue.gpus,
            len(c.free) - c.up_nodes - c.retired_nodes,
            extra,
        )


def simulate(
    scenario: Scenario,
    seed: int = 0,
    *,
    progress: ProgressFn | None = None,
    specs: Iterable[JobSpec] | None = None,
) -> RunResult:
    """Run one replication of ``scenario`` with ``seed``; ``specs`` replaces the workload."""
    engine = Engine(scenario, Streams(seed), specs)
    engine.run(progress)
    return engine.result()


__all__ = ["RunResult", "simulate", "Engine", "QUEUED", "RUNNING", "FINISHED", "REJECTED"]
