"""The "Capacity, supply and cost" section of the run report.

Present only when the scenario has ``supply`` (``scenario.supply`` in ``config.json``);
:func:`supply_section` returns None otherwise, so reports of runs without supply are
unchanged. It reads ``timeseries.parquet`` (capacity by stage: ``in_transit_gpus``,
``burn_in_gpus``, ``in_service_gpus``, ``rented_gpus``; demand: ``busy_gpus``,
``queued_gpus``), ``events.parquet`` (``order``, ``delivery``, ``in_service``, ...),
``jobs.parquet`` (wait by submit time) and ``summary.json`` (``capacity``, ``energy_*``,
``capex``, ``rental_cost``, ``utilisation_by_type``; see ``clustersim.results.costs``), and draws
two figures: the capacity timeline against demand, and utilisation and p90 wait over the
same time axis with the times ordered capacity entered service. The numbers come from
``clustersim.report.analysis.supply``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clustersim.report import format as fmt
from clustersim.report.analysis.supply import (
    DAY_S,
    WEEK_S,
    WaitWindow,
    binned_p90_wait,
    entered_service,
    load_events,
    supply_config,
    timeseries_column,
    wait_before_after,
    wait_bin,
)
from clustersim.report.figures.supply import capacity_png, supply_wait_png
from clustersim.report.files import save_figure
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section
from clustersim.report.series import time_weighted_ratio

SUMMARY_KEYS = frozenset({
    "capacity", "energy_kwh", "energy_kwh_per_day", "energy_cost", "capex", "rental_cost",
    "utilisation_by_type",
})
"""Summary entries this section shows."""


def applies(run: Run) -> bool:
    """The run simulated supply."""
    return supply_config(run) is not None


# --------------------------------------------------------------------------- text


def _money(value: Any) -> str:
    v = fmt.number(value)
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
    capacity, capex = fmt.as_dict(s.get("capacity")), fmt.as_dict(s.get("capex"))
    energy = fmt.as_dict(supply.get("energy"))
    rows = [["**Capital cost (capex), total**", f"**{_money(capex.get('total'))}**"],
            ["of which: fleet at time 0", _money(capex.get("initial"))],
            ["of which: GPUs delivered during the run (paid on delivery)",
             _money(capex.get("delivered"))]]
    for name, value in sorted(fmt.as_dict(capex.get("by_type")).items()):
        rows.append([f"by GPU type: {fmt.md_escape(name)}", _money(value)])
    kwh, per_day = fmt.number(s.get("energy_kwh")), fmt.number(s.get("energy_kwh_per_day"))
    power = fmt.as_dict(run.scenario.get("power"))  # with a power section, its energy model's
    priced = power or energy
    pue, price = fmt.number(priced.get("pue")), fmt.number(priced.get("price_per_kwh"))
    rows += [
        ["Rental cost", _money(s.get("rental_cost"))],
        ["Energy (facility, incl. PUE)",
         "n/a" if kwh is None else f"{kwh:,.0f} kWh ({fmt.count(per_day)} kWh/day)"],
        ["Energy cost", _money(s.get("energy_cost"))
         + (f" (PUE {pue:g}, {price:g} per kWh)" if pue is not None and price is not None
            else "")],
    ]
    parts = [fmt.number(s.get(k)) for k in ("rental_cost", "energy_cost")]
    parts.append(fmt.number(capex.get("total")))
    if all(p is not None for p in parts):
        rows.append(["**Capex + rental + energy**", f"**{_money(sum(parts))}**"])
    delivered, late = capacity.get("delivered_gpus"), capacity.get("delivered_late_gpus")
    rows += [
        ["GPU-hours in service (owned and rented)",
         fmt.count(capacity.get("in_service_gpu_hours"))],
        ["GPUs delivered (of them late)", f"{fmt.count(delivered)} ({fmt.count(late)})"],
        ["Orders refused / substituted (export controls)",
         f"{fmt.count(capacity.get('orders_refused'))} / "
         f"{fmt.count(capacity.get('orders_substituted'))}"],
    ]
    for name, value in sorted(fmt.as_dict(s.get("utilisation_by_type")).items()):
        rows.append([f"Utilisation after warm-up: {fmt.md_escape(name)}", fmt.percent(value)])
    return rows


def _p90_text(window: WaitWindow) -> str:
    if window.p90 is None:
        return "n/a (no jobs)"
    bound = "at least " if window.queued else ""
    return f"**{bound}{fmt.duration(window.p90)}**"


def _utilisation(run: Run, start: float, end: float) -> float | None:
    ts = run.timeseries
    return time_weighted_ratio(ts["t_s"].to_numpy(float), ts["busy_gpus"].to_numpy(float),
                               ts["up_gpus"].to_numpy(float), start, end)


def _reading(run: Run, events) -> list[str]:
    out = []
    orders = events[events["kind"] == "order"]
    ordered = float(orders["gpus"].sum())
    entered_t, entered_gpus = entered_service(events)
    types = sorted({str(x) for x in orders["gpu_type"] if str(x)})
    named = ["/".join(fmt.md_escape(x) for x in types)] if types else []
    what = " ".join([f"{ordered:,.0f}", *named, "GPUs"])
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
        late = fmt.number(fmt.as_dict(run.summary.get("capacity")).get("delivered_late_gpus"))
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
                f"{fmt.duration(P90_WAIT_TARGET_S)} target.")
        elif after.jobs:
            sentences.append(f"Jobs submitted after the last ordered GPUs entered service "
                             f"waited {_p90_text(after)} at p90 ({after.jobs:,} jobs).")
        elif before.jobs:
            sentences.append(f"Jobs submitted before the first ordered GPUs entered service "
                             f"waited {_p90_text(before)} at p90 ({before.jobs:,} jobs); no job "
                             f"was submitted after the last.")
        remaining = run.horizon - last
        if after.jobs and remaining < 0.1 * (run.horizon - run.warmup):
            sentences.append(f"Only {fmt.duration(remaining)} of the run remain after the last "
                             f"ordered GPUs entered service, so the \"after\" figure is a first "
                             f"look, not a steady state.")
        if u_before is not None and u_after is not None:
            sentences.append(f"Utilisation went from {fmt.percent(u_before)} to "
                             f"{fmt.percent(u_after)}.")
        if before.queued or after.queued:
            sentences.append("*At least*: some of these jobs were still queued at the end and "
                             "count with the time they had waited so far.")
        if sentences:
            out.append(" ".join(sentences))
    refused = fmt.number(fmt.as_dict(run.summary.get("capacity")).get("orders_refused"))
    if refused:
        out.append(f"**{refused:,.0f} order{'s were' if refused != 1 else ' was'} refused** "
                   f"(the GPU type was no longer orderable and had no substitute).")
    return out


# --------------------------------------------------------------------------- the section


def _capacity_figure(run: Run, events) -> Path | None:
    columns = {name: timeseries_column(run, f"{name}_gpus")
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
    width, name = wait_bin(run.horizon)
    edges, p90, _, _ = binned_p90_wait(run, width)
    entered_t, entered_gpus = entered_service(events)
    ts = run.timeseries
    png = supply_wait_png(ts["t_s"].to_numpy(float), ts["busy_gpus"].to_numpy(float),
                          ts["up_gpus"].to_numpy(float), run.horizon, run.warmup, edges, p90,
                          entered_t, entered_gpus, name, P90_WAIT_TARGET_S)
    return save_figure(run, "supply_wait", png)


def supply_section(run: Run) -> Section | None:
    """A reading of the orders, the cost table and two figures; None without supply."""
    supply = supply_config(run)
    if supply is None:
        return None
    events = load_events(run)
    lines = ["## Capacity, supply and cost", ""]
    for paragraph in _reading(run, events):
        lines += [paragraph, ""]
    lines += fmt.table(["Cost, energy and capacity", "Value"], _table_rows(run, supply), "lr")
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
                  "", fmt.image(run.dir, path, "Capacity by stage against demand")]

    path = _wait_figure(run, events)
    if path is not None:
        width, name = wait_bin(run.horizon)
        paths.append(path)
        lines += ["", "### Utilisation and wait as capacity arrives", "",
                  f"Top: busy GPUs as a share of GPUs up. Bottom: p90 wait of the jobs "
                  f"submitted in each {name} (log scale; under a minute is drawn at 1 min; "
                  f"jobs still queued at the end count with their wait so far). Green lines "
                  f"mark when ordered GPUs entered service, the green band the span from the "
                  f"first to the last. Waits that fall as the band passes mean the order "
                  f"fixed the shortage; waits that stay high mean it was too small or too "
                  f"late.", "",
                  fmt.image(run.dir, path, "Utilisation and wait as capacity arrives")]
    return Section("\n".join(lines), paths)
