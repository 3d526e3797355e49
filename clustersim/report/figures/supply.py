"""Figures of the "Capacity, supply and cost" section: capacity by stage against demand, and
utilisation and p90 wait as ordered capacity arrives. Plain numpy arrays in, PNG bytes out."""

from __future__ import annotations

from typing import Any

from clustersim.report.figures.style import (
    DAY_S,
    HOUR_S,
    MAIN,
    TARGET,
    WAIT_TICKS,
    WARMUP,
    new_figure,
    null_locator,
    png_bytes,
    styled,
)
from clustersim.report.series import BINS, MAX_RAW_ROWS, downsample, step_integral
from clustersim.units import format_duration

WEEK_S = 7 * DAY_S

# Stage colours: in service solid, the pipeline ever lighter the further from service.
IN_SERVICE = "#2ca02c"
RENTED = "#98df8a"
BURN_IN = "#ffbb78"
IN_TRANSIT = "#bcbddc"
BUSY = "#1f77b4"
DEMAND = "#d62728"
ORDER = "#555555"
ENTERED = "#2ca02c"


def _time_unit(horizon: float) -> tuple[float, str]:
    return (WEEK_S, "weeks") if horizon >= 8 * WEEK_S else (DAY_S, "days")


def _series(t, columns: dict[str, Any], horizon: float):
    """Points to draw step functions over [0, horizon]: as ``series.downsample``, but a long
    run (8 weeks or more) is binned to time-weighted daily means, which a weeks axis can show.
    Returns (x seconds, {name: values}, bin description or None)."""
    import numpy as np

    t = np.asarray(t, dtype=float)
    n = int(np.ceil(horizon / DAY_S - 1e-9))
    if horizon >= 8 * WEEK_S and len(t) > n:
        edges = np.minimum(np.arange(n + 1) * DAY_S, horizon)
        width = np.diff(edges)
        out = {}
        for name, values in columns.items():
            mean = np.diff(step_integral(t, values, edges)) / width
            out[name] = np.append(mean, mean[-1])
        return edges, out, "daily means"
    x, out = downsample(t, columns, horizon)
    binned = len(t) > MAX_RAW_ROWS
    return x, out, (f"means per {format_duration(horizon / BINS)} bin"
                    if binned else None)


def _legend_below(fig, axes, ncols: int = 3) -> None:
    """One legend for every panel, under the plot, each label once."""
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=9.5,
               frameon=False)


def _warmup_band(ax, warmup: float, unit: float) -> None:
    if warmup > 0:
        ax.axvspan(0, warmup / unit, color=WARMUP, alpha=0.15, lw=0, label="warm-up")


@styled
def capacity_png(t, stages: dict[str, Any], busy, queued, horizon: float, warmup: float,
                 orders: list[tuple[float, str]], refused: list[tuple[float, str]]) -> bytes:
    """Stacked capacity by stage (``stages``: ``in_service``, ``rented``, ``burn_in``,
    ``in_transit`` GPUs; ``in_service`` includes ``rented``) with busy and busy + queued GPUs
    over it, and order dates as vertical markers."""
    import numpy as np

    unit, unit_name = _time_unit(horizon)
    cols = {"busy": busy, "queued": queued, **stages}
    x, c, binned = _series(t, cols, horizon)
    xs = x / unit
    owned = np.maximum(c["in_service"] - c["rented"], 0.0)
    layers = [("in service (owned)", owned, IN_SERVICE)]
    if np.nanmax(c["rented"], initial=0.0) > 0:
        layers.append(("in service (rented)", c["rented"], RENTED))
    layers += [("delivered, in burn-in / acceptance", c["burn_in"], BURN_IN),
               ("ordered, not yet delivered", c["in_transit"], IN_TRANSIT)]
    fig, (ax,) = new_figure()
    _warmup_band(ax, warmup, unit)
    bottom = np.zeros_like(xs)
    for label, values, colour in layers:
        top = bottom + np.nan_to_num(values)
        ax.fill_between(xs, bottom, top, step="post", color=colour, alpha=0.85, lw=0, label=label)
        bottom = top
    demand = c["busy"] + c["queued"]
    ax.plot(xs, demand, drawstyle="steps-post", color=DEMAND, lw=1.2,
            label="demand: busy + queued GPUs")
    ax.plot(xs, c["busy"], drawstyle="steps-post", color=BUSY, lw=1.2, label="busy GPUs")
    supply_top = float(np.nanmax(bottom, initial=1.0))
    demand_top = float(np.nanmax(demand, initial=0.0))
    # Keep the stack readable: a backlog far above capacity is clipped and its peak named.
    ylim = max(supply_top, demand_top) * 1.08
    if demand_top > 2.5 * supply_top:
        ylim = 2.5 * supply_top
        ax.text(0.99, 0.97, f"demand off scale, peak {demand_top:,.0f} GPUs",
                transform=ax.transAxes, ha="right", va="top", color=DEMAND, fontsize=10,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 2})
    ax.set_ylim(0, ylim)
    nudge = horizon / unit * 0.004  # keep a label at time 0 off the y axis
    for marks, colour, what in ((orders, ORDER, "order"), (refused, DEMAND, "refused")):
        for i, (when, label) in enumerate(marks):
            ax.axvline(when / unit, color=colour, ls=":", lw=1.4,
                       label=("order placed" if what == "order" else "order refused")
                       if i == 0 else None)
            if len(orders) + len(refused) <= 6:
                ax.text(when / unit + nudge, ylim * 0.985, f"{what}: {label}", rotation=90,
                        ha="left", va="top", fontsize=9, color=colour)
    ax.set_xlim(0, horizon / unit)
    ax.set_title("Capacity by stage against demand" + (f" ({binned})" if binned else ""))
    ax.set_xlabel(f"time ({unit_name})")
    ax.set_ylabel("GPUs")
    ax.yaxis.set_major_formatter(_thousands())
    _legend_below(fig, [ax])
    return png_bytes(fig)


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


