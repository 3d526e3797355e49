"""The cluster: the single owner of node and GPU state.

Nodes belong to *pools*: one pool per GPU type owned (and one per rented type). Pool 0 is the
fleet at time zero; a cluster without a supply section has only pool 0. Node ids are global
(one id space for all pools), so failures, events and jobs name nodes the same way.

Free capacity is indexed per pool by bucket: ``pool.buckets[k]`` holds the schedulable nodes
of that pool with exactly ``k`` free GPUs, as an insertion-ordered dict used as an ordered set
(deterministic, O(1) add/remove). Finding a node for a job is then a walk over at most
``gpus_per_node + 1`` buckets of each pool the job may use, never a scan of the cluster.
``buckets`` and ``gpus_per_node`` on the cluster are pool 0's.

Running jobs by expected end (``ends``: what the backfilling policies plan with) are kept only
once someone has asked for them: FIFO and the other policies that never plan ahead do not pay
a heap push at every start and a pop at every end.

Placement rules (gang scheduling): a job of ``g <= gpus_per_node`` GPUs runs on one node; a
larger job takes ``g / gpus_per_node`` whole nodes of one pool, and ``g`` must be a multiple
of that pool's ``gpus_per_node``. A job never mixes pools (so never mixes GPU types).

With a topology, ``find``/``fits`` ask pool 0's domain index (``engine.domains``) for gangs
its locality rule binds; ``slowdown`` (if set) is a gang's speed on its nodes x its pool's.

Draining (up, out of the free index): a retiring node leaves when its last job ends; a node
``cordoned`` for maintenance (``engine.cordon``) stays (its component takes it down).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from clustersim.engine import spares
from clustersim.engine.cordon import uncordon
from clustersim.engine.pool import Pool
from clustersim.model import Job

heappop: Final = heapq.heappop  # C variables when compiled: no module lookup at every start and end
heappush: Final = heapq.heappush


class Cluster:
    def __init__(self, nodes: int, gpus_per_node: int, pool: str = "default", speed: float = 1.0):
        if nodes < 1 or gpus_per_node < 1:
            raise ValueError("a cluster needs at least one node and one GPU per node")
        self.pools: list[Pool] = []
        self.pool_of: list[int] = []  # pool of each node
        self.free: list[int] = []  # free GPUs per node (0 for nodes not in service)
        self.up: list[bool] = []  # in service (schedulable unless a spare or retiring)
        self.spare: list[bool] = []  # held back as a hot spare (pool 0 only)
        self.retired: list[bool] = []  # left service for good
        self.draining: dict[int, None] = {}  # up, no new jobs: retiring (leaves when its jobs end) or cordoned
        self.cordoned: dict[int, None] = {}  # maintenance drain (up or down; engine.cordon)
        self.in_maintenance: dict[int, None] = {}  # down for maintenance: bring_up leaves them down
        self.spares_free: dict[int, None] = {}  # idle spares, in service
        self.spare_target = 0
        self.reserved_nodes = 0  # nodes of a pool kept for inference replicas (never training's)
        self.jobs_on: list[dict[Job, None]] = []  # running jobs per node (ordered set)
        self.up_nodes = 0
        self.up_gpus = 0
        self.busy_gpus = 0
        self.retired_nodes = 0
        self.version = 0  # bumped when nodes change state (not on allocate/release)
        self.changes = 0  # bumped on every change of free capacity (allocate, release, nodes)
        self.on_retired: Callable[[int], None] | None = None  # told when a node leaves service
        self.typed = False  # more than one pool: jobs must be matched to pools
        self.power: Any = None  # the power admission gate (engine.power) the policies ask, if any
        self.topology: Any = None  # the domain index of pool 0 (engine.domains), if any
        self.holds: dict[int, int] = {}  # node -> outages keeping it down (domain events)
        self.slowdown: Callable[[tuple[int, ...]], float] | None = None  # speed of a gang on nodes (x pool speed)
        first = self.add_pool(pool, gpus_per_node, speed)
        self.gpus_per_node = gpus_per_node
        self.buckets = first.buckets
        self.track_ends = False  # pools' end heaps kept up to date (after the first ``ends``)
        self.add_nodes(nodes)

    # ----------------------------------------------------------------------------- capacity

    def add_pool(self, name: str, gpus_per_node: int, speed: float = 1.0, gpu_type: str | None = None) -> Pool:
        pool = Pool(len(self.pools), name, gpus_per_node, speed, gpu_type or name)
        self.pools.append(pool)
        self.typed = len(self.pools) > 1
        self.version += 1
        self.changes += 1
        return pool

    @property
    def node_count(self) -> int:
        return len(self.free)

    @property
    def free_gpus(self) -> int:
        return self.up_gpus - self.busy_gpus

    @property
    def down_nodes(self) -> int:
        """Nodes in service but down (failed, in repair or pulled)."""
        return len(self.free) - self.up_nodes - self.retired_nodes

    def nodes_needed(self, gpus: int, pool: int = 0) -> int:
        return self.pools[pool].nodes_needed(gpus)

    def per_node(self, gpus: int, pool: int = 0) -> int:
        return self.pools[pool].per_node(gpus)

    def shape_problem(self, gpus: int, max_nodes: int | None = None) -> str | None:
        """Why a job of this size can never run on pool 0, or None if it can."""
        g = self.gpus_per_node
        nodes = self.schedulable_nodes() if max_nodes is None else max_nodes
        if gpus < 1:
            return "needs at least 1 GPU"
        if gpus > g and gpus % g:
            return f"{gpus} GPUs is more than one node ({g}) and not a multiple of {g}"
        if self.nodes_needed(gpus) > nodes:
            return f"{gpus} GPUs is more than the cluster's {nodes * g}"
        if self.topology is not None and gpus > g:
            return self.topology.shape_problem(gpus // g)
        return None

    def fits(self, gpus: int, pool: int = 0) -> bool:
        p = self.pools[pool]
        g = p.gpus_per_node
        buckets = p.buckets
        if gpus > g:
            need = gpus // g
            if not pool and self.topology is not None and (rule := self.topology.rule(need)):
                return self.topology.fits(need, rule)
            return len(buckets[g]) >= need
        return any(buckets[k] for k in range(gpus, g + 1))

    def find(
        self,
        gpus: int,
        order: Sequence[int],
        exclude: frozenset[int] | set[int] = frozenset(),
        pool: int = 0,
    ) -> tuple[int, ...] | None:
        """Nodes of ``pool`` for a job of ``gpus`` GPUs, or None. ``order`` lists the free-GPU
        buckets to try for a single-node job (the placement policy); ``exclude`` names nodes
        not to use."""
        if pool:
            p = self.pools[pool]
            g, buckets = p.gpus_per_node, p.buckets
        else:
            g, buckets = self.gpus_per_node, self.buckets
        if gpus > g:
            need = gpus // g
            full = buckets[g]
            if len(full) < need:
                return None
            if not pool and self.topology is not None and (rule := self.topology.rule(need)):
                return self.topology.find(need, rule, exclude)  # the locality rule binds
            picked = []
            for node in full:
                if node in exclude:
                    continue
                picked.append(node)
                if len(picked) == need:
                    return tuple(picked)
            return None
        for k in order:
            bucket = buckets[k]
            if not bucket:
                continue
            for node in bucket:  # the first (without exclusions): a native loop when compiled
                if not exclude or node not in exclude:
                    return (node,)
        return None

    def find_job(self, job: Job, placement, exclude: frozenset[int] | set[int] = frozenset()) -> tuple[int, ...] | None:
        """Nodes for ``job`` on the first of its pools (``job.pools``, in order) that has them."""
        g = job.spec.num_gpus
        for index in job.pools:
            p = self.pools[index]
            nodes = self.find(g, placement.order(g, p.gpus_per_node), exclude, index)
            if nodes is not None:
                return nodes
        return None

    # ----------------------------------------------------------------------------- changes

    def allocate(self, job: Job, nodes: Iterable[int]) -> None:
        nodes = tuple(nodes)
        index = self.pool_of[nodes[0]]
        pool = self.pools[index]
        g = job.spec.num_gpus
        per = pool.gpus_per_node
        take = g if g <= per else per
        free, buckets, jobs_on, up, pool_of = self.free, pool.buckets, self.jobs_on, self.up, self.pool_of
        for node in nodes:  # check every node before changing any: a refusal leaves no trace
            f = free[node]
            if not up[node] or f < take or pool_of[node] != index:
                raise RuntimeError(
                    f"node {node} cannot take {take} GPUs (free {f}, up {up[node]}, pool {pool_of[node]} vs {index})"
                )
        if len(nodes) > 1 and len(set(nodes)) != len(nodes):
            raise RuntimeError(f"a job was given the same node twice: {nodes}")
        for node in nodes:
            f = free[node]
            del buckets[f][node]
            free[node] = f - take
            buckets[f - take][node] = None
            jobs_on[node][job] = None
        job.nodes = nodes
        job.pool = index
        used = take * len(nodes)
        self.busy_gpus += used
        pool.busy_gpus += used
        job.end_token = job.token
        if self.track_ends:
            heappush(pool.end_heap, (job.expected_end_s, job.seq, job.token, job))
        self.changes += 1

    def ends(self, pool: int) -> list[tuple[float, int, int, Job]]:
        """Pool ``pool``'s running jobs by expected end: a heap of ``(expected_end_s, seq, token,
        job)``, stale where token or end differ from the job's. Built at the first call from the
        jobs whose ``end_token`` is their token (what a heap kept all along holds live: a start
        or re-timing records it, a hang voids it), then kept as jobs start, end, are re-timed."""
        if not self.track_ends:
            self.track_ends = True
            for node, jobs in enumerate(self.jobs_on):
                for job in jobs:
                    if job.nodes and job.nodes[0] == node and job.end_token == job.token:  # once per job
                        self.pools[job.pool].end_heap.append((job.expected_end_s, job.seq, job.token, job))
            for p in self.pools:
                heapq.heapify(p.end_heap)
        return self.pools[pool].end_heap

    def release(self, job: Job) -> None:
        pool = self.pools[job.pool]
        take = pool.per_node(job.spec.num_gpus)
        free, buckets, jobs_on, up, draining = self.free, pool.buckets, self.jobs_on, self.up, self.draining
        for node in job.nodes:
            del jobs_on[node][job]
            if up[node]:
                f = free[node]
                if draining and node in draining:
                    free[node] = f + take
                    self.busy_gpus -= take
                    pool.busy_gpus -= take
                    if not jobs_on[node] and node not in self.cordoned:
                        self._leave(node)
                    continue
                del buckets[f][node]
                free[node] = f + take
                buckets[f + take][node] = None
                self.busy_gpus -= take
                pool.busy_gpus -= take
        job.nodes = ()
        self.changes += 1
        if self.track_ends:
            heap = pool.end_heap
            while heap and (not heap[0][3].nodes or heap[0][3].token != heap[0][2]):
                heappop(heap)

    def add_nodes(self, count: int, pool: int = 0) -> list[int]:
        """Put ``count`` new nodes of ``pool`` into service; returns their ids."""
        p = self.pools[pool]
        g = p.gpus_per_node
        first = len(self.free)
        ids = list(range(first, first + count))
        full = p.buckets[g]
        for node in ids:
            self.free.append(g)
            self.up.append(True)
            self.spare.append(False)
            self.retired.append(False)
            self.pool_of.append(pool)
            self.jobs_on.append({})
            full[node] = None
            p.nodes[node] = None
        self.up_nodes += count
        self.up_gpus += count * g
        p.up_nodes += count
        self.version += 1
        self.changes += 1
        return ids

    def hold_spares(self, count: int) -> None:
        """Hold ``count`` idle nodes of pool 0 back as hot spares (``engine.spares.hold``)."""
        spares.hold(self, count)

    def take_spares(self, count: int, pool: int = 0, keep: tuple[int, ...] = ()) -> list[int] | None:
        """``count`` idle spares made free nodes for a job that keeps ``keep`` (``engine.spares.take``)."""
        return spares.take(self, count, pool, keep)

    def schedulable_nodes(self) -> int:
        """Nodes a job may ever use: every node but the spare pool and inference's reserve."""
        return self.node_count - self.spare_target - self.reserved_nodes

    def take_down(self, node: int) -> list[Job]:
        """Remove a node from service. Returns the jobs running on it (the caller must
        interrupt them and ``release`` each, which frees their GPUs on other nodes)."""
        if not self.up[node]:
            return []
        pool = self.pools[self.pool_of[node]]
        victims = list(self.jobs_on[node])
        busy_here = pool.gpus_per_node - self.free[node]
        draining = node in self.draining
        if self.spare[node]:
            self.spare[node] = False
            self.spares_free.pop(node, None)
        elif not draining:
            del pool.buckets[self.free[node]][node]
        self._switch(node, pool, False)
        self.busy_gpus -= busy_here
        pool.busy_gpus -= busy_here
        self.version += 1
        self.changes += 1
        if draining and node in self.cordoned:  # stays cordoned while down
            del self.draining[node]
        elif draining:  # a retiring node that fails is gone: it will not be repaired
            self._leave(node)
        return victims

    def bring_up(self, node: int) -> None:
        """Return a repaired node to service: to the spare pool if it is short, else to work.
        A node retired while it was down stays out."""
        if self.up[node] or self.retired[node] or (self.holds and node in self.holds) or node in self.in_maintenance:
            return  # (a held node returns when its last outage ends: ``unhold``; maintenance: its end)
        if self.jobs_on[node]:
            raise RuntimeError(f"node {node} returns to service with jobs still on it")
        index = self.pool_of[node]
        pool = self.pools[index]
        self._switch(node, pool, True)
        if node in self.cordoned:  # drains still: up, out of the free index
            self.draining[node] = None
        elif index == 0 and len(self.spares_free) < self.spare_target:
            self.spare[node] = True
            self.spares_free[node] = None
        else:
            pool.buckets[pool.gpus_per_node][node] = None
        self.version += 1
        self.changes += 1

    def _switch(self, node: int, pool: Pool, up: bool) -> None:
        """Put ``node`` (idle) in or out of service: its flags and the up counts."""
        self.up[node] = up
        self.free[node] = pool.gpus_per_node if up else 0
        step = 1 if up else -1
        self.up_nodes += step
        self.up_gpus += step * pool.gpus_per_node
        pool.up_nodes += step

    def hold(self, node: int) -> list[Job]:
        """An outage keeps ``node`` down until ``unhold``; its jobs if it was up (``take_down``)."""
        self.holds[node] = self.holds.get(node, 0) + 1
        return self.take_down(node)

    def unhold(self, node: int) -> bool:
        """One outage of ``node`` ended; True if none is left (``bring_up`` may then return it)."""
        left = self.holds.pop(node) - 1
        if left:
            self.holds[node] = left
        return not left

    def retire(self, node: int) -> bool:
        """Take ``node`` out of service for good: at once if it is down or idle (True), else
        it stops taking jobs and leaves when its last job ends (False)."""
        if node in self.cordoned:  # retirement overrides a maintenance drain
            uncordon(self, node)
        if self.retired[node] or node in self.draining:
            return False
        if not self.up[node] or not self.jobs_on[node]:
            if self.up[node]:
                self.take_down(node)
            self._leave(node)
            return True
        pool = self.pools[self.pool_of[node]]
        del pool.buckets[self.free[node]][node]
        self.draining[node] = None
        self.version += 1
        self.changes += 1
        return False

    def _leave(self, node: int) -> None:
        """A retiring node leaves service (it is down or has just become idle)."""
        pool = self.pools[self.pool_of[node]]
        if self.up[node]:  # idle draining node: out of service now
            self._switch(node, pool, False)
        self.draining.pop(node, None)
        self.cordoned.pop(node, None)
        self.retired[node] = True
        self.retired_nodes += 1
        pool.nodes.pop(node, None)
        self.version += 1
        self.changes += 1
        if self.on_retired is not None:
            self.on_retired(node)

    # ----------------------------------------------------------------------------- views

    def check(self) -> None:
        """Consistency check of the indexes (tests and debugging only: O(cluster))."""
        from clustersim.engine.invariants import check_cluster

        check_cluster(self)
