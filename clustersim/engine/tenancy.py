"""Teams, quotas, borrowing, reclaim and priorities, as an engine component.

Each job belongs to one team (by trace user, else job class, else the default team) and has a
priority. A team *uses* the GPUs its running jobs hold, from start to end or interruption (a
hung job holds them until its failure is detected). The component wraps ``engine.policy``;
every scheduling pass is then, in order:

1. **Guaranteed jobs.** Each team's first queued jobs (queue order) whose GPUs fit in what is
   left of its quota go through the policy's pass alone. Those still waiting that do not fit on
   the cluster *reclaim*, in queue order: borrowers' jobs are preempted to make room (a team's
   turn ends at its first job that fits or cannot reclaim); repeated while reclaims start jobs.
2. **The policy's pass** over every job, with two limits: a team never holds more than
   ``quota + borrowing_limit``, and a job that takes its team past its quota (it *borrows*)
   starts only if the GPUs left free still cover the reclaims under way. Jobs the limits refuse
   wait outside the policy's view for the pass: they neither block the queue nor hold a
   reservation (as Slurm's limit-blocked jobs).
3. **Priority preemption.** Queued jobs in queue (priority) order: a job that does not fit
   preempts running preemptible jobs of lower priority (its own team's when there are teams),
   lowest priority first (``Victims.lower``); the first that cannot ends the step.

Reclaim: victims and nodes from ``engine.preemption.reclaim``. With a grace, victims run on
until the deadline (one told keeps its deadline; the job keeps its quota share but blocks none
of its team's later jobs); then those still running are preempted, the rest at once. A victim
is requeued and loses the work since its last checkpoint (``preemption: requeue``) or keeps it
all (``suspend``). The quota is a guarantee (demand within it waits at most the grace) with
whole-node jobs only, one GPU per node, or jobs of g GPUs on one node when sum(quotas) <=
N * per - (N - 1) * g on N nodes of ``per`` GPUs (tests/tenancy/test_tenancy_properties.py).
"""

from __future__ import annotations

import math
from array import array

from clustersim.config.tenancy import resolve_gpus, team_gpus
from clustersim.engine.component import Component
from clustersim.engine.preemption import Victims, class_plans, place, reclaim, spare, suspend
from clustersim.model import FINISHED, QUEUED
from clustersim.results.teams import add_tenancy_columns, summarize_teams

INF = math.inf
RECLAIM, PRIORITY = 0, 1


class _Gate:
    """The engine's queue policy, wrapped: tenancy's steps around the policy's pass."""

    def __init__(self, inner, tenancy: Tenancy):
        self.inner = inner
        self.tenancy = tenancy
        self.key = inner.key

    def invalidate(self) -> None:
        self.inner.invalidate()

    def schedule(self, queue, cluster, placement, now, start, new) -> None:
        self.tenancy.schedule(self.inner, queue, cluster, placement, now, start, new)


