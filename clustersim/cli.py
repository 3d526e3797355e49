"""The command line: parses, calls, renders errors. No model logic lives here."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from clustersim.errors import ClusterSimError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="clustersim: capacity planning for large GPU training clusters (discrete-event, SimPy).",
    pretty_exceptions_enable=False,
)

DEFAULT_SCENARIO = "lingang-4000.yaml"

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="override a scenario field, e.g. --set cluster.nodes=16 --set 'workload.classes[0].duration=2h'",
    ),
]


@contextlib.contextmanager
def user_errors():
    """Turn user errors into one message on stderr and exit code 2, without a traceback."""
    try:
        yield
    except ClusterSimError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


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


def _progress_bar(label: str):
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


@app.command()
def run(
    scenario: Annotated[Path | None, typer.Argument(help="scenario YAML (default: seeds/lingang-4000.yaml)")] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same output)", min=0)] = 0,
    out: Annotated[Path | None, typer.Option(help="run directory (default: reports/<scenario name>/)")] = None,
    set_: SetOption = None,
    report: Annotated[bool, typer.Option(help="build report.md/report.html after the run")] = True,
) -> None:
    """Simulate a scenario and write the run directory and its report."""
    from clustersim import output
    from clustersim.config import load_scenario

    with user_errors():
        path = scenario or default_scenario()
        sc = load_scenario(path, set_ or [])
        run_dir = out or Path("reports") / sc.name
        output.begin_run(run_dir, sc, seed)
        from clustersim.sim import simulate

        progress, bar = _progress_bar(f"simulating {sc.name}")
        with bar:
            result = simulate(sc, seed, progress=progress)
        output.write_run(run_dir, result)
        report_path = None
        if report:
            from clustersim.report import build

            report_path = build(run_dir)
    _print_summary(result.summary)
    typer.echo(f"run directory: {run_dir}")
    if report_path is not None:
        typer.echo(f"report: {report_path}")


def _print_summary(summary: dict) -> None:
    from clustersim.units import format_duration

    def dur(value):
        return "n/a" if value is None else format_duration(value)

    jobs = summary["jobs"]
    util = summary.get("gpu_utilisation")
    lines = [
        f"scenario {summary['scenario']} (seed {summary['seed']}), {summary['horizon_s'] / 86400:g} days",
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


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file (and overrides) without running it."""
    from clustersim.config import load_scenario

    with user_errors():
        sc = load_scenario(scenario, set_ or [])
    c = sc.cluster
    typer.echo(
        f"ok: {scenario}: '{sc.name}', {c.nodes} nodes x {c.gpus_per_node} GPUs = {c.gpus:,} GPUs, "
        f"{sc.horizon / 86400:g} days, policy {sc.scheduler.policy.kind}"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (every field, with its description)."""
    from clustersim.config import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="a run directory written by `clustersim run`")]) -> None:
    """Rebuild report.md, report.html and figures from a run directory."""
    from clustersim.report import build

    with user_errors():
        path = build(run_dir)
    typer.echo(f"report: {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
