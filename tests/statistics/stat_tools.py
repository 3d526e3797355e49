"""Small exact or textbook statistics for the sampling tests (the standard library only).

Every check is a two-sided z-test at ``CRIT`` standard deviations: a correct sampler fails
it with probability 2 * (1 - Phi(4)) = 6.3e-5 per check (seeds are fixed, so a run is
reproducible; the false-alarm rate is what a change of seed would risk). ``power`` is the
probability that a sampler whose statistic is off by ``shift`` standard deviations fails.
"""

from __future__ import annotations

import math
from statistics import NormalDist

CRIT = 4.0
_N = NormalDist()


def power(shift_sd: float, crit: float = CRIT) -> float:
    """P(|Z + shift| > crit) for a standard normal Z."""
    return _N.cdf(-crit - shift_sd) + 1.0 - _N.cdf(crit - shift_sd)


def binomial_z(k: int, n: int, p: float) -> float:
    """z of k successes in n trials of probability p (normal approximation)."""
    return (k - n * p) / math.sqrt(n * p * (1.0 - p))


def poisson_z(k: int, mean: float) -> float:
    return (k - mean) / math.sqrt(mean)


def ks_distance(sample, cdf) -> float:
    """Kolmogorov-Smirnov distance between a sample and a continuous CDF (a vectorised
    callable)."""
    import numpy as np

    x = np.sort(np.asarray(sample, dtype=float))
    n = len(x)
    f = cdf(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def ks_critical(n: int, alpha: float = 1e-4) -> float:
    """Asymptotic critical KS distance at level ``alpha`` (Smirnov): sqrt(-ln(alpha/2)/2)/sqrt(n)."""
    return math.sqrt(-0.5 * math.log(alpha / 2.0)) / math.sqrt(n)
