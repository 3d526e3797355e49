"""``clustersim report``: rebuild a run directory's report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import user_errors


def report(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="a run directory written by `clustersim run`")],
) -> None:
    """Rebuild report.md, report.html and figures from a run directory."""
    from clustersim.report.build import build_report

    with user_errors():
        path = build_report(run_dir, drawers=ctx.obj)  # the console script's early_drawers
    typer.echo(f"report: {path}")


def early_drawers(argv: list[str]):
    """The report's drawing workers (``figures.workers.Drawers``) when the command line
    ``argv`` asks for a report, else None. The console script starts them before typer parses
    the command line (which imports pydantic) so that the first worker's import of matplotlib,
    the longest wait of a report, overlaps that and the reading of the run."""
    if argv[:1] != ["report"] or "--help" in argv:
        return None
    from clustersim.report.figures.workers import start_drawers, usable_workers

    return start_drawers(usable_workers())
