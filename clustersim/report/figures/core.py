"""The core figures of every report: utilisation, queue, wait distribution, wait by size.

Plain numpy arrays in, PNG bytes out; nothing here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clustersim.report.figures.style import (
    DAY_S,
    HOUR_S,
    MAIN,
    MEAN,
    TARGET,
    WAIT_TICKS,
    WARMUP,
    new_figure,
    null_locator,
    png_bytes,
    styled,
    time_axis,
)
from clustersim.report.series import (
    BINS,
    MAX_RAW_ROWS,
    downsample,
    size_buckets,
    time_weighted_ratio,
)
from clustersim.units import format_duration


@styled
def utilisation_png(t, busy, up, horizon: float, warmup: float) -> tuple[bytes, float | None]:
    """Busy / up GPUs in % against days. Returns the PNG and the time-weighted mean over
    ``[warmup, horizon]`` as a fraction (None when no GPU was up)."""
    import numpy as np

    mean = time_weighted_ratio(t, busy, up, warmup, horizon)
    x, cols = downsample(t, {"busy": busy, "up": up}, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(cols["up"] > 0, 100.0 * cols["busy"] / cols["up"], np.nan)
    fig, (ax,) = new_figure()
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    label = "busy / up GPUs" + (f" (mean per {format_duration(horizon / BINS)} bin)" if binned else "")
    time_axis(ax, horizon, warmup)
    ax.plot(x / DAY_S, pct, drawstyle="steps-post", color=MAIN, label=label)
    if mean is not None:
        ax.axhline(100 * mean, color=MEAN, ls="--", lw=1.8,
                   label=f"mean after warm-up: {100 * mean:.1f} %")
    ax.set_ylim(0, 105)
    ax.set_title("GPU utilisation over time")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("busy GPUs (% of up GPUs)")
    ax.legend(loc="lower right")
    return png_bytes(fig), mean


@styled
def queue_png(t, queued_jobs, queued_gpus, horizon: float, warmup: float) -> bytes:
    """Queued jobs (top) and the GPUs they ask for (bottom) against days."""
    import numpy as np

    x, cols = downsample(t, {"jobs": queued_jobs, "gpus": queued_gpus}, horizon)
    fig, (top, bottom) = new_figure(nrows=2)
    binned = len(np.asarray(t)) > MAX_RAW_ROWS
    suffix = f" (mean per {format_duration(horizon / BINS)} bin)" if binned else ""
    for ax, key, ylabel, colour in (
        (top, "jobs", "queued jobs", MAIN),
        (bottom, "gpus", "queued GPUs", "#2ca02c"),
    ):
        time_axis(ax, horizon, warmup)
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
    return png_bytes(fig)


# Human tick labels for a log axis in hours.
CDF_POINTS = 20_000
"""A CDF line of more than five times this many jobs is drawn through this many of its ranks
(ten million jobs draw as fast as a hundred thousand; the line moves < 0.01 % of its height)."""


@styled
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
    fig, (ax,) = new_figure()
    lo = 1 / HOUR_S
    longest = float(everything.max())
    if recorded is not None and len(recorded):
        longest = max(longest, float(np.nanmax(np.asarray(recorded, dtype=float))))
    hi = max(longest / HOUR_S * 1.5, target_s / HOUR_S * 2, 10 * lo)

    def draw(waits, **kw):
        x = np.sort(np.clip(waits / HOUR_S, lo, None))
        y = 100.0 * np.arange(1, len(x) + 1) / len(x)
        if len(x) > 5 * CDF_POINTS:  # every k-th rank: the line moves < 0.01 % of its height
            keep = np.unique(np.linspace(0, len(x) - 1, CDF_POINTS).round().astype(np.int64))
            x, y = x[keep], y[keep]
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
    ticks = [(v, s) for v, s in WAIT_TICKS if lo <= v <= hi]
    ax.set_xticks([v for v, _ in ticks], [s for _, s in ticks])
    ax.xaxis.set_minor_locator(null_locator())
    ax.set_ylim(0, 101)
    ax.set_title("Wait-time distribution by job class")
    ax.set_xlabel("wait (log scale; waits under 1 s shown at 1 s)")
    ax.set_ylabel("started jobs waiting ≤ x (%)")
    ax.legend(loc="lower right")
    if len(classes) > len(palette):
        ax.text(0.01, 0.98, f"{len(palette)} largest of {len(classes)} classes shown",
                transform=ax.transAxes, va="top", fontsize=9, color=WARMUP)
    return png_bytes(fig)


@styled
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
    fig, (ax,) = new_figure()
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
    return png_bytes(fig)
