"""Sweeps: a grid of scenario variants, each replicated over the same seeds.

``--vary cluster.nodes=300,400,500 --vary scheduler.policy=fifo,backfill`` makes the grid of
every combination (6 points); each point runs once per seed (the same seeds everywhere, so
points differ by their parameters, not by luck: common random numbers). Keys use the
``--set`` override syntax and values are YAML scalars (``300``, ``2h``, ``fifo``); a value
holding a comma goes in brackets or braces (``{kind: exponential, mean: 2h}``).

Outputs (``write_sweep``)::

    sweep.parquet           one row per (point, seed): varied keys, seed, every metric
    sweep_summary.parquet   one row per (point, metric): n, mean, std, half_width, lo, hi
    sweep_summary.json      the same, nested by point
    sweep.md, sweep.html    comparison report with figures/*.png (see clustersim.planning.sweep_report)
    runs/                   one JSON per finished run: a rerun computes only what is missing
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustersim.errors import ClusterSimError
from clustersim.planning.replications import CONFIDENCE, Replications, flatten


@dataclass(frozen=True)
class Axis:
    """One varied key and its values (as written, and parsed as YAML scalars)."""

    key: str
    raw: tuple[str, ...]
    values: tuple[Any, ...]

    def column(self) -> list[Any]:
        """The values with one type for a table column (mixed types become text)."""
        vals = list(self.values)
        if all(isinstance(v, bool) for v in vals):
            return vals
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return vals
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            return [float(v) for v in vals]
        return [str(r) for r in self.raw]


def split_values(text: str) -> list[str]:
    """Split on commas that are not inside brackets, braces or quotes."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _scalar(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def parse_vary(vary: Sequence[str] | Mapping[str, Sequence[Any]]) -> list[Axis]:
    """``["cluster.nodes=300,400"]`` (or ``{"cluster.nodes": [300, 400]}``) -> axes."""
    if isinstance(vary, Mapping):
        pairs = [(k, [v if isinstance(v, str) else json.dumps(v) for v in vs])
                 for k, vs in vary.items()]
    else:
        pairs = []
        for text in vary:
            key, eq, values = text.partition("=")
            if not eq or not key.strip():
                raise ClusterSimError(f"--vary {text!r}: expected KEY=V1,V2,... (e.g. cluster.nodes=300,400)")
            pairs.append((key.strip(), split_values(values)))
    if not pairs:
        raise ClusterSimError("give at least one --vary KEY=V1,V2,...")
    axes, seen = [], set()
    for key, raws in pairs:
        if key in seen:
            raise ClusterSimError(f"--vary {key}: given twice; list all its values in one --vary")
        seen.add(key)
        if not raws or any(r == "" for r in raws):
            raise ClusterSimError(f"--vary {key}={','.join(raws)}: empty value in the list")
        if len(set(raws)) != len(raws):
            raise ClusterSimError(f"--vary {key}: a value is repeated")
        axes.append(Axis(key, tuple(raws), tuple(_scalar(r) for r in raws)))
    return axes


