"""Figures for the run report: plain numpy arrays in, PNG bytes out.

Nothing here reads or writes files; ``clustersim.report`` loads the run directory, calls these
functions and writes the bytes atomically. numpy and matplotlib are imported inside the
functions so that importing this module stays cheap.

Figures are drawn with ``matplotlib.figure.Figure`` straight onto the Agg canvas rather than
through pyplot: that needs no display, keeps no global figure registry (no leaks when a
caller builds many reports) and does not switch the backend of a caller that has pyplot open
(a notebook, say).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from clustersim.units import format_duration

DAY_S = 86400.0
HOUR_S = 3600.0

# One look for every figure: readable on a slide at 9 x 4.5 in.
FIGSIZE = (9.0, 4.5)
DPI = 120
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
}
MAIN = "#1f77b4"  # the measured quantity
MEAN = "#ff7f0e"  # reference values computed from it
TARGET = "#d62728"  # the planner's target
WARMUP = "#7f7f7f"

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


# --------------------------------------------------------------------------- step functions


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


# --------------------------------------------------------------------------- drawing helpers


def _styled(func):
    """Run a drawing function with ``STYLE`` in force for every artist, tick and save."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _figure(nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, list(fig.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0])


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No "Software" tag: the same run gives the same bytes whatever matplotlib version.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _time_axis(ax, horizon: float, warmup: float) -> None:
    ax.set_xlim(0, horizon / DAY_S)
    if warmup > 0:
        ax.axvspan(0, warmup / DAY_S, color=WARMUP, alpha=0.15, lw=0, label="warm-up")


# --------------------------------------------------------------------------- figures


