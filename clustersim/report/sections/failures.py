"""The "Failures and goodput" section of the run report.

Present only when the scenario has ``failures`` (``scenario.failures`` in ``config.json``);
:func:`failures_section` returns None otherwise, so reports of runs without failures are
unchanged. It reads ``summary.json`` (the failure numbers the simulator wrote),
``jobs.parquet`` (per-job restarts, work done, lost and overhead time), ``timeseries.parquet``
(``down_nodes``, ``up_gpus``, ``busy_gpus``) and ``events.parquet`` (one row per failure,
repair, job-level failure and pulled node), and draws four figures: failures over time,
nodes down, ETTR by job size and where the GPU-hours went. The numbers, and the analytic
reference values drawn beside them, come from ``clustersim.report.analysis.failures``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clustersim.report import format as fmt
from clustersim.report.analysis.failures import (
    analytic_ettr,
    ettr_groups,
    expected_nodes_down,
    failures_config,
    gpu_hours_breakdown,
    load_events,
    loss_by_size,
    mean_down_time,
)
from clustersim.report.figures.failures import (
    JOB_LEVEL,
    ettr_by_size_png,
    failure_timeline_png,
    gpu_hours_png,
    nodes_down_png,
)
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section
from clustersim.report.series import integral

SUMMARY_KEYS = frozenset({
    "failures", "job_failures", "job_interruptions", "spare_swaps", "nodes_pulled",
    "lost_gpu_hours", "overhead_gpu_hours", "useful_gpu_hours", "busy_gpu_hours", "goodput",
    "mean_nodes_down",
})
"""Summary numbers this section shows (the generic "Other metrics" table leaves them out)."""


def applies(run: Run) -> bool:
    """The run simulated failures."""
    return failures_config(run) is not None


# --------------------------------------------------------------------------- text


def _gpu_h(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _share(part: float | None, whole: float | None) -> str:
    return fmt.percent(part / whole) if part is not None and whole else "n/a"


def _table_rows(run: Run, failures: dict[str, Any]) -> list[list[str]]:
    summary = run.summary
    busy = fmt.number(summary.get("busy_gpu_hours"))
    lost = fmt.number(summary.get("lost_gpu_hours"))
    overhead = fmt.number(summary.get("overhead_gpu_hours"))
    nodes = fmt.number(fmt.as_dict(run.scenario.get("cluster")).get("nodes"))
    down = fmt.number(summary.get("mean_nodes_down"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    down_text = "n/a" if down is None else f"{down:,.2f}"
    if down is not None and nodes:
        down_text += f" ({fmt.percent(down / nodes)} of {nodes:,.0f})"
    ettr = fmt.as_dict(summary.get("ettr"))
    spares = fmt.number(failures.get("spare_nodes"))
    rows = [
        ["Node failures", fmt.count(summary.get("failures"))],
        ["Job-level failures (software, hangs; no node down)",
         fmt.count(summary.get("job_failures"))],
        ["Job interruptions (restarts, all causes)", fmt.count(summary.get("job_interruptions"))],
        ["Restarts on a hot spare" + (f" ({spares:,.0f} held)" if spares else ""),
         fmt.count(summary.get("spare_swaps"))],
        ["Nodes pulled from service", fmt.count(summary.get("nodes_pulled"))],
        ["Mean nodes down (after warm-up)", down_text],
        ["Expected nodes down (failure rate × mean time down)",
         "n/a" if expected is None else f"{expected:,.2f}"],
        ["**Goodput** (useful / busy GPU-hours)", f"**{fmt.percent(summary.get('goodput'))}**"],
        ["**ETTR**, finished jobs", f"**{fmt.percent(ettr.get('overall'))}**"],
    ]
    for name, value in sorted(fmt.as_dict(ettr.get("by_class")).items()):
        rows.append([f"ETTR, class {fmt.md_escape(name)}", fmt.percent(value)])
    rows += [
        ["Lost GPU-hours (work since last checkpoint, hung time)",
         f"{_gpu_h(lost)} ({_share(lost, busy)} of busy)"],
        ["Overhead GPU-hours (checkpoints, restarts)",
         f"{_gpu_h(overhead)} ({_share(overhead, busy)} of busy)"],
    ]
    return rows


def _reading(run: Run, failures: dict[str, Any]) -> list[str]:
    """One or two short paragraphs that read the numbers for a planner."""
    summary = run.summary
    busy = fmt.number(summary.get("busy_gpu_hours"))
    lost = fmt.number(summary.get("lost_gpu_hours"))
    overhead = fmt.number(summary.get("overhead_gpu_hours"))
    out = []
    if busy and lost is not None and overhead is not None:
        cost = lost + overhead
        text = (f"Failures and checkpointing cost **{_gpu_h(cost)} GPU-hours**, "
                f"**{_share(cost, busy)} of busy GPU time** ({_gpu_h(lost)} lost to failures, "
                f"{_gpu_h(overhead)} writing checkpoints and restarting).")
        buckets = [b for b in loss_by_size(run) if b[1] > 0]
        total_busy = sum(b[1] for b in buckets)
        total_cost = sum(b[2] for b in buckets)
        if len(buckets) > 1 and total_cost > 0:
            worst = max(buckets, key=lambda b: b[2])
            smallest = buckets[0]
            text += (f" Jobs of {worst[0]} GPUs ran {fmt.percent(worst[1] / total_busy)} of the "
                     f"busy GPU time but bore {fmt.percent(worst[2] / total_cost)} of this cost, "
                     f"{fmt.percent(worst[2] / worst[1])} of their own GPU time")
            if smallest is not worst:
                text += (f" against {fmt.percent(smallest[2] / smallest[1])} for jobs of "
                         f"{smallest[0]} GPU" + ("" if smallest[0] == "1" else "s"))
            text += "."
        out.append(text)
    fleet = []
    interruptions = fmt.number(summary.get("job_interruptions"))
    swaps = fmt.number(summary.get("spare_swaps"))
    if interruptions:
        if not swaps:
            spare = ", none on a hot spare."
        elif swaps >= interruptions:
            spare = "; every one restarted at once on a hot spare."
        else:
            spare = f"; {fmt.count(swaps)} of these restarted at once on a hot spare."
        fleet.append(f"Jobs were interrupted {fmt.count(interruptions)} times{spare}")
    down = fmt.number(summary.get("mean_nodes_down"))
    nodes = fmt.number(fmt.as_dict(run.scenario.get("cluster")).get("nodes"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    if down is not None and nodes:
        sentence = (f"On average {down:,.2f} nodes ({fmt.percent(down / nodes)} of the fleet) "
                    f"were down")
        if expected:
            ratio = down / expected
            where = ("close to" if 0.8 <= ratio <= 1.25 else "above" if ratio > 1 else "below")
            mean_down = mean_down_time(failures) or 0.0
            sentence += (f", {where} the {expected:,.2f} expected from the failure rate and the "
                         f"mean time down ({fmt.duration(mean_down)})")
            if where == "below" and run.warmup < 3 * mean_down:
                sentence += ("; the run starts with every node up and the warm-up is short "
                             "next to the repair times, so the count is still building up "
                             "while it is measured")
            elif where == "above" and (failures.get("lemons") or failures.get("early_life")):
                sentence += "; lemons and early-life failures are not in the expectation"
        fleet.append(sentence + ".")
    pulled = fmt.number(summary.get("nodes_pulled"))
    if pulled:
        were = "node was" if pulled == 1 else "nodes were"
        fleet.append(f"{fmt.count(pulled)} {were} pulled from service for good, so the fleet "
                     f"shrank during the run.")
    if fleet:
        out.append(" ".join(fleet))
    if fmt.number(fmt.as_dict(summary.get("ettr")).get("overall")) is None:
        out.append(f"No job submitted after warm-up finished, so there is no ETTR; goodput "
                   f"({fmt.percent(summary.get('goodput'))}) also counts the work of jobs still "
                   f"running at the end.")
    return out


# --------------------------------------------------------------------------- figures


def _timeline(run: Run, events) -> Path | None:
    import numpy as np

    kind = events["kind"].to_numpy(str)
    cause = events["cause"].to_numpy(str)
    t = events["t_s"].to_numpy(float)
    shown = (kind == "failure") | (kind == "job_failure")
    rows = np.where(kind == "job_failure", JOB_LEVEL, cause)[shown]
    hit = events["jobs_hit"].to_numpy(float)[shown] > 0
    pulled = kind == "pulled"
    png = failure_timeline_png(t[shown], rows, hit, t[pulled], cause[pulled],
                               run.horizon, run.warmup)
    return save_figure(run, "failure_timeline", png)


def _nodes_down(run: Run, failures: dict[str, Any]) -> tuple[Path | None, float | None]:
    ts = run.timeseries
    if "down_nodes" not in ts.columns:
        return save_figure(run, "nodes_down", None), None
    import pandas as pd

    t = ts["t_s"].to_numpy(float)
    down = pd.to_numeric(ts["down_nodes"], errors="coerce").fillna(0).to_numpy(float)
    window = run.horizon - run.warmup
    mean = integral(t, down, run.warmup, run.horizon) / window if window > 0 else None
    nodes = fmt.number(fmt.as_dict(run.scenario.get("cluster")).get("nodes"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    png = nodes_down_png(t, down, run.horizon, run.warmup, mean, expected, nodes)
    return save_figure(run, "nodes_down", png), expected


def _ettr_figure(run: Run, failures: dict[str, Any]) -> Path | None:
    import numpy as np

    finished, running = ettr_groups(run)
    cluster = fmt.as_dict(run.scenario.get("cluster"))
    per_node = fmt.number(cluster.get("gpus_per_node")) or 0.0
    sizes = run.jobs["num_gpus"].to_numpy(float)
    sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
    if len(sizes):
        lo, hi = min(1.0, float(sizes.min())), float(sizes.max())
    else:
        lo, hi = 1.0, max(1.0, per_node * (fmt.number(cluster.get("nodes")) or 1.0))
    curve_gpus = np.geomspace(lo, max(hi, lo * 2), 200)
    curve = analytic_ettr(curve_gpus, failures, per_node)
    if curve is None:
        curve_gpus, curve = np.array([]), np.array([])
    png = ettr_by_size_png(finished, curve_gpus, curve, running)
    return save_figure(run, "ettr_by_size", png)


# --------------------------------------------------------------------------- the section


def failures_section(run: Run) -> Section | None:
    """The failures table, a reading of it, and four figures; None without failures."""
    failures = failures_config(run)
    if failures is None:
        return None
    events = load_events(run)
    lines = ["## Failures and goodput", ""]
    lines += fmt.table(["Failures", "Value"], _table_rows(run, failures), "lr")
    for paragraph in _reading(run, failures):
        lines += ["", paragraph]
    paths: list[Path] = []

    lines += ["", "### Failures over time", ""]
    path = _timeline(run, events)
    if path is None:
        lines.append("No node failed and no job-level failure occurred during the run.")
    else:
        paths.append(path)
        lines += ["Every node failure (a row per cause, most frequent on top) and job-level "
                  "failure (bottom row) over the run, with the count per day above. Filled "
                  "markers interrupted at least one running job; hollow ones hit an idle node. "
                  "Clusters of failures in time point at a shared cause (a switch, a bad "
                  "batch of parts), not the steady hazard the scenario assumes.",
                  "", fmt.image(run.dir, path, "Failures over time")]

    path, expected = _nodes_down(run, failures)
    if path is not None:
        paths.append(path)
        lines += ["", "### Nodes down", "",
                  "Nodes out of service (from failure until repaired) over the run. The dashed "
                  "line is the mean after warm-up; the dotted line what the failure rate and "
                  f"the mean time down ({fmt.duration(mean_down_time(failures))}: detection plus "
                  "the repair classes' mean times) imply by Little's law"
                  + ("" if expected is not None else " (n/a: a distribution's mean is unknown)")
                  + ". Spare capacity should cover the peaks, not just the mean.",
                  "", fmt.image(run.dir, path, "Nodes down over time")]

    path = _ettr_figure(run, failures)
    if path is not None:
        paths.append(path)
        classes = [c for c in fmt.as_dict(run.scenario.get("workload")).get("classes") or []
                   if isinstance(c, dict) and c.get("checkpoint")]
        own = ", ".join(fmt.md_escape(c.get("name", "?")) for c in classes)
        lines += ["", "### ETTR by job size", "",
                  "Effective training time ratio (ETTR: work done over wall time from start to "
                  "end, GPU-weighted) of finished jobs by size; n is the number of jobs. The line "
                  "is the first-order model 1 − δ/τ − (τ/2 + restart + detection)/MTTF for the "
                  "default checkpoint settings, MTTF shrinking with the number of nodes a job "
                  "spans. Where it drops to 0 the model is out of its range and only the "
                  "simulation answers; points below it mean jobs also lost time waiting to be "
                  "requeued."
                  + (f" Classes with their own checkpoint settings ({own}) are not on the line."
                     if own else ""),
                  "", fmt.image(run.dir, path, "ETTR by job size")]

    parts = gpu_hours_breakdown(run)
    path = save_figure(run, "gpu_hours", gpu_hours_png(parts, run.horizon)
                       if parts else None)
    if path is not None:
        paths.append(path)
        lines += ["", "### Where the GPU-hours went", "",
                  "All GPU-hours of the fleet over the whole run (warm-up included): useful "
                  "work kept, work lost to failures, checkpoint writing and restarts, GPUs up but "
                  "idle, and GPUs out of service. Lost and overhead are what failures cost; "
                  "down is what repair time costs.",
                  "", fmt.image(run.dir, path, "Where the GPU-hours went")]

    lines += ["", "**How these are counted.** *Goodput*: useful GPU-hours (work kept) over busy "
              "GPU-hours, whole run. *ETTR*: Σ duration × GPUs over Σ (end − start) × GPUs of "
              "finished jobs submitted after warm-up. *Lost*: work since the last checkpoint "
              "plus time hung before a failure was detected. *Overhead*: time writing "
              "checkpoints and restarting."]
    return Section("\n".join(lines), paths)
