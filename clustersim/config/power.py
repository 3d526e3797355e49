"""Power: what the fleet draws by state, the facility's PUE and cap, and what the cap does.

Defaults (cited in seeds/README.md, table "Power defaults"): per-GPU idle and busy draws by
type (A100 SXM TDP 400 W, H100 SXM 700 W: NVIDIA data sheets; idle draws measured on the
order of 50-100 W), a per-node overhead for CPUs, memory, NICs and fans (DGX system maximum
minus its eight GPUs' TDP, chosen at about half of that), and PUE 1.3 (within the 1.1-1.5
range of modern halls; the value ``supply.energy.pue`` already uses).

Calendar: time 0 is midnight; hours of the day are ``t // 3600 mod 24``, months come from
``start_date`` (default 2024-01-01, a Monday, matching the workload's "time 0 is a Monday").
A cap window applies where its months, hours and [from, to) all match; windows may not
overlap, and where none applies the base cap ``cap_mw`` holds.

Supply: every GPU type the facility may hold (the starting type, the type each order gets)
needs a ``gpu_types`` entry; rented types none (off-site). ``burn_in`` (absent:
``supply.energy.burn_in_power``) is what delivered nodes draw until in service. Every cap must
hold the fleet at full delivery idle, each ordered node at the larger of its idle and burn-in
draws (lead times are random: any batches may be in burn-in together).

Modes: ``account`` records power and energy and limits nothing; ``admission`` starts a job
only if the facility stays within the cap for the whole of its expected run; ``capping`` lets
jobs start when the fleet fits with every training GPU at its lowest power limit, and runs
training GPUs power-capped (slower) whenever the full draw would pass the cap; with an
inference curve replicas may be capped too, and the gate books them at their lowest limit. The
curves, their sources and the throttle order: ``config.capping``.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from clustersim.config.base import Frozen, at_field
from clustersim.config.capping import CappingConfig
from clustersim.config.distributions import Duration

DAY = 86400.0
HOUR = 3600.0


class GpuPower(Frozen):
    """What one GPU type's nodes draw, in watts."""

    idle_w: float = Field(ge=0, description="watts per idle GPU in service")
    busy_w: float = Field(ge=0, description="watts per GPU running a training job (at most its TDP)")
    inference_w: float | None = Field(
        None, ge=0, description="watts per GPU held by an inference replica (absent: busy_w)"
    )
    node_w: float = Field(
        0.0, ge=0, description="watts per node in service besides its GPUs: CPUs, memory, NICs, fans"
    )

    @model_validator(mode="after")
    def _busy_at_least_idle(self) -> GpuPower:
        if self.busy_w < self.idle_w:
            raise at_field("busy_w", f"busy power {self.busy_w:g} W is below idle power {self.idle_w:g} W")
        if self.inference_w is not None and self.inference_w < self.idle_w:
            raise at_field(
                "inference_w", f"inference power {self.inference_w:g} W is below idle power {self.idle_w:g} W"
            )
        return self

    @property
    def replica_w(self) -> float:
        return self.busy_w if self.inference_w is None else self.inference_w


def power_catalogue() -> dict[str, GpuPower]:
    """Cited defaults by GPU type (seeds/README.md, "Power defaults")."""
    a100 = GpuPower(idle_w=60, busy_w=400, node_w=1700)
    h100 = GpuPower(idle_w=80, busy_w=700, node_w=2300)
    return {"A100": a100, "A800": a100, "H100": h100, "H800": h100,
            "domestic": GpuPower(idle_w=80, busy_w=400, node_w=1700)}


class PueProfile(Frozen):
    """PUE that varies: by hour of the day or by month of the year (one of the two)."""

    hourly: list[float] | None = Field(None, description="24 values, hours 0-23")
    monthly: list[float] | None = Field(None, description="12 values, January first")

    @model_validator(mode="after")
    def _one(self) -> PueProfile:
        if (self.hourly is None) == (self.monthly is None):
            raise ValueError("give exactly one of `hourly` (24 values) or `monthly` (12 values)")
        for name, values, n in (("hourly", self.hourly, 24), ("monthly", self.monthly, 12)):
            if values is None:
                continue
            if len(values) != n:
                raise at_field(name, f"expected {n} values, got {len(values)}")
            for i, v in enumerate(values):
                if not v >= 1:
                    raise at_field(f"{name}[{i}]", f"a PUE is facility / IT power, at least 1; got {v:g}")
        return self


