"""Power capping's curves (``power.capping``): how much slower a power-capped GPU runs, for
training jobs and for inference replicas, and who throttles first (the engine side:
``engine.power_modes`` and ``engine.replica_power``).

A curve is pairs of [power limit as a fraction of the full draw, relative throughput],
ascending, ending at [1, 1]; its first point is the lowest limit the model uses.

Training (``training``, fractions of ``busy_w``; chosen defaults anchored at published
measurements): (1.0, 1.0), (0.85, 0.88), (0.7, 0.75), (0.5, 0.55). Anchors: capping an H100
SXM from 700 W to 600 W (0.86) costs transformer pretraining about 10-15% of step throughput
(factryze.ai, "Power capping", 2025); power-capping a transformer LM's training GPUs cut energy
by ~15% with a marginal rise in run time (McDonald et al., "Great Power, Great
Responsibility", NAACL Findings 2022, arXiv 2205.09646), i.e. throughput falls less than power
near the top of the range; below ~half of TDP clocks fall roughly in proportion to power. The
lowest point, 0.5, is above nvidia-smi's minimum limits (100 W of 400 W on an A100 SXM, 200 W
of 700 W on an H100 SXM).

Inference (``inference``, fractions of ``inference_w``): no default; absent, replicas keep full
power (POLCA, Patel et al., arXiv 2308.12908, ASPLOS '24: inference is the latency-critical,
lower-peak load that oversubscription should protect). Given, replicas may be capped, all to one
of the curve's points below 1 (a small menu of fleet-wide limits, as operators set them), by
``inference_order``: ``last`` (only the watts training cannot shed at its lowest limit) or
``first`` (before any training job). Published anchors for a curve: POLCA deploys 30% more
inference servers under the same power with minimal performance loss; Splitwise (Patel et al.,
ISCA '24) runs its token machines power-capped at 70% of a DGX-H100's rated power (splitwise-sim
``configs/hardware_repo/skus/dgx-h100-pcap.yaml``: 7,140 of 10,200 W), and its measurements
(``data/perf_model.csv`` @378088013a54, Llama-2-70B, TP 8; the source of
``config.profiles``) put decode iterations at that cap within ~1% of the uncapped H100
profile (29.7 ms at batch 1 in both; 50 vs 49.6 ms at batch 64) and prefills 15-27% slower
(1,024 tokens: 101 vs 84 ms; 2,048: 178 vs 153 ms; 8,192: 1.10 vs 0.86 s): about 0.92 of full
throughput for the Azure conversation mix, whose prefills take ~40% of a full replica's time.
The example curve of README.md's power section, [[0.5, 0.7], [0.7, 0.92], [1, 1]], takes 0.92
at 0.7 from that and chooses 0.7 at 0.5.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from clustersim.config.base import Frozen, at_field

TRAINING_CURVE = ((0.5, 0.55), (0.7, 0.75), (0.85, 0.88), (1.0, 1.0))


class CappingConfig(Frozen):
    """How ``mode: capping`` throttles: the power-performance curves and who slows first."""

    training: list[tuple[float, float]] = Field(
        default_factory=lambda: list(TRAINING_CURVE),
        description="power-performance curve of training GPUs: [power limit as a fraction of busy_w, relative "
        "throughput] pairs, ascending, ending at [1, 1]; the first is the lowest limit (default: module docstring)",
    )
    order: Literal["smallest_first", "largest_first", "even"] = Field(
        "smallest_first", description="which training jobs throttle first: smallest_first (the largest gangs "
        "last, as a gang runs at its slowest GPU), largest_first, or even (every training GPU to one limit)"
    )
    inference: list[tuple[float, float]] | None = Field(
        None,
        description="power-performance curve of inference replicas: [power limit as a fraction of inference_w, "
        "relative throughput] pairs as `training`; replicas are capped only at these points, all to one (absent: "
        "replicas keep full power; a curve: module docstring)",
    )
    inference_order: Literal["last", "first"] = Field(
        "last", description="with an inference curve, when replicas throttle: last (only the watts training "
        "cannot shed at its lowest limit) or first (replicas before any training job)",
    )

    @field_validator("training", "inference")
    @classmethod
    def _curve(cls, value):
        if value is None:
            return value
        if len(value) < 2:
            raise ValueError("give at least two [power fraction, throughput] points")
        for i, (f, s) in enumerate(value):
            if not (0 < f <= 1 and 0 < s <= 1):
                raise ValueError(f"point {i} {[f, s]}: power fraction and throughput are in (0, 1]")
            if i and not (f > value[i - 1][0] and s >= value[i - 1][1]):
                raise ValueError(f"point {i} {[f, s]}: power fractions must rise and throughput must not fall")
        if tuple(value[-1]) != (1.0, 1.0):
            raise ValueError(f"the last point must be [1, 1] (full power, full speed), got {list(value[-1])}")
        return value

    @model_validator(mode="after")
    def _order_needs_curve(self) -> CappingConfig:
        if self.inference is None and "inference_order" in self.model_fields_set:
            raise at_field("inference_order", "replicas keep full power without an `inference` curve: give one, "
                           "or leave inference_order out")
        return self

    @property
    def floor(self) -> float:
        """The lowest power limit, as a fraction of busy_w."""
        return float(self.training[0][0])

    @property
    def inference_floor(self) -> float:
        """The lowest power limit of a replica GPU, as a fraction of inference_w (1.0 without a curve)."""
        return 1.0 if self.inference is None else float(self.inference[0][0])

    def speed(self, fraction: float) -> float:
        """Relative throughput at a power limit of ``fraction`` x busy_w (linear between points)."""
        return _on_curve(self.training, fraction)

    def inference_speed(self, fraction: float) -> float:
        """Relative throughput of a replica at a limit of ``fraction`` x inference_w."""
        return 1.0 if self.inference is None else _on_curve(self.inference, fraction)

    def inference_limit(self, shed: float) -> float:
        """The replicas' limit that sheds a share ``shed`` of their full draw: the highest point
        of the inference curve at or below 1 - ``shed`` (the lowest if none is); 1.0 for none."""
        if shed <= 0:
            return 1.0
        limit = float(self.inference[0][0])
        for f, _ in self.inference[:-1]:
            if f <= 1.0 - shed:
                limit = float(f)
        return limit


def _on_curve(pts, fraction: float) -> float:
    """A curve's relative throughput at a power limit of ``fraction`` (linear between points)."""
    if fraction >= 1.0:
        return 1.0
    for (f0, s0), (f1, s1) in zip(pts, pts[1:], strict=False):
        if fraction <= f1:
            return s0 + (s1 - s0) * (max(fraction, f0) - f0) / (f1 - f0)
    return 1.0
