"""Figure of the "Topology" section: free GPUs and the fragmented part of them (free GPUs no
waiting job's shape can use) over the run. Plain numpy arrays in, PNG bytes out."""

from __future__ import annotations

from clustersim.report.figures.style import DAY_S, new_figure, png_bytes, styled
from clustersim.report.series import downsample

FREE = "#1f77b4"
FRAGMENTED = "#d62728"


@styled
def fragmentation_png(t, free_gpus, fragmented_gpus, horizon: float) -> bytes:
    """Free GPUs and fragmented GPUs (steps) over days."""
    import numpy as np

    columns = {"free": np.asarray(free_gpus, float), "frag": np.asarray(fragmented_gpus, float)}
    x, out = downsample(np.asarray(t, float), columns, horizon)
    fig, (ax,) = new_figure(1)
    days = np.asarray(x) / DAY_S
    ax.plot(days, out["free"], drawstyle="steps-post", color=FREE, lw=0.8, label="free GPUs")
    ax.fill_between(days, out["frag"], step="post", color=FRAGMENTED, alpha=0.5, lw=0,
                    label="fragmented: no waiting job's shape fits")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("GPUs")
    ax.set_xlim(0, horizon / DAY_S)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right")
    return png_bytes(fig)
