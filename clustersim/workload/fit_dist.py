"""Fitting a duration distribution to observed durations, and the Kolmogorov-Smirnov distance.

A lognormal is fitted by maximum likelihood on the logarithms of the positive durations
(μ = mean, σ = standard deviation of ln d). It is kept when it fits: KS distance to the
observed durations at most ``ks_max`` (0.05) *and* its mean within ``mean_tol`` (5%) of the
observed mean, since the mean is what sets the GPU time a class asks for. Otherwise the class
resamples its observed durations (an ``empirical`` distribution, KS distance 0). Identical
durations make a fixed one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z90 = 1.2815515655446004  # standard normal quantile at 0.9
_erf = np.frompyfunc(math.erf, 1, 1)


def lognormal_cdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    out = np.zeros(len(x))
    pos = x > 0
    z = (np.log(x[pos]) - mu) / (sigma * math.sqrt(2.0))
    out[pos] = 0.5 * (1.0 + _erf(z).astype(float))
    return out


def ks_distance(sample: np.ndarray, cdf) -> float:
    """sup |F_n(x) − F(x)| of a sample against a continuous CDF (a function of an array)."""
    x = np.sort(np.asarray(sample, dtype=float))
    n = len(x)
    if n == 0:
        return math.nan
    f = cdf(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a(x) − F_b(x)| of two samples."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    if len(a) == 0 or len(b) == 0:
        return math.nan
    x = np.concatenate([a, b])
    fa = np.searchsorted(a, x, side="right") / len(a)
    fb = np.searchsorted(b, x, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def describe(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan}
    return {"mean": float(v.mean()), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}


@dataclass
class DurationFit:
    """The distribution chosen for a class's durations, and how well each candidate fits."""

    kind: str  # lognormal, empirical, fixed
    observed: dict[str, float]  # mean, p50, p90 of the observed durations
    fitted: dict[str, float]  # the same of the chosen distribution
    ks: float  # KS distance of the chosen distribution to the observed durations
    mu: float | None = None  # the lognormal fit, whether chosen or not
    sigma: float | None = None
    ks_lognormal: float | None = None
    mean_error: float | None = None  # lognormal mean / observed mean − 1
    reason: str = ""

    def scenario(self, file: str | None = None) -> dict | float:
        """The scenario's ``duration`` entry (``file``: where empirical values are written)."""
        if self.kind == "lognormal":
            return {"kind": "lognormal", "median": _round(math.exp(self.mu)),
                    "p90": _round(math.exp(self.mu + Z90 * self.sigma))}
        if self.kind == "fixed":
            return _round(self.fitted["mean"])
        return {"kind": "empirical", "file": file}

    def cdf(self, x: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The chosen distribution's CDF at ``x`` (empirical: the observed durations')."""
        if self.kind == "lognormal":
            return lognormal_cdf(x, self.mu, self.sigma)
        obs = np.sort(np.asarray(observed, dtype=float))
        return np.searchsorted(obs, np.asarray(x, dtype=float), side="right") / max(len(obs), 1)


def _round(x: float) -> float:
    """Seconds to 6 significant digits (what the scenario file shows)."""
    return float(f"{x:.6g}")


def fit_duration(d: np.ndarray, *, ks_max: float = 0.05, mean_tol: float = 0.05) -> DurationFit:
    """Fit one class's durations (see the module docs)."""
    d = np.asarray(d, dtype=float)
    observed = describe(d)
    if len(d) and np.all(d == d[0]):
        return DurationFit("fixed", observed, dict(observed), 0.0, reason="every duration is the same")
    pos = d[d > 0]
    if len(pos) >= 2 and float(np.std(np.log(pos))) > 0:
        logs = np.log(pos)
        mu, sigma = float(logs.mean()), float(logs.std())
        ks = ks_distance(d, lambda x: lognormal_cdf(x, mu, sigma))
        mean = math.exp(mu + sigma * sigma / 2)
        err = mean / observed["mean"] - 1 if observed["mean"] > 0 else math.inf
        fitted = {"mean": mean, "p50": math.exp(mu), "p90": math.exp(mu + Z90 * sigma)}
        if ks <= ks_max and abs(err) <= mean_tol:
            return DurationFit("lognormal", observed, fitted, ks, mu, sigma, ks, err,
                               f"lognormal: KS {ks:.3f} <= {ks_max:g}, mean {err:+.1%}")
        why = []
        if ks > ks_max:
            why.append(f"KS {ks:.3f} > {ks_max:g}")
        if abs(err) > mean_tol:
            why.append(f"its mean is {err:+.1%} off (more than {mean_tol:.0%})")
        reason = "empirical: the lognormal does not fit (" + ", ".join(why) + ")"
        return DurationFit("empirical", observed, dict(observed), 0.0, mu, sigma, ks, err, reason)
    return DurationFit("empirical", observed, dict(observed), 0.0, reason="empirical: too few positive durations for a lognormal")


__all__ = ["DurationFit", "describe", "fit_duration", "ks_distance", "ks_two_sample", "lognormal_cdf"]
