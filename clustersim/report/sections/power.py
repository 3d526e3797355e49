"""The "Power" section of the run report.

Present only when the scenario has a ``power`` section (``scenario.power`` in
``config.json``). It reads ``summary.json`` (``power.*``: energy, peak and mean draw, hours at
and over the cap, jobs delayed by power and their waits; see ``clustersim.engine.power``) and
``timeseries.parquet`` (``facility_power_w``, ``it_power_w``, ``power_cap_w``) for one
figure: power against the cap over time.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.figures.power import power_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"power"})
"""Summary entries this section shows."""


def applies(run: Run) -> bool:
    """The run modelled power."""
    return isinstance(run.scenario.get("power"), dict)


def _mw(value: Any) -> str:
    v = fmt.number(value)
    return "n/a" if v is None else f"{v:,.2f} MW"


def _hours(value: Any) -> str:
    v = fmt.number(value)
    return "n/a" if v is None else f"{v:,.1f} h"


def _rows(run: Run, power: dict[str, Any], cfg: dict[str, Any]) -> list[list[str]]:
    kwh = fmt.number(power.get("energy_kwh"))
    days = run.horizon / 86400.0
    rows = [
        ["Mode", str(cfg.get("mode", "account"))],
        ["**Facility energy** (PUE x IT)", f"**{kwh:,.0f} kWh**" if kwh is not None else "n/a"],
        ["per day", f"{kwh / days:,.0f} kWh" if kwh is not None and days > 0 else "n/a"],
        ["IT energy", f"{fmt.number(power.get('it_energy_kwh')) or 0:,.0f} kWh"],
        ["Energy cost", f"{fmt.number(power.get('energy_cost')) or 0:,.0f}"],
        ["Mean / peak facility power", f"{_mw(power.get('mean_facility_mw'))} / {_mw(power.get('peak_facility_mw'))}"],
    ]
    if "hours_at_cap" in power:
        rows += [
            ["Lowest cap", _mw(power.get("min_cap_mw"))],
            ["Hours at the cap (>= 98% of it)", _hours(power.get("hours_at_cap"))],
            ["Hours over the cap", _hours(power.get("hours_over_cap"))],
        ]
    if "jobs_delayed" in power:
        wait = fmt.as_dict(power.get("power_wait_s"))
        rows += [
            ["Hours with a job held for power", _hours(power.get("hours_power_held"))],
            ["**Jobs delayed by power** (submitted after warm-up)", f"**{fmt.count(power.get('jobs_delayed'))}**"],
            ["Power wait: mean / p90 / max", " / ".join(fmt.duration(wait.get(k)) for k in ("mean", "p90", "max"))],
            ["GPU-hours waited for power", f"{fmt.number(power.get('power_wait_gpu_hours')) or 0:,.0f}"],
        ]
    return rows


def power_section(run: Run) -> Section | None:
    """The power table and the power-vs-cap figure; None without a power section."""
    if not applies(run):
        return None
    cfg = run.scenario["power"]
    power = fmt.as_dict(run.summary.get("power"))
    lines = ["## Power", ""]
    lines += fmt.table(["Power", "Value"], _rows(run, power, cfg), "lr")
    ts = run.timeseries
    paths = []
    if "facility_power_w" in ts.columns:
        cap = ts["power_cap_w"].to_numpy(float) if "power_cap_w" in ts.columns else None
        png = power_png(ts["t_s"].to_numpy(float), ts["facility_power_w"].to_numpy(float),
                        ts["it_power_w"].to_numpy(float), cap, run.horizon)
        path = save_figure(run, "power", png)
        paths.append(path)
        lines += ["", "Facility power (PUE x IT power) and IT power over the run, against the "
                  "facility cap (dashed) where there is one. Under `admission` a job starts only "
                  "if the facility stays within the cap for the whole of its expected run, so a "
                  "lower cap ahead (a summer or peak-hour window) holds long jobs back before it "
                  "begins.", "", fmt.image(run.dir, path, "Power against the cap")]
    return Section("\n".join(lines), paths)
