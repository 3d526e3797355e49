"""The "Inference services" section of the run report.

Present only when the scenario has ``services`` (``scenario.services`` in ``config.json``, a
non-empty list) and the run wrote ``services.parquet``; :func:`services_section` returns None
otherwise, so reports of runs without services are unchanged. It reads ``summary.json`` (the
service and preemption numbers), ``services.parquet`` (demand, replicas and served rate per
service, a step function), ``timeseries.parquet`` (``inference_gpus``, ``busy_gpus``,
``up_gpus``) and ``jobs.parquet`` (waits and ``preemptions``), and draws, per service, demand
against served capacity and replicas over time, then the fleet split between inference and
training by hour of day, and the training wait by hour of submission.

Dependency direction as in ``report_failures``: this module imports ``clustersim.report.run`` and
``clustersim.report.figures``; ``report`` imports it only inside its ``services`` wrapper.
"""

from __future__ import annotations

from pathlib import Path

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
    _table,
    md_escape,
    save_figure,
)

DAY_S = 86400.0
HOUR_S = 3600.0
SUMMARY_KEYS = frozenset({"services", "preemptions", "preempted_gpu_hours_lost"})
GRID_S = 300.0  # sampling step of the hour-of-day profiles


def _load(run: Run):
    import pandas as pd

    path = run.dir / "services.parquet"
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def _sample(t, v, grid):
    """Values of the step function (t, v) at the grid points (0 before the first row)."""
    import numpy as np

    i = np.searchsorted(t, grid, side="right") - 1
    out = np.where(i >= 0, np.asarray(v, dtype=float)[np.maximum(i, 0)], 0.0)
    return out


@figures._styled
def _service_png(rows, name: str, rate: float, horizon: float, warmup: float) -> bytes:
    import numpy as np

    t = rows["t_s"].to_numpy(float)
    x = np.append(t, horizon) / DAY_S

    def step(values):
        v = np.asarray(values, dtype=float)
        return np.append(v, v[-1])

    fig, (ax, ax2) = figures._figure(2)
    figures._time_axis(ax, horizon, warmup)
    ax.plot(x, step(rows["demand_rps"]), drawstyle="steps-post", color=figures.TARGET, lw=1.2, label="demand")
    ax.plot(x, step(rows["ready_replicas"] * rate), drawstyle="steps-post", color=figures.MAIN, lw=1.0,
            label="capacity of ready replicas")
    short = rows["unserved_rps"].to_numpy(float) > 1e-9
    if short.any():
        ax.fill_between(x, 0, step(np.where(short, rows["unserved_rps"], 0.0)), step="post",
                        color=figures.MEAN, alpha=0.6, lw=0, label="unserved")
    ax.set_ylabel("requests / s")
    ax.set_title(f"Service {name}: demand and served capacity")
    ax.legend(loc="upper right")
    figures._time_axis(ax2, horizon, warmup)
    ax2.plot(x, step(rows["ready_replicas"]), drawstyle="steps-post", color=figures.MAIN, label="ready")
    ax2.plot(x, step(rows["ready_replicas"] + rows["starting_replicas"]), drawstyle="steps-post",
             color=figures.MEAN, lw=0.8, label="placed (ready + starting)")
    if (rows["waiting_replicas"] > 0).any():
        ax2.plot(x, step(rows["waiting_replicas"]), drawstyle="steps-post", color=figures.TARGET, lw=0.8,
                 label="waiting for GPUs")
    ax2.set_ylabel("replicas")
    ax2.set_xlabel("time (days)")
    ax2.legend(loc="upper right")
    return figures._png(fig)


