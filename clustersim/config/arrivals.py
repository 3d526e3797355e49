"""Arrival burstiness of an inference service's requests (issue 19): Poisson, or a renewal
process whose interarrival times have a given squared coefficient of variation (SCV, c_a^2),
set directly or measured from a request log's timestamps.

Why the SCV of interarrival times: it is the one arrival figure the queueing approximations
of the analytic model take (Allen-Cunneen and Kingman, E[W] ~ (c_a^2 + c_s^2) / 2 x the M/M/c
wait; Whitt, "The Queueing Network Analyzer", Bell System Technical Journal 62(9), 1983,
characterises every flow by its rate and c_a^2 the same way), and a renewal process with it
is what the request-level model can draw: gamma intervals of mean 1 / rate and shape
1 / c_a^2 (c_a^2 = 1 is Poisson). The demand's slower swings (hour by hour) stay in the
service's demand steps; within a step the rate is constant and only the SCV shapes arrivals.

Measured from the Azure LLM inference traces 2023 (``workloads/azure-llm-2023``): conversation
c_a^2 = 1.20 (close to Poisson), code 173 (requests in bursts at nearly the same instant).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from clustersim.config.base import Frozen, at_field, resolve_path

TIME_COLUMNS = ("TIMESTAMP", "arrival_s")
MAX_SCV = 10_000.0


def _named(value: Any) -> Any:
    if value == "poisson":
        return {"scv": 1.0}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"scv": value}
    return value


class ArrivalsConfig(Frozen):
    """Requests arrive as a renewal process: ``scv`` given, or measured from ``trace``."""

    scv: float | None = Field(
        None, gt=0, le=MAX_SCV, description="squared coefficient of variation of interarrival times (1: Poisson)"
    )
    trace: Annotated[Path | None, BeforeValidator(resolve_path)] = Field(
        None, description="request log (CSV, may be gzipped) with a TIMESTAMP (date and time) or arrival_s (seconds) "
        "column: the SCV of its interarrival times; relative to the scenario",
    )

    @model_validator(mode="after")
    def _one(self) -> ArrivalsConfig:
        if (self.scv is None) == (self.trace is None):
            raise ValueError("give `scv` (1 is Poisson) or a `trace` to measure it from, not both")
        if self.trace is not None:
            try:
                interarrival_scv(self.trace)
            except ValueError as err:
                raise at_field("trace", str(err)) from None
        return self

    @property
    def ca2(self) -> float:
        return float(self.scv) if self.scv is not None else interarrival_scv(self.trace)


Arrivals = Annotated[ArrivalsConfig | None, BeforeValidator(_named)]
"""``poisson``, a number (the SCV), ``{scv: 2}`` or ``{trace: file}``; absent: Poisson."""


def interarrival_scv(path: str | Path) -> float:
    """The SCV of the interarrival times of a request log (rows sorted by time first)."""
    p = Path(path)
    return _scv(str(p), p.stat().st_mtime_ns if p.exists() else 0)


@functools.lru_cache(maxsize=16)
def _scv(path: str, stamp: int) -> float:
    from clustersim.config.tokens import _rows

    p = Path(path)
    header, rows = _rows(p)
    found = [c for c in TIME_COLUMNS if c in header]
    if not found:
        raise ValueError(f"{p}: needs an arrival time column ({' or '.join(TIME_COLUMNS)}); found: "
                         f"{', '.join(header)[:200]}")
    col = header.index(found[0])
    text = [row[col].strip() if col < len(row) else "" for row in rows]
    try:
        if found[0] == "TIMESTAMP":
            t = np.array(text, dtype="datetime64[ns]").astype(np.int64) / 1e9
        else:
            t = np.array(text, dtype=float)
    except ValueError:
        bad = next((i for i, v in enumerate(text) if not _parses(v, found[0])), 0)
        raise ValueError(f"{p}:{bad + 2}: expected a time in {found[0]}, got {text[bad][:40]!r}") from None
    if len(t) < 3 or not np.all(np.isfinite(t)):
        raise ValueError(f"{p}: needs at least three requests with finite times in {found[0]}")
    gaps = np.diff(np.sort(t))
    mean = float(gaps.mean())
    if not mean > 0:
        raise ValueError(f"{p}: every request in {found[0]} has the same time; cannot measure interarrival times")
    return min(float(gaps.var()) / mean ** 2, MAX_SCV)


def _parses(value: str, column: str) -> bool:
    try:
        np.array([value], dtype="datetime64[ns]" if column == "TIMESTAMP" else float)
    except ValueError:
        return False
    return True
