"""The figure of a workload fit (``clustersim fit``): fitted vs observed, per class and in time.

Top row: each class's duration CDF (observed, and the distribution written to the scenario)
on a log axis. Bottom row: GPU-count probabilities (observed vs fitted), and the arrival
profile by hour of day and by weekday (observed vs the scenario's workload, drawn). Plain data
in (``clustersim.workload.fit_output.figure_data``), PNG bytes out.
"""

from __future__ import annotations

from typing import Any

from clustersim.report.figures.style import DPI, MAIN, MEAN, png_bytes, styled

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@styled
def fit_png(data: dict[str, Any]) -> bytes:
    import numpy as np
    from matplotlib.figure import Figure

    classes = data["classes"]
    n = max(len(classes), 3)
    fig = Figure(figsize=(3.2 * n, 7.0), dpi=DPI, layout="constrained")
    grid = fig.add_gridspec(2, n)
    for i, c in enumerate(classes):
        ax = fig.add_subplot(grid[0, i])
        xs = np.asarray(c["durations"], dtype=float)
        xs = xs[xs > 0]
        if len(xs):
            ax.step(xs / 3600.0, np.arange(1, len(xs) + 1) / len(xs), where="post", color=MAIN,
                    label="observed")
        ax.plot(np.asarray(c["grid"]) / 3600.0, c["fitted_cdf"], color=MEAN, ls="--",
                label=f"fitted ({c['kind']})")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{c['name']}: duration", fontsize=11)
        ax.set_xlabel("hours")
        if i == 0:
            ax.set_ylabel("fraction of jobs")
        ax.legend(loc="lower right", fontsize=8)
    bottom = grid[1, :].subgridspec(1, 3)
    ax = fig.add_subplot(bottom[0, 0])
    labels, obs, fit = [], [], []
    for c in classes:
        for g, p in c["gpus"].items():
            labels.append(f"{c['name']}\n{g}" if len(classes) > 1 else str(g))
            obs.append(c["observed_gpus"].get(g, 0.0))
            fit.append(p)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, obs, 0.4, color=MAIN, label="observed")
    ax.bar(x + 0.2, fit, 0.4, color=MEAN, label="fitted")
    ax.set_xticks(x, labels, fontsize=7, rotation=90 if len(classes) > 1 else 0)
    ax.set_title("GPU-count probabilities", fontsize=11)
    ax.legend(fontsize=8)
    for j, (key, size, ticks, title) in enumerate((
        ("hourly", 24, [str(h) for h in range(24)], "arrivals by hour of day"),
        ("weekday", 7, list(WEEKDAYS), "arrivals by weekday"),
    )):
        ax = fig.add_subplot(bottom[0, j + 1])
        observed, fitted = data.get(f"{key}_observed"), data.get(f"{key}_fitted")
        if observed is not None:
            ax.plot(range(size), observed, color=MAIN, marker="o", ms=3, label="observed")
        if fitted is not None:
            ax.plot(range(size), fitted, color=MEAN, ls="--", marker="s", ms=3, label="scenario (drawn)")
        if observed is None and fitted is None:
            ax.text(0.5, 0.5, "trace too short", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks(range(size), ticks, fontsize=7)
        ax.set_ylim(bottom=0)
        ax.set_title(title + " (relative)", fontsize=11)
        ax.legend(fontsize=8)
    return png_bytes(fig)
