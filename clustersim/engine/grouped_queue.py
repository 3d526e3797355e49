"""A wait queue whose order is recomputed periodically, without re-sorting every queued job.

A policy such as Slurm's multifactor priority recomputes every job's priority each period and
re-sorts the queue. Re-sorting costs the queue's length every period, so an overloaded run,
whose queue grows all the time, pays more per job the longer it runs. But the order *within*
some groups of jobs cannot change at a recomputation: with the multifactor priority, two jobs of
one team with the same tenancy priority differ only by their age, and the older one stays ahead
whatever the team's fair-share factor becomes. So this queue keeps each group in its fixed
inner order and merges the groups by the policy's key only as far as a pass looks (the
*front*): a recomputation (``regroup``) moves the jobs whose group changed and drops the
front, in time that does not grow with the queue.

Keys. A job that was queued at the last recomputation (a *member*) is ordered by
``policy.member_key`` (its priority at that time); a job queued since then (*recent*, a new
arrival or a requeued job) by ``policy.key`` at the time it was queued, as a fully re-sorted
queue orders them. Recent jobs form one more group, ordered by their keys, and join their
groups at the next recomputation. (A member that leaves and comes back before then is recent,
and ``policy.key`` must give it its member key.)

The policy supplies (see ``clustersim.engine.policies.fairshare`` for the one that uses it):

- ``key(job)`` and ``member_key(job)``: full keys, unique per job (they end with its ``seq``);
- ``group(job)``: a member's group, a hashable, valid since the last recomputation;
- ``inner(group)``: the group's inner order, a key function whose order agrees with
  ``member_key`` within the group at every recomputation;
- ``movable(group)``: whether members of ``group`` may change group at a recomputation; those
  that do must be at the front of its inner order (they move while the head's group changed);
- ``grouped``: False once the policy cannot promise fixed inner orders (then ``regroup``
  re-sorts every job into one group, as a flat queue would).

It is a ``JobQueue`` to the policies (a subclass overriding every method), so it compiles
with the engine (``setup.py``) and passes where a ``JobQueue`` is expected.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Any, Final

from clustersim.engine.queue import JobQueue
from clustersim.model import Job

# Final: a compiled build keeps these in C variables (or inlines them) instead of looking
# each one up in the module's namespace at every use
bisect_left: Final = bisect.bisect_left
bisect_right: Final = bisect.bisect_right
heapify: Final = heapq.heapify
heappop: Final = heapq.heappop
heapreplace: Final = heapq.heapreplace
RECENT: Final = None  # the group of the jobs queued since the last recomputation
CHUNK: Final = 64  # jobs merged into the front beyond what was asked, so merges are rare
ALL: Final = ("all",)  # the one group when the policy cannot group


class GroupedQueue(JobQueue):
    __slots__ = ("_policy", "_groups", "_where", "_cursor", "_front", "_fkeys", "_all", "_n")

    def __init__(self, policy: Any):
        super().__init__(policy.key)  # the parent's lists stay empty
        self._policy = policy
        self._groups: dict[Any, JobQueue] = {RECENT: JobQueue(policy.key)}
        self._where: dict[Job, Any] = {}  # queued job -> its group
        self._cursor: dict[Any, int] = {RECENT: 0}  # per group: how many of its jobs are in the front
        self._front: list[Job] = []  # the first jobs of the merged order ...
        self._fkeys: list[tuple] = []  # ... and their keys
        self._all = True  # the front holds every queued job
        self._n = 0

    # ------------------------------------------------------------------------- the front

    def _full_key(self, job: Job, gid: Any) -> tuple:
        return self._policy.key(job) if gid is RECENT else self._policy.member_key(job)

    def _extend(self, n: int) -> None:
        """Merge the groups into the front until it holds ``n`` jobs or every job."""
        front, fkeys, cursor, groups = self._front, self._fkeys, self._cursor, self._groups
        heads: list[tuple[tuple, int, Any, Job]] = []
        for gid, q in groups.items():
            c = cursor[gid]
            job = q.at(c)
            if job is not None:
                heads.append((self._full_key(job, gid), c, gid, job))  # keys are unique: ties never reach gid
        heapify(heads)
        while heads and len(front) < n:
            k, c, gid, job = heads[0]
            front.append(job)
            fkeys.append(k)
            cursor[gid] = c + 1
            nxt = groups[gid].at(c + 1)
            if nxt is None:
                heappop(heads)
            else:
                heapreplace(heads, (self._full_key(nxt, gid), c + 1, gid, nxt))
        if not heads:
            self._all = True

    def _ensure(self, n: int) -> None:
        if len(self._front) < n and not self._all:
            self._extend(n + CHUNK)

    # ------------------------------------------------------------------------- reading

    @property
    def jobs(self) -> list[Job]:
        """Every queued job in order (merges the whole queue: for passes that read all of it)."""
        if not self._all:
            self._extend(self._n)
        return self._front

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def first(self) -> Job | None:
        self._ensure(1)
        return self._front[0] if self._front else None

    def window(self, n: int) -> list[Job]:
        self._ensure(n)
        return self._front[:n]

    def at(self, index: int) -> Job | None:
        self._ensure(index + 1)
        return self._front[index] if index < len(self._front) else None

    def index(self, job: Job) -> int:
        if job not in self._where:
            raise ValueError(f"{job!r} is not queued")
        k = self._full_key(job, self._where[job])
        while not self._all and (not self._fkeys or self._fkeys[-1] < k):
            self._extend(2 * len(self._front) + CHUNK)
        i = bisect_left(self._fkeys, k)
        if i == len(self._front) or self._front[i] is not job:
            raise ValueError(f"{job!r} is not queued")
        return i

    # ------------------------------------------------------------------------- changes

    def push(self, job: Job) -> int:
        """Queue a job; returns its index if it lands in the front, else -1."""
        k = self._policy.key(job)
        self._groups[RECENT].push(job)
        self._where[job] = RECENT
        self._n += 1
        self.gpus += job.spec.num_gpus
        fkeys = self._fkeys
        if self._all or (fkeys and k < fkeys[-1]):
            i = bisect_right(fkeys, k)
            fkeys.insert(i, k)
            self._front.insert(i, job)
            self._cursor[RECENT] += 1
            return i
        return -1

    def _group(self, gid: Any) -> JobQueue:
        q = self._groups.get(gid)
        if q is None:
            q = self._groups[gid] = JobQueue(self._policy.inner(gid) if gid != ALL else self._policy.member_key)
            self._cursor[gid] = 0
        return q

    def pop(self, index: int = 0) -> Job:
        self._ensure(index + 1)
        job = self._front.pop(index)
        del self._fkeys[index]
        gid = self._where.pop(job)
        q = self._groups[gid]
        q.pop(q.index(job))
        self._cursor[gid] -= 1
        self._n -= 1
        self.gpus -= job.spec.num_gpus
        return job

    def popleft(self) -> Job:
        return self.pop(0)

    def remove_indices(self, indices: list[int]) -> None:
        for i in sorted(indices, reverse=True):
            self.pop(i)

    def regroup(self) -> None:
        """The policy recomputed its keys: recent jobs join their groups, members
        whose group changed move, and the front is merged afresh when next read."""
        policy = self._policy
        groups, where = self._groups, self._where
        recent = groups[RECENT].jobs
        if policy.grouped is False:
            jobs = [job for q in groups.values() for job in q.jobs]  # one group, re-sorted by the new keys
            self._groups = {RECENT: JobQueue(policy.key)}
            self._cursor = {RECENT: 0}
            q = self._group(ALL)
            for job in jobs:
                q.push(job)
                where[job] = ALL
        else:
            for job in recent:
                gid = where[job] = policy.group(job)
                self._group(gid).push(job)
            groups[RECENT] = JobQueue(policy.key)
            for gid in [g for g in groups if g is not RECENT and policy.movable(g)]:
                q = groups[gid]
                head = q.first()
                while head is not None:
                    to = policy.group(head)
                    if to == gid:
                        break
                    q.popleft()
                    where[head] = to
                    self._group(to).push(head)
                    head = q.first()
        for gid in self._cursor:
            self._cursor[gid] = 0
        self._front, self._fkeys = [], []
        self._all = self._n == 0
