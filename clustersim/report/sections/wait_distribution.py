"""The wait-time distribution by job class."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.figures.core import wait_cdf_png
from clustersim.report.files import save_figure
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section


def wait_distribution_section(run: Run) -> Section:
    """The CDF of wait per class and overall, beside the trace's recorded waits if any."""
    import numpy as np

    jobs = run.measured(("job_class", "recorded_wait_s"))
    started, classes = jobs["started"], jobs["job_class"][jobs["started"]]
    waits = jobs["wait"][started]
    names = sorted({c for c in classes.tolist() if isinstance(c, str)})  # as pandas' groupby
    by_class = {name: waits[classes == name] for name in names}
    recorded = None
    if "recorded_wait_s" in jobs:
        values = jobs["recorded_wait_s"]
        recorded = values[~np.isnan(values)] if (~np.isnan(values)).any() else None
    path = save_figure(run, "wait_cdf", wait_cdf_png(by_class, P90_WAIT_TARGET_S, recorded))
    if path is None:
        return Section("## Wait-time distribution\n\nNo job submitted after warm-up started, so "
                       "there is no wait-time distribution to plot.", [])
    text = ("Share of started jobs that waited at most a given time, per class and overall. "
            "Where a line crosses the dotted 90 % line is that class's p90 wait: left of the red "
            f"line meets the {fmt.hours(P90_WAIT_TARGET_S)} target. Jobs still queued at the end "
            "are not in these lines.")
    if recorded is not None:
        text += (" The dashed grey line is the wait the trace itself recorded for the same jobs "
                 "(on the real cluster, under its real scheduler): where the simulated line sits "
                 "left of it, the simulated cluster or policy serves these jobs faster.")
    return Section(f"## Wait-time distribution\n\n{text}\n\n"
                   f"{fmt.image(run.dir, path, 'Wait-time distribution by job class')}", [path])
