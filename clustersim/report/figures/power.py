"""Figure of the "Power" section: facility and IT power against the cap over the run. Plain
numpy arrays in, PNG bytes out."""

from __future__ import annotations

from clustersim.report.figures.style import DAY_S, new_figure, png_bytes, styled
from clustersim.report.series import downsample

FACILITY = "#d62728"
IT = "#1f77b4"
CAP = "#333333"


@styled
def power_png(t, facility_w, it_w, cap_w, horizon: float) -> bytes:
    """Facility power (PUE x IT), IT power and the cap (absent: None), in MW, over days."""
    import numpy as np

    columns = {"facility": np.asarray(facility_w, float), "it": np.asarray(it_w, float)}
    if cap_w is not None:
        columns["cap"] = np.asarray(cap_w, float)
    x, out = downsample(np.asarray(t, float), columns, horizon)
    fig, (ax,) = new_figure(1)
    days = np.asarray(x) / DAY_S
    ax.plot(days, out["facility"] / 1e6, drawstyle="steps-post", color=FACILITY, lw=1.0, label="facility power")
    ax.plot(days, out["it"] / 1e6, drawstyle="steps-post", color=IT, lw=0.8, label="IT power")
    if cap_w is not None:
        ax.plot(days, out["cap"] / 1e6, drawstyle="steps-post", color=CAP, lw=1.2, ls="--", label="cap")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("MW")
    ax.set_xlim(0, horizon / DAY_S)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")
    return png_bytes(fig)
