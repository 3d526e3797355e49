"""The command line: parses, calls, renders errors. No model logic lives here."""

from __future__ import annotations

import contextlib
import json
import math
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
    seeds: Annotated[str | None, typer.Option(help="replicate: a count (20), a range (1-20) or a list (3,5,8); prints means with 95% CIs")] = None,
    precision: Annotated[str | None, typer.Option(help="with --seeds: add seeds until each --metric's CI half-width is within this share of its mean, e.g. 5%")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="with --seeds: metrics to show / reach --precision on, e.g. wait_s.p90")] = None,
    max_seeds: Annotated[int, typer.Option(help="with --precision: cap on seeds", min=2)] = 100,
    dask: Annotated[str | None, typer.Option(help="with --seeds: run on this Dask scheduler address")] = None,
    workers: Annotated[int | None, typer.Option(help="with --seeds: local worker processes (default: all cores)", min=1)] = None,
) -> None:
    """Simulate a scenario and write the run directory and its report (or replicate it over seeds)."""
    from clustersim.config import load_scenario

    if seeds is not None or precision is not None:
        from clustersim.cli.plan import run_replications

        run_replications(
            scenario=scenario, seeds=seeds or "20", precision=precision, metric=metric,
            max_seeds=max_seeds, set_=set_, out=out, dask=dask, workers=workers,
        )
        return
    with user_errors():
        path = scenario or default_scenario()
        sc = load_scenario(path, set_ or [])
        run_dir = out or Path("reports") / sc.name
        trace = None
        if sc.workload.trace is not None:
            from clustersim.workload.replay import load_any

            trace = load_any(sc.workload.trace, sc.workload.format, strict=True)
        _simulate_and_write(sc, seed, run_dir, report, trace=trace, frame=None if trace is None else trace.jobs)


def _simulate_and_write(sc, seed: int, run_dir: Path, report: bool, *, trace=None, frame=None) -> None:
    """Run one replication, write the run directory (and report), print the summary."""
    from clustersim.engine.core import simulate
    from clustersim.results import rundir as output

    output.begin_run(run_dir, sc, seed)
    specs = None
    if frame is not None:
        from clustersim.workload.jobs import trace_jobs

        specs = trace_jobs(frame)
    progress, bar = _progress_bar(f"simulating {sc.name}")
    with bar:
        result = simulate(sc, seed, progress=progress, specs=specs)
    if frame is not None:
        from clustersim.workload.replay import annotate

        annotate(result, frame, trace)
    output.write_run(run_dir, result)
    if trace is not None and len(trace.rejected):
        output.write_csv(run_dir / "rejected_rows.csv", trace.rejected)
    report_path = None
    if report:
        from clustersim.report.run import build

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


