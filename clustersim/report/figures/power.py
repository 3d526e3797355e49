"""Figure of the "Power" section: facility and IT power against the cap over the run, and,
under admission or capping, what the cap did (jobs held for power, GPUs power-capped). Plain
numpy arrays in, PNG bytes out."""

from __future__ import annotations

from clustersim.report.figures.style import DAY_S, new_figure, png_bytes, styled
from clustersim.report.series import downsample

FACILITY = "#d62728"
IT = "#1f77b4"
CAP = "#333333"
HELD = "#9467bd"
THROTTLED = "#ff7f0e"


@styled
def power_png(t, facility_w, it_w, cap_w, horizon: float, held=None, throttled=None) -> bytes:
    """Facility power (PUE x IT), IT power and the cap (absent: None), in MW, over days; a
    second panel with jobs held for power and GPUs power-capped when either is given."""
    import numpy as np

    columns = {"facility": np.asarray(facility_w, float), "it": np.asarray(it_w, float)}
    if cap_w is not None:
        columns["cap"] = np.asarray(cap_w, float)
    if held is not None:
        columns["held"] = np.asarray(held, float)
    if throttled is not None:
        columns["throttled"] = np.asarray(throttled, float)
    x, out = downsample(np.asarray(t, float), columns, horizon)
    second = held is not None or throttled is not None
    fig, axes = new_figure(2 if second else 1)
    ax = axes[0]
    days = np.asarray(x) / DAY_S
    ax.plot(days, out["facility"] / 1e6, drawstyle="steps-post", color=FACILITY, lw=1.0, label="facility power")
    ax.plot(days, out["it"] / 1e6, drawstyle="steps-post", color=IT, lw=0.8, label="IT power")
    if cap_w is not None:
        ax.plot(days, out["cap"] / 1e6, drawstyle="steps-post", color=CAP, lw=1.2, ls="--", label="cap")
    ax.set_ylabel("MW")
    ax.set_xlim(0, horizon / DAY_S)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")
    if second:
        low = axes[1]
        if throttled is not None:
            low.plot(days, out["throttled"], drawstyle="steps-post", color=THROTTLED, lw=0.9,
                     label="GPUs power-capped")
            low.set_ylabel("GPUs capped")
        if held is not None:
            twin = low.twinx() if throttled is not None else low
            twin.plot(days, out["held"], drawstyle="steps-post", color=HELD, lw=0.9, label="jobs held for power")
            twin.set_ylabel("jobs held")
            twin.set_ylim(bottom=0)
            if twin is not low:
                lines = low.get_legend_handles_labels()
                more = twin.get_legend_handles_labels()
                low.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
            else:
                low.legend(loc="upper right")
        low.set_ylim(bottom=0)
        low.set_xlim(0, horizon / DAY_S)
        low.set_xlabel("time (days)")
    else:
        ax.set_xlabel("time (days)")
    return png_bytes(fig)
