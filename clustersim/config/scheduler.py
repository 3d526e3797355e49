"""Scheduler configuration: queue policies and placement, discriminated unions on ``kind``
(a bare string is shorthand for ``{kind: ...}``). The union is the list of what a scenario
may name; ``engine.policies`` maps each ``kind`` to its class."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from clustersim.config.base import Frozen, at_field, kind_shorthand
from clustersim.config.distributions import Duration


class FifoConfig(Frozen):
    """First come, first served; the head of the queue blocks every job behind it."""

    kind: Literal["fifo"] = Field(description="strict arrival order")


class SjfConfig(Frozen):
    """Shortest job first (by duration), strict: the shortest waiting job blocks the rest."""

    kind: Literal["sjf"] = Field(description="shortest duration first")


class BackfillConfig(Frozen):
    """EASY backfilling over arrival order (Lifka 1995; Mu'alem & Feitelson 2001): the head holds
    a reservation, later jobs may start if they end by its start or use only its extra nodes."""

    kind: Literal["backfill"] = Field(description="EASY backfilling")
    depth: int = Field(
        100, ge=1, description="how many queued jobs behind the head a pass may consider"
    )


class ConservativeConfig(Frozen):
    """Conservative backfilling: every queued job holds a reservation; a job starts early only
    if it delays none of the jobs ahead of it."""

    kind: Literal["conservative"] = Field(description="conservative backfilling")
    depth: int = Field(
        100, ge=1, description="how many queued jobs behind the head hold a reservation"
    )


class FairshareWeights(Frozen):
    """Weights of Slurm's multifactor priority (PriorityWeightAge, ...Fairshare, ...JobSize): each
    factor is in [0, 1] and a job's priority is the weighted sum. Slurm's own defaults are 0;
    these are chosen so that fair share dominates and age breaks ties over days."""

    age: float = Field(1000.0, ge=0, description="weight of the age factor (time waited / max_age, at most 1)")
    fairshare: float = Field(10000.0, ge=0, description="weight of the fair-share factor 2^(-usage/shares)")
    size: float = Field(0.0, ge=0, description="weight of the job-size factor (GPUs / cluster GPUs)")


class FairshareConfig(Frozen):
    """Slurm's multifactor priority with fair share (classic algorithm, one level of accounts =
    teams), recomputed every ``recalc``; jobs run in priority order, with EASY backfill."""

    kind: Literal["fairshare"] = Field(description="multifactor priority: age, fair share, job size")
    half_life: Duration = Field(
        7 * 86400.0, description="half-life of past usage (Slurm PriorityDecayHalfLife, default 7 days)"
    )
    max_age: Duration = Field(
        7 * 86400.0, description="waiting time at which the age factor reaches 1 (Slurm PriorityMaxAge, default 7 days)"
    )
    recalc: Duration = Field(
        300.0, description="how often usage is decayed and priorities recomputed (Slurm PriorityCalcPeriod, 5 min)"
    )
    weights: FairshareWeights = Field(default_factory=FairshareWeights, description="weights of the factors")
    favor_small: bool = Field(False, description="smaller jobs get the larger size factor (Slurm PriorityFavorSmall)")
    backfill: bool = Field(True, description="EASY backfill over the priority order (else strict priority order)")
    depth: int = Field(100, ge=1, description="how many queued jobs behind the head a backfill pass may consider")

    @model_validator(mode="after")
    def _positive(self) -> FairshareConfig:
        for name in ("half_life", "max_age", "recalc"):
            if not getattr(self, name) > 0:
                raise at_field(name, "must be > 0")
        return self


PolicyConfig = Annotated[
    FifoConfig | SjfConfig | BackfillConfig | ConservativeConfig | FairshareConfig,
    BeforeValidator(kind_shorthand),
    Field(discriminator="kind"),
]


class PackConfig(Frozen):
    """Put small jobs on the fullest node that fits them (less fragmentation)."""

    kind: Literal["pack"] = Field(description="best fit: fill partly used nodes first")


class SpreadConfig(Frozen):
    """Put small jobs on the emptiest node (worst fit)."""

    kind: Literal["spread"] = Field(description="worst fit: emptiest node first")


PlacementConfig = Annotated[
    PackConfig | SpreadConfig,
    BeforeValidator(kind_shorthand),
    Field(discriminator="kind"),
]


class SchedulerConfig(Frozen):
    policy: PolicyConfig = Field(
        default_factory=lambda: BackfillConfig(kind="backfill"),
        description="queue policy: fifo, sjf, backfill (EASY), conservative or fairshare (or a mapping with kind and options)",
    )
    placement: PlacementConfig = Field(
        default_factory=lambda: PackConfig(kind="pack"),
        description="where single-node jobs go: pack or spread",
    )
