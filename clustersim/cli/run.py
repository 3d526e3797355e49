"""``clustersim run``: one replication of a scenario into a run directory and its report
(``--seeds`` hands over to the replications of ``cli.plan``).

``--window [SERVICE:]START+LENGTH`` (repeatable) adds a request-level window (issue 19) to the
services with a ``latency`` section, or only to SERVICE, besides the windows their
``latency.request_level`` configures: ``--window 115h+10m`` serves the requests of [115 h,
115 h 10 min) one by one and writes them to ``requests.parquet``. START and LENGTH are
durations as in the scenario (``115h``, ``4d``, ``10m``, seconds as a plain number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import (
    SetOption,
    default_scenario,
    print_summary,
    progress_bar,
    user_errors,
)


def run(
    scenario: Annotated[Path | None, typer.Argument(help="scenario YAML (default: seeds/lingang-4000.yaml)")] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same output)", min=0)] = 0,
    out: Annotated[Path | None, typer.Option(help="run directory (default: reports/<scenario name>/)")] = None,
    set_: SetOption = None,
    window: Annotated[list[str] | None, typer.Option(help="add a request-level window to the services with `latency`: [SERVICE:]START+LENGTH, e.g. 115h+10m or chat:4d+30m (repeatable)")] = None,
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

        if window:
            typer.echo("error: --window runs one replication: give it without --seeds / --precision", err=True)
            raise typer.Exit(2)

        run_replications(
            scenario=scenario, seeds=seeds or "20", precision=precision, metric=metric,
            max_seeds=max_seeds, set_=set_, out=out, dask=dask, workers=workers,
        )
        return
    with user_errors():
        path = scenario or default_scenario()
        sc = load_scenario(path, set_ or []) if not window else with_windows(path, set_ or [], window)
        run_dir = out or Path("reports") / sc.name
        trace = None
        if sc.workload.classes is not None:
            from clustersim.workload import check_workload

            check_workload(sc, str(path))
        if sc.workload.trace is not None:
            from clustersim.workload import load_any

            trace = load_any(sc.workload.trace, sc.workload.format, strict=True)
        simulate_and_write(sc, seed, run_dir, report, trace=trace, frame=None if trace is None else trace.jobs)


def with_windows(path: Path, overrides: list[str], windows: list[str]):
    """The scenario at ``path`` with ``overrides``, and each ``--window`` added to the
    ``latency.request_level.windows`` of the services it names (all with a latency section)."""
    import re

    from clustersim.config.loading import (
        apply_overrides,
        read_scenario_dict,
        scenario_with_overrides,
    )
    from clustersim.errors import ScenarioError

    source = str(path) + "".join(f" --set {o}" for o in overrides) + "".join(f" --window {w}" for w in windows)
    data = read_scenario_dict(path)
    problems = apply_overrides(data, overrides)
    services = data.get("services") or []
    for text in windows:
        m = re.fullmatch(r"\s*(?:(?P<svc>[^:+]+):)?(?P<start>[^+]+)\+(?P<length>.+?)\s*", text)
        if m is None:
            problems.append(f"--window {text}: expected [SERVICE:]START+LENGTH, e.g. 115h+10m or chat:4d+30m")
            continue
        name = m["svc"].strip() if m["svc"] else None
        hits = [s for s in services if isinstance(s, dict) and isinstance(s.get("latency"), dict)
                and (name is None or s.get("name") == name)]
        if not hits:
            which = f"no service {name!r} with" if name else "no service has"
            problems.append(f"--window {text}: {which} a `latency` section (the request-level model needs one)")
            continue
        for svc in hits:
            level = svc["latency"].setdefault("request_level", {})
            if not isinstance(level, dict):
                continue  # left to validation, which names the field
            level.setdefault("windows", [])
            if isinstance(level["windows"], list):
                level["windows"].append({"start": m["start"].strip(), "length": m["length"].strip()})
    if problems:
        raise ScenarioError(source, problems)
    return scenario_with_overrides(data, (), source=source, base_dir=Path(path).parent)


def release_memory() -> None:
    """Give the finished simulation's memory back before the report reads the files, so a run's
    peak is the larger of the two phases, not their sum (a 1M-job run: 1.2 GB -> 0.8 GB). The
    engine's objects refer to each other, so only the cycle collector frees them (it is paused
    while the engine runs); glibc then keeps freed heap pages until ``malloc_trim`` returns them."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the pages stay with the process, as before
        pass


def simulate_and_write(sc, seed: int, run_dir: Path, report: bool, *, trace=None, frame=None) -> None:
    """Run one replication, write the run directory (and report), print the summary."""
    from clustersim.engine.core import simulate
    from clustersim.results import rundir as output

    output.begin_run(run_dir, sc, seed)
    specs = None
    if frame is not None:
        from clustersim.workload import trace_jobs

        specs = trace_jobs(frame)
    progress, bar = progress_bar(f"simulating {sc.name}")
    with bar:
        result = simulate(sc, seed, progress=progress, specs=specs)
    if frame is not None:
        from clustersim.workload import annotate

        annotate(result, frame, trace)
    output.write_run(run_dir, result, rejected=trace.rejected if trace is not None else None)
    summary = result.summary
    del result, specs  # the report reads the files: the tables need not stay in memory beside it
    if report:
        release_memory()
    report_path = None
    if report:
        from clustersim.report.build import build_report

        report_path = build_report(run_dir)
    print_summary(summary)
    typer.echo(f"run directory: {run_dir}")
    if report_path is not None:
        typer.echo(f"report: {report_path}")
