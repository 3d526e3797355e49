"""Fail-slow nodes (stragglers): ``failures.slow`` (issue 13; calibration 7a after FALCON).

Episodes: every node in service turns slow at ``rate_per_1000_node_days``. The process is one
stream of candidate events at the rate times the number of node ids (stream ``failures.slow``);
each candidate picks a node uniformly (``failures.slow.node``) and starts an episode only if
that node is in service, up and not slow already, which thins the candidates to exactly the
rate per node in service. The candidate rate is re-read at each candidate, so nodes delivered
later join the process from the next candidate on.

An episode lasts a drawn ``duration`` (``failures.slow.duration``); meanwhile the node runs at
``factor`` of its speed and every gang on it at the speed of its slowest node: the component's
``speed_factor`` is the smallest factor among a job's nodes, and ``engine.respeed`` re-times a
running job exactly when that changes (``engine.segments``). With ``detection`` given, an
episode still running that long after it began ends by a swap: the node leaves service for a
``repair`` time (``failures.slow.repair``), its jobs restart from their last checkpoint through
the failure path (on spares, or requeued), and it comes back healthy. A slow node that fails
for another reason stays slow until its episode ends.

``slow_s`` (jobs table): the time a job's slowdown cost it, counted as the wall seconds it held
a slow gang times (1 - the gang's factor). Checkpoint writes and a hang before a failure is
detected, which a slow GPU does not lengthen, are counted as if it did: a small overstatement.
"""

from __future__ import annotations

import math

import numpy as np

from clustersim.engine.component import Component
from clustersim.model import REPLICA, Job
from clustersim.rng import Draws

DAY = 86400.0


