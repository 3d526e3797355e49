"""Figures of the "Inference services" section: demand against served capacity per service,
the fleet split by hour of day, and the training wait by hour of submission."""

from __future__ import annotations

from clustersim.report.figures.style import (
    DAY_S,
    MAIN,
    MEAN,
    TARGET,
    new_figure,
    png_bytes,
    styled,
    time_axis,
)


@styled
def service_png(rows, name: str, rate: float, horizon: float, warmup: float) -> bytes:
    """One service over time: demand, capacity of ready replicas and unserved demand (top),
    replicas ready, placed and waiting for GPUs (bottom). ``rows`` are its services.parquet
    rows in time order; ``rate`` is requests per second per replica."""
    import numpy as np

    t = rows["t_s"].to_numpy(float)
    x = np.append(t, horizon) / DAY_S

    def step(values):
        v = np.asarray(values, dtype=float)
        return np.append(v, v[-1])

    fig, (ax, ax2) = new_figure(2)
    time_axis(ax, horizon, warmup)
    ax.plot(x, step(rows["demand_rps"]), drawstyle="steps-post", color=TARGET, lw=1.2, label="demand")
    ax.plot(x, step(rows["ready_replicas"] * rate), drawstyle="steps-post", color=MAIN, lw=1.0,
            label="capacity of ready replicas")
    short = rows["unserved_rps"].to_numpy(float) > 1e-9
    if short.any():
        ax.fill_between(x, 0, step(np.where(short, rows["unserved_rps"], 0.0)), step="post",
                        color=MEAN, alpha=0.6, lw=0, label="unserved")
    ax.set_ylabel("requests / s")
    ax.set_title(f"Service {name}: demand and served capacity")
    ax.legend(loc="upper right")
    time_axis(ax2, horizon, warmup)
    ax2.plot(x, step(rows["ready_replicas"]), drawstyle="steps-post", color=MAIN, label="ready")
    ax2.plot(x, step(rows["ready_replicas"] + rows["starting_replicas"]), drawstyle="steps-post",
             color=MEAN, lw=0.8, label="placed (ready + starting)")
    if (rows["waiting_replicas"] > 0).any():
        ax2.plot(x, step(rows["waiting_replicas"]), drawstyle="steps-post", color=TARGET, lw=0.8,
                 label="waiting for GPUs")
    ax2.set_ylabel("replicas")
    ax2.set_xlabel("time (days)")
    ax2.legend(loc="upper right")
    return png_bytes(fig)


@styled
def fleet_split_png(split) -> bytes:
    """Stacked bars of mean inference, training and idle GPUs per hour of day (``split`` maps
    each of the three to 24 values)."""
    import numpy as np

    fig, (ax,) = new_figure()
    hours = np.arange(24)
    bottom = np.zeros(24)
    colours = {"inference": TARGET, "training": MAIN, "idle": "#cccccc"}
    for name in ("inference", "training", "idle"):
        ax.bar(hours, split[name], bottom=bottom, color=colours[name], width=0.9, label=name)
        bottom = bottom + split[name]
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("GPUs (mean after warm-up)")
    ax.set_title("Fleet split between inference and training over a day")
    ax.legend(loc="lower left")
    return png_bytes(fig)


@styled
def wait_by_hour_png(hours, mean_h, p90_h, inference_share) -> bytes:
    """Mean and p90 training wait (hours) by hour of submission, with the inference share of
    up GPUs on a second axis when ``inference_share`` is given."""
    fig, (ax,) = new_figure()
    ax.plot(hours, mean_h, marker="o", color=MAIN, label="mean wait")
    ax.plot(hours, p90_h, marker="s", color=MEAN, label="p90 wait")
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day the job was submitted")
    ax.set_ylabel("wait (hours)")
    ax.set_title("Training wait by hour of submission")
    if inference_share is not None:
        ax2 = ax.twinx()
        ax2.plot(hours, 100 * inference_share, color=TARGET, ls="--", lw=1, label="inference share of up GPUs")
        ax2.set_ylabel("inference (% of up GPUs)")
        ax2.set_ylim(0, 100)
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    return png_bytes(fig)


@styled
def latency_day_png(name: str, hours, targets: dict) -> bytes:
    """Predicted latency and SLO attainment of one service by hour of day (issue 19): the
    median over the days of p99 TTFT and p99 TPOT with their 10-90% range over the days and the
    SLO limits (top, log scale), and the share of requests within the SLO (bottom). ``hours``
    is ``report.analysis.latency.by_hour``; ``targets`` metric -> (percentile, limit)."""
    import numpy as np

    h = np.arange(24)
    rows = 2 if "attainment" in hours else 1
    fig, axes = new_figure(rows)
    ax = axes[0]
    for col, colour, label in (("ttft_p99_s", MAIN, "p99 TTFT"), ("tpot_p99_s", MEAN, "p99 TPOT")):
        v = np.where(np.isfinite(hours[col]), hours[col], np.nan)
        ax.plot(h, v, marker="o", color=colour, label=label)
        lo, hi = hours[col + ":lo"], hours[col + ":hi"]
        ax.fill_between(h, np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan),
                        color=colour, alpha=0.15, lw=0)
        metric = col.split("_")[0]
        if metric in targets:
            ax.axhline(targets[metric][1], color=colour, ls="--", lw=1,
                       label=f"{label.split()[1]} SLO (p{targets[metric][0]:g})")
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log)")
    ax.set_xticks(h)
    ax.set_title(f"Service {name}: predicted latency by hour of day")
    ax.legend(loc="lower right", ncol=2)
    if rows == 2:
        ax2 = axes[1]
        ax2.bar(h, 100 * hours["attainment"], color=MAIN, width=0.8)
        goal = targets.get("attainment")
        if goal is not None:
            ax2.axhline(100 * goal[0], color=TARGET, ls="--", lw=1, label=f"goal {100 * goal[0]:g}%")
            ax2.legend(loc="lower left")
        finite = hours["attainment"][np.isfinite(hours["attainment"])]
        low = 100 * float(finite.min()) if len(finite) else 0.0
        ax2.set_ylim(max(0.0, min(low - 1.0, 95.0)), 100.5)
        ax2.set_xticks(h)
        ax2.set_ylabel("% requests within SLO")
        ax2.set_xlabel("hour of day")
    else:
        ax.set_xlabel("hour of day")
    return png_bytes(fig)
