"""The "Failures and goodput" section of the run report.

Present only when the scenario has ``failures`` (``scenario.failures`` in ``config.json``);
:func:`failures_section` returns None otherwise, so reports of runs without failures are
unchanged. It reads ``summary.json`` (the failure numbers the simulator wrote),
``jobs.parquet`` (per-job restarts, work done, lost and overhead time), ``timeseries.parquet``
(``down_nodes``, ``up_gpus``, ``busy_gpus``) and ``events.parquet`` (one row per failure,
repair, job-level failure and pulled node), and draws four figures: failures over time,
nodes down, ETTR by job size and where the GPU-hours went.

Dependency direction: this module imports ``clustersim.report.run`` (Run, Section, formatting and
writing helpers) and ``clustersim.report.figures``; ``clustersim.report.run`` imports this module only
inside the thin ``failures`` wrapper it lists in ``SECTIONS``, at report-building time. So
there is no import cycle, and ``import clustersim.report.run`` stays as cheap as before.

The two reference values are analytic and computed here from the config alone:

- nodes down, by Little's law: failures arrive at rate λ per node in service and keep a node
  down for D = mean detection time + Σ share × mean repair time. Only nodes in service can
  fail, so L = (N − L)·λ·D, i.e. L = N·λ·D / (1 + λ·D) (within 1 % of N·λ·D when λ·D is
  small). Lemons, early-life hazards and pulled nodes are not in it.
- ETTR of a job on G GPUs, to first order (:func:`clustersim.checkpoint.first_order_ettr`):
  1 − δ/τ − (τ/2 + u0 + detection)/MTTF with MTTF = 1 / (nodes(G)·(node rate + job rate)),
  nodes(G) = max(1, G / GPUs per node), τ Young's interval (or the fixed one) of the default
  ``failures.checkpoint``, δ its cost and u0 its restart time; clipped at 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

from clustersim.checkpoint import first_order_ettr, young_interval
from clustersim.report import figures
from clustersim.report.run import (
    Run,
    Section,
    _count,
    _dict,
    _dur,
    _image,
    _number,
    _pct,
    _read_parquet,
    _seconds,
    _table,
    md_escape,
    save_figure,
)

DAY_S = 86400.0
Z90 = NormalDist().inv_cdf(0.9)  # 1.2816: a lognormal's p90 is median · exp(Z90 · σ)
EVENT_COLUMNS = ("t_s", "kind", "node_id", "cause", "repair_class", "down_s", "jobs_hit")
FAILURE_JOB_COLUMNS = ("end_s", "duration_s", "work_done_s", "lost_gpu_s", "overhead_gpu_s")

SUMMARY_KEYS = frozenset({
    "failures", "job_failures", "job_interruptions", "spare_swaps", "nodes_pulled",
    "lost_gpu_hours", "overhead_gpu_hours", "useful_gpu_hours", "busy_gpu_hours", "goodput",
    "mean_nodes_down",
})
"""Summary numbers this section shows (the generic "Other metrics" table leaves them out)."""


# --------------------------------------------------------------------------- config arithmetic


def failures_config(run: Run) -> dict[str, Any] | None:
    """``scenario.failures`` when failures were simulated, else None."""
    value = run.scenario.get("failures")
    return value if isinstance(value, dict) else None


def distribution_mean(spec: Any) -> float | None:
    """Mean in seconds of a distribution as config.json writes it: ``{kind: fixed, value}``,
    ``{kind: exponential, mean}``, ``{kind: lognormal, median, p90}`` (mean = median ·
    exp(σ²/2), σ = ln(p90 / median) / 1.2816) or a bare duration. None when unknown
    (an empirical file, or a malformed entry)."""
    if isinstance(spec, int | float | str) and not isinstance(spec, bool):
        return _seconds(spec)
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind", "fixed")
    if kind == "fixed":
        return _seconds(spec.get("value"))
    if kind == "exponential":
        return _seconds(spec.get("mean"))
    if kind == "lognormal":
        median, p90 = _seconds(spec.get("median")), _seconds(spec.get("p90"))
        if median is None or p90 is None or not 0 < median < p90:
            return None
        sigma = math.log(p90 / median) / Z90
        return median * math.exp(sigma**2 / 2)
    return None


def node_rate(failures: dict[str, Any]) -> float | None:
    """Node failures per node-second in service."""
    rate = _number(failures.get("rate_per_1000_node_days"))
    return None if rate is None else rate / 1000.0 / DAY_S


def job_rate(failures: dict[str, Any]) -> float:
    """Job-level interruptions per node-second a job runs (0 when not given)."""
    rate = _number(failures.get("job_rate_per_1000_node_days"))
    return 0.0 if rate is None else rate / 1000.0 / DAY_S


def mean_down_time(failures: dict[str, Any]) -> float | None:
    """Mean seconds a failed node is out of service: detection + Σ share · mean repair time."""
    detection = distribution_mean(failures.get("detection"))
    repairs = failures.get("repair")
    if detection is None or not isinstance(repairs, list) or not repairs:
        return None
    total = detection
    for repair in repairs:
        repair = _dict(repair)
        share, mean = _number(repair.get("share")), distribution_mean(repair.get("time"))
        if share is None or mean is None:
            return None
        total += share * mean
    return total


def expected_nodes_down(failures: dict[str, Any], nodes: float) -> float | None:
    """Little's law for nodes down: L = N·λ·D / (1 + λ·D), failures arriving only from the
    N − L nodes in service (see the module docstring). None when the config lacks a number."""
    rate, down = node_rate(failures), mean_down_time(failures)
    if rate is None or down is None or not nodes > 0:
        return None
    x = rate * down
    return nodes * x / (1.0 + x)


def analytic_ettr(gpus, failures: dict[str, Any], gpus_per_node: float):
    """First-order ETTR of a job of each size in ``gpus``, clipped to [0, 1], with the
    default ``failures.checkpoint``; a numpy array, or None when the config lacks a number."""
    import numpy as np

    checkpoint = _dict(failures.get("checkpoint"))
    cost, restart = _seconds(checkpoint.get("cost")), _seconds(checkpoint.get("restart"))
    interval = checkpoint.get("interval")
    fixed = None if interval == "young" else _seconds(interval)
    rate, detection = node_rate(failures), distribution_mean(failures.get("detection"))
    if (None in (cost, restart, rate, detection) or (interval != "young" and not fixed)
            or not gpus_per_node > 0):
        return None
    per_node = rate + job_rate(failures)
    out = []
    for g in np.asarray(gpus, dtype=float):
        nodes = max(1.0, g / gpus_per_node)
        mttf = 1.0 / (nodes * per_node) if per_node > 0 else math.inf
        tau = young_interval(cost, mttf) if fixed is None else fixed
        out.append(first_order_ettr(tau, cost, restart, detection, mttf))
    return np.clip(np.array(out, dtype=float), 0.0, 1.0)


# --------------------------------------------------------------------------- run data


def load_events(run: Run):
    """``events.parquet`` as a DataFrame (empty when the file is missing or has no rows)."""
    import pandas as pd

    path = Path(run.dir) / "events.parquet"
    if not path.is_file():
        return pd.DataFrame({"t_s": [], "kind": [], "cause": [], "jobs_hit": []})
    return _read_parquet(path, ("t_s", "kind", "cause", "jobs_hit"), ("kind", "cause"))


def _integral(t, v, start: float, end: float) -> float:
    import numpy as np

    return float(np.diff(figures.step_integral(t, v, [start, end]))[0]) if len(t) else 0.0


def _has_columns(frame, columns) -> bool:
    return all(c in frame.columns for c in columns)


def gpu_hours_breakdown(run: Run) -> dict[str, float] | None:
    """GPU-hours over [0, horizon]: useful, lost, overhead (from summary.json, else the jobs
    table), idle = ∫up − ∫busy and down = nodes · GPUs/node · horizon − ∫up (from the
    timeseries), and their ``total``. None when neither source has the busy split."""
    summary, ts, jobs = run.summary, run.timeseries, run.jobs
    t = ts["t_s"].to_numpy(float)
    up = _integral(t, ts["up_gpus"].to_numpy(float), 0.0, run.horizon) / 3600
    busy = _integral(t, ts["busy_gpus"].to_numpy(float), 0.0, run.horizon) / 3600
    parts = {k: _number(summary.get(f"{k}_gpu_hours")) for k in ("useful", "lost", "overhead")}
    if None in parts.values():
        if not _has_columns(jobs, FAILURE_JOB_COLUMNS):
            return None
        gpus = jobs["num_gpus"].to_numpy(float)
        parts = {
            "useful": float((jobs["work_done_s"].to_numpy(float) * gpus).sum()) / 3600,
            "lost": float(jobs["lost_gpu_s"].sum()) / 3600,
            "overhead": float(jobs["overhead_gpu_s"].sum()) / 3600,
        }
    cluster = _dict(run.scenario.get("cluster"))
    nodes, per_node = _number(cluster.get("nodes")), _number(cluster.get("gpus_per_node"))
    fleet = nodes * per_node * run.horizon / 3600 if nodes and per_node else up
    out = {**parts, "idle": max(0.0, up - busy), "down": max(0.0, fleet - up)}
    out["total"] = sum(out.values())
    return out


def _finished(run: Run):
    """Finished jobs submitted at or after warm-up (the jobs ``summary.ettr`` is about)."""
    jobs = run.jobs
    return jobs[(jobs["state"] == "finished") & (jobs["submit_s"] >= run.warmup)]


def ettr_groups(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Measured ETTR by job size: finished jobs, and jobs still running at the end (work done
    over time since start) in size groups with no finished job."""
    jobs = run.jobs
    if not _has_columns(jobs, ("end_s", "duration_s")):
        return [], []
    done = _finished(run)
    running = jobs[(jobs["state"] == "running") & jobs["start_s"].notna()]
    sizes = jobs.loc[jobs["start_s"].notna(), "num_gpus"].to_numpy(float)
    finished = figures.ettr_by_size(done["num_gpus"], done["duration_s"],
                                    done["end_s"] - done["start_s"], group_sizes=sizes)
    if "work_done_s" not in jobs.columns or not len(running):
        return finished, []
    partial = figures.ettr_by_size(running["num_gpus"], running["work_done_s"],
                                   run.horizon - running["start_s"], group_sizes=sizes)
    seen = {g["label"] for g in finished}
    return finished, [g for g in partial if g["label"] not in seen]


