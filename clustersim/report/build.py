"""Turn a run directory into ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

A report answers, in the order a capacity planner reads: is the cluster big enough and how long
do jobs wait? It is built from what the simulator wrote (``config.json``, ``summary.json``,
``jobs.parquet``, ``timeseries.parquet`` and, when present, ``events.parquet`` and
``services.parquet``) by walking the registry ``clustersim.report.sections.SECTIONS``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from clustersim.errors import ClusterSimError
from clustersim.report.files import load_run, write_atomic
from clustersim.report.html import markdown_to_html
from clustersim.report.model import Run, Section, SectionSpec
from clustersim.report.sections import SECTIONS


def build_sections(run: Run, sections: Sequence[SectionSpec] = SECTIONS) -> list[Section]:
    """Build every section that has its data, in order; figures are written as they are drawn."""
    shown = frozenset().union(*(s.summary_keys for s in sections if s.applies(run)))
    run = dataclasses.replace(run, shown_elsewhere=shown)
    return [s for s in (spec.build(run) for spec in sections) if s is not None]


def build_report(run_dir: str | os.PathLike) -> Path:
    """Write ``figures/*.png``, ``report.md`` and ``report.html`` into a run directory and
    return the path of ``report.md``. Raises ClusterSimError when the directory is not a
    readable run directory."""
    run = load_run(run_dir)
    try:
        run.figures_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise ClusterSimError(f"{run.figures_dir}: cannot create ({exc.strerror or exc})") from None
    markdown = "\n\n".join(s.markdown.strip() for s in build_sections(run)) + "\n"
    report_md = run.dir / "report.md"
    write_atomic(report_md, markdown.encode("utf-8"))
    name = run.scenario.get("name") or run.summary.get("scenario") or run.dir.name
    page = markdown_to_html(markdown, run.dir, f"Cluster report: {name}")
    write_atomic(run.dir / "report.html", page.encode("utf-8"))
    return report_md
