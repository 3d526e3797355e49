"""The queue-policy protocol and the strict policies: FIFO and shortest-job-first.

Policies are small classes behind one protocol. They see the queue, the cluster and the clock
as plain objects; they never see SimPy or a random generator, so a policy is a pure function of
the state it is shown. The engine calls ``schedule`` once per instant, after every event of
that instant has been applied (see ``engine.core``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from clustersim.engine.cluster import Cluster
from clustersim.engine.placement import PlacementPolicy
from clustersim.engine.queue import JobQueue
from clustersim.model import Job

StartFn = Callable[[Job, tuple[int, ...]], None]
INF: Final = float("inf")


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


# --------------------------------------------------------------------------------- queue order


def start_heads(queue: JobQueue, cluster: Cluster, placement: PlacementPolicy, start: StartFn) -> bool:
    """Start jobs from the head of the queue while they fit; True if any started. With several
    pools a job goes to the first of its pools (``job.pools``) that has room."""
    started = False
    typed = cluster.typed
    gate = cluster.power  # power admission: the head also needs the power to run
    while True:
        job = queue.first()
        if job is None:
            break
        if typed:
            nodes = cluster.find_job(job, placement)
        else:
            nodes = cluster.find(job.spec.num_gpus, placement.order(job.spec.num_gpus))
        if nodes is None or (gate is not None and not gate.admits(job, cluster.pool_of[nodes[0]])):
            break
        queue.popleft()
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
        start_heads(queue, cluster, placement, start)

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
        start_heads(queue, cluster, placement, start)

    def invalidate(self) -> None:
        pass
