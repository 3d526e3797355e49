"""The earliest time a job could start if running jobs end when expected and nothing else
starts, read from the cluster's public state only (free GPUs, jobs on each node, node status):
shares no code with the engine's planners, so tests can hold EASY to its promise with it."""

from __future__ import annotations

import math


def earliest_start(cluster, gpus: int, now: float, pool: int = 0) -> float:
    p = cluster.pools[pool]
    per = p.gpus_per_node
    nodes = [n for n in p.nodes if cluster.up[n] and not cluster.spare[n] and n not in cluster.draining]
    ends = sorted({now, *(j.expected_end_s for n in nodes for j in cluster.jobs_on[n])})
    for t in ends:
        free = {
            n: cluster.free[n] + sum(min(j.spec.num_gpus, per) for j in cluster.jobs_on[n] if j.expected_end_s <= t)
            for n in nodes
        }
        if gpus <= per and any(f >= gpus for f in free.values()):
            return max(t, now)
        if gpus > per and sum(1 for f in free.values() if f == per) >= gpus // per:
            return max(t, now)
    return math.inf
