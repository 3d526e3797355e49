"""Synthetic workloads: the scenario's job classes as a JobSpec stream in submit order.

Each class draws from its own named streams (``arrivals.<class>``, ``sizes.<class>``,
``durations.<class>``), so changing one class's durations leaves every arrival time unchanged
(common random numbers).

A class without an arrival pattern is a homogeneous Poisson process (exponential gaps). A class
with one (``hourly``, ``weekday``, ``growth``) is a non-homogeneous Poisson process of rate

    λ(t) = rate × h[hour(t)] / mean(h) × w[day(t)] / mean(w) × (1 + g)^(t / 365 d) × m(t)

generated exactly by thinning (Lewis and Shedler) hour by hour: within each hour, candidates
at a constant rate λ̄ ≥ λ(t) on that hour, each kept with probability λ(t) / λ̄ (a candidate
past the hour's end is dropped and the next hour starts afresh, exact since exponential gaps
are memoryless); candidate gaps and acceptance draws both come from the class's own
``arrivals.<class>`` stream. Time 0 is midnight of a Monday.
``m(t)`` is the size shift: with ``size_shift`` s, a job of c GPUs has weight c^θ(t),
θ(t) = log2(1 + s) × t / 365 d, so its class's rate is scaled by A(θ) = Σ p_c c^θ and its GPU
count drawn from p_c c^θ / A(θ); dividing by Z(t) = Σ_k rate_k A_k / Σ_k rate_k (over all
classes) keeps the base-rate-weighted job count as the growth rate alone says.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence

import numpy as np

from clustersim.config import JobClass
from clustersim.model import JobSpec
from clustersim.rng import Draws, Streams

DAY = 86400.0
YEAR = 365 * DAY


class SizeShift:
    """The normaliser Z(t) of the size shift over all classes (1 when no class shifts); each
    of its terms is monotone in t."""

    def __init__(self, classes: Sequence[JobClass]):
        self.terms = []  # (base rate, counts, probs, θ per second)
        for cls in classes:
            if cls.arrival_rate_per_h > 0:
                counts, probs = _sizes(cls)
                self.terms.append((cls.arrival_rate_per_h, counts.tolist(), probs.tolist(), _theta_rate(cls)))
        self.total = sum(t[0] for t in self.terms)
        self.active = any(t[3] != 0.0 for t in self.terms)

    def z(self, t: float) -> float:
        if not self.active or self.total <= 0:
            return 1.0
        return sum(r * _tilt(c, p, k * t) for r, c, p, k in self.terms) / self.total

    def z_low(self, a: float, b: float) -> float:
        """A lower bound of Z on [a, b]: each term at its smaller end."""
        if not self.active or self.total <= 0:
            return 1.0
        return sum(r * min(_tilt(c, p, k * a), _tilt(c, p, k * b)) for r, c, p, k in self.terms) / self.total


def _sizes(cls: JobClass) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array(list(cls.gpus), dtype=np.int64)
    probs = np.array(list(cls.gpus.values()), dtype=float)
    return counts, probs / probs.sum()


def _theta_rate(cls: JobClass) -> float:
    shift = cls.growth.size_shift if cls.growth is not None else 0.0
    return math.log2(1.0 + shift) / YEAR if shift else 0.0


def _tilt(counts: list[int], probs: list[float], theta: float) -> float:
    """A(θ) = Σ p_c c^θ: the class's rate multiplier before normalising (plain floats: a few
    counts, called once per candidate)."""
    if not theta:
        return 1.0
    total = 0.0
    for c, p in zip(counts, probs, strict=True):
        total += p * c ** theta
    return total


class ArrivalRate:
    """λ(t) of one patterned class, in jobs per second; bounds of it on [0, horizon]
    (``bound``) and on an hour (``bound_on``)."""

    def __init__(self, cls: JobClass, horizon: float, shift: SizeShift):
        self.base = cls.arrival_rate_per_h / 3600.0
        h = np.asarray(cls.hourly if cls.hourly is not None else [1.0] * 24, dtype=float)
        w = np.asarray(cls.weekday if cls.weekday is not None else [1.0] * 7, dtype=float)
        self.hourly = (h / h.mean()).tolist()
        self.weekday = (w / w.mean()).tolist()
        rate = cls.growth.rate if cls.growth is not None else 0.0
        self.k = math.log1p(rate) / YEAR  # growth: exp(k t)
        self.counts, self.probs = _sizes(cls)
        self.count_list, self.prob_list = self.counts.tolist(), self.probs.tolist()
        self.theta = _theta_rate(cls)
        self.shift = shift
        # an upper bound of λ on all of [0, horizon]: the peak rate, for an estimate of the work
        grow = max(1.0, math.exp(self.k * horizon))
        tilt = max(1.0, _tilt(self.count_list, self.prob_list, self.theta * horizon))
        self.bound = self.base * max(self.hourly) * max(self.weekday) * grow * tilt / shift.z_low(0.0, horizon)

    def bound_on(self, a: float, b: float) -> float:
        """An upper bound of λ on [a, b), an interval inside one hour: the profile is constant
        there, and growth, tilt and normaliser are each monotone in t."""
        day = int(a // DAY)
        rate = self.base * self.hourly[int((a - day * DAY) // 3600.0) % 24] * self.weekday[day % 7]
        if self.k:
            rate *= math.exp(self.k * (b if self.k > 0 else a))
        if self.theta:
            rate *= max(_tilt(self.count_list, self.prob_list, self.theta * a),
                        _tilt(self.count_list, self.prob_list, self.theta * b))
        if self.shift.active:
            rate /= self.shift.z_low(a, b)
        return rate

    def __call__(self, t: float) -> float:
        day = int(t // DAY)
        rate = self.base * self.hourly[int((t - day * DAY) // 3600.0) % 24] * self.weekday[day % 7]
        if self.k:
            rate *= math.exp(self.k * t)
        if self.theta:
            rate *= _tilt(self.count_list, self.prob_list, self.theta * t)
        if self.shift.active:
            rate /= self.shift.z(t)
        return rate

    def size_at(self, t: float, u: float) -> int:
        """The GPU count for uniform ``u`` at time t: probabilities p_c c^θ(t) / A(θ(t)) (the
        size shift tilts them toward larger counts), by inverting their CDF."""
        theta = self.theta * t
        weights = [p * c ** theta for c, p in zip(self.count_list, self.prob_list, strict=True)]
        goal, acc = u * sum(weights), 0.0
        for c, w in zip(self.count_list, weights, strict=True):
            acc += w
            if goal < acc:
                return int(c)
        return int(self.counts[-1])


def class_jobs(cls: JobClass, streams: Streams, horizon: float,
               shift: SizeShift | None = None) -> Iterator[JobSpec]:
    """Arrivals of one class, submitted before ``horizon`` (``shift``: the size-shift normaliser
    over all classes; by default this class alone)."""
    if cls.arrival_rate_per_h <= 0:
        return
    if cls.patterned or cls.duration_by_gpus:
        yield from _patterned_jobs(cls, streams, horizon, shift or SizeShift([cls]))
        return
    mean_gap = 3600.0 / cls.arrival_rate_per_h
    gen_a = streams(f"arrivals.{cls.name}")
    gen_s = streams(f"sizes.{cls.name}")
    gen_d = streams(f"durations.{cls.name}")
    gaps = Draws(lambda n: gen_a.exponential(mean_gap, n))
    counts, probs = _sizes(cls)
    if len(counts) == 1:
        only = int(counts[0])
        sizes = Draws(lambda n: np.full(n, only))
    else:
        sizes = Draws(lambda n: counts[gen_s.choice(len(counts), size=n, p=probs)])
    durations = Draws(cls.duration.sampler(gen_d))
    name = cls.name
    t = 0.0
    while True:
        t += gaps.next()
        if t >= horizon:
            return
        yield JobSpec(None, t, int(sizes.next()), float(durations.next()), name)


def _patterned_jobs(cls: JobClass, streams: Streams, horizon: float, shift: SizeShift) -> Iterator[JobSpec]:
    """Non-homogeneous Poisson arrivals by thinning (see the module docs); also the classes with
    durations by GPU count (a constant rate: every candidate is kept)."""
    rate = ArrivalRate(cls, horizon, shift)
    gen_a = streams(f"arrivals.{cls.name}")
    gen_s = streams(f"sizes.{cls.name}")
    gen_d = streams(f"durations.{cls.name}")
    # one block of (standard exponential, uniform) pairs at a time, from the arrival stream
    candidates = Draws(lambda n: np.column_stack([gen_a.standard_exponential(n), gen_a.random(n)]))
    counts = rate.counts
    tilted = rate.theta != 0.0 and len(counts) > 1
    if tilted:
        uniform = Draws(lambda n: gen_s.random(n))
    elif len(counts) == 1:
        only = int(counts[0])
        sizes = Draws(lambda n: np.full(n, only))
    else:
        probs = rate.probs
        sizes = Draws(lambda n: counts[gen_s.choice(len(counts), size=n, p=probs)])
    durations = Draws(cls.duration.sampler(gen_d))
    by_count = {int(c): Draws(d.sampler(gen_d)) for c, d in (cls.duration_by_gpus or {}).items()}
    name = cls.name
    t, end, bound = 0.0, 0.0, 0.0
    while t < horizon:
        if t >= end:  # a new hour: its bound
            end = min((math.floor(t / 3600.0) + 1) * 3600.0, horizon)
            bound = rate.bound_on(t, end)
        if bound <= 0:
            t = end
            continue
        e, u = candidates.next()
        if t + e / bound >= end:  # no candidate left in this hour
            t = end
            continue
        t += e / bound
        if u * bound >= rate(t):
            continue
        if tilted:
            g = rate.size_at(t, uniform.next())
        else:
            g = int(sizes.next())
        yield JobSpec(None, t, g, float(by_count.get(g, durations).next()), name)


def synthetic_jobs(classes: list[JobClass], streams: Streams, horizon: float) -> Iterator[JobSpec]:
    """All classes merged in submit order (ties keep class order)."""
    shift = SizeShift(classes)
    sources = [class_jobs(c, streams, horizon, shift) for c in classes]
    return sources[0] if len(sources) == 1 else _merged(sources)


def _merged(sources: list[Iterator[JobSpec]]) -> Iterator[JobSpec]:
    """The sources' jobs by submit time, ties in source order (as ``heapq.merge`` with that
    key, written out: the engine's compiled build runs it without a Python-level generator)."""
    heap: list[tuple[float, int, JobSpec, Iterator[JobSpec]]] = []
    for i, it in enumerate(sources):
        first = next(it, None)
        if first is not None:
            heap.append((first.submit_s, i, first, it))
    heapq.heapify(heap)
    while heap:
        _t, i, spec, it = heap[0]
        yield spec
        nxt = next(it, None)
        if nxt is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (nxt.submit_s, i, nxt, it))
