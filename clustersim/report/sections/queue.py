"""The queue over time."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.figures.core import queue_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section


def queue_section(run: Run) -> Section:
    """Queued jobs and the GPUs they ask for, over time."""
    ts = run.timeseries
    png = queue_png(ts["t_s"].to_numpy(), ts["queued_jobs"].to_numpy(),
                    ts["queued_gpus"].to_numpy(), run.horizon, run.warmup)
    path = save_figure(run, "queue", png)
    text = ("Jobs waiting to start and the GPUs they ask for. A queue that keeps growing to the "
            "end of the run means demand exceeds capacity and waits have no ceiling; one that "
            "drains between bursts means waits come from peaks.")
    return Section(f"## Queue\n\n{text}\n\n{fmt.image(run.dir, path, 'Queue over time')}", [path])
