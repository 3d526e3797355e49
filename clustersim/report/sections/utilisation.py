"""Utilisation over time."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.figures.core import utilisation_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section


def utilisation_section(run: Run) -> Section:
    """Busy over up GPUs over time, with the mean after warm-up."""
    ts = run.series_table
    png, mean = utilisation_png(ts.numbers("t_s"), ts.numbers("busy_gpus"),
                                ts.numbers("up_gpus"), run.horizon, run.warmup)
    path = save_figure(run, "utilisation", png)
    text = (f"Busy GPUs as a share of the GPUs that were up. The dashed line is the time-weighted "
            f"mean after warm-up ({fmt.percent(mean)}); the grey band is the warm-up, left out "
            f"of every number in this report. A line pinned near 100 % with a growing queue means the "
            f"cluster is too small; a low line with a queue points at fragmentation or policy.")
    link = fmt.image(run.dir, path, "GPU utilisation over time")
    return Section(f"## Utilisation\n\n{text}\n\n{link}", [path])
