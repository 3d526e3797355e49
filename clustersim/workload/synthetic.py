"""Synthetic workloads: the scenario's job classes as a JobSpec stream in submit order.

Each class draws from its own named streams (``arrivals.<class>``, ``sizes.<class>``,
``durations.<class>``), so changing one class's durations leaves every arrival time unchanged
(common random numbers).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import numpy as np

from clustersim.config import JobClass
from clustersim.model import JobSpec
from clustersim.rng import Draws, Streams


def class_jobs(cls: JobClass, streams: Streams, horizon: float) -> Iterator[JobSpec]:
    """Poisson arrivals of one class, submitted before ``horizon``."""
    if cls.arrival_rate_per_h <= 0:
        return
    mean_gap = 3600.0 / cls.arrival_rate_per_h
    gen_a = streams(f"arrivals.{cls.name}")
    gen_s = streams(f"sizes.{cls.name}")
    gen_d = streams(f"durations.{cls.name}")
    gaps = Draws(lambda n: gen_a.exponential(mean_gap, n))
    counts = np.array(list(cls.gpus), dtype=np.int64)
    probs = np.array(list(cls.gpus.values()), dtype=float)
    probs = probs / probs.sum()
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


def synthetic_jobs(classes: list[JobClass], streams: Streams, horizon: float) -> Iterator[JobSpec]:
    """All classes merged in submit order (ties keep class order)."""
    sources = [class_jobs(c, streams, horizon) for c in classes]
    return heapq.merge(*sources, key=lambda s: s.submit_s)
