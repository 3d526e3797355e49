"""A training job's speed: what sets it when it starts, and re-timing it when that changes.

A job's speed is its pool's GPU speed, times the topology's span penalty for its nodes (if
any), times the ``speed_factor`` of every component that implements one (slow nodes, power
caps), in that order. ``respeed`` is called by a component when its factor for a running job
changes: the segment's progress so far is kept at the old speed, the rest runs at the new one
(``segments.respeed``), and the job's completion, its place in its pool's end-time heap and the
components' ``job_respeeded`` hooks follow. The old completion event and heap entry become stale
(their time is no longer the job's ``expected_end_s``).
"""

from __future__ import annotations

import heapq

from clustersim.engine import segments
from clustersim.model import RUNNING, Job


def speed_of(engine, job: Job, nodes: tuple[int, ...]) -> float:
    """Speed of ``job`` on ``nodes`` (see the module docstring)."""
    cluster = engine.cluster
    speed = cluster.pools[cluster.pool_of[nodes[0]]].speed if cluster.typed else engine._speed0
    if cluster.slowdown is not None:  # topology span penalty
        speed = speed * cluster.slowdown(nodes)
    for factor in engine._speed_factors:
        speed = speed * factor(job, nodes)
    return speed


def respeed(engine, job: Job) -> None:
    """Recompute a running job's speed now; if it changed, the job ends when its remaining work
    is done at the new speed. A job hung by a failure keeps its speed until it restarts."""
    if job.state != RUNNING or job.hung_since is not None or not job.nodes:
        return
    speed = speed_of(engine, job, job.nodes)
    if speed == job.speed:
        return
    now = engine.env.now
    end = max(now, job.seg_start_s + segments.respeed(job, now, speed))  # never in the past
    if end == job.expected_end_s:
        return  # the scheduled completion stands
    job.expected_end_s = end
    job.end_token = job.token
    if engine.cluster.track_ends:
        heap = engine.cluster.pools[job.pool].end_heap
        heapq.heappush(heap, (end, job.seq, job.token, job))
        if len(heap) > 2 * len(engine.running) + 1024:  # re-timed jobs leave stale entries: drop them
            heap[:] = [e for e in heap if e[3].token == e[2] and e[3].nodes and e[0] == e[3].expected_end_s]
            heapq.heapify(heap)
    engine.call_at(end, engine._finish, value=(job, job.token))
    for hook in engine._on_respeed:
        hook(job, end - now)
    engine.policy.invalidate()
    engine.request_pass(changed=True)
