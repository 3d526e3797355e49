"""The protocol between the engine core and the parts of the model that plug into it.

A component (failures, supply, inference, ...) is built with the engine and attached once.
The core knows no component by name: at attach time it looks at which of the hook methods
below a component overrides and calls only those, so a run without components pays nothing
for them and adding a component never means editing the core.

Life of a component:

1. ``prepare(cluster)``: before anything is scheduled, add node pools it owns (e.g. the nodes
   reserved for inference). Components are prepared in the scenario's component order.
2. ``attach(engine)``: start its own processes on ``engine.env`` and keep what it needs of
   the engine. Components are attached in the same order, which is also the order of their
   rows in ``events.parquet`` and of their keys in ``summary.json``.
3. During the run the core calls the hooks it subscribed to (see each method).
4. At the horizon ``result()`` asks each component for its events, job columns, tables and
   summary keys.

Components act on the core only through its public methods (``start``, ``stop``, ``requeue``,
``evict``, ``respeed``, ``capacity_changed``, ``nodes_entered``, ``node_left``) and ``engine.policy.invalidate()``.
"""

from __future__ import annotations

from collections.abc import Sequence


class Component:
    """Base class: every hook is a no-op that the core does not call unless overridden."""

    #: nodes of the scenario's cluster that the component keeps in a pool of its own
    #: (added by ``prepare`` after the shared fleet, so node ids do not depend on it)
    own_nodes: int = 0
    #: names of extra timeseries columns this component contributes (``levels`` fills them)
    level_columns: Sequence[str] = ()

    def prepare(self, cluster) -> None:
        """Add pools or nodes to the cluster before the run starts."""

    def attach(self, engine) -> None:
        """Keep the engine and schedule the component's own events."""

    # ---------------------------------------------------------------------- hooks (hot path)

    def job_submitted(self, job) -> None:
        """A training job entered the queue for the first time."""

    def job_started(self, job, wall: float) -> None:
        """A training job (re)started a segment expected to take ``wall`` seconds."""

    def job_ended(self, job) -> None:
        """A training job's segment ended: it finished (``job.state`` is finished) or was
        stopped (failure detected, preempted); it gave its GPUs back."""

    def nodes_entered(self, nodes: Sequence[int], keys: Sequence[str] | None, mature: bool) -> None:
        """Nodes entered service now (``keys`` name their random streams; ``mature``: no
        early-life period)."""

    def node_left(self, node: int) -> None:
        """A node left service for good (retired, rental returned)."""

    def before_pass(self) -> None:
        """Called before the training scheduler's pass after a completion or a change of
        capacity: a component whose work outranks training (replicas) takes GPUs here."""

    def levels(self) -> tuple:
        """Values of ``level_columns`` now (recorded with every timeseries row)."""
        return ()

    def speed_factor(self, job, nodes: Sequence[int]) -> float:
        """This component's factor on the speed of ``job`` on ``nodes`` (1.0: no effect). The
        core multiplies a job's pool speed by every component's factor when the job starts and
        when ``engine.respeed(job)`` is asked for (call it when the factor of a running job
        changes)."""
        return 1.0

    def job_respeeded(self, job, wall: float) -> None:
        """A running job's speed changed: its segment now ends ``wall`` seconds from now."""

    # ---------------------------------------------------------------------- at the horizon

    def events(self) -> list[tuple]:
        """Rows of ``results.columns.EVENT_COLUMNS``."""
        return []

    def job_columns(self, jobs):
        """Return the jobs table with this component's columns added."""
        return jobs

    def tables(self) -> dict:
        """Extra tables, written as ``<name>.parquet``."""
        return {}

    def summary(self, jobs, timeseries, events, tables: dict) -> dict:
        """Summary keys this component adds."""
        return {}


HOOKS = (
    "job_submitted", "job_started", "job_ended", "nodes_entered", "node_left", "before_pass", "levels",
    "speed_factor", "job_respeeded",
)


def overrides(component: Component, name: str) -> bool:
    """True if ``component`` implements hook ``name`` (not the base class's no-op)."""
    return getattr(type(component), name) is not getattr(Component, name)
