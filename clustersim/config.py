"""The scenario: a frozen pydantic tree, loaded from YAML with ``--set`` overrides.

This is the only module that reads YAML. ``load_scenario(path, overrides)`` reads the file,
applies ``dotted.key=value`` overrides (list items by index: ``workload.classes[0].duration``),
resolves relative file paths against the scenario's folder, validates, and turns every
validation problem into one line naming the file and the field.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clustersim.distributions import Distribution, Duration, Exponential
from clustersim.errors import ScenarioError


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _resolve_path(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return value
    base = (info.context or {}).get("base_dir")
    path = Path(value)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return path


# ---------------------------------------------------------------------------------------------
# cluster


class ClusterConfig(Frozen):
    """The fleet at time zero."""

    nodes: int = Field(500, ge=1, description="number of nodes in service at time zero")
    gpus_per_node: int = Field(8, ge=1, le=64, description="GPUs in each node")

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node


# ---------------------------------------------------------------------------------------------
# scheduler: policies are a discriminated union on `kind`; a bare string is shorthand.


def _kind_shorthand(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class FifoConfig(Frozen):
    """First come, first served; the head of the queue blocks every job behind it."""

    kind: Literal["fifo"] = Field(description="strict arrival order")

    def build(self):
        from clustersim.policies import Fifo

        return Fifo()


class SjfConfig(Frozen):
    """Shortest job first (by duration), strict: the shortest waiting job blocks the rest."""

    kind: Literal["sjf"] = Field(description="shortest duration first")

    def build(self):
        from clustersim.policies import ShortestFirst

        return ShortestFirst()


class BackfillConfig(Frozen):
    """EASY backfilling over arrival order: the head holds a reservation, others may jump it."""

    kind: Literal["backfill"] = Field(description="EASY backfilling")
    depth: int = Field(
        100, ge=1, description="how many queued jobs behind the head a pass may consider"
    )

    def build(self):
        from clustersim.policies import EasyBackfill

        return EasyBackfill(depth=self.depth)


PolicyConfig = Annotated[
    FifoConfig | SjfConfig | BackfillConfig,
    BeforeValidator(_kind_shorthand),
    Field(discriminator="kind"),
]


class PackConfig(Frozen):
    """Put small jobs on the fullest node that fits them (less fragmentation)."""

    kind: Literal["pack"] = Field(description="best fit: fill partly used nodes first")

    def build(self):
        from clustersim.policies import Pack

        return Pack()


class SpreadConfig(Frozen):
    """Put small jobs on the emptiest node (worst fit)."""

    kind: Literal["spread"] = Field(description="worst fit: emptiest node first")

    def build(self):
        from clustersim.policies import Spread

        return Spread()


PlacementConfig = Annotated[
    PackConfig | SpreadConfig,
    BeforeValidator(_kind_shorthand),
    Field(discriminator="kind"),
]


class SchedulerConfig(Frozen):
    policy: PolicyConfig = Field(
        default_factory=lambda: BackfillConfig(kind="backfill"),
        description="queue policy: fifo, sjf or backfill (or a mapping with kind and options)",
    )
    placement: PlacementConfig = Field(
        default_factory=lambda: PackConfig(kind="pack"),
        description="where single-node jobs go: pack or spread",
    )


# ---------------------------------------------------------------------------------------------
# failures (calibration.md sections 1 and 7a-7c)


class CheckpointConfig(Frozen):
    """How a job saves and restores its progress (calibration 7b, 7c)."""

    interval: Duration | Literal["young"] = Field(
        "young",
        description="work between checkpoints, or `young` for sqrt(2 * cost * job MTTF) clamped to [5 min, 3 h]",
    )
    cost: Duration = Field(30.0, description="blocking time per checkpoint (default 30 s, async two-level)")
    restart: Duration = Field(600.0, description="reload and warm-up at every restart (default 10 min)")

    @field_validator("interval")
    @classmethod
    def _positive_interval(cls, value):
        if value != "young" and value <= 0:
            raise ValueError("interval must be > 0 (or `young`)")
        return value


class ExponentialLife(Frozen):
    """Constant hazard: failures of a node form a Poisson process."""

    kind: Literal["exponential"] = Field(description="memoryless time between failures")


class WeibullLife(Frozen):
    """Weibull time between failures with the same mean as the rate gives (renewal at repair)."""

    kind: Literal["weibull"] = Field(description="Weibull time between failures")
    shape: float = Field(gt=0, description="shape k (< 1: infant mortality, 1: exponential, > 1: wear-out)")


LifeConfig = Annotated[ExponentialLife | WeibullLife, BeforeValidator(_kind_shorthand), Field(discriminator="kind")]


class RepairClass(Frozen):
    """A kind of repair, its share of node failures and how long it takes."""

    name: str = Field(min_length=1, description="repair class name")
    share: float = Field(ge=0, le=1, description="fraction of node failures repaired this way")
    time: Distribution = Field(description="time to repair once the failure is detected")


def _default_repairs() -> list[RepairClass]:
    # calibration 7b: soft reset 50% (median 1 h, p90 4 h), part swap 40% (24 h, 3 d), vendor 10% (10 d, 21 d)
    return [
        RepairClass(name="soft", share=0.5, time={"kind": "lognormal", "median": "1h", "p90": "4h"}),
        RepairClass(name="swap", share=0.4, time={"kind": "lognormal", "median": "24h", "p90": "3d"}),
        RepairClass(name="vendor", share=0.1, time={"kind": "lognormal", "median": "10d", "p90": "21d"}),
    ]


class EarlyLifeConfig(Frozen):
    """Higher hazard for nodes in their first weeks of service (calibration 7a: x3 for 30 days)."""

    multiplier: float = Field(ge=1, description="hazard multiplier while young")
    period: Duration = Field(description="how long after entering service")


class LemonConfig(Frozen):
    """A few nodes fail far more often; any node is pulled after repeated failures (7a: 1%, x10, 3)."""

    fraction: float = Field(ge=0, le=1, description="fraction of nodes that are lemons")
    multiplier: float = Field(ge=1, description="hazard multiplier of a lemon")
    pull_after: int = Field(ge=1, description="a node is retired at this many failures")


class FailuresConfig(Frozen):
    """Node failures, detection, repair, spares and checkpoint-restart."""

    rate_per_1000_node_days: float = Field(
        5.0, ge=0, description="node failures per 1,000 node-days in service (calibration 7a: 5)"
    )
    life: LifeConfig = Field(
        default_factory=lambda: ExponentialLife(kind="exponential"),
        description="distribution of time between a node's failures: exponential or {kind: weibull, shape}",
    )
    job_rate_per_1000_node_days: float = Field(
        0.9,
        ge=0,
        description="job-level interruptions not tied to a node (software, hangs), per 1,000 node-days "
        "a job runs (calibration 7a: 0.18 x the node rate)",
    )
    causes: dict[str, float] = Field(
        default_factory=lambda: {"gpu": 0.632, "network": 0.172, "host": 0.081, "maintenance": 0.092, "unknown": 0.023},
        description="cause mix of node failures, sums to 1 (calibration 7a without the software share, "
        "which is the job-level rate)",
    )
    repair: list[RepairClass] = Field(default_factory=_default_repairs, description="repair classes; shares sum to 1")
    detection: Distribution = Field(
        default_factory=lambda: Exponential(kind="exponential", mean=180.0),
        description="time from a failure until it is noticed; the job makes no progress meanwhile (7b: mean 3 min)",
    )
    spare_nodes: int = Field(0, ge=0, description="hot spares held back from scheduling (7b suggests 3%)")
    checkpoint: CheckpointConfig = Field(
        default_factory=CheckpointConfig, description="checkpointing of classes without their own"
    )
    requeue: Literal["original", "front"] = Field(
        "original", description="where an interrupted job waits: its original place, or the front"
    )
    early_life: EarlyLifeConfig | None = Field(None, description="off unless given")
    lemons: LemonConfig | None = Field(None, description="off unless given")

    @field_validator("causes")
    @classmethod
    def _causes_sum(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("give at least one cause")
        bad = {k: v for k, v in value.items() if not (v >= 0)}
        if bad:
            raise ValueError(f"shares must be >= 0, got {bad}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"cause shares must sum to 1, got {total:g}")
        return value

    @field_validator("repair")
    @classmethod
    def _repair_sum(cls, value: list[RepairClass]) -> list[RepairClass]:
        if not value:
            raise ValueError("give at least one repair class")
        total = sum(r.share for r in value)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"repair shares must sum to 1, got {total:g}")
        return value


# ---------------------------------------------------------------------------------------------
# workload


def _gpus_shorthand(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {value: 1.0}
    return value


class JobClass(Frozen):
    """A stream of jobs: Poisson arrivals, a GPU-count distribution, a duration distribution."""

    name: str = Field(min_length=1, description="class name, used in reports")
    arrival_rate_per_h: float = Field(ge=0, description="mean arrivals per hour (Poisson)")
    gpus: Annotated[dict[int, float], BeforeValidator(_gpus_shorthand)] = Field(
        description="a GPU count, or a map from GPU count to probability (sums to 1)"
    )
    duration: Distribution = Field(
        description="run time at full speed: a duration, or {kind: exponential|lognormal|empirical, ...}"
    )
    checkpoint: CheckpointConfig | None = Field(
        None, description="checkpointing of this class (default: failures.checkpoint); used only with failures"
    )

    @field_validator("gpus")
    @classmethod
    def _gpus_valid(cls, value: dict[int, float]) -> dict[int, float]:
        if not value:
            raise ValueError("expected at least one GPU count")
        for count, prob in value.items():
            if count < 1:
                raise ValueError(f"GPU counts must be >= 1, got {count}")
            if not (prob >= 0) or math.isinf(prob):
                raise ValueError(f"probabilities must be >= 0, got {prob} for {count} GPUs")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, got {total:g}")
        return dict(sorted(value.items()))

    @property
    def mean_gpus(self) -> float:
        return sum(c * p for c, p in self.gpus.items())


TraceFormat = Literal["native", "auto", "itp", "alibaba2023", "pai2020", "philly", "helios", "acme", "swf"]


class WorkloadConfig(Frozen):
    """Either synthetic ``classes`` or a ``trace`` file; exactly one of the two."""

    classes: list[JobClass] | None = Field(None, description="synthetic job classes")
    trace: Annotated[Path | None, BeforeValidator(_resolve_path)] = Field(
        None, description="path to a trace file, relative to the scenario file"
    )
    format: TraceFormat = Field("native", description="trace format (see `clustersim replay`)")

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadConfig:
        if (self.classes is None) == (self.trace is None):
            raise ValueError("give exactly one of `classes` or `trace`")
        if self.classes is not None:
            if not self.classes:
                raise ValueError("`classes` is empty: give at least one job class")
            names = [c.name for c in self.classes]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"class names must be unique, repeated: {', '.join(dupes)}")
        return self


# ---------------------------------------------------------------------------------------------
# scenario


class Scenario(Frozen):
    """A complete, reproducible description of one simulated cluster and its workload."""

    name: str = Field(min_length=1, description="scenario name; default output folder")
    horizon: Duration = Field(description="how long to simulate")
    warmup: Duration = Field(
        0.0, description="jobs submitted before this are left out of waits; utilisation counts from here"
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="the fleet")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="scheduling")
    workload: WorkloadConfig = Field(description="what jobs arrive")
    failures: FailuresConfig | None = Field(None, description="node failures and repair; off when absent")

    @model_validator(mode="after")
    def _times(self) -> Scenario:
        if self.horizon <= 0:
            raise ValueError("horizon must be > 0")
        if self.warmup >= self.horizon:
            raise ValueError(f"warmup ({self.warmup:g} s) must be shorter than horizon ({self.horizon:g} s)")
        if self.failures is not None and self.failures.spare_nodes >= self.cluster.nodes:
            raise ValueError(
                f"failures.spare_nodes ({self.failures.spare_nodes}) must be smaller than "
                f"cluster.nodes ({self.cluster.nodes})"
            )
        return self


# ---------------------------------------------------------------------------------------------
# loading


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    key = key.strip()
    while pos < len(key):
        if key[pos] == "." and parts:
            pos += 1
        m = _TOKEN.match(key, pos)
        if m is None:
            raise ValueError(f"cannot parse key {key!r} at position {pos}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise ValueError("empty key")
    return parts


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``a.b[0].c=value`` to a nested dict in place; the value is parsed as YAML."""
    import yaml

    if "=" not in assignment:
        raise ValueError(f"expected key=value, got {assignment!r}")
    key, _, raw = assignment.partition("=")
    parts = _split_key(key)
    value = yaml.safe_load(raw) if raw.strip() else ""
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ValueError(f"{key}: no list item [{part}] here")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part!r} is not inside a mapping")
            if node.get(part) is None:
                if isinstance(nxt, int):
                    raise ValueError(f"{key}: {part!r} is not a list")
                node[part] = {}
            elif isinstance(node[part], str) and not isinstance(nxt, int):
                node[part] = {"kind": node[part]}  # expand shorthand like `policy: fifo`
            node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ValueError(f"{key}: no list item [{last}] here")
        node[last] = value
    else:
        if not isinstance(node, dict):
            raise ValueError(f"{key}: {last!r} is not inside a mapping")
        node[last] = value


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("fixed", "exponential", "lognormal", "empirical", "fifo", "sjf", "backfill", "pack", "spread"):
            continue  # pydantic's union tag, not a field the user wrote
        elif part.startswith("function-") or part in ("str", "int", "float"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def render_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for item in err.errors():
        where = _loc(item["loc"])
        msg = item["msg"]
        msg = msg.removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (not part of the scenario format; see `clustersim schema`)"
        elif item["type"] == "missing":
            msg = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            ctx = item.get("ctx", {})
            msg = f"unknown kind {ctx.get('tag')!r}; expected one of: {ctx.get('expected_tags')}"
        given = item.get("input")
        if (
            item["type"] not in ("missing", "extra_forbidden", "union_tag_invalid")
            and "got" not in msg
            and not isinstance(given, dict | list)
        ):
            msg += f" (got {given!r})"
        problems.append(f"{where}: {msg}")
    return problems


def scenario_from_dict(data: Any, *, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a plain mapping into a Scenario, raising ScenarioError with one line per field."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"(top level): expected a mapping of keys, got {type(data).__name__}"])
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        raise ScenarioError(source, render_validation_error(err)) from None


def read_scenario_dict(path: str | Path) -> dict:
    """Read a scenario YAML file into a plain dict (no validation)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), ["file not found"]) from None
    except OSError as err:
        raise ScenarioError(str(path), [f"cannot read: {err.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(str(path), [f"{where}: not valid YAML ({problem})"]) from None
    if data is None:
        raise ScenarioError(str(path), ["(top level): the file is empty"])
    return data


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override, resolve and validate a scenario file."""
    path = Path(path)
    data = read_scenario_dict(path)
    return scenario_with_overrides(data, overrides, source=str(path), base_dir=path.parent)


def scenario_with_overrides(
    data: dict, overrides: list[str] | tuple[str, ...] = (), *, source: str, base_dir: Path | None
) -> Scenario:
    import copy

    data = copy.deepcopy(data)
    problems = []
    for assignment in overrides:
        try:
            apply_override(data, assignment)
        except ValueError as err:
            problems.append(f"--set {err}")
    if problems:
        raise ScenarioError(source, problems)
    return scenario_from_dict(data, source=source, base_dir=base_dir)


def scenario_json_schema() -> dict:
    return Scenario.model_json_schema()
