"""Workload configuration: synthetic job classes or a trace file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from clustersim.config.base import Frozen, resolve_path
from clustersim.config.distributions import Distribution
from clustersim.config.failures import CheckpointConfig


def _gpus_shorthand(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {value: 1.0}
    return value


class JobClass(Frozen):
    """A stream of jobs: Poisson arrivals, a GPU-count distribution, a duration distribution."""

    name: str = Field(min_length=1, description="class name, used in reports")
    arrival_rate_per_h: float = Field(ge=0, description="mean arrivals per hour (Poisson)")
    gpus: Annotated[dict[int, float], BeforeValidator(_gpus_shorthand)] = Field(
        description="a GPU count, or a map from GPU count to probability (sums to 1)"
    )
    duration: Distribution = Field(
        description="run time on a GPU type of speed 1.0 (on speed s it takes duration / s): a duration, "
        "or {kind: exponential|lognormal|empirical, ...}"
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

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadConfig:
        if (self.classes is None) == (self.trace is None):
            raise ValueError("give exactly one of `classes` or `trace`")
        if self.classes is not None:
            if not self.classes:
                raise ValueError("`classes` is empty: give at least one job class")
            names = [c.name for c in self.classes]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"class names must be unique, repeated: {', '.join(dupes)}")
        return self


