"""Inference services (calibration.md sections 4 and 7e): demand curves, autoscaling, and how
replicas share the fleet with training (priority, preemption, reserved nodes).

Defaults and where they come from:

- ``hourly``: none (constant). ``DEEPSEEK_HOURLY`` is the DeepSeek V3/R1 hourly token-volume
  profile (calibration 4, digitized, normalized to peak; trough/peak 0.21, mean/peak 0.75),
  the diurnal shape 7e proposes for consumer chat.
- ``weekend_factor`` 1.0 (7e proposes 0.7 for chat; Azure 2024 conversation -43%).
- ``noise`` 0 (7e proposes ±10% day-to-day): one multiplicative draw per day and service.
- ``autoscale.headroom`` 0.2 (7e: "20% headroom"); ``startup`` 15 min (7e: scale-up lead
  time 10-30 min, model load + warm-up); ``cooldown`` 30 min (chosen: no source).
- ``rps_per_replica`` has no default: 7e gives 40 req/s per 8-GPU H800/H100 replica and
  15 req/s per 8-GPU A100/A800 replica of a 70B dense model. With a ``latency`` section it
  may be left out: it is then the profile's saturation throughput (``LatencyConfig.capacity``).
- ``latency`` (:mod:`.latency`): none (no latency model; results as before it existed).
- ``autoscale.target`` ``utilisation`` (the rule above); ``slo``: the fewest replicas whose
  predicted latency meets ``latency.slo`` at demand x (1 + headroom).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from clustersim.config.base import MAX_REPLICAS, Frozen, at_field, resolve_path
from clustersim.config.distributions import Duration
from clustersim.config.latency import LatencyConfig

# calibration 4 / 7e: DeepSeek hourly profile, hours 00..23 (UTC+8), normalized to the peak.
DEEPSEEK_HOURLY = (
    0.70, 0.58, 0.42, 0.26, 0.21, 0.21, 0.26, 0.44, 0.74, 0.95, 0.98, 0.96,
    0.87, 0.91, 0.98, 0.99, 0.98, 0.90, 0.87, 0.95, 0.99, 0.99, 1.00, 0.96,
)


class DemandConfig(Frozen):
    """Requests per second over time: a curve (``base_rps`` and optional modifiers) or a request
    log (``trace``), as a step function. Time 0 is midnight of a Monday."""

    base_rps: float | None = Field(
        None, ge=0, description="requests per second at multiplier 1 (alone: constant demand)"
    )
    hourly: list[float] | None = Field(
        None, description="24 multipliers, one per hour of the day from 00:00 (e.g. the DeepSeek profile, calibration 4)"
    )
    weekend_factor: float = Field(1.0, ge=0, description="multiplier on Saturdays and Sundays (days 5 and 6 of each week); 7e: 0.7")
    noise: float = Field(
        0.0, ge=0, le=1,
        description="day-to-day noise: each day's demand is x max(0, 1 + noise * z), z standard normal, "
        "one draw per day from stream services.<name>.noise (7e: 0.1)",
    )
    growth_per_month: float = Field(
        0.0, gt=-1, description="growth: demand x (1 + g)^(t / 30 days), applied per step"
    )
    trace: Annotated[Path | None, BeforeValidator(resolve_path)] = Field(
        None,
        description="request log instead of a curve: CSV with a TIMESTAMP column (one row per request, "
        "e.g. the Azure LLM 2023 traces), relative to the scenario file",
    )
    bin: Duration = Field(300.0, description="bin width of a request log: its demand resolution (default 5 min)")
    scale: float = Field(1.0, gt=0, description="multiplier on a request log's rate")
    repeat: bool = Field(True, description="replay a request log from its start when it ends (else demand 0 after it)")

    @field_validator("hourly")
    @classmethod
    def _hourly(cls, value):
        if value is None:
            return value
        if len(value) != 24:
            raise ValueError(f"expected 24 hourly multipliers (hours 0-23), got {len(value)}")
        bad = [i for i, v in enumerate(value) if not (v >= 0) or math.isinf(v)]
        if bad:
            raise ValueError(f"multipliers must be finite and >= 0; hour {bad[0]} is {value[bad[0]]}")
        return value

    @field_validator("bin")
    @classmethod
    def _bin(cls, value):
        if not value > 0:
            raise ValueError("bin must be > 0")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DemandConfig:
        if (self.base_rps is None) == (self.trace is None):
            raise ValueError("give exactly one of `base_rps` (a demand curve) or `trace` (a request log)")
        return self

    @property
    def resolution(self) -> float:
        """Seconds between demand steps (inf: constant)."""
        if self.trace is not None:
            return self.bin
        if self.hourly is not None or self.growth_per_month != 0:
            return 3600.0
        if self.noise > 0 or self.weekend_factor != 1.0:
            return 86400.0
        return math.inf


class AutoscaleConfig(Frozen):
    """Replicas = clamp(ceil(demand x (1 + headroom) / rps_per_replica), min, max), acted on at
    every demand step (and when a replica is lost); never on a fixed tick. With ``target:
    slo``, the fewest replicas whose predicted latency meets the SLO at demand x (1 + headroom)."""

    target: Literal["utilisation", "slo"] = Field(
        "utilisation", description="utilisation: demand x (1 + headroom) / rps_per_replica; slo: the fewest replicas "
        "meeting latency.slo at demand x (1 + headroom)",
    )
    headroom: float = Field(0.2, ge=0, description="spare capacity above demand (7e: 20%)")
    min_replicas: int = Field(1, ge=0, le=MAX_REPLICAS, description="never fewer replicas than this")
    max_replicas: int | None = Field(
        None, ge=0, description=f"never more than this (none: the limit of a run, {MAX_REPLICAS:,} replicas)"
    )
    startup: Duration = Field(900.0, description="model load + warm-up before a new replica serves (7e: 10-30 min)")
    cooldown: Duration = Field(
        1800.0, description="demand must stay below the replicas' need this long before scaling in (chosen)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscaleConfig:
        if self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise at_field(
                "min_replicas", f"min_replicas ({self.min_replicas}) is larger than max_replicas ({self.max_replicas})"
            )
        if self.startup < 0 or self.cooldown < 0:
            raise at_field("startup" if self.startup < 0 else "cooldown", "must be >= 0")
        return self


class ServiceConfig(Frozen):
    """An inference service: replicas of ``gpus_per_replica`` GPUs, each serving ``rps_per_replica``."""

    name: str = Field(min_length=1, description="service name")
    gpus_per_replica: int = Field(
        8, ge=1, description="GPUs of one replica: up to a node, or whole nodes (7e: one 8-GPU node for a 70B dense model)"
    )
    rps_per_replica: float | None = Field(
        None, gt=0, description="requests per second one replica serves within its latency target (7e: 15 on A100, "
        "40 on H100); with `latency`, default the profile's saturation throughput",
    )
    demand: DemandConfig = Field(description="requests per second over time")
    autoscale: AutoscaleConfig = Field(default_factory=AutoscaleConfig, description="replica count control")
    latency: LatencyConfig | None = Field(
        None, description="request model, replica profile, routing and SLO: predicted latency per step (absent: none)"
    )

    @model_validator(mode="after")
    def _latency(self) -> ServiceConfig:
        lat = self.latency
        if lat is None:
            if self.rps_per_replica is None:
                raise at_field("rps_per_replica", "give rps_per_replica (or a `latency` section with a replica profile)")
            if self.autoscale.target == "slo":
                raise at_field("autoscale.target", f"service {self.name!r}: target slo needs a `latency` section with an `slo`")
            return self
        if self.autoscale.target == "slo" and lat.slo is None:
            raise at_field("autoscale.target", f"service {self.name!r}: target slo needs latency.slo")
        problem = lat.slo_problem()
        if problem is not None:
            raise at_field(f"latency.{problem[0]}", f"service {self.name!r}: {problem[1]}")
        if self.rps_per_replica is None:  # frozen: set once, while validating
            object.__setattr__(self, "rps_per_replica", lat.capacity())
        return self


class InferenceConfig(Frozen):
    """How services share the fleet with training."""

    reserved_nodes: int = Field(0, ge=0, description="nodes kept for inference only (default 0: one shared fleet)")
    victims: Literal["least_lost", "smallest", "newest"] = Field(
        "least_lost",
        description="which preemptible training jobs a replica evicts first: least work lost since the last "
        "checkpoint (GPU-seconds), smallest (GPUs), or newest (latest segment start)",
    )
    trace_preemptible: bool = Field(False, description="trace jobs may be preempted (synthetic: per class `preemptible`)")
