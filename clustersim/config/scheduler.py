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
    """EASY backfilling over arrival order: the head holds a reservation, others may jump it."""

    kind: Literal["backfill"] = Field(description="EASY backfilling")
    depth: int = Field(
        100, ge=1, description="how many queued jobs behind the head a pass may consider"
    )


PolicyConfig = Annotated[
    FifoConfig | SjfConfig | BackfillConfig,
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
        description="queue policy: fifo, sjf or backfill (or a mapping with kind and options)",
    )
    placement: PlacementConfig = Field(
        default_factory=lambda: PackConfig(kind="pack"),
        description="where single-node jobs go: pack or spread",
    )
