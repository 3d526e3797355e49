"""Workload configuration: synthetic job classes or a trace file.

A class's arrivals are Poisson at ``arrival_rate_per_h``, or a non-homogeneous Poisson process
when it has an arrival pattern: ``hourly`` (24) and ``weekday`` (7) multipliers and ``growth``
(time 0 is midnight of a Monday, as for services). ``workload.growth`` applies to every class
without a ``growth`` of its own: it is copied into those classes when the scenario is loaded.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from clustersim.config.base import Frozen, resolve_path
from clustersim.config.distributions import Distribution
from clustersim.config.failures import CheckpointConfig

DAY = 86400.0
MONTH = 30 * DAY  # as inference demand (``services[].demand.growth_per_month``)
YEAR = 365 * DAY
_GROWTH = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(%?)\s*"
    r"(?:/\s*(yr|year|y|a|mo|month|m|wk|week|w|d|day))?\s*$"
)
_PER = {"yr": YEAR, "year": YEAR, "y": YEAR, "a": YEAR, "mo": MONTH, "month": MONTH, "m": MONTH,
        "wk": 7 * DAY, "week": 7 * DAY, "w": 7 * DAY, "d": DAY, "day": DAY}


def parse_growth(value: Any) -> float:
    """A growth rate as a fraction per year: ``0.4``, ``40%``, ``40%/yr``, ``3%/mo``, ``1%/wk``.

    A plain number or a bare percentage is per year; ``/mo`` is per 30 days, compounded
    (3%/mo = 1.03^(365/30) - 1 per year). Refuses -100% and below (rates cannot go negative).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a growth rate such as 40%/yr, 3%/mo or 0.4, got {value!r}")
    if isinstance(value, int | float):
        number, per = float(value), YEAR
    elif isinstance(value, str):
        m = _GROWTH.match(value)
        if m is None:
            raise ValueError(f"expected a growth rate such as 40%/yr, 3%/mo or 0.4, got {value!r}")
        number = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
        per = _PER[m.group(3)] if m.group(3) else YEAR
    else:
        raise ValueError(f"expected a growth rate such as 40%/yr, 3%/mo or 0.4, got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"growth must be finite, got {value!r}")
    if number <= -1.0:
        raise ValueError("growth must be more than -100% (a rate cannot fall below zero)")
    return math.expm1(math.log1p(number) * YEAR / per)


GrowthRate = Annotated[
    float,
    BeforeValidator(parse_growth),
    Field(description="a fraction per year (0.4), or 40%/yr, 3%/mo (30 days), 1%/wk; more than -100%"),
]


def _growth_shorthand(value: Any) -> Any:
    return {"rate": value} if isinstance(value, int | float | str) and not isinstance(value, bool) else value


class Growth(Frozen):
    """Growth of a workload over time (compounded, continuous in time)."""

    rate: GrowthRate = Field(
        0.0, description="arrival-rate growth per year: rate(t) = rate(0) x (1 + rate)^(t / 365 d)"
    )
    size_shift: GrowthRate = Field(
        0.0,
        description="shift of the size mix per year: a job of 2g GPUs becomes (1 + size_shift) times "
        "as likely, relative to one of g GPUs, each year (across and within classes); the "
        "base-rate-weighted job count still follows `rate`",
    )

    @property
    def active(self) -> bool:
        return self.rate != 0.0 or self.size_shift != 0.0


def _resolve_file(value: Any, info: ValidationInfo) -> Any:
    """An empirical distribution's file, relative to the scenario file (as a trace's is); a
    bare duration is a fixed one."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    if isinstance(value, dict) and value.get("kind") == "empirical" and isinstance(value.get("file"), str | Path):
        return {**value, "file": resolve_path(value["file"], info)}
    return value


def _multipliers(value: list[float] | None, n: int, what: str) -> list[float] | None:
    if value is None:
        return value
    if len(value) != n:
        raise ValueError(f"expected {n} {what} multipliers, got {len(value)}")
    bad = [i for i, v in enumerate(value) if not (v >= 0) or math.isinf(v)]
    if bad:
        raise ValueError(f"multipliers must be finite and >= 0; item {bad[0]} is {value[bad[0]]}")
    if sum(value) <= 0:
        raise ValueError(f"the {what} multipliers are all 0: no job would ever arrive")
    return value


def _gpus_shorthand(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {value: 1.0}
    return value


class JobClass(Frozen):
    """A stream of jobs: Poisson arrivals (non-homogeneous with a pattern), a GPU-count
    distribution, a duration distribution."""

    name: str = Field(min_length=1, description="class name, used in reports")
    arrival_rate_per_h: float = Field(
        ge=0, description="mean arrivals per hour (Poisson); with hourly/weekday multipliers, the mean "
        "over a week at time 0"
    )
    gpus: Annotated[dict[int, float], BeforeValidator(_gpus_shorthand)] = Field(
        description="a GPU count, or a map from GPU count to probability (sums to 1)"
    )
    duration: Distribution = Field(
        description="run time on a GPU type of speed 1.0 (on speed s it takes duration / s): a duration, "
        "or {kind: exponential|lognormal|empirical, ...}"
    )
    duration_by_gpus: dict[int, Distribution] | None = Field(
        None,
        description="run time by GPU count, for counts whose durations differ from the class's (e.g. "
        "fitted from a trace where larger jobs run longer); other counts use `duration`",
    )
    checkpoint: CheckpointConfig | None = Field(
        None, description="checkpointing of this class (default: failures.checkpoint); used only with failures"
    )
    preemptible: bool = Field(
        False, description="inference replicas may preempt running jobs of this class (they requeue)"
    )
    gpu_type: str = Field(
        "any",
        min_length=1,
        description="GPU type the jobs must run on (a name from supply.gpu_types, or cluster.gpu_type), "
        "or `any`; a gang job always runs on one type",
    )
    hourly: list[float] | None = Field(
        None,
        description="24 arrival-rate multipliers, hours 00-23 (time 0 is midnight of a Monday); relative: "
        "divided by their mean, so arrival_rate_per_h stays the mean rate",
    )
    weekday: list[float] | None = Field(
        None, description="7 arrival-rate multipliers, Monday first; relative, like hourly"
    )
    growth: Annotated[Growth | None, BeforeValidator(_growth_shorthand)] = Field(
        None, description="this class's growth (a rate such as 40%/yr, or {rate, size_shift}); "
        "default: workload.growth"
    )

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_file(cls, value, info: ValidationInfo):
        return _resolve_file(value, info)

    @field_validator("duration_by_gpus", mode="before")
    @classmethod
    def _by_gpus_files(cls, value, info: ValidationInfo):
        if isinstance(value, dict):
            return {k: _resolve_file(v, info) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _by_gpus_known(self) -> JobClass:
        extra = sorted(set(self.duration_by_gpus or {}) - set(self.gpus))
        if extra:
            raise ValueError(
                f"duration_by_gpus has GPU count(s) {', '.join(map(str, extra))} that `gpus` does not "
                f"list ({', '.join(map(str, self.gpus))})"
            )
        return self

    @field_validator("hourly")
    @classmethod
    def _hourly_valid(cls, value):
        return _multipliers(value, 24, "hourly")

    @field_validator("weekday")
    @classmethod
    def _weekday_valid(cls, value):
        return _multipliers(value, 7, "weekday")

    @property
    def patterned(self) -> bool:
        """Arrivals vary in time (hourly, weekday or growth): generated by thinning."""
        return self.hourly is not None or self.weekday is not None or (
            self.growth is not None and self.growth.active
        )

    @field_validator("gpus")
    @classmethod
    def _gpus_valid(cls, value: dict[int, float]) -> dict[int, float]:
        if not value:
            raise ValueError("expected at least one GPU count")
        for count, prob in value.items():
            if count < 1:
                raise ValueError(f"GPU counts must be >= 1, got {count}")
            if not (prob >= 0) or math.isinf(prob):
                raise ValueError(f"probabilities must be >= 0, got {prob} for {count} GPUs")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, got {total:g}")
        return dict(sorted(value.items()))

    @property
    def mean_gpus(self) -> float:
        return sum(c * p for c, p in self.gpus.items())


TraceFormat = Literal["native", "auto", "itp", "alibaba2023", "pai2020", "philly", "helios", "acme", "swf"]


class WorkloadConfig(Frozen):
    """Either synthetic ``classes`` or a ``trace`` file; exactly one of the two."""

    classes: list[JobClass] | None = Field(None, description="synthetic job classes")
    trace: Annotated[Path | None, BeforeValidator(resolve_path)] = Field(
        None, description="path to a trace file, relative to the scenario file"
    )
    format: TraceFormat = Field("native", description="trace format (see `clustersim replay`)")
    growth: Annotated[Growth | None, BeforeValidator(_growth_shorthand)] = Field(
        None,
        description="growth of every class without its own: a rate such as 40%/yr, or {rate, size_shift} "
        "(synthetic classes only; fit a trace first with `clustersim fit`)",
    )

    @model_validator(mode="before")
    @classmethod
    def _growth_into_classes(cls, data: Any) -> Any:
        """Copy ``growth`` into every class that has none (so each class is self-contained)."""
        if not isinstance(data, dict) or data.get("growth") is None or not isinstance(data.get("classes"), list):
            return data
        try:  # an invalid growth is reported once, on workload.growth itself
            Growth.model_validate(_growth_shorthand(data["growth"]))
        except (ValueError, TypeError):
            return data
        classes = []
        for c in data["classes"]:
            if isinstance(c, dict) and c.get("growth") is None:
                c = {**c, "growth": data["growth"]}
            elif isinstance(c, JobClass) and c.growth is None:
                c = c.model_copy(update={"growth": Growth.model_validate(_growth_shorthand(data["growth"]))})
            classes.append(c)
        return {**data, "classes": classes}

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadConfig:
        if (self.classes is None) == (self.trace is None):
            raise ValueError("give exactly one of `classes` or `trace`")
        if self.trace is not None and self.growth is not None:
            raise ValueError(
                "`growth` applies to synthetic classes, not to a trace: fit the trace into classes "
                "first (`clustersim fit TRACE --grow 40%/yr`), or scale it with `clustersim replay --load-scale`"
            )
        if self.classes is not None:
            if not self.classes:
                raise ValueError("`classes` is empty: give at least one job class")
            names = [c.name for c in self.classes]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"class names must be unique, repeated: {', '.join(dupes)}")
        return self


