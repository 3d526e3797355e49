"""Tiresias' discretised two-dimensional least-attained-service policy (2D-LAS).

Gu et al., "Tiresias: A GPU Cluster Manager for Distributed Deep Learning", NSDI '19: the
scheduler of its design, the two-dimensional attained-service scheduler (2DAS) discretised
into multi-level queues for when job durations are unknown, with its starvation rule
(PROMOTEKNOB). The rules as implemented:

- A job's *attained service* is its GPUs x the time it has run (two dimensions: a wide job
  ages faster). Here: GPUs x wall seconds held, summed over its run segments, counting lost
  work, checkpoint writes and restarts (GPU time the job used, whatever it kept).
- ``K`` priority queues Q1 (highest) .. QK, split by ``K - 1`` thresholds of attained service.
  A job enters Q1 and moves down one queue when its attained service passes the next
  threshold: the policy schedules that instant when the job starts (a timer, never polled) and
  re-ranks the jobs then, so a job just demoted may be preempted at once.
- Within a queue jobs are served first come, first served (submission order); a higher queue
  always goes first, and the policy is preemptive (``preemptive``: a queued job preempts
  running jobs of lower queues, or of its own queue submitted after it).
- Starvation (the rule of the authors' own simulator, SymbioticLab/Tiresias
  ``simulator/run_sim.py``, ``dlas_sim_jobs``): a job in a lower queue goes back to Q1 once the
  time it has waited since its last promotion reaches ``promote_knob`` times the time it has
  run since then (the paper's STARVELIMIT = PROMOTEKNOB x execution time). Both clocks count
  wall seconds from the job's first run after a promotion (the wait before that run is not
  counted) and start again from zero at each promotion, as does its attained service (else it
  would fall back at once). A job that never ran is in Q1 already. So between two promotions
  a job attains at least the first threshold (its promotions are bounded by the service it
  gets) and waits at least PROMOTEKNOB x the time that took. (An earlier reading here,
  "waited since its last stop >= PROMOTEKNOB x its last run", let a job preempted seconds into
  a run come back after seconds of waiting, however long it had run before.) Under a
  sustained overload wide jobs still take turns: a 1,024-GPU job passes the default threshold
  in 3.5 s and may come back 28 s later, so the events per job grow with the backlog (README).

Tiresias preempts by checkpointing the job (it keeps its progress): ``preemption: suspend``.
The default, ``requeue``, is this simulator's common rule (the work since the last checkpoint
is lost); with it, thresholds that cut runs shorter than the checkpoint interval can keep jobs
from ever finishing: each run is preempted before it saves anything. On one GPU with a 3 GPU-s
threshold and PROMOTEKNOB 1, a 20 s job and a 4 s job can take turns for good, each promoted
once its wait catches up with its run and preempted 3 s or less later (in a hand case, about
33,000 restarts each by 50,000 s). A 512-GPU job passes the default 3,600 GPU-s
threshold in 7 s and a 1,024-GPU one in 3.5 s, so at the defaults wide jobs whose checkpoint
interval is longer than that can do the same. That follows from the rules above, not from a
defect; ``suspend`` or thresholds scaled to the job sizes avoid it. (A defect did add to it:
victims a later, larger victim made needless were evicted and restarted in the same instant;
``engine.preemption.spare`` now keeps them running.)

Defaults: two queues split at 3,600 (GPU-seconds here) and PROMOTEKNOB = 8, the settings the
Voda scheduler's Tiresias gives as "described in the original Tiresias paper"
(heyfey/vodascheduler ``pkg/algorithm``; it counts the threshold in seconds). Tenancy priority
classes (``job.prio``) rank before the queues.
"""

from __future__ import annotations

from bisect import bisect_left

from clustersim.engine.component import Component
from clustersim.engine.policies.preemptive import Preemptive
from clustersim.model import FINISHED, QUEUED, Job


class _Hooks(Component):
    """The policy's view of job starts and stops (every one, whoever starts or stops it)."""

    def __init__(self, policy: LeastAttained):
        self.policy = policy

    def job_started(self, job, wall: float) -> None:
        self.policy.started(job)

    def job_ended(self, job) -> None:
        self.policy.stopped(job)


