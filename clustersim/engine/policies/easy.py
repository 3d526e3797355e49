"""EASY backfilling, as published.

Lifka, "The ANL/IBM SP scheduling system" (JSSPP 1995), and Mu'alem & Feitelson,
"Utilization, predictability, workloads, and user runtime estimates in scheduling the IBM SP2
with backfilling" (IEEE TPDS 12(6), 2001). The rules, once per scheduling pass:

1. Start jobs from the head of the queue, in order, while the head fits.
2. For the first job that does not fit (the head), compute the *shadow time* ``T``, the
   earliest time enough nodes will be free for it if running jobs end as expected, and the
   *extra* nodes, those free at ``T`` beyond what the head needs.
3. Scan the later jobs in queue order. A job that fits in the nodes free now starts now if it
   ends by ``T`` (ending exactly at ``T`` is allowed), or else if it needs no more than the
   extra nodes, which then shrink by what it takes. ``T`` and the extra are computed once per
   pass, so a backfilled job never delays the head.

Run-time estimates are the jobs' true run times (an optimistic bound on real EASY, whose users
over-estimate), or with ``estimate`` the users' requested times (``estimates``: the shadow
from the running jobs' estimated ends, the backfill test with the job's estimate, re-planned at
every completion since jobs end before their estimates; ``kill_at_limit`` ends a run at its
limit). ``depth`` bounds how many jobs behind the head one pass considers.

Where the papers are silent (they schedule whole, identical nodes):

- Sub-node jobs, GPU-granular. A head that needs part of one node reserves the node where it
  could start earliest; that node's GPUs free at ``T`` beyond the head's need are the extra,
  counted in GPUs. A whole-node head's extra counts nodes that will be entirely free at ``T``;
  a long backfill (one that does not end by ``T``) goes first to nodes the head will not need
  (busy past ``T`` anyway), and uses one extra node only when there is no such room. A job
  that ends by ``T`` goes where the placement policy puts it.
- Typed pools (GPU types). The head's reservation is on the pool where it could start
  earliest (ties: the first in its order); a later job may start on any of its other pools
  freely, and on the reserved pool under the rules above, with its run time at that pool's
  speed. A head that fits no pool even when every running job has ended (it waits for a
  delivery) has no reservation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from clustersim.engine.availability import Shadow, best_shadow, shadow
from clustersim.engine.cluster import Cluster
from clustersim.engine.placement import PlacementPolicy
from clustersim.engine.policies import estimates
from clustersim.engine.policies.preemptive import refuse_unsupported
from clustersim.engine.policies.strict import StartFn, start_heads
from clustersim.engine.queue import JobQueue
from clustersim.model import Job

NEVER: Final = 1 << 62  # more GPUs than any job asks for (an int: compared with sizes, natively when compiled)


class EasyBackfill:
    """EASY backfilling (see the module docstring for the rules and their GPU extensions)."""

    def __init__(self, depth: int = 100, est: estimates.Estimates | None = None, kill: bool = False):
        self.depth = depth
        self.est = est  # None: exact (the true run times)
        self.kill = kill
        self._run_est: Callable[[Job, float], float] = Job.run_estimate if est is None else est.estimate
        self._shadow: Shadow | None = None
        self._for: tuple | None = None  # (head, cluster.version) the shadow is valid for
        self._fresh_from = 1  # queue index from which jobs were not examined since the last pass

    @classmethod
    def from_config(cls, cfg) -> EasyBackfill:
        mode = cfg.estimate
        if mode == "exact":
            return cls(depth=cfg.depth)
        est = estimates.Estimates(None if mode == "column" else mode.factor)
        return cls(depth=cfg.depth, est=est, kill=cfg.kill_at_limit)

    def attach(self, engine) -> None:
        """With ``kill_at_limit``: end each run at its limit (a component on the engine)."""
        if self.est is not None:
            refuse_unsupported(engine.scenario)
        if self.kill:
            engine.parts.append(estimates.Limits(self.est))  # type: ignore[arg-type]

    def key(self, job: Job) -> tuple:
        return (job.prio, job.seq)

    def invalidate(self) -> None:
        self._for = None

    def schedule(self, queue: JobQueue, cluster: Cluster, placement: PlacementPolicy, now: float, start: StartFn,
                 new: list[Job] | None) -> None:
        changed = start_heads(queue, cluster, placement, start) or new is None
        jobs = queue.window(self.depth + 1)  # all a pass may look at (the queue may be long)
        if len(jobs) < 2 or cluster.free_gpus == 0:
            self._fresh_from = 1  # nothing examined: the next pass looks at the whole window
            return
        head = jobs[0]
        if self.est is not None and new is None:
            self._for = None  # a job may have ended before its estimate: re-plan
        # Jobs end when expected, so completions leave the shadow (and the extra left) as it
        # is; it is replanned when the head changes, nodes change, or ``invalidate``.
        if self._for != (head, cluster.version):
            if self.est is None:
                self._shadow = best_shadow(cluster, head, now)
            else:
                self._shadow = shadow(cluster, head.spec.num_gpus, now, end_of=self.est.end_of)
            if cluster.power is not None:  # the head's power too: a later T, booked
                cluster.power.reserve(head, self._shadow)
            changed = True
        last = min(len(jobs) - 1, self.depth)
        if changed:
            candidates = range(1, last + 1)
        else:
            # Nothing changed since the last pass but arrivals: every job it examined still
            # cannot start (same free nodes, same shadow, same extra). Only jobs that entered
            # the window since can.
            candidates = range(max(self._fresh_from, 1), last + 1)
        started = self._backfill(jobs, candidates, cluster, placement, now, start)
        if started:
            queue.remove_indices(started)
        self._for = (head, cluster.version)  # the shadow, with its extra spent, holds until a change
        self._fresh_from = last + 1 - len(started)

    def _backfill(self, jobs: list[Job], candidates: range, cluster: Cluster, placement: PlacementPolicy,
                  now: float, start: StartFn) -> list[int]:
        sh: Shadow = self._shadow  # type: ignore[assignment]
        res_pool, t_shadow = sh.pool, sh.t
        fail_fit: dict[tuple[int, ...], int] = {}  # per set of pools: smallest size with no room now
        fail_long: dict[tuple[int, ...], int] = {}  # ... smallest long job with no room it may use
        typed = cluster.typed  # else one pool: every job's pools is (0,), and the two limits are ints
        fit0 = long0 = NEVER
        started: list[int] = []
        gate = cluster.power
        run_est = self._run_est
        for i in candidates:
            if cluster.free_gpus == 0:
                break
            job = jobs[i]
            g = job.spec.num_gpus
            pools = job.pools
            if g >= (fail_fit.get(pools, NEVER) if typed else fit0):
                continue
            nodes = None
            for pool in pools:
                if gate is not None and not gate.admits(job, pool):
                    continue  # its power would not fit beside the head's booking
                p = cluster.pools[pool]
                order = placement.order(g, p.gpus_per_node)
                if pool != res_pool:
                    nodes = cluster.find(g, order, pool=pool)
                elif now + run_est(job, p.speed) <= t_shadow:
                    nodes = cluster.find(g, order, pool=pool)  # ends by T: anywhere
                elif g < (fail_long.get(pools, NEVER) if typed else long0):
                    nodes = self._long(sh, g, order, p.gpus_per_node, cluster)
                    if nodes is None:
                        if typed:
                            fail_long[pools] = g
                        else:
                            long0 = g
                if nodes is not None:
                    break
            if nodes is None:
                if not any(cluster.fits(g, pool) for pool in pools):
                    if typed:
                        fail_fit[pools] = g
                    else:
                        fit0 = g
                continue
            start(job, nodes)
            started.append(i)
        return started

    @staticmethod
    def _long(sh: Shadow, g: int, order, per: int, cluster: Cluster) -> tuple[int, ...] | None:
        """Nodes for a job that would still run at the shadow time, or None: it may not take
        what the head needs at T. Spends the extra it uses."""
        pool = sh.pool
        if sh.whole:
            if g >= per:  # whole nodes free now will all be free at T: each costs one extra
                if g // per > sh.extra:
                    return None
                nodes = cluster.find(g, order, pool=pool)
                if nodes is not None:
                    sh.extra -= len(nodes)
                    sh.nodes.difference_update(nodes)
                return nodes
            nodes = cluster.find(g, order, sh.nodes, pool)  # room the head will not need
            if nodes is None and sh.extra >= 1:
                nodes = cluster.find(g, order, pool=pool)
                if nodes is not None:  # a node the head could have used: busy at T now
                    sh.extra -= 1
                    sh.nodes.difference_update(nodes)
            return nodes
        if g >= per:  # whole nodes never include the head's node (else the head would fit)
            return cluster.find(g, order, sh.nodes, pool)
        nodes = cluster.find(g, order, sh.nodes, pool)
        if nodes is None and g <= sh.extra:
            (node,) = sh.nodes
            if cluster.free[node] >= g:
                sh.extra -= g
                nodes = (node,)
        return nodes