@dataclass
class SweepResult:
    axes: list[Axis]
    seeds: list[int]
    points: list[tuple[int, ...]]  # per point: the index of its value on each axis
    replications: list[Replications]
    confidence: float = CONFIDENCE

    def point_values(self, point: tuple[int, ...]) -> dict[str, Any]:
        return {a.key: a.column()[i] for a, i in zip(self.axes, point, strict=True)}

    def metric_keys(self) -> list[str]:
        return list(dict.fromkeys(k for r in self.replications for k in r.metrics))

    def table(self):
        """One row per (point, seed): varied keys, ``seed``, then every metric."""
        import pandas as pd

        keys = self.metric_keys()
        rows = []
        for point, reps in zip(self.points, self.replications, strict=True):
            values = self.point_values(point)
            for seed, summary in zip(reps.seeds, reps.summaries, strict=True):
                flat = flatten(summary)
                rows.append({**values, "seed": seed, **{k: flat.get(k) for k in keys}})
        columns = [a.key for a in self.axes] + ["seed"] + keys
        frame = pd.DataFrame(rows, columns=columns)
        for key in keys:  # a metric undefined in some runs is a float column with NaN
            if frame[key].dtype == object:
                frame[key] = pd.to_numeric(frame[key], errors="coerce").astype(float)
        return frame

    def summary_table(self):
        """One row per (point, metric): n, mean, std, half_width, lo, hi."""
        import pandas as pd

        rows = []
        for point, reps in zip(self.points, self.replications, strict=True):
            values = self.point_values(point)
            for key, stats in reps.metrics.items():
                rows.append({**values, "metric": key, **stats.to_dict()})
        columns = [a.key for a in self.axes] + ["metric", "n", "mean", "std", "half_width", "lo", "hi"]
        frame = pd.DataFrame(rows, columns=columns)
        for col in ("mean", "std", "half_width", "lo", "hi"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        return frame

    def to_dict(self) -> dict:
        return {
            "axes": [{"key": a.key, "values": a.column()} for a in self.axes],
            "seeds": self.seeds,
            "confidence": self.confidence,
            "points": [
                {"point": self.point_values(p), "metrics": {k: m.to_dict() for k, m in r.metrics.items()}}
                for p, r in zip(self.points, self.replications, strict=True)
            ],
        }


def prepare(scenario, vary, overrides: Sequence[str] = ()):
    """Parse ``vary`` and validate every grid point before any run. Returns the scenario
    input, the axes and ``[(point, overrides)]`` (point = value index on each axis)."""
    from clustersim.planning.runs import ScenarioInput

    base = ScenarioInput.coerce(scenario)
    base = dataclasses.replace(base, overrides=base.overrides + tuple(overrides))
    base.check((), "--set")
    axes = parse_vary(vary)
    grid = []
    for point in itertools.product(*(range(len(a.raw)) for a in axes)):
        extra = [f"{a.key}={a.raw[i]}" for a, i in zip(axes, point, strict=True)]
        base.check(extra, "--vary")
        grid.append((point, extra))
    return base, axes, grid


def sweep(scenario, vary, seeds: Sequence[int], *, overrides: Sequence[str] = (), runner=None,
          workers: int | None = None, confidence: float = CONFIDENCE) -> SweepResult:
    """Run every grid point of ``vary`` once per seed; every point is validated first."""
    from clustersim.planning.executor import LocalExecutor
    from clustersim.planning.runs import Runner

    base, axes, grid = prepare(scenario, vary, overrides)
    seeds = list(seeds)
    points = [point for point, _ in grid]
    specs = [spec for _, extra in grid for spec in base.specs(extra, seeds)]
    own = runner is None
    runner = runner or Runner(LocalExecutor(workers))
    try:
        summaries = runner.summaries(specs)
    finally:
        if own:
            runner.executor.close()
    n = len(seeds)
    reps = [Replications.of(seeds, summaries[i * n:(i + 1) * n], confidence) for i in range(len(points))]
    return SweepResult(axes, seeds, points, reps, confidence)


def write_sweep(result: SweepResult, out: str | Path, *, metrics: Sequence[str] = (),
                targets: Sequence[Any] = (), title: str | None = None) -> dict[str, Path]:
    """Write the tables, the JSON summary and the comparison report into ``out``."""
    from clustersim.planning.sweep_report import write_report
    from clustersim.results.rundir import write_frame, write_json

    out = Path(out)
    paths = {
        "table": out / "sweep.parquet",
        "summary": out / "sweep_summary.parquet",
        "summary_json": out / "sweep_summary.json",
    }
    try:
        write_frame(paths["table"], result.table())
        write_frame(paths["summary"], result.summary_table())
        write_json(paths["summary_json"], result.to_dict())
    except OSError as err:
        raise ClusterSimError(f"{out}: cannot write sweep results ({err.strerror})") from None
    paths.update(write_report(result, out, metrics=metrics, targets=targets, title=title))
    return paths


__all__ = ["Axis", "SweepResult", "parse_vary", "split_values", "sweep", "write_sweep"]