def _loss_by_size(run: Run) -> list[tuple[str, float, float]]:
    """Per size bucket with busy time: (label, busy GPU-s, lost + overhead GPU-s)."""
    jobs = run.jobs
    if not _has_columns(jobs, FAILURE_JOB_COLUMNS) or not len(jobs):
        return []
    gpus = jobs["num_gpus"].to_numpy(float)
    cost = (jobs["lost_gpu_s"] + jobs["overhead_gpu_s"]).fillna(0).to_numpy(float)
    busy = jobs["work_done_s"].fillna(0).to_numpy(float) * gpus + cost
    out = []
    for label, lo, hi in figures.size_buckets(gpus[busy > 0]):
        inside = (gpus >= lo) & (gpus <= hi)
        out.append((label, float(busy[inside].sum()), float(cost[inside].sum())))
    return out


# --------------------------------------------------------------------------- text


def _gpu_h(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _share(part: float | None, whole: float | None) -> str:
    return _pct(part / whole) if part is not None and whole else "n/a"


def _table_rows(run: Run, failures: dict[str, Any]) -> list[list[str]]:
    summary = run.summary
    busy = _number(summary.get("busy_gpu_hours"))
    lost, overhead = _number(summary.get("lost_gpu_hours")), _number(summary.get("overhead_gpu_hours"))
    nodes = _number(_dict(run.scenario.get("cluster")).get("nodes"))
    down = _number(summary.get("mean_nodes_down"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    down_text = "n/a" if down is None else f"{down:,.2f}"
    if down is not None and nodes:
        down_text += f" ({_pct(down / nodes)} of {nodes:,.0f})"
    ettr = _dict(summary.get("ettr"))
    spares = _number(failures.get("spare_nodes"))
    rows = [
        ["Node failures", _count(summary.get("failures"))],
        ["Job-level failures (software, hangs; no node down)", _count(summary.get("job_failures"))],
        ["Job interruptions (restarts, all causes)", _count(summary.get("job_interruptions"))],
        ["Restarts on a hot spare" + (f" ({spares:,.0f} held)" if spares else ""),
         _count(summary.get("spare_swaps"))],
        ["Nodes pulled from service", _count(summary.get("nodes_pulled"))],
        ["Mean nodes down (after warm-up)", down_text],
        ["Expected nodes down (failure rate × mean time down)",
         "n/a" if expected is None else f"{expected:,.2f}"],
        ["**Goodput** (useful / busy GPU-hours)", f"**{_pct(summary.get('goodput'))}**"],
        ["**ETTR**, finished jobs", f"**{_pct(ettr.get('overall'))}**"],
    ]
    for name, value in sorted(_dict(ettr.get("by_class")).items()):
        rows.append([f"ETTR, class {md_escape(name)}", _pct(value)])
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
    busy = _number(summary.get("busy_gpu_hours"))
    lost, overhead = _number(summary.get("lost_gpu_hours")), _number(summary.get("overhead_gpu_hours"))
    out = []
    if busy and lost is not None and overhead is not None:
        cost = lost + overhead
        text = (f"Failures and checkpointing cost **{_gpu_h(cost)} GPU-hours**, "
                f"**{_share(cost, busy)} of busy GPU time** ({_gpu_h(lost)} lost to failures, "
                f"{_gpu_h(overhead)} writing checkpoints and restarting).")
        buckets = [b for b in _loss_by_size(run) if b[1] > 0]
        total_busy = sum(b[1] for b in buckets)
        total_cost = sum(b[2] for b in buckets)
        if len(buckets) > 1 and total_cost > 0:
            worst = max(buckets, key=lambda b: b[2])
            smallest = buckets[0]
            text += (f" Jobs of {worst[0]} GPUs ran {_pct(worst[1] / total_busy)} of the busy "
                     f"GPU time but bore {_pct(worst[2] / total_cost)} of this cost, "
                     f"{_pct(worst[2] / worst[1])} of their own GPU time")
            if smallest is not worst:
                text += (f" against {_pct(smallest[2] / smallest[1])} for jobs of "
                         f"{smallest[0]} GPU" + ("" if smallest[0] == "1" else "s"))
            text += "."
        out.append(text)
    fleet = []
    interruptions = _number(summary.get("job_interruptions"))
    swaps = _number(summary.get("spare_swaps"))
    if interruptions:
        if not swaps:
            spare = ", none on a hot spare."
        elif swaps >= interruptions:
            spare = "; every one restarted at once on a hot spare."
        else:
            spare = f"; {_count(swaps)} of these restarted at once on a hot spare."
        fleet.append(f"Jobs were interrupted {_count(interruptions)} times{spare}")
    down = _number(summary.get("mean_nodes_down"))
    nodes = _number(_dict(run.scenario.get("cluster")).get("nodes"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    if down is not None and nodes:
        sentence = f"On average {down:,.2f} nodes ({_pct(down / nodes)} of the fleet) were down"
        if expected:
            ratio = down / expected
            where = ("close to" if 0.8 <= ratio <= 1.25 else "above" if ratio > 1 else "below")
            mean_down = mean_down_time(failures) or 0.0
            sentence += (f", {where} the {expected:,.2f} expected from the failure rate and the "
                         f"mean time down ({_dur(mean_down)})")
            if where == "below" and run.warmup < 3 * mean_down:
                sentence += ("; the run starts with every node up and the warm-up is short "
                             "next to the repair times, so the count is still building up "
                             "while it is measured")
            elif where == "above" and (failures.get("lemons") or failures.get("early_life")):
                sentence += "; lemons and early-life failures are not in the expectation"
        fleet.append(sentence + ".")
    pulled = _number(summary.get("nodes_pulled"))
    if pulled:
        were = "node was" if pulled == 1 else "nodes were"
        fleet.append(f"{_count(pulled)} {were} pulled from service for good, so the fleet "
                     f"shrank during the run.")
    if fleet:
        out.append(" ".join(fleet))
    if _number(_dict(summary.get("ettr")).get("overall")) is None:
        out.append(f"No job submitted after warm-up finished, so there is no ETTR; goodput "
                   f"({_pct(summary.get('goodput'))}) also counts the work of jobs still "
                   f"running at the end.")
    return out


# --------------------------------------------------------------------------- figures


def _timeline(run: Run, events) -> Path | None:
    import numpy as np

    kind = events["kind"].to_numpy(str)
    cause = events["cause"].to_numpy(str)
    t = events["t_s"].to_numpy(float)
    shown = (kind == "failure") | (kind == "job_failure")
    rows = np.where(kind == "job_failure", figures.JOB_LEVEL, cause)[shown]
    hit = events["jobs_hit"].to_numpy(float)[shown] > 0
    pulled = kind == "pulled"
    png = figures.failure_timeline_png(t[shown], rows, hit, t[pulled], cause[pulled],
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
    mean = _integral(t, down, run.warmup, run.horizon) / window if window > 0 else None
    nodes = _number(_dict(run.scenario.get("cluster")).get("nodes"))
    expected = expected_nodes_down(failures, nodes or 0.0)
    png = figures.nodes_down_png(t, down, run.horizon, run.warmup, mean, expected, nodes)
    return save_figure(run, "nodes_down", png), expected


def _ettr_figure(run: Run, failures: dict[str, Any]) -> Path | None:
    import numpy as np

    finished, running = ettr_groups(run)
    cluster = _dict(run.scenario.get("cluster"))
    per_node = _number(cluster.get("gpus_per_node")) or 0.0
    sizes = run.jobs["num_gpus"].to_numpy(float)
    sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
    if len(sizes):
        lo, hi = min(1.0, float(sizes.min())), float(sizes.max())
    else:
        lo, hi = 1.0, max(1.0, per_node * (_number(cluster.get("nodes")) or 1.0))
    curve_gpus = np.geomspace(lo, max(hi, lo * 2), 200)
    curve = analytic_ettr(curve_gpus, failures, per_node)
    if curve is None:
        curve_gpus, curve = np.array([]), np.array([])
    png = figures.ettr_by_size_png(finished, curve_gpus, curve, running)
    return save_figure(run, "ettr_by_size", png)


# --------------------------------------------------------------------------- the section


def failures_section(run: Run) -> Section | None:
    failures = failures_config(run)
    if failures is None:
        return None
    events = load_events(run)
    lines = ["## Failures and goodput", ""]
    lines += _table(["Failures", "Value"], _table_rows(run, failures), "lr")
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
                  "", _image(run, path, "Failures over time")]

    path, expected = _nodes_down(run, failures)
    if path is not None:
        paths.append(path)
        lines += ["", "### Nodes down", "",
                  "Nodes out of service (from failure until repaired) over the run. The dashed "
                  "line is the mean after warm-up; the dotted line what the failure rate and "
                  f"the mean time down ({_dur(mean_down_time(failures))}: detection plus the "
                  "repair classes' mean times) imply by Little's law"
                  + ("" if expected is not None else " (n/a: a distribution's mean is unknown)")
                  + ". Spare capacity should cover the peaks, not just the mean.",
                  "", _image(run, path, "Nodes down over time")]

    path = _ettr_figure(run, failures)
    if path is not None:
        paths.append(path)
        classes = [c for c in _dict(run.scenario.get("workload")).get("classes") or []
                   if isinstance(c, dict) and c.get("checkpoint")]
        own = ", ".join(md_escape(c.get("name", "?")) for c in classes)
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
                  "", _image(run, path, "ETTR by job size")]

    parts = gpu_hours_breakdown(run)
    path = save_figure(run, "gpu_hours", figures.gpu_hours_png(parts, run.horizon)
                       if parts else None)
    if path is not None:
        paths.append(path)
        lines += ["", "### Where the GPU-hours went", "",
                  "All GPU-hours of the fleet over the whole run (warm-up included): useful "
                  "work kept, work lost to failures, checkpoint writing and restarts, GPUs up but "
                  "idle, and GPUs out of service. Lost and overhead are what failures cost; "
                  "down is what repair time costs.",
                  "", _image(run, path, "Where the GPU-hours went")]

    lines += ["", "**How these are counted.** *Goodput*: useful GPU-hours (work kept) over busy "
              "GPU-hours, whole run. *ETTR*: Σ duration × GPUs over Σ (end − start) × GPUs of "
              "finished jobs submitted after warm-up. *Lost*: work since the last checkpoint "
              "plus time hung before a failure was detected. *Overhead*: time writing "
              "checkpoints and restarting."]
    return Section("\n".join(lines), paths)
