"""An independent reference scheduler for FIFO, EASY and conservative backfilling.

Written from the published definitions only (Lifka 1995; Mu'alem & Feitelson 2001), with no
import from clustersim, to check the engine against. The model is the papers': identical
nodes, every job asks for a number of whole nodes, and the run-time estimates are the true
durations.

Input: rows ``(job_id, submit_s, nodes, duration_s)`` and the cluster's node count. The queue
order is submission order; ties in submit time keep the order of the rows. Output: a dict
``job_id -> start time``.

The loop visits the instants at which something happens (an arrival or a completion) in
order. At each instant it first applies *all* completions and arrivals of that instant, then
makes ONE scheduling pass, so the result never depends on the order of same-time events. A job
started at ``s`` ends at ``s + duration`` (the same floating-point sum the engine uses).

(The reference counts "nodes"; a single node of ``g`` GPUs with sub-node jobs is the same
problem with ``g`` units, which the hand-computed tests use.)
"""

from __future__ import annotations

from bisect import bisect_left

INF = float("inf")
POLICIES = ("fifo", "backfill", "conservative")


def _fifo(now, free, running, waiting):
    """Start jobs from the head of the queue while the head fits; stop at the first that
    does not. Returns the started jobs (a prefix of ``waiting``)."""
    started = []
    for job in waiting:
        if job[2] > free:
            break
        started.append(job)
        free -= job[2]
    return started


def _easy(now, free, running, waiting):
    """EASY: the FIFO heads, then the first blocked job gets a reservation at the shadow time
    T with ``extra`` spare nodes; a later job that fits now starts if it ends by T, or else
    if it needs no more than ``extra`` nodes (which it then uses up). T and extra are
    computed once per pass."""
    started = _fifo(now, free, running, waiting)
    free -= sum(job[2] for job in started)
    rest = waiting[len(started) :]
    if not rest:
        return started
    head = rest[0]
    ends = sorted(running + [(now + job[3], job[2]) for job in started])
    avail, shadow = free, INF
    for end, nodes in ends:
        avail += nodes
        if avail >= head[2]:
            shadow = end
            break
    # nodes free at T: every running job that ends by T has released its nodes
    extra = free + sum(nodes for end, nodes in ends if end <= shadow) - head[2]
    for job in rest[1:]:
        if free == 0:
            break
        if job[2] > free:
            continue
        if now + job[3] <= shadow:
            pass  # done by the shadow time: it cannot delay the head
        elif job[2] <= extra:
            extra -= job[2]  # runs past T on nodes the head will not need
        else:
            continue
        started.append(job)
        free -= job[2]
    return started


class _Profile:
    """Free nodes over time: ``free[i]`` nodes are free from ``times[i]`` until
    ``times[i + 1]`` (the last step lasts for ever)."""

    def __init__(self, now, free, running):
        self.times = [now]
        self.free = [free]
        for end, nodes in sorted(running):
            self.add(end, INF, -nodes)

    def _split(self, t):
        """Index of the step starting at ``t`` (making one if needed)."""
        i = bisect_left(self.times, t)
        if i < len(self.times) and self.times[i] == t:
            return i
        self.times.insert(i, t)
        self.free.insert(i, self.free[i - 1])
        return i

    def add(self, start, end, nodes):
        """Take ``nodes`` (give back, if negative) over ``[start, end)``."""
        i = self._split(start)
        j = self._split(end) if end != INF else len(self.times)
        for k in range(i, j):
            self.free[k] -= nodes

    def earliest(self, nodes, duration):
        """Earliest step start ``s`` with ``nodes`` free during all of ``[s, s + duration)``."""
        times, free = self.times, self.free
        for i, s in enumerate(times):
            end = s + duration
            k = i
            while k < len(times) and times[k] < end and free[k] >= nodes:
                k += 1
            if k == len(times) or times[k] >= end:
                return s
        raise AssertionError("unreachable: the last step has every node free")


def _conservative(now, free, running, waiting):
    """Conservative: every queued job, in queue order, gets the earliest reservation that
    fits the free-node profile left by the running jobs and the reservations ahead of it;
    jobs whose reservation is now start now. Recomputed from scratch at every pass."""
    profile = _Profile(now, free, running)
    started = []
    for job in waiting:
        s = profile.earliest(job[2], job[3])
        profile.add(s, s + job[3], job[2])
        if s == now:
            started.append(job)
    return started


PASSES = {"fifo": _fifo, "backfill": _easy, "conservative": _conservative}


def schedule(rows, nodes, policy):
    """Start time of every job of ``rows`` = [(job_id, submit_s, nodes, duration_s), ...] on
    ``nodes`` identical nodes under ``policy`` ("fifo", "backfill" = EASY, "conservative")."""
    one_pass = PASSES[policy]
    arrivals = sorted(rows, key=lambda row: row[1])  # stable: ties keep the rows' order
    for job_id, _submit, size, duration in arrivals:
        if not 1 <= size <= nodes or not duration > 0:
            raise ValueError(f"job {job_id}: {size} nodes for {duration} s on {nodes} nodes")
    starts = {}
    waiting = []  # queue order
    running = []  # (end, nodes)
    free = nodes
    nxt = 0
    while nxt < len(arrivals) or waiting:
        now = min(
            arrivals[nxt][1] if nxt < len(arrivals) else INF,
            min((end for end, _ in running), default=INF),
        )
        if now == INF:
            raise AssertionError("jobs wait but nothing will ever happen")
        # every event of this instant first ...
        for end, size in running:
            if end <= now:
                free += size
        running = [r for r in running if r[0] > now]
        while nxt < len(arrivals) and arrivals[nxt][1] <= now:
            waiting.append(arrivals[nxt])
            nxt += 1
        # ... then one pass
        started = one_pass(now, free, list(running), waiting)
        ids = set()
        for job in started:
            starts[job[0]] = now
            running.append((now + job[3], job[2]))
            free -= job[2]
            ids.add(job[0])
        assert free >= 0
        waiting = [job for job in waiting if job[0] not in ids]
    return starts


__all__ = ["POLICIES", "schedule"]