def fleet_by_hour(run: Run):
    """Mean GPUs by hour of day after warm-up: inference, training, idle (from the timeseries)."""
    import numpy as np

    ts = run.timeseries
    if "inference_gpus" not in ts:
        return None
    horizon, warmup = run.horizon, run.warmup
    grid = np.arange(warmup, horizon, GRID_S)
    if len(grid) == 0:
        return None
    t = ts["t_s"].to_numpy(float)
    inf = _sample(t, ts["inference_gpus"], grid)
    busy = _sample(t, ts["busy_gpus"], grid)
    up = _sample(t, ts["up_gpus"], grid)
    hour = ((grid % DAY_S) // HOUR_S).astype(int)
    out = {}
    for name, v in (("inference", inf), ("training", busy - inf), ("idle", up - busy)):
        out[name] = np.array([v[hour == h].mean() if (hour == h).any() else np.nan for h in range(24)])
    return out


@figures._styled
def _fleet_png(split) -> bytes:
    import numpy as np

    fig, (ax,) = figures._figure()
    hours = np.arange(24)
    bottom = np.zeros(24)
    colours = {"inference": figures.TARGET, "training": figures.MAIN, "idle": "#cccccc"}
    for name in ("inference", "training", "idle"):
        ax.bar(hours, split[name], bottom=bottom, color=colours[name], width=0.9, label=name)
        bottom = bottom + split[name]
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("GPUs (mean after warm-up)")
    ax.set_title("Fleet split between inference and training over a day")
    ax.legend(loc="lower left")
    return figures._png(fig)


@figures._styled
def _wait_by_hour_png(hours, mean_h, p90_h, inference_share) -> bytes:
    fig, (ax,) = figures._figure()
    ax.plot(hours, mean_h, marker="o", color=figures.MAIN, label="mean wait")
    ax.plot(hours, p90_h, marker="s", color=figures.MEAN, label="p90 wait")
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day the job was submitted")
    ax.set_ylabel("wait (hours)")
    ax.set_title("Training wait by hour of submission")
    if inference_share is not None:
        ax2 = ax.twinx()
        ax2.plot(hours, 100 * inference_share, color=figures.TARGET, ls="--", lw=1, label="inference share of up GPUs")
        ax2.set_ylabel("inference (% of up GPUs)")
        ax2.set_ylim(0, 100)
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    return figures._png(fig)


def _wait_rows(run: Run):
    """Per class: jobs, preempted jobs, preemptions, lost GPU-hours, mean and p90 wait."""
    import numpy as np

    jobs = run.jobs
    measured = (jobs["submit_s"] >= run.warmup) & (jobs["state"] != "rejected")
    rows = []
    pre = jobs["preemptions"] if "preemptions" in jobs else None
    lost = jobs["preempted_lost_gpu_s"] if "preempted_lost_gpu_s" in jobs else None
    for name in sorted(set(jobs["job_class"].astype(str))):
        mine = jobs["job_class"].astype(str) == name
        waits = jobs.loc[mine & measured & jobs["start_s"].notna(), "wait_s"].to_numpy(float)
        rows.append([
            md_escape(name),
            _count(int((mine & measured).sum())),
            _count(int((pre[mine] > 0).sum())) if pre is not None else "–",
            _count(int(pre[mine].sum())) if pre is not None else "–",
            f"{float(lost[mine].sum()) / HOUR_S:,.0f}" if lost is not None else "–",
            _dur(float(np.mean(waits))) if len(waits) else "–",
            _dur(float(np.percentile(waits, 90))) if len(waits) else "–",
        ])
    return rows


def services_section(run: Run) -> Section | None:
    import numpy as np

    configs = run.scenario.get("services")
    if not isinstance(configs, list) or not configs:
        return None
    frame = _load(run)
    if frame is None:
        return None
    summary = run.summary
    per = _dict(summary.get("services"))
    lines = ["## Inference services", ""]
    rows = []
    for cfg in configs:
        name = str(cfg.get("name", "?"))
        s = _dict(per.get(name))
        hours = _number(s.get("shortfall_hours"))
        rows.append([
            md_escape(name),
            _pct(s.get("slo_attainment")),
            _pct(s.get("unserved_fraction")),
            f"{hours:,.1f} h" if hours is not None else "–",
            f"{_number(s.get('replica_gpu_hours')) or 0:,.0f}",
            _count(s.get("peak_replicas")),
            f"{_number(s.get('waiting_replica_hours')) or 0:,.1f}",
        ])
    lines += _table(["Service", "SLO attainment", "Unserved requests", "Time short", "Replica GPU-hours",
                     "Peak replicas", "Replica-hours waiting for GPUs"], rows, "lrrrrrr")
    lost = _number(summary.get("preempted_gpu_hours_lost")) or 0.0
    lines += ["", "SLO attainment is the fraction of time after warm-up with every request served "
              "(served = min(demand, ready replicas × rate per replica)); unserved requests are a "
              "fraction of all requests. Replicas outrank training: to place one they preempt "
              f"preemptible training jobs. Training was preempted {_count(summary.get('preemptions'))} "
              f"times and lost {lost:,.0f} GPU-hours of work to it."]
    paths: list[Path] = []
    for i, cfg in enumerate(configs):
        name = str(cfg.get("name", "?"))
        rows_s = frame[frame["service"] == name].sort_values("t_s", kind="stable")
        if rows_s.empty:
            continue
        rate = float(cfg.get("rps_per_replica") or 0.0)
        path = save_figure(run, f"service_{i}", _service_png(rows_s, name, rate, run.horizon, run.warmup))
        if path is not None:
            paths.append(path)
            lines += ["", f"### Service {md_escape(name)}: demand, served capacity and replicas", "",
                      "Top: demand and the capacity of ready replicas (requests per second), with "
                      "unserved demand shaded. Bottom: replicas ready, placed (ready or starting: "
                      "they hold GPUs but do not serve yet) and waiting for GPUs.",
                      "", _image(run, path, f"Service {name}")]
    split = fleet_by_hour(run)
    share = None
    if split is not None:
        path = save_figure(run, "fleet_split", _fleet_png(split))
        if path is not None:
            paths.append(path)
            total = split["inference"] + split["training"] + split["idle"]
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0, split["inference"] / total, np.nan)
            peak, low = int(np.nanargmax(split["inference"])), int(np.nanargmin(split["inference"]))
            lines += ["", "### The fleet over a day", "",
                      f"Mean GPUs by hour of day after warm-up. Inference holds "
                      f"{split['inference'][peak]:,.0f} GPUs at {peak:02d}:00 and "
                      f"{split['inference'][low]:,.0f} at {low:02d}:00; the difference goes to training.",
                      "", _image(run, path, "Fleet split by hour of day")]
    jobs = run.jobs
    measured = (jobs["submit_s"] >= run.warmup) & jobs["start_s"].notna()
    if measured.any():
        hour = ((jobs.loc[measured, "submit_s"] % DAY_S) // HOUR_S).astype(int).to_numpy()
        waits = jobs.loc[measured, "wait_s"].to_numpy(float) / HOUR_S
        hours = np.arange(24)
        mean_h = np.array([waits[hour == h].mean() if (hour == h).any() else np.nan for h in hours])
        p90_h = np.array([np.percentile(waits[hour == h], 90) if (hour == h).any() else np.nan for h in hours])
        path = save_figure(run, "wait_by_hour", _wait_by_hour_png(hours, mean_h, p90_h, share))
        if path is not None:
            paths.append(path)
            lines += ["", "### The cost to training", "",
                      "Waits of training jobs by hour of submission, beside the inference share of "
                      "the fleet, and per class the jobs preempted, the work they lost and their waits. "
                      "To price the service, run the same scenario without `services` under the same "
                      "seed: the jobs are identical (common random numbers), so the difference in "
                      "waits is the service's cost.",
                      "", _image(run, path, "Training wait by hour of submission"), ""]
            lines += _table(["Class", "Jobs", "Jobs preempted", "Preemptions", "GPU-hours lost",
                             "Mean wait", "p90 wait"], _wait_rows(run), "lrrrrrr")
    return Section("\n".join(lines), paths)
