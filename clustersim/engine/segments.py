"""Accounting of a job's run segments: what an interruption keeps, loses and costs.

A segment is the time from a (re)start to the job's end or interruption. With a checkpoint
plan (``checkpoint.Plan``) a segment pays a restart cost (after the first start), writes
checkpoints, and an interruption loses the work since the last completed checkpoint; without
a plan an interruption loses the whole segment. Pure functions of the job and the clock.
"""

from __future__ import annotations

from clustersim.checkpoint import split
from clustersim.model import Job


def unsaved(job: Job, now: float) -> float:
    """Wall seconds of ``job``'s current segment that an interruption now would lose."""
    elapsed = now - job.seg_start_s
    if job.plan is None:
        return elapsed
    return split(job.plan, elapsed, job.seg_restart).unsaved


def interrupt(job: Job, now: float) -> float:
    """End ``job``'s segment at ``now`` by an interruption: credit the saved progress, book
    the checkpoint and restart overhead and the lost work; return the lost wall seconds."""
    g = job.spec.num_gpus
    elapsed = now - job.seg_start_s
    if job.plan is None:
        lost = elapsed
    else:
        part = split(job.plan, elapsed, job.seg_restart)
        overhead = part.restart + part.checkpoint
        job.overhead_s += overhead
        job.overhead_gpu_s += overhead * g
        lost = part.unsaved
        job.progress(part.saved)
    job.lost_s += lost
    job.lost_gpu_s += lost * g
    return lost


def close_at_horizon(job: Job, now: float) -> None:
    """Account a job still running (or hung) at the horizon: progress so far counts as
    useful, a hang so far as lost."""
    if job.plan is None:
        job.progress(now - job.seg_start_s)
        return
    if job.hung_since is not None:
        job.lost_gpu_s += (now - job.hang_mark) * job.hang_gpus
        job.lost_s += now - job.hung_since
        return
    part = split(job.plan, now - job.seg_start_s, job.seg_restart)
    overhead = part.restart + part.checkpoint
    job.overhead_s += overhead
    job.overhead_gpu_s += overhead * job.spec.num_gpus
    job.progress(part.saved + part.unsaved)  # progress so far counts as work done
