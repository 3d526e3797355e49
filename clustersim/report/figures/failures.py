"""Figures of the "Failures and goodput" section: failures over time, nodes down, ETTR by
job size and where the GPU-hours went. Plain numpy arrays in, PNG bytes out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clustersim.report.figures.style import (
    DAY_S,
    DPI,
    FIGSIZE,
    MAIN,
    MEAN,
    WARMUP,
    new_figure,
    png_bytes,
    styled,
    time_axis,
)
from clustersim.report.series import BINS, MAX_RAW_ROWS, downsample
from clustersim.units import format_duration

USEFUL = "#2ca02c"
LOST = "#d62728"
OVERHEAD = "#ff7f0e"
IDLE = "#c6dbef"
DOWN = "#525252"
# Cause colours: the tab10 cycle without red (lost work, targets) and grey (warm-up).
_CAUSE_COLOURS = [f"C{i}" for i in range(10) if i not in (3, 7)]
JOB_LEVEL = "job-level"


@styled
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
    time_axis(top, horizon, warmup)
    top.bar(edges[:-1], per_bin, width=width, align="edge", color=MAIN, alpha=0.8, lw=0)
    top.set_ylabel(f"per {unit}")
    top.yaxis.get_major_locator().set_params(integer=True, nbins=3)
    top.set_ylim(0, max(1, per_bin.max()) * 1.15)

    n = len(t)
    size = 30 if n <= 300 else 14 if n <= 1500 else 7
    alpha = 0.85 if n <= 300 else 0.6 if n <= 1500 else 0.45
    jitter = np.random.default_rng(0).uniform(-0.32, 0.32, n)  # fixed seed: same PNG each time
    y = np.array([level[r] for r in rows], dtype=float) + jitter
    time_axis(ax, horizon, warmup)
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
    return png_bytes(fig)


@styled
def nodes_down_png(t, down, horizon: float, warmup: float, mean: float | None,
                   expected: float | None, nodes: float | None) -> bytes:
    """Nodes out of service over time, with the measured mean after warm-up (dashed) and
    the expectation from failure rate × mean time down (dotted)."""
    import numpy as np

    x, cols = downsample(t, {"down": down}, horizon)
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    fig, (ax,) = new_figure()
    time_axis(ax, horizon, warmup)
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
    return png_bytes(fig)


@styled
def ettr_by_size_png(groups: Sequence[Mapping[str, Any]], curve_gpus, curve_ettr,
                     running: Sequence[Mapping[str, Any]] = ()) -> bytes | None:
    """Measured ETTR per job-size group (points, n labelled) against the first-order model
    (line) on a log GPU axis. ``groups`` and ``running`` (finished jobs; jobs still running at
    the end, drawn hollow) come from ``clustersim.report.analysis.failures.ettr_by_size``.
    None when there is nothing to draw."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, NullLocator

    curve_gpus = np.asarray(curve_gpus, dtype=float)
    curve_ettr = np.asarray(curve_ettr, dtype=float)
    points = [g for g in groups if g.get("ettr") is not None]
    hollow = [g for g in running if g.get("ettr") is not None]
    if not points and not hollow and not len(curve_gpus):
        return None
    fig, (ax,) = new_figure()
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
        # x is a GPU-time-weighted mean of sizes in [lo, hi]; rounding may put it an ulp outside
        err = np.maximum(np.array([[g["x"] - g["lo"] for g in series], [g["hi"] - g["x"] for g in series]]), 0.0)
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
    return png_bytes(fig)


GPU_HOUR_PARTS = (
    ("useful", "useful work", USEFUL),
    ("lost", "lost work", LOST),
    ("overhead", "checkpoint + restart", OVERHEAD),
    ("idle", "idle (up, not busy)", IDLE),
    ("down", "down (out of service)", DOWN),
)


@styled
def gpu_hours_png(parts: Mapping[str, float], horizon: float) -> bytes | None:
    """One horizontal stacked bar of GPU-hours: useful, lost, overhead, idle and down, as a
    share of all GPU-hours of the fleet over ``[0, horizon]``; ``parts`` in GPU-hours. None
    when the total is 0."""
    values = [(key, name, colour, max(0.0, float(parts.get(key) or 0.0)))
              for key, name, colour in GPU_HOUR_PARTS]
    total = sum(v for *_, v in values)
    if total <= 0:
        return None
    fig, (ax,) = new_figure()
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
    return png_bytes(fig)


def _compact(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def _gpu_hours(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e4:
        return f"{value / 1e3:,.0f} k"
    return f"{value:,.0f}"
