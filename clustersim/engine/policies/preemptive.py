"""The pass shared by the preemptive queue policies (``srtf``, ``las``): a strict ranking of
every training job, queued or running, in which a queued job that does not fit preempts
running jobs ranked below it.

A subclass gives the queue key (``key``: the rank of a queued job, stable while it waits) and
the rank of a running job now (``rank``); smaller ranks first. One pass, at one instant:

1. Walk the queued jobs in rank order. A job that fits starts (placement as usual).
2. One that does not fit looks at the running jobs ranked strictly below it (not hung, on the
   shared pool), lowest-ranked first, and takes the nodes that evicting a prefix of them would
   free (``engine.preemption.place``, the rule every preemptor here uses), less those a later
   victim makes needless (``engine.preemption.spare``: highest-ranked first, a victim whose eviction the room
   does not need keeps running). Those victims are evicted (``engine.evict``: they lose the work since their last checkpoint, like any
   preemption, and are requeued at their rank; ``preemption: suspend`` keeps all their work)
   and the job starts.
3. A job that can neither fit nor preempt is skipped: later, lower-ranked jobs may still start
   in what is free (the work-conserving greedy Tiresias' own simulator uses), and when room
   appears the skipped job can preempt them back, since it outranks them.

A preempted job keeps the work up to its last checkpoint: with failures every job has a plan;
without, jobs of classes with a ``checkpoint`` config get theirs at submission (as tenancy's
preemptions do), and the others lose their whole segment.

After any eviction the pass asks for one more pass at the same instant, so that a victim may
restart in GPUs its preemptor left free. Ranks do not change within an instant and every
eviction replaces a running job by one strictly ranked above it, so the passes of one instant
end. Two prunes keep a pass short: once a size fails to fit (or to preempt), larger jobs later
in the same pass fail too, until an eviction frees GPUs.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Final

from clustersim.config.base import split_field_tag
from clustersim.config.scheduler import check_scheduler
from clustersim.engine.component import Component
from clustersim.engine.preemption import class_plans, place, spare, suspend
from clustersim.errors import ScenarioError
from clustersim.model import Job

INF: Final = float("inf")  # (Final: C variables when compiled, no namespace lookup per pass)
_first: Final = itemgetter(0)


def refuse_unsupported(scenario) -> None:
    """Raise ``ScenarioError`` if the scheduler cannot serve the rest of ``scenario``
    (``config.scheduler.check_scheduler``), also for a scenario built without that check."""
    try:
        check_scheduler(scenario)
    except ValueError as e:
        where, why = split_field_tag(str(e))
        raise ScenarioError(scenario.name, [f"{where}: {why}"]) from None


class _Plans(Component):
    """Gives each submitted job its class's checkpoint plan (runs without failures)."""

    def __init__(self, plans: dict):
        self.plans = plans

    def job_submitted(self, job) -> None:
        if job.plan is None:
            job.plan = self.plans.get(job.spec.job_class)


