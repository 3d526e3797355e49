"""Figure of the "Teams" section: each team's GPUs in use against its quota over the run, one
panel per team (up to six; the rest are in the table). Plain numpy arrays in, PNG bytes out."""

from __future__ import annotations

from clustersim.report.figures.style import new_figure, png_bytes, styled, time_axis
from clustersim.report.series import downsample

USED = "#1f77b4"
BORROWED = "#ff7f0e"
QUOTA = "#333333"
MAX_PANELS = 6


@styled
def teams_png(t, used: dict, quotas: dict, horizon: float, warmup: float) -> bytes:
    """``used``: team -> GPUs in use at each time of ``t``; ``quotas``: team -> quota GPUs."""
    import numpy as np

    names = list(used)[:MAX_PANELS]
    x, out = downsample(np.asarray(t, float), {n: np.asarray(used[n], float) for n in names}, horizon)
    fig, axes = new_figure(len(names))
    days = np.asarray(x) / 86400.0
    for ax, name in zip(axes, names, strict=True):
        y = out[name]
        q = float(quotas[name])
        ax.fill_between(days, 0, np.minimum(y, q), step="post", color=USED, alpha=0.6, lw=0, label="within quota")
        ax.fill_between(days, q, np.maximum(y, q), step="post", color=BORROWED, alpha=0.7, lw=0, label="borrowed")
        ax.axhline(q, color=QUOTA, lw=1.0, ls="--", label="quota")
        time_axis(ax, horizon, warmup)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    axes[0].legend(loc="upper right", ncols=4, fontsize="small")
    axes[0].set_title("GPUs in use by team (dashed: its quota)")
    axes[-1].set_xlabel("time (days)")
    return png_bytes(fig)
