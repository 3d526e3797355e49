"""Checkpoint/restart arithmetic: how long a run segment takes and what a failure costs.

A job needs ``work`` seconds of progress at full speed. With checkpointing every ``interval``
seconds of progress at a blocking cost ``cost`` each, and ``restart`` seconds of reload and
warm-up at the start of every segment after the first, a segment that completes ``remaining``
seconds of work takes::

    restart + remaining + cost * (ceil(remaining / interval) - 1)

(no checkpoint is written after the last piece of work). A segment interrupted after
``elapsed`` wall seconds has written ``k = floor((elapsed - restart) / (interval + cost))``
checkpoints: ``k * interval`` seconds of work are saved, the progress since the last completed
checkpoint is lost. Pure functions, no SimPy: the engine calls them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_INTERVAL_S = 300.0  # Young's interval is clamped to [5 min, 3 h] (calibration 7c)
MAX_INTERVAL_S = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class Plan:
    """A job's checkpoint plan: interval (s of work; inf = never), cost and restart (s)."""

    interval: float
    cost: float
    restart: float

    def segment_wall(self, remaining: float, restarting: bool) -> float:
        """Wall time to complete ``remaining`` seconds of work in one uninterrupted segment."""
        wall = remaining
        if remaining > 0 and math.isfinite(self.interval):
            wall += self.cost * max(0, math.ceil(remaining / self.interval) - 1)
        if restarting:
            wall += self.restart
        return wall


@dataclass(frozen=True, slots=True)
class Split:
    """Where the wall time of an interrupted segment went (all in seconds of wall time)."""

    restart: float  # reloading and warming up
    checkpoint: float  # blocked writing checkpoints (a checkpoint cut short included)
    saved: float  # work made safe by a completed checkpoint
    unsaved: float  # work since the last completed checkpoint (lost on failure)


def split(plan: Plan, elapsed: float, restarting: bool) -> Split:
    """Account for ``elapsed`` seconds of a segment that has not completed its work."""
    restart = min(elapsed, plan.restart) if restarting else 0.0
    progress_wall = max(0.0, elapsed - restart)
    if not math.isfinite(plan.interval):
        return Split(restart, 0.0, 0.0, progress_wall)
    cycle = plan.interval + plan.cost
    k = math.floor(progress_wall / cycle)
    rem = progress_wall - k * cycle
    return Split(
        restart=restart,
        checkpoint=k * plan.cost + max(0.0, rem - plan.interval),
        saved=k * plan.interval,
        unsaved=min(rem, plan.interval),
    )


def young_interval(cost: float, mttf: float) -> float:
    """Young's optimal checkpoint interval sqrt(2 * cost * MTTF), clamped to [5 min, 3 h]."""
    if cost <= 0 or not math.isfinite(mttf):
        return MAX_INTERVAL_S
    return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, math.sqrt(2.0 * cost * mttf)))


def first_order_ettr(interval: float, cost: float, restart: float, detection: float, mttf: float) -> float:
    """Expected effective-training-time ratio to first order:
    1 - cost/interval - (interval/2 + restart + detection) / MTTF."""
    return 1.0 - cost / interval - (interval / 2.0 + restart + detection) / mttf
