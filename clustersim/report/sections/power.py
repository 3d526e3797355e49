"""The "Power" section of the run report.

Present only when the scenario has a ``power`` section (``scenario.power`` in
``config.json``). It reads ``summary.json`` (``power.*``: energy, peak and mean draw, hours at
and over the cap, jobs delayed by power and their waits, and under ``capping`` the GPU-hours
run power-capped, the throughput they lost and the jobs slowed; see ``clustersim.engine.power``
and ``clustersim.engine.power_modes``), ``timeseries.parquet`` (``facility_power_w``,
``it_power_w``, ``power_cap_w``, ``power_held_jobs``, ``throttled_gpus``) for one figure, and
``jobs.parquet`` (``power_wait_s``, ``capped_s``) for the jobs the cap delayed or slowed most.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.figures.power import power_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"power"})
"""Summary entries this section shows."""

TOP = 5  # jobs listed as the most delayed or slowed by power

MODE_TEXT = {
    "account": "Nothing is limited: the section records what the fleet drew.",
    "admission": "Under `admission` a job starts only if the facility stays within the cap for the "
    "whole of its expected run, so a lower cap ahead (a summer or peak-hour window) holds long "
    "jobs back before it begins.",
    "capping": "Under `capping` a job starts if the fleet would fit with every training GPU at its "
    "lowest power limit; while the full draw would pass the cap, training GPUs run power-capped "
    "and slower by the power-performance curve (inference keeps full power), so facility power "
    "rides at the cap instead of jobs waiting.",
}


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
    if "jobs_slowed" in power:
        capped = fmt.as_dict(power.get("capped_s"))
        rows += [
            ["Hours with GPUs power-capped", _hours(power.get("hours_throttled"))],
            ["GPU-hours run power-capped", f"{fmt.number(power.get('throttled_gpu_hours')) or 0:,.0f}"],
            ["GPU-hours of throughput lost to capping (share of training GPU-hours)",
             f"{fmt.number(power.get('throttle_lost_gpu_hours')) or 0:,.0f} "
             f"({fmt.percent(power.get('throttle_lost_share'))})"],
            ["Mean power shed", _mw(power.get("mean_shed_mw"))],
            ["**Jobs slowed by power** (submitted after warm-up)", f"**{fmt.count(power.get('jobs_slowed'))}**"],
            ["Time run capped: mean / p90 / max", " / ".join(fmt.duration(capped.get(k)) for k in ("mean", "p90", "max"))],
        ]
    if "replica_throttled_gpu_hours" in power:  # replicas power-capped too (capping.inference)
        rows += [
            ["Hours with inference replicas power-capped", _hours(power.get("hours_replicas_throttled"))],
            ["Replica GPU-hours of throughput lost to capping (share of replica GPU-hours)",
             f"{fmt.number(power.get('replica_throttle_lost_gpu_hours')) or 0:,.0f} "
             f"({fmt.percent(power.get('replica_throttle_lost_share'))})"],
        ]
    return rows


def _most_affected(run: Run) -> list[str]:
    """The jobs the cap delayed or slowed most (by GPU-hours), submitted after warm-up."""
    cols = [c for c in ("power_wait_s", "capped_s") if c in run.jobs.columns]
    if not cols:
        return []
    jobs = run.measured_jobs(("job_class", "num_gpus", *cols))
    hit = sum(jobs[c] for c in cols) * jobs["num_gpus"]
    jobs = jobs.assign(hit=hit)
    jobs = jobs[jobs["hit"] > 0].sort_values(["hit", "submit_s"], ascending=[False, True]).head(TOP)
    if not len(jobs):
        return []
    header = ["Job (row)", "Class", "GPUs", "Submitted"] + [
        {"power_wait_s": "Waited for power", "capped_s": "Ran capped"}[c] for c in cols]
    rows = []
    for row, j in jobs.iterrows():  # the row of jobs.parquet (a synthetic job's number)
        rows.append([f"#{row}", fmt.md_escape(j.get("job_class")), fmt.count(j["num_gpus"]),
                     fmt.days(j["submit_s"])] + [fmt.duration(j[c]) for c in cols])
    return ["", f"Jobs the cap delayed or slowed most (GPUs x (power wait + time run capped), top {TOP}):", ""] + (
        fmt.table(header, rows, "llrr" + "r" * len(cols)))


def power_section(run: Run) -> Section | None:
    """The power table, the power-vs-cap figure and the jobs most affected; None without a
    power section."""
    if not applies(run):
        return None
    cfg = run.scenario["power"]
    power = fmt.as_dict(run.summary.get("power"))
    lines = ["## Power", ""]
    lines += fmt.table(["Power", "Value"], _rows(run, power, cfg), "lr")
    ts = run.timeseries
    paths = []
    if "facility_power_w" in ts.columns:
        def col(name):
            return ts[name].to_numpy(float) if name in ts.columns else None

        png = power_png(ts["t_s"].to_numpy(float), col("facility_power_w"), col("it_power_w"), col("power_cap_w"),
                        run.horizon, held=col("power_held_jobs"), throttled=col("throttled_gpus"))
        path = save_figure(run, "power", png)
        paths.append(path)
        mode = str(cfg.get("mode", "account"))
        text = MODE_TEXT.get(mode, "")
        if mode == "capping" and (cfg.get("capping") or {}).get("inference"):
            text += (" Here inference replicas have a curve of their own and are capped too "
                     f"({(cfg.get('capping') or {}).get('inference_order', 'last')} in the order).")
        lines += ["", "Facility power (PUE x IT power) and IT power over the run, against the "
                  "facility cap (dashed) where there is one. " + text, "",
                  fmt.image(run.dir, path, "Power against the cap")]
    lines += _most_affected(run)
    return Section("\n".join(lines), paths)
