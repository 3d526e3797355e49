"""The power component under ``mode: capping`` (``Power`` builds it for that mode): power
limits for training jobs and, with an inference curve, replicas, re-timing the jobs they slow
(``engine.power_modes`` and ``engine.replica_power`` say when and by how much), and the books
of capped time and lost throughput. The power model itself: ``engine.power``."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from clustersim.engine.power import MARGIN_W, Power
from clustersim.engine.power_modes import shed, throttle, throttle_rank
from clustersim.engine.replica_power import ReplicaPower


class CappedPower(Power):
    """The power component under ``mode: capping``: it slows training jobs and, with an inference
    curve, replicas (``engine.power_modes`` and ``engine.replica_power`` say when and by how
    much) and keeps the books of capped time and lost throughput."""

    def attach(self, engine) -> None:
        super().attach(engine)
        # the replicas' power limit and its books (None: they keep full power)
        self.replicas = ReplicaPower(self) if self.cfg.caps_inference and self.inference is not None else None
        self.frac: dict = {}  # running job -> its power limit (fraction of busy_w), when below 1
        self.since: dict[int, float] = {}  # job seq -> capped since
        self.capped_time: dict[int, float] = {}  # job seq -> capped seconds so far
        self.shed = 0.0  # IT watts below full draw
        self.gpus = 0  # GPUs of the capped jobs
        self._loss = 0.0  # sum of g x (1 - speed factor) over capped jobs
        self._lost = 0.0  # GPU-seconds of throughput lost so far
        self._t = 0.0
        self._key = None
        self._pending = False
        # running training jobs on owned pools in the order they throttle (``throttle_rank``),
        # kept as they start and end; None under ``even``, whose one limit needs them all
        order = self.cfg.capping.order
        self._rank = None if order == "even" else throttle_rank(order)
        self._ranks: list[tuple] = []  # their sort keys, ascending
        self._ranked: list[tuple] = []  # their throttle entries (job, GPUs, seq, busy_w), same order

    # ------------------------------------------------------------------- speed (core hook)

    def speed_of(self, job) -> float:
        f = self.frac.get(job)
        return 1.0 if f is None else self.cfg.capping.speed(f)

    def speed_factor(self, job, nodes) -> float:
        return self.speed_of(job)

    def job_started(self, job, wall: float) -> None:
        self.mode.started(job, wall)
        g = self.pool_gpu[job.pool]
        if self._rank is not None and g is not None:  # rented pools are off-site: never throttled
            entry = (job, job.spec.num_gpus, job.seq, g.busy_w)
            rank = self._rank(entry)
            i = bisect_right(self._ranks, rank)
            self._ranks.insert(i, rank)
            self._ranked.insert(i, entry)

    def job_ended(self, job) -> None:
        self.mode.ended(job)
        if self._rank is not None and self.pool_gpu[job.pool] is not None:
            rank = self._rank((job, job.spec.num_gpus, job.seq))
            i = bisect_left(self._ranks, rank)
            if i < len(self._ranks) and self._ranks[i] == rank:
                del self._ranks[i], self._ranked[i]
        if job in self.frac:
            self._account()
            self._set(job, None)

    # ------------------------------------------------------------------- the allocation

    def levels(self) -> tuple:
        now = self.env.now
        i = self.segment(now)
        key = (self.cluster.changes, i, self.stages)
        if key != self._key and not self._pending:
            self._pending = True
            self.engine.call_at(now, self._rebalance)
        rep = self.replicas
        if rep is not None:
            rep.account()
        shed = round(self.shed if rep is None else self.shed + rep.shed())
        it = round(self.it_power()) - shed
        row = (it, round(self.seg_pue[i] * it), self.seg_cap[i], len(self.mode.gate.refused), self.gpus, shed)
        return row if rep is None else row + (rep.gpus(),)

    def _rebalance(self, _event) -> None:
        self._pending = False
        now = self.env.now
        i = self.segment(now)
        self._key = (self.cluster.changes, i, self.stages)
        pue = self.seg_pue[i]
        excess = self.it_power() - (self.seg_cap[i] - max(MARGIN_W, pue + 0.5)) / pue
        rep = self.replicas
        if excess <= 0 and not self.frac and (rep is None or rep.f == 1.0):
            return  # nothing to shed and nothing capped: no limit changes
        if rep is None and self._rank is not None:  # the running jobs are kept in throttle order
            want, level = (shed(self._ranked, excess, self.mode.floor) if excess > 0 else {}), 1.0
        else:
            gpus = self.pool_gpu  # rented pools (None) are off-site: their jobs never throttle
            running = [(j, j.spec.num_gpus, j.seq, gpus[j.pool].busy_w) for j in self.engine.running
                       if gpus[j.pool] is not None]
            if rep is None:
                want, level = throttle(running, excess, self.mode.floor, self.cfg.capping.order), 1.0
            else:
                want, level = rep.allocate(running, excess, self.mode.floor)
        frac = self.frac  # the jobs whose limit changes (in no particular order: sorted below)
        changed = [j for j, f in want.items() if frac.get(j) != f] + [j for j in frac if j not in want]
        if not changed and (rep is None or level == rep.f):
            return
        self._account()
        for job in sorted(changed, key=lambda j: j.seq):
            self._set(job, want.get(job))
            self.engine.respeed(job)
        if rep is not None and level != rep.f:
            rep.set(level)
        self.engine.request_pass(changed=False)  # the row at the new limits

    def _set(self, job, f: float | None) -> None:
        """Give ``job`` limit ``f`` (None: full power) and keep the books."""
        now = self.env.now
        busy_w = self.pool_gpu[job.pool].busy_w
        g = job.spec.num_gpus
        old = self.frac.pop(job, None)
        if old is not None:
            self.gpus -= g
            self.shed -= g * busy_w * (1.0 - old)
            self._loss -= g * (1.0 - self.cfg.capping.speed(old))
            since = self.since.pop(job.seq)
            self.capped_time[job.seq] = self.capped_time.get(job.seq, 0.0) + now - since
        if f is not None:
            self.frac[job] = f
            self.gpus += g
            self.shed += g * busy_w * (1.0 - f)
            self._loss += g * (1.0 - self.cfg.capping.speed(f))
            self.since[job.seq] = now
        if not self.frac:  # no drift from sums of floats
            self.shed = self._loss = 0.0

    def _account(self) -> None:
        now = self.env.now
        self._lost += self._loss * (now - self._t)
        self._t = now

    # ------------------------------------------------------------------- horizon

    def capped_seconds(self, n: int):
        import numpy as np

        now = self.env.now
        out = np.zeros(n)
        for seq, s in self.capped_time.items():
            out[seq] = s
        for seq, since in self.since.items():  # still capped at the horizon
            out[seq] += now - since
        return out

    def lost_gpu_s(self) -> float:
        self._account()
        return self._lost
