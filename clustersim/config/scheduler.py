"""Scheduler configuration: queue policies and placement, discriminated unions on ``kind``
(a bare string is shorthand for ``{kind: ...}``). The union is the list of what a scenario
may name; ``engine.policies`` maps each ``kind`` to its class."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from clustersim.config.base import Frozen, kind_shorthand


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


PolicyConfig = Annotated[
    FifoConfig | SjfConfig | BackfillConfig | ConservativeConfig,
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
        description="queue policy: fifo, sjf, backfill (EASY) or conservative (or a mapping with kind and options)",
    )
    placement: PlacementConfig = Field(
        default_factory=lambda: PackConfig(kind="pack"),
        description="where single-node jobs go: pack or spread",
    )
