"""``clustersim report``: rebuild a run directory's report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import user_errors


def report(run_dir: Annotated[Path, typer.Argument(help="a run directory written by `clustersim run`")]) -> None:
    """Rebuild report.md, report.html and figures from a run directory."""
    from clustersim.report.build import build_report

    with user_errors():
        path = build_report(run_dir)
    typer.echo(f"report: {path}")
