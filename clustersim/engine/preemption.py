"""Which running training jobs an inference replica evicts, and in what order.

Preemption rule (deterministic): the candidates are the running, not hung, training jobs on
pool 0 whose class is preemptible. They are ordered by the victim policy (ties: submission
order): ``least_lost`` by GPU-seconds of work since the last checkpoint (all of the segment
when the job has no checkpoint plan), ``smallest`` by GPUs, ``newest`` by latest segment start.
Walking that order, each candidate frees its GPUs on its nodes; the first node with enough free
GPUs (single-node replica), or the first ``n`` nodes that become entirely free (whole-node
replica of ``n`` nodes; fully free nodes count first), is where the replica goes, and the
victims are the walked candidates on those nodes. So the replica evicts a prefix of the policy
order and never a job it does not need to; nodes holding a non-preemptible job or a replica
are never chosen (for whole-node replicas) or count only their free and preemptible GPUs.
"""

from __future__ import annotations

from clustersim.engine import segments
from clustersim.model import Job


class Victims:
    """The victim policy (``inference.victims``) over the preemptible jobs."""

    def __init__(self, kind: str, preemptible: set[str], trace_preemptible: bool):
        self.kind = kind  # least_lost | smallest | newest
        self.preemptible = preemptible  # preemptible class names
        self.trace_preemptible = trace_preemptible  # every trace job is preemptible

    def is_preemptible(self, job: Job) -> bool:
        return job.spec.job_class in self.preemptible or self.trace_preemptible

    def victim_key(self, job: Job, now: float) -> tuple:
        kind = self.kind
        if kind == "smallest":
            return (job.spec.num_gpus, job.seq)
        if kind == "newest":
            return (-job.seg_start_s, job.seq)
        return (segments.unsaved(job, now) * job.spec.num_gpus, job.seq)

    def candidates(self, running, now: float) -> list[Job]:
        """Running training jobs a replica may evict, in victim-policy order."""
        jobs = [
            j for j in running
            if j.pool == 0 and j.hung_since is None and self.is_preemptible(j)
        ]
        jobs.sort(key=lambda j: self.victim_key(j, now))
        return jobs

    def choose(self, cluster, running, g: int, now: float) -> tuple[tuple[int, ...], list[Job]] | None:
        """Nodes for a replica of ``g`` GPUs on pool 0 and the jobs to evict (see module doc)."""
        order = self.candidates(running, now)
        if not order:
            return None
        per = cluster.gpus_per_node
        free, up, drain, jobs_on = cluster.free, cluster.up, cluster.draining, cluster.jobs_on
        on: dict[int, list[Job]] = {}
        if g <= per:
            have: dict[int, int] = {}
            for job in order:
                take = cluster.per_node(job.spec.num_gpus)
                for node in job.nodes:
                    if not up[node] or node in drain:
                        continue
                    h = have.get(node, free[node]) + take
                    have[node] = h
                    on.setdefault(node, []).append(job)
                    if h >= g:
                        return (node,), on[node]
            return None
        need = g // per
        ready = list(cluster.buckets[per])[:need]
        left: dict[int, int] = {}
        for job in order:
            for node in job.nodes:
                if not up[node] or node in drain:
                    continue
                n = left.get(node)
                if n is None:
                    n = len(jobs_on[node])
                n -= 1
                left[node] = n
                on.setdefault(node, []).append(job)
                if n == 0:
                    ready.append(node)
                    if len(ready) == need:
                        victims: dict[Job, None] = {}
                        for r in ready:
                            for v in on.get(r, ()):
                                victims[v] = None
                        return tuple(ready), list(victims)
        return None
