"""The ``clustersim`` command: one typer app, each command from its own module."""

from __future__ import annotations

import typer

from clustersim.cli import plan, replay, report, run, scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="clustersim: capacity planning for large GPU training clusters (discrete-event, SimPy).",
    pretty_exceptions_enable=False,
)
app.command("run")(run.run)
app.command("replay")(replay.replay)
app.command("validate")(scenario.validate)
app.command("schema")(scenario.schema)
app.command("report")(report.report)
app.command("sweep")(plan.sweep_command)
app.command("plan")(plan.plan_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
