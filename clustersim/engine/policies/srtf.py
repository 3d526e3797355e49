"""Preemptive shortest remaining time first (SRTF).

The classic single-server rule (Schrage, "A proof of the optimality of the shortest remaining
processing time discipline", Operations Research 16(3), 1968), with gangs: every training job
is ranked by its remaining work, and a queued job that does not fit preempts running jobs with
more remaining work than its own (``preemptive``: longest remaining first, a prefix that
frees the nodes it needs).

- Remaining work is in seconds at speed 1.0 (the job's ``duration_s`` less the work it has kept).
  For a running job it also counts the work done since its last start: the progress time of the
  current segment (its wall time less restart and checkpoint writes, ``engine.segments``) at
  the segment's speeds. The scheduler is assumed to know every job's true duration, as the
  ``sjf`` policy does.
- A preempted job loses the work since its last checkpoint (all of its segment without a
  checkpoint plan), like every preemption (``engine.evict``); its remaining work goes back to
  what it had kept, so it may then outrank the job that preempted it only by what it had saved.
- Ties: submission order. Tenancy priority classes (``job.prio``) come first.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from clustersim.engine import segments
from clustersim.engine.policies.preemptive import Preemptive
from clustersim.model import Job

_first: Final = itemgetter(0)  # a C variable when compiled


def done_in_segment(job: Job, now: float) -> float:
    """Work (seconds at speed 1.0) a running job has done since its current segment began."""
    p = segments.progress_time(job, now - job.seg_start_s)
    pieces = job.pieces
    if pieces is None:
        work = p * job.speed
    else:
        p0, w0, s0 = pieces[-1]
        work = w0 + (p - p0) * s0
    return min(work, job.remaining_s)


class ShortestRemaining(Preemptive):
    """Preemptive shortest remaining time first (see the module docstring)."""

    @classmethod
    def from_config(cls, cfg) -> ShortestRemaining:
        policy = cls()
        policy.suspend = cfg.preemption == "suspend"
        return policy

    def key(self, job: Job) -> tuple:
        return (job.prio, job.remaining_s, job.seq)

    def rank(self, job: Job, now: float) -> tuple:
        return (job.prio, job.remaining_s - done_in_segment(job, now), job.seq)

    def _victims(self, now: float) -> tuple[list, list[Job]]:
        """As the base class's, with ``rank`` inlined for the common segment (no checkpoint
        plan, one speed): the pass ranks every running job, so this is an overloaded run's
        hot loop. The same arithmetic as ``done_in_segment``, so the same ranks."""
        ranked = []
        for j in self.engine.running:
            if j.pool != 0 or j.hung_since is not None:
                continue
            rem = j.remaining_s
            if j.plan is None and j.pieces is None:
                work = (now - j.seg_start_s) * j.speed
                ranked.append(((j.prio, rem - (work if work < rem else rem), j.seq), j))
            else:
                ranked.append(((j.prio, rem - done_in_segment(j, now), j.seq), j))
        ranked.sort(key=_first, reverse=True)
        return [r[0] for r in ranked], [r[1] for r in ranked]
