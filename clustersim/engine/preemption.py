"""Which running training jobs a preemptor (an inference replica, a job reclaiming its team's
quota, a higher-priority job) evicts, and in what order: one rule for all of them.

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

from itertools import combinations

from clustersim.checkpoint import Plan, split, young_interval
from clustersim.engine import segments
from clustersim.model import Job


class Victims:
    """The victim policy (``inference.victims``) over the preemptible jobs."""

    def __init__(self, kind: str, preemptible: set[str], trace_preemptible: bool):
        self.kind = kind  # least_lost | smallest | newest
        self.preemptible = preemptible  # preemptible class names
        self.trace_preemptible = trace_preemptible  # every trace job is preemptible

    @classmethod
    def of(cls, kind: str, scenario) -> Victims:
        """The victim policy ``kind`` over the scenario's preemptible classes (and trace jobs
        with ``inference.trace_preemptible``)."""
        classes = scenario.workload.classes or ()
        trace = scenario.inference.trace_preemptible and scenario.workload.trace is not None
        return cls(kind, {c.name for c in classes if c.preemptible}, trace)

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

    def lower(self, running, priority: int, now: float, team: int | None = None) -> list[Job]:
        """Running preemptible training jobs of lower priority than ``priority`` (of ``team``
        if given), lowest priority first, then in victim-policy order (tenancy)."""
        jobs = [
            j for j in running
            if j.priority < priority and j.pool == 0 and j.hung_since is None and self.is_preemptible(j)
            and (team is None or j.team == team)
        ]
        jobs.sort(key=lambda j: (j.priority, self.victim_key(j, now)))
        return jobs

    def ranked_borrowers(self, running, left: dict[int, int], now: float) -> list[Job]:
        """Running jobs on pool 0 (not hung) of the teams in ``left`` (team -> GPUs it holds
        above its quota), those no larger than what their team borrows first, each group in
        victim-policy order: the reclaim order (tenancy)."""
        return sorted(
            (j for j in running if j.team in left and j.pool == 0 and j.hung_since is None),
            key=lambda j: (j.spec.num_gpus > left[j.team], self.victim_key(j, now)),
        )

    def borrowers(self, running, left: dict[int, int], now: float) -> list[Job]:
        """Reclaim candidates (tenancy): the ``ranked_borrowers``; walking that order, a job is
        kept only while its team is still above its quota after the ones kept before it.
        ``left`` is used up."""
        jobs = self.ranked_borrowers(running, left, now)
        order = []
        for j in jobs:
            if left[j.team] > 0:
                order.append(j)
                left[j.team] -= j.spec.num_gpus
        return order

    def choose(self, cluster, running, g: int, now: float) -> tuple[tuple[int, ...], list[Job]] | None:
        """Nodes for a replica of ``g`` GPUs on pool 0 and the jobs to evict (see module doc)."""
        return place(cluster, self.candidates(running, now), g)


def place(cluster, order: list[Job], g: int) -> tuple[tuple[int, ...], list[Job]] | None:
    """Nodes of pool 0 for ``g`` GPUs if the candidates in ``order`` (running jobs on pool 0,
    in eviction order) were evicted, walking a prefix of the order, and the jobs to evict
    (see the module doc); None if even all of them would not make room."""
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


def spare(cluster, found: tuple, g: int, order: list) -> tuple:
    """Drop the victims a preemptor does not need after all (srtf, las, tenancy). ``place``
    evicts a prefix of the candidates, up to the one that makes room, and a later, larger
    victim may free on its own what earlier ones did (a 1,024-GPU job frees 128 nodes, the
    8-GPU jobs walked before it one each): those would lose their work and restart in the same
    instant in the nodes left over. Going from the last victim in ``order`` (the candidates as
    given to ``place``, first to be evicted first) back, each one the room does not need is
    spared; a gang then takes the fully free nodes first, then those the victims empty."""
    nodes, placed = found
    if len(placed) < 2:
        return found
    wanted = set(placed)
    out: list[Job] = [v for v in order if v in wanted]  # in eviction order
    per = cluster.gpus_per_node
    free, jobs_on = cluster.free, cluster.jobs_on
    keep = list(out)
    if g <= per:
        node = nodes[0]
        have = free[node]
        for v in keep:  # (a loop, not sum(): mypyc cannot compile that generator over Any)
            have += cluster.per_node(v.spec.num_gpus)
        for v in reversed(out):
            take = cluster.per_node(v.spec.num_gpus)
            if have - take >= g:
                have -= take
                keep.remove(v)
        return nodes, keep
    need = g // per
    up, drain = cluster.up, cluster.draining
    ready = list(cluster.buckets[per])[:need]
    blocked: dict[int, int] = {}  # node a victim runs on -> its jobs that are not evicted
    for v in keep:
        for n in v.nodes:
            if up[n] and n not in drain:
                blocked[n] = blocked.get(n, len(jobs_on[n])) - 1
    emptied = sum(1 for b in blocked.values() if b == 0)
    for v in reversed(out):
        mine = [n for n in v.nodes if n in blocked]
        lost = sum(1 for n in mine if blocked[n] == 0)
        if len(ready) + emptied - lost >= need:  # the others still empty enough nodes
            keep.remove(v)
            emptied -= lost
            for n in mine:
                blocked[n] += 1
    if len(keep) == len(out):
        return found
    chosen: dict[int, None] = dict.fromkeys(ready)
    for v in keep:
        for n in v.nodes:
            if len(chosen) < need and blocked.get(n) == 0:
                chosen[n] = None
    return tuple(chosen), keep


def reclaim(cluster, victims: Victims, running, left: dict[int, int], g: int, now: float):
    """Nodes and victims for a job of ``g`` GPUs taking borrowed GPUs back (tenancy), or None.
    ``left``: GPUs each borrowing team holds above its quota (a victim is taken only while its
    team is still above it). One node: ``place_reclaim`` (the node its borrowers can free, each
    node tried). Whole nodes: ``place`` over a prefix of the reclaim order, then ``spare``."""
    if g <= cluster.gpus_per_node:
        return place_reclaim(cluster, victims.ranked_borrowers(running, left, now), left, g)
    order = victims.borrowers(running, left, now)
    found = place(cluster, order, g)
    return None if found is None else spare(cluster, found, g, order)


def place_reclaim(cluster, ranked: list[Job], left: dict[int, int], g: int) -> tuple[tuple[int, ...], list[Job]] | None:
    """One node of pool 0 for a job of ``g`` <= ``gpus_per_node`` GPUs that reclaims borrowed
    GPUs (tenancy), and the jobs to evict; None if no node can be freed enough.

    ``ranked`` are the candidates in reclaim order (``Victims.ranked_borrowers``), ``left``
    the GPUs each of their teams holds above its quota. A set of victims is allowed if they
    can be taken one by one, each while its team is still above its quota (for each team: its
    victims' GPUs less its largest victim's are below what it borrows). Each node holding
    candidates is tried on its own: the allowed sets of its candidates that bring its free
    GPUs to ``g``, fewest victims first, then earliest in the reclaim order (its sets compared
    as sorted rank lists). The best node wins on the same terms (ties: the first reached in
    the reclaim order). So a node is found whenever one can be freed by allowed victims on it;
    a walk of the global order instead spreads a team's allowance over several nodes."""
    free, up, drain = cluster.free, cluster.up, cluster.draining
    on: dict[int, list[tuple[int, Job]]] = {}
    for rank, job in enumerate(ranked):
        for node in job.nodes:
            if up[node] and node not in drain:
                on.setdefault(node, []).append((rank, job))
    best, best_key = None, None
    for node, jobs in on.items():
        need = g - free[node]
        gpus = [cluster.per_node(job.spec.num_gpus) for _, job in jobs]
        if sum(gpus) < need:
            continue
        most = len(jobs) if best_key is None else best_key[0]
        for size in range(1, most + 1):
            found = None
            for pick in combinations(range(len(jobs)), size):
                if sum(gpus[k] for k in pick) >= need and _allowed([jobs[k][1] for k in pick], left):
                    found = pick
                    break
            if found is not None:
                key = (size, [jobs[k][0] for k in found])
                if best_key is None or key < best_key:
                    best, best_key = (node, [jobs[k][1] for k in found]), key
                break
    if best is None:
        return None
    node, victims = best
    return (node,), victims


