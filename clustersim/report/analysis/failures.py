"""Numbers behind the "Failures and goodput" section, from the config and the run directory.

The two reference values are analytic and computed from the config alone:

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
from clustersim.report import format as fmt
from clustersim.report.files import read_parquet
from clustersim.report.model import Run
from clustersim.report.series import SIZE_BUCKETS, integral, size_buckets

DAY_S = 86400.0
Z90 = NormalDist().inv_cdf(0.9)  # 1.2816: a lognormal's p90 is median · exp(Z90 · σ)
EVENT_COLUMNS = ("t_s", "kind", "node_id", "cause", "repair_class", "down_s", "jobs_hit")
FAILURE_JOB_COLUMNS = ("end_s", "duration_s", "work_done_s", "lost_gpu_s", "overhead_gpu_s")


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
        return fmt.seconds(spec)
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind", "fixed")
    if kind == "fixed":
        return fmt.seconds(spec.get("value"))
    if kind == "exponential":
        return fmt.seconds(spec.get("mean"))
    if kind == "lognormal":
        median, p90 = fmt.seconds(spec.get("median")), fmt.seconds(spec.get("p90"))
        if median is None or p90 is None or not 0 < median < p90:
            return None
        sigma = math.log(p90 / median) / Z90
        return median * math.exp(sigma**2 / 2)
    return None


def node_rate(failures: dict[str, Any]) -> float | None:
    """Node failures per node-second in service."""
    rate = fmt.number(failures.get("rate_per_1000_node_days"))
    return None if rate is None else rate / 1000.0 / DAY_S


def job_rate(failures: dict[str, Any]) -> float:
    """Job-level interruptions per node-second a job runs (0 when not given)."""
    rate = fmt.number(failures.get("job_rate_per_1000_node_days"))
    return 0.0 if rate is None else rate / 1000.0 / DAY_S


def mean_down_time(failures: dict[str, Any]) -> float | None:
    """Mean seconds a failed node is out of service: detection + Σ share · mean repair time."""
    detection = distribution_mean(failures.get("detection"))
    repairs = failures.get("repair")
    if detection is None or not isinstance(repairs, list) or not repairs:
        return None
    total = detection
    for repair in repairs:
        repair = fmt.as_dict(repair)
        share, mean = fmt.number(repair.get("share")), distribution_mean(repair.get("time"))
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

    checkpoint = fmt.as_dict(failures.get("checkpoint"))
    cost, restart = fmt.seconds(checkpoint.get("cost")), fmt.seconds(checkpoint.get("restart"))
    interval = checkpoint.get("interval")
    fixed = None if interval == "young" else fmt.seconds(interval)
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
    return read_parquet(path, ("t_s", "kind", "cause", "jobs_hit"), ("kind", "cause"))


def _has_columns(frame, columns) -> bool:
    return all(c in frame.columns for c in columns)


def gpu_hours_breakdown(run: Run) -> dict[str, float] | None:
    """GPU-hours over [0, horizon]: useful, lost, overhead (from summary.json, else the jobs
    table), idle = ∫up − ∫busy and down = nodes · GPUs/node · horizon − ∫up (from the
    timeseries), and their ``total``. None when neither source has the busy split."""
    summary, ts, jobs = run.summary, run.timeseries, run.jobs
    t = ts["t_s"].to_numpy(float)
    up = integral(t, ts["up_gpus"].to_numpy(float), 0.0, run.horizon) / 3600
    busy = integral(t, ts["busy_gpus"].to_numpy(float), 0.0, run.horizon) / 3600
    parts = {k: fmt.number(summary.get(f"{k}_gpu_hours")) for k in ("useful", "lost", "overhead")}
    if None in parts.values():
        if not _has_columns(jobs, FAILURE_JOB_COLUMNS):
            return None
        gpus = jobs["num_gpus"].to_numpy(float)
        parts = {
            "useful": float((jobs["work_done_s"].to_numpy(float) * gpus).sum()) / 3600,
            "lost": float(jobs["lost_gpu_s"].sum()) / 3600,
            "overhead": float(jobs["overhead_gpu_s"].sum()) / 3600,
        }
    cluster = fmt.as_dict(run.scenario.get("cluster"))
    nodes, per_node = fmt.number(cluster.get("nodes")), fmt.number(cluster.get("gpus_per_node"))
    fleet = nodes * per_node * run.horizon / 3600 if nodes and per_node else up
    out = {**parts, "idle": max(0.0, up - busy), "down": max(0.0, fleet - up)}
    out["total"] = sum(out.values())
    return out


def finished_jobs(run: Run):
    """Finished jobs submitted at or after warm-up (the jobs ``summary.ettr`` is about)."""
    jobs = run.jobs
    return jobs[(jobs["state"] == "finished") & (jobs["submit_s"] >= run.warmup)]


def ettr_groups(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Measured ETTR by job size: finished jobs, and jobs still running at the end (work done
    over time since start) in size groups with no finished job."""
    jobs = run.jobs
    if not _has_columns(jobs, ("end_s", "duration_s")):
        return [], []
    done = finished_jobs(run)
    running = jobs[(jobs["state"] == "running") & jobs["start_s"].notna()]
    sizes = jobs.loc[jobs["start_s"].notna(), "num_gpus"].to_numpy(float)
    finished = ettr_by_size(done["num_gpus"], done["duration_s"],
                            done["end_s"] - done["start_s"], group_sizes=sizes)
    if "work_done_s" not in jobs.columns or not len(running):
        return finished, []
    partial = ettr_by_size(running["num_gpus"], running["work_done_s"],
                           run.horizon - running["start_s"], group_sizes=sizes)
    seen = {g["label"] for g in finished}
    return finished, [g for g in partial if g["label"] not in seen]


