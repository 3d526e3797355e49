"""``clustersim validate`` and ``clustersim schema``: the scenario format, checked and described."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clustersim.cli.common import SetOption, user_errors


def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file (and overrides), and its trace if it names one, without running it."""
    from clustersim.config import load_scenario
    from clustersim.units import format_duration

    with user_errors():
        sc = load_scenario(scenario, set_ or [])
        if sc.workload.classes is not None:
            from clustersim.workload import check_workload

            check_workload(sc, str(scenario))
        if sc.workload.trace is not None:  # read the whole trace: a bad row fails here, not in `run`
            from clustersim.workload import load_any

            trace_jobs = len(load_any(sc.workload.trace, sc.workload.format, strict=True).jobs)
    c = sc.cluster
    typer.echo(
        f"ok: {scenario}: '{sc.name}', {c.nodes} nodes x {c.gpus_per_node} GPUs = {c.gpus:,} GPUs, "
        f"{format_duration(sc.horizon)}, policy {sc.scheduler.policy.kind}"
    )
    if sc.workload.trace is not None:
        typer.echo(f"trace {sc.workload.trace}: {trace_jobs:,} jobs, every row usable")


def schema() -> None:
    """Print the JSON Schema of the scenario format (every field, with its description)."""
    from clustersim.config import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))
