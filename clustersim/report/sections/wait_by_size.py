"""Wait by job size."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.figures.core import wait_by_size_png
from clustersim.report.files import save_figure
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section


def wait_by_size_section(run: Run) -> Section:
    """Median and p90 wait by the number of GPUs a job asks for."""
    jobs = run.measured(("num_gpus",))
    png = wait_by_size_png(jobs["num_gpus"], jobs["wait"], jobs["started"], P90_WAIT_TARGET_S)
    path = save_figure(run, "wait_by_size", png)
    if path is None:
        return Section("## Wait by job size\n\nNo job was submitted after warm-up.", [])
    text = ("Median and p90 wait of started jobs by the number of GPUs they ask for; n is the "
            "number of jobs that started, \"queued\" those still waiting at the end. Large jobs "
            "waiting far longer than small ones point at fragmentation or a policy that starves "
            "them, not at total capacity.")
    link = fmt.image(run.dir, path, "Wait by job size")
    return Section(f"## Wait by job size\n\n{text}\n\n{link}", [path])
