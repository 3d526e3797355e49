"""The topology component (issue 13): installs the domain index (``engine.domains``) on the
cluster, records the fragmentation level, and gives each gang its locality level and the domains
it spanned (job columns ``domain_level``, ``domains_spanned``); its summary is
``results.topology``'s.

Fragmentation: free GPUs of pool 0 that no waiting job's shape can use (0 when nothing waits).
The waiting shapes are counted from the hooks: a job waits from its submission to its start,
and again from a stop that is not its end until its next start.
"""

from __future__ import annotations

import numpy as np

from clustersim.config.topology import TopologyConfig
from clustersim.engine.component import Component
from clustersim.engine.domains import DomainIndex
from clustersim.model import Job
from clustersim.results.topology import topology_summary


class Topology(Component):
    """The topology as an engine component: installs the domain index on the cluster, records
    fragmentation, and gives each gang's locality level and domains spanned."""

    level_columns = ("free_gpus_topo", "fragmented_gpus", "domain_down_nodes")

    def __init__(self, scenario, streams):
        self.cfg: TopologyConfig = scenario.cluster.topology
        self.spread = scenario.scheduler.placement.kind == "spread"
        self.waiting: dict[int, int] = {}  # GPUs of queued jobs -> how many wait
        self.spans: dict[int, tuple[int, int]] = {}  # job seq -> (level, domains spanned) at its last start

    def prepare(self, cluster) -> None:
        self.index = DomainIndex(self.cfg, cluster.pools[0].gpus_per_node, self.spread)
        self.index.install(cluster)
        if self.index.penalty > 0:
            cluster.slowdown = self.index.speed_factor

    def attach(self, engine) -> None:
        self.engine = engine
        self.cluster = engine.cluster
        self._outages = False  # not looked up yet (failures attach after the topology)

    # a job waits from its submission to its start, and again from a stop that is not its end
    def job_submitted(self, job: Job) -> None:
        g = job.spec.num_gpus
        self.waiting[g] = self.waiting.get(g, 0) + 1

    def job_started(self, job: Job, wall: float) -> None:
        g = job.spec.num_gpus
        left = self.waiting.get(g, 0) - 1
        if left > 0:
            self.waiting[g] = left
        else:
            self.waiting.pop(g, None)
        nodes = job.nodes
        if len(nodes) > 1 and job.pool == 0:
            level = self.index.level_of(len(nodes))
            self.spans[job.seq] = (level, self.index.spanned(nodes, level) if level >= 0 else 1)

    def job_ended(self, job: Job) -> None:
        if job.state != "finished":
            g = job.spec.num_gpus
            self.waiting[g] = self.waiting.get(g, 0) + 1

    def levels(self) -> tuple:
        outages = self._outages
        if outages is False:  # the failure component's domain outages, once all are attached
            from clustersim.engine.failures import Failures

            f = self.engine.part(Failures)
            outages = self._outages = f.outages if f is not None else None
        down = len(outages.held) if outages is not None else 0  # held by domain events only
        return (*fragmentation(self.cluster, self.index, self.waiting), down)

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.engine.scenario
        return {"topology": topology_summary(jobs, timeseries, events, s.warmup, s.horizon)}

    def job_columns(self, jobs):
        names = self.index.names
        level = np.full(len(jobs), "", dtype=object)
        spanned = np.zeros(len(jobs), dtype=np.int64)
        per = self.cluster.pools[0].gpus_per_node
        seqs = np.arange(len(jobs))  # the job table is in submission order: row i is job seq i
        gpus = jobs["num_gpus"].to_numpy()
        for i, (seq, g) in enumerate(zip(seqs, gpus, strict=True)):
            if g > per:
                lv = self.index.level_of(int(g) // per)
                level[i] = names[lv] if lv >= 0 else "any"
            got = self.spans.get(int(seq))
            if got is not None:
                spanned[i] = got[1]
        jobs = jobs.copy()
        jobs["domain_level"] = level.astype(str)
        jobs["domains_spanned"] = spanned
        return jobs


def fragmentation(cluster, index: DomainIndex, waiting: dict[int, int]) -> tuple[int, int]:
    """(free GPUs of pool 0, those no waiting job's shape can use; 0 when nothing waits). A partly free node's GPUs
    are usable by a waiting sub-node job that fits in them; a whole free node's by a waiting
    sub-node job, or by a waiting gang whose locality rule its domain can meet."""
    pool = cluster.pools[0]
    per = pool.gpus_per_node
    buckets = pool.buckets
    free = sum(k * len(buckets[k]) for k in range(1, per + 1))
    if not waiting:  # nothing waits: no free GPU is kept from a job
        return free, 0
    small = [g for g in waiting if g < per]
    smallest = min(small) if small else per + 1
    usable = sum(k * len(buckets[k]) for k in range(max(smallest, 1), per))
    if smallest <= per:
        usable += per * len(buckets[per])
    else:
        needs = {g // per: n for g, n in waiting.items() if g >= per}
        usable += per * index.usable_whole(needs)
    return free, free - usable
