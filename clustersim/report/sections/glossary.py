"""How to read the report: the terms it uses. Last in the registry."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section


def glossary_section(run: Run) -> Section:
    """The terms the report uses, and the clustersim version that made the run."""
    version = fmt.md_escape(run.config.get("clustersim_version", "n/a"))
    terms = [
        "**Utilisation**: busy GPU-seconds over up GPU-seconds in [warm-up, horizon].",
        "**Wait**: start − submit, over jobs that started; jobs submitted before the end of "
        "warm-up are left out. Jobs still queued at the end are not in wait statistics.",
        "**JCT** (job completion time): end − submit, over finished jobs.",
        "**p50 / p90 / p99**: the value that 50 / 90 / 99 % of jobs are at or under.",
        "**Warm-up**: the start of the run, while the cluster fills from empty; it is simulated "
        "but not measured.",
        f"**Target**: p90 wait ≤ {fmt.hours(P90_WAIT_TARGET_S)}, a common planning goal.",
    ]
    lines = ["## How to read this", ""] + [f"- {t}" for t in terms]
    lines += ["", f"*Run produced by clustersim {version}; inputs in config.json.*"]
    return Section("\n".join(lines), [])