def loss_by_size(run: Run) -> list[tuple[str, float, float]]:
    """Per size bucket with busy time: (label, busy GPU-s, lost + overhead GPU-s)."""
    jobs = run.jobs
    if not _has_columns(jobs, FAILURE_JOB_COLUMNS) or not len(jobs):
        return []
    gpus = jobs["num_gpus"].to_numpy(float)
    cost = (jobs["lost_gpu_s"] + jobs["overhead_gpu_s"]).fillna(0).to_numpy(float)
    busy = jobs["work_done_s"].fillna(0).to_numpy(float) * gpus + cost
    out = []
    for label, lo, hi in size_buckets(gpus[busy > 0]):
        inside = (gpus >= lo) & (gpus <= hi)
        out.append((label, float(busy[inside].sum()), float(cost[inside].sum())))
    return out


def ettr_by_size(num_gpus, work_s, wall_s, group_sizes=None,
                 max_distinct: int = 12) -> list[dict[str, Any]]:
    """Measured ETTR per job-size group: Σ work·gpus / Σ wall·gpus over the jobs in it.

    Groups are the distinct sizes of ``group_sizes`` (default ``num_gpus``) when there are at
    most ``max_distinct``, else ``SIZE_BUCKETS``; passing the same ``group_sizes`` for two
    sets of jobs gives them the same groups. Empty groups are left out. Each group is a
    dict with ``label``, ``lo`` and ``hi`` (smallest and largest size present), ``x`` (size
    weighted by GPU time, where to draw it), ``ettr`` (None when the group has no wall time)
    and ``n`` (jobs).
    """
    import numpy as np

    gpus = np.asarray(num_gpus, dtype=float)
    work = np.asarray(work_s, dtype=float)
    wall = np.asarray(wall_s, dtype=float)
    ok = np.isfinite(gpus) & np.isfinite(work) & np.isfinite(wall)
    gpus, work, wall = gpus[ok], work[ok], wall[ok]
    if len(gpus) == 0:
        return []
    given = np.asarray(gpus if group_sizes is None else group_sizes, dtype=float)
    given = given[np.isfinite(given)]
    # distinct sizes, truncated to whole GPUs as int() would: np.unique, not a set of 10M ints
    sizes = set(np.unique(np.trunc(given)).astype(np.int64).tolist()) | set(
        np.unique(np.trunc(gpus)).astype(np.int64).tolist())
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
