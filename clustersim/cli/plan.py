"""``clustersim sweep``, ``clustersim plan`` and ``clustersim run --seeds``: many runs of a scenario.

``run_replications`` is the ``clustersim run SCENARIO --seeds 20 [--precision 5%]`` path: the
main CLI routes to it when more than one seed is asked for. Parsing and printing only; the
work is in ``clustersim.planning.replications``, ``clustersim.planning.sweep`` and ``clustersim.planning.plan``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import default_scenario, user_errors
from clustersim.errors import ClusterSimError

ScenarioArg = Annotated[
    Path | None, typer.Argument(help="scenario YAML (default: seeds/lingang-4000.yaml)")
]
SeedsOpt = Annotated[str, typer.Option("--seeds", help="seeds: a count (10 = seeds 0-9), a range (1-20) or a list (3,5,8)")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a scenario field for every run, e.g. --set cluster.gpus_per_node=8")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="output directory (default: reports/<scenario>-<command>/); finished runs are kept in OUT/runs/ and reused")]
DaskOpt = Annotated[str | None, typer.Option("--dask", help="run on a Dask scheduler at this address (tcp://host:8786) instead of the local pool")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="local worker processes (default: all cores; 1 = no pool)")]
MetricOpt = Annotated[list[str] | None, typer.Option("--metric", help="metric to chart and tabulate, e.g. wait_s.p90 (repeatable)")]

REPLICATION_METRICS = ("jobs.submitted", "gpu_utilisation", "wait_s.mean", "wait_s.p50", "wait_s.p90",
                       "wait_s.p99", "jct_s.mean")


class _ProgressBar:
    """Runs done, drawn on stderr only when it is a terminal (one bar per batch of runs)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total == 0:
            return
        if self.bar is None:
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
            self.shown = 0
        self.bar.update(done - self.shown)
        self.shown = done
        if done >= total:
            self.close()

    def close(self) -> None:
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.__exit__(None, None, None)


@contextlib.contextmanager
def _runner(out: Path, dask: str | None, workers: int | None, label: str):
    """A Runner over the chosen executor, storing runs in OUT/runs; closed on exit."""
    from clustersim.planning.executor import make_executor
    from clustersim.planning.runs import Runner, RunStore

    bar = _ProgressBar(label)
    executor = make_executor(workers, dask)
    runner = Runner(executor, RunStore(out), progress=bar)
    typer.echo(f"running on {executor!r}; results in {out}", err=True)
    try:
        yield runner
    finally:
        bar.close()
        executor.close()
    typer.echo(f"{runner.computed} runs computed, {runner.reused} reused from {out / 'runs'}", err=True)


def _base(scenario: Path | None, set_: list[str] | None):
    from clustersim.planning.runs import ScenarioInput

    if scenario is None:
        scenario = default_scenario()
    base = ScenarioInput.from_path(scenario, set_ or [])
    return base, base.check((), "--set")


def _percent(text: str, option: str) -> float:
    raw = text.strip()
    try:
        return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ClusterSimError(f"{option} {text!r}: expected a percentage (5%) or a fraction (0.05)") from None


def _stats_table(reps, keys) -> str:
    from clustersim.planning.sweep_report import ci_text, md_table

    pct = int(round(100 * reps.confidence))
    rows = []
    for key in keys:
        stats = reps.metrics.get(key)
        mean, ci = ci_text(key, stats)
        rows.append([key, mean, ci, str(stats.n if stats else 0)])
    return "\n".join(md_table(["metric", "mean", f"{pct}% CI", "n"], rows, "lrrr"))


