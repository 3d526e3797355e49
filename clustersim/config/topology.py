"""The fabric topology of the fleet at time zero: a tree of domains and the locality rule that
gang jobs follow in it (issue 13).

Levels are listed from the smallest domain up (e.g. a rack of 8 nodes, a leaf domain of 32
nodes, a pod of 256 nodes); each level's size is in nodes and a multiple of the level below.
Node ``i`` belongs to domain ``i // nodes`` of each level, so nodes delivered later fill new
racks after the last one. The whole cluster is the implicit root above the last level.

Locality rules for a gang of ``N`` whole nodes:

- ``fit``: the gang sits inside one domain of the smallest level whose size is at least ``N``
  (a gang larger than every level may use any nodes);
- ``span``: the gang may span at most ``max_domains`` domains of ``level``, each extra domain
  costing ``penalty_per_extra_domain`` of speed (its run time grows by that fraction per extra
  domain). A gang larger than ``max_domains`` such domains can never run and is rejected.

Jobs of one node or less always satisfy either rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from clustersim.config.base import Frozen, at_field, kind_shorthand


class TopologyLevel(Frozen):
    """One level of the tree: its name and how many nodes one of its domains holds."""

    name: str = Field(min_length=1, max_length=40, description="level name (e.g. rack, leaf, pod)")
    nodes: int = Field(ge=1, le=1_000_000, description="nodes in one domain of this level (a multiple of the level below)")


class FitRule(Frozen):
    """A gang sits in one domain of the smallest level that holds it."""

    kind: Literal["fit"] = Field(description="one domain of the smallest level with at least N nodes")


class SpanRule(Frozen):
    """A gang may span a few domains of one level, at a speed cost per extra domain."""

    kind: Literal["span"] = Field(description="at most max_domains domains of one level")
    level: str = Field(min_length=1, description="name of the level whose domains are counted")
    max_domains: int = Field(1, ge=1, le=1_000_000, description="most domains of that level one gang may span")
    penalty_per_extra_domain: float = Field(
        0.0,
        ge=0,
        le=10,
        description="speed cost per domain spanned beyond the first: the gang runs at speed / (1 + p x extra)",
    )


LocalityRule = Annotated[FitRule | SpanRule, BeforeValidator(kind_shorthand), Field(discriminator="kind")]


class TopologyConfig(Frozen):
    """Domains of the fabric (racks, leaf switches, pods) and the gang locality rule."""

    levels: list[TopologyLevel] = Field(
        min_length=1,
        max_length=8,
        description="levels from the smallest domain up, e.g. [{name: rack, nodes: 8}, {name: leaf, nodes: 32}]",
    )
    locality: LocalityRule = Field(
        default_factory=lambda: FitRule(kind="fit"),
        description="where a gang may go: `fit` (one domain of the smallest level that holds it) or "
        "{kind: span, level, max_domains, penalty_per_extra_domain}",
    )

    spares: Literal["last", "spread"] = Field(
        "last",
        description="where hot spares (failures.spare_nodes) are held: the last nodes (`last`), or one per "
        "rack in turn from the last rack (`spread`); a gang only takes spares its locality rule allows",
    )

    @field_validator("levels")
    @classmethod
    def _nested(cls, value: list[TopologyLevel]) -> list[TopologyLevel]:
        names = [lv.name for lv in value]
        if len(set(names)) != len(names):
            raise ValueError(f"level names must differ, got {names}")
        for below, above in zip(value, value[1:], strict=False):
            if above.nodes <= below.nodes or above.nodes % below.nodes:
                raise ValueError(
                    f"level {above.name!r} ({above.nodes} nodes) must be a larger multiple of "
                    f"level {below.name!r} ({below.nodes} nodes)"
                )
        return value

    @model_validator(mode="after")
    def _known_level(self) -> TopologyConfig:
        rule = self.locality
        if isinstance(rule, SpanRule) and rule.level not in {lv.name for lv in self.levels}:
            raise at_field(
                "locality.level",
                f"{rule.level!r} is not a level of the topology ({', '.join(lv.name for lv in self.levels)})",
            )
        return self

    def level_index(self, name: str) -> int:
        return [lv.name for lv in self.levels].index(name)


def check_topology(scenario) -> None:
    """Checks across sections: domain failures name a level of the topology; conservative
    backfilling plans with counts of whole free nodes and knows no domains, so it is refused
    with a topology."""
    topo = scenario.cluster.topology
    failures = scenario.failures
    for i, d in enumerate(failures.domains if failures is not None else ()):
        if topo is None:
            raise at_field(f"failures.domains[{i}]", "domain failures need cluster.topology")
        if d.level not in {lv.name for lv in topo.levels}:
            raise at_field(f"failures.domains[{i}].level", f"{d.level!r} is not a level of cluster.topology")
    if topo is None:
        return
    if scenario.scheduler.policy.kind == "conservative":
        raise at_field(
            "scheduler.policy",
            "conservative backfilling does not plan with cluster.topology yet; use fifo, sjf or backfill",
        )
