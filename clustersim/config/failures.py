"""Failure configuration (calibration.md sections 1 and 7a-7c): node and job-level hazards,
detection, repair classes, spares and checkpointing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from clustersim.config.base import Frozen, kind_shorthand
from clustersim.config.distributions import Distribution, Duration, Exponential, Lognormal


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
    shape: float = Field(
        ge=0.1, le=100, description="shape k, 0.1 to 100 (< 1: infant mortality, 1: exponential, > 1: wear-out)"
    )


LifeConfig = Annotated[ExponentialLife | WeibullLife, BeforeValidator(kind_shorthand), Field(discriminator="kind")]


class RepairClass(Frozen):
    """A kind of repair, its share of node failures and how long it takes."""

    name: str = Field(min_length=1, description="repair class name")
    share: float = Field(ge=0, le=1, description="fraction of node failures repaired this way")
    time: Distribution = Field(description="time to repair once the failure is detected")


def repair_shares(value: list[RepairClass]) -> list[RepairClass]:
    """Check a list of repair classes: at least one, shares summing to 1."""
    if not value:
        raise ValueError("give at least one repair class")
    total = sum(r.share for r in value)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"repair shares must sum to 1, got {total:g}")
    return value


def _default_repairs() -> list[RepairClass]:
    # calibration 7b: soft reset 50% (median 1 h, p90 4 h), part swap 40% (24 h, 3 d), vendor 10% (10 d, 21 d)
    return [
        RepairClass(name="soft", share=0.5, time={"kind": "lognormal", "median": "1h", "p90": "4h"}),
        RepairClass(name="swap", share=0.4, time={"kind": "lognormal", "median": "24h", "p90": "3d"}),
        RepairClass(name="vendor", share=0.1, time={"kind": "lognormal", "median": "10d", "p90": "21d"}),
    ]


class EarlyLifeConfig(Frozen):
    """Higher hazard for nodes in their first weeks of service (calibration 7a: x3 for 30 days)."""

    multiplier: float = Field(ge=1, le=1000, description="hazard multiplier while young (1 to 1,000)")
    period: Duration = Field(description="how long after entering service")


class LemonConfig(Frozen):
    """A few nodes fail far more often; any node is pulled after repeated failures (7a: 1%, x10, 3)."""

    fraction: float = Field(ge=0, le=1, description="fraction of nodes that are lemons")
    multiplier: float = Field(ge=1, le=1000, description="hazard multiplier of a lemon (1 to 1,000)")
    pull_after: int = Field(ge=1, description="a node is retired at this many failures")


class DomainFailureConfig(Frozen):
    """Correlated failures of whole domains (a rack's power, a leaf switch): each domain of a
    topology level fails at its own rate and takes every node in it down until repaired."""

    name: str = Field(min_length=1, max_length=40, description="cause recorded for the event (e.g. rack_power, leaf_switch)")
    level: str = Field(min_length=1, description="topology level whose domains fail (cluster.topology.levels[].name)")
    rate_per_1000_domain_days: float = Field(ge=0, le=1_000_000, description="events per 1,000 domain-days while the domain is up")
    repair: Distribution = Field(description="time from the event until every node of the domain is back")


class FailSlowConfig(Frozen):
    """Fail-slow nodes (stragglers, calibration 7a after FALCON, arXiv 2410.12588): a node in
    service turns slow at a rate and runs at ``factor`` of its speed for an episode; a gang runs
    at the speed of its slowest node. Optionally a monitor detects a slow node and swaps it out:
    its jobs restart from their last checkpoint like after a failure and the node goes to repair."""

    rate_per_1000_node_days: float = Field(
        ge=0, le=1_000_000, description="slow episodes per 1,000 node-days in service (no default: say it)"
    )
    factor: float = Field(
        0.8, gt=0, le=1, description="speed of a slow node, as a fraction (calibration 7a: 10-30% slowdown)"
    )
    duration: Distribution = Field(
        default_factory=lambda: Lognormal(kind="lognormal", median=1800.0, p90=3 * 3600.0),
        description="how long an episode lasts if nothing is done (7a: median 30 min, up to ~10 h)",
    )
    detection: Distribution | None = Field(
        None, description="time from the start of an episode until the node is swapped out (off unless given)"
    )
    repair: Distribution = Field(
        default_factory=lambda: Lognormal(kind="lognormal", median=3600.0, p90=4 * 3600.0),
        description="time a swapped-out node is in repair (default: the soft-reset class, median 1 h, p90 4 h)",
    )


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
        "a job runs, counted in node-equivalents (a 1-GPU job on an 8-GPU node: 1/8) "
        "(calibration 7a: 0.18 x the node rate)",
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
    slow: FailSlowConfig | None = Field(None, description="fail-slow nodes (stragglers); off unless given")
    domains: list[DomainFailureConfig] = Field(
        default_factory=list,
        description="correlated failures of topology domains (needs cluster.topology); none unless given",
    )

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
        return repair_shares(value)


