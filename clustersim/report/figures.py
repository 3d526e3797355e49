"""Figures for the run report: plain numpy arrays in, PNG bytes out.

Nothing here reads or writes files; ``clustersim.report.run`` loads the run directory, calls these
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
def wait_cdf_png(waits_by_class: Mapping[str, Any], target_s: float, recorded=None) -> bytes | None:
    """Empirical CDF of wait per class plus all jobs, x log in hours clipped at 1 s, and the
    trace's recorded waits when given. None when no class has any wait to plot."""
    import numpy as np

    classes = {k: np.asarray(v, dtype=float) for k, v in waits_by_class.items()}
    classes = {k: v[np.isfinite(v)] for k, v in classes.items()}
    classes = {k: v for k, v in classes.items() if len(v)}
    if not classes:
        return None
    everything = np.concatenate(list(classes.values()))
    fig, (ax,) = _figure()
    lo = 1 / HOUR_S
    longest = float(everything.max())
    if recorded is not None and len(recorded):
        longest = max(longest, float(np.nanmax(np.asarray(recorded, dtype=float))))
    hi = max(longest / HOUR_S * 1.5, target_s / HOUR_S * 2, 10 * lo)

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
    if recorded is not None and len(recorded):
        draw(np.asarray(recorded, dtype=float), color="0.45", lw=2.0, ls="--",
             label=f"recorded in the trace (n={len(recorded):,})")
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
    ax.set_xlabel("wait (log scale; waits under 1 s shown at 1 s)")
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


# --------------------------------------------------------------------------- failures

USEFUL = "#2ca02c"
LOST = "#d62728"
OVERHEAD = "#ff7f0e"
IDLE = "#c6dbef"
DOWN = "#525252"
# Cause colours: the tab10 cycle without red (lost work, targets) and grey (warm-up).
_CAUSE_COLOURS = [f"C{i}" for i in range(10) if i not in (3, 7)]
JOB_LEVEL = "job-level"


def ettr_by_size(num_gpus, work_s, wall_s, group_sizes=None,
                 max_distinct: int = 12) -> list[dict[str, Any]]:
    """Measured ETTR per job-size group: Σ work·gpus / Σ wall·gpus over the jobs in it.

    Groups are the distinct sizes of ``group_sizes`` (default ``num_gpus``) when there are at
    most ``max_distinct``, else ``SIZE_BUCKETS``; passing the same ``group_sizes`` for two
    sets of jobs gives them the same groups. Empty groups are left out. Each group is a dict with ``label``, ``lo`` and ``hi`` (smallest and
    largest size present), ``x`` (size weighted by GPU time, where to draw it), ``ettr``
    (None when the group has no wall time) and ``n`` (jobs).
    """
    import numpy as np

    gpus = np.asarray(num_gpus, dtype=float)
    work = np.asarray(work_s, dtype=float)
    wall = np.asarray(wall_s, dtype=float)
    ok = np.isfinite(gpus) & np.isfinite(work) & np.isfinite(wall)
    gpus, work, wall = gpus[ok], work[ok], wall[ok]
    if len(gpus) == 0:
        return []
    sizes = {int(g) for g in np.asarray(gpus if group_sizes is None else group_sizes, dtype=float)
             if np.isfinite(g)} | {int(g) for g in gpus}
    if len(sizes) <= max_distinct:
        groups = [(f"{s:,}", s, s) for s in sorted(sizes)]
    else:
        groups = [(label, lo, hi) for lo, hi, label in SIZE_BUCKETS]
    out = []
    for label, lo, hi in groups:
        inside = (gpus >= lo) & (gpus <= hi)
        if not inside.any():
            continue
        g, den = gpus[inside], wall[inside] * gpus[inside]
        total = float(den.sum())
        out.append({
            "label": label,
            "lo": float(g.min()),
            "hi": float(g.max()),
            "x": float(np.sum(g * den) / total) if total > 0 else float(np.exp(np.log(g).mean())),
            "ettr": float(np.sum(work[inside] * g) / total) if total > 0 else None,
            "n": int(inside.sum()),
        })
    return out


