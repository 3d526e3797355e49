"""An independent reference scheduler on GPU-granular nodes: FIFO, SJF, EASY and conservative.

Written from the rules the README and the policy modules' docstrings state, with no import
from clustersim, so that property tests take their expected start times from here and not
from the engine's own planners (``availability.shadow``, ``EasyBackfill._shadow``).

The model
---------
* Pools of identical nodes (one per GPU type: ``gpus_per_node``, ``speed``), each node with
  a count of free GPUs. Nodes may enter service later (a delivery: ``Pool.arrivals``).
* A job of ``g`` GPUs: ``g <= gpus_per_node`` runs on one node with ``g`` free GPUs; a larger
  one takes ``g / gpus_per_node`` entirely free nodes of one pool. On a pool of speed ``s``
  it runs ``duration / s`` seconds; it may use the pools it lists, in that order.
* Placement of a one-node job: ``pack`` puts it on a node with the fewest free GPUs that
  still hold it, ``spread`` on one with the most. Which of several equally good nodes is not
  a rule: the reference takes the lowest node id, or, given a ``guide`` (the engine's own
  placements), checks that the engine's node is one of the equally good ones and follows it.
* Every event of one instant (completions, deliveries, arrivals) is applied, then ONE pass.
  A job that ends at its start instant (zero duration) frees its GPUs at the same instant,
  and another pass follows at that instant.

Policies (one pass)
-------------------
* ``fifo``, ``sjf``: start jobs from the head of the queue while the head fits (on the first
  of its pools with room); queue order is submission order, or (duration, submission) for
  SJF.
* ``backfill`` (EASY, Lifka 1995; Mu'alem & Feitelson 2001, with the GPU rules of the engine's
  EASY docstring): the heads as FIFO; then the head (first job that does not fit) reserves
  the pool where its shadow time ``T`` is earliest (ties: first in its list). Whole-node head
  needing ``k`` nodes: ``T`` is the time the k-th node becomes entirely free (a node is
  entirely free once every job on it has ended), ``Tfree`` the nodes entirely free at ``T``
  and ``extra = |Tfree| - k``. Sub-node head needing ``g`` GPUs: ``T`` is the earliest time
  some node has ``g`` free GPUs; that node is reserved and its GPUs free at ``T`` beyond
  ``g`` are the extra. (When several nodes reach ``g`` at ``T`` the choice is not a rule: the
  reference keeps every one of them that is consistent with what the engine did in this
  pass, and fails when none is.) Then the next ``depth`` jobs, in queue order, while GPUs
  are free: on a pool other than the reserved one a job starts if it fits; on the reserved
  pool a job that ends by ``T`` starts if it fits; a longer job
    - whole-node head, whole-node job: if it needs no more than ``extra`` nodes (which it
      spends);
    - whole-node head, one-node job: on a node outside ``Tfree`` if one has room, else on a
      node of ``Tfree`` if ``extra >= 1`` (spending one, the node leaves ``Tfree``);
    - sub-node head, whole-node job: on entirely free nodes other than the reserved one;
    - sub-node head, one-node job: on a node other than the reserved one if one has room,
      else on the reserved node if it needs no more than the extra GPUs (spending them).
  A head with no finite ``T`` (it fits no pool even when every running job has ended) has
  no reservation: every later job that fits starts.
* ``conservative`` (Mu'alem & Feitelson 2001), only where every node is interchangeable
  (``conservative_units``: one pool of units, every job a number of units).

Input rows ``(job_id, submit_s, gpus, duration_s, pools)``; ``pools`` is a tuple of pool
indexes in the order to try (default ``(0,)``). Output: ``Result.starts`` (job id -> first
start time, for jobs started before the horizon) and ``Result.nodes``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

INF = float("inf")


class Mismatch(AssertionError):
    """The engine did something the rules do not allow (in guided mode)."""


@dataclass
class Pool:
    gpus_per_node: int
    nodes: int  # nodes in service at time 0
    speed: float = 1.0
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, nodes) entering service


@dataclass
class _Job:
    job_id: str
    submit: float
    gpus: int
    duration: float
    pools: tuple[int, ...]
    seq: int


@dataclass
class _Run:
    end: float
    job: _Job
    pool: int
    nodes: tuple[int, ...]
    take: int  # GPUs per node


@dataclass
class Result:
    starts: dict[str, float]
    nodes: dict[str, tuple[int, ...]]
    backfilled: int = 0  # jobs started behind a blocked head (EASY)
    long_backfills: int = 0  # of which ran past the head's shadow time
    blocked_passes: int = 0  # passes with a blocked head and jobs behind it (EASY)
    promises: dict[str, float] = field(default_factory=dict)  # head -> earliest shadow time


@dataclass
class _Shadow:
    pool: int
    t: float
    whole: bool
    tfree: set[int] = field(default_factory=set)  # whole head: nodes entirely free at t
    extra: int = 0  # whole head: nodes of tfree beyond its need
    reserved: dict[int, int] = field(default_factory=dict)  # sub-node head: candidate node -> extra GPUs


class Reference:
    def __init__(self, pools: list[Pool], policy: str, *, depth: int = 100, placement: str = "pack",
                 guide: dict[str, tuple[float, tuple[int, ...]]] | None = None):
        if policy not in ("fifo", "sjf", "backfill"):
            raise ValueError(policy)
        if placement not in ("pack", "spread"):
            raise ValueError(placement)
        self.pools = pools
        self.policy, self.depth, self.placement, self.guide = policy, depth, placement, guide
        self.free: dict[int, int] = {}
        self.pool_of: dict[int, int] = {}
        self.members: list[list[int]] = [[] for _ in pools]
        self.on: dict[int, list[_Run]] = {}
        self.next_id = 0
        self.running: list[_Run] = []
        self.queue: list[_Job] = []
        self.result = Result({}, {})
        for i, p in enumerate(pools):
            self._add_nodes(i, p.nodes)

    # ------------------------------------------------------------------------------ state

    def _add_nodes(self, pool: int, count: int) -> None:
        for _ in range(count):
            n = self.next_id
            self.next_id += 1
            self.free[n] = self.pools[pool].gpus_per_node
            self.pool_of[n] = pool
            self.members[pool].append(n)
            self.on[n] = []

    def _key(self, job: _Job):
        return (job.duration, job.seq) if self.policy == "sjf" else (job.seq,)

    def _start(self, job: _Job, pool: int, nodes: tuple[int, ...], now: float) -> None:
        per = self.pools[pool].gpus_per_node
        take = job.gpus if job.gpus <= per else per
        for n in nodes:
            assert self.pool_of[n] == pool and self.free[n] >= take, (job, nodes)
            self.free[n] -= take
        run = _Run(now + job.duration / self.pools[pool].speed, job, pool, nodes, take)
        for n in nodes:
            self.on[n].append(run)
        self.running.append(run)
        self.result.starts[job.job_id] = now
        self.result.nodes[job.job_id] = nodes
        self.queue.remove(job)

    def _finish(self, run: _Run) -> None:
        for n in run.nodes:
            self.free[n] += run.take
            self.on[n].remove(run)
        self.running.remove(run)

    # ------------------------------------------------------------------------------ placement

    def _choices(self, g: int, pool: int, allowed=None):
        """The equally good ways to place ``g`` GPUs on ``pool`` now, among ``allowed`` nodes:
        ("one", nodes) for a one-node job (any one of them), ("many", nodes, k) for a
        whole-node job (any k of them), or None when there is no room."""
        per = self.pools[pool].gpus_per_node
        nodes = [n for n in self.members[pool] if allowed is None or n in allowed]
        if g > per:
            whole = [n for n in nodes if self.free[n] == per]
            k = g // per
            return ("many", frozenset(whole), k) if len(whole) >= k else None
        room = [n for n in nodes if self.free[n] >= g]
        if not room:
            return None
        best = (min if self.placement == "pack" else max)(self.free[n] for n in room)
        return ("one", frozenset(n for n in room if self.free[n] == best), 1)

    @staticmethod
    def _admits(choice, nodes: tuple[int, ...]) -> bool:
        kind, ok, k = choice
        return len(nodes) == k == len(set(nodes)) and all(n in ok for n in nodes)

    @staticmethod
    def _pick(choice) -> tuple[int, ...]:
        return tuple(sorted(choice[1])[: choice[2]])

    def _another_pass(self, now: float) -> bool:
        """Jobs of zero length end at this instant: another pass follows at it."""
        return any(r.end == now for r in self.running)

    def _engine(self, job: _Job, now: float):
        """(started now?, its nodes) as the engine did it (guided mode)."""
        when, nodes = self.guide.get(job.job_id, (None, ()))
        return when == now, tuple(nodes)

    # ------------------------------------------------------------------------------ a pass

    def _heads(self, now: float) -> None:
        while self.queue:
            job = self.queue[0]
            for pool in job.pools:
                choice = self._choices(job.gpus, pool)
                if choice is not None:
                    break
            else:
                return
            if self.guide is not None:
                started, nodes = self._engine(job, now)
                if not started:
                    raise Mismatch(f"t={now}: head {job.job_id} fits on pool {pool} but the engine "
                                   f"starts it at {self.guide.get(job.job_id, (None,))[0]}")
                if not self._admits(choice, nodes):
                    raise Mismatch(f"t={now}: head {job.job_id} placed on {nodes}, the {self.placement} "
                                   f"rule allows {sorted(choice[1])} (k={choice[2]})")
            else:
                nodes = self._pick(choice)
            self._start(job, pool, nodes, now)

    def _shadow_on(self, head: _Job, pool: int, now: float) -> _Shadow:
        per = self.pools[pool].gpus_per_node
        nodes = self.members[pool]
        g = head.gpus
        if g >= per:
            k = g // per
            ready = {n: max([now] + [r.end for r in self.on[n]]) for n in nodes}
            if len(ready) < k:
                return _Shadow(pool, INF, True)
            t = sorted(ready.values())[k - 1]
            tfree = {n for n, r in ready.items() if r <= t}
            return _Shadow(pool, t, True, tfree, len(tfree) - k)
        best, reserved = INF, {}
        for n in nodes:
            for t in sorted({now, *(max(r.end, now) for r in self.on[n])}):
                at_t = self.free[n] + sum(r.take for r in self.on[n] if r.end <= t)
                if at_t >= g:
                    if t < best:
                        best, reserved = t, {}
                    if t == best:
                        reserved[n] = at_t - g
                    break
        return _Shadow(pool, best, False, reserved=reserved)

    def _shadow(self, head: _Job, now: float) -> _Shadow:
        best = None
        for pool in head.pools:
            s = self._shadow_on(head, pool, now)
            if best is None or s.t < best.t:
                best = s
        return best

    def _rule(self, job: _Job, pool: int, sh: _Shadow, now: float, r: int | None):
        """(choice, spend) for ``job`` on ``pool`` under the EASY rules, with ``r`` the reserved
        node of a sub-node head; ``spend`` says what the extra loses: None, ("nodes", k) or
        ("gpus", g). None when the rules give it no room on this pool now."""
        g = job.gpus
        if pool != sh.pool or sh.t == INF or now + job.duration / self.pools[pool].speed <= sh.t:
            c = self._choices(g, pool)
            return None if c is None else (c, None)
        per = self.pools[pool].gpus_per_node
        if sh.whole:
            if g >= per:
                if g // per > sh.extra:
                    return None
                c = self._choices(g, pool)
                return None if c is None else (c, ("nodes", g // per))
            c = self._choices(g, pool, set(self.members[pool]) - sh.tfree)
            if c is not None:
                return c, None
            if sh.extra >= 1:
                c = self._choices(g, pool)
                return None if c is None else (c, ("nodes", 1))
            return None
        others = set(self.members[pool]) - {r}
        c = self._choices(g, pool, others)
        if c is not None:
            return c, None
        if g < per and g <= sh.reserved[r] and self.free[r] >= g:
            return ("one", frozenset({r}), 1), ("gpus", g)
        return None

    def _decide(self, job: _Job, sh: _Shadow, now: float, r: int | None):
        """The first of the job's pools where the rules give it room: (pool, choice, spend)."""
        for pool in job.pools:
            found = self._rule(job, pool, sh, now, r)
            if found is not None:
                return pool, found[0], found[1]
        return None

    def _easy(self, now: float) -> None:
        if len(self.queue) < 2 or sum(self.free.values()) == 0:
            return
        head = self.queue[0]
        sh = self._shadow(head, now)
        res = self.result
        res.blocked_passes += 1
        res.promises[head.job_id] = min(res.promises.get(head.job_id, INF), sh.t)
        if not sh.whole and sh.t < INF and self.guide is None:
            r = min(sh.reserved)
            sh.reserved = {r: sh.reserved[r]}
        for job in list(self.queue[1 : self.depth + 1]):
            if sum(self.free.values()) == 0:
                break
            cands = list(sh.reserved) if (not sh.whole and sh.t < INF and sh.pool in job.pools) else [None]
            decisions = {r: self._decide(job, sh, now, r) for r in cands}
            if self.guide is None:
                (r, d), = decisions.items()
                if d is None:
                    continue
                pool, choice, spend = d
                nodes = self._pick(choice)
            else:
                started, nodes = self._engine(job, now)
                if started:
                    keep = {r: d for r, d in decisions.items()
                            if d is not None and self.pool_of[nodes[0]] == d[0] and self._admits(d[1], nodes)}
                    if not keep and all(d is None for d in decisions.values()) and self._another_pass(now):
                        # the engine may start it in this instant's next pass (after the jobs of
                        # zero length end), where the reference checks it again
                        keep, started = decisions, False
                else:
                    keep = {r: d for r, d in decisions.items() if d is None}
                if not keep:
                    why = {r: (None if d is None else (d[0], sorted(d[1][1]), d[1][2], d[2])) for r, d in decisions.items()}
                    raise Mismatch(
                        f"t={now}: job {job.job_id} ({job.gpus} GPUs, {job.duration} s) behind head "
                        f"{head.job_id} (T={sh.t}, pool {sh.pool}, extra {sh.extra if sh.whole else sh.reserved}): "
                        f"engine {'starts it on ' + str(nodes) if started else 'leaves it'}; the rules say {why}"
                    )
                if not sh.whole and sh.t < INF and cands != [None]:
                    for r in list(sh.reserved):
                        if r not in keep:
                            del sh.reserved[r]
                if not started:
                    continue
                r, d = next(iter(keep.items()))
                pool, choice, spend = d
                if not sh.whole and cands != [None]:  # each candidate node spends its own extra
                    for rr, dd in keep.items():
                        if dd[2] is not None:
                            sh.reserved[rr] -= dd[2][1]
                    spend = None
            if spend is not None:
                if spend[0] == "nodes":
                    sh.extra -= spend[1]
                    sh.tfree.difference_update(nodes)
                else:
                    sh.reserved[r] -= spend[1]
            res.backfilled += 1
            if pool == sh.pool and not now + job.duration / self.pools[pool].speed <= sh.t:
                res.long_backfills += 1
            self._start(job, pool, nodes, now)

    # ------------------------------------------------------------------------------ the loop

    def run(self, rows, horizon: float = INF) -> Result:
        jobs = [
            _Job(str(row[0]), float(row[1]), int(row[2]), float(row[3]), tuple(row[4]) if len(row) > 4 else (0,), i)
            for i, row in enumerate(rows)
        ]
        jobs.sort(key=lambda j: (j.submit, j.seq))
        for j in jobs:
            if not (j.duration >= 0 and j.gpus >= 1 and j.pools):
                raise ValueError(f"job {j.job_id}: bad row")
        deliveries = sorted((t, pool, k) for pool, p in enumerate(self.pools) for t, k in p.arrivals)
        a = d = 0
        while True:
            now = min(
                jobs[a].submit if a < len(jobs) else INF,
                deliveries[d][0] if d < len(deliveries) else INF,
                min((r.end for r in self.running), default=INF),
            )
            if now >= horizon or now == INF:
                break
            self._check_until(now)
            for run in [r for r in self.running if r.end <= now]:
                self._finish(run)
            while d < len(deliveries) and deliveries[d][0] <= now:
                self._add_nodes(deliveries[d][1], deliveries[d][2])
                d += 1
            while a < len(jobs) and jobs[a].submit <= now:
                self.queue.append(jobs[a])
                a += 1
            self.queue.sort(key=self._key)
            self._heads(now)
            if self.policy == "backfill":
                self._easy(now)
        self._check_until(min(now, horizon))
        return self.result

    def _check_until(self, now: float) -> None:
        """Guided mode: every job the engine started before ``now`` has started here too."""
        if self.guide is None:
            return
        for job_id, (when, _nodes) in self.guide.items():
            if when < now and job_id not in self.result.starts:
                raise Mismatch(f"t={when}: the engine starts {job_id}, the rules do not")


