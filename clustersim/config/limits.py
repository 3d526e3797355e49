"""Sizes a run can hold: checks of a whole scenario against the limits in :mod:`.base`.

A scenario that validates field by field may still ask for more than any machine could
simulate: a trillion nodes, a billion jobs, an arrival rate that grows past floating point,
a failure every microsecond. :func:`check_sizes` refuses those when the scenario is read,
naming the field, what it adds up to and the limit, instead of a MemoryError, an overflow or
a run that never ends.
"""

from __future__ import annotations

import math

from clustersim.config.base import (
    MAX_EVENTS,
    MAX_JOB_GPUS,
    MAX_JOBS,
    MAX_NODES,
    MAX_REPLICAS,
    YEAR,
    at_field,
)

DAY = 86400.0
MONTH = 30 * DAY
_LOG_MAX_GROWTH = math.log(1e100)  # arrival-rate or demand growth over the horizon


def check_sizes(sc) -> None:
    """Raise ``at_field(...)`` ValueError for the first limit ``sc`` (a Scenario) exceeds."""
    _check_nodes(sc)
    _check_classes(sc)
    _check_failures(sc)
    _check_services(sc)


def fleet_nodes(sc) -> int:
    """Nodes that may be in the fleet over the run: time 0, every order and every rental."""
    nodes = sc.cluster.nodes
    if sc.supply is not None:
        nodes += sum(o.nodes for o in sc.supply.orders)
        types = sc.supply.gpu_types
        for r in sc.supply.rental:
            t = types.get(r.gpu_type or sc.cluster.gpu_type)
            nodes += r.gpus // (t.gpus_per_node if t is not None else sc.cluster.gpus_per_node)
    return nodes


def _check_nodes(sc) -> None:
    if sc.cluster.nodes > MAX_NODES:
        raise at_field("cluster.nodes", f"{sc.cluster.nodes:,} nodes is more than a run can hold (at most {MAX_NODES:,})")
    total = fleet_nodes(sc)
    if total > MAX_NODES:
        raise at_field(
            "supply", f"the fleet, orders and rentals add up to {total:,} nodes, more than a run can hold "
            f"(at most {MAX_NODES:,})"
        )


def _growth_log(rate: float, horizon: float) -> float:
    """log of (1 + rate)^(horizon / year), the arrival-rate growth over the horizon."""
    return math.log1p(rate) * horizon / YEAR if rate else 0.0


def _expected_jobs(cls, horizon: float) -> float:
    rate = cls.arrival_rate_per_h / 3600.0
    growth = getattr(cls, "growth", None)
    g = _growth_log(growth.rate if growth is not None else 0.0, horizon)
    if abs(g) < 1e-9:
        return rate * horizon
    if g > _LOG_MAX_GROWTH:
        return math.inf
    return rate * horizon * math.expm1(g) / g


def _check_classes(sc) -> None:
    total = 0.0
    for i, cls in enumerate(sc.workload.classes or ()):
        where = f"workload.classes[{i}]"
        by_gpus = getattr(cls, "duration_by_gpus", None) or {}
        for g in (*cls.gpus, *by_gpus):
            if g > MAX_JOB_GPUS:
                raise at_field(f"{where}.gpus", f"a job of {g:,} GPUs is more than a run can hold (at most {MAX_JOB_GPUS:,})")
        growth = getattr(cls, "growth", None)
        if growth is not None:
            if _growth_log(growth.rate, sc.horizon) > _LOG_MAX_GROWTH:
                raise at_field(
                    f"{where}.growth", f"a growth of {growth.rate:.4g} per year over the horizon multiplies the "
                    "arrival rate by more than 1e100"
                )
            shift = getattr(growth, "size_shift", 0.0)
            if shift:
                theta = math.log2(1.0 + shift) * sc.horizon / YEAR
                if abs(theta) * math.log(max(cls.gpus)) > _LOG_MAX_GROWTH:
                    raise at_field(
                        f"{where}.growth.size_shift", f"a size shift of {shift:.4g} per year over the horizon "
                        "tilts the size mix by more than 1e100"
                    )
        total += _expected_jobs(cls, sc.horizon)
        if not total <= MAX_JOBS:
            raise at_field(
                f"{where}.arrival_rate_per_h", f"the classes submit about {_count(total)} jobs over the horizon, "
                f"more than a run can hold (at most {MAX_JOBS:,}): lower the rates or the horizon"
            )


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e15 else f"{n:.3g}"


def _check_failures(sc) -> None:
    f = sc.failures
    if f is None:
        return
    multiplier = max(
        f.early_life.multiplier if f.early_life is not None else 1.0,
        f.lemons.multiplier if f.lemons is not None else 1.0,
    )
    node_days = fleet_nodes(sc) * sc.horizon / DAY
    expected = (f.rate_per_1000_node_days * multiplier + f.job_rate_per_1000_node_days) * node_days / 1000.0
    if not expected <= MAX_EVENTS:
        raise at_field(
            "failures.rate_per_1000_node_days", f"about {_count(expected)} failures over the horizon, more than a run "
            f"can hold (at most {MAX_EVENTS:,}): lower the rates (or multipliers) or the horizon"
        )


def _check_services(sc) -> None:
    for i, svc in enumerate(sc.services):
        where = f"services[{i}]"
        d, a = svc.demand, svc.autoscale
        steps = sc.horizon / d.resolution if d.resolution > 0 else math.inf
        if not steps <= MAX_EVENTS:
            raise at_field(
                f"{where}.demand", f"{_count(steps)} demand steps over the horizon, more than a run can hold "
                f"(at most {MAX_EVENTS:,}): use a longer bin"
            )
        if d.base_rps is None:
            continue
        peak = d.base_rps * max(d.hourly or [1.0]) * max(1.0, d.weekend_factor) * (1.0 + 8.0 * d.noise)
        if d.growth_per_month:
            g = math.log1p(d.growth_per_month) * sc.horizon / MONTH
            if g > _LOG_MAX_GROWTH:
                raise at_field(
                    f"{where}.demand.growth_per_month", "the growth over the horizon multiplies demand by more than 1e100"
                )
            peak *= math.exp(max(g, 0.0))
        need = peak * (1.0 + a.headroom) / svc.rps_per_replica
        cap = a.max_replicas if a.max_replicas is not None else math.inf
        if not min(need, cap) <= MAX_REPLICAS:
            raise at_field(
                f"{where}.demand.base_rps", f"the peak demand needs about {_count(need)} replicas of "
                f"{svc.rps_per_replica:g} requests/s, more than a run can hold (at most {MAX_REPLICAS:,}); "
                "lower the demand, or cap it with autoscale.max_replicas"
            )
