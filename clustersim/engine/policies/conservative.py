"""Conservative backfilling, as published (Mu'alem & Feitelson, IEEE TPDS 12(6), 2001).

Every queued job, in queue order, gets a reservation: the earliest time at which it can run
for its whole (estimated = true) run time given the running jobs and the reservations of every
job ahead of it. A job starts when its reservation is now, so a job may start early only if it
delays none of the jobs ahead of it. ``depth`` bounds how many queued jobs hold a reservation;
jobs further back get one when they enter the window.

The plan is kept while things go as planned (jobs end when expected, arrivals join the end of
the queue) and rebuilt from scratch (the published "compression") when capacity changes other
than as planned (a failure, a repair, a delivery, a replica: ``invalidate``) or the queue's
order changes (a requeued job).

On GPU-granular pools, where the paper is silent: whole-node jobs are planned on a count of
entirely free nodes over time, as the paper plans processors (any free nodes will do when the
job starts); a sub-node job is planned on one node's free GPUs over time, and may not take a
node that the count of entirely free nodes needs. With typed pools a job is planned on the
pool where it could start earliest (ties: the first in its order).

Cost: a reservation searches the future free-capacity profile, so a pass costs more than an
EASY pass; it is meant for comparison runs, with EASY the default. The profile's levels are
indexed (releases by bisection, a node's last release, whole-node counts remembered until the
reservations change) and a search skips candidates that a failing point rules out, but a
sub-node job still tries the ready nodes at each candidate time: an overloaded run's cost per
job grows with the window's reach (``benchmarks/bench_core.py --load 1.3 --policies
conservative``: x1.57 from 100,000 to 400,000 jobs, compiled).
"""

from __future__ import annotations

import bisect
import heapq
from typing import Final

from clustersim.model import Job

# Final: a compiled build keeps these in C variables (or inlines them) instead of looking
# each one up in the module's namespace at every use
bisect_left: Final = bisect.bisect_left
bisect_right: Final = bisect.bisect_right
insort: Final = bisect.insort
heappop: Final = heapq.heappop
heappush: Final = heapq.heappush
INF: Final = float("inf")
NODE_SPAN: Final = 1 << 40  # more than any node index: a node's search key is rank * NODE_SPAN + node


def _ranks(order, per: int) -> list[int]:
    """By free GPU count (0..per): its place in a placement's order of counts (those not in it
    after all of them)."""
    place = {c: i for i, c in enumerate(order)}
    return [place.get(c, len(place)) for c in range(per + 1)]