class Preemptive:
    """Base class of the preemptive policies (see the module docstring)."""

    engine: Any = None

    def attach(self, engine) -> None:
        """Keep the engine: the pass evicts (``engine.evict``) and reads ``engine.running``.
        Refuses the combinations the policy cannot serve (``config.scheduler.check_scheduler``),
        also when the scenario was built without validating them."""
        refuse_unsupported(engine.scenario)
        self.engine = engine
        plans = class_plans(engine.scenario)
        if plans:
            engine.parts.append(_Plans(plans))  # attached and hooked with the components

    suspend = False  # keep all of a victim's progress (else: the work up to its checkpoint)

    def preempt(self, job: Job) -> None:
        """Take a running job off its nodes and requeue it (``engine.evict``: it loses the work
        since its last checkpoint; with ``suspend`` it keeps all of it, as tenancy's option)."""
        engine = self.engine
        if not self.suspend:
            engine.evict(job)
            return
        suspend(job, engine.env.now)
        engine.stop(job)
        engine.requeue(job)
        engine.policy.invalidate()

    def key(self, job: Job) -> tuple:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def rank(self, job: Job, now: float) -> tuple:
        """Rank of a running job now (default: its queue key)."""
        return self.key(job)

    def invalidate(self) -> None:
        pass

    def _victims(self, now: float) -> tuple[list, list[Job]]:
        """Running jobs that may be preempted, lowest-ranked first, with their negated ranks
        (ascending, for bisection)."""
        rank = self.rank
        ranked = [(rank(j, now), j) for j in self.engine.running if j.pool == 0 and j.hung_since is None]
        ranked.sort(key=_first, reverse=True)  # ranks end with the job's seq: unique, no ties
        return [r[0] for r in ranked], [r[1] for r in ranked]

    def _rank_in(self, ranks: list, victims: list[Job], job: Job, now: float) -> None:
        """Put a job started in this pass into ``_victims``' lists where sorting them again
        would: ranks (then seq) descending. Ranks do not change within an instant, and the
        pair is unique, so the lists equal a fresh ``_victims(now)``."""
        if job.pool != 0 or job.hung_since is not None:
            return
        r = self.rank(job, now)
        lo, hi = 0, len(ranks)
        while lo < hi:  # first entry ranked below (r, seq)
            mid = (lo + hi) // 2
            if (ranks[mid], victims[mid].seq) > (r, job.seq):
                lo = mid + 1
            else:
                hi = mid
        ranks.insert(lo, r)
        victims.insert(lo, job)

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        if not queue:
            return
        engine = self.engine
        gate = cluster.power
        ranks: list | None = None
        victims: list[Job] = []
        no_fit = no_room = INF  # smallest sizes that did not fit now / could not preempt enough
        evicted = False
        # The pass visits the jobs queued when it began, in order: victims it requeues are
        # left for the next pass. It walks the queue in place (copying a queue of tens of
        # thousands at every pass made an overloaded run quadratic) and stops once a 1-GPU job
        # could neither fit nor preempt: both tests below then skip every later job.
        requeued: set[Job] = set()
        i = 0
        while no_fit > 1 or no_room > 1:
            job = queue.at(i)
            if job is None:
                break
            if job in requeued:
                i += 1
                continue
            g = job.spec.num_gpus
            if g < no_fit:
                nodes = cluster.find(g, placement.order(g))
                if nodes is not None and (gate is None or gate.admits(job, 0)):
                    i = queue.index(job)
                    queue.pop(i)  # the next job of the pass is now at i
                    start(job, nodes)
                    if ranks is not None:  # one more running job: ranked in, not re-sorted
                        self._rank_in(ranks, victims, job, now)
                    continue
                no_fit = min(no_fit, g)
            if g >= no_room:
                i += 1
                continue
            if ranks is None:
                ranks, victims = self._victims(now)
            k = self.key(job)
            # victims are sorted by rank descending: those ranked strictly below ``k`` lead
            n = _count_above(ranks, k)
            found = place(cluster, victims[:n], g) if n else None
            # with a power cap the gate is asked as it stands (victims still counted): it errs
            # on the side of not preempting
            if found is None or (gate is not None and not gate.admits(job, 0)):
                no_room = min(no_room, g)
                i += 1
                continue
            nodes, out = spare(cluster, found, g, victims[:n])
            for v in out:
                self.preempt(v)
                requeued.add(v)
            i = queue.index(job)  # requeued victims may now stand before it
            queue.pop(i)
            start(job, nodes)
            evicted = True
            gone = set(out)
            keep = [k for k, v in enumerate(victims) if v not in gone]
            ranks, victims = [ranks[k] for k in keep], [victims[k] for k in keep]
            self._rank_in(ranks, victims, job, now)
            no_fit = no_room = INF
        if evicted:
            engine.request_pass(changed=True)  # victims may restart in what is left


def _count_above(ranks: list, k: tuple) -> int:
    """How many leading entries of ``ranks`` (sorted descending) are greater than ``k``."""
    lo, hi = 0, len(ranks)
    while lo < hi:
        mid = (lo + hi) // 2
        if ranks[mid] > k:
            lo = mid + 1
        else:
            hi = mid
    return lo
