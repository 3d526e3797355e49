"""Supply configuration: GPU types, procurement orders, acceptance, retirement, rental, energy.

Defaults are cited from calibration.md section 3 (supply and procurement) and 7d (proposed
procurement defaults) and from the seed facts (F7-F12, F15; see seeds/README.md). Values that
no source gives are marked "chosen". Money is in one currency throughout (USD in the
defaults); power in watts per GPU including the GPU's share of its server (CPUs, NICs, fans).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from clustersim.config.base import Frozen, OrderTime, When, at_field
from clustersim.config.distributions import Distribution, Duration, Fixed, Lognormal
from clustersim.config.failures import RepairClass, repair_shares

DAY = 86400.0
WEEK = 7 * DAY

# Lead-time presets (calibration 7d): normal market = lognormal median 12 weeks (F7: "about 2-3
# months"; Dell 8-12 weeks in Apr 2024; China H1-2023 ~13 weeks), p90 16 weeks (chosen);
# tight market = median 40 weeks, p90 52 weeks (7d: 36-52 weeks, Omdia late 2023; Dell 39 weeks).
LEAD_TIME_PRESETS: dict[str, dict] = {
    "normal": {"kind": "lognormal", "median": 12 * WEEK, "p90": 16 * WEEK},
    "tight": {"kind": "lognormal", "median": 40 * WEEK, "p90": 52 * WEEK},
}


def _lead_preset(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in LEAD_TIME_PRESETS:
        return dict(LEAD_TIME_PRESETS[value.strip()])
    return value


LeadTime = Annotated[Distribution, BeforeValidator(_lead_preset)]


class GpuTypeConfig(Frozen):
    """One kind of GPU: how fast, how it is packaged, what it draws and what it costs."""

    speed: float = Field(
        1.0,
        gt=0,
        description="work per second relative to an A100 (1.0); a job's duration is for speed 1.0 and "
        "takes duration / speed on this type (F9, calibration 3)",
    )
    gpus_per_node: int = Field(8, ge=1, le=64, description="GPUs in each node of this type")
    power_idle_w: float = Field(
        250.0, ge=0, description="watts per GPU in service and idle, incl. its server share (chosen; F15 check)"
    )
    power_busy_w: float = Field(
        650.0, ge=0, description="watts per GPU running a job, incl. its server share (chosen; F15 check)"
    )
    unit_cost: float = Field(
        25_000.0, ge=0, description="capital cost per GPU incl. its share of the server (F12: ~50M USD per 1,000-2,000 A100)"
    )
    orderable_until: When | None = Field(
        None,
        description="orders placed at or after this time are refused or substituted (export controls; "
        "calibration 3: A800/H800 barred from 2023-10-17)",
    )
    substitute: str | None = Field(
        None, description="GPU type ordered instead once this one is no longer orderable; none: refuse the order"
    )


def _catalogue() -> dict[str, GpuTypeConfig]:
    # Speeds: A800 = A100 compute with NVLink 600 -> 400 GB/s: 5-10% slower (F9, calibration 3);
    # H100 2.5 (chosen: BF16 peak is 3.2x the A100's, realised training speed-ups are lower);
    # H800 = H100 compute with NVLink 900 -> 400 GB/s (calibration 3), so the same 10% penalty;
    # F9's "over 60% behind" matches the NVLink bandwidth, not compute. Domestic: 0.6 (chosen, L).
    # Costs per GPU incl. server: A100 25k (F12), A800 +20% (calibration 3: +20% Dec 2022-Apr
    # 2023), H100 37.5k (7d: ~300k per 8-GPU server), H800 x1.5 China premium (7d: x1.5-2).
    return {
        "A100": GpuTypeConfig(speed=1.0, power_idle_w=250, power_busy_w=650, unit_cost=25_000),
        "A800": GpuTypeConfig(speed=0.95, power_idle_w=250, power_busy_w=650, unit_cost=30_000),
        "H100": GpuTypeConfig(speed=2.5, power_idle_w=300, power_busy_w=1000, unit_cost=37_500),
        "H800": GpuTypeConfig(speed=2.25, power_idle_w=300, power_busy_w=1000, unit_cost=56_250),
        "domestic": GpuTypeConfig(speed=0.6, power_idle_w=200, power_busy_w=600, unit_cost=20_000),
    }


class OrderConfig(Frozen):
    """A purchase of nodes: placed at ``at``, shipped after a lead time in batches, each batch
    installed and burned in before it enters service."""

    at: OrderTime = Field(0.0, description="when the order is placed (>= 0): a duration or a date")
    nodes: int = Field(ge=1, description="nodes ordered")
    gpu_type: str | None = Field(None, description="GPU type ordered (default: cluster.gpu_type)")
    lead_time: LeadTime = Field(
        default_factory=lambda: Lognormal(**LEAD_TIME_PRESETS["normal"]),
        description="order to first delivery: a duration, a distribution, or a preset `normal` "
        "(lognormal median 12 w, p90 16 w) or `tight` (median 40 w, p90 52 w) (calibration 7d, F7)",
    )
    batch_nodes: int | None = Field(
        None, ge=1, description="nodes per delivery batch (calibration 7d: 32); absent: one batch"
    )
    batch_every: Duration = Field(2 * WEEK, description="time between batches (calibration 7d: 2 weeks)")
    burn_in: Distribution = Field(
        default_factory=lambda: Fixed(kind="fixed", value=14 * DAY),
        description="delivery to service for a batch: install, burn-in, acceptance (calibration 7d: 14 days)",
    )

    @model_validator(mode="after")
    def _batch_fits(self) -> OrderConfig:
        if self.batch_nodes is not None and self.batch_nodes > self.nodes:
            raise at_field(
                "batch_nodes", f"a batch of {self.batch_nodes} nodes is larger than the order ({self.nodes} nodes)"
            )
        return self


def _default_acceptance_repairs() -> list[RepairClass]:
    # calibration 7d: nodes failing acceptance return after repair class B/C times (7b): part swap
    # (median 24 h, p90 3 d) or vendor RMA (median 10 d, p90 21 d), in 7b's 40:10 proportion.
    return [
        RepairClass(name="swap", share=0.8, time={"kind": "lognormal", "median": "24h", "p90": "3d"}),
        RepairClass(name="vendor", share=0.2, time={"kind": "lognormal", "median": "10d", "p90": "21d"}),
    ]


class AcceptanceConfig(Frozen):
    """Delivered nodes that fail acceptance at the end of burn-in are repaired first."""

    fail_fraction: float = Field(0.03, ge=0, le=1, description="fraction of delivered nodes failing acceptance (7d: 3%)")
    repair: list[RepairClass] = Field(
        default_factory=_default_acceptance_repairs,
        description="how a node that failed acceptance is repaired; shares sum to 1 (7d, 7b)",
    )

    @field_validator("repair")
    @classmethod
    def _repair_sum(cls, value: list[RepairClass]) -> list[RepairClass]:
        return repair_shares(value)


class RetireConfig(Frozen):
    """Nodes leave service at a date: they take no new jobs and leave when their jobs end."""

    at: When = Field(description="when the nodes stop taking jobs")
    gpu_type: str | None = Field(None, description="GPU type retired (default: cluster.gpu_type)")
    nodes: int | None = Field(None, ge=1, description="how many nodes (oldest first); absent: every node of the type")


class RentalConfig(Frozen):
    """Rented capacity: nodes in service between two times, paid per GPU-hour (a pool of its own)."""

    gpus: int = Field(ge=1, description="GPUs rented (a multiple of the type's GPUs per node)")
    gpu_type: str | None = Field(None, description="GPU type rented (default: cluster.gpu_type)")
    price_per_gpu_hour: float = Field(
        2.0, ge=0, description="rental price per GPU-hour, paid for the whole window (calibration 7d: 2 per H800-hour)"
    )
    from_: When = Field(0.0, alias="from", description="when the rented nodes enter service (F8: waits of months)")
    to: When | None = Field(None, description="when they leave service (absent: the horizon)")

    model_config = Frozen.model_config | {"populate_by_name": True}


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class EnergyConfig(Frozen):
    """Energy: power by state integrated over the run, times PUE and an electricity price."""

    pue: float = Field(1.3, ge=1, description="power usage effectiveness, facility / IT power (chosen)")
    price_per_kwh: float = Field(0.08, ge=0, description="electricity price per kWh (chosen: ~0.6 CNY, China industrial)")
    burn_in_power: Literal["busy", "idle", "off"] = Field(
        "busy", description="power of GPUs in burn-in: busy (stress tests), idle, or off"
    )


class SupplyConfig(Frozen):
    """How the fleet changes: GPU types, orders and their delivery, retirement, rental, energy."""

    start_date: date | None = Field(None, description="calendar date of time 0; lets times be given as dates")
    gpu_types: dict[str, GpuTypeConfig] = Field(
        default_factory=_catalogue,
        description="GPU types by name (default: A100, A800, H100, H800, domestic; a given map replaces it)",
    )
    orders: list[OrderConfig] = Field(default_factory=list, description="purchase orders")
    acceptance: AcceptanceConfig = Field(default_factory=AcceptanceConfig, description="acceptance testing at delivery")
    retire: list[RetireConfig] = Field(default_factory=list, description="nodes or whole types leaving service")
    rental: Annotated[list[RentalConfig], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, description="rented capacity (one mapping or a list)"
    )
    energy: EnergyConfig = Field(default_factory=EnergyConfig, description="energy and its price")
    any_type_order: Literal["fastest", "listed"] = Field(
        "fastest",
        description="types a job of gpu_type `any` tries, in order: fastest first, or as listed in gpu_types "
        "(owned nodes before rented ones of the same type)",
    )

    @field_validator("gpu_types")
    @classmethod
    def _some_types(cls, value: dict[str, GpuTypeConfig]) -> dict[str, GpuTypeConfig]:
        if not value:
            raise ValueError("give at least one GPU type")
        bad = [name for name in value if not name.strip() or name == "any" or name.startswith("rental:")]
        if bad:
            raise ValueError(f"type names must be non-empty, not `any` and not start with `rental:`, got {bad}")
        return value

    def seconds(self, when: float | date) -> float:
        """A time of this section in seconds from time 0 (dates need ``start_date``)."""
        if isinstance(when, date):
            if self.start_date is None:
                raise ValueError("a date needs supply.start_date")
            return (when - self.start_date).days * DAY
        return float(when)

    def delivered_type(self, order: OrderConfig, own: str) -> str | None:
        """The GPU type ``order`` gets (``own``: the cluster's type, its default): the type it
        names if still orderable at its time, else that type's ``substitute`` if orderable,
        else None (refused). ``engine.supply`` applies the same rule."""
        at = self.seconds(order.at)

        def orderable(name: str) -> bool:
            until = self.gpu_types[name].orderable_until
            return until is None or at < self.seconds(until)

        wanted = order.gpu_type or own
        if orderable(wanted):
            return wanted
        sub = self.gpu_types[wanted].substitute
        return sub if sub is not None and orderable(sub) else None

    def _times(self):
        """Every time field, as (path, value, is an order time)."""
        for name, t in self.gpu_types.items():
            if t.orderable_until is not None:
                yield f"gpu_types.{name}.orderable_until", t.orderable_until, False
        for i, o in enumerate(self.orders):
            yield f"orders[{i}].at", o.at, True
        for i, r in enumerate(self.retire):
            yield f"retire[{i}].at", r.at, False
        for i, r in enumerate(self.rental):
            yield f"rental[{i}].from", r.from_, False
            if r.to is not None:
                yield f"rental[{i}].to", r.to, False

    def type_references(self):
        """Every field naming a GPU type, as (path, name or None for the default)."""
        for name, t in self.gpu_types.items():
            if t.substitute is not None:
                yield f"gpu_types.{name}.substitute", t.substitute
        for i, o in enumerate(self.orders):
            yield f"orders[{i}].gpu_type", o.gpu_type
        for i, r in enumerate(self.retire):
            yield f"retire[{i}].gpu_type", r.gpu_type
        for i, r in enumerate(self.rental):
            yield f"rental[{i}].gpu_type", r.gpu_type

    @model_validator(mode="after")
    def _check(self) -> SupplyConfig:
        for path, name in self.type_references():
            if name is not None and name not in self.gpu_types:
                raise at_field(path, f"unknown GPU type {name!r}; supply.gpu_types has: {', '.join(self.gpu_types)}")
        for path, when, is_order in self._times():
            if isinstance(when, date):
                if self.start_date is None:
                    raise at_field(path, f"the date {when.isoformat()} needs supply.start_date (the date of time 0)")
                if when < self.start_date:
                    what = "an order" if is_order else "this time"
                    extra = "; the fleet at time 0 is the `cluster` section" if is_order else ""
                    raise at_field(
                        path, f"{what} at {when.isoformat()} is before supply.start_date {self.start_date.isoformat()}{extra}"
                    )
        for i, r in enumerate(self.rental):
            if r.to is not None and self.seconds(r.to) <= self.seconds(r.from_):
                raise at_field(f"rental[{i}].to", "must be later than `from`")
        return self