class FailSlow(Component):
    """The fail-slow process of one run (see the module docstring)."""

    def __init__(self, scenario, streams):
        cfg = self.cfg = scenario.failures.slow
        self.rate = cfg.rate_per_1000_node_days / 1000.0 / DAY
        gap = streams("failures.slow")
        self._gap = Draws(lambda n: gap.exponential(1.0, n), 64)
        self._pick = Draws(streams("failures.slow.node").random, 64)
        self._duration = Draws(cfg.duration.sampler(streams("failures.slow.duration")), 64)
        self._detect = Draws(cfg.detection.sampler(streams("failures.slow.detection")), 64) if cfg.detection else None
        self._repair = Draws(cfg.repair.sampler(streams("failures.slow.repair")), 64)
        self.slow: dict[int, tuple[float, int]] = {}  # node -> (factor, episode id)
        self.held: dict[Job, tuple[float, float]] = {}  # job on a slow gang -> (since, factor)
        self.lost: dict[int, float] = {}  # job seq -> slow_s
        self.rows: list[tuple] = []
        self.episodes = 0
        self.swaps = 0

    def attach(self, engine) -> None:
        from clustersim.engine.failures import Failures

        self.engine = engine
        self.env = engine.env
        self.cluster = engine.cluster
        self.failures = engine.part(Failures)
        if self.rate > 0:
            self._next()

    # ------------------------------------------------------------------------------ episodes

    def _next(self) -> None:
        n = self.cluster.node_count
        self.env.timeout(self._gap.next() / (self.rate * n)).callbacks.append(self._candidate)

    def _candidate(self, _event) -> None:
        cluster = self.cluster
        node = min(int(self._pick.next() * cluster.node_count), cluster.node_count - 1)
        self._next()
        if not cluster.up[node] or cluster.retired[node] or node in self.slow:
            return  # thinned: only nodes in service and not slow yet turn slow
        detect = float(self._detect.next()) if self._detect is not None else math.inf
        self.begin(node, self.cfg.factor, float(self._duration.next()), detect)

    def begin(self, node: int, factor: float, duration: float, detect: float = math.inf) -> None:
        """Start an episode on ``node`` now: ``factor`` of its speed for ``duration`` seconds,
        unless the monitor swaps it out ``detect`` seconds from now (if that is sooner)."""
        self.episodes += 1
        eid = self.episodes
        self.slow[node] = (factor, eid)
        jobs = list(self.cluster.jobs_on[node])
        self._event("slow_start", node, duration, len(jobs), factor)
        self._respeed(jobs)
        if detect < duration:
            self.env.timeout(detect, value=(node, eid)).callbacks.append(self._swap)
        else:
            self.env.timeout(duration, value=(node, eid)).callbacks.append(self._end)

    def _end(self, event) -> None:
        node, eid = event._value
        if self.slow.get(node, (0, -1))[1] != eid:
            return
        del self.slow[node]
        jobs = list(self.cluster.jobs_on[node])
        self._event("slow_end", node, 0.0, len(jobs), 1.0)
        self._respeed(jobs)

    def _swap(self, event) -> None:
        """The monitor found the slow node: out of service for repair, its jobs restart."""
        node, eid = event._value
        if self.slow.get(node, (0, -1))[1] != eid:
            return
        del self.slow[node]
        f, cluster, now = self.failures, self.cluster, self.env.now
        self.swaps += 1
        repair = float(self._repair.next())
        was_up = cluster.up[node]
        if was_up:
            f.node_token[node] += 1  # its own failure clock stops while it is out
        victims = cluster.hold(node)
        self._event("slow_swap", node, repair, len(victims), 1.0)
        for job in victims:
            if job.kind == REPLICA:
                job.owner.lost(job)
            else:
                f.hang(job, now)
                f.recover(job)  # detected at once: restart on spares or requeue
        self.engine.capacity_changed()
        self.env.timeout(repair, value=node).callbacks.append(self._repaired)

    def _repaired(self, event) -> None:
        node = event._value
        f, cluster = self.failures, self.cluster
        if cluster.unhold(node) and node not in f.in_repair and not cluster.retired[node]:
            cluster.bring_up(node)
            if cluster.up[node]:
                f._arm(node)
        self.engine.capacity_changed()

    def _respeed(self, jobs) -> None:
        now = self.env.now
        for job in jobs:
            if job.kind == REPLICA:
                continue
            self._close(job, now)
            self.engine.respeed(job)
            self._open(job, now)

    # ------------------------------------------------------------------------------ hooks

    def speed_factor(self, job, nodes) -> float:
        slow = self.slow
        if not slow:
            return 1.0
        f = 1.0
        for node in nodes:
            s = slow.get(node)
            if s is not None and s[0] < f:
                f = s[0]
        return f

    def job_started(self, job, wall: float) -> None:
        if self.slow:
            self._open(job, self.env.now)

    def job_ended(self, job) -> None:
        if self.held:
            self._close(job, self.env.now)

    def _open(self, job, now: float) -> None:
        f = self.speed_factor(job, job.nodes)
        if f < 1.0:
            self.held[job] = (now, f)

    def _close(self, job, now: float) -> None:
        mark = self.held.pop(job, None)
        if mark is not None:
            self.lost[job.seq] = self.lost.get(job.seq, 0.0) + (now - mark[0]) * (1.0 - mark[1])

    # ------------------------------------------------------------------------------ output

    def _event(self, kind: str, node: int, down: float, hit: int, factor: float) -> None:
        pool = self.cluster.pools[self.cluster.pool_of[node]]
        self.rows.append((self.env.now, kind, node, "slow", "", down, hit, pool.name, pool.gpus_per_node,
                          -1, -1, math.nan, f"speed {factor:g}"))

    def events(self) -> list[tuple]:
        return self.rows

    def job_columns(self, jobs):
        now = self.env.now
        for job in list(self.held):  # still on a slow gang at the horizon
            self._close(job, now)
        col = np.zeros(len(jobs))  # rows are in submission order: row = seq
        for seq, s in self.lost.items():
            col[seq] = s
        jobs = jobs.copy()
        jobs["slow_s"] = col
        return jobs

    def summary(self, jobs, timeseries, events, tables) -> dict:
        slow = jobs["slow_s"]
        gpu_h = float((slow * jobs["num_gpus"]).sum()) / 3600.0
        return {
            "fail_slow": {
                "episodes": self.episodes,
                "swaps": self.swaps,
                "jobs_slowed": int((slow > 0).sum()),
                "straggler_gpu_hours": gpu_h,
            }
        }
