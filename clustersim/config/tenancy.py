"""Tenancy: teams with guaranteed quotas, borrowing and reclaim, and job priorities.

A team (a Kueue cluster queue, a Slurm account) owns a guaranteed ``quota`` of GPUs (a count,
or a share of the training GPUs at time zero such as ``60%``), may borrow idle GPUs beyond it
up to ``borrowing_limit`` more, and has a fair-share ``weight``. Jobs map to teams by trace
``user`` first, then by job class, then ``default_team``. Without ``teams`` (only
``priority``), every job is in one implicit team that owns the whole cluster: no quota, no
borrowing, no reclaim.

Priorities: a trace's ``priority`` column (native format) where a job has one, else
``priority.classes`` (job class -> integer, higher first), else ``priority.default``. A waiting job may preempt running jobs of lower priority whose class is
preemptible (``workload.classes[].preemptible``; trace jobs with
``inference.trace_preemptible``), the same rule and victim order as inference replicas use.

What the engine does with them is described in ``clustersim.engine.tenancy``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from clustersim.config.base import Frozen, at_field
from clustersim.config.distributions import Duration

_SHARE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


def _gpus_or_share(value: Any) -> Any:
    """A GPU count (whole number >= 0) or a share of the cluster's training GPUs (``"60%"``)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a GPU count (2400) or a share of the cluster (60%), got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be >= 0 GPUs, got {value}")
        return value
    if isinstance(value, float):
        raise ValueError(f"expected a whole number of GPUs or a share such as 60%, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"must be >= 0, got {value!r}")
        m = _SHARE.match(text)
        if m is None:
            raise ValueError(f"expected a GPU count (2400) or a share of the cluster (60%), got {value!r}")
        share = float(m.group(1))
        if not math.isfinite(share) or share > 100:
            raise ValueError(f"a share is at most 100%, got {value!r}")
        return f"{m.group(1)}%"
    raise ValueError(f"expected a GPU count (2400) or a share of the cluster (60%), got {value!r}")


GpusOrShare = Annotated[
    int | str,
    BeforeValidator(_gpus_or_share),
    Field(description="GPUs (a whole number) or a share of the training GPUs at time zero (60%)"),
]


def resolve_gpus(value: int | str, total: int) -> int:
    """GPUs of a count or a share (rounded to the nearest GPU) of ``total``."""
    if isinstance(value, int):
        return value
    return int(round(float(value.rstrip("%")) / 100.0 * total))


class TeamConfig(Frozen):
    """One team: its guaranteed quota, how much it may borrow, its fair-share weight, its jobs."""

    name: str = Field(min_length=1, description="team name, used in reports")
    quota: GpusOrShare = Field(
        description="GPUs guaranteed to the team: a count, or a share of the training GPUs at time zero (60%)"
    )
    borrowing_limit: GpusOrShare | None = Field(
        None,
        description="most GPUs the team may use beyond its quota (idle quota of others); none: no limit; 0: no borrowing",
    )
    weight: float = Field(1.0, gt=0, description="fair-share weight (shares) for the fairshare policy")
    classes: list[str] = Field(default_factory=list, description="job classes whose jobs belong to the team")
    users: list[str] = Field(default_factory=list, description="trace users whose jobs belong to the team")


class ReclaimConfig(Frozen):
    """How an owner takes its borrowed quota back."""

    grace: Duration = Field(
        0.0, description="how long borrowers keep GPUs after the owner claims them (default 0: preempted at once)"
    )
    victims: Literal["newest", "least_lost"] = Field(
        "newest",
        description="which borrowing jobs are preempted first: newest (latest segment start) or least work "
        "lost since the last checkpoint (GPU-seconds)",
    )


class PriorityConfig(Frozen):
    """Job priorities: higher runs first and may preempt lower-priority preemptible jobs."""

    classes: dict[str, int] = Field(
        default_factory=dict,
        description="priority of each job class (higher first); a trace's priority column, where given, overrides it",
    )
    default: int = Field(
        0, description="priority of jobs of classes not listed (trace jobs: where their priority column is empty or absent)"
    )
    preempt: bool = Field(
        True, description="a waiting job may preempt running lower-priority jobs of preemptible classes"
    )


class TenancyConfig(Frozen):
    """Teams with quotas, borrowing and reclaim; job priorities."""

    teams: list[TeamConfig] = Field(default_factory=list, description="the teams; none: priorities only")
    default_team: str | None = Field(
        None, description="team of jobs no team lists (by user or class); required for traces"
    )
    reclaim: ReclaimConfig = Field(default_factory=ReclaimConfig, description="taking borrowed GPUs back")
    priority: PriorityConfig = Field(default_factory=PriorityConfig, description="job priorities")
    preemption: Literal["requeue", "suspend"] = Field(
        "requeue",
        description="what a preempted job keeps: requeue (loses the work since its last checkpoint, pays the "
        "restart, as Slurm REQUEUE and Kueue eviction) or suspend (keeps all its progress, as Slurm SUSPEND)",
    )

    @model_validator(mode="after")
    def _names(self) -> TenancyConfig:
        seen: dict[str, int] = {}
        for i, team in enumerate(self.teams):
            if team.name in seen:
                raise at_field(f"teams[{i}].name", f"team names must be unique, {team.name!r} is repeated")
            seen[team.name] = i
        if self.default_team is not None and self.default_team not in seen:
            raise at_field(
                "default_team", f"unknown team {self.default_team!r}; teams: {', '.join(seen) or '(none)'}"
            )
        for kind in ("classes", "users"):
            owner: dict[str, str] = {}
            for i, team in enumerate(self.teams):
                for k, name in enumerate(getattr(team, kind)):
                    if name in owner:
                        raise at_field(
                            f"teams[{i}].{kind}[{k}]",
                            f"{name!r} is already in team {owner[name]!r}; a job belongs to one team",
                        )
                    owner[name] = team.name
        return self


def team_gpus(sc) -> int:
    """GPUs the quotas are shares of: the training fleet at time zero (no spares, no inference reserve)."""
    spares = sc.failures.spare_nodes if sc.failures is not None else 0
    return (sc.cluster.nodes - spares - sc.inference.reserved_nodes) * sc.cluster.gpus_per_node


def check_tenancy(sc) -> None:
    """Checks of ``sc.tenancy`` against the rest of a Scenario (raise at_field ValueErrors)."""
    t = sc.tenancy
    kind = sc.scheduler.policy.kind
    if t is None:
        if kind == "fairshare":
            raise at_field("scheduler.policy", "fairshare orders jobs by their team's usage: add a tenancy section with teams")
        return
    if kind == "fairshare" and not t.teams:
        raise at_field("tenancy.teams", "the fairshare policy needs teams (at least one)")
    if sc.supply is not None:
        raise at_field("tenancy", "a tenancy section with a supply section is not supported yet (one fixed fleet)")
    total = team_gpus(sc)
    used = 0
    for i, team in enumerate(t.teams):
        used += resolve_gpus(team.quota, total)
        if used > total:
            quotas = " + ".join(f"{x.name} {resolve_gpus(x.quota, total)}" for x in t.teams[: i + 1])
            raise at_field(
                f"tenancy.teams[{i}].quota",
                f"quotas sum past the cluster: {quotas} = {used} GPUs, more than the {total} training GPUs",
            )
    classes = [c.name for c in sc.workload.classes or ()]
    synthetic = sc.workload.classes is not None
    for name in t.priority.classes:
        if synthetic and name not in classes:
            raise at_field("tenancy.priority.classes", f"unknown job class {name!r}; classes: {', '.join(classes)}")
    if not t.teams:
        return
    if not synthetic and t.default_team is None:
        raise at_field("tenancy.default_team", "a trace may hold users no team lists: name the team they go to")
    owned = {c for team in t.teams for c in team.classes}
    for i, team in enumerate(t.teams):
        for k, name in enumerate(team.classes):
            if synthetic and name not in classes:
                raise at_field(
                    f"tenancy.teams[{i}].classes[{k}]", f"unknown job class {name!r}; classes: {', '.join(classes)}"
                )
        has_jobs = bool(team.classes) or (not synthetic and bool(team.users)) or t.default_team == team.name
        if synthetic and t.default_team == team.name and not set(classes) - owned:
            has_jobs = bool(team.classes)  # every class belongs to another team: the default gets none
        if not has_jobs:
            raise at_field(
                f"tenancy.teams[{i}]",
                f"team {team.name!r} has no jobs mapped: give it classes"
                + (" or users" if not synthetic else "")
                + " (or make it tenancy.default_team)",
            )
    if synthetic and t.default_team is None:
        for c in classes:
            if c not in owned:
                raise at_field(
                    "tenancy.teams", f"job class {c!r} belongs to no team: list it in a team's classes or set default_team"
                )
