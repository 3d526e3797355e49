"""Planned maintenance (issue 13, part c): a calendar of windows in which nodes of the fleet
at time zero are drained and taken out of service on purpose (firmware and driver upgrades).

Each window names its nodes in one way: the domains of a topology level (``level``, optionally
``domains``: their ids at that level), node ids and ranges (``nodes: [0-63, 100]``), or a
``fraction`` of the fleet drawn from the window's own random stream. Its nodes are split into
*waves* of at most ``max_down`` of the fleet each (whole domains with ``level``; consecutive
nodes otherwise; one wave when ``max_down`` is absent), in the order given. Wave ``i`` is
planned for ``start + i x duration``; it begins at that time or when every node of the wave
before it has returned, whichever is later, so at most one wave of a window is down at once.

A node drains from ``lead_time`` before its wave's planned start (it takes no new jobs) and goes
down at the wave's start (``running: checkpoint``: its running jobs write a checkpoint in the
last ``cost`` seconds before the start, keep all their work up to it and are requeued) or when
its last job ends (``running: finish``). It is down for exactly ``duration`` from when it went
down. ``every`` repeats the window (e.g. a monthly rolling upgrade) until the horizon; the
repeats join the same sequence of waves.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from clustersim.config.base import MAX_EVENTS, Frozen, Share, at_field
from clustersim.config.distributions import Duration

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def _ranges(value: Any) -> Any:
    """``[0-63, 100]`` -> ``[(0, 63), (100, 100)]`` (inclusive ranges of node ids)."""
    if not isinstance(value, list):
        return value
    out = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            out.append((item, item))
            continue
        m = _RANGE.match(item) if isinstance(item, str) else None
        if m is None or int(m.group(1)) > int(m.group(2)):
            raise ValueError(f"expected a node id or a range such as 0-63, got {item!r}")
        out.append((int(m.group(1)), int(m.group(2))))
    return out


class MaintenanceWindow(Frozen):
    """One entry of the calendar: which nodes, when, how long, how many at once."""

    name: str = Field("maintenance", min_length=1, max_length=40, description="name recorded in events (cause)")
    start: Duration = Field(description="planned start of the first wave (a duration from time 0)")
    duration: Duration = Field(gt=0, description="how long each node is down for its maintenance")
    every: Duration | None = Field(None, gt=0, description="repeat the window this often until the horizon (absent: once)")
    level: str | None = Field(None, description="topology level whose domains are maintained (cluster.topology.levels[].name)")
    domains: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, description="with level: ids of the domains at that level, in wave order (absent: all)"
    )
    nodes: Annotated[list[tuple[int, int]] | None, BeforeValidator(_ranges)] = Field(
        None, min_length=1, description="node ids or inclusive ranges of the fleet at time zero, e.g. [0-63, 100]"
    )
    fraction: Share | None = Field(
        None, gt=0, le=1, description="a share of the fleet at time zero (5% or 0.05), drawn from the stream maintenance.<name>"
    )
    max_down: Share | None = Field(
        None, gt=0, le=1, description="rolling: at most this share of the fleet's nodes in one wave (absent: one wave)"
    )
    lead_time: Duration = Field(0.0, ge=0, description="nodes drain (take no new jobs) from this long before their wave's planned start")
    running: Literal["checkpoint", "finish"] = Field(
        "checkpoint",
        description="jobs running at a wave's start: `checkpoint` (checkpointed, stopped and requeued; the node "
        "goes down at the start) or `finish` (the node goes down when its last job ends)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> MaintenanceWindow:
        given = [k for k in ("level", "nodes", "fraction") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of level, nodes, fraction (got {', '.join(given) or 'none'})")
        if self.domains is not None and self.level is None:
            raise at_field("domains", "domains need a level")
        return self


class MaintenanceConfig(Frozen):
    """The maintenance calendar: windows of planned downtime."""

    windows: list[MaintenanceWindow] = Field(min_length=1, max_length=1000, description="the calendar's entries")

    @model_validator(mode="after")
    def _unique(self) -> MaintenanceConfig:
        names = [w.name for w in self.windows]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise at_field(f"windows[{i}].name", f"window names must be unique, {name!r} is repeated")
        return self


def wave_cap(window: MaintenanceWindow, fleet: int) -> int:
    """Most nodes of one wave: ``floor(max_down x fleet)`` (the whole fleet without max_down)."""
    return fleet if window.max_down is None else int(math.floor(window.max_down * fleet + 1e-9))


def _check(value: MaintenanceConfig | None, info: ValidationInfo) -> MaintenanceConfig | None:
    """Checks against the cluster (validated before this field): levels, domains, node ids and
    the wave cap exist and fit."""
    cluster = info.data.get("cluster")
    if value is None or cluster is None:
        return value
    fleet = cluster.nodes
    topo = cluster.topology
    for i, w in enumerate(value.windows):
        cap = wave_cap(w, fleet)
        if cap < 1:
            raise at_field(f"windows[{i}].max_down", f"{w.max_down:g} of {fleet} nodes is less than one node")
        if w.level is not None:
            if topo is None:
                raise at_field(f"windows[{i}].level", "maintenance by domain needs cluster.topology")
            names = [lv.name for lv in topo.levels]
            if w.level not in names:
                raise at_field(f"windows[{i}].level", f"{w.level!r} is not a level of cluster.topology ({', '.join(names)})")
            size = topo.levels[names.index(w.level)].nodes
            count = -(-fleet // size)
            for d in w.domains or ():
                if d >= count:
                    raise at_field(f"windows[{i}].domains", f"domain {d} does not exist: {w.level} has {count} domains (0-{count - 1})")
            if size > cap:
                raise at_field(
                    f"windows[{i}].max_down",
                    f"a wave of at most {cap} nodes cannot hold one {w.level} domain of {size} nodes",
                )
        for _lo, hi in w.nodes or ():
            if hi >= fleet:
                raise at_field(f"windows[{i}].nodes", f"node {hi} does not exist: the fleet has nodes 0-{fleet - 1}")
        horizon = info.data.get("horizon")
        if w.every is not None and horizon is not None and horizon > w.start:
            outages = math.ceil((horizon - w.start) / w.every) * fleet
            if outages > MAX_EVENTS:
                raise at_field(f"windows[{i}].every", f"up to {outages:,} node outages over the horizon is more than "
                               f"{MAX_EVENTS:,}; repeat less often")
    return value


MaintenanceField = Annotated[MaintenanceConfig | None, AfterValidator(_check)]
"""The scenario field's type: the section, checked against the cluster section."""