def schedule(rows, pools: list[Pool], policy: str, *, depth: int = 100, placement: str = "pack",
             horizon: float = INF, guide=None) -> Result:
    """Start times of ``rows`` = [(job_id, submit_s, gpus, duration_s[, pools]), ...]."""
    return Reference(pools, policy, depth=depth, placement=placement, guide=guide).run(rows, horizon)


# ---------------------------------------------------------------------------- conservative


class _Units:
    """Free units over time: ``free[i]`` units from ``times[i]`` until ``times[i + 1]``."""

    def __init__(self, now: float, free: int, running: list[tuple[float, int]]):
        self.times, self.free = [now], [free]
        for end, units in running:
            self.take(end, INF, -units)

    def _split(self, t: float) -> int:
        i = bisect_left(self.times, t)
        if i < len(self.times) and self.times[i] == t:
            return i
        self.times.insert(i, t)
        self.free.insert(i, self.free[i - 1])
        return i

    def take(self, start: float, end: float, units: int) -> None:
        i = self._split(start)
        j = self._split(end) if end != INF else len(self.times)
        for k in range(i, j):
            self.free[k] -= units

    def earliest(self, units: int, duration: float) -> float:
        """Earliest step start s with ``units`` free at s and during all of [s, s + duration)
        (a zero-length job still needs room at s)."""
        for i, s in enumerate(self.times):
            if self.free[i] < units:
                continue
            k = i + 1
            while k < len(self.times) and self.times[k] < s + duration and self.free[k] >= units:
                k += 1
            if k == len(self.times) or self.times[k] >= s + duration:
                return s
        raise AssertionError("unreachable: the last step has every unit free")