class CapWindow(Frozen):
    """A period with its own facility cap (a grid contract's summer or peak-hour limit)."""

    name: str = Field("window", min_length=1, description="shown in the report")
    cap_mw: float = Field(gt=0, description="facility cap in MW while the window applies")
    months: list[int] | None = Field(None, description="months it applies in (1-12); absent: all")
    hours: tuple[int, int] | None = Field(
        None, description="[start, end) hours of the day it applies in, 0 <= start < end <= 24; absent: all day"
    )
    from_: Duration | None = Field(None, alias="from", description="applies from this time on (absent: from 0)")
    to: Duration | None = Field(None, description="applies before this time (absent: to the horizon)")

    model_config = Frozen.model_config | {"populate_by_name": True}

    @field_validator("months")
    @classmethod
    def _months(cls, value):
        if value is not None:
            if not value:
                raise ValueError("give at least one month, or leave `months` out")
            bad = [m for m in value if not 1 <= m <= 12]
            if bad:
                raise ValueError(f"months are 1-12, got {bad[0]}")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value):
        if value is not None and not 0 <= value[0] < value[1] <= 24:
            raise ValueError(f"hours are [start, end) with 0 <= start < end <= 24, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _span(self) -> CapWindow:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise at_field("to", f"ends ({self.to:g} s) at or before it starts ({self.from_:g} s)")
        return self

    def applies(self, t: float, month: int) -> bool:
        if self.months is not None and month not in self.months:
            return False
        if self.hours is not None and not self.hours[0] <= int(t // HOUR) % 24 < self.hours[1]:
            return False
        return (self.from_ is None or t >= self.from_) and (self.to is None or t < self.to)

    def overlaps(self, other: CapWindow) -> bool:
        """Some instant lies in both windows."""
        if self.months is not None and other.months is not None and not set(self.months) & set(other.months):
            return False
        a = self.hours or (0, 24)
        b = other.hours or (0, 24)
        if a[1] <= b[0] or b[1] <= a[0]:
            return False
        lo = max(self.from_ or 0.0, other.from_ or 0.0)
        hi = min(math.inf if self.to is None else self.to, math.inf if other.to is None else other.to)
        return lo < hi


class PowerConfig(Frozen):
    """The fleet's power draw, the facility's PUE and cap, and the enforcement mode."""

    mode: Literal["account", "admission", "capping"] = Field(
        "account", description="account: record power, limit nothing; admission: a job starts only if the "
        "facility stays within the cap for its whole expected run; capping: training GPUs (and replicas, with "
        "capping.inference) run power-capped (slower) while the full draw would pass the cap, and a job starts if "
        "the fleet fits at the lowest limits"
    )
    capping: CappingConfig = Field(
        default_factory=CappingConfig, description="the power-performance curves and throttle order (mode capping)"
    )
    gpu_types: dict[str, GpuPower] = Field(
        default_factory=power_catalogue,
        description="power by GPU type (default: A100/A800 400 W, H100/H800 700 W TDP; seeds/README.md); "
        "a given map replaces the default",
    )
    down_node_w: float = Field(
        0.0, ge=0, description="watts per node out of service (failed, in repair, pulled); chosen: off"
    )
    pue: float | PueProfile = Field(
        1.3, description="facility / IT power: a constant (1.1-1.5 in modern halls) or {hourly | monthly}"
    )
    cap_mw: float | None = Field(None, gt=0, description="facility power cap in MW outside the windows (absent: none)")
    windows: list[CapWindow] = Field(default_factory=list, description="periods with their own cap (may not overlap)")
    start_date: date = Field(date(2024, 1, 1), description="calendar date of time 0 (for monthly PUE and windows)")
    price_per_kwh: float = Field(0.08, ge=0, description="electricity price per kWh (as supply.energy)")
    burn_in: Literal["busy", "idle", "off"] | None = Field(
        None, description="with a supply section, what delivered nodes draw until they enter service: busy "
        "(stress tests: busy_w per GPU + node_w), idle (idle_w + node_w) or off; absent: supply.energy.burn_in_power"
    )

    @field_validator("pue")
    @classmethod
    def _pue(cls, value):
        if isinstance(value, float | int) and not value >= 1:
            raise ValueError(f"a PUE is facility / IT power, at least 1; got {value:g}")
        return value

    @model_validator(mode="after")
    def _check(self) -> PowerConfig:
        for i, a in enumerate(self.windows):
            for j in range(i):
                if a.overlaps(self.windows[j]):
                    raise at_field(
                        f"windows[{i}]", f"overlaps windows[{j}] ({self.windows[j].name!r}); at most one window "
                        "may apply at any time"
                    )
        if self.windows and self.cap_mw is None:
            raise at_field("cap_mw", "windows lower or raise a base cap: give cap_mw too")
        if self.mode != "account" and self.cap_mw is None:
            raise at_field("cap_mw", f"mode `{self.mode}` needs a cap: give cap_mw (and optionally windows)")
        return self

    @property
    def caps_inference(self) -> bool:
        """Replicas may run power-capped: mode capping with an inference curve."""
        return self.mode == "capping" and self.capping.inference is not None

    def replica_booked_w(self, g: GpuPower) -> float:
        """Watts the gate books per replica GPU of type ``g``: ``inference_w``, or its lowest
        limit when replicas may run power-capped (the cap can always take them down to it)."""
        return g.replica_w * self.capping.inference_floor if self.caps_inference else g.replica_w

    # ----------------------------------------------------------------------------- calendar

    def month(self, t: float) -> int:
        return (self.start_date + timedelta(days=int(t // DAY))).month

    def pue_at(self, t: float) -> float:
        p = self.pue
        if not isinstance(p, PueProfile):
            return float(p)
        if p.hourly is not None:
            return float(p.hourly[int(t // HOUR) % 24])
        return float(p.monthly[self.month(t) - 1])

    def cap_at(self, t: float) -> float:
        """The facility cap in watts at ``t`` (inf when none)."""
        month = self.month(t)
        for w in self.windows:
            if w.applies(t, month):
                return round(w.cap_mw * 1e6)
        return math.inf if self.cap_mw is None else round(self.cap_mw * 1e6)

    def max_pue(self) -> float:
        p = self.pue
        if not isinstance(p, PueProfile):
            return float(p)
        return max(p.hourly or p.monthly)

    def varies(self) -> bool:
        """The cap or the PUE changes over time."""
        return isinstance(self.pue, PueProfile) or bool(self.windows)


def burn_in_state(sc) -> str:
    """What GPUs in burn-in draw: ``power.burn_in``, else ``supply.energy.burn_in_power``."""
    p = sc.power
    return p.burn_in or (sc.supply.energy.burn_in_power if sc.supply is not None else "busy")


def node_draws(g: GpuPower, per: int, down_node_w: float, burn_in: str) -> tuple[float, float]:
    """The most one node of ``per`` GPUs of ``g`` can draw without a job (in service: idle, or
    down if that draws more) and in burn-in (busy: every GPU at ``busy_w``; idle; off: 0)."""
    service = max(per * g.idle_w + g.node_w, down_node_w)
    burn = {"busy": per * g.busy_w + g.node_w, "idle": per * g.idle_w + g.node_w, "off": 0.0}[burn_in]
    return service, burn


def delivered_types(sc) -> dict[str, str]:
    """GPU types the facility may hold, each with the first field bringing it: the fleet at time
    zero and the type each order gets (``SupplyConfig.delivered_type``); rented ones are off-site."""
    out = {sc.cluster.gpu_type: "cluster.gpu_type"}
    s = sc.supply
    if s is None:
        return out
    for i, o in enumerate(s.orders):
        got = s.delivered_type(o, sc.cluster.gpu_type)
        if got is not None:
            out.setdefault(got, f"supply.orders[{i}].gpu_type")
    return out


def _supply_floor(sc) -> tuple[float, str]:
    """The most the owned fleet draws without jobs (IT W; module docstring; retirements are not
    subtracted: when they make room depends on drains), and a note of how it is made up."""
    p, s = sc.power, sc.supply
    state = burn_in_state(sc)
    own = sc.cluster.gpu_type
    service, _ = node_draws(p.gpu_types[own], sc.cluster.gpus_per_node, p.down_node_w, state)
    total = sc.cluster.nodes * service
    nodes = sc.cluster.nodes
    for o in s.orders:
        name = s.delivered_type(o, own)
        if name is not None:
            service, burn = node_draws(p.gpu_types[name], s.gpu_types[name].gpus_per_node, p.down_node_w, state)
            total += o.nodes * max(service, burn)
            nodes += o.nodes
    more = f", the {nodes - sc.cluster.nodes} ordered at their burn-in draw (any batches may be in burn-in at once);"
    return total, f"{nodes} nodes at full delivery, idle" + (more if state == "busy" and nodes > sc.cluster.nodes else "")


def check_power(sc) -> None:
    """Checks of ``sc.power`` against the rest of a Scenario (raise at_field ValueErrors)."""
    p = sc.power
    if p is None:
        return
    types = delivered_types(sc)
    for name, source in types.items():
        if name not in p.gpu_types:
            raise at_field("power.gpu_types", f"no power given for GPU type {name!r} ({source}); has: "
                           f"{', '.join(p.gpu_types)}")
    gpu_type = sc.cluster.gpu_type
    g = p.gpu_types[gpu_type]
    if sc.supply is not None:
        if sc.supply.start_date is not None and p.start_date != sc.supply.start_date:
            raise at_field("power.start_date", f"{p.start_date.isoformat()} differs from supply.start_date "
                           f"{sc.supply.start_date.isoformat()}: time 0 has one date; give the same")
        idle, how = _supply_floor(sc)
    else:
        idle = sc.cluster.nodes * (sc.cluster.gpus_per_node * g.idle_w + g.node_w)
        how = f"{sc.cluster.nodes} idle nodes"
    floor = idle * p.max_pue()
    caps = [("power.cap_mw", p.cap_mw)] + [(f"power.windows[{i}].cap_mw", w.cap_mw) for i, w in enumerate(p.windows)]
    for path, cap in caps:
        if cap is not None and cap * 1e6 < floor:
            raise at_field(
                path, f"{cap:g} MW is below the idle fleet's draw, {floor / 1e6:.3f} MW ({how} x PUE "
                f"{p.max_pue():g}): nothing could ever run"
            )
    if p.mode != "account":
        for i, svc in enumerate(sc.services or ()):
            if svc.autoscale.max_replicas is None:
                raise at_field(
                    f"services[{i}].autoscale.max_replicas", f"power mode `{p.mode}` books the power of every "
                    "replica a service may run (replicas keep full power and are never held): give max_replicas"
                )
        booked = sum(v.autoscale.max_replicas * v.gpus_per_replica for v in sc.services or ()) * (
            p.replica_booked_w(g) - g.idle_w)
        at = "at their lowest limit" if p.caps_inference else "at full power"
        for path, cap in caps:
            if booked and cap is not None and cap * 1e6 < floor + booked * p.max_pue():
                raise at_field(
                    path, f"{cap:g} MW does not hold the idle fleet ({floor / 1e6:.3f} MW) and every replica the "
                    f"services may run {at} (+{booked * p.max_pue() / 1e6:.3f} MW): no training job could start"
                )
        if sc.scheduler.policy.kind == "conservative":
            raise at_field("power.mode", f"{p.mode} works with the fifo, sjf and backfill policies, not conservative")
    if p.mode == "capping":
        for name in types:
            t = p.gpu_types[name]
            low = p.capping.floor * t.busy_w
            if low < t.idle_w:
                raise at_field(
                    "power.capping.training[0]", f"the lowest limit, {p.capping.floor:g} x busy_w = {low:g} W, is "
                    f"below the idle draw of {name} ({t.idle_w:g} W)"
                )
            low = p.capping.inference_floor * t.replica_w
            if p.caps_inference and low < t.idle_w:
                raise at_field(
                    "power.capping.inference[0]", f"the lowest limit, {p.capping.inference_floor:g} x inference_w = "
                    f"{low:g} W, is below the idle draw of {name} ({t.idle_w:g} W)"
                )
    if p.caps_inference:
        for i, svc in enumerate(sc.services or ()):
            lat = svc.latency
            if lat is not None and lat.request_level is not None:
                raise at_field(
                    f"services[{i}].latency.request_level", "request-level windows serve at full replica speed; "
                    "with power.capping.inference replicas may run slower: leave one of the two out"
                )
