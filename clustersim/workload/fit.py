"""Fitting a synthetic workload to a job trace: classes, arrival rates and profiles, GPU counts.

:func:`fit_trace` turns a native job table (``load_any(...).jobs``) into a :class:`TraceFit`:
one :class:`ClassFit` per job class, each with

* its jobs: by GPU-count band (``by-size``: 1, 2-8, 9-64, 65-512, 513-4096, more; a band
  with fewer than ``min_jobs`` jobs joins its smaller neighbour), ``K`` bands of GPU counts
  (``classes``: the split of the sorted counts that minimises the spread of log2(GPUs) within
  classes), or the trace's own ``job_class`` column (``by-class``: teams, queues);
* a Poisson arrival rate (jobs / observed span) with hour-of-day and weekday multipliers:
  jobs per hour-of-day (weekday) bin divided by the time the span spends in that bin, relative
  to their mean; the class's own when it has enough jobs (``PROFILE_MIN``), else the whole
  trace's, else none;
* GPU-count probabilities (observed frequencies) and a duration distribution
  (:mod:`.fit_dist`: a lognormal when it fits, else the observed durations, resampled). When
  the class's GPU counts run for visibly different times (drawing count and duration
  independently would change its GPU-hours by more than ``JOINT_TOL``), each count gets its
  own distribution (``duration_by_gpus``), fitted the same way.

Times: the simulation's time 0 is midnight of a Monday. A trace with clock times (its adapter
shifted Unix seconds so that the first job is at 0) is placed at its real UTC hour and weekday:
``offset_s`` is then the time from the Monday midnight before its first job; other traces
(ITP, native) keep their own time 0 as midnight of a Monday.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from clustersim.errors import ClusterSimError
from clustersim.workload.fit_dist import DurationFit, fit_duration

DAY = 86400.0
WEEK = 7 * DAY
MIN_JOBS = 20
JOINT_TOL = 0.02
BANDS = ((1, 1), (2, 8), (9, 64), (65, 512), (513, 4096), (4097, 1 << 62))
PROFILE_MIN = {24: 480, 7: 210}  # jobs for a profile of its own: ~20 per hour, ~30 per weekday
EPOCH_MONDAY = 4 * DAY  # 1970-01-05 00:00 UTC, the first Monday of the Unix epoch
_SHIFT = re.compile(r"times shifted by ([-+]?[\d.]+(?:e[-+]?\d+)?) s")
MODES = ("by-size", "classes", "by-class")


@dataclass
class ClassFit:
    """One fitted class: what the scenario gets, and what it was fitted to."""

    name: str
    n: int
    rate_per_h: float
    gpus: dict[int, float]
    duration: DurationFit
    hourly: list[float] | None
    weekday: list[float] | None
    profile: str  # where the profile comes from: own, trace, none
    by_gpus: dict[int, DurationFit] | None  # durations by GPU count, where they differ
    joint_bias: float  # GPU-hours lost by drawing count and duration independently
    submit: np.ndarray = field(repr=False)  # observed submit times (on the simulation clock)
    num_gpus: np.ndarray = field(repr=False)
    durations: np.ndarray = field(repr=False)

    @property
    def gpu_hours(self) -> float:
        return float(np.sum(self.num_gpus * self.durations)) / 3600.0

    def expected_gpu_hours(self, span: float) -> float:
        """GPU-hours the fitted class asks for over ``span`` seconds (without growth)."""
        jobs = self.rate_per_h * span / 3600.0
        by = self.by_gpus or {}
        gpu_s = sum(p * c * (by[c] if c in by else self.duration).fitted["mean"] for c, p in self.gpus.items())
        return jobs * gpu_s / 3600.0


@dataclass
class TraceFit:
    classes: list[ClassFit]
    span_s: float  # observed window: first to last submission
    offset_s: float  # trace time 0 on the simulation clock (0 without clock times)
    mode: str
    hourly: list[float] | None  # the whole trace's profiles (for the figure)
    weekday: list[float] | None
    mean_demand_gpus: float
    max_gpus: int
    notes: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> int:
        return sum(c.n for c in self.classes)

    @property
    def gpu_hours(self) -> float:
        return sum(c.gpu_hours for c in self.classes)


def clock_offset(notes) -> float:
    """Seconds from the Monday 00:00 UTC before the first job to the first job, when the
    adapter's notes show that Unix times were shifted to 0; else 0."""
    for note in notes or ():
        m = _SHIFT.search(str(note))
        if m:
            shift = -float(m.group(1))  # the notes give the shift applied, -(first time)
            if shift > 1e8:  # Unix seconds (after 1973): the trace has clock times
                return (shift - EPOCH_MONDAY) % WEEK
    return 0.0


