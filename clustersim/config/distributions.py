"""Probability distributions used in scenarios, as pydantic models with a vectorised sampler.

Each model is config (frozen, unknown keys rejected, a ``kind`` discriminator) and knows how
to draw from a ``numpy.random.Generator`` and what its mean is (for analytic checks). A bare
duration (``2h`` or ``7200``) means a fixed value. ``Empirical`` reads its values from a
file; the file's format belongs to the distribution, so its reader (:func:`read_empirical`)
lives here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clustersim.config.base import MAX_SECONDS, Frozen, resolve_path
from clustersim.errors import TraceError
from clustersim.units import parse_duration

Z90 = 1.2815515655446004  # standard normal quantile at 0.9

Sampler = Callable[[int], np.ndarray]
_LOG_MAX_DRAW = math.log(1e200)  # a lognormal's draws stay below this (sums of them stay finite)


def _duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is longer than any simulated time can be (at most {MAX_SECONDS / 31536000:,.0f} years)")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    Field(description="seconds, or a number with a unit: 90s, 45m, 2h, 3d, 12w"),
]


_Frozen = Frozen


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

    model_config = ConfigDict(populate_by_name=True)

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
        if not self.mu + 8.3 * self.sigma < _LOG_MAX_DRAW:  # the 1-in-10^16 draw stays finite
            raise ValueError(
                f"p90 / median = {self.p90 / self.median:.3g} is so wide that draws reach 1e200 s and "
                "beyond: give a narrower distribution"
            )
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

    The path is relative to the scenario file; it is resolved when the scenario is loaded (a
    path written as text is resolved against the scenario's folder; a ``Path`` object is taken
    as it is, already resolved). The file is read once then, so a missing, empty or bad file
    is an error of the scenario naming its field, the file and the line.
    """

    kind: Literal["empirical"] = Field(description="resample values read from a file")
    file: Path = Field(description="CSV/text file of durations in seconds, relative to the scenario")

    @field_validator("file", mode="before")
    @classmethod
    def _relative_to_scenario(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            if not value.strip() or "\x00" in value:
                raise ValueError(f"expected a file name, got {value!r}")
            return resolve_path(value, info)
        return value

    @model_validator(mode="after")
    def _readable(self) -> Empirical:
        try:
            read_empirical(self.file)
        except TraceError as err:
            raise ValueError(str(err)) from None
        return self

    def values(self) -> np.ndarray:
        """The file's values (read on each call: a scenario stays a plain, picklable value)."""
        return read_empirical(self.file)

    def sampler(self, gen: np.random.Generator) -> Sampler:
        values = self.values()
        return lambda n: values[gen.integers(0, len(values), n)]

    def mean(self) -> float:
        return float(self.values().mean())


_NUMBER = re.compile(r"^[+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_EMPIRICAL_MAX_BYTES = 1 << 30
_EXPECTED_VALUE = "expected one duration in seconds per line, or a CSV with a duration_s column"


def read_empirical(path: str | Path) -> np.ndarray:
    """Values for an empirical distribution: one number per line, or a CSV with a
    ``duration_s`` column (UTF-8, blank lines skipped). All must be finite, >= 0 and at most
    1,000 years; at least one value.

    Problems raise ``TraceError`` naming the file (and the line of a bad value).
    """
    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "empirical distribution file not found")
    if path.is_dir():
        raise TraceError(str(path), f"is a directory; {_EXPECTED_VALUE}")
    try:
        if path.stat().st_size > _EMPIRICAL_MAX_BYTES:
            raise TraceError(str(path), f"larger than {_EMPIRICAL_MAX_BYTES >> 20:,} MiB; {_EXPECTED_VALUE}")
        data = path.read_bytes()
    except OSError as err:
        raise TraceError(str(path), f"cannot read: {err.strerror or err}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise TraceError(str(path), "cannot read: not UTF-8 text; save it as UTF-8", line=line) from None
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    column = None
    if lines and "duration_s" in [f.strip() for f in lines[0][1].split(",")]:
        header = [f.strip() for f in lines[0][1].split(",")]
        column = header.index("duration_s")
        lines = lines[1:]
    values = np.empty(len(lines))
    for k, (number, line) in enumerate(lines):
        fields = line.split(",")
        if column is None and len(fields) != 1:
            raise TraceError(str(path), f"cannot read: {_EXPECTED_VALUE}, got {line[:80]!r}", line=number)
        if column is not None and len(fields) != len(header):
            raise TraceError(
                str(path), f"cannot read: expected {len(header)} fields as in the header, got {len(fields)}", line=number
            )
        field = fields[column or 0].strip()
        value = float(field) if _NUMBER.match(field) else math.nan
        if not 0 <= value <= MAX_SECONDS:
            raise TraceError(
                str(path),
                f"expected a duration in seconds >= 0 and at most {MAX_SECONDS:.4g} (1,000 years), got {field[:80]!r}",
                line=number,
            )
        values[k] = value
    if len(values) == 0:
        raise TraceError(str(path), f"no values: {_EXPECTED_VALUE}")
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