@_styled
def utilisation_png(t, busy, up, horizon: float, warmup: float) -> tuple[bytes, float | None]:
    """Busy / up GPUs in % against days. Returns the PNG and the time-weighted mean over
    ``[warmup, horizon]`` as a fraction (None when no GPU was up)."""
    import numpy as np

    mean = time_weighted_ratio(t, busy, up, warmup, horizon)
    x, cols = downsample(t, {"busy": busy, "up": up}, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(cols["up"] > 0, 100.0 * cols["busy"] / cols["up"], np.nan)
    fig, (ax,) = _figure()
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    label = "busy / up GPUs" + (f" (mean per {format_duration(horizon / BINS)} bin)" if binned else "")
    _time_axis(ax, horizon, warmup)
    ax.plot(x / DAY_S, pct, drawstyle="steps-post", color=MAIN, label=label)
    if mean is not None:
        ax.axhline(100 * mean, color=MEAN, ls="--", lw=1.8,
                   label=f"mean after warm-up: {100 * mean:.1f} %")
    ax.set_ylim(0, 105)
    ax.set_title("GPU utilisation over time")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("busy GPUs (% of up GPUs)")
    ax.legend(loc="lower right")
    return _png(fig), mean


@_styled
def queue_png(t, queued_jobs, queued_gpus, horizon: float, warmup: float) -> bytes:
    """Queued jobs (top) and the GPUs they ask for (bottom) against days."""
    import numpy as np

    x, cols = downsample(t, {"jobs": queued_jobs, "gpus": queued_gpus}, horizon)
    fig, (top, bottom) = _figure(nrows=2)
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    suffix = f" (mean per {format_duration(horizon / BINS)} bin)" if binned else ""
    for ax, key, ylabel, colour in (
        (top, "jobs", "queued jobs", MAIN),
        (bottom, "gpus", "queued GPUs", "#2ca02c"),
    ):
        _time_axis(ax, horizon, warmup)
        ax.plot(x / DAY_S, cols[key], drawstyle="steps-post", color=colour)
        ax.fill_between(x / DAY_S, cols[key], step="post", color=colour, alpha=0.15, lw=0)
        ax.set_ylim(0, max(1.0, float(np.nanmax(cols[key], initial=0.0)) * 1.08))
        ax.set_ylabel(ylabel)
        ax.yaxis.get_major_locator().set_params(integer=True, nbins=4)
    top.set_title("Queue over time" + suffix)
    bottom.set_xlabel("time (days)")
    if warmup > 0:  # a label in the band, not a legend: a queue can peak anywhere
        for ax in (top, bottom):
            ax.text(warmup / DAY_S / 2, 0.5, "warm-up", transform=ax.get_xaxis_transform(),
                    rotation=90, ha="center", va="center", color="#555555", fontsize=10)
    return _png(fig)


# Human tick labels for a log axis in hours.
_WAIT_TICKS = [
    (1 / HOUR_S, "1 s"),
    (10 / HOUR_S, "10 s"),
    (1 / 60, "1 min"),
    (10 / 60, "10 min"),
    (1.0, "1 h"),
    (6.0, "6 h"),
    (24.0, "1 d"),
    (24.0 * 7, "1 w"),
    (24.0 * 30, "30 d"),
    (24.0 * 365, "1 y"),
]


@_styled
def wait_cdf_png(waits_by_class: Mapping[str, Any], target_s: float) -> bytes | None:
    """Empirical CDF of wait per class plus all jobs, x log in hours clipped at 1 s.
    None when no class has any wait to plot."""
    import numpy as np

    classes = {k: np.asarray(v, dtype=float) for k, v in waits_by_class.items()}
    classes = {k: v[np.isfinite(v)] for k, v in classes.items()}
    classes = {k: v for k, v in classes.items() if len(v)}
    if not classes:
        return None
    everything = np.concatenate(list(classes.values()))
    fig, (ax,) = _figure()
    lo = 1 / HOUR_S
    hi = max(float(everything.max()) / HOUR_S * 1.5, target_s / HOUR_S * 2, 10 * lo)

    def draw(waits, **kw):
        x = np.sort(np.clip(waits / HOUR_S, lo, None))
        y = 100.0 * np.arange(1, len(x) + 1) / len(x)
        ax.step(np.concatenate([[lo], x, [hi]]), np.concatenate([[0.0], y, [100.0]]),
                where="post", **kw)

    palette = [f"C{i}" for i in range(10) if i not in (3, 7)]  # keep red/grey for target/overall
    order = sorted(classes, key=lambda k: (-len(classes[k]), k))
    if len(classes) > 1:
        for i, name in enumerate(order[: len(palette)]):
            draw(classes[name], color=palette[i], label=f"{name} (n={len(classes[name]):,})")
    draw(everything, color="black", lw=2.4, label=f"all jobs (n={len(everything):,})")
    ax.axvline(target_s / HOUR_S, color=TARGET, ls="--", lw=1.5,
               label=f"target: {target_s / HOUR_S:g} h")
    ax.axhline(90, color=WARMUP, ls=":", lw=1.2)
    ax.text(lo * 1.1, 91, "p90", color=WARMUP, fontsize=10, va="bottom")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = [(v, s) for v, s in _WAIT_TICKS if lo <= v <= hi]
    ax.set_xticks([v for v, _ in ticks], [s for _, s in ticks])
    ax.xaxis.set_minor_locator(_null_locator())
    ax.set_ylim(0, 101)
    ax.set_title("Wait-time distribution by job class")
    ax.set_xlabel("wait (hours, log scale; waits under 1 s shown at 1 s)")
    ax.set_ylabel("started jobs waiting ≤ x (%)")
    ax.legend(loc="lower right")
    if len(classes) > len(palette):
        ax.text(0.01, 0.98, f"{len(palette)} largest of {len(classes)} classes shown",
                transform=ax.transAxes, va="top", fontsize=9, color=WARMUP)
    return _png(fig)


def _null_locator():
    from matplotlib.ticker import NullLocator

    return NullLocator()


@_styled
def wait_by_size_png(num_gpus, waits, started, target_s: float) -> bytes | None:
    """p50 and p90 wait (hours) per GPU-count bucket, annotated with the job count.

    ``num_gpus``, ``waits`` and ``started`` are aligned per job (jobs that have not started
    carry ``started=False`` and count as still queued). None when there are no jobs.
    """
    import numpy as np

    num_gpus = np.asarray(num_gpus, dtype=float)
    waits = np.asarray(waits, dtype=float)
    started = np.asarray(started, dtype=bool) & np.isfinite(waits)
    if len(num_gpus) == 0:
        return None
    buckets = size_buckets(num_gpus)
    labels, p50, p90, notes = [], [], [], []
    for label, lo, hi in buckets:
        inside = (num_gpus >= lo) & (num_gpus <= hi)
        w = waits[inside & started]
        queued = int((inside & ~started).sum())
        labels.append(label)
        p50.append(np.percentile(w, 50) / HOUR_S if len(w) else np.nan)
        p90.append(np.percentile(w, 90) / HOUR_S if len(w) else np.nan)
        if len(w):
            notes.append(f"n={len(w):,}" + (f"\n+{queued:,} queued" if queued else ""))
        else:
            notes.append(f"none started\n({queued:,} queued)")
    p50, p90 = np.array(p50), np.array(p90)
    fig, (ax,) = _figure()
    pos = np.arange(len(labels))
    width = 0.38
    ax.bar(pos - width / 2, np.nan_to_num(p50), width, color="#9ecae1", label="p50 wait")
    ax.bar(pos + width / 2, np.nan_to_num(p90), width, color=MAIN, label="p90 wait")
    top = max(np.nanmax(np.concatenate([p90, [0.0]])), target_s / HOUR_S) * 1.25
    ax.axhline(target_s / HOUR_S, color=TARGET, ls="--", lw=1.5,
               label=f"target: p90 ≤ {target_s / HOUR_S:g} h")
    for i, note in enumerate(notes):
        started_any = not np.isnan(p90[i])
        height = max(p90[i], p50[i]) if started_any else 0.0
        ax.text(pos[i], height + top * 0.02, note, ha="center", va="bottom", fontsize=10,
                color="black" if started_any else TARGET)
    ax.set_ylim(0, top * 1.12)
    ax.set_xticks(pos, labels)
    ax.grid(False, axis="x")
    ax.set_title("Wait by job size")
    ax.set_xlabel("job size (GPUs)")
    ax.set_ylabel("wait (hours)")
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(x) for x in ("p50 wait", "p90 wait")] + [0]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left")
    return _png(fig)
