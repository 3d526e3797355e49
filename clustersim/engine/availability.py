"""When GPUs become free: what the backfilling policies plan with.

Running jobs end at their expected end (true run times are the estimates). These functions
read the cluster's indexes and never change them; they give EASY the head's shadow time and extra capacity.
With a topology whose locality rule binds for the head, the shadow time is when the rule can be
met and the extra is zero (see ``_topology_shadow``).

Nodes that count: in service, not a hot spare, not draining for retirement. A replica's end is
never (``inf``), so its GPUs never count as becoming free.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Final

from clustersim.engine.cluster import Cluster
from clustersim.model import Job

INF: Final = math.inf


@dataclass
class Shadow:
    """The head's reservation on one pool, as EASY defines it.

    ``whole``: the head needs whole nodes (one node's worth or more). ``nodes`` is every node of the pool that will be
    entirely free at the shadow time ``t`` (free now, or all its jobs end by ``t``), and
    ``extra`` how many of them the head does not need. Otherwise the head needs part of one
    node: ``nodes`` is that node and ``extra`` its GPUs free at ``t`` beyond the head's need.
    """

    pool: int
    t: float
    whole: bool
    nodes: set[int] = field(default_factory=set)
    extra: int = 0


def _schedulable(cluster: Cluster, node: int) -> bool:
    return cluster.up[node] and not cluster.spare[node] and node not in cluster.draining


def _emptied(cluster: Cluster, job: Job, left: dict[int, int]) -> list[int]:
    """Schedulable nodes of ``job`` left with no running job once it ends; ``left`` counts the
    jobs still on each node seen so far (the jobs ended before it already taken off)."""
    jobs_on = cluster.jobs_on
    out = []
    for node in job.nodes:
        if not _schedulable(cluster, node):
            continue
        n = left.get(node)
        if n is None:
            n = len(jobs_on[node])
        n -= 1
        left[node] = n
        if n == 0:
            out.append(node)
    return out


def shadow(cluster: Cluster, gpus: int, now: float, pool: int = 0, end_of=None) -> Shadow:
    """The earliest time a job of ``gpus`` GPUs could start on ``pool`` if running jobs end as
    expected and nothing else starts, with the capacity left over at that time. ``t`` is inf
    when it never could (e.g. it waits for nodes still to be delivered).

    ``end_of(job, now)``: when each running job is assumed to end instead of its expected end
    (EASY with users' estimates, ``policies.estimates``; one fleet without a topology)."""
    p = cluster.pools[pool]
    per = p.gpus_per_node
    free, jobs_on = cluster.free, cluster.jobs_on
    exact = end_of is None
    if exact:
        heap = list(cluster.ends(pool))  # stale entries are skipped as they come up
    else:  # the live entries, keyed by their assumed ends
        heap = [
            (end_of(job, now), seq, token, job)
            for end, seq, token, job in cluster.ends(pool)
            if job.token == token and job.nodes and end == job.expected_end_s
        ]
        heapq.heapify(heap)
    if gpus >= per:
        need = gpus // per
        topo = cluster.topology if pool == 0 and exact else None
        rule = topo.rule(need) if topo is not None else None
        if rule is not None:
            return _topology_shadow(cluster, topo, rule, need, now, heap)
        ready = set(p.buckets[per])
        left: dict[int, int] = {}
        t = now if len(ready) >= need else INF
        while heap:
            end, _seq, token, job = heap[0]
            if t < INF and end > t:
                break
            heapq.heappop(heap)
            if exact and (job.token != token or not job.nodes or end != job.expected_end_s):
                continue
            ready.update(_emptied(cluster, job, left))
            if t == INF and len(ready) >= need:
                t = max(end, now)
        if t == INF:
            return Shadow(pool, INF, True)
        return Shadow(pool, t, True, ready, len(ready) - need)
    for k in range(gpus, per + 1):  # room now (a head that fits now has no wait)
        for node in p.buckets[k]:
            return Shadow(pool, now, False, {node}, free[node] - gpus)
    gained: dict[int, int] = {}
    while heap:
        end, _seq, token, job = heapq.heappop(heap)
        if exact and (job.token != token or not job.nodes or end != job.expected_end_s):
            continue
        take = p.per_node(job.spec.num_gpus)
        for node in job.nodes:
            if not _schedulable(cluster, node):
                continue
            have = gained.get(node, free[node]) + take
            gained[node] = have
            if have >= gpus:
                t = max(end, now)
                at_t = free[node] + sum(
                    p.per_node(j.spec.num_gpus)
                    for j in jobs_on[node]
                    if (j.expected_end_s if exact else end_of(j, now)) <= t
                )
                return Shadow(pool, t, False, {node}, at_t - gpus)
    return Shadow(pool, INF, False)


def _topology_shadow(cluster, topo, rule, need: int, now: float, heap) -> Shadow:
    """The shadow of a gang whose locality rule binds: the earliest time its rule can be met
    on the nodes then entirely free. Its extra is none: a long backfill job may not take a whole
    node that will be free at that time (which domain the head takes is not known in advance),
    only room on nodes the head will not need."""
    free_at = set(cluster.pools[0].buckets[cluster.pools[0].gpus_per_node])
    left: dict[int, int] = {}

    def ends():
        while heap:
            end, _seq, token, job = heapq.heappop(heap)
            if job.token != token or not job.nodes or end != job.expected_end_s:
                continue
            yield end, _emptied(cluster, job, left)

    t = topo.shadow_time(need, rule, free_at, ends(), now)
    return Shadow(0, t, True, free_at if t < INF else set(), 0)


def best_shadow(cluster: Cluster, job: Job, now: float) -> Shadow:
    """The head's shadow on the pool (of those it may use) where it could start earliest;
    ties go to the first in the job's order."""
    if not cluster.typed:
        return shadow(cluster, job.spec.num_gpus, now)
    best = None
    for pool in job.pools:
        s = shadow(cluster, job.spec.num_gpus, now, pool)
        if best is None or s.t < best.t:
            best = s
    return best  # type: ignore[return-value]
