"""Checking a fit by generating its workload: does the fitted model ask for what the trace did?

:func:`check_fit` draws the fitted classes' jobs (growth left out) over ``repeats`` times the
trace's span, from the classes' own streams, and compares per class and in total: jobs and
GPU-hours per span (simulated mean over the repeats vs the trace) and the two-sample KS
distance between simulated and observed durations. Only the workload layer is involved: what
jobs ask for does not depend on the cluster that runs them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clustersim.config import JobClass
from clustersim.rng import Streams
from clustersim.workload.fit import DAY, WEEK, TraceFit, profile
from clustersim.workload.fit_dist import ks_two_sample
from clustersim.workload.synthetic import synthetic_jobs


@dataclass
class ClassCheck:
    name: str
    jobs_trace: int
    jobs_sim: float  # per span
    gpu_hours_trace: float
    gpu_hours_sim: float  # per span
    ks_sim: float  # simulated vs observed durations

    @property
    def gpu_hours_error(self) -> float:
        return self.gpu_hours_sim / self.gpu_hours_trace - 1 if self.gpu_hours_trace > 0 else math.nan


@dataclass
class FitCheck:
    repeats: int
    seed: int
    classes: list[ClassCheck]
    hourly_sim: list[float] | None  # simulated arrivals per hour of day, relative (mean 1)
    weekday_sim: list[float] | None  # ... per weekday, Monday first

    @property
    def gpu_hours_trace(self) -> float:
        return sum(c.gpu_hours_trace for c in self.classes)

    @property
    def gpu_hours_sim(self) -> float:
        return sum(c.gpu_hours_sim for c in self.classes)

    @property
    def gpu_hours_error(self) -> float:
        return self.gpu_hours_sim / self.gpu_hours_trace - 1 if self.gpu_hours_trace > 0 else math.nan


def check_fit(fit: TraceFit, classes: list[JobClass], *, repeats: int = 10, seed: int = 0) -> FitCheck:
    """Generate ``classes`` (the fitted scenario's) over ``repeats`` spans and compare them
    with the trace ``fit`` was made from. The simulated window starts where the trace did on
    the simulation clock, so its hours and weekdays line up."""
    base = [c.model_copy(update={"growth": None}) for c in classes]
    start = float(min(c.submit.min() for c in fit.classes))
    horizon = start + repeats * fit.span_s
    specs = [s for s in synthetic_jobs(base, Streams(seed), horizon) if s.submit_s >= start]
    names = np.array([s.job_class for s in specs], dtype=object)
    gpus = np.array([s.num_gpus for s in specs], dtype=float)
    dur = np.array([s.duration_s for s in specs], dtype=float)
    out = []
    for c in fit.classes:
        mine = names == c.name
        out.append(ClassCheck(
            name=c.name, jobs_trace=c.n, jobs_sim=float(mine.sum()) / repeats,
            gpu_hours_trace=c.gpu_hours,
            gpu_hours_sim=float(np.sum(gpus[mine] * dur[mine])) / 3600.0 / repeats,
            ks_sim=ks_two_sample(dur[mine], c.durations),
        ))
    submit = np.array([s.submit_s for s in specs], dtype=float)
    return FitCheck(repeats, seed, out, profile(submit, start, horizon - start, DAY, 24),
                    profile(submit, start, horizon - start, WEEK, 7))


__all__ = ["ClassCheck", "FitCheck", "check_fit"]
