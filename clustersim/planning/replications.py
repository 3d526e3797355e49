"""Replications: many seeds of one scenario, and a confidence interval for every metric.

Every numeric leaf of a run's summary is a metric, named by its dotted path
(``wait_s.p90``, ``by_class.large.wait_s.p90``, ``jobs.finished``). Across seeds each metric
gets a mean, a sample standard deviation and a Student-t confidence interval (95% by
default): ``mean ± t(0.975, n-1) · std / √n``. The replications are independent (distinct
seeds), so the interval is exact for normally distributed metrics and a good approximation
for means over many jobs. A run where a metric is undefined (no job of that class started,
say) contributes nothing to it, so ``n`` may differ between metrics.

``replicate_precise`` adds seeds in batches until every named metric's half-width is at most
``precision × |mean|``, or a cap on seeds is reached, and says which.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clustersim.errors import ClusterSimError

CONFIDENCE = 0.95
SKIP_KEYS = frozenset({"seed"})  # a run's identity, not a measurement


# --------------------------------------------------------------------------- Student t


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for aa in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _beta_inc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom, t >= 0."""
    return 0.5 * _beta_inc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (``t_quantile(0.975, 4) = 2.776``), to ~1e-10."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"need 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    tail = 1.0 - p
    lo, hi = 0.0, 1.0
    while t_tail(hi, df) > tail:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_tail(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------- metrics


def flatten(summary: dict, *, keep_none: bool = False, _prefix: str = "") -> dict[str, Any]:
    """Numeric leaves of a summary as ``{"dotted.key": value}`` (booleans and text skipped;
    undefined values kept as None only with ``keep_none``)."""
    out: dict[str, Any] = {}
    for name, value in summary.items():
        key = f"{_prefix}{name}"
        if not _prefix and key in SKIP_KEYS:
            continue
        if isinstance(value, dict):
            out.update(flatten(value, keep_none=keep_none, _prefix=key + "."))
        elif isinstance(value, bool) or isinstance(value, str):
            continue
        elif isinstance(value, int | float):
            out[key] = value
        elif value is None and keep_none:
            out[key] = None
    return out


@dataclass(frozen=True)
class MetricStats:
    """One metric across replications; None where undefined (no data, or n < 2 for spread)."""

    n: int
    mean: float | None
    std: float | None
    half_width: float | None
    confidence: float = CONFIDENCE
    non_negative: bool = False  # every value was >= 0 (times, counts, shares): lo is clipped at 0

    @classmethod
    def of(cls, values: Iterable[float | None], confidence: float = CONFIDENCE) -> MetricStats:
        xs = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(xs)
        if n == 0:
            return cls(0, None, None, None, confidence)
        mean = math.fsum(xs) / n
        if n == 1:
            return cls(1, mean, None, None, confidence)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
        half = t_quantile(0.5 + confidence / 2.0, n - 1) * std / math.sqrt(n)
        return cls(n, mean, std, half, confidence, non_negative=min(xs) >= 0)

    @property
    def lo(self) -> float | None:
        """Lower end of the interval; a metric that cannot be negative is not shown below 0
        (the Student-t interval is symmetric and can cross 0 when few seeds vary a lot)."""
        if self.half_width is None:
            return None
        lo = self.mean - self.half_width
        return max(lo, 0.0) if self.non_negative else lo

    @property
    def hi(self) -> float | None:
        return None if self.half_width is None else self.mean + self.half_width

    def precise(self, precision: float) -> bool:
        """Half-width at most ``precision × |mean|`` (an exact zero counts as precise)."""
        return self.half_width is not None and self.half_width <= precision * abs(self.mean)

    def to_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "std": self.std, "half_width": self.half_width,
                "lo": self.lo, "hi": self.hi}


@dataclass
class Replications:
    """Summaries of one scenario over several seeds, with per-metric statistics."""

    seeds: list[int]
    summaries: list[dict]
    metrics: dict[str, MetricStats]
    confidence: float = CONFIDENCE
    precision: float | None = None  # precision mode: the relative half-width asked for
    precision_keys: list[str] = field(default_factory=list)
    converged: bool | None = None

    @classmethod
    def of(cls, seeds: Sequence[int], summaries: Sequence[dict],
           confidence: float = CONFIDENCE) -> Replications:
        rows = [flatten(s, keep_none=True) for s in summaries]
        keys = list(dict.fromkeys(k for row in rows for k in row))
        metrics = {k: MetricStats.of((row.get(k) for row in rows), confidence) for k in keys}
        return cls(list(seeds), list(summaries), metrics, confidence)

    def __getitem__(self, key: str) -> MetricStats:
        return self.metrics[key]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "scenario": self.summaries[0].get("scenario") if self.summaries else None,
            "seeds": self.seeds,
            "confidence": self.confidence,
        }
        if self.precision is not None:
            out["precision"] = {"relative_half_width": self.precision,
                                "metrics": self.precision_keys, "converged": self.converged}
        out["metrics"] = {k: m.to_dict() for k, m in self.metrics.items()}
        return out


