"""Demand of an inference service as a step function: pure functions, no SimPy.

``steps(cfg, gen)`` yields ``(t_s, rps)`` pairs in time order, one per demand step; each rate
holds until the next step. A curve with only ``base_rps`` is one step at time 0. Otherwise the
resolution is an hour (``hourly`` multipliers or growth), or a day (only weekend factor or
noise). Time 0 is midnight at the start of a Monday: hour h of day d is
``hourly[h]``, days 5 and 6 of each week are the weekend. Noise is one multiplicative factor
``max(0, 1 + noise * z)`` per day, drawn in day order from the service's own stream
(``services.<name>.noise``), so it does not depend on anything else in the run. Growth is
``(1 + g) ** (t / 30 days)`` evaluated at each step's start.

A request log (``trace``) is binned by ``bin`` seconds from its first request; each bin's rate
is ``count / bin * scale``. With ``repeat`` the log is replayed from its start when it ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from clustersim.config.base import MAX_EVENTS, MAX_REPLICAS
from clustersim.errors import TraceError

DAY = 86400.0
MONTH = 30 * DAY


def rate_at(cfg, t: float, day_factor: float = 1.0) -> float:
    """The curve's rate in the step starting at ``t`` (``day_factor``: that day's noise)."""
    rate = cfg.base_rps
    if cfg.hourly is not None:
        rate *= cfg.hourly[int(t // 3600.0) % 24]
    if cfg.weekend_factor != 1.0 and int(t // DAY) % 7 >= 5:
        rate *= cfg.weekend_factor
    if cfg.growth_per_month:
        rate *= (1.0 + cfg.growth_per_month) ** (t / MONTH)
    return rate * day_factor


def steps(cfg, gen: np.random.Generator | None = None, log_rates: np.ndarray | None = None) -> Iterator[tuple[float, float]]:
    """Demand steps of ``cfg`` (a ``DemandConfig``): ``(t_s, rps)``, forever (or one step)."""
    if cfg.trace is not None:
        yield from _log_steps(cfg, log_rates if log_rates is not None else read_log_rates(cfg))
        return
    res = cfg.resolution
    if math.isinf(res):
        yield 0.0, float(cfg.base_rps)
        return
    day = -1
    factor = 1.0
    k = 0
    while True:
        t = k * res
        d = int(t // DAY)
        if cfg.noise > 0 and d != day:
            day = d
            factor = max(0.0, 1.0 + cfg.noise * float(gen.standard_normal()))
        yield t, rate_at(cfg, t, factor)
        k += 1


def read_log_rates(cfg) -> np.ndarray:
    """Requests per second per bin of a request log (a CSV with a TIMESTAMP column).

    A log that cannot be read, a time that does not parse, or a log spanning more bins than a
    run can hold raises ``TraceError`` naming the file (and the line of a bad time).
    """
    import pandas as pd

    path = str(cfg.trace)
    try:
        if cfg.trace.is_dir():
            raise TraceError(path, "is a directory; expected a request log CSV with a TIMESTAMP column")
        stamps = pd.read_csv(cfg.trace, usecols=["TIMESTAMP"], dtype=str, keep_default_na=False)["TIMESTAMP"]
    except TraceError:
        raise
    except FileNotFoundError:
        raise TraceError(path, "request log not found") from None
    except (OSError, ValueError, UnicodeError, pd.errors.ParserError) as err:
        reason = " ".join(str(err).split())[:200]
        raise TraceError(path, f"cannot read a request log with a TIMESTAMP column ({reason})") from None
    t = pd.to_datetime(stamps.str.strip(), format="mixed", errors="coerce", utc=True)
    if t.isna().any():
        i = int(np.argmax(t.isna().to_numpy()))
        raise TraceError(path, f"expected a date-time in TIMESTAMP, got {stamps.iloc[i][:80]!r}", line=i + 2)
    sec = (t - t.min()).dt.total_seconds().to_numpy(float)
    if len(sec) == 0:
        return np.zeros(1)
    span = float(sec.max()) / cfg.bin
    if not span < MAX_EVENTS:
        raise TraceError(
            path, f"spans {span:.3g} bins of {cfg.bin:g} s, more than a run can hold (at most {MAX_EVENTS:,}); "
            "use a longer bin"
        )
    bins = np.floor(sec / cfg.bin).astype(np.int64)
    counts = np.bincount(bins)
    return counts / cfg.bin * cfg.scale


def _log_steps(cfg, rates: np.ndarray) -> Iterator[tuple[float, float]]:
    n = len(rates)
    k = 0
    while True:
        if k >= n and not cfg.repeat:
            yield k * cfg.bin, 0.0
            return
        yield k * cfg.bin, float(rates[k % n])
        k += 1


def replicas_needed(demand: float, rate: float, headroom: float, lo: int, hi: int | None) -> int:
    """ceil(demand x (1 + headroom) / rate), clamped to [lo, hi] and to ``MAX_REPLICAS`` (the
    most replicas a run holds; a scenario whose curve needs more is refused when it is read, so
    only a request log scaled past it meets this cap). Rounded to 9 decimals first so that
    100 x 1.2 / 10 = 12.000000000000002 needs 12 replicas, not 13."""
    ratio = demand * (1.0 + headroom) / rate
    need = math.ceil(round(ratio, 9)) if ratio < MAX_REPLICAS else MAX_REPLICAS
    need = max(need, lo)
    return min(need, MAX_REPLICAS) if hi is None else min(need, hi, MAX_REPLICAS)
