"""``clustersim replay``: a real job trace on a cluster, with recorded-vs-simulated waits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import SetOption, user_errors
from clustersim.cli.run import simulate_and_write
from clustersim.errors import ClusterSimError, ScenarioError


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
    from clustersim.workload import load_any
    from clustersim.workload import replay as rp

    with user_errors():
        loaded = load_any(trace, format, strict=strict, cluster=cluster)
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
        name = _default_name(trace, cluster)
        if scenario is not None:
            data = read_scenario_dict(scenario)
            base_dir = scenario.parent
            source = str(scenario)
        else:
            data = {"name": name, "cluster": {"gpus_per_node": gpus_per_node}}
            base_dir = None
            source = f"replay of {trace}"
        gpn = _gpus_per_node(data, gpus_per_node, source)
        if nodes is None and "nodes" not in data.get("cluster", {}):
            mean, _peak = rp.demand_peak(frame, gpn)
            biggest = int(frame["num_gpus"].max())
            nodes = max(math.ceil(mean / 0.8 / gpn), math.ceil(biggest / gpn), 1)
            typer.echo(f"cluster: {nodes} nodes x {gpn} GPUs (mean demand {mean:,.0f} GPUs = 80%)", err=True)
        if nodes is not None:
            data["cluster"]["nodes"] = nodes
        if policy is not None:
            if not isinstance(data.get("scheduler"), dict):
                data["scheduler"] = {}
            data["scheduler"]["policy"] = policy
        if horizon is None:
            # long enough for the queue to drain: the last job end, plus all the work done
            # one after another on the whole cluster (a bound no schedule can exceed much),
            # and no longer than a run can simulate
            end = float((frame["submit_s"] + frame["duration_s"]).max())
            given = data["cluster"].get("nodes")
            gpus = (given if isinstance(given, int) and not isinstance(given, bool) else 1) * gpn
            work = float((frame["num_gpus"] * frame["duration_s"]).sum()) / max(gpus, 1)
            from clustersim.config.base import MAX_HORIZON

            horizon = min(max((end + work) * 1.1, 1.0), MAX_HORIZON)
        data["horizon"] = horizon
        try:
            data["warmup"] = parse_duration(warmup)
        except ValueError as err:
            raise ClusterSimError(f"--warmup {warmup!r}: {err}") from None
        data["workload"] = {"trace": str(Path(trace).resolve()), "format": loaded.format}
        sc = scenario_with_overrides(data, set_ or [], source=source, base_dir=base_dir)
        run_dir = out or Path("reports") / sc.name
        simulate_and_write(sc, seed, run_dir, report, trace=loaded, frame=frame)
        if len(loaded.rejected):
            typer.echo(f"rejected rows: {run_dir / 'rejected_rows.csv'}")


def _default_name(trace: Path, cluster: str | None) -> str:
    """The run's name (and default folder reports/<name>/): the trace file's stem (and the
    cluster), with characters a scenario name may not hold replaced by ``_``."""
    import re

    stem = trace.name.split(".")[0] or trace.name.strip(".") or "trace"
    name = stem + (f"-{cluster}" if cluster else "")
    name = re.sub(r"[/\\:\x00-\x1f\x7f]", "_", name).strip()
    return name if name not in ("", ".", "..") else "trace"


def _gpus_per_node(data: dict, default: int, source: str) -> int:
    """GPUs per node of the replay cluster (the scenario's, else --gpus-per-node)."""
    cluster = data.setdefault("cluster", {})
    if not isinstance(cluster, dict):
        raise ScenarioError(source, [f"cluster: expected a mapping (nodes, gpus_per_node, ...), got {cluster!r}"])
    gpn = cluster.get("gpus_per_node", default)
    if isinstance(gpn, bool) or not isinstance(gpn, int) or not 1 <= gpn <= 64:
        where = "cluster.gpus_per_node" if "gpus_per_node" in cluster else "--gpus-per-node"
        raise ScenarioError(source, [f"{where}: expected a whole number from 1 to 64, got {gpn!r}"])
    return gpn