def run_replications(
    scenario: ScenarioArg = None,
    seeds: SeedsOpt = "20",
    precision: Annotated[str | None, typer.Option("--precision", help="add seeds until each --metric's CI half-width is at most this share of its mean, e.g. 5%")] = None,
    metric: MetricOpt = None,
    max_seeds: Annotated[int, typer.Option("--max-seeds", min=2, help="with --precision: stop after this many seeds")] = 100,
    set_: SetOpt = None,
    out: OutOpt = None,
    dask: DaskOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Replicate a scenario over many seeds: mean and 95% CI of every summary metric."""
    from clustersim.planning.replications import (
        check_keys,
        replicate,
        replicate_precise,
        summary_keys,
    )
    from clustersim.planning.runs import parse_seeds
    from clustersim.results.rundir import write_json

    with user_errors():
        base, sc = _base(scenario, set_)
        seed_list = parse_seeds(seeds)
        keys = list(metric or [])
        known, open_classes = summary_keys(sc)
        check_keys(keys, known, "--metric", any_class=open_classes)
        p = _percent(precision, "--precision") if precision is not None else None
        out = out or Path("reports") / f"{sc.name}-seeds"
        with _runner(out, dask, workers, f"{sc.name}: runs") as runner:
            if p is None:
                reps = replicate(base, seed_list, runner=runner)
            else:
                keys = keys or ["wait_s.mean", "gpu_utilisation"]
                reps = replicate_precise(base, keys, p, seed_list, max_seeds=max_seeds, runner=runner)
        write_json(out / "replications.json", reps.to_dict())
    shown = list(dict.fromkeys([*keys, *REPLICATION_METRICS,
                                *(k for k in reps.metrics if k.startswith("by_class.") and k.endswith("wait_s.p90"))]))
    typer.echo(f"scenario {sc.name}: {len(reps.seeds)} seeds ({reps.seeds[0]}-{reps.seeds[-1]})")
    if p is not None:
        state = "converged" if reps.converged else f"NOT converged (cap {max_seeds} seeds)"
        typer.echo(f"precision {p:.1%} of the mean on {', '.join(reps.precision_keys)}: {state}")
    typer.echo(_stats_table(reps, [k for k in shown if k in reps.metrics]))
    typer.echo(f"all metrics: {out / 'replications.json'}")


def sweep_command(
    scenario: ScenarioArg = None,
    vary: Annotated[list[str] | None, typer.Option("--vary", help="KEY=V1,V2,... (repeatable; the grid is every combination)")] = None,
    seeds: SeedsOpt = "10",
    metric: MetricOpt = None,
    target: Annotated[list[str] | None, typer.Option("--target", help="draw a target line, e.g. 'wait_s.p90<=2h'")] = None,
    set_: SetOpt = None,
    out: OutOpt = None,
    dask: DaskOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Run a grid of scenario variants over seeds; write sweep.parquet and a comparison report."""
    from clustersim.planning.replications import check_keys, summary_keys
    from clustersim.planning.runs import parse_seeds
    from clustersim.planning.sweep import prepare, sweep, write_sweep
    from clustersim.planning.sweep_report import choose_metrics
    from clustersim.planning.targets import check_targets, parse_target

    with user_errors():
        base, sc = _base(scenario, set_)
        prepare(base, vary or [])
        seed_list = parse_seeds(seeds)
        targets = [parse_target(t) for t in target or []]
        check_targets(targets, sc)
        known, open_classes = summary_keys(sc)
        check_keys(metric or [], known, "--metric", any_class=open_classes)
        out = out or Path("reports") / f"{sc.name}-sweep"
        with _runner(out, dask, workers, f"{sc.name} sweep: runs") as runner:
            result = sweep(base, vary or [], seed_list, runner=runner)
        paths = write_sweep(result, out, metrics=metric or [], targets=targets, title=sc.name)
    keys = choose_metrics(result, metric or [], targets)
    typer.echo(_sweep_table(result, keys))
    typer.echo(f"table: {paths['table']}\nreport: {paths['markdown']} ({paths['html'].name})")


def _sweep_table(result, keys) -> str:
    from clustersim.planning.sweep_report import ci_text, md_table

    header = [a.key for a in result.axes] + [f"{k} (95% CI)" for k in keys]
    rows = []
    for point, reps in zip(result.points, result.replications, strict=True):
        row = [a.raw[i] for a, i in zip(result.axes, point, strict=True)]
        for key in keys:
            mean, ci = ci_text(key, reps.metrics.get(key))
            row.append(f"{mean} [{ci}]")
        rows.append(row)
    return "\n".join(md_table(header, rows, "l" * len(result.axes) + "r" * len(keys)))


def plan_command(
    scenario: ScenarioArg = None,
    target: Annotated[list[str] | None, typer.Option("--target", help="METRIC OP VALUE, e.g. 'wait_s.p90<=2h' (repeatable; all must hold)")] = None,
    search: Annotated[str | None, typer.Option("--search", help="KEY=LO..HI: integers (cluster.nodes=300..800), decimals with a --step (power.cap_mw=2.0..3.2) or durations (supply.orders[0].at=0d..180d)")] = None,
    seeds: SeedsOpt = "10",
    step: Annotated[str | None, typer.Option("--step", help="grid step: an integer for counts (default 1), a number for decimals (required), a duration for times (default 1d)")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="smallest/earliest or largest/latest (default: smallest for counts, latest for durations)")] = None,
    set_: SetOpt = None,
    out: OutOpt = None,
    dask: DaskOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Find the smallest count (or latest date, or largest fleet under a power cap) whose 95% CI
    meets every target, by bisection."""
    from clustersim.planning.plan import evidence_table, plan, prepare, write_plan

    with user_errors():
        base, sc = _base(scenario, set_)
        if not search:
            raise ClusterSimError("give --search KEY=LO..HI, e.g. --search cluster.nodes=300..800")
        base, targets, sr, seed_list = prepare(base, target or [], search, seeds, step=step,
                                               direction=direction)
        out = out or Path("reports") / f"{sc.name}-plan"
        with _runner(out, dask, workers, f"{sc.name} plan: runs") as runner:
            result = plan(base, targets, sr, seed_list, runner=runner)
        paths = write_plan(result, out, title=sc.name)
    lines = [result.headline(), "", result.search.assumption()]
    lines += [f"note: {n}" for n in result.notes]
    typer.echo("\n".join([*lines, "", *evidence_table(result)]))
    typer.echo(f"plan: {paths['json']} and {paths['markdown'].name}")
    if result.answer is None:
        raise typer.Exit(1)


__all__ = ["plan_command", "run_replications", "sweep_command"]
