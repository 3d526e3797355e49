"""``clustersim fit``: a synthetic scenario whose workload reproduces a job trace.

Parsing, writing and printing only; the fit is in ``clustersim.workload.fit`` (classes,
rates, profiles), ``fit_dist`` (durations), ``fit_check`` (the check by generation) and
``fit_output`` (scenario, files, report); the figure in ``clustersim.report.figures.fit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import user_errors
from clustersim.errors import ClusterSimError


def _mode(by_size: bool, classes: int | None, by_class: bool) -> str:
    chosen = [m for m, on in (("by-size", by_size), ("classes", classes is not None), ("by-class", by_class)) if on]
    if len(chosen) > 1:
        raise ClusterSimError("give one of --by-size, --classes K or --by-class")
    return chosen[0] if chosen else "by-size"


def _growth(grow: str | None, size_shift: str | None) -> dict | None:
    from clustersim.config.workload import parse_growth

    out = {}
    for option, key, text in (("--grow", "rate", grow), ("--size-shift", "size_shift", size_shift)):
        if text is None:
            continue
        try:
            parse_growth(text)
        except ValueError as err:
            raise ClusterSimError(f"{option} {text!r}: {err}") from None
        out[key] = text
    return out or None


def fit(
    trace: Annotated[Path, typer.Argument(help="trace file (or folder, for formats that span files)")],
    format: Annotated[str, typer.Option("--format", help="native, itp, alibaba2023, pai2020, philly, helios, acme, swf or auto")] = "auto",
    cluster: Annotated[str | None, typer.Option(help="which cluster of a multi-cluster trace (ITP: cluster04)")] = None,
    by_size: Annotated[bool, typer.Option("--by-size", help="classes by GPU-count band: 1, 2-8, 9-64, 65-512, 513-4096, more (default)")] = False,
    classes: Annotated[int | None, typer.Option("--classes", min=1, help="K classes: the K bands of GPU counts with the least spread of log2(GPUs)")] = None,
    by_class: Annotated[bool, typer.Option("--by-class", help="the trace's own job classes (teams, queues)")] = False,
    min_jobs: Annotated[int, typer.Option(help="fewest jobs a class may be fitted from")] = 20,
    out: Annotated[Path | None, typer.Option(help="scenario file to write (default: reports/fit-<name>/<name>.yaml); files beside it")] = None,
    name: Annotated[str | None, typer.Option(help="scenario name (default: <trace>-fit)")] = None,
    nodes: Annotated[int | None, typer.Option(min=1, help="nodes (default: mean demand is 80% of the cluster)")] = None,
    gpus_per_node: Annotated[int, typer.Option(min=1, help="GPUs per node")] = 8,
    grow: Annotated[str | None, typer.Option(help="arrival-rate growth, e.g. 40%/yr or 3%/mo (workload.growth.rate)")] = None,
    size_shift: Annotated[str | None, typer.Option(help="shift of the size mix toward larger jobs, e.g. 10%/yr")] = None,
    horizon: Annotated[str | None, typer.Option(help="simulated time (default: the trace's span)")] = None,
    warmup: Annotated[str, typer.Option(help="left out of waits and utilisation")] = "0s",
    policy: Annotated[str, typer.Option(help="fifo, sjf or backfill")] = "backfill",
    ks_max: Annotated[float, typer.Option(help="largest KS distance at which a lognormal is kept")] = 0.05,
    repeats: Annotated[int, typer.Option(min=1, help="trace spans drawn to check the fit")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="seed of the check")] = 0,
    strict: Annotated[bool, typer.Option(help="stop at the first unusable row instead of skipping it")] = False,
) -> None:
    """Fit a workload model to a trace: write a scenario that reproduces it, a fit report and a figure."""
    from clustersim.config import scenario_from_dict
    from clustersim.report.figures.fit import fit_png
    from clustersim.results.rundir import atomic_write, write_text
    from clustersim.units import parse_duration
    from clustersim.workload import fit as wf
    from clustersim.workload import fit_output as fo
    from clustersim.workload import load_any
    from clustersim.workload.fit_check import check_fit

    with user_errors():
        mode = _mode(by_size, classes, by_class)
        growth = _growth(grow, size_shift)
        try:
            end = parse_duration(horizon) if horizon is not None else None
            warm = parse_duration(warmup)
        except ValueError as err:
            raise ClusterSimError(f"--horizon/--warmup: {err}") from None
        loaded = load_any(trace, format, strict=strict, cluster=cluster)
        for note in loaded.notes:
            typer.echo(note, err=True)
        offset = wf.clock_offset(loaded.notes)
        result = wf.fit_trace(loaded.jobs, mode=mode, k=classes, min_jobs=min_jobs, offset=offset, ks_max=ks_max)
        n_nodes, sizing = wf.cluster_size(result, gpus_per_node, nodes)
        base = trace.name.split(".")[0] + (f"-{cluster}" if cluster else "")
        name = name or f"{base}-fit"
        out = out or Path("reports") / f"fit-{base}" / f"{name}.yaml"
        stem = out.name.removesuffix(".yaml").removesuffix(".yml")
        data = fo.scenario_data(result, name=name, stem=stem, nodes=n_nodes, gpus_per_node=gpus_per_node,
                                horizon=end, warmup=warm, growth=growth, policy=policy)
        # check everything but the empirical files before writing anything, then write them
        scenario_from_dict(fo.without_files(data), source=f"fit of {trace}", base_dir=out.parent)
        for file, values in fo.empirical_files(result, stem).items():
            write_text(out.parent / file, fo.durations_csv(values))
        scenario = scenario_from_dict(data, source=f"fit of {trace}", base_dir=out.parent)
        command = " ".join([f"clustersim fit {trace} --format {loaded.format}", *(
            f"{flag} {value}" for flag, value in (
                ("--cluster", cluster), ("--classes", classes), ("--min-jobs", min_jobs if min_jobs != 20 else None),
                ("--nodes", nodes), ("--grow", grow), ("--size-shift", size_shift), ("--horizon", horizon),
                ("--warmup", warmup if warm else None)) if value is not None),
            *(["--by-class"] if by_class else [])])
        header = [f"Fitted by `{command}`", f"from {result.jobs:,} jobs over {result.span_s / 86400:.1f} days ({mode}).",
                  f"Fit report: {stem}-fit.md (figure {stem}-fit.png). Cluster: {sizing}.",
                  "Each class: Poisson arrivals at arrival_rate_per_h x hourly x weekday multipliers "
                  "(time 0 = midnight, Monday),",
                  "GPU-count probabilities and durations as observed (see the report for each fit).", ""]
        write_text(out, fo.scenario_yaml(data, header))
        check = check_fit(result, list(scenario.workload.classes), repeats=repeats, seed=seed)
        figure = out.parent / f"{stem}-fit.png"
        png = fit_png(fo.figure_data(result, check))
        atomic_write(figure, lambda tmp: tmp.write_bytes(png))
        notes = list(loaded.notes)
        if len(loaded.rejected):
            notes.append(f"{len(loaded.rejected):,} trace rows not used (see `clustersim replay` for the reasons)")
        report = fo.report_markdown(result, check, source=str(trace), scenario=out.name, figure=figure.name,
                                    sizing=sizing, notes=notes)
        write_text(out.parent / f"{stem}-fit.md", report)
    typer.echo(report.split("## Notes")[0].rstrip())
    typer.echo(f"\nscenario: {out}\nreport: {out.parent / f'{stem}-fit.md'} (figure {figure.name})")


__all__ = ["fit"]
