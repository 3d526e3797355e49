"""Workload replay: a trace's native jobs, shaped, and compared with its recorded waits.

The trace is read by ``clustersim.workload.sources.load_any`` (any supported format).
``shape`` applies load shaping in a documented order, every random choice from a named stream:

1. filters: ``min_gpus <= num_gpus <= max_gpus`` and ``job_class in classes``;
2. window ``[start, end)`` on submit time, then shifted so the window starts at 0;
3. time scale ``x``: submit times (and recorded starts) are multiplied by ``x``
   (``x < 1`` compresses arrivals and raises the load; durations are unchanged; ``x`` from
   1e-6 to 1e6);
4. load scale ``y``: ``y < 1`` keeps each job with probability ``y`` (stream
   ``replay.thin``); ``y > 1`` submits ``floor(y)`` copies of every job plus one more with
   probability ``y - floor(y)`` (stream ``replay.replicate``); copies share the original's
   submit time and get ids ``<id>#<k>``; ``y`` at most 1,000.

``recorded_waits`` gives the trace's own waits (recorded start − submit) with the same keys
as the simulated ``wait_s``, for traces that recorded start times. A recorded start before
the submit time is no recorded wait (NaN), not a negative one nor zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clustersim.errors import ClusterSimError
from clustersim.rng import Streams

MIN_TIME_SCALE, MAX_TIME_SCALE = 1e-6, 1e6  # submit times x X
MAX_LOAD_SCALE = 1000.0  # copies of every job


@dataclass(frozen=True)
class Shaping:
    """Load shaping applied to a trace before replay (see the module docstring)."""

    window: tuple[float, float] | None = None
    time_scale: float = 1.0
    load_scale: float = 1.0
    min_gpus: int | None = None
    max_gpus: int | None = None
    classes: tuple[str, ...] = ()

    def __post_init__(self):
        if not MIN_TIME_SCALE <= self.time_scale <= MAX_TIME_SCALE:
            raise ClusterSimError(
                f"--time-scale must be a number from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g}, got {self.time_scale}"
            )
        if not 0 < self.load_scale <= MAX_LOAD_SCALE:
            raise ClusterSimError(
                f"--load-scale must be a number > 0 and at most {MAX_LOAD_SCALE:g}, got {self.load_scale}"
            )
        if self.window is not None and not self.window[0] < self.window[1]:
            raise ClusterSimError(f"--window START:END needs START < END, got {self.window}")


def parse_window(text: str | None) -> tuple[float, float] | None:
    """``"2d:9d"`` -> (172800.0, 777600.0); either side may be empty (0 / infinity)."""
    from clustersim.units import parse_duration

    if not text:
        return None
    if ":" not in text:
        raise ClusterSimError(f"--window expects START:END (e.g. 2d:9d), got {text!r}")
    lo, hi = text.split(":", 1)
    try:
        start = parse_duration(lo) if lo.strip() else 0.0
        end = parse_duration(hi) if hi.strip() else math.inf
    except ValueError as err:
        raise ClusterSimError(f"--window {text!r}: {err}") from None
    return (start, end)


def shape(frame, shaping: Shaping, streams: Streams):
    """A new native frame with ``shaping`` applied (the input is not modified)."""
    import pandas as pd

    out = frame
    if shaping.min_gpus is not None:
        out = out[out["num_gpus"] >= shaping.min_gpus]
    if shaping.max_gpus is not None:
        out = out[out["num_gpus"] <= shaping.max_gpus]
    if shaping.classes:
        out = out[out["job_class"].isin(shaping.classes)]
    out = out.copy()
    if shaping.window is not None:
        start, end = shaping.window
        out = out[(out["submit_s"] >= start) & (out["submit_s"] < end)].copy()
        out["submit_s"] -= start
        out["recorded_start_s"] -= start
    if shaping.time_scale != 1.0:
        out["submit_s"] *= shaping.time_scale
        out["recorded_start_s"] *= shaping.time_scale
    y = shaping.load_scale
    if y < 1.0:
        keep = streams("replay.thin").random(len(out)) < y
        out = out[keep]
    elif y > 1.0:
        whole = int(math.floor(y))
        extra = streams("replay.replicate").random(len(out)) < (y - whole)
        copies = np.full(len(out), whole) + extra
        idx = np.repeat(np.arange(len(out)), copies)
        rank = np.concatenate([np.arange(c) for c in copies]) if len(copies) else np.array([], int)
        out = out.iloc[idx].copy()
        ids = out["job_id"].astype(str).to_numpy()
        out["job_id"] = np.where(rank == 0, ids, np.char.add(np.char.add(ids.astype(str), "#"), rank.astype(str)))
    out = out.sort_values(["submit_s"], kind="stable", ignore_index=True)
    return pd.DataFrame(out)


def recorded_waits(frame, warmup: float, horizon: float) -> dict | None:
    """Wait statistics the trace itself recorded (jobs submitted in [warmup, horizon) with a
    recorded start), with the same keys as the simulated ``wait_s``; None if it recorded none."""
    from clustersim.results.summary import WAIT_KEYS, stats

    rec = frame["recorded_start_s"].to_numpy(float)
    sub = frame["submit_s"].to_numpy(float)
    mask = ~np.isnan(rec) & (rec >= sub) & (sub >= warmup) & (sub < horizon)
    if not mask.any():
        return None
    waits = stats(rec[mask] - sub[mask], WAIT_KEYS)
    waits["jobs"] = int(mask.sum())
    return waits


def demand_peak(frame, gpus_per_node: int) -> tuple[float, float]:
    """(mean, peak) GPUs the trace asks for if every job started at submit."""
    sub = frame["submit_s"].to_numpy(float)
    end = sub + frame["duration_s"].to_numpy(float)
    g = frame["num_gpus"].to_numpy(float)
    if len(sub) == 0:
        return 0.0, 0.0
    times = np.concatenate([sub, end])
    deltas = np.concatenate([g, -g])
    order = np.lexsort((deltas, times))  # releases before starts at the same instant
    level = np.cumsum(deltas[order])
    span = max(float(end.max() - sub.min()), 1.0)
    mean = float(np.sum(g * (end - sub))) / span
    return mean, float(level.max())


def annotate(result, frame, trace=None) -> None:
    """Add the trace's recorded waits to a replay's result: ``jobs.recorded_wait_s`` and
    ``summary.recorded`` (and ``summary.trace``: what was read and what was left out)."""
    import pandas as pd

    sc = result.scenario
    rec = frame["recorded_start_s"].to_numpy(float) - frame["submit_s"].to_numpy(float)
    rec = np.where(rec >= 0, rec, np.nan)  # a start before the submit: no recorded wait
    by_id = pd.Series(rec, index=frame["job_id"].astype(str).to_numpy())
    by_id = by_id[~by_id.index.duplicated()]
    ids = result.jobs["job_id"].astype(str)
    result.jobs["recorded_wait_s"] = by_id.reindex(ids.to_numpy()).to_numpy(float)
    recorded = recorded_waits(frame, sc.warmup, sc.horizon)
    if recorded is not None:
        result.summary["recorded"] = recorded
    if trace is not None:
        rejected = trace.rejected
        result.summary["trace"] = {
            "source": trace.source,
            "format": trace.format,
            "rows_used": int(len(frame)),
            "rows_rejected": int(len(rejected)),
            "rejected_by_reason": {str(k): int(v) for k, v in rejected["reason"].value_counts().sort_index().items()},
            "notes": [str(n) for n in trace.notes],
        }