def _allowed(victims: list[Job], left: dict[int, int]) -> bool:
    """Whether ``victims`` can be evicted one by one, each while its team still holds more
    than its quota (``left``: GPUs each team holds above it): per team, all but its largest
    victim must take less than ``left``."""
    total: dict[int, int] = {}
    largest: dict[int, int] = {}
    for v in victims:
        g = v.spec.num_gpus
        total[v.team] = total.get(v.team, 0) + g
        largest[v.team] = max(largest.get(v.team, 0), g)
    return all(total[t] - largest[t] < left[t] for t in total)


def suspend(job: Job, now: float) -> float:
    """End ``job``'s segment at ``now`` keeping all of its progress (Slurm's SUSPEND: the job
    is stopped, not killed): its checkpoint and restart overhead so far are booked, nothing is
    lost and its restart count is unchanged. Returns the lost wall seconds (0)."""
    elapsed = now - job.seg_start_s
    if job.plan is None:
        job.progress(elapsed)
        return 0.0
    part = split(job.plan, elapsed, job.seg_restart)
    overhead = part.restart + part.checkpoint
    job.overhead_s += overhead
    job.overhead_gpu_s += overhead * job.spec.num_gpus
    job.progress(part.saved + part.unsaved)
    return 0.0


def class_plans(scenario) -> dict[str, Plan]:
    """Without failures, the checkpoint plan of each class with a ``checkpoint`` config, so
    that a preempted job keeps its checkpointed work (interval ``young``: the 3 h cap, no
    MTTF); with failures, their component gives every job its plan."""
    if scenario.failures is not None:
        return {}
    plans = {}
    for c in scenario.workload.classes or ():
        ck = c.checkpoint
        if ck is not None:
            interval = young_interval(ck.cost, float("inf")) if ck.interval == "young" else ck.interval
            plans[c.name] = Plan(interval=interval, cost=ck.cost, restart=ck.restart)
    return plans

