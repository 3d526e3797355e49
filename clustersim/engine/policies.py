"""Scheduling policies: the order of the queue, and where a job goes.

Policies are small classes behind two protocols. They see the queue, the cluster and the
clock as plain objects; they never see SimPy or a random generator, so a policy is a pure
function of the state it is shown. They are chosen in the scenario by ``kind`` (see
``config.PolicyConfig`` and ``config.PlacementConfig``: the union is the registry).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Protocol

from clustersim.engine.cluster import Cluster
from clustersim.engine.queue import JobQueue
from clustersim.model import Job

StartFn = Callable[[Job, tuple[int, ...]], None]
INF = float("inf")


class PlacementPolicy(Protocol):
    def order(self, gpus: int, per_node: int = 0) -> Sequence[int]:
        """Free-GPU buckets to try, in order, for a single-node job of ``gpus`` GPUs on nodes
        of ``per_node`` GPUs (0: the bound size, pool 0's)."""


class QueuePolicy(Protocol):
    def key(self, job: Job) -> tuple:
        """Sort key of the wait queue (smaller runs first)."""

    def schedule(
        self,
        queue: JobQueue,
        cluster: Cluster,
        placement: PlacementPolicy,
        now: float,
        start: StartFn,
        new: list[Job] | None,
    ) -> None:
        """Start what may start now. ``start(job, nodes)`` starts a job the policy has popped
        from the queue. ``new`` lists jobs queued since the last pass when nothing else
        changed (capacity is the same), or is None after any change in capacity."""

    def invalidate(self) -> None:
        """Forget cached plans: running jobs ended or nodes changed other than expected."""


# --------------------------------------------------------------------------------- placement


class _BucketOrder:
    def __init__(self) -> None:
        self._cache: dict[int, tuple[int, ...]] = {}
        self._other: dict[tuple[int, int], tuple[int, ...]] = {}
        self.gpus_per_node = 0

    def bind(self, gpus_per_node: int) -> None:
        self.gpus_per_node = gpus_per_node
        self._cache = {g: self._make(g, gpus_per_node) for g in range(1, gpus_per_node + 1)}

    def order(self, gpus: int, per_node: int = 0) -> Sequence[int]:
        if not per_node or per_node == self.gpus_per_node:
            return self._cache.get(gpus, ())
        key = (gpus, per_node)
        found = self._other.get(key)
        if found is None:
            found = self._other[key] = self._make(gpus, per_node) if gpus <= per_node else ()
        return found

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        raise NotImplementedError


class Pack(_BucketOrder):
    """Best fit: the node with the fewest free GPUs that still holds the job, so that whole
    nodes stay free for large gang jobs."""

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        return tuple(range(gpus, per_node + 1))


class Spread(_BucketOrder):
    """Worst fit: the node with the most free GPUs (spreads load, fragments more)."""

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        return tuple(range(per_node, gpus - 1, -1))


# --------------------------------------------------------------------------------- queue order


def _start_heads(queue: JobQueue, cluster: Cluster, placement: PlacementPolicy, start: StartFn) -> bool:
    """Start jobs from the head of the queue while they fit; True if any started. With several
    pools a job goes to the first of its pools (``job.pools``) that has room."""
    jobs = queue.jobs
    started = False
    typed = cluster.typed
    while jobs:
        job = jobs[0]
        if typed:
            nodes = cluster.find_job(job, placement)
        else:
            nodes = cluster.find(job.spec.num_gpus, placement.order(job.spec.num_gpus))
        if nodes is None:
            break
        queue.pop(0)
        start(job, nodes)
        started = True
    return started


class Fifo:
    """First come, first served, strictly: if the oldest job does not fit, nothing starts."""

    def key(self, job: Job) -> tuple:
        return (job.prio, job.seq)

    @classmethod
    def from_config(cls, cfg) -> Fifo:
        return cls()

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        _start_heads(queue, cluster, placement, start)

    def invalidate(self) -> None:
        pass


class ShortestFirst:
    """Shortest job first by (known) duration, strictly: the shortest waiting job blocks."""

    def key(self, job: Job) -> tuple:
        return (job.prio, job.spec.duration_s, job.seq)

    @classmethod
    def from_config(cls, cfg) -> ShortestFirst:
        return cls()

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        _start_heads(queue, cluster, placement, start)

    def invalidate(self) -> None:
        pass


class EasyBackfill:
    """EASY backfilling (Lifka 1995) over arrival order.

    The head of the queue gets a reservation: the earliest time ``T`` and the nodes ``R`` on
    which it can start if running jobs end when expected. A later job may start now if it
    fits and either avoids ``R`` or ends by ``T``, so it never delays the head. Run-time
    estimates are the jobs' true durations (an optimistic bound on real EASY, whose users
    over-estimate). At most ``depth`` jobs behind the head are considered per pass.

    With several pools (GPU types) the reservation is on one pool: the one of the head's pools
    where it could start earliest (ties: the first in the head's order). ``R`` lies in that
    pool, so a later job may start on any of its pools away from ``R``, and inside ``R`` only
    if it ends by ``T`` at the reserved pool's speed. A head that fits no pool even when every
    running job has ended (it waits for a delivery) has no reservation.
    """

    def __init__(self, depth: int = 100):
        self.depth = depth
        self._res_for: Job | None = None
        self._res_version = -1
        self._res: tuple[float, frozenset[int]] = (INF, frozenset())
        self._res_pool = 0
        self._last_head: Job | None = None
        self._fresh_from = 1  # queue index from which jobs were not examined since the last pass

    @classmethod
    def from_config(cls, cfg) -> EasyBackfill:
        return cls(depth=cfg.depth)

    def key(self, job: Job) -> tuple:
        return (job.prio, job.seq)

    def invalidate(self) -> None:
        self._res_for = None

    def reservation(self, head: Job, cluster: Cluster, now: float) -> tuple[float, frozenset[int]]:
        if self._res_for is head and self._res_version == cluster.version and self._res[0] >= now:
            return self._res
        if cluster.typed:
            best, best_pool = (INF, frozenset()), -1
            for pool in head.pools:
                res = shadow(head.spec.num_gpus, cluster, now, pool)
                if res[0] < best[0]:
                    best, best_pool = res, pool
            self._res, self._res_pool = best, best_pool
        else:
            self._res = shadow(head.spec.num_gpus, cluster, now)
            self._res_pool = 0
        self._res_for = head
        self._res_version = cluster.version
        return self._res

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        changed = _start_heads(queue, cluster, placement, start) or new is None
        jobs = queue.jobs
        if len(jobs) < 2 or cluster.free_gpus == 0:
            self._fresh_from = 1  # nothing examined: the next pass looks at the whole window
            return
        head = jobs[0]
        if head is not self._last_head:
            changed = True
            self._last_head = head
        shadow_t, reserved = self.reservation(head, cluster, now)
        backfill = self._backfill_pools if cluster.typed else self._backfill
        last = min(len(jobs) - 1, self.depth)
        if changed:
            candidates = range(1, last + 1)
        else:
            # Capacity is unchanged since the last pass: every job it examined still cannot
            # start. Only jobs that entered the window since (new arrivals, or jobs that slid
            # in when backfilled jobs left it) can.
            candidates = range(max(self._fresh_from, 1), last + 1)
        started = backfill(jobs, candidates, cluster, placement, now, shadow_t, reserved, start)
        if started:
            queue.remove_indices(started)
        self._fresh_from = last + 1 - len(started)

    @staticmethod
    def _backfill(jobs, candidates, cluster, placement, now, shadow_t, reserved, start) -> list[int]:
        """One pool: the classic pass."""
        speed = cluster.pools[0].speed
        min_fail_any = INF  # smallest size that fits nowhere: larger ones cannot fit either
        min_fail_out = INF  # smallest size that fits nowhere outside the reservation
        started: list[int] = []
        for i in candidates:
            if cluster.free_gpus == 0:
                break
            job = jobs[i]
            g = job.spec.num_gpus
            if g >= min_fail_any:
                continue
            order = placement.order(g)
            nodes = cluster.find(g, order, reserved) if g < min_fail_out else None
            if nodes is None:
                min_fail_out = min(min_fail_out, g)
                # only a job that would use the reserved nodes needs its run time
                if now + job.run_estimate(speed) > shadow_t:
                    continue
                nodes = cluster.find(g, order)
                if nodes is None:
                    min_fail_any = g
                    continue
            start(job, nodes)
            started.append(i)
        return started

    def _backfill_pools(self, jobs, candidates, cluster, placement, now, shadow_t, reserved, start) -> list[int]:
        """Several pools: the smallest failing sizes are remembered per set of pools a job may
        use, and only the reserved pool's nodes need the ends-in-time test."""
        res_pool = self._res_pool
        res_speed = cluster.pools[res_pool].speed if res_pool >= 0 else 1.0
        fail_any: dict[tuple[int, ...], int] = {}
        fail_out: dict[tuple[int, ...], int] = {}
        started: list[int] = []
        for i in candidates:
            if cluster.free_gpus == 0:
                break
            job = jobs[i]
            g = job.spec.num_gpus
            pools = job.pools
            if g >= fail_any.get(pools, INF):
                continue
            nodes = None
            if g < fail_out.get(pools, INF):
                nodes = cluster.find_job(job, placement, reserved)
                if nodes is None:
                    fail_out[pools] = g
            if nodes is None:
                if res_pool not in pools:
                    fail_any[pools] = g  # no reserved node is on its pools: it fits nowhere
                    continue
                if now + job.run_estimate(res_speed) > shadow_t:
                    continue
                per = cluster.pools[res_pool].gpus_per_node
                nodes = cluster.find(g, placement.order(g, per), pool=res_pool)
                if nodes is None:
                    fail_any[pools] = g
                    continue
            start(job, nodes)
            started.append(i)
        return started


def shadow(gpus: int, cluster: Cluster, now: float, pool: int = 0) -> tuple[float, frozenset[int]]:
    """Earliest time a job of ``gpus`` GPUs could start on ``pool`` if running jobs end as
    expected and nothing else starts, and the nodes it would start on. Walks the pool's running
    jobs in order of expected end (a copy of its end-time heap) and stops as soon as it knows.
    Retiring nodes never count: they leave service when their jobs end."""
    p = cluster.pools[pool]
    per = p.gpus_per_node
    free, up, jobs_on, drain = cluster.free, cluster.up, cluster.jobs_on, cluster.draining
    heap = list(p.end_heap)
    if gpus <= per:
        gained: dict[int, int] = {}
        while heap:
            end, _seq, token, job = heapq.heappop(heap)
            if job.token != token or not job.nodes:
                continue
            take = p.per_node(job.spec.num_gpus)
            for node in job.nodes:
                if not up[node] or (drain and node in drain):
                    continue
                have = gained.get(node, free[node]) + take
                gained[node] = have
                if have >= gpus:
                    return (max(end, now), frozenset((node,)))
        return (INF, frozenset())
    need = gpus // per
    ready = list(p.buckets[per])
    if len(ready) >= need:
        return (now, frozenset(ready[:need]))
    left: dict[int, int] = {}
    while heap:
        end, _seq, token, job = heapq.heappop(heap)
        if job.token != token or not job.nodes:
            continue
        for node in job.nodes:
            if not up[node] or (drain and node in drain):
                continue
            n = left.get(node)
            if n is None:
                n = len(jobs_on[node])
            n -= 1
            left[node] = n
            if n == 0:
                ready.append(node)
                if len(ready) == need:
                    return (max(end, now), frozenset(ready))
    return (INF, frozenset())


# --------------------------------------------------------------------------------- registry

POLICIES: dict[str, type] = {"fifo": Fifo, "sjf": ShortestFirst, "backfill": EasyBackfill}
PLACEMENTS: dict[str, type] = {"pack": Pack, "spread": Spread}


def build_policy(cfg) -> QueuePolicy:
    """The queue policy a ``config.PolicyConfig`` names (its ``kind``)."""
    return POLICIES[cfg.kind].from_config(cfg)


def build_placement(cfg) -> PlacementPolicy:
    """The placement a ``config.PlacementConfig`` names."""
    return PLACEMENTS[cfg.kind]()