# --------------------------------------------------------------------------- known keys


def summary_keys(scenario) -> tuple[list[str], bool]:
    """The metric names a run of ``scenario`` reports, from a tiny probe run (one 1-GPU job
    per class, so every per-class block appears), and whether class names are open (a trace
    workload: any ``by_class.<name>.`` is accepted)."""
    from clustersim.engine.core import simulate
    from clustersim.model import JobSpec

    classes = scenario.workload.classes
    names = [c.name for c in classes] if classes is not None else ["trace"]
    specs = [JobSpec(None, scenario.warmup, 1, 1.0, name) for name in names]
    summary = simulate(scenario, 0, specs=specs).summary
    return list(flatten(summary, keep_none=True)), classes is None


def _class_pattern(key: str) -> str:
    parts = key.split(".")
    return ".".join(["by_class", "*", *parts[2:]]) if parts[0] == "by_class" and len(parts) > 2 else key


def check_keys(keys: Iterable[str], known: Sequence[str], what: str, *, any_class: bool = False) -> None:
    """Raise one ClusterSimError naming every unknown metric, with close matches."""
    known_set = set(known)
    patterns = {_class_pattern(k) for k in known} if any_class else set()
    problems = []
    for key in keys:
        if key in known_set or (any_class and _class_pattern(key) in patterns):
            continue
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        problems.append(f"{what} {key!r}: not a summary metric{hint}")
    if problems:
        if len(problems) == 1:
            raise ClusterSimError(problems[0] + " (see summary.json of a run for every metric)")
        raise ClusterSimError("; ".join(problems))


# --------------------------------------------------------------------------- running


def _runner(runner, workers: int | None):
    from clustersim.planning.executor import LocalExecutor
    from clustersim.planning.runs import Runner

    return (runner, False) if runner is not None else (Runner(LocalExecutor(workers)), True)


def replicate(scenario, seeds: Iterable[int], *, overrides: Sequence[str] = (), runner=None,
              workers: int | None = None, confidence: float = CONFIDENCE) -> Replications:
    """Run ``scenario`` (a Scenario, mapping, path or ScenarioInput) once per seed."""
    from clustersim.planning.runs import ScenarioInput

    seeds = list(seeds)
    base = ScenarioInput.coerce(scenario)
    specs = base.specs(overrides, seeds)
    runner, own = _runner(runner, workers)
    try:
        summaries = runner.summaries(specs)
    finally:
        if own:
            runner.executor.close()
    return Replications.of(seeds, summaries, confidence)


def replicate_precise(scenario, keys: Sequence[str], precision: float, seeds: Iterable[int], *,
                      batch: int | None = None, max_seeds: int = 100,
                      overrides: Sequence[str] = (), runner=None, workers: int | None = None,
                      confidence: float = CONFIDENCE) -> Replications:
    """Start with ``seeds``, then add ``batch`` new seeds at a time until every metric in
    ``keys`` has half-width <= ``precision`` × |mean|, or ``max_seeds`` have run."""
    from clustersim.planning.runs import ScenarioInput

    if not precision > 0:
        raise ClusterSimError(f"--precision must be > 0, got {precision:g}")
    seeds = list(seeds)
    base = ScenarioInput.coerce(scenario)
    known, open_classes = summary_keys(base.resolve(overrides))
    check_keys(keys, known, "metric", any_class=open_classes)
    batch = batch or max(2, len(seeds))
    max_seeds = max(max_seeds, len(seeds))
    runner, own = _runner(runner, workers)
    summaries: list[dict] = []
    done: list[int] = []
    try:
        todo = seeds
        while True:
            summaries += runner.summaries(base.specs(overrides, todo))
            done += todo
            reps = Replications.of(done, summaries, confidence)
            ok = all(k in reps.metrics and reps[k].precise(precision) for k in keys)
            if ok or len(done) >= max_seeds:
                break
            nxt = max(done) + 1
            todo = list(range(nxt, nxt + min(batch, max_seeds - len(done))))
    finally:
        if own:
            runner.executor.close()
    reps.precision, reps.precision_keys, reps.converged = precision, list(keys), ok
    return reps


__all__ = [
    "CONFIDENCE",
    "MetricStats",
    "Replications",
    "check_keys",
    "flatten",
    "replicate",
    "replicate_precise",
    "summary_keys",
    "t_quantile",
]
