"""Accounting of a job's run segments: what an interruption keeps, loses and costs.

A segment is the time from a (re)start to the job's end or interruption. With a checkpoint
plan (``checkpoint.Plan``) a segment pays a restart cost (after the first start), writes
checkpoints, and an interruption loses the work since the last completed checkpoint; without
a plan an interruption loses the whole segment. Pure functions of the job and the clock.

Speed changes within a segment (a slow node, a power cap): a segment's *progress time* is its
wall time less the restart and the checkpoint writes; checkpoints fall every ``plan.interval``
seconds of progress time whatever the speed (a timer, as trainers checkpoint every N minutes),
so the checkpoint schedule and what an interruption loses in wall seconds do not depend on the
speed. Only the work a second of progress does does: ``job.pieces`` records the segment's
speeds as [(progress s, work done s, speed from then on), ...] once its speed has changed.
The segment then ends when the work done reaches its remaining work, exactly.
"""

from __future__ import annotations

from clustersim.checkpoint import split
from clustersim.model import Job


def progress_time(job: Job, elapsed: float) -> float:
    """Progress seconds in the first ``elapsed`` wall seconds of ``job``'s current segment."""
    if job.plan is None:
        return elapsed
    part = split(job.plan, elapsed, job.seg_restart)
    return part.saved + part.unsaved


def respeed(job: Job, now: float, speed: float) -> float:
    """Run ``job``'s current segment at ``speed`` from ``now`` on; return the segment's new
    wall length (its end is ``job.seg_start_s`` + that). The work done so far is kept."""
    p = progress_time(job, now - job.seg_start_s)
    pieces = job.pieces
    if pieces is None:
        pieces = job.pieces = [(0.0, 0.0, job.speed)]
    p0, w0, s0 = pieces[-1]
    work = min(job.remaining_s, w0 + (p - p0) * s0)
    if p == p0:
        pieces[-1] = (p0, w0, speed)  # no progress at the old speed (a restart, a checkpoint)
    else:
        pieces.append((p, work, speed))
    job.speed = speed
    total = p + (job.remaining_s - work) / speed
    return total if job.plan is None else job.plan.segment_wall(total, job.seg_restart)


def complete(job: Job, now: float) -> None:
    """``job``'s segment completed its work at ``now``: book its restart and checkpoint time
    (what the segment took beyond its progress) and the work done at speeds other than 1."""
    speed = job.speed
    if job.pieces is not None:  # its speed changed during the segment
        progress = finish_pieces(job)
    else:
        progress = job.remaining_s / speed
        if speed != 1.0:
            job.work_fast += job.remaining_s
            job.wall_fast += progress
    if job.plan is not None:
        extra = (now - job.seg_start_s) - progress  # restart + checkpoints
        job.overhead_s += extra
        job.overhead_gpu_s += extra * job.spec.num_gpus
    job.remaining_s = 0.0


def finish_pieces(job: Job) -> float:
    """A segment with speed changes completed its work: credit each piece's work at its speed
    and return the segment's progress seconds."""
    pieces: list = job.pieces  # type: ignore[assignment]
    job.pieces = None
    remaining = job.remaining_s
    p_last, w_last, s_last = pieces[-1]
    total = p_last + (remaining - w_last) / s_last
    for i, (p, work, speed) in enumerate(pieces):
        if speed != 1.0:
            p_next, w_next = pieces[i + 1][:2] if i + 1 < len(pieces) else (total, remaining)
            job.work_fast += w_next - work
            job.wall_fast += p_next - p
    return total


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
