"""The "Inference services" section of the run report.

Present only when the scenario has ``services`` (``scenario.services`` in ``config.json``, a
non-empty list) and the run wrote ``services.parquet``; :func:`services_section` returns None
otherwise, so reports of runs without services are unchanged. It reads ``summary.json`` (the
service and preemption numbers), ``services.parquet`` (demand, replicas and served rate per
service, a step function), ``timeseries.parquet`` (``inference_gpus``, ``busy_gpus``,
``up_gpus``) and ``jobs.parquet`` (waits and ``preemptions``), and draws, per service, demand
against served capacity and replicas over time, then the fleet split between inference and
training by hour of day, and the training wait by hour of submission. A service with a
``latency`` section adds (issue 19): its predicted latency against the SLO, request-weighted,
a figure of latency and attainment by hour of day, the GPU-hours its SLO asks beyond the
utilisation rule, and the request-level windows beside the analytic model (``requests.parquet``).
"""

from __future__ import annotations

from pathlib import Path

from clustersim.report import format as fmt
from clustersim.report.analysis.latency import by_hour, has_latency, slo_targets
from clustersim.report.analysis.services import (
    HOUR_S,
    fleet_by_hour,
    load_services,
    wait_by_hour,
)
from clustersim.report.figures.services import (
    fleet_split_png,
    latency_day_png,
    service_png,
    wait_by_hour_png,
)
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"services", "preemptions", "preempted_gpu_hours_lost"})
"""Summary entries this section shows."""


def applies(run: Run) -> bool:
    """The scenario has services."""
    return bool(run.scenario.get("services"))


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
            fmt.md_escape(name),
            fmt.count(int((mine & measured).sum())),
            fmt.count(int((pre[mine] > 0).sum())) if pre is not None else "–",
            fmt.count(int(pre[mine].sum())) if pre is not None else "–",
            f"{float(lost[mine].sum()) / HOUR_S:,.0f}" if lost is not None else "–",
            fmt.duration(float(np.mean(waits))) if len(waits) else "–",
            fmt.duration(float(np.percentile(waits, 90))) if len(waits) else "–",
        ])
    return rows


def _service_rows(configs, per) -> list[list[str]]:
    rows = []
    for cfg in configs:
        name = str(cfg.get("name", "?"))
        s = fmt.as_dict(per.get(name))
        hours = fmt.number(s.get("shortfall_hours"))
        rows.append([
            fmt.md_escape(name),
            fmt.percent(s.get("slo_attainment")),
            fmt.percent(s.get("unserved_fraction")),
            f"{hours:,.1f} h" if hours is not None else "–",
            f"{fmt.number(s.get('replica_gpu_hours')) or 0:,.0f}",
            fmt.count(s.get("peak_replicas")),
            f"{fmt.number(s.get('waiting_replica_hours')) or 0:,.1f}",
        ])
    return rows


def _ms(value) -> str:
    """A latency: ``180 ms``, ``1.25 s``, or a longer duration; ``n/a`` when not finite."""
    v = fmt.number(value)
    if v is None:
        return "n/a"
    if v < 1.0:
        return f"{1000 * v:.0f} ms"
    return f"{v:.3g} s" if v < 60 else fmt.duration(v)


def _latency_lines(run: Run, i: int, cfg: dict, rows, s: dict, paths: list[Path]) -> list[str]:
    """The latency of one service: request-weighted figures against its SLO, by hour of day,
    what the SLO costs, and the request-level windows."""
    name = str(cfg.get("name", "?"))
    targets = slo_targets(cfg)
    lines = ["", f"### Service {fmt.md_escape(name)}: latency as its users feel it", ""]
    cells = []
    for metric, label in (("ttft", "TTFT"), ("tpot", "TPOT")):
        slo = targets.get(metric)
        cells.append([label, _ms(s.get(f"{metric}_p50_s")), _ms(s.get(f"{metric}_p99_s")),
                      f"p{slo[0]:g} ≤ {_ms(slo[1])}" if slo else "–"])
    lines += fmt.table(["Metric", "p50", "p99", "SLO"], cells, "lrrr")
    lat = fmt.as_dict(cfg.get("latency"))
    profile = fmt.as_dict(lat.get("profile"))
    lines += ["", "Predicted by the analytic model (continuous batching; profile "
              f"`{fmt.md_escape(profile.get('model') or 'custom')}`, routing `{fmt.md_escape(lat.get('routing', 'jsq'))}`) "
              "at each step's demand and ready replicas, weighted by requests, after warm-up. A step "
              "whose demand exceeds what its ready replicas can serve counts its requests as never served "
              "in time (then a percentile beyond them reads n/a)."]
    if targets:
        lines += ["", f"Requests within every SLO threshold: **{fmt.percent(s.get('latency_attainment'))}**; "
                  f"time with the SLO met: {fmt.percent(s.get('slo_time_share'))}."]
    extra = fmt.number(s.get("slo_minus_utilisation_gpu_hours"))
    if extra is not None:
        rule = fmt.as_dict(cfg.get("autoscale"))
        lines += ["", f"Sizing by the SLO (`autoscale.target: slo`) asked for {abs(extra):,.0f} GPU-hours "
                  f"{'more' if extra >= 0 else 'fewer'} than the utilisation rule (demand × "
                  f"{1 + float(rule.get('headroom', 0.2)):g} / {float(cfg.get('rps_per_replica') or 0):.3g} requests/s "
                  "per replica) would have, at the same demand: what the SLO costs (or gives back to) training."]
    hours = by_hour(run, rows)
    if hours is not None:
        path = save_figure(run, f"service_{i}_latency", latency_day_png(name, hours, targets))
        if path is not None:
            paths.append(path)
            lines += ["", "Top: p99 TTFT and TPOT by hour of day, the median over the days (band: 10th to "
                      "90th percentile over the days), with the SLO limits. Bottom: requests within the SLO "
                      "by hour.", "", fmt.image(run.dir, path, f"Service {name} latency by hour")]
    rl = fmt.as_dict(s.get("request_level"))
    if rl:
        lines += ["", f"Request-level model over {fmt.count(rl.get('windows'))} window(s), "
                  f"{fmt.count(rl.get('requests'))} requests (`requests.parquet`), beside the analytic model "
                  "over the same steps:", ""]
        lines += fmt.table(["", "p99 TTFT", "mean TPOT", "within SLO"], [
            ["request-level", _ms(rl.get("ttft_p99_s")), _ms(rl.get("tpot_mean_s")),
             fmt.percent(rl.get("attainment"))],
            ["analytic", _ms(rl.get("model_ttft_p99_s")), _ms(rl.get("model_tpot_mean_s")),
             fmt.percent(rl.get("model_attainment"))]], "lrrr")
    return lines


