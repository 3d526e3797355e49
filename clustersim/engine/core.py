"""The engine core: the event loop, the cluster, the queue and the policy; no file I/O.

``simulate(scenario, seed)`` runs one replication and returns a ``RunResult`` of plain
tables. A job's completion is an event carrying a token (``Clock.call_in``), stale once the
job is interrupted (its token bumped) or re-timed (``expected_end_s`` moved).

One scheduling pass per instant: an event (arrival, completion, failure, repair, delivery,
demand step) only changes state and asks for a pass (``request_pass``); the clock
(``engine.clock``) runs it once, after all the events of its instant have been applied,
whatever their order. Components whose work outranks training (replicas) act first
(``before_pass``), then the queue policy, then one timeseries row is recorded.

The core knows no failure, supply or inference model: those are components
(``engine.component``) built from the scenario by ``components()`` and attached in that order.
They act on the core through ``start``, ``stop``, ``requeue``, ``evict``, ``capacity_changed``,
``nodes_entered`` and ``node_left``, and the core calls the hooks they implement.

GPU types: a job is routed at submission to the pools it may use (``route``); its work is
``duration_s`` at speed 1.0, taking ``work / speed`` of wall time on a pool of speed ``s``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any, Final

import simpy
import simpy.core
from mypy_extensions import mypyc_attr

from clustersim.config import Scenario
from clustersim.engine import segments, speeds
from clustersim.engine.clock import Clock
from clustersim.engine.cluster import Cluster
from clustersim.engine.component import HOOKS, Component, overrides
from clustersim.engine.parts import components
from clustersim.engine.placement import build_placement
from clustersim.engine.policies import build_policy
from clustersim.engine.queue import JobQueue
from clustersim.model import FINISHED, QUEUED, REJECTED, RUNNING, Job, JobSpec
from clustersim.results.recorder import JobLog, Recorder, events_frame
from clustersim.results.result import RunResult
from clustersim.results.summary import summarize
from clustersim.rng import Streams
from clustersim.workload.sources import scenario_jobs

ProgressFn = Callable[[float], None]
Router = Callable[[int, str], "tuple[int, ...] | str"]  # (GPUs, type) -> pools or why not
_next: Final = next  # a C variable when compiled, not a lookup of the builtin at every arrival


@mypyc_attr(allow_interpreted_subclasses=True)
class Engine:
    def __init__(
        self,
        scenario: Scenario,
        streams: Streams,
        specs: Iterable[JobSpec] | None = None,
        parts: list[Component] | None = None,
    ):
        self.scenario = scenario
        self.streams = streams
        self.env = Clock()
        c = scenario.cluster
        supply = scenario.supply
        self._speed0 = speed = supply.gpu_types[c.gpu_type].speed if supply is not None else 1.0
        self.parts = components(scenario, streams) if parts is None else parts
        own = sum(part.own_nodes for part in self.parts)  # nodes that components pool apart
        self.cluster = Cluster(c.nodes - own, c.gpus_per_node, c.gpu_type, speed)
        self.policy = build_policy(scenario.scheduler.policy)
        self.placement = build_placement(scenario.scheduler.placement)
        self.placement.bind(c.gpus_per_node)  # type: ignore[attr-defined]
        make_queue = getattr(self.policy, "make_queue", None)  # a policy with its own queue (fairshare)
        self.queue: JobQueue = make_queue() if make_queue is not None else JobQueue(self.policy.key)
        attach = getattr(self.policy, "attach", None)
        if attach is not None:  # a preemptive policy acts on the engine (``evict``)
            attach(self)
        self.submitted = 0
        self.running: dict[Job, None] = {}
        self.recorder = Recorder()
        self._shape: dict[int, str | None] = {}
        self._routes: dict[tuple[int, str], tuple[int, ...] | str] = {}
        self._class_type = {
            cls.name: cls.gpu_type for cls in scenario.workload.classes or () if cls.gpu_type != "any"
        }
        self.router: Router = self._route_one_pool  # a component may install its own (supply)
        for part in self.parts:
            part.prepare(self.cluster)
        for part in self.parts:
            part.attach(self)
        # the hooks each component overrides, in HOOKS order (job_submitted ... levels)
        (self._on_submit, self._on_start, self._on_end, self._on_enter, self._on_leave, self._before_pass,
         self._levels, self._speed_factors, self._on_respeed) = (
            [getattr(p, name) for p in self.parts if overrides(p, name)] for name in HOOKS
        )
        # without supply the capacity stages are constant (all in service): not recorded
        self._pool_levels = self.cluster.typed
        self._routing = self.router != self._route_one_pool or bool(self._class_type)
        if self._pool_levels:
            self.recorder.pool_columns([p.name for p in self.cluster.pools])
        for part in self.parts:
            if part.level_columns:
                self.recorder.add_columns(list(part.level_columns))
        self.log = JobLog([p.name for p in self.cluster.pools])
        specs = scenario_jobs(scenario, streams) if specs is None else specs
        self._specs = iter(specs)
        self._next_spec: JobSpec | None = None
        self._result: RunResult | None = None
        self._changed = True  # capacity changed since the last pass (not only arrivals)
        self._new: list[Job] = []  # jobs queued since the last pass
        # read at every arrival, start and request: kept rather than looked up (a pydantic
        # field, a bound method made anew at each read)
        self._horizon = scenario.horizon
        self._finish_cb: Callable[[Any], None] = self._finish
        self._pass_cb: Callable[[], None] = self._pass
        self._start_cb: Callable[[Job, tuple[int, ...]], None] = self.start
        self._record()
        self.env.arrive = self._arrive
        self._schedule_arrival()

    def part(self, kind: type) -> Component | None:  # the attached component of that type
        return next((p for p in self.parts if isinstance(p, kind)), None)

    # ------------------------------------------------------------------------------- running

    def run(self, progress: ProgressFn | None = None, chunks: int = 100) -> None:
        """Run to the horizon. Python's cyclic garbage collector is paused meanwhile: the loop
        makes no reference cycles (events, jobs and rows are freed by their reference counts,
        so memory is the same), and the collector would walk the young objects every few
        hundred allocations, a few per cent of the run for nothing."""
        horizon = self.scenario.horizon
        collecting = gc.isenabled()
        gc.disable()
        try:
            if progress is None:
                self.env.run(until=horizon)
                return
            for i in range(1, chunks + 1):
                self.env.run(until=horizon * i / chunks)
                progress(i / chunks)
        finally:
            if collecting:
                gc.enable()

    def result(self) -> RunResult:
        """The run's tables and summary. Closes the books at the current time, once."""
        if self._result is not None:
            return self._result
        s = self.scenario
        now = self.env.now
        for job in self.running:
            segments.close_at_horizon(job, now)
            self.log.add(job, RUNNING)
        for job in self.queue.jobs:
            self.log.add(job, QUEUED)
        jobs = self.log.frame()
        for part in self.parts:
            jobs = part.job_columns(jobs)
        ts = self.recorder.frame()
        events = events_frame([row for part in self.parts for row in part.events()])
        summary = summarize(
            jobs, ts, scenario=s.name, seed=self.streams.seed, horizon=s.horizon, warmup=s.warmup
        )
        tables: dict = {}
        for part in self.parts:
            own = part.tables()
            tables.update(own)
            summary.update(part.summary(jobs, ts, events, own))
        self._result = RunResult(s, self.streams.seed, jobs, ts, events, summary, tables)
        return self._result

    # ------------------------------------------------------------------------------- arrivals

    def _schedule_arrival(self) -> None:
        """Submit every job due now, then wake up at the next one's submit time."""
        env = self.env
        horizon = self._horizon
        spec = self._next_spec
        while True:
            if spec is None:
                spec = _next(self._specs, None)
                if spec is None or spec.submit_s >= horizon:
                    self._next_spec = None
                    return
            if spec.submit_s > env.now:
                self._next_spec = spec
                env.arrival_at = spec.submit_s  # the clock calls _arrive then
                return
            self.submit(spec)
            spec = None

    def call_at(self, when: float, callback, priority: int = simpy.core.NORMAL, value=None) -> None:
        """Run ``callback(event)`` at exactly ``when``. A timeout of ``when - now`` can land an
        ulp early (now + (when - now) != when in floating point), which would start a job before
        its submit time; so the event goes into SimPy's queue at the absolute time."""
        event = simpy.Event(self.env)  # type: ignore[arg-type]
        event._ok = True
        event._value = value
        event.callbacks.append(callback)
        self.env.schedule_at(event, priority, when)

    def _arrive(self) -> None:
        spec = self._next_spec
        self._next_spec = None
        self.submit(spec)  # type: ignore[arg-type]
        self._schedule_arrival()

    def submit(self, spec: JobSpec) -> Job:
        job = Job(spec, self.submitted)
        self.submitted += 1
        g = spec.num_gpus
        problem: Any
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
        for hook in self._on_submit:
            hook(job)
        self.queue.push(job)
        self._new.append(job)
        self.request_pass(changed=False)
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
            route = self._routes[key] = self.router(*key)
        if isinstance(route, str):
            return route
        job.pools = route
        return None

    def _route_one_pool(self, gpus: int, request: str) -> tuple[int, ...] | str:
        if request not in ("any", self.scenario.cluster.gpu_type):
            return f"unknown GPU type {request!r}"
        return self.cluster.shape_problem(gpus) or (0,)

    # ------------------------------------------------------------------------------- jobs

    def start(self, job: Job, nodes: tuple[int, ...]) -> None:
        """Start (or restart) a training job's segment on ``nodes``."""
        now = self.env.now
        job.state = RUNNING
        if job.start_s is None:
            job.start_s = now
        job.token += 1
        cluster = self.cluster
        plain = not (cluster.typed or cluster.slowdown is not None or self._speed_factors)
        speed = job.speed = self._speed0 if plain else speeds.speed_of(self, job, nodes)
        wall = job.run_estimate(speed)
        job.seg_start_s = now
        job.seg_restart = job.restarts > 0
        job.expected_end_s = now + wall
        cluster.allocate(job, nodes)
        self.running[job] = None
        self.env.call_in(wall, self._finish_cb, (job, job.token))
        for hook in self._on_start:
            hook(job, wall)

    def respeed(self, job: Job) -> None:
        """Re-time a running job whose speed factor changed (``engine.speeds.respeed``)."""
        speeds.respeed(self, job)

    def _finish(self, event) -> None:
        job: Job
        token: int
        job, token = event._value  # typed, so that compiled code reads the job's fields natively
        now = self.env.now
        if job.token != token or now != job.expected_end_s:
            return  # interrupted or re-timed since: this completion is stale
        job.token += 1  # any other completion at this time (re-timed back to it) is stale too
        segments.complete(job, now)
        self.cluster.release(job)
        del self.running[job]
        job.state = FINISHED
        job.end_s = now
        self.log.add(job, FINISHED)
        for hook in self._on_end:
            hook(job)
        self.request_pass(changed=True)

    def stop(self, job: Job) -> None:
        """Take a running job off its nodes now (its scheduled completion becomes stale)."""
        job.token += 1
        self.cluster.release(job)
        del self.running[job]
        for hook in self._on_end:
            hook(job)

    def requeue(self, job: Job, front: bool = False) -> None:
        """Put a stopped job back in the queue (``front``: ahead of every job not requeued so)."""
        job.state = QUEUED
        if front:
            job.prio = -1
        self.queue.push(job)

    def evict(self, job: Job) -> float:
        """Preempt a running training job: it loses the work since its last checkpoint (all of
        its segment without a checkpoint plan) and is requeued at its original place; its next
        segment pays the restart cost (``restarts`` counts it). Returns the lost wall seconds.
        The caller reports the change of capacity."""
        lost = segments.interrupt(job, self.env.now)
        job.restarts += 1
        self.stop(job)
        self.requeue(job)
        self.policy.invalidate()
        return lost

    # ------------------------------------------------------------------------------- capacity

    def capacity_changed(self) -> None:
        """Nodes or running jobs changed other than as planned: plans are void; schedule."""
        self.policy.invalidate()
        self.request_pass(changed=True)

    def request_pass(self, changed: bool) -> None:
        """Ask for the scheduling pass of this instant (one per instant, after all its events).
        ``changed``: capacity changed (a completion, a failure ...), not only arrivals."""
        if changed:
            self._changed = True
        self.env.due = self._pass_cb

    def _pass(self) -> None:
        new = None if self._changed else self._new
        self._changed = False
        self._new = []
        for hook in self._before_pass:
            hook()
        self.policy.schedule(self.queue, self.cluster, self.placement, self.env.now, self._start_cb, new)
        self._record()

    def nodes_entered(self, nodes, keys=None, mature: bool = False) -> None:
        """Tell the components that ``nodes`` entered service now."""
        for hook in self._on_enter:
            hook(nodes, keys, mature)

    def node_left(self, node: int) -> None:
        """Tell the components that ``node`` left service for good."""
        for hook in self._on_leave:
            hook(node)

    # ------------------------------------------------------------------------------- levels

    def _record(self) -> None:
        """Append the cluster's levels (and per-pool and component columns where present)."""
        c = self.cluster
        extra: tuple = ()
        if self._pool_levels:
            extra = tuple(v for p in c.pools for v in (p.busy_gpus, p.up_nodes * p.gpus_per_node))
        for levels in self._levels:
            extra += levels()
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


__all__ = ["Engine", "components", "simulate"]
