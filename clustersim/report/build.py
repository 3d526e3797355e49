"""Turn a run directory into ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

A report answers, in the order a capacity planner reads: is the cluster big enough and how long
do jobs wait? It is built from what the simulator wrote (``config.json``, ``summary.json``,
``jobs.parquet``, ``timeseries.parquet`` and, when present, ``events.parquet`` and
``services.parquet``) by walking the registry ``clustersim.report.sections.SECTIONS``.

Figures take most of the time, so where it is safe (see ``figures.workers``) they are drawn
by worker processes started before pyarrow and the sections are imported and the run is read;
the files are the same, byte for byte. A report of the core sections never imports pandas
(see ``files.Table``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from clustersim.errors import ClusterSimError
from clustersim.report.files import load_run, write_atomic
from clustersim.report.html import markdown_to_html
from clustersim.report.model import Run, Section, SectionSpec


def build_sections(
    run: Run, sections: Sequence[SectionSpec] | None = None, drawers=None
) -> list[Section]:
    """Build every section that has its data, in order (by default those of the registry,
    ``sections.SECTIONS``); figures are written as they are drawn. With ``drawers`` (a
    ``figures.workers.Drawers``), one section more than it has workers is under way at once:
    while the workers draw, the next section prepares its data."""
    if sections is None:  # imported here, so that the drawing workers start before it
        from clustersim.report.sections import SECTIONS

        sections = SECTIONS
    shown = frozenset().union(*(s.summary_keys for s in sections if s.applies(run)))
    run = dataclasses.replace(run, shown_elsewhere=shown)
    if drawers is None:
        built = [spec.build(run) for spec in sections]
    else:
        from concurrent.futures import ThreadPoolExecutor

        def build(spec: SectionSpec) -> Section | None:
            with drawers.turn():
                return spec.build(run)

        pool = ThreadPoolExecutor(drawers.n + 1, thread_name_prefix="report-section")
        try:
            built = [future.result() for future in [pool.submit(build, spec) for spec in sections]]
        except BaseException:  # an error or Ctrl-C: start no more sections, draw no more figures
            drawers.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return [s for s in built if s is not None]


def build_report(run_dir: str | os.PathLike, workers: int | None = None, drawers=None) -> Path:
    """Write ``figures/*.png``, ``report.md`` and ``report.html`` into a run directory and
    return the path of ``report.md``. ``workers``: processes that draw the figures (None: one
    per processor where that is safe, see ``figures.workers.usable_workers``; 0: none, all
    in this process); the files are the same either way. ``drawers``: such processes started
    already (a ``figures.workers.Drawers``, which the console script starts before it parses
    the command line), used instead and stopped when the report is done. Raises
    ClusterSimError when the directory is not a readable run directory."""
    if drawers is None:
        from clustersim.report.figures.workers import start_drawers, usable_workers

        drawers = start_drawers(usable_workers() if workers is None else workers)
    with drawers if drawers is not None else contextlib.nullcontext():
        run = load_run(run_dir)
        try:
            run.figures_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise ClusterSimError(f"{run.figures_dir}: cannot create ({exc.strerror or exc})") from None
        sections = build_sections(run, drawers=drawers)
    markdown = "\n\n".join(s.markdown.strip() for s in sections) + "\n"
    report_md = run.dir / "report.md"
    write_atomic(report_md, markdown.encode("utf-8"))
    name = run.scenario.get("name") or run.summary.get("scenario") or run.dir.name
    page = markdown_to_html(markdown, run.dir, f"Cluster report: {name}")
    write_atomic(run.dir / "report.html", page.encode("utf-8"))
    return report_md