@_styled
def failure_timeline_png(t, rows, hit, pulled_t, pulled_rows, horizon: float,
                         warmup: float) -> bytes | None:
    """Failures over time: failures per day (top) and one marker per failure on a row per
    cause (bottom), filled when it interrupted a running job.

    ``t``, ``rows`` and ``hit`` are aligned per event: time (s), row name (a node failure's
    cause, or ``JOB_LEVEL`` for a job-level interruption) and whether it hit a running job.
    ``pulled_t``/``pulled_rows`` mark nodes taken out of service for good. None when there
    is nothing to draw.
    """
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    t = np.asarray(t, dtype=float) / DAY_S
    rows = np.asarray(rows, dtype=object).astype(str)
    hit = np.asarray(hit, dtype=bool)
    pulled_t = np.asarray(pulled_t, dtype=float) / DAY_S
    pulled_rows = np.asarray(pulled_rows, dtype=object).astype(str)
    if len(t) == 0:
        return None
    names, counts = np.unique(rows, return_counts=True)
    # Most frequent cause on top, job-level interruptions on the bottom row.
    order = sorted(zip(names.tolist(), counts.tolist(), strict=True),
                   key=lambda nc: (nc[0] == JOB_LEVEL, -nc[1], nc[0]))
    order = [name for name, _ in order]
    level = {name: len(order) - 1 - i for i, name in enumerate(order)}
    colour = {name: ("black" if name == JOB_LEVEL else _CAUSE_COLOURS[i % len(_CAUSE_COLOURS)])
              for i, name in enumerate(order)}

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    top, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2.4]})
    days = horizon / DAY_S
    width = 1.0 if days >= 3 else max(days / 24, 1 / 24)
    edges = np.arange(0.0, days + width, width)
    per_bin, _ = np.histogram(t, bins=edges)
    unit = "day" if width == 1.0 else f"{width * 24:g} h"
    _time_axis(top, horizon, warmup)
    top.bar(edges[:-1], per_bin, width=width, align="edge", color=MAIN, alpha=0.8, lw=0)
    top.set_ylabel(f"per {unit}")
    top.yaxis.get_major_locator().set_params(integer=True, nbins=3)
    top.set_ylim(0, max(1, per_bin.max()) * 1.15)

    n = len(t)
    size = 30 if n <= 300 else 14 if n <= 1500 else 7
    alpha = 0.85 if n <= 300 else 0.6 if n <= 1500 else 0.45
    jitter = np.random.default_rng(0).uniform(-0.32, 0.32, n)  # fixed seed: same PNG each time
    y = np.array([level[r] for r in rows], dtype=float) + jitter
    _time_axis(ax, horizon, warmup)
    for name in order:
        mine = rows == name
        c = colour[name]
        marker = "D" if name == JOB_LEVEL else "o"
        ax.scatter(t[mine & hit], y[mine & hit], s=size, marker=marker, color=c, alpha=alpha,
                   lw=0)
        ax.scatter(t[mine & ~hit], y[mine & ~hit], s=size, marker=marker, facecolors="none",
                   edgecolors=c, alpha=alpha, lw=0.9)
    if len(pulled_t):
        py = np.array([level.get(r, 0) for r in pulled_rows], dtype=float)
        ax.scatter(pulled_t, py, s=70, marker="X", color="black", zorder=5)
    label = {JOB_LEVEL: "job-level"}
    ax.set_yticks([level[name] for name in order],
                  [f"{label.get(name, name)} ({int((rows == name).sum()):,})" for name in order])
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.grid(False, axis="y")
    for i in range(len(order) - 1):
        ax.axhline(i + 0.5, color="#dddddd", lw=0.8)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("time (days)")
    node_failures = int((rows != JOB_LEVEL).sum())
    jobs = int((rows == JOB_LEVEL).sum())
    title = f"Failures over time: {node_failures:,} node failures"
    if jobs:
        title += f", {jobs:,} job-level"
    top.set_title(title)
    handles = [
        Line2D([], [], ls="", marker="o", color="#555555", label="hit a running job"),
        Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor="#555555",
               label="node was idle"),
    ]
    if len(pulled_t):
        handles.append(Line2D([], [], ls="", marker="X", color="black", markersize=8,
                              label="node pulled"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
              handletextpad=0.2)
    return _png(fig)


@_styled
def nodes_down_png(t, down, horizon: float, warmup: float, mean: float | None,
                   expected: float | None, nodes: float | None) -> bytes:
    """Nodes out of service over time, with the measured mean after warm-up (dashed) and
    the expectation from failure rate × mean time down (dotted)."""
    import numpy as np

    x, cols = downsample(t, {"down": down}, horizon)
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    fig, (ax,) = _figure()
    _time_axis(ax, horizon, warmup)
    label = "nodes down" + (f" (mean per {format_duration(horizon / BINS)} bin)" if binned else "")
    ax.plot(x / DAY_S, cols["down"], drawstyle="steps-post", color=MAIN, label=label)
    ax.fill_between(x / DAY_S, cols["down"], step="post", color=MAIN, alpha=0.12, lw=0)
    if mean is not None:
        ax.axhline(mean, color=MEAN, ls="--", lw=1.8,
                   label=f"mean{' after warm-up' if warmup > 0 else ''}: {mean:.2f}")
    if expected is not None:
        ax.axhline(expected, color="black", ls=":", lw=1.8,
                   label=f"expected (failure rate × mean time down): {expected:.2f}")
    peak = max(float(np.nanmax(cols["down"], initial=0.0)), mean or 0.0, expected or 0.0, 1.0)
    ax.set_ylim(0, peak * 1.45)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Nodes down over time")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("nodes down")
    if nodes:
        share = ax.secondary_yaxis("right", functions=(lambda v: 100.0 * v / nodes,
                                                       lambda p: p * nodes / 100.0))
        share.set_ylabel("% of nodes")
    ax.legend(loc="upper left", ncol=1)
    return _png(fig)


@_styled
def ettr_by_size_png(groups: Sequence[Mapping[str, Any]], curve_gpus, curve_ettr,
                     running: Sequence[Mapping[str, Any]] = ()) -> bytes | None:
    """Measured ETTR per job-size group (points, n labelled) against the first-order model
    (line) on a log GPU axis. ``groups`` and ``running`` come from :func:`ettr_by_size`
    (finished jobs; jobs still running at the end, drawn hollow). None when there is
    nothing to draw."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, NullLocator

    curve_gpus = np.asarray(curve_gpus, dtype=float)
    curve_ettr = np.asarray(curve_ettr, dtype=float)
    points = [g for g in groups if g.get("ettr") is not None]
    hollow = [g for g in running if g.get("ettr") is not None]
    if not points and not hollow and not len(curve_gpus):
        return None
    fig, (ax,) = _figure()
    values = [100 * g["ettr"] for g in points + hollow]
    if len(curve_gpus):
        ax.plot(curve_gpus, 100 * curve_ettr, color="black", lw=1.6, zorder=2,
                label="first-order model, default checkpointing")
        values += (100 * curve_ettr).tolist()
    lo = min(values) if values else 0.0
    lo = max(0.0, min(lo, 100.0) - max(1.0, (100.0 - min(lo, 100.0)) * 0.25))
    for series, filled in ((points, True), (hollow, False)):
        if not series:
            continue
        x = np.array([g["x"] for g in series])
        y = np.array([100 * g["ettr"] for g in series])
        err = np.array([[g["x"] - g["lo"] for g in series], [g["hi"] - g["x"] for g in series]])
        label = ("measured, finished jobs" if filled
                 else "still running at the end (work done / time since start)")
        ax.errorbar(x, y, xerr=err if err.any() else None, ls="", marker="o", ms=8,
                    color=MAIN, mfc=MAIN if filled else "white", mew=1.6, capsize=3,
                    zorder=3, label=label)
        for g, yy in zip(series, y, strict=True):
            ax.annotate(f"n={_compact(g['n'])}", (g["x"], yy), textcoords="offset points",
                        xytext=(0, -16), ha="center", va="top", fontsize=9, color="#333333")
    xs = [g["lo"] for g in points + hollow] + [g["hi"] for g in points + hollow]
    if len(curve_gpus):
        xs += [float(curve_gpus.min()), float(curve_gpus.max())]
    xmin, xmax = max(min(xs), 1.0) / 1.6, max(xs) * 1.6
    ax.set_xscale("log", base=2)
    ax.set_xlim(xmin, xmax)
    ticks = [2.0**k for k in range(0, 21) if xmin <= 2.0**k <= xmax]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, [f"{int(v):,}" for v in ticks])
    span = 100.0 - lo
    ax.set_ylim(lo - span * 0.12, 100.0 + span * 0.12)
    ax.set_title("ETTR by job size")
    ax.set_xlabel("job size (GPUs, log scale)")
    ax.set_ylabel("ETTR (% of wall time)")
    if not points:
        ax.text(0.5, 0.5, "no job finished during the run", transform=ax.transAxes,
                ha="center", va="center", color=WARMUP, fontsize=12)
    ax.legend(loc="lower left")
    return _png(fig)


GPU_HOUR_PARTS = (
    ("useful", "useful work", USEFUL),
    ("lost", "lost work", LOST),
    ("overhead", "checkpoint + restart", OVERHEAD),
    ("idle", "idle (up, not busy)", IDLE),
    ("down", "down (out of service)", DOWN),
)


@_styled
def gpu_hours_png(parts: Mapping[str, float], horizon: float) -> bytes | None:
    """One horizontal stacked bar of GPU-hours: useful, lost, overhead, idle and down, as a
    share of all GPU-hours of the fleet over ``[0, horizon]``; ``parts`` in GPU-hours. None
    when the total is 0."""
    values = [(key, name, colour, max(0.0, float(parts.get(key) or 0.0)))
              for key, name, colour in GPU_HOUR_PARTS]
    total = sum(v for *_, v in values)
    if total <= 0:
        return None
    fig, (ax,) = _figure()
    left = 0.0
    small = []  # (centre, share, colour) of segments too narrow to label inside
    for key, name, colour, v in values:
        share = 100.0 * v / total
        ax.barh([0], [share], left=left, height=0.5, color=colour, edgecolor="white", lw=0.6,
                label=f"{name}: {_gpu_hours(v)} GPU-h ({share:.1f} %)")
        if share >= 7:
            text_colour = "white" if key in ("useful", "lost", "down") else "black"
            ax.text(left + share / 2, 0, f"{share:.1f} %", ha="center", va="center",
                    color=text_colour, fontsize=12, fontweight="bold")
        elif share >= 0.05:
            small.append((left + share / 2, share, colour))
        left += share
    # Narrow segments get a label above the bar on a leader line, spread so none overlap.
    gap, placed = 8.0, []
    for centre, _, _ in small:
        placed.append(max(centre, placed[-1] + gap) if placed else centre)
    if placed and placed[-1] > 97.0:  # pushed off the right edge: shift back leftwards
        placed[-1] = 97.0
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - gap)
    for (centre, share, colour), x in zip(small, placed, strict=True):
        ax.annotate(f"{share:.1f} %", xy=(centre, 0.25), xytext=(x, 0.62), ha="center",
                    va="bottom", fontsize=11, fontweight="bold", color=colour,
                    arrowprops={"arrowstyle": "-", "color": colour, "lw": 1.0,
                                "shrinkA": 1, "shrinkB": 0})
    ax.set_xlim(0, 100)
    ax.set_ylim(-1.1, 0.95)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.grid(False, axis="y")
    ax.set_title(f"Where the GPU-hours went: {_gpu_hours(total)} GPU-hours in "
                 f"{horizon / DAY_S:g} days")
    ax.set_xlabel("share of all GPU-hours of the fleet (%)")
    ax.legend(loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0), frameon=False,
              fontsize=11)
    return _png(fig)


def _compact(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def _gpu_hours(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e4:
        return f"{value / 1e3:,.0f} k"
    return f"{value:,.0f}"
