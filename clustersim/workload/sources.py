"""Where a scenario's jobs come from: its synthetic classes, or a trace file in any format.

:func:`scenario_jobs` is the engine's one entry point: the scenario's workload as a JobSpec
stream in submit order. :func:`load_any` reads a trace file in the native format
(:mod:`.native`) or any adapter format (:mod:`.adapters`) into an ``AdaptedTrace``;
``auto`` detects native headers first, then the adapters' formats. The adapters (pandas,
pyarrow) are imported only when a trace is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clustersim.config import Scenario
from clustersim.config.base import MAX_JOBS
from clustersim.errors import ScenarioError, TraceError
from clustersim.model import JobSpec
from clustersim.rng import Streams
from clustersim.workload.native import NATIVE_REQUIRED, read_native, trace_jobs
from clustersim.workload.synthetic import ArrivalRate, SizeShift, synthetic_jobs

MAX_CANDIDATES = 10 * MAX_JOBS  # arrivals a patterned class may draw before thinning

if TYPE_CHECKING:
    from clustersim.workload.adapters import AdaptedTrace


def scenario_jobs(scenario: Scenario, streams: Streams) -> Iterator[JobSpec]:
    """The scenario's workload as a JobSpec stream in submit order."""
    wl = scenario.workload
    if wl.classes is not None:
        check_workload(scenario)
        return synthetic_jobs(wl.classes, streams, scenario.horizon)
    frame, _rejected = load_trace(wl.trace, wl.format, strict=True)
    return trace_jobs(frame)


def check_workload(scenario: Scenario, source: str | None = None) -> None:
    """Refuse synthetic classes whose arrivals a run could not draw: a class with an arrival
    pattern is drawn by thinning candidates at its peak rate, and at most ``MAX_CANDIDATES``
    of them fit in a run. Raises ``ScenarioError`` naming the class (``source``: the file)."""
    classes = scenario.workload.classes or []
    shift = None
    for i, cls in enumerate(classes):
        if cls.arrival_rate_per_h <= 0 or not (cls.patterned or cls.duration_by_gpus):
            continue
        try:
            shift = shift or SizeShift(classes)
            candidates = ArrivalRate(cls, scenario.horizon, shift).bound * scenario.horizon
        except (ArithmeticError, ValueError):
            candidates = math.inf
        if not candidates <= MAX_CANDIDATES:
            raise ScenarioError(
                source or f"scenario {scenario.name!r}",
                [
                    f"workload.classes[{i}]: its arrival pattern peaks so high that drawing it takes about "
                    f"{candidates:.3g} candidate arrivals, more than a run can hold (at most {MAX_CANDIDATES:,}); "
                    "lower its rate, its growth or the horizon"
                ],
            )


def load_trace(path: Path, fmt: str = "native", *, strict: bool = True):
    """Read a trace in any supported format as (native jobs frame, rejected rows frame)."""
    adapted = load_any(path, fmt, strict=strict)
    return adapted.jobs, adapted.rejected


def _looks_native(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    if not path.is_file():
        return False
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return False
    names = {c.strip().strip('"') for c in header.split(",")}
    if set(NATIVE_REQUIRED) <= names:
        return True
    if {"job_id", "submit_s"} <= names:  # meant to be native, but incomplete: say what is missing
        missing = [c for c in NATIVE_REQUIRED if c not in names]
        raise TraceError(
            str(path),
            f"looks like a native trace but is missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(NATIVE_REQUIRED)}",
            line=1,
        )
    return False


def load_any(
    path: str | Path, fmt: str = "auto", *, strict: bool = False, cluster: str | None = None
) -> AdaptedTrace:
    """Read a trace in any supported format; returns an ``adapters.AdaptedTrace``."""
    from clustersim.workload.adapters import AdaptedTrace, read_trace

    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "trace file not found")
    if fmt == "native" or (fmt == "auto" and _looks_native(path)):
        frame, rejected = read_native(path, strict=strict)
        if "recorded_start_s" not in frame:
            frame["recorded_start_s"] = np.nan
        notes = ("format detected automatically: native",) if fmt == "auto" else ()
        return AdaptedTrace(jobs=frame, rejected=rejected, format="native", source=str(path), notes=notes)
    return read_trace(path, fmt, strict=strict, cluster=cluster)