def exposure(offset: float, span: float, period: float, bins: int) -> np.ndarray:
    """Seconds of [offset, offset + span) spent in each of ``bins`` equal bins of the period."""
    width = period / bins
    edges = np.arange(bins) * width
    out = np.zeros(bins)
    for m in range(int(offset // period), int((offset + span) // period) + 1):
        lo = np.maximum(m * period + edges, offset)
        hi = np.minimum(m * period + edges + width, offset + span)
        out += np.clip(hi - lo, 0.0, None)
    return out


def profile(times: np.ndarray, offset: float, span: float, period: float, bins: int) -> list[float] | None:
    """Relative arrival rate per bin (mean 1): jobs per bin over time spent in the bin."""
    exp = exposure(offset, span, period, bins)
    if span < 2 * period or not (exp > 0).all():
        return None
    counts = np.bincount(((times % period) // (period / bins)).astype(np.int64) % bins, minlength=bins)
    rates = counts / exp
    if rates.mean() <= 0:
        return None
    return [round(float(x), 4) for x in rates / rates.mean()]


def _merge_small(groups: list[list[int]], n_of, min_jobs: int) -> list[list[int]]:
    """Merge each group with fewer than ``min_jobs`` jobs into its smaller neighbour."""
    groups = [list(g) for g in groups]
    while len(groups) > 1:
        sizes = [sum(n_of[c] for c in g) for g in groups]
        i = int(np.argmin(sizes))
        if sizes[i] >= min_jobs:
            break
        j = i - 1 if i == len(groups) - 1 or (i > 0 and sizes[i - 1] <= sizes[i + 1]) else i + 1
        lo, hi = sorted((i, j))
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    return groups


def _k_bands(counts: list[int], n_of: dict[int, int], k: int, min_jobs: int) -> list[list[int]]:
    """The split of the sorted GPU counts into ``k`` contiguous groups, each of at least
    ``min_jobs`` jobs, minimising the job-weighted variance of log2(GPUs) within groups."""
    m = len(counts)
    x = np.log2(np.array(counts, dtype=float))
    w = np.array([n_of[c] for c in counts], dtype=float)
    cw, cx, cxx = (np.concatenate([[0.0], np.cumsum(a)]) for a in (w, w * x, w * x * x))

    def cost(i: int, j: int) -> float:  # counts[i:j]
        n = cw[j] - cw[i]
        if n < min_jobs:
            return math.inf
        return cxx[j] - cxx[i] - (cx[j] - cx[i]) ** 2 / n

    best = np.full((k + 1, m + 1), math.inf)
    cut = np.zeros((k + 1, m + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for g in range(1, k + 1):
        for j in range(g, m + 1):
            for i in range(g - 1, j):
                c = best[g - 1, i] + cost(i, j)
                if c < best[g, j]:
                    best[g, j], cut[g, j] = c, i
    if not math.isfinite(best[k, m]):
        raise ClusterSimError(
            f"cannot make {k} classes of at least {min_jobs} jobs each from {int(cw[-1]):,} jobs in "
            f"{m} GPU counts; ask for fewer classes (--classes) or lower --min-jobs"
        )
    groups, j = [], m
    for g in range(k, 0, -1):
        i = int(cut[g, j])
        groups.append(counts[i:j])
        j = i
    return groups[::-1]


def band_name(group: list[int]) -> str:
    return f"{group[0]}gpu" if len(group) == 1 else f"{group[0]}-{group[-1]}gpu"


def assign_classes(jobs, mode: str = "by-size", k: int | None = None, min_jobs: int = MIN_JOBS) -> np.ndarray:
    """The class name of every job of the trace (see the module docs for the modes)."""
    if mode not in MODES:
        raise ClusterSimError(f"unknown class mode {mode!r}; use one of {', '.join(MODES)}")
    n = len(jobs)
    if n < min_jobs:
        raise ClusterSimError(
            f"the trace has {n:,} usable jobs: too few to fit a class (at least {min_jobs} needed; "
            "--min-jobs lowers it, at the cost of a noisier fit)"
        )
    if mode == "by-class":
        names = jobs["job_class"].astype(str).to_numpy()
        values, sizes = np.unique(names, return_counts=True)
        small = [f"{v} ({c})" for v, c in zip(values, sizes, strict=True) if c < min_jobs]
        if small:
            raise ClusterSimError(
                f"too few jobs to fit class(es) {', '.join(small)}: each needs at least {min_jobs}; "
                "use --by-size or --classes K, or lower --min-jobs"
            )
        return names
    gpus = jobs["num_gpus"].to_numpy(np.int64)
    counts, sizes = np.unique(gpus, return_counts=True)
    n_of = {int(c): int(s) for c, s in zip(counts, sizes, strict=True)}
    if mode == "classes":
        if not k or k < 1:
            raise ClusterSimError("--classes: give a number of classes >= 1")
        if k > len(counts):
            raise ClusterSimError(f"--classes {k}: the trace has only {len(counts)} distinct GPU counts")
        groups = _k_bands([int(c) for c in counts], n_of, k, min_jobs)
    else:
        bands = [[int(c) for c in counts if lo <= c <= hi] for lo, hi in BANDS]
        groups = _merge_small([b for b in bands if b], n_of, min_jobs)
    name_of = {c: band_name(g) for g in groups for c in g}
    return np.array([name_of[int(g)] for g in gpus], dtype=object)


def fit_trace(jobs, *, mode: str = "by-size", k: int | None = None, min_jobs: int = MIN_JOBS,
              offset: float = 0.0, ks_max: float = 0.05, mean_tol: float = 0.05) -> TraceFit:
    """Fit every class of the native job table ``jobs`` (see the module docs)."""
    from clustersim.workload.replay import demand_peak

    names = assign_classes(jobs, mode, k, min_jobs)
    submit = jobs["submit_s"].to_numpy(float) + offset
    gpus = jobs["num_gpus"].to_numpy(np.int64)
    dur = jobs["duration_s"].to_numpy(float)
    span = float(submit.max() - submit.min()) if len(submit) else 0.0
    if span <= 0:
        raise ClusterSimError("every job of the trace is submitted at the same time: no arrival rate to fit")
    start = offset + float(jobs["submit_s"].min())
    pooled = {
        bins: profile(submit, start, span, period, bins) if len(submit) >= PROFILE_MIN[bins] else None
        for period, bins in ((DAY, 24), (WEEK, 7))
    }
    order = sorted(set(names.tolist()), key=lambda c: (float(np.median(gpus[names == c])), str(c)))
    classes = []
    for name in order:
        mine = names == name
        n = int(mine.sum())
        own = {bins: profile(submit[mine], start, span, period, bins) if n >= PROFILE_MIN[bins] else None
               for period, bins in ((DAY, 24), (WEEK, 7))}
        hourly, weekday = own[24] or pooled[24], own[7] or pooled[7]
        source = "own" if own[24] or own[7] else "trace" if hourly or weekday else "none"
        values, freq = np.unique(gpus[mine], return_counts=True)
        probs = _probabilities(values, freq)
        g, d = gpus[mine].astype(float), dur[mine]
        bias = float(g.mean() * d.mean() / np.mean(g * d)) - 1.0 if np.mean(g * d) > 0 else 0.0
        by_gpus = None
        if len(values) > 1 and abs(bias) > JOINT_TOL:
            by_gpus = {int(c): fit_duration(d[g == c], ks_max=ks_max, mean_tol=mean_tol) for c in values}
        classes.append(ClassFit(
            name=str(name), n=n, rate_per_h=n / span * 3600.0, gpus=probs,
            duration=fit_duration(d, ks_max=ks_max, mean_tol=mean_tol),
            hourly=hourly, weekday=weekday, profile=source, by_gpus=by_gpus, joint_bias=bias,
            submit=submit[mine], num_gpus=gpus[mine], durations=d,
        ))
    mean_demand, _peak = demand_peak(jobs, 1)
    return TraceFit(classes, span, offset, mode, pooled[24], pooled[7], mean_demand,
                    int(gpus.max()) if len(gpus) else 0)


def _probabilities(values: np.ndarray, freq: np.ndarray) -> dict[int, float]:
    """Observed frequencies, rounded to 6 decimals, summing to exactly 1."""
    probs = [round(float(f) / float(freq.sum()), 6) for f in freq]
    probs[int(np.argmax(freq))] += 1.0 - sum(probs)
    return {int(v): round(p, 9) for v, p in zip(values, probs, strict=True)}


def cluster_size(fit: TraceFit, gpus_per_node: int, nodes: int | None = None,
                 load: float = 0.8) -> tuple[int, str]:
    """Nodes for the fitted scenario, and how they were chosen: given, or sized so that the
    trace's mean demand is ``load`` of the cluster (as ``clustersim replay``)."""
    if nodes is not None:
        return nodes, f"{nodes} nodes x {gpus_per_node} GPUs (given)"
    need = max(math.ceil(fit.mean_demand_gpus / load / gpus_per_node),
               math.ceil(fit.max_gpus / gpus_per_node), 1)
    return need, (f"{need} nodes x {gpus_per_node} GPUs: the trace does not give its cluster's size, so "
                  f"its mean demand ({fit.mean_demand_gpus:,.0f} GPUs) is {load:.0%} of the cluster, "
                  "as `clustersim replay` sizes it")


__all__ = ["MIN_JOBS", "MODES", "ClassFit", "TraceFit", "assign_classes", "clock_offset",
           "cluster_size", "exposure", "fit_trace", "profile"]
