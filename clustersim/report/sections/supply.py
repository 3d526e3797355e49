"""The "Capacity, supply and cost" section of the run report.

Present only when the scenario has ``supply`` (``scenario.supply`` in ``config.json``);
:func:`supply_section` returns None otherwise, so reports of runs without supply are
unchanged. It reads ``timeseries.parquet`` (capacity by stage: ``in_transit_gpus``,
``burn_in_gpus``, ``in_service_gpus``, ``rented_gpus``; demand: ``busy_gpus``,
``queued_gpus``), ``events.parquet`` (``order``, ``delivery``, ``in_service``, ...),
``jobs.parquet`` (wait by submit time) and ``summary.json`` (``capacity``, ``energy_*``,
``capex``, ``rental_cost``, ``utilisation_by_type``; see ``clustersim.results.costs``), and draws
two figures: the capacity timeline against demand, and utilisation and p90 wait over the
same time axis with the times ordered capacity entered service.

Dependency direction as for ``clustersim.report.sections.failures``: this module imports
``clustersim.report.run`` and ``clustersim.report.figures`` (its style helpers, read-only);
``clustersim.report.run`` imports it only inside the thin ``supply`` wrapper in ``SECTIONS``.

Before / after: the reading compares jobs submitted (after warm-up, not rejected) before the
first ordered GPUs entered service with jobs submitted at or after the last ordered GPUs did
(``in_service`` events of an order batch, ``batch >= 0``; rentals are not orders). A job
still queued at the end counts with the time it had waited so far (horizon − submit), so a
p90 that includes such jobs is a lower bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from clustersim.report import figures
from clustersim.report.run import (
    P90_WAIT_TARGET_S,
    Run,
    Section,
    _count,
    _dict,
    _dur,
    _image,
    _number,
    _pct,
    _table,
    md_escape,
    save_figure,
)

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
HOUR_S = 3600.0

STAGE_COLUMNS = ("in_transit_gpus", "burn_in_gpus", "in_service_gpus", "rented_gpus")
SUMMARY_KEYS = frozenset({
    "capacity", "energy_kwh", "energy_kwh_per_day", "energy_cost", "capex", "rental_cost",
    "utilisation_by_type",
})
"""Summary entries this section shows."""

# Stage colours: in service solid, the pipeline ever lighter the further from service.
IN_SERVICE = "#2ca02c"
RENTED = "#98df8a"
BURN_IN = "#ffbb78"
IN_TRANSIT = "#bcbddc"
BUSY = "#1f77b4"
DEMAND = "#d62728"
ORDER = "#555555"
ENTERED = "#2ca02c"


# --------------------------------------------------------------------------- run data


def supply_config(run: Run) -> dict[str, Any] | None:
    """``scenario.supply`` when the run simulated supply, else None."""
    value = run.scenario.get("supply")
    return value if isinstance(value, dict) else None


def load_events(run: Run):
    """The supply rows of ``events.parquet`` (all columns the section uses present; an empty
    frame when the file is missing)."""
    import pandas as pd

    path = Path(run.dir) / "events.parquet"
    frame = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
    defaults = {"t_s": float("nan"), "kind": "", "gpu_type": "", "gpus": 0, "order_id": -1,
                "batch": -1, "late_s": float("nan"), "detail": ""}
    for column, value in defaults.items():
        if column not in frame.columns:
            frame[column] = value
    for column in ("kind", "gpu_type", "detail"):
        frame[column] = frame[column].astype(str)
    for column in ("t_s", "gpus", "order_id", "batch", "late_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)


def entered_service(events):
    """``in_service`` events of ordered batches (not rentals): (times, GPUs), in time order,
    same-time events merged."""
    rows = events[(events["kind"] == "in_service") & (events["batch"] >= 0)]
    grouped = rows.groupby("t_s", sort=True)["gpus"].sum()
    return grouped.index.to_numpy(float), grouped.to_numpy(float)


def job_waits(run: Run):
    """Measured jobs' submit times and waits; a job not started by the end counts with
    horizon − submit. Returns (submit, wait, started) numpy arrays."""
    jobs = run.measured_jobs()
    started = jobs["started"].to_numpy(bool)
    submit = jobs["submit_s"].to_numpy(float)
    wait = jobs["wait"].to_numpy(float).copy()
    wait[~started] = run.horizon - submit[~started]
    return submit, wait, started


class WaitWindow(NamedTuple):
    jobs: int
    p90: float | None
    queued: int  # jobs still queued at the end (their wait is a lower bound)


def _window(submit, wait, started, inside) -> WaitWindow:
    import numpy as np

    w = wait[inside]
    w = w[np.isfinite(w)]
    p90 = float(np.percentile(w, 90)) if len(w) else None
    return WaitWindow(int(inside.sum()), p90, int((inside & ~started).sum()))


def wait_before_after(run: Run, first: float, last: float) -> tuple[WaitWindow, WaitWindow]:
    """p90 wait of jobs submitted before ``first`` and at or after ``last``."""
    submit, wait, started = job_waits(run)
    return (_window(submit, wait, started, submit < first),
            _window(submit, wait, started, submit >= last))


def binned_p90_wait(run: Run, width: float):
    """p90 wait of jobs by submit time in bins of ``width`` seconds from 0 to the horizon:
    (bin edges, p90 seconds per bin or NaN, jobs per bin, still-queued jobs per bin)."""
    import numpy as np

    submit, wait, started = job_waits(run)
    n = max(1, int(np.ceil(run.horizon / width - 1e-9)))
    edges = np.minimum(np.arange(n + 1) * width, run.horizon)
    index = np.clip(np.searchsorted(edges, submit, side="right") - 1, 0, n - 1)
    p90 = np.full(n, np.nan)
    count = np.zeros(n, dtype=int)
    queued = np.zeros(n, dtype=int)
    finite = np.isfinite(wait)
    for i in range(n):
        inside = (index == i) & finite
        count[i] = int(inside.sum())
        queued[i] = int((inside & ~started).sum())
        if count[i]:
            p90[i] = float(np.percentile(wait[inside], 90))
    return edges, p90, count, queued


def _ts_column(run: Run, name: str):
    import pandas as pd

    ts = run.timeseries
    if name not in ts.columns:
        return None
    return pd.to_numeric(ts[name], errors="coerce").fillna(0).to_numpy(float)


def _time_unit(horizon: float) -> tuple[float, str]:
    return (WEEK_S, "weeks") if horizon >= 8 * WEEK_S else (DAY_S, "days")


def _wait_bin(horizon: float) -> tuple[float, str]:
    if horizon >= 8 * WEEK_S:
        return WEEK_S, "week"
    if horizon >= 4 * DAY_S:
        return DAY_S, "day"
    return HOUR_S, "hour"


# --------------------------------------------------------------------------- figures


def _series(t, columns: dict[str, Any], horizon: float):
    """Points to draw step functions over [0, horizon]: as ``figures.downsample``, but a long
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
            mean = np.diff(figures.step_integral(t, values, edges)) / width
            out[name] = np.append(mean, mean[-1])
        return edges, out, "daily means"
    x, out = figures.downsample(t, columns, horizon)
    binned = len(t) > figures.MAX_RAW_ROWS
    return x, out, (f"means per {figures.format_duration(horizon / figures.BINS)} bin"
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
        ax.axvspan(0, warmup / unit, color=figures.WARMUP, alpha=0.15, lw=0, label="warm-up")


@figures._styled
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
    fig, (ax,) = figures._figure()
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
    return figures._png(fig)


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


@figures._styled
def supply_wait_png(t, busy, up, horizon: float, warmup: float, wait_edges, wait_p90,
                    entered_t, entered_gpus, wait_bin_name: str, target_s: float) -> bytes:
    """Utilisation (top) and binned p90 wait by submit time (bottom, log hours), with the
    times ordered capacity entered service as vertical lines."""
    import numpy as np

    unit, unit_name = _time_unit(horizon)
    x, c, binned = _series(t, {"busy": busy, "up": up}, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(c["up"] > 0, 100.0 * c["busy"] / c["up"], np.nan)
    fig, (top, bottom) = figures._figure(nrows=2)
    for ax in (top, bottom):
        _warmup_band(ax, warmup, unit)
        if len(entered_t):
            ax.axvspan(entered_t[0] / unit, entered_t[-1] / unit, color=ENTERED, alpha=0.08,
                       lw=0)
        for i, when in enumerate(entered_t):
            ax.axvline(when / unit, color=ENTERED, lw=1.0, alpha=0.8,
                       label="ordered GPUs entered service" if i == 0 else None)
    top.plot(x / unit, pct, drawstyle="steps-post", color=figures.MAIN, lw=1.2,
             label="utilisation: busy / up GPUs" + (f" ({binned})" if binned else ""))
    top.set_ylim(0, 105)
    top.set_ylabel("utilisation (%)")

    floor = 60.0  # seconds: a p90 under a minute is drawn at the floor
    hours = np.maximum(np.asarray(wait_p90, dtype=float), floor) / HOUR_S
    hours = np.where(np.isfinite(wait_p90), hours, np.nan)
    edges = np.asarray(wait_edges, dtype=float)
    bottom.stairs(hours, edges / unit, color=figures.MAIN, lw=1.6, baseline=None,
                  label=f"p90 wait, jobs submitted that {wait_bin_name}")
    bottom.axhline(target_s / HOUR_S, color=figures.TARGET, ls="--", lw=1.4,
                   label=f"target: p90 ≤ {target_s / HOUR_S:g} h")
    bottom.set_yscale("log")
    finite = hours[np.isfinite(hours)]
    hi = max(float(finite.max()) if len(finite) else 1.0, target_s / HOUR_S) * 2
    lo = floor / HOUR_S / 1.5
    bottom.set_ylim(lo, hi)
    ticks = [(v, label) for v, label in figures._WAIT_TICKS if lo <= v <= hi]
    bottom.set_yticks([v for v, _ in ticks], [label for _, label in ticks])
    bottom.yaxis.set_minor_locator(figures._null_locator())
    bottom.set_ylabel("p90 wait")
    _legend_below(fig, [top, bottom], ncols=2)
    bottom.set_xlim(0, horizon / unit)
    bottom.set_xlabel(f"time ({unit_name}); wait by the job's submit time")
    top.set_title("Utilisation and wait as capacity arrives")
    return figures._png(fig)


# --------------------------------------------------------------------------- text


def _money(value: Any) -> str:
    v = _number(value)
    if v is None:
        return "n/a"
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:,.1f} k"
    return f"{v:,.0f}"


def _when(seconds: float) -> str:
    days = seconds / DAY_S
    return f"day {days:,.0f} (week {seconds / WEEK_S:,.1f})"


def _table_rows(run: Run, supply: dict[str, Any]) -> list[list[str]]:
    s = run.summary
    capacity, capex = _dict(s.get("capacity")), _dict(s.get("capex"))
    energy = _dict(supply.get("energy"))
    rows = [["**Capital cost (capex), total**", f"**{_money(capex.get('total'))}**"],
            ["of which: fleet at time 0", _money(capex.get("initial"))],
            ["of which: GPUs delivered during the run (paid on delivery)", _money(capex.get("delivered"))]]
    for name, value in sorted(_dict(capex.get("by_type")).items()):
        rows.append([f"by GPU type: {md_escape(name)}", _money(value)])
    kwh, per_day = _number(s.get("energy_kwh")), _number(s.get("energy_kwh_per_day"))
    pue, price = _number(energy.get("pue")), _number(energy.get("price_per_kwh"))
    rows += [
        ["Rental cost", _money(s.get("rental_cost"))],
        ["Energy (facility, incl. PUE)",
         "n/a" if kwh is None else f"{kwh:,.0f} kWh ({_count(per_day)} kWh/day)"],
        ["Energy cost", _money(s.get("energy_cost"))
         + (f" (PUE {pue:g}, {price:g} per kWh)" if pue is not None and price is not None
            else "")],
    ]
    parts = [_number(s.get(k)) for k in ("rental_cost", "energy_cost")] + [_number(capex.get("total"))]
    if all(p is not None for p in parts):
        rows.append(["**Capex + rental + energy**", f"**{_money(sum(parts))}**"])
    delivered, late = capacity.get("delivered_gpus"), capacity.get("delivered_late_gpus")
    rows += [
        ["GPU-hours in service (owned and rented)", _count(capacity.get("in_service_gpu_hours"))],
        ["GPUs delivered (of them late)", f"{_count(delivered)} ({_count(late)})"],
        ["Orders refused / substituted (export controls)",
         f"{_count(capacity.get('orders_refused'))} / {_count(capacity.get('orders_substituted'))}"],
    ]
    for name, value in sorted(_dict(s.get("utilisation_by_type")).items()):
        rows.append([f"Utilisation after warm-up: {md_escape(name)}", _pct(value)])
    return rows


def _p90_text(window: WaitWindow) -> str:
    if window.p90 is None:
        return "n/a (no jobs)"
    bound = "at least " if window.queued else ""
    return f"**{bound}{_dur(window.p90)}**"


def _utilisation(run: Run, start: float, end: float) -> float | None:
    ts = run.timeseries
    return figures.time_weighted_ratio(ts["t_s"].to_numpy(float), ts["busy_gpus"].to_numpy(float),
                                       ts["up_gpus"].to_numpy(float), start, end)


def _reading(run: Run, events) -> list[str]:
    out = []
    orders = events[events["kind"] == "order"]
    ordered = float(orders["gpus"].sum())
    entered_t, entered_gpus = entered_service(events)
    types = sorted({str(x) for x in orders["gpu_type"] if str(x)})
    what = " ".join([f"{ordered:,.0f}", *(["/".join(md_escape(x) for x in types)] if types else []),
                     "GPUs"])
    if not len(orders):
        out.append("No order was placed (or every order was refused), so the fleet only "
                   "changed through rental or retirement, if any.")
    elif not len(entered_t):
        out.append(f"None of the {what} ordered entered service before the end of the run "
                   f"({_when(run.horizon)}): the whole order was still in the pipeline.")
    else:
        first, last = float(entered_t[0]), float(entered_t[-1])
        got = float(entered_gpus.sum())
        span = (f"on {_when(first)}" if last == first
                else f"between {_when(first)} and {_when(last)}")
        text = f"Of the {what} ordered, {got:,.0f} entered service {span}"
        text += f", in {len(entered_t)} step{'s' if len(entered_t) != 1 else ''}."
        if got < ordered:
            text += f" {ordered - got:,.0f} had not entered service by the end of the run."
        late = _number(_dict(run.summary.get("capacity")).get("delivered_late_gpus"))
        if late:
            text += f" {late:,.0f} GPUs were delivered later than planned."
        out.append(text)
        before, after = wait_before_after(run, first, last)
        u_before = _utilisation(run, run.warmup, first) if first > run.warmup else None
        u_after = _utilisation(run, last, run.horizon)
        sentences = []
        if before.jobs and after.jobs:
            sentences.append(
                f"Jobs submitted before the first ordered GPUs entered service waited "
                f"{_p90_text(before)} at p90 ({before.jobs:,} jobs); jobs submitted after the "
                f"last did {_p90_text(after)} ({after.jobs:,} jobs), against the "
                f"{_dur(P90_WAIT_TARGET_S)} target.")
        elif after.jobs:
            sentences.append(f"Jobs submitted after the last ordered GPUs entered service "
                             f"waited {_p90_text(after)} at p90 ({after.jobs:,} jobs).")
        elif before.jobs:
            sentences.append(f"Jobs submitted before the first ordered GPUs entered service "
                             f"waited {_p90_text(before)} at p90 ({before.jobs:,} jobs); no job "
                             f"was submitted after the last.")
        remaining = run.horizon - last
        if after.jobs and remaining < 0.1 * (run.horizon - run.warmup):
            sentences.append(f"Only {_dur(remaining)} of the run remain after the last ordered "
                             f"GPUs entered service, so the \"after\" figure is a first look, "
                             f"not a steady state.")
        if u_before is not None and u_after is not None:
            sentences.append(f"Utilisation went from {_pct(u_before)} to {_pct(u_after)}.")
        if before.queued or after.queued:
            sentences.append("*At least*: some of these jobs were still queued at the end and "
                             "count with the time they had waited so far.")
        if sentences:
            out.append(" ".join(sentences))
    refused = _number(_dict(run.summary.get("capacity")).get("orders_refused"))
    if refused:
        out.append(f"**{refused:,.0f} order{'s were' if refused != 1 else ' was'} refused** "
                   f"(the GPU type was no longer orderable and had no substitute).")
    return out


# --------------------------------------------------------------------------- the section


def _capacity_figure(run: Run, events) -> Path | None:
    columns = {name: _ts_column(run, f"{name}_gpus")
               for name in ("in_service", "rented", "burn_in", "in_transit")}
    if columns["in_service"] is None:
        return save_figure(run, "capacity", None)
    import numpy as np

    zeros = np.zeros(len(run.timeseries))
    stages = {k: (zeros if v is None else v) for k, v in columns.items()}
    ts = run.timeseries

    def label(row) -> str:
        gpus = f"{row.gpus:,.0f}" if row.gpus == row.gpus else "?"
        return f"{gpus} {row.gpu_type}".strip()

    orders = [(float(r.t_s), label(r)) for r in events[events["kind"] == "order"].itertuples()]
    refused = [(float(r.t_s), label(r))
               for r in events[events["kind"] == "order_refused"].itertuples()]
    png = capacity_png(ts["t_s"].to_numpy(float), stages, ts["busy_gpus"].to_numpy(float),
                       ts["queued_gpus"].to_numpy(float), run.horizon, run.warmup, orders,
                       refused)
    return save_figure(run, "capacity", png)


def _wait_figure(run: Run, events) -> Path | None:
    width, name = _wait_bin(run.horizon)
    edges, p90, _, _ = binned_p90_wait(run, width)
    entered_t, entered_gpus = entered_service(events)
    ts = run.timeseries
    png = supply_wait_png(ts["t_s"].to_numpy(float), ts["busy_gpus"].to_numpy(float),
                          ts["up_gpus"].to_numpy(float), run.horizon, run.warmup, edges, p90,
                          entered_t, entered_gpus, name, P90_WAIT_TARGET_S)
    return save_figure(run, "supply_wait", png)


def supply_section(run: Run) -> Section | None:
    supply = supply_config(run)
    if supply is None:
        return None
    events = load_events(run)
    lines = ["## Capacity, supply and cost", ""]
    for paragraph in _reading(run, events):
        lines += [paragraph, ""]
    lines += _table(["Cost, energy and capacity", "Value"], _table_rows(run, supply), "lr")
    lines += ["", "Money is in the currency of the scenario's prices (USD in the defaults); "
              "capex, energy and rental are over the whole run, utilisation after warm-up."]
    paths: list[Path] = []

    path = _capacity_figure(run, events)
    if path is not None:
        paths.append(path)
        lines += ["", "### Capacity timeline", "",
                  "GPUs by stage over the run: in service at the bottom, then delivered GPUs "
                  "in burn-in and acceptance (including nodes being repaired after failing "
                  "it), then GPUs ordered but not yet delivered (the model has one lead time "
                  "from order to delivery, so shipping is part of it). Dotted lines are order "
                  "dates. The blue line is busy GPUs; the red line is demand, busy plus the "
                  "GPUs queued jobs ask for. Where red stays above the green area the cluster "
                  "is short of capacity and the queue grows.",
                  "", _image(run, path, "Capacity by stage against demand")]

    path = _wait_figure(run, events)
    if path is not None:
        width, name = _wait_bin(run.horizon)
        paths.append(path)
        lines += ["", "### Utilisation and wait as capacity arrives", "",
                  f"Top: busy GPUs as a share of GPUs up. Bottom: p90 wait of the jobs "
                  f"submitted in each {name} (log scale; under a minute is drawn at 1 min; "
                  f"jobs still queued at the end count with their wait so far). Green lines "
                  f"mark when ordered GPUs entered service, the green band the span from the "
                  f"first to the last. Waits that fall as the band passes mean the order "
                  f"fixed the shortage; waits that stay high mean it was too small or too "
                  f"late.", "", _image(run, path, "Utilisation and wait as capacity arrives")]
    return Section("\n".join(lines), paths)
