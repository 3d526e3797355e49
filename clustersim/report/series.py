"""Array arithmetic for the report: step functions over time, and job-size buckets.

The timeseries is a step function (``v[i]`` on ``[t[i], t[i+1])``, the last value onwards).
numpy is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Plot the raw step function up to this many rows; above it, bin it.
MAX_RAW_ROWS = 2000
BINS = 1000

# GPU-count buckets for "wait by job size" when a workload has many distinct sizes.
SIZE_BUCKETS: list[tuple[int, float, str]] = [
    (1, 1, "1"),
    (2, 8, "2–8"),
    (9, 64, "9–64"),
    (65, 256, "65–256"),
    (257, 1024, "257–1024"),
    (1025, float("inf"), ">1024"),
]


def step_integral(t, v, x):
    """Integral of the step function (``v[i]`` on ``[t[i], t[i+1])``, last value onwards)
    from ``t[0]`` to each point of ``x``; 0 before ``t[0]``. ``t`` must be sorted."""
    import numpy as np

    t = np.asarray(t, dtype=float)
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    if len(t) == 0:
        return np.zeros_like(x)
    cum = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])
    k = np.searchsorted(t, x, side="right") - 1
    kc = np.clip(k, 0, len(t) - 1)
    out = cum[kc] + v[kc] * (x - t[kc])
    return np.where(k < 0, 0.0, out)


def integral(t, v, start: float, end: float) -> float:
    """∫v over ``[start, end]`` (0 for an empty series)."""
    import numpy as np

    return float(np.diff(step_integral(t, v, [start, end]))[0]) if len(t) else 0.0


def time_weighted_ratio(t, num, den, start: float, end: float) -> float | None:
    """∫num / ∫den over ``[start, end]``, or None when ∫den is 0 (nothing to divide by)."""
    import numpy as np

    if end <= start or len(t) == 0:
        return None
    edges = np.array([start, end], dtype=float)
    n = np.diff(step_integral(t, num, edges))[0]
    d = np.diff(step_integral(t, den, edges))[0]
    return float(n / d) if d > 0 else None


def downsample(t, columns: Mapping[str, Any], horizon: float):
    """Points to draw a step function over ``[0, horizon]`` with ``drawstyle="steps-post"``.

    Returns ``(x, {name: values})`` where the last point sits at ``horizon`` so the final step
    is drawn to the end. Up to ``MAX_RAW_ROWS`` rows are returned as they are; longer series
    become the time-weighted mean over ``BINS`` equal bins, so a million-row series still
    plots ~1000 points and a busy minute cannot hide a quiet day.
    """
    import numpy as np

    t = np.asarray(t, dtype=float)
    if len(t) <= MAX_RAW_ROWS:
        keep = t <= horizon
        x = np.append(t[keep], horizon)
        out = {}
        for name, values in columns.items():
            v = np.asarray(values, dtype=float)[keep]
            out[name] = np.append(v, v[-1] if len(v) else np.nan)
        return x, out
    edges = np.linspace(0.0, horizon, BINS + 1)
    width = np.diff(edges)
    out = {}
    for name, values in columns.items():
        mean = np.diff(step_integral(t, values, edges)) / width
        out[name] = np.append(mean, mean[-1])
    return edges, out


def size_buckets(num_gpus: Sequence[int]) -> list[tuple[str, int, float]]:
    """Buckets ``(label, lo, hi)`` for the sizes present: each distinct size when there are
    at most six, else the fixed ``SIZE_BUCKETS`` that hold at least one job."""
    sizes = sorted({int(n) for n in num_gpus})
    if len(sizes) <= 6:
        return [(f"{s:,}", s, s) for s in sizes]
    return [
        (label, lo, hi)
        for lo, hi, label in SIZE_BUCKETS
        if any(lo <= s <= hi for s in sizes)
    ]
