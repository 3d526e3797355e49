"""The ``clustersim`` command: one typer app, each command from its own module."""

from __future__ import annotations

import typer

from clustersim.cli import fit, plan, replay, report, run, scenario

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
app.command("fit")(fit.fit)


def main() -> None:
    """The console script: a bug that escapes a command still ends with the line asking to
    report it (user errors end earlier, in ``common.user_errors``, with exit code 2)."""
    import atexit
    import gc
    import sys

    from clustersim.cli.common import BUG_EXIT, report_bug

    # The process frees everything at once when it ends: at exit, freeze the heap so that the
    # interpreter's last garbage collections do not walk every object first (~0.04 s after a
    # report). Registered first, so it runs after every other exit handler.
    atexit.register(gc.freeze)
    drawers = report.early_drawers(sys.argv[1:])
    try:
        if drawers is None:
            app()
        else:  # the report command finds them as its context's obj
            app(obj=drawers)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception:
        report_bug()
        sys.exit(BUG_EXIT)
    finally:
        if drawers is not None:  # stopped by the report already, unless it never started
            drawers.close(wait=False)


if __name__ == "__main__":
    main()
