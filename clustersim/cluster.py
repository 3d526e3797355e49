"""The cluster: the single owner of node and GPU state.

Free capacity is indexed by bucket: ``buckets[k]`` holds the schedulable nodes with exactly
``k`` free GPUs, as an insertion-ordered dict used as an ordered set (deterministic, O(1)
add/remove). Finding a node for a job is then a walk over at most ``gpus_per_node + 1``
buckets, never a scan of the cluster.

Placement rules (gang scheduling): a job of ``g <= gpus_per_node`` GPUs runs on one node; a
larger job takes ``g / gpus_per_node`` whole nodes and ``g`` must be a multiple of
``gpus_per_node``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from clustersim.model import Job


class Cluster:
    def __init__(self, nodes: int, gpus_per_node: int):
        if nodes < 1 or gpus_per_node < 1:
            raise ValueError("a cluster needs at least one node and one GPU per node")
        self.gpus_per_node = gpus_per_node
        self.free: list[int] = []  # free GPUs per node (0 for nodes not in service)
        self.up: list[bool] = []  # in service (schedulable unless a spare)
        self.spare: list[bool] = []  # held back as a hot spare
        self.spares_free: dict[int, None] = {}  # idle spares, in service
        self.spare_target = 0
        self.jobs_on: list[dict[Job, None]] = []  # running jobs per node (ordered set)
        self.buckets: list[dict[int, None]] = [{} for _ in range(gpus_per_node + 1)]
        self.up_nodes = 0
        self.busy_gpus = 0
        # Running jobs by expected end: (expected_end_s, seq, token, job). Entries whose token
        # no longer matches the job's (it ended or restarted) are stale and skipped.
        self.end_heap: list[tuple[float, int, int, Job]] = []
        self.version = 0  # bumped when nodes change state (not on allocate/release)
        self.add_nodes(nodes)

    # ----------------------------------------------------------------------------- capacity

    @property
    def node_count(self) -> int:
        return len(self.free)

    @property
    def up_gpus(self) -> int:
        return self.up_nodes * self.gpus_per_node

    @property
    def free_gpus(self) -> int:
        return self.up_gpus - self.busy_gpus

    def nodes_needed(self, gpus: int) -> int:
        g = self.gpus_per_node
        return 1 if gpus <= g else gpus // g

    def per_node(self, gpus: int) -> int:
        return gpus if gpus <= self.gpus_per_node else self.gpus_per_node

    def shape_problem(self, gpus: int, max_nodes: int | None = None) -> str | None:
        """Why a job of this size can never run on this cluster, or None if it can."""
        g = self.gpus_per_node
        nodes = self.schedulable_nodes() if max_nodes is None else max_nodes
        if gpus < 1:
            return "needs at least 1 GPU"
        if gpus > g and gpus % g:
            return f"{gpus} GPUs is more than one node ({g}) and not a multiple of {g}"
        if self.nodes_needed(gpus) > nodes:
            return f"{gpus} GPUs is more than the cluster's {nodes * g}"
        return None

    def fits(self, gpus: int) -> bool:
        g = self.gpus_per_node
        if gpus > g:
            return len(self.buckets[g]) >= gpus // g
        buckets = self.buckets
        for k in range(gpus, g + 1):
            if buckets[k]:
                return True
        return False

    def find(
        self, gpus: int, order: Sequence[int], exclude: frozenset[int] | set[int] = frozenset()
    ) -> tuple[int, ...] | None:
        """Nodes for a job of ``gpus`` GPUs, or None. ``order`` lists the free-GPU buckets to
        try for a single-node job (the placement policy); ``exclude`` names nodes not to use."""
        g = self.gpus_per_node
        if gpus > g:
            need = gpus // g
            full = self.buckets[g]
            if len(full) < need:
                return None
            picked = []
            for node in full:
                if node in exclude:
                    continue
                picked.append(node)
                if len(picked) == need:
                    return tuple(picked)
            return None
        buckets = self.buckets
        for k in order:
            bucket = buckets[k]
            if not bucket:
                continue
            if not exclude:
                return (next(iter(bucket)),)
            for node in bucket:
                if node not in exclude:
                    return (node,)
        return None

    # ----------------------------------------------------------------------------- changes

    def allocate(self, job: Job, nodes: Iterable[int]) -> None:
        take = self.per_node(job.spec.num_gpus)
        free, buckets, jobs_on = self.free, self.buckets, self.jobs_on
        nodes = tuple(nodes)
        for node in nodes:
            f = free[node]
            if not self.up[node] or f < take:
                raise RuntimeError(f"node {node} cannot take {take} GPUs (free {f}, up {self.up[node]})")
            del buckets[f][node]
            free[node] = f - take
            buckets[f - take][node] = None
            jobs_on[node][job] = None
        job.nodes = nodes
        self.busy_gpus += take * len(nodes)
        heapq.heappush(self.end_heap, (job.expected_end_s, job.seq, job.token, job))

    def release(self, job: Job) -> None:
        take = self.per_node(job.spec.num_gpus)
        free, buckets, jobs_on, up = self.free, self.buckets, self.jobs_on, self.up
        for node in job.nodes:
            del jobs_on[node][job]
            if up[node]:
                f = free[node]
                del buckets[f][node]
                free[node] = f + take
                buckets[f + take][node] = None
                self.busy_gpus -= take
        job.nodes = ()
        heap = self.end_heap
        while heap and (not heap[0][3].nodes or heap[0][3].token != heap[0][2]):
            heapq.heappop(heap)

    def add_nodes(self, count: int) -> list[int]:
        """Put ``count`` new nodes into service; returns their ids."""
        g = self.gpus_per_node
        first = len(self.free)
        ids = list(range(first, first + count))
        for node in ids:
            self.free.append(g)
            self.up.append(True)
            self.spare.append(False)
            self.jobs_on.append({})
            self.buckets[g][node] = None
        self.up_nodes += count
        self.version += 1
        return ids

    def hold_spares(self, count: int) -> None:
        """Hold ``count`` idle nodes back as hot spares (taken from the highest ids)."""
        self.spare_target = count
        for node in range(len(self.free) - 1, -1, -1):
            if len(self.spares_free) >= count:
                break
            if self.up[node] and self.free[node] == self.gpus_per_node and not self.spare[node]:
                del self.buckets[self.gpus_per_node][node]
                self.spare[node] = True
                self.spares_free[node] = None

    def take_spares(self, count: int) -> list[int] | None:
        """Turn ``count`` idle spares into ordinary free nodes (for a job that lost nodes)."""
        if count > len(self.spares_free):
            return None
        taken = []
        for _ in range(count):
            node = next(iter(self.spares_free))
            del self.spares_free[node]
            self.spare[node] = False
            self.buckets[self.gpus_per_node][node] = None
            taken.append(node)
        self.version += 1
        return taken

    def schedulable_nodes(self) -> int:
        """Nodes a job may ever use: every node but the spare pool."""
        return self.node_count - self.spare_target

    def take_down(self, node: int) -> list[Job]:
        """Remove a node from service. Returns the jobs running on it (the caller must
        interrupt them and ``release`` each, which frees their GPUs on other nodes)."""
        if not self.up[node]:
            return []
        victims = list(self.jobs_on[node])
        busy_here = self.gpus_per_node - self.free[node]
        if self.spare[node]:
            self.spare[node] = False
            self.spares_free.pop(node, None)
        else:
            del self.buckets[self.free[node]][node]
        self.up[node] = False
        self.free[node] = 0
        self.up_nodes -= 1
        self.busy_gpus -= busy_here
        self.version += 1
        return victims

    def bring_up(self, node: int) -> None:
        """Return a repaired node to service: to the spare pool if it is short, else to work."""
        if self.up[node]:
            return
        if self.jobs_on[node]:
            raise RuntimeError(f"node {node} returns to service with jobs still on it")
        self.up[node] = True
        self.free[node] = self.gpus_per_node
        if len(self.spares_free) < self.spare_target:
            self.spare[node] = True
            self.spares_free[node] = None
        else:
            self.buckets[self.gpus_per_node][node] = None
        self.up_nodes += 1
        self.version += 1

    # ----------------------------------------------------------------------------- views

    def free_at(self, node: int, gpus: int, now: float) -> float:
        """Earliest time at which ``node`` has ``gpus`` free GPUs if running jobs end as
        expected and nothing else starts (inf for a node out of service)."""
        if not self.up[node]:
            return float("inf")
        have = self.free[node]
        if have >= gpus:
            return now
        take_by_end = sorted((j.expected_end_s, self.per_node(j.spec.num_gpus)) for j in self.jobs_on[node])
        for end, take in take_by_end:
            have += take
            if have >= gpus:
                return max(end, now)
        return float("inf")

    def check(self) -> None:
        """Consistency check of the indexes (tests and debugging only: O(cluster))."""
        g = self.gpus_per_node
        busy = 0
        for node, f in enumerate(self.free):
            used = sum(self.per_node(j.spec.num_gpus) for j in self.jobs_on[node])
            if self.up[node]:
                assert f + used == g, (node, f, used)
                if self.spare[node]:
                    assert node in self.spares_free and used == 0
                else:
                    assert node in self.buckets[f]
                busy += used
            else:
                assert f == 0 and not self.jobs_on[node]
        assert busy == self.busy_gpus, (busy, self.busy_gpus)
        assert sum(len(b) for b in self.buckets) + len(self.spares_free) == self.up_nodes
