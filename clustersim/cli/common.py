"""What every command shares: the default scenario, the --set option, one error path,
progress bars and the printed summary.

The error path: a user error (``ClusterSimError``: a scenario, an override, a trace, an
empirical file, the output folder) is one message on stderr, naming the file and the line or
field, with exit code 2 and no traceback. Anything else is a bug in clustersim: its traceback
is printed, followed by a line asking to report it (exit code 1).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from clustersim.errors import ClusterSimError

DEFAULT_SCENARIO = "lingang-4000.yaml"
BUG_EXIT = 1
BUG_LINE = (
    "clustersim: this is a bug in clustersim, not a problem with your input. Please report it "
    "with the command you ran, the scenario (and trace) and the traceback above."
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="override a scenario field, e.g. --set cluster.nodes=16 --set 'workload.classes[0].duration=2h'",
    ),
]


@contextlib.contextmanager
def user_errors():
    """One line on stderr, no traceback: exit 2 for bad input, 130 for Ctrl-C (finished runs
    of a sweep or plan are kept)."""
    from clustersim.planning.runs import Interrupted

    try:
        yield
    except Interrupted as err:
        typer.echo(f"{err}", err=True)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except ClusterSimError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception:  # a bug: show where, and ask for a report
        report_bug()
        raise typer.Exit(BUG_EXIT) from None


def report_bug() -> None:
    """Print the current exception's traceback and the line asking to report it (stderr)."""
    typer.echo(traceback.format_exc().rstrip(), err=True)
    typer.echo(BUG_LINE, err=True)


def default_scenario() -> Path:
    """The default 4,000-GPU scenario: ./seeds/ when run from a checkout, else the copy
    installed with the package."""
    import clustersim

    checkout = Path(clustersim.__file__).resolve().parent.parent / "seeds" / DEFAULT_SCENARIO
    for candidate in (Path("seeds") / DEFAULT_SCENARIO, checkout):
        if candidate.exists():
            return candidate
    try:
        from importlib import resources

        installed = Path(str(resources.files("clustersim.seeds") / DEFAULT_SCENARIO))
    except ModuleNotFoundError:
        installed = None
    if installed is None or not installed.exists():
        raise ClusterSimError(f"default scenario {DEFAULT_SCENARIO} not found: give a scenario path")
    return installed


def progress_bar(label: str):
    """A progress callback (fraction done) that draws a bar on an interactive stderr."""
    if not sys.stderr.isatty():
        return None, contextlib.nullcontext()
    bar = typer.progressbar(length=100, label=label, file=sys.stderr)
    state = {"done": 0}

    def update(fraction: float) -> None:
        step = int(fraction * 100) - state["done"]
        if step > 0:
            bar.update(step)
            state["done"] += step

    return update, bar


def print_summary(summary: dict) -> None:
    from clustersim.units import format_duration

    def dur(value):
        return "n/a" if value is None else format_duration(value)

    jobs = summary["jobs"]
    util = summary.get("gpu_utilisation")
    lines = [
        f"scenario {summary['scenario']} (seed {summary['seed']}), {format_duration(summary['horizon_s'])} simulated",
        f"  jobs       submitted {jobs['submitted']:,}  finished {jobs['finished']:,}  "
        f"running {jobs['running']:,}  queued {jobs['queued']:,}  rejected {jobs['rejected']:,}",
        f"  GPU util   {'n/a' if util is None else f'{util:.1%}'}",
        "  wait       " + "  ".join(f"{k} {dur(v)}" for k, v in summary["wait_s"].items()),
        "  JCT        " + "  ".join(f"{k} {dur(v)}" for k, v in summary["jct_s"].items()),
    ]
    for name, cls in summary.get("by_class", {}).items():
        w = cls["wait_s"]
        lines.append(f"  {name:<10} {cls['jobs']:>8,} jobs  wait p50 {dur(w['p50'])}  p90 {dur(w['p90'])}")
    typer.echo("\n".join(lines))