class _Profile:
    """One pool's future free capacity: running jobs' releases and the reservations made."""

    def __init__(self, cluster, pool: int, now: float):
        p = cluster.pools[pool]
        self.pool = pool
        self.per = p.gpus_per_node
        up, spare, drain = cluster.up, cluster.spare, cluster.draining
        self.nodes = [n for n in p.nodes if up[n] and not spare[n] and n not in drain]
        self.free0 = {n: cluster.free[n] for n in self.nodes}
        self.rel: dict[int, list[tuple[float, int]]] = {}
        whole_from = []
        # when each node is entirely free of the running jobs: after its last release (never
        # if something else holds GPUs on it; -inf if it is free now)
        self.entire_at: dict[int, float] = {}
        # per node: the release times, sorted, and the free GPUs after each (a level by bisection)
        self.rel_at: dict[int, list[float]] = {}
        self.free_after: dict[int, list[int]] = {}
        for n in self.nodes:
            rel = sorted((j.expected_end_s, p.per_node(j.spec.num_gpus)) for j in cluster.jobs_on[n])
            self.rel[n] = rel
            self.rel_at[n] = [e for e, _ in rel]
            level = [self.free0[n]]
            for _, g in rel:
                level.append(level[-1] + g)
            self.free_after[n] = level
            whole_from.append(rel[-1][0] if rel else now)
            if self.free0[n] + sum(g for _, g in rel) != self.per:
                self.entire_at[n] = INF
            else:
                self.entire_at[n] = rel[-1][0] if rel else -INF
        self.whole_from = sorted(whole_from)
        self.sub: dict[int, list[tuple[float, float, int]]] = {}  # node -> (start, end, GPUs)
        self.subs: list[tuple[float, float, int]] = []  # every sub-node reservation: (start, end, node)
        self.wholes: list[tuple[float, float, int]] = []  # (start, end, nodes)
        self.starts: list[float] = []  # every reservation's start, sorted
        # the reservations' ends (a heap) and how many of them have passed: an ended reservation
        # bounds no future level, so the lists are filtered only once half of them have ended
        self._ends: list[float] = []
        self._ended = 0
        self._whole: dict[float, int] = {}  # whole_free by time, until the reservations change
        self._ready_for: dict[int, list[tuple[float, int]]] = {}  # _ready by size
        self.times = sorted({now, *(t for r in self.rel.values() for t, _ in r if now <= t < INF)})

    # ------------------------------------------------------------------------- levels

    def free_at(self, n: int, t: float) -> int:
        free = self.free_after[n][bisect_right(self.rel_at[n], t)]
        res = self.sub.get(n)
        return free - sum(g for s, e, g in res if s <= t < e) if res else free

    def whole_free(self, t: float) -> int:
        """Entirely free nodes at ``t`` beyond the whole-node reservations active then."""
        free = self._whole.get(t)
        if free is None:
            entire = bisect_right(self.whole_from, t)
            busy = {n for s, e, n in self.subs if s <= t < e and self._entire_without_subs(n, t)}
            free = self._whole[t] = entire - len(busy) - sum(m for s, e, m in self.wholes if s <= t < e)
        return free

    def _entire_without_subs(self, n: int, t: float) -> bool:
        """Node ``n`` is entirely free of the running jobs at ``t`` (every release is by then)."""
        return t >= self.entire_at[n]

    def _points(self, t: float, end: float) -> list[float]:
        """Where a level over [t, end) can be lowest: t and every reservation start inside."""
        starts = self.starts
        return [t, *starts[bisect_right(starts, t):bisect_left(starts, end)]]

    # ------------------------------------------------------------------------- search

    def earliest(self, gpus: int, duration: float, now: float, rank: list[int] | None = None,
                 free: list[int] | None = None) -> tuple[float, tuple[int, ...]] | None:
        """(start, nodes) of the earliest reservation; nodes only for a sub-node job, which
        tries nodes in placement order: by ``rank[free[n]]`` (the rank of the node's free GPUs
        now among the placement's preferred counts), then by node."""
        per = self.per
        times = self.times[bisect_right(self.times, now):]
        times.insert(0, now)  # the plan may be older than now
        if gpus >= per:
            need = gpus // per
            # A candidate fails at the latest point x of its window with too few nodes; every
            # later candidate up to x has x in its window too, so the search resumes after x.
            after = -INF
            for t in times:
                if t <= after:
                    continue
                if self.whole_free(t) < need:
                    continue
                bad = next((x for x in reversed(self._points(t, t + duration)) if self.whole_free(x) < need), None)
                if bad is None:
                    return t, ()
                after = bad
            return None
        assert rank is not None and free is not None
        # the nodes, in that order (as int keys: rank * NODE_SPAN + node), that the running jobs
        # leave room on by ``t`` (the others cannot have room then): added as ``t`` passes their
        # time, instead of trying every node
        ready = self._ready(gpus)
        j = 0
        keys: list[int] = []
        nodes: list[int] = []
        # A node that fails at t because of a level at a reservation start x > t fails the same
        # way at every later candidate up to x (x is inside each of their windows, and the level
        # at x does not depend on the candidate). One whose own reservations leave too few GPUs
        # at x leaves the list until t passes x; one that would take an entire node needed at x
        # stays (the first node that passes its own levels gives the window's points) but is not
        # tested again until then.
        back: list[tuple[float, int, int]] = []  # (x, key, node): out of the list until x
        whole_until: dict[int, float] = {}
        starts = self.starts
        for t in times:
            if j < len(ready) and ready[j][0] <= t:
                first = j
                while j < len(ready) and ready[j][0] <= t:
                    j += 1
                if j - first == 1:
                    n = ready[first][1]
                    k = rank[free[n]] * NODE_SPAN + n
                    i = bisect_right(keys, k)
                    keys.insert(i, k)
                    nodes.insert(i, n)
                else:  # many at once (at the first candidate, every node with room now): one sort
                    keys = sorted([*keys, *[rank[free[n]] * NODE_SPAN + n for _, n in ready[first:j]]])
                    nodes = [k % NODE_SPAN for k in keys]
            while back and back[0][0] < t:
                _, k, n = heappop(back)
                i = bisect_right(keys, k)
                keys.insert(i, k)
                nodes.insert(i, n)
            end = t + duration
            points = None
            i = 0
            while i < len(nodes):
                n = nodes[i]
                i += 1
                if self.free_at(n, t) < gpus:
                    continue
                bad = next((s for s, e, _ in self.sub.get(n, ()) if t < s < end and self.free_at(n, s) < gpus), None)
                if bad is not None:
                    i -= 1
                    heappush(back, (bad, keys.pop(i), nodes.pop(i)))
                    continue
                if points is None:  # the window's points, with the first such node's releases
                    points = self._points(t, end) + [e for e, _ in self.rel[n] if t < e < end]
                if whole_until.get(n, -INF) >= t:
                    continue
                bad = next((x for x in points if self._entire_without_subs(n, x) and self.free_at(n, x) == per
                            and self.whole_free(x) < 1), None)
                if bad is not None:
                    k = bisect_left(starts, bad)
                    if bad > t and k < len(starts) and starts[k] == bad:  # a start: in every later window
                        whole_until[n] = bad
                    continue
                return t, (n,)
        return None

    def _ready(self, gpus: int) -> list[tuple[float, int]]:
        """(time from which the running jobs leave ``gpus`` GPUs free on the node, node), by
        time. A node's level before reservations only rises, so it has that room from then on."""
        ready = self._ready_for.get(gpus)
        if ready is None:
            ready = []
            for n in self.nodes:
                k = bisect_left(self.free_after[n], gpus)
                if k < len(self.free_after[n]):
                    ready.append((self.rel_at[n][k - 1] if k else -INF, n))
            ready.sort()
            self._ready_for[gpus] = ready
        return ready

    def prune(self, now: float) -> None:
        """Forget the candidate times before ``now`` (a search starts at now), and the
        reservations that ended by ``now`` once they are half of them (until then they only
        cost a little in each scan: an ended one counts at no time from ``now`` on)."""
        times = self.times
        past = bisect_right(times, now)
        if past > 64 and 2 * past > len(times):
            del times[:past]
        ends = self._ends
        while ends and ends[0] <= now:
            heappop(ends)
            self._ended += 1
        if 2 * self._ended <= len(self.subs) + len(self.wholes):
            return
        self._ended = 0
        pruned = False
        if any(e <= now for _, e, _ in self.wholes):
            self.wholes = [r for r in self.wholes if r[1] > now]
            pruned = True
        if any(e <= now for _, e, _ in self.subs):
            self.subs = [r for r in self.subs if r[1] > now]
            self.sub = {n: kept for n, res in self.sub.items() if (kept := [r for r in res if r[1] > now])}
            pruned = True
        if pruned:
            self.starts = sorted([s for s, _, _ in self.subs] + [s for s, _, _ in self.wholes])
            self._whole = {}

    def reserve(self, gpus: int, start: float, duration: float, nodes: tuple[int, ...]) -> None:
        end = start + duration
        heappush(self._ends, end)
        insort(self.starts, start)
        self._whole = {}
        if gpus >= self.per:
            self.wholes.append((start, end, gpus // self.per))
        else:
            (n,) = nodes
            self.sub.setdefault(n, []).append((start, end, gpus))
            self.subs.append((start, end, n))
        times = self.times
        i = bisect_left(times, end)
        if end < INF and (i == len(times) or times[i] != end):
            times.insert(i, end)


class ConservativeBackfill:
    """Conservative backfilling (see the module docstring)."""

    def __init__(self, depth: int = 100):
        self.depth = depth
        self._profiles: dict[int, _Profile] | None = None
        self._plan: dict[Job, tuple[int, float, tuple[int, ...]]] = {}  # job -> (pool, start, nodes)
        self._planned: list[Job] = []  # the planned jobs, in queue order

    @classmethod
    def from_config(cls, cfg) -> ConservativeBackfill:
        return cls(depth=cfg.depth)

    def key(self, job: Job) -> tuple:
        return (job.prio, job.seq)

    def invalidate(self) -> None:
        self._profiles = None

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        """Extend the plan to the jobs new to the window, then start every planned job whose
        time is now. Jobs end when planned, so the plan holds until ``invalidate``."""
        for _ in range(2):
            if self._profiles is None or not self._extends(queue):
                self._profiles, self._plan, self._planned = {}, {}, []
            else:
                for prof in self._profiles.values():
                    prof.prune(now)
            window = queue.jobs[: self.depth + 1]
            for job in window[len(self._planned):]:
                self._reserve(job, cluster, placement, now)
            due = [j for j in window if self._plan[j][1] <= now]
            for job in due:
                nodes = self._nodes(job, cluster, placement, now)
                if nodes is None:  # the plan no longer matches the cluster: replan now
                    self._profiles = None
                    break
                queue.pop(queue.index(job))
                self._planned.remove(job)
                del self._plan[job]
                start(job, nodes)
            else:
                return

    def _extends(self, queue) -> bool:
        """The planned jobs are still the head of the queue, in order."""
        planned = self._planned
        jobs = queue.jobs
        return len(jobs) >= len(planned) and all(a is b for a, b in zip(planned, jobs, strict=False))

    def _reserve(self, job: Job, cluster, placement, now: float) -> None:
        g = job.spec.num_gpus
        best = None
        free = cluster.free
        profiles = self._profiles
        assert profiles is not None
        for pool in job.pools:
            p = cluster.pools[pool]
            prof = profiles.get(pool)
            if prof is None:
                prof = profiles[pool] = _Profile(cluster, pool, now)
            rank = _ranks(placement.order(g, p.gpus_per_node), p.gpus_per_node)
            found = prof.earliest(g, job.run_estimate(p.speed), now, rank, free)
            if found is not None and (best is None or found[0] < best[1]):
                best = (pool, found[0], found[1])
        if best is None:  # fits no pool even when everything has ended: no reservation
            best = (job.pools[0], INF, ())
        else:
            pool = best[0]
            profiles[pool].reserve(g, best[1], job.run_estimate(cluster.pools[pool].speed), best[2])
        self._plan[job] = best
        self._planned.append(job)

    def _nodes(self, job: Job, cluster, placement, now: float) -> tuple[int, ...] | None:
        """The nodes a due job starts on now, or None if the cluster does not hold them."""
        pool, _, nodes = self._plan[job]
        g = job.spec.num_gpus
        p = cluster.pools[pool]
        if g < p.gpus_per_node:
            (n,) = nodes
            ok = cluster.free[n] >= g and cluster.up[n] and n not in cluster.draining and not cluster.spare[n]
            return nodes if ok else None
        # whole nodes: preferably not those a sub-node reservation needs while this job runs
        end = now + job.run_estimate(p.speed)
        profiles = self._profiles
        assert profiles is not None
        pinned = {n for s, e, n in profiles[pool].subs if s < end and e > now}
        order = placement.order(g, p.gpus_per_node)
        # the count of free nodes guarantees room; a pinned sub-node job is replanned elsewhere
        return cluster.find(g, order, pinned, pool) or cluster.find(g, order, pool=pool)