class LeastAttained(Preemptive):
    """Discretised 2D least attained service, preemptive (see the module docstring)."""

    def __init__(self, thresholds: list[float], promote_knob: float | None):
        self.thresholds = list(thresholds)  # GPU-seconds, increasing: K - 1 of them
        self.knob = promote_knob
        self.level: dict[Job, int] = {}  # queue index (0 = Q1); absent: 0
        self.attained: dict[Job, float] = {}  # GPU-s since the last promotion, closed segments
        self.since: dict[Job, float] = {}  # start of the running segment
        # the starvation clocks, wall seconds since the last promotion: run (closed segments),
        # waited (closed waits that followed a run), and the start of the open wait
        self.ran: dict[Job, float] = {}
        self.waited: dict[Job, float] = {}
        self.idle: dict[Job, float] = {}
        self.promotions = 0
        # the running jobs of the shared pool by rank, ascending (a rank only changes at a
        # start, a stop or a demotion: kept here, so a pass need not rank every running job)
        self._ranks: list[tuple] = []
        self._ranked: list[Job] = []
        self._rank_of: dict[Job, tuple] = {}

    @classmethod
    def from_config(cls, cfg) -> LeastAttained:
        policy = cls(cfg.thresholds, cfg.promote_knob)
        policy.suspend = cfg.preemption == "suspend"
        return policy

    def attach(self, engine) -> None:
        super().attach(engine)
        engine.parts.append(_Hooks(self))  # attached and hooked with the components

    def key(self, job: Job) -> tuple:
        return (job.prio, self.level.get(job, 0), job.seq)

    def served(self, job: Job, now: float) -> float:
        """Attained service (GPU-seconds) since the job's last promotion, up to ``now``."""
        a = self.attained.get(job, 0.0)
        t0 = self.since.get(job)
        if t0 is not None:
            a += job.spec.num_gpus * (now - t0)
        return a

    # ------------------------------------------------------------------------------ timers

    def started(self, job: Job) -> None:
        now = self.engine.env.now
        self.since[job] = now
        t1 = self.idle.pop(job, None)
        if t1 is not None:
            self.waited[job] = self.waited.get(job, 0.0) + (now - t1)
        if job.pool == 0:
            self._add(job)
        self._arm(job, now)

    def _add(self, job: Job) -> None:
        r = self._rank_of[job] = self.key(job)
        i = bisect_left(self._ranks, r)
        self._ranks.insert(i, r)
        self._ranked.insert(i, job)

    def _drop(self, job: Job) -> None:
        r = self._rank_of.pop(job, None)
        if r is not None:
            i = bisect_left(self._ranks, r)
            del self._ranks[i]
            del self._ranked[i]

    def _victims(self, now: float) -> tuple[list, list[Job]]:
        """The base class's lists (running jobs that may be preempted, lowest-ranked first)
        from the kept order: the same ranks, without ranking every running job at each pass."""
        ranks, jobs = self._ranks, self._ranked
        keep = [i for i in range(len(jobs) - 1, -1, -1) if jobs[i].hung_since is None]
        return [ranks[i] for i in keep], [jobs[i] for i in keep]

    def _arm(self, job: Job, now: float) -> None:
        """Schedule the instant the running job passes its queue's threshold."""
        lvl = self.level.get(job, 0)
        if lvl >= len(self.thresholds):
            return
        left = self.thresholds[lvl] - self.served(job, now)
        when = now + max(0.0, left) / job.spec.num_gpus
        self.engine.call_at(when, lambda _e, j=job, tok=job.token: self._demote(j, tok))

    def _demote(self, job: Job, token: int) -> None:
        if job.token != token or job not in self.engine.running:
            return  # stopped or restarted since: its next start armed a new timer
        now = self.engine.env.now
        self._drop(job)
        self.level[job] = self.level.get(job, 0) + 1  # its service reached the threshold now
        if job.pool == 0:
            self._add(job)
        self._arm(job, now)
        self.engine.capacity_changed()  # re-rank: queued jobs may now outrank it

    def stopped(self, job: Job) -> None:
        now = self.engine.env.now
        self._drop(job)
        t0 = self.since.pop(job, now)
        if job.state == FINISHED:
            self.level.pop(job, None)
            self.attained.pop(job, None)
            self.ran.pop(job, None)
            self.waited.pop(job, None)
            return
        self.attained[job] = self.attained.get(job, 0.0) + job.spec.num_gpus * (now - t0)
        ran = self.ran[job] = self.ran.get(job, 0.0) + (now - t0)
        self.idle[job] = now
        if self.knob is not None and self.level.get(job, 0) > 0 and ran > 0:
            # STARVELIMIT: the wait since the promotion reaches knob x the run since it
            when = now + max(0.0, self.knob * ran - self.waited.get(job, 0.0))
            self.engine.call_at(when, lambda _e, j=job, tok=job.token: self._promote(j, tok))

    def _promote(self, job: Job, token: int) -> None:
        if job.token != token or job.state != QUEUED:
            return  # it ran again since (or is not waiting in the queue)
        queue = self.engine.queue
        try:
            i = queue.index(job)
        except ValueError:
            return  # held outside the queue for this instant (tenancy): not waiting there
        queue.pop(i)
        self.level[job] = 0
        self.attained[job] = 0.0
        self.ran.pop(job, None)
        self.waited.pop(job, None)
        self.idle.pop(job, None)  # the wait from here to its next run is not counted
        queue.push(job)
        self.promotions += 1
        self.engine.capacity_changed()