@app.command()
def replay(
    trace: Annotated[Path, typer.Argument(help="trace file (or folder, for formats that span files)")],
    format: Annotated[str, typer.Option("--format", help="native, itp, alibaba2023, pai2020, philly, helios, acme, swf or auto")] = "auto",
    nodes: Annotated[int | None, typer.Option(help="nodes (default: sized so mean demand is 80% of the cluster)", min=1)] = None,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node", min=1)] = 8,
    scenario: Annotated[Path | None, typer.Option(help="take cluster, scheduler and failures from this scenario")] = None,
    policy: Annotated[str | None, typer.Option(help="fifo, sjf or backfill (default: backfill)")] = None,
    window: Annotated[str | None, typer.Option(help="START:END of submit times to keep, e.g. 2d:9d (shifted to 0)")] = None,
    time_scale: Annotated[float, typer.Option(help="multiply submit times by this (< 1 compresses arrivals)")] = 1.0,
    load_scale: Annotated[float, typer.Option(help="< 1 thins jobs, > 1 replicates them (seeded)")] = 1.0,
    min_gpus: Annotated[int | None, typer.Option(help="keep jobs with at least this many GPUs")] = None,
    max_gpus: Annotated[int | None, typer.Option(help="keep jobs with at most this many GPUs")] = None,
    job_class: Annotated[list[str] | None, typer.Option("--class", help="keep only these job classes")] = None,
    cluster: Annotated[str | None, typer.Option(help="which cluster of a multi-cluster trace (ITP: cluster04)")] = None,
    horizon: Annotated[str | None, typer.Option(help="simulated time (default: last job end + 10%)")] = None,
    warmup: Annotated[str, typer.Option(help="left out of waits and utilisation")] = "0s",
    strict: Annotated[bool, typer.Option(help="stop at the first unusable row instead of skipping it")] = False,
    seed: Annotated[int, typer.Option(help="random seed (load scaling, failures)", min=0)] = 0,
    out: Annotated[Path | None, typer.Option(help="run directory (default: reports/<trace name>/)")] = None,
    set_: SetOption = None,
    report: Annotated[bool, typer.Option(help="build the report after the run")] = True,
) -> None:
    """Replay a real job trace on a cluster, with recorded-vs-simulated waits where known."""
    from clustersim.config import read_scenario_dict, scenario_with_overrides
    from clustersim.rng import Streams
    from clustersim.units import parse_duration
    from clustersim.workload import replay as rp

    with user_errors():
        loaded = rp.load_any(trace, format, strict=strict, cluster=cluster)
        for note in loaded.notes:
            typer.echo(note, err=True)
        if len(loaded.rejected):
            counts = loaded.rejected["reason"].value_counts()
            rows = "row" if len(loaded.rejected) == 1 else "rows"
            typer.echo(f"{len(loaded.rejected):,} {rows} not used: " + ", ".join(f"{r} ({n:,})" for r, n in counts.items()), err=True)
        shaping = rp.Shaping(
            window=rp.parse_window(window), time_scale=time_scale, load_scale=load_scale,
            min_gpus=min_gpus, max_gpus=max_gpus, classes=tuple(job_class or ()),
        )
        frame = rp.shape(loaded.jobs, shaping, Streams(seed))
        if len(frame) == 0:
            raise ClusterSimError(f"{trace}: no jobs left to replay after filters and window")
        name = trace.name.split(".")[0] + (f"-{cluster}" if cluster else "")
        if scenario is not None:
            data = read_scenario_dict(scenario)
            base_dir = scenario.parent
            source = str(scenario)
        else:
            data = {"name": name, "cluster": {"gpus_per_node": gpus_per_node}}
            base_dir = None
            source = f"replay of {trace}"
        gpn = int(data.get("cluster", {}).get("gpus_per_node", gpus_per_node))
        if nodes is None and "nodes" not in data.get("cluster", {}):
            mean, _peak = rp.demand_peak(frame, gpn)
            biggest = int(frame["num_gpus"].max())
            nodes = max(math.ceil(mean / 0.8 / gpn), math.ceil(biggest / gpn), 1)
            typer.echo(f"cluster: {nodes} nodes x {gpn} GPUs (mean demand {mean:,.0f} GPUs = 80%)", err=True)
        if nodes is not None:
            data.setdefault("cluster", {})["nodes"] = nodes
        if policy is not None:
            data.setdefault("scheduler", {})["policy"] = policy
        if horizon is None:
            # long enough for the queue to drain: the last job end, plus all the work done
            # one after another on the whole cluster (a bound no schedule can exceed much)
            end = float((frame["submit_s"] + frame["duration_s"]).max())
            gpus = int(data["cluster"]["nodes"]) * gpn
            work = float((frame["num_gpus"] * frame["duration_s"]).sum()) / max(gpus, 1)
            horizon = max((end + work) * 1.1, 1.0)
        data["horizon"] = horizon
        data["warmup"] = parse_duration(warmup)
        data["workload"] = {"trace": str(Path(trace).resolve()), "format": loaded.format}
        sc = scenario_with_overrides(data, set_ or [], source=source, base_dir=base_dir)
        run_dir = out or Path("reports") / sc.name
        _simulate_and_write(sc, seed, run_dir, report, trace=loaded, frame=frame)
        if len(loaded.rejected):
            typer.echo(f"rejected rows: {run_dir / 'rejected_rows.csv'}")


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file (and overrides), and its trace if it names one, without running it."""
    from clustersim.config import load_scenario
    from clustersim.units import format_duration

    with user_errors():
        sc = load_scenario(scenario, set_ or [])
        if sc.workload.trace is not None:  # read the whole trace: a bad row fails here, not in `run`
            from clustersim.workload.replay import load_any

            trace_jobs = len(load_any(sc.workload.trace, sc.workload.format, strict=True).jobs)
    c = sc.cluster
    typer.echo(
        f"ok: {scenario}: '{sc.name}', {c.nodes} nodes x {c.gpus_per_node} GPUs = {c.gpus:,} GPUs, "
        f"{format_duration(sc.horizon)}, policy {sc.scheduler.policy.kind}"
    )
    if sc.workload.trace is not None:
        typer.echo(f"trace {sc.workload.trace}: {trace_jobs:,} jobs, every row usable")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (every field, with its description)."""
    from clustersim.config import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="a run directory written by `clustersim run`")]) -> None:
    """Rebuild report.md, report.html and figures from a run directory."""
    from clustersim.report.run import build

    with user_errors():
        path = build(run_dir)
    typer.echo(f"report: {path}")


def _register_planning() -> None:
    from clustersim.cli.plan import register

    register(app)


_register_planning()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
