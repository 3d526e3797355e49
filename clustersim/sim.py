"""The engine: wires SimPy, the cluster, the queue and the policies; no file I/O.

``simulate(scenario, seed)`` runs one replication and returns a ``RunResult`` of plain
tables. The scheduler acts only when something changes (an arrival or a completion), through
a single zero-delay "pass" event per instant, so simultaneous changes are handled together.
Job completions are SimPy timeouts carrying a token; a job interrupted later (failure,
preemption) bumps its token and the stale completion is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import simpy

from clustersim import metrics
from clustersim.cluster import Cluster
from clustersim.config import Scenario
from clustersim.model import FINISHED, QUEUED, REJECTED, RUNNING, Job, JobSpec
from clustersim.queue import JobQueue
from clustersim.rng import Streams
from clustersim.workload import scenario_jobs

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


class Engine:
    def __init__(self, scenario: Scenario, streams: Streams, specs: Iterable[JobSpec] | None = None):
        self.scenario = scenario
        self.streams = streams
        self.env = simpy.Environment()
        c = scenario.cluster
        self.cluster = Cluster(c.nodes, c.gpus_per_node)
        self.policy = scenario.scheduler.policy.build()
        self.placement = scenario.scheduler.placement.build()
        self.placement.bind(c.gpus_per_node)
        self.queue = JobQueue(self.policy.key)
        self.submitted = 0
        self.running: dict[Job, None] = {}
        self.log = metrics.JobLog()
        self.recorder = metrics.Recorder()
        self._shape: dict[int, str | None] = {}
        specs = scenario_jobs(scenario, streams) if specs is None else specs
        self._specs = iter(specs)
        self._next_spec: JobSpec | None = None
        self._record()
        self._schedule_arrival()

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
        import pandas as pd

        s = self.scenario
        for job in self.running:
            self.log.add(job, RUNNING)
        for job in self.queue.jobs:
            self.log.add(job, QUEUED)
        jobs = self.log.frame()
        ts = self.recorder.frame()
        events = pd.DataFrame({"t_s": pd.Series(dtype=float), "kind": pd.Series(dtype=str)})
        summary = metrics.summarize(
            jobs, ts, scenario=s.name, seed=self.streams.seed, horizon=s.horizon, warmup=s.warmup
        )
        return RunResult(s, self.streams.seed, jobs, ts, events, summary)

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
            delay = spec.submit_s - env.now
            if delay > 0:
                self._next_spec = spec
                env.timeout(delay).callbacks.append(self._arrive)
                return
            self.submit(spec)
            spec = None

    def _arrive(self, _event) -> None:
        spec = self._next_spec
        self._next_spec = None
        self.submit(spec)
        self._schedule_arrival()

    def submit(self, spec: JobSpec) -> Job:
        job = Job(spec, self.submitted)
        self.submitted += 1
        g = spec.num_gpus
        problem = self._shape.get(g, 0)
        if problem == 0:
            problem = self._shape[g] = self.cluster.shape_problem(g)
        if problem is not None:
            job.state = REJECTED
            job.reason = problem
            self.log.add(job, REJECTED)
            return job
        self.queue.push(job)
        self.policy.schedule(self.queue, self.cluster, self.placement, self.env.now, self._start, [job])
        self._record()
        return job

    # ------------------------------------------------------------------------------- jobs

    def _start(self, job: Job, nodes: tuple[int, ...]) -> None:
        now = self.env.now
        job.state = RUNNING
        if job.start_s != job.start_s:  # NaN: first start
            job.start_s = now
        job.token += 1
        duration = job.spec.duration_s
        job.expected_end_s = now + duration
        self.cluster.allocate(job, nodes)
        self.running[job] = None
        self.env.timeout(duration, value=(job, job.token)).callbacks.append(self._finish)

    def _finish(self, event) -> None:
        job, token = event._value
        if job.token != token:
            return  # interrupted since: this completion is stale
        self.cluster.release(job)
        del self.running[job]
        job.state = FINISHED
        job.end_s = self.env.now
        self.log.add(job, FINISHED)
        self.policy.schedule(self.queue, self.cluster, self.placement, self.env.now, self._start, None)
        self._record()

    def _record(self) -> None:
        c = self.cluster
        self.recorder.level(
            self.env.now, c.busy_gpus, c.up_gpus, len(self.running), len(self.queue), self.queue.gpus
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
