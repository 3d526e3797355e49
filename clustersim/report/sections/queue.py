"""The queue over time."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.figures.core import queue_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section


def queue_section(run: Run) -> Section:
    """Queued jobs and the GPUs they ask for, over time."""
    ts = run.series_table
    png = queue_png(ts.numbers("t_s"), ts.numbers("queued_jobs"),
                    ts.numbers("queued_gpus"), run.horizon, run.warmup)
    path = save_figure(run, "queue", png)
    text = ("Jobs waiting to start and the GPUs they ask for. A queue that keeps growing to the "
            "end of the run means demand exceeds capacity and waits have no ceiling; one that "
            "drains between bursts means waits come from peaks.")
    return Section(f"## Queue\n\n{text}\n\n{fmt.image(run.dir, path, 'Queue over time')}", [path])