def conservative_units(rows, units: int, *, depth: int = 100, horizon: float = INF) -> dict[str, float]:
    """Conservative backfilling on ``units`` interchangeable units; rows are
    ``(job_id, submit_s, units, duration_s)``. Each pass, the first ``depth + 1`` queued jobs,
    in queue order, get the earliest reservation that fits beside the running jobs and the
    reservations ahead of them; those whose reservation is now start now."""
    jobs = sorted(((str(i), float(s), int(u), float(d), k) for k, (i, s, u, d) in enumerate(rows)),
                  key=lambda j: (j[1], j[4]))
    starts, waiting, running = {}, [], []
    free, a = units, 0
    while True:
        now = min(jobs[a][1] if a < len(jobs) else INF, min((e for e, _ in running), default=INF))
        if now >= horizon or now == INF:
            break
        for end, u in [r for r in running if r[0] <= now]:
            free += u
            running.remove((end, u))
        while a < len(jobs) and jobs[a][1] <= now:
            waiting.append(jobs[a])
            a += 1
        profile = _Units(now, free, running)
        for job in waiting[: depth + 1]:
            s = profile.earliest(job[2], job[3])
            if job[3] > 0:
                profile.take(s, s + job[3], job[2])
            # a job of zero length reserves nothing; if jobs of zero length started before it
            # in this pass still hold the units it needs, it starts at this instant's next
            # pass, when they have ended, and no job behind it starts before it does
            if s == now:
                if job[2] > free:
                    break
                starts[job[0]] = now
                running.append((now + job[3], job[2]))
                free -= job[2]
        waiting = [j for j in waiting if j[0] not in starts]
        assert free >= 0
    return starts


__all__ = ["Mismatch", "Pool", "Reference", "Result", "conservative_units", "schedule"]
