"""Scheduler configuration: queue policies and placement, discriminated unions on ``kind``
(a bare string is shorthand for ``{kind: ...}``). The union is the list of what a scenario
may name; ``engine.policies`` maps each ``kind`` to its class."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from clustersim.config.base import Frozen, at_field, kind_shorthand
from clustersim.config.distributions import Duration


class FifoConfig(Frozen):
    """First come, first served; the head of the queue blocks every job behind it."""

    kind: Literal["fifo"] = Field(description="strict arrival order")


class SjfConfig(Frozen):
    """Shortest job first (by duration), strict: the shortest waiting job blocks the rest."""

    kind: Literal["sjf"] = Field(description="shortest duration first")


class FactorEstimate(Frozen):
    """Every user asks for ``factor`` x the job's true duration."""

    factor: float = Field(ge=1.0, description="requested time / true duration (>= 1)")


Estimate = Annotated[
    Literal["exact", "column"] | FactorEstimate,
    Field(description="run-time estimates EASY plans with: exact (the true durations), column (each "
          "job's requested time limit from the trace) or {factor: k} (k x the true duration)"),
]


class BackfillConfig(Frozen):
    """EASY backfilling over arrival order (Lifka 1995; Mu'alem & Feitelson 2001): the head holds
    a reservation, later jobs may start if they end by its start or use only its extra nodes.
    With ``estimate`` other than exact, the reservation and the backfill test use each job's
    requested time limit, as real EASY does; ``kill_at_limit`` ends a job at its limit."""

    kind: Literal["backfill"] = Field(description="EASY backfilling")
    depth: int = Field(
        100, ge=1, description="how many queued jobs behind the head a pass may consider"
    )
    estimate: Estimate = "exact"
    kill_at_limit: bool = Field(
        False, description="a job that runs for its requested time limit is killed then (state `killed`); "
        "else it runs on past it (needs an estimate other than exact)"
    )

    @field_validator("estimate", mode="wrap")
    @classmethod
    def _one_message(cls, value, handler):
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(f"expected exact, column or {{factor: k}} with k >= 1, got {value!r}") from None

    @model_validator(mode="after")
    def _limit(self) -> BackfillConfig:
        if self.kill_at_limit and self.estimate == "exact":
            raise at_field("kill_at_limit", "exact estimates are the true durations: no job reaches its limit; "
                           "give estimate: column or {factor: k}")
        return self


Preemption = Annotated[
    Literal["requeue", "suspend"],
    Field(description="what a preempted job keeps: requeue (the work up to its last checkpoint, as every "
          "preemption here) or suspend (all of it: a checkpoint at preemption, as Tiresias does)"),
]


class SrtfConfig(Frozen):
    """Preemptive shortest remaining time first: a queued job that does not fit preempts running
    jobs with more remaining work (they lose the work since their last checkpoint)."""

    kind: Literal["srtf"] = Field(description="preemptive shortest remaining time first")
    preemption: Preemption = "requeue"


class LasConfig(Frozen):
    """Tiresias' discretised 2D least attained service (Gu et al., NSDI '19): len(thresholds) + 1
    priority queues by GPU-time attained, FIFO within a queue, preemptive, with starvation
    promotion."""

    kind: Literal["las"] = Field(description="Tiresias discretised 2D-LAS")
    thresholds: list[Duration] = Field(
        default_factory=lambda: [3600.0],
        description="attained service (GPU-seconds, or GPU-time with a unit: 1h = one GPU-hour) at which a job "
        "moves down to the next queue; K - 1 increasing values for K queues (default: 2 queues)",
    )
    preemption: Preemption = "requeue"
    promote_knob: float | None = Field(
        8.0, description="PROMOTEKNOB: a job in a lower queue whose wait since its last promotion reaches this x "
        "its run since then goes back to the top queue (null: never)"
    )

    @model_validator(mode="after")
    def _increasing(self) -> LasConfig:
        t = self.thresholds
        if not t:
            raise at_field("thresholds", "give at least one threshold (two queues)")
        for i, v in enumerate(t):
            if not v > 0 or (i and v <= t[i - 1]):
                raise at_field(f"thresholds[{i}]", f"thresholds must be > 0 and increasing, got {list(t)}")
        if self.promote_knob is not None and not self.promote_knob > 0:
            raise at_field("promote_knob", "must be > 0 (or null: no promotion)")
        return self


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
    FifoConfig | SjfConfig | BackfillConfig | ConservativeConfig | FairshareConfig | SrtfConfig | LasConfig,
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
        description="queue policy: fifo, sjf, backfill (EASY), conservative, fairshare, srtf or las (or a mapping with kind and options)",
    )
    placement: PlacementConfig = Field(
        default_factory=lambda: PackConfig(kind="pack"),
        description="where single-node jobs go: pack or spread",
    )


PREEMPTIVE = ("srtf", "las")


def check_scheduler(sc) -> None:
    """Checks of ``sc.scheduler`` against the rest of a Scenario (raise at_field ValueErrors):
    the preemptive policies evict any running job ranked below a waiting one, which cannot
    respect team quotas (reclaim decides who gives GPUs back), and place on one pool of nodes."""
    kind = sc.scheduler.policy.kind
    if kind in PREEMPTIVE:
        if sc.tenancy is not None and sc.tenancy.teams:
            raise at_field("scheduler.policy", f"{kind} preempts across teams, which quotas forbid: "
                           "use it without tenancy teams (priority classes alone are fine)")
        if sc.supply is not None:
            raise at_field("scheduler.policy", f"{kind} preempts on one fleet of one GPU type: "
                           "not supported with a supply section")
    p = sc.scheduler.policy
    if kind != "backfill" or p.estimate == "exact":
        return
    if p.estimate == "column" and sc.workload.trace is None:
        raise at_field("scheduler.policy.estimate", "column reads each job's requested time from a trace: "
                       "the workload has no trace (use {factor: k})")
    if sc.supply is not None or sc.cluster.topology is not None:
        raise at_field("scheduler.policy.estimate", "estimates plan on one fleet without a topology: "
                       "not supported with a supply section or cluster.topology (use exact)")
