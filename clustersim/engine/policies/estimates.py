"""Run-time estimates for EASY backfilling, and killing jobs at their requested time limit.

Real EASY plans with the run time each user requested (the job's time limit), not the true
one (Mu'alem & Feitelson, "Utilization, predictability, workloads, and user runtime estimates
in scheduling the IBM SP2 with backfilling", IEEE TPDS 12(6), 2001): the head's shadow time
is computed from the running jobs' *estimated* ends (start + limit), and a later job
backfills if its *estimate* ends by the shadow time. A job that ends before its estimate frees
its nodes early, and the next pass re-plans.

The limit ``L`` of a job is its requested time: ``factor`` x its true duration, or the trace's
requested-time column (``spec.time_limit_s``; a job without one is planned with its true run
time). As with a batch system's time limit, ``L`` bounds each run of the job: a job restarted
after a preemption or a failure asks for ``L`` again. A running job past its estimate (it
runs on) is planned to end now.

With ``kill_at_limit`` a run that reaches ``L`` is ended then (``Limits``): the job finishes
with reason ``killed: time limit``, its progress so far counted as work done (``work_done_s``
below ``duration_s``), so every job stays finished, running, queued or rejected.
"""

from __future__ import annotations

from clustersim.engine import segments
from clustersim.engine.component import Component
from clustersim.model import FINISHED, Job

KILLED = "killed: time limit"


class Estimates:
    """Each job's requested run time (``factor`` x its duration, or its trace column)."""

    def __init__(self, factor: float | None):
        self.factor = factor  # None: the trace's column

    def limit(self, job: Job) -> float:
        """The job's requested time limit per run, in wall seconds (NaN: none given)."""
        if self.factor is not None:
            return self.factor * job.spec.duration_s
        return job.spec.time_limit_s

    def estimate(self, job: Job, speed: float = 1.0) -> float:
        """What EASY assumes a (re)start of ``job`` takes: its limit, or else its true time."""
        lim = self.limit(job)
        return lim if lim == lim else job.run_estimate(speed)

    def end_of(self, job: Job, now: float) -> float:
        """A running job's estimated end: its run's start + its limit, at least ``now``."""
        lim = self.limit(job)
        end = job.seg_start_s + lim if lim == lim else job.expected_end_s
        return end if end > now else now


class Limits(Component):
    """Ends each run of a job when it reaches its limit (``kill_at_limit``): a timer armed at
    every start, void once the run ends otherwise (its token moves on)."""

    def __init__(self, est: Estimates):
        self.est = est
        self.killed = 0

    def attach(self, engine) -> None:
        self.engine = engine

    def job_started(self, job, wall: float) -> None:
        lim = self.est.limit(job)
        if lim == lim and lim < wall:  # it would not finish within its limit
            when = job.seg_start_s + lim
            self.engine.call_at(when, lambda _e, j=job, tok=job.token: self._kill(j, tok))

    def job_respeeded(self, job, wall: float) -> None:
        lim = self.est.limit(job)
        end = job.seg_start_s + lim
        if lim == lim and end < self.engine.env.now + wall:  # re-timed past its limit
            self.engine.call_at(end, lambda _e, j=job, tok=job.token: self._kill(j, tok))

    def _kill(self, job: Job, token: int) -> None:
        engine = self.engine
        if job.token != token or job not in engine.running or job.hung_since is not None:
            return  # ended, stopped or restarted since (a hung job is the failure model's)
        now = engine.env.now
        segments.close_at_horizon(job, now)  # its progress so far counts as work done
        job.state = FINISHED
        engine.stop(job)
        job.end_s = now
        job.reason = KILLED
        engine.log.add(job, FINISHED)
        self.killed += 1
        engine.capacity_changed()