class Tenancy(Component):
    """Teams with quotas, borrowing and reclaim, and priorities (see the module docstring)."""

    def __init__(self, scenario, streams):
        cfg = scenario.tenancy
        self.scenario = scenario
        self.cfg = cfg
        total = team_gpus(scenario)
        teams = cfg.teams
        self.quotas = bool(teams)  # without teams: one implicit team, priorities only
        self.names = [t.name for t in teams] or [""]
        self.quota = [resolve_gpus(t.quota, total) for t in teams] or [total]
        self.cap = [
            q + (resolve_gpus(t.borrowing_limit, total) if t.borrowing_limit is not None else INF)
            for q, t in zip(self.quota, teams, strict=False)
        ] or [INF]
        self.weights = [t.weight for t in teams] or [1.0]
        self._by_user = {u: i for i, t in enumerate(teams) for u in t.users}
        self._by_class = {c: i for i, t in enumerate(teams) for c in t.classes}
        self._default = self.names.index(cfg.default_team) if cfg.default_team is not None else 0
        self._team_of: dict[tuple[str, str], int] = {}
        self._prio = dict(cfg.priority.classes)
        self._prio_default = cfg.priority.default
        self.level_columns = tuple(f"team_gpus.{n}" for n in self.names) if self.quotas else ()
        n = len(self.names)
        self.used = [0] * n  # GPUs held by each team's running jobs
        self.gpu_s = [0.0] * n  # GPU-seconds each team has used, up to ``self._mark[t]``
        self._mark = [0.0] * n
        self.waiting = [0] * n  # queued jobs per team
        self.pending: dict = {}  # reclaiming job -> (deadline, [(victim, token), ...])
        self.doomed: dict = {}  # victims told of a reclaim -> [deadline, the jobs reclaiming]
        self.owed = 0  # GPUs of the reclaims under way
        self._refused: list = []
        self._full = False  # the next policy pass must look at the whole queue
        self._running_low: dict[int, int] = {}  # running preemptible jobs by priority
        self._seq_team = array("h")
        self._seq_prio = array("q")
        self._hits: dict[int, list] = {}  # seq -> [reclaims, GPU-s lost, priority preemptions, GPU-s lost]
        self._plans = class_plans(scenario)  # a preempted job keeps its checkpointed work
        self.victims = Victims.of(cfg.reclaim.victims, scenario)
        self.preempt = cfg.priority.preempt

    def attach(self, engine) -> None:
        self.engine = engine
        self.env = engine.env
        self.cluster = engine.cluster
        inner = engine.policy
        self._refresh = getattr(inner, "refresh", None)
        if hasattr(inner, "bind"):
            inner.bind(self)  # fairshare reads the teams' usage and weights
        engine.policy = _Gate(inner, self)

    # ----------------------------------------------------------------------------- hooks

    def team_of(self, spec) -> int:
        key = (spec.job_class, spec.user)
        t = self._team_of.get(key)
        if t is None:
            t = self._by_user.get(spec.user)
            if t is None:
                t = self._by_class.get(spec.job_class, self._default)
            self._team_of[key] = t
        return t

    def job_submitted(self, job) -> None:
        spec = job.spec
        t = job.team = self.team_of(spec)
        p = getattr(spec, "priority", None)  # a trace's priority column, where given
        job.priority = p = self._prio.get(spec.job_class, self._prio_default) if p is None else p
        if p:
            job.prio = -p
        if self._plans:
            job.plan = self._plans.get(spec.job_class)
        seq = job.seq
        st, sp = self._seq_team, self._seq_prio
        while len(st) < seq:  # rejected jobs in between: no team
            st.append(-1)
            sp.append(self._prio_default)
        st.append(t)
        sp.append(p)
        self.waiting[t] += 1

    def _account(self, t: int) -> None:
        now = self.env.now
        self.gpu_s[t] += self.used[t] * (now - self._mark[t])
        self._mark[t] = now

    def job_started(self, job, wall: float) -> None:
        t = job.team
        self._account(t)
        self.used[t] += job.spec.num_gpus
        self.waiting[t] -= 1
        if self.victims.is_preemptible(job):
            self._running_low[job.priority] = self._running_low.get(job.priority, 0) + 1
        if self.pending:
            rec = self.pending.pop(job, None)
            if rec is not None:
                self.owed -= job.spec.num_gpus
                for v, _ in rec[1]:  # victims no other reclaim needs are spared
                    told = self.doomed.get(v)
                    if told is not None:
                        told[1].discard(job)
                        if not told[1]:
                            del self.doomed[v]

    def job_ended(self, job) -> None:
        t = job.team
        self._account(t)
        self.used[t] -= job.spec.num_gpus
        if job.state != FINISHED:
            self.waiting[t] += 1  # requeued (or restarted at once: job_started takes it back)
        if self.victims.is_preemptible(job):
            self._running_low[job.priority] -= 1
        self.doomed.pop(job, None)

    def levels(self) -> tuple:
        return tuple(self.used) if self.quotas else ()

    def usage(self) -> list[float]:
        """GPU-seconds each team has used so far."""
        for t in range(len(self.names)):
            self._account(t)
        return list(self.gpu_s)

    # ----------------------------------------------------------------------------- the pass

    def schedule(self, inner, queue, cluster, placement, now, start, new) -> None:
        if self._refresh is not None and self._refresh(queue, now):  # fairshare: new priorities
            new = None
        if not self.quotas:
            inner.schedule(queue, cluster, placement, now, start, new)
        else:
            engine = self.engine
            room = [q - u for q, u in zip(self.quota, self.used, strict=True)]
            turn = {t for t, r in enumerate(room) if r > 0 and self.waiting[t] > 0}
            again, first = False, bool(turn)  # first: a guaranteed pass ran (the policy's plans are void)
            while turn:
                rest = self._split(queue, room, turn, now)  # the policy's pass over guaranteed jobs first
                inner.invalidate()
                inner.schedule(queue, cluster, placement, now, engine.start, None)
                for job in rest:
                    queue.push(job)
                again |= bool(rest)
                if not self._reclaims(queue, cluster, placement, now):
                    break
                again = True  # victims requeued ahead, or a job now in its grace: later ones go again
                room = [q - u for q, u in zip(self.quota, self.used, strict=True)]
                turn = {t for t, r in enumerate(room) if r > 0 and self.waiting[t] > 0}
            if again or not first:
                held = self._hold(queue, cluster)
                self._refused = refused = []
                if first:
                    inner.invalidate()
                full = first or held or self._full
                inner.schedule(queue, cluster, placement, now, self._start, None if full else new)
                for job in held + refused:
                    queue.push(job)
                self._full = bool(refused)
                if refused:
                    inner.invalidate()
        if self.preempt and self._running_low and queue:
            self._by_priority(queue, cluster, placement, now)

    def admits(self, job, cluster) -> bool:
        """The team limits: within quota, or borrowing within the cap and the reclaims owed."""
        t = job.team
        after = self.used[t] + job.spec.num_gpus
        if after <= self.quota[t]:
            return True
        return after <= self.cap[t] and cluster.free_gpus - job.spec.num_gpus >= self.owed

    def _start(self, job, nodes) -> None:
        if self.admits(job, self.cluster):
            self.engine.start(job, nodes)
        else:
            self._refused.append(job)

    def _split(self, queue, room: list[int], turn: set[int], now: float) -> list:
        """Leave in the queue only the guaranteed jobs: each team's first jobs, in queue order,
        whose GPUs fit in what is left of its quota. Returns the others (taken out), and the jobs
        in a reclaim's grace period (their share booked: they must not block later ones)."""
        left, out, pending = list(room), [], self.pending
        for i, job in enumerate(queue.jobs):
            t = job.team
            if t in turn and job.spec.num_gpus <= left[t]:
                left[t] -= job.spec.num_gpus
                if pending and job in pending and pending[job][0] > now:
                    out.append(i)
            else:
                left[t] = -1  # in queue order: the first that does not fit ends the team's share
                out.append(i)
        rest = [queue.jobs[i] for i in out]
        queue.remove_indices(out)
        return rest

    def _hold(self, queue, cluster) -> list:
        """Take the jobs the team limits refuse now out of the queue (back after the pass)."""
        if self.owed == 0 and all(c == INF for c in self.cap):
            return []
        out = [i for i, j in enumerate(queue.jobs) if not self.admits(j, cluster)]
        held = [queue.jobs[i] for i in out]
        queue.remove_indices(out)
        return held

    def _find(self, job, cluster, placement):
        g = job.spec.num_gpus
        if cluster.typed:
            nodes = cluster.find_job(job, placement)
        else:
            nodes = cluster.find(g, placement.order(g))
        gate = cluster.power
        if nodes is not None and gate is not None and not gate.admits(job, cluster.pool_of[nodes[0]]):
            return None
        return nodes

    def _reclaims(self, queue, cluster, placement, now) -> bool:
        """After the policy's pass over guaranteed jobs: each team's guaranteed jobs still
        waiting, in queue order, that do not fit reclaim borrowed GPUs. A team's turn ends at
        its first job that fits (the policy keeps it waiting) or cannot reclaim. True if any
        job started or began a grace period."""
        room = [q - u for q, u in zip(self.quota, self.used, strict=True)]
        turn = {t for t, r in enumerate(room) if r > 0 and self.waiting[t] > 0}
        started, booked = [], False
        for job in list(queue.jobs):
            if not turn:
                break
            t = job.team
            if t not in turn:
                continue
            g = job.spec.num_gpus
            rec = self.pending.get(job)
            if g > room[t]:
                turn.discard(t)
                continue
            if rec is not None and rec[0] > now:
                room[t] -= g  # waiting out its grace period: its share stays booked
                continue
            if self._find(job, cluster, placement) is not None:
                turn.discard(t)
                continue
            nodes = self._reclaim(job, cluster, now, rec is not None)
            if nodes is None:
                turn.discard(t)
                continue
            room[t] -= g
            if nodes:
                started.append(job)
                self.engine.start(job, nodes)
            booked |= not nodes  # in its grace period: the jobs behind it go again
        queue.remove_indices([queue.index(job) for job in started])
        return bool(started) or booked

    def _reclaim(self, job, cluster, now, due: bool):
        """Make room for ``job`` by preempting borrowers: nodes (now), () (after the grace
        period), or None (the borrowers cannot make room)."""
        t = job.team
        left = {s: u - q for s, (u, q) in enumerate(zip(self.used, self.quota, strict=True)) if s != t and u > q}
        if not left:
            return None
        found = reclaim(cluster, self.victims, self.engine.running, left, job.spec.num_gpus, now)
        if found is None:
            return None
        nodes, victims = found
        grace = self.cfg.reclaim.grace
        if grace > 0 and not due:
            # a victim already told keeps its deadline: the job waits for the latest of them
            deadline = now
            for v in victims:
                told = self.doomed.get(v)
                if told is None:
                    told = self.doomed[v] = [now + grace, set()]
                told[1].add(job)
                deadline = max(deadline, told[0])
            self.pending[job] = (deadline, [(v, v.token) for v in victims])
            self.owed += job.spec.num_gpus
            self.engine.call_at(deadline, lambda _e, j=job: self._deadline(j))
            return ()
        for v in victims:
            self._evict(v, RECLAIM)
        return nodes

    def _deadline(self, job) -> None:
        rec = self.pending.get(job)
        if rec is None or job.state != QUEUED:
            return
        for v, token in rec[1]:
            if v.token == token and v in self.engine.running:
                self._evict(v, RECLAIM)
        self.engine.capacity_changed()

    def _by_priority(self, queue, cluster, placement, now) -> None:
        low = [p for p, n in self._running_low.items() if n > 0]
        if not low:
            return
        lowest = min(low)
        for job in list(queue.jobs):
            p = job.priority
            if p <= lowest:
                break
            if self.quotas and not self.admits(job, cluster):
                continue
            if self._find(job, cluster, placement) is not None:
                continue  # it fits: the policy keeps it waiting (a reservation), not a priority matter
            order = self.victims.lower(self.engine.running, p, now, job.team if self.quotas else None)
            found = place(cluster, order, job.spec.num_gpus)
            if found is None:
                break
            nodes, victims = spare(cluster, found, job.spec.num_gpus, order)
            for v in victims:
                self._evict(v, PRIORITY)
            queue.pop(queue.index(job))
            self.engine.start(job, nodes)
            self.engine.request_pass(changed=True)  # victims may have freed more than it took
            return

    def _evict(self, job, why: int) -> None:
        engine = self.engine
        g = job.spec.num_gpus
        if self.cfg.preemption == "suspend":
            lost = suspend(job, self.env.now)
            engine.stop(job)
            engine.requeue(job)
            engine.policy.invalidate()
        else:
            lost = engine.evict(job)
        rec = self._hits.get(job.seq)
        if rec is None:
            rec = self._hits[job.seq] = [0, 0.0, 0, 0.0]
        rec[2 * why] += 1
        rec[2 * why + 1] += lost * g

    # ----------------------------------------------------------------------------- output

    def job_columns(self, jobs):
        return add_tenancy_columns(jobs, self.names, self._seq_team, self._seq_prio, self._prio_default, self._hits)

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s, teams = self.scenario, zip(self.names, self.quota, self.cap, self.weights, strict=True)
        info = {n: {"quota_gpus": q, "borrowing_limit_gpus": None if c == INF else c - q, "weight": w} for n, q, c, w in teams}
        return summarize_teams(jobs, timeseries, info if self.quotas else {}, horizon=s.horizon, warmup=s.warmup)