def services_section(run: Run) -> Section | None:
    """Per service: SLO table and demand figure; then the fleet over a day and the cost to
    training. None without services or without ``services.parquet``."""
    import numpy as np

    configs = run.scenario.get("services")
    if not isinstance(configs, list) or not configs:
        return None
    frame = load_services(run)
    if frame is None:
        return None
    summary = run.summary
    lines = ["## Inference services", ""]
    lines += fmt.table(["Service", "SLO attainment", "Unserved requests", "Time short",
                        "Replica GPU-hours", "Peak replicas", "Replica-hours waiting for GPUs"],
                       _service_rows(configs, fmt.as_dict(summary.get("services"))), "lrrrrrr")
    lost = fmt.number(summary.get("preempted_gpu_hours_lost")) or 0.0
    lines += ["", "SLO attainment is the fraction of time after warm-up with every request served "
              "(served = min(demand, ready replicas × rate per replica)); unserved requests are a "
              "fraction of all requests. Replicas outrank training: to place one they preempt "
              f"preemptible training jobs. Training was preempted "
              f"{fmt.count(summary.get('preemptions'))} "
              f"times and lost {lost:,.0f} GPU-hours of work to it."]
    paths: list[Path] = []
    for i, cfg in enumerate(configs):
        name = str(cfg.get("name", "?"))
        rows = frame[frame["service"] == name].sort_values("t_s", kind="stable")
        if rows.empty:
            continue
        rate = float(cfg.get("rps_per_replica") or 0.0)
        png = service_png(rows, name, rate, run.horizon, run.warmup)
        path = save_figure(run, f"service_{i}", png)
        if path is not None:
            paths.append(path)
            lines += ["", f"### Service {fmt.md_escape(name)}: demand, served capacity and "
                      "replicas", "",
                      "Top: demand and the capacity of ready replicas (requests per second), with "
                      "unserved demand shaded. Bottom: replicas ready, placed (ready or starting: "
                      "they hold GPUs but do not serve yet) and waiting for GPUs.",
                      "", fmt.image(run.dir, path, f"Service {name}")]
        if has_latency(rows):
            lines += _latency_lines(run, i, cfg, rows, fmt.as_dict(fmt.as_dict(summary.get("services")).get(name)),
                                    paths)
    split = fleet_by_hour(run)
    share = None
    if split is not None:
        path = save_figure(run, "fleet_split", fleet_split_png(split))
        if path is not None:
            paths.append(path)
            total = split["inference"] + split["training"] + split["idle"]
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0, split["inference"] / total, np.nan)
            inference = split["inference"]
            peak, low = int(np.nanargmax(inference)), int(np.nanargmin(inference))
            lines += ["", "### The fleet over a day", "",
                      f"Mean GPUs by hour of day after warm-up. Inference holds "
                      f"{inference[peak]:,.0f} GPUs at {peak:02d}:00 and "
                      f"{inference[low]:,.0f} at {low:02d}:00; the difference goes to training.",
                      "", fmt.image(run.dir, path, "Fleet split by hour of day")]
    by_hour = wait_by_hour(run)
    if by_hour is not None:
        path = save_figure(run, "wait_by_hour", wait_by_hour_png(*by_hour, share))
        if path is not None:
            paths.append(path)
            lines += ["", "### The cost to training", "",
                      "Waits of training jobs by hour of submission, beside the inference share of "
                      "the fleet, and per class the jobs preempted, the work they lost and their "
                      "waits. To price the service, run the same scenario without `services` "
                      "under the same seed: the jobs are identical (common random numbers), so "
                      "the difference in waits is the service's cost.",
                      "", fmt.image(run.dir, path, "Training wait by hour of submission"), ""]
            lines += fmt.table(["Class", "Jobs", "Jobs preempted", "Preemptions",
                                "GPU-hours lost", "Mean wait", "p90 wait"],
                               _wait_rows(run), "lrrrrrr")
    return Section("\n".join(lines), paths)
