"""Small vectorised distribution functions the latency model needs (numpy has no erfc, no
incomplete gamma and no lgamma; the project does not depend on scipy)."""

from __future__ import annotations

import math

import numpy as np

_LGAMMA_SMALL = np.array([math.lgamma(k + 1.0) for k in range(32)])


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, fractional error below 1.2e-7 (Numerical Recipes, erfcc)."""
    x = np.asarray(x, dtype=float)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    ans = t * np.exp(poly)
    return np.where(x >= 0, ans, 2.0 - ans)


def normal_sf(z: np.ndarray) -> np.ndarray:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * erfc(np.asarray(z, dtype=float) / math.sqrt(2.0))


def gamma_sf(t: np.ndarray, mean, var) -> np.ndarray:
    """P(X > t) for X gamma-distributed with the given mean and variance (Wilson-Hilferty:
    (X / mean)^(1/3) is close to normal). ``mean``/``var`` broadcast against ``t``; var 0 is a
    point mass at the mean."""
    t = np.asarray(t, dtype=float)
    mean = np.asarray(mean, dtype=float)
    var = np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = np.where(mean > 0, var / np.maximum(mean, 1e-300) ** 2 / 9.0, 0.0)  # 1 / (9 shape)
        c = np.minimum(c, 1.0 / 9.0 / 0.3)  # shapes below 0.3 are read as 0.3 (beyond the approximation)
        ratio = np.cbrt(np.maximum(t, 0.0) / np.maximum(mean, 1e-300))
        z = np.where(c > 0, (ratio - (1.0 - c)) / np.sqrt(np.maximum(c, 1e-300)), np.where(t >= mean, np.inf, -np.inf))
        out = normal_sf(np.where(np.isfinite(z), z, np.sign(z) * 40.0))
    out = np.where(t <= 0, 1.0, out)
    return np.where(mean <= 0, (t < 0).astype(float), out)


def lgamma1(n: np.ndarray) -> np.ndarray:
    """log(n!) for whole numbers n >= 0 (a table below 32, Stirling's series above: 1e-12)."""
    n = np.asarray(n, dtype=float)
    small = n < 32
    safe = np.maximum(n, 1.0)
    big = (safe + 0.5) * np.log(safe + 1.0) - (safe + 1.0) + 0.5 * math.log(2 * math.pi) + 1.0 / (12.0 * (safe + 1.0)) \
        - 1.0 / (360.0 * (safe + 1.0) ** 3)
    return np.where(small, _LGAMMA_SMALL[np.minimum(n, 31).astype(int)], big)


def weighted_quantile(grid: np.ndarray, sf: np.ndarray, q: float) -> float:
    """The ``q`` quantile of a distribution known by its survival function ``sf`` on an
    increasing ``grid`` (linear between grid points; the grid must bracket it)."""
    target = 1.0 - q
    i = int(np.searchsorted(-sf, -target, side="left"))  # first grid point with sf <= target
    if i <= 0:
        return float(grid[0])
    if i >= len(grid):
        return float(grid[-1])
    s0, s1 = sf[i - 1], sf[i]
    f = 0.0 if s0 == s1 else (s0 - target) / (s0 - s1)
    return float(grid[i - 1] + f * (grid[i] - grid[i - 1]))
