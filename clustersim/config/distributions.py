"""Probability distributions used in scenarios, as pydantic models with a vectorised sampler.

Each model is config (frozen, unknown keys rejected, a ``kind`` discriminator) and knows how
to draw from a ``numpy.random.Generator`` and what its mean is (for analytic checks). A bare
duration (``2h`` or ``7200``) means a fixed value. ``Empirical`` reads its values from a
file; the file's format belongs to the distribution, so its reader (:func:`read_empirical`)
lives here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from clustersim.errors import TraceError
from clustersim.units import parse_duration

Z90 = 1.2815515655446004  # standard normal quantile at 0.9

Sampler = Callable[[int], np.ndarray]


def _duration(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    Field(description="seconds, or a number with a unit: 90s, 45m, 2h, 3d, 12w"),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fixed(_Frozen):
    """Always the same value."""

    kind: Literal["fixed"] = Field("fixed", description="a fixed value")
    value: Duration = Field(description="the value, in seconds or with a unit")

    def sampler(self, gen: np.random.Generator) -> Sampler:
        v = self.value
        return lambda n: np.full(n, v)

    def mean(self) -> float:
        return self.value


class Exponential(_Frozen):
    """Exponential with the given mean (memoryless; M/M/c service times)."""

    kind: Literal["exponential"] = Field(description="exponential distribution")
    mean_: Duration = Field(alias="mean", gt=0, description="mean, > 0")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def sampler(self, gen: np.random.Generator) -> Sampler:
        m = self.mean_
        return lambda n: gen.exponential(m, n)

    def mean(self) -> float:
        return self.mean_


class Lognormal(_Frozen):
    """Lognormal given by its median and 90th percentile (p90 > median)."""

    kind: Literal["lognormal"] = Field(description="lognormal distribution")
    median: Duration = Field(gt=0, description="median, > 0")
    p90: Duration = Field(gt=0, description="90th percentile, > median")

    @model_validator(mode="after")
    def _order(self) -> Lognormal:
        if self.p90 <= self.median:
            raise ValueError(f"p90 ({self.p90:g} s) must be greater than median ({self.median:g} s)")
        return self

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return math.log(self.p90 / self.median) / Z90

    def sampler(self, gen: np.random.Generator) -> Sampler:
        mu, sigma = self.mu, self.sigma
        return lambda n: gen.lognormal(mu, sigma, n)

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


class Empirical(_Frozen):
    """Resample uniformly from values in a file (one number per line or a ``duration_s`` column).

    The path is relative to the scenario file; it is resolved when the scenario is loaded.
    """

    kind: Literal["empirical"] = Field(description="resample values read from a file")
    file: Path = Field(description="CSV/text file of durations in seconds, relative to the scenario")

    def values(self) -> np.ndarray:
        """The file's values (read on each call: a scenario stays a plain, picklable value)."""
        return read_empirical(self.file)

    def sampler(self, gen: np.random.Generator) -> Sampler:
        values = self.values()
        return lambda n: values[gen.integers(0, len(values), n)]

    def mean(self) -> float:
        return float(self.values().mean())


def read_empirical(path: str | Path) -> np.ndarray:
    """Values for an empirical distribution: one number per line, or a CSV with a
    ``duration_s`` column. All must be finite and >= 0; at least one value.

    Problems raise ``TraceError`` naming the file (and the line of a bad value).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "empirical distribution file not found")
    try:
        raw = pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise TraceError(str(path), "no values: expected one duration in seconds per line") from None
    except (OSError, UnicodeError, pd.errors.ParserError) as err:
        raise TraceError(str(path), f"cannot read: {err}".strip()) from None
    first = raw.iloc[0].tolist() if len(raw) else []
    if "duration_s" in [str(v).strip() for v in first]:
        col = [str(v).strip() for v in first].index("duration_s")
        texts = raw.iloc[1:, col]
        offset = 2
    else:
        texts = raw.iloc[:, 0]
        offset = 1
    values = pd.to_numeric(texts.str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(str(path), f"expected a duration in seconds >= 0, got {texts.iloc[i]!r}", line=i + offset)
    if len(values) == 0:
        raise TraceError(str(path), "no values: expected one duration in seconds per line")
    return values


def _fixed_shorthand(value: Any) -> Any:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    return value


Distribution = Annotated[
    Fixed | Exponential | Lognormal | Empirical,
    BeforeValidator(_fixed_shorthand),
    Field(discriminator="kind"),
]