@styled
def supply_wait_png(t, busy, up, horizon: float, warmup: float, wait_edges, wait_p90,
                    entered_t, entered_gpus, wait_bin_name: str, target_s: float) -> bytes:
    """Utilisation (top) and binned p90 wait by submit time (bottom, log hours), with the
    times ordered capacity entered service as vertical lines."""
    import numpy as np

    unit, unit_name = _time_unit(horizon)
    x, c, binned = _series(t, {"busy": busy, "up": up}, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(c["up"] > 0, 100.0 * c["busy"] / c["up"], np.nan)
    fig, (top, bottom) = new_figure(nrows=2)
    for ax in (top, bottom):
        _warmup_band(ax, warmup, unit)
        if len(entered_t):
            ax.axvspan(entered_t[0] / unit, entered_t[-1] / unit, color=ENTERED, alpha=0.08,
                       lw=0)
        for i, when in enumerate(entered_t):
            ax.axvline(when / unit, color=ENTERED, lw=1.0, alpha=0.8,
                       label="ordered GPUs entered service" if i == 0 else None)
    top.plot(x / unit, pct, drawstyle="steps-post", color=MAIN, lw=1.2,
             label="utilisation: busy / up GPUs" + (f" ({binned})" if binned else ""))
    top.set_ylim(0, 105)
    top.set_ylabel("utilisation (%)")

    floor = 60.0  # seconds: a p90 under a minute is drawn at the floor
    hours = np.maximum(np.asarray(wait_p90, dtype=float), floor) / HOUR_S
    hours = np.where(np.isfinite(wait_p90), hours, np.nan)
    edges = np.asarray(wait_edges, dtype=float)
    bottom.stairs(hours, edges / unit, color=MAIN, lw=1.6, baseline=None,
                  label=f"p90 wait, jobs submitted that {wait_bin_name}")
    bottom.axhline(target_s / HOUR_S, color=TARGET, ls="--", lw=1.4,
                   label=f"target: p90 ≤ {target_s / HOUR_S:g} h")
    bottom.set_yscale("log")
    finite = hours[np.isfinite(hours)]
    hi = max(float(finite.max()) if len(finite) else 1.0, target_s / HOUR_S) * 2
    lo = floor / HOUR_S / 1.5
    bottom.set_ylim(lo, hi)
    ticks = [(v, label) for v, label in WAIT_TICKS if lo <= v <= hi]
    bottom.set_yticks([v for v, _ in ticks], [label for _, label in ticks])
    bottom.yaxis.set_minor_locator(null_locator())
    bottom.set_ylabel("p90 wait")
    _legend_below(fig, [top, bottom], ncols=2)
    bottom.set_xlim(0, horizon / unit)
    bottom.set_xlabel(f"time ({unit_name}); wait by the job's submit time")
    top.set_title("Utilisation and wait as capacity arrives")
    return png_bytes(fig)
