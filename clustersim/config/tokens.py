"""Token-count distributions of a request model, and the reader of request logs with token
columns (the Azure LLM inference traces 2023: ``TIMESTAMP,ContextTokens,GeneratedTokens``).

Each distribution knows its exact first two moments where they have a closed form (the
analytic latency model's means), its quantiles (the model's representative requests) and how
to draw (the request-level model). Counts are tokens, not seconds.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from clustersim.config.base import Frozen, resolve_path
from clustersim.config.distributions import Z90

MAX_TOKENS = 1e7
"""Tokens of one prompt or output at most (far beyond any context window)."""

PROMPT_COLUMNS = ("ContextTokens", "prompt_tokens")
OUTPUT_COLUMNS = ("GeneratedTokens", "output_tokens")


def _midpoints(k: int) -> np.ndarray:
    return (np.arange(k) + 0.5) / k


class FixedTokens(Frozen):
    kind: Literal["fixed"] = Field("fixed", description="always the same count")
    value: float = Field(gt=0, le=MAX_TOKENS, description="tokens")

    def moments(self) -> tuple[float, float]:
        return self.value, self.value**2

    def quantiles(self, k: int) -> np.ndarray:
        return np.full(k, float(self.value))

    def sampler(self, gen: np.random.Generator):
        v = float(self.value)
        return lambda n: np.full(n, v)


class ExponentialTokens(Frozen):
    kind: Literal["exponential"] = Field(description="exponential with the given mean (memoryless; for queueing checks)")
    mean: float = Field(gt=0, le=MAX_TOKENS, description="mean tokens")

    def moments(self) -> tuple[float, float]:
        return self.mean, 2.0 * self.mean**2

    def quantiles(self, k: int) -> np.ndarray:
        return -self.mean * np.log1p(-_midpoints(k))

    def sampler(self, gen: np.random.Generator):
        m = self.mean
        return lambda n: gen.exponential(m, n)


class LognormalTokens(Frozen):
    kind: Literal["lognormal"] = Field(description="lognormal by median and 90th percentile")
    median: float = Field(gt=0, le=MAX_TOKENS, description="median tokens")
    p90: float = Field(gt=0, le=MAX_TOKENS, description="90th percentile, > median")

    @model_validator(mode="after")
    def _order(self) -> LognormalTokens:
        if self.p90 <= self.median:
            raise ValueError(f"p90 ({self.p90:g}) must be greater than median ({self.median:g})")
        if self.sigma > 3.0:
            raise ValueError(f"p90 / median = {self.p90 / self.median:.3g} is too wide for token counts (at most e^3.8)")
        return self

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return math.log(self.p90 / self.median) / Z90

    def moments(self) -> tuple[float, float]:
        mu, s = self.mu, self.sigma
        return math.exp(mu + s * s / 2), math.exp(2 * mu + 2 * s * s)

    def quantiles(self, k: int) -> np.ndarray:
        z = np.array([NormalDist().inv_cdf(u) for u in _midpoints(k)])
        return np.exp(self.mu + self.sigma * z)

    def sampler(self, gen: np.random.Generator):
        mu, s = self.mu, self.sigma
        return lambda n: gen.lognormal(mu, s, n)


class EmpiricalTokens(Frozen):
    kind: Literal["empirical"] = Field(description="resample counts from a file")
    file: Path = Field(description="one count per line, or a CSV (may be gzipped) with `column`; relative to the scenario")
    column: str | None = Field(None, description="the CSV column (e.g. ContextTokens, GeneratedTokens)")

    @field_validator("file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _readable(self) -> EmpiricalTokens:
        read_token_column(self.file, self.column)
        return self

    def values(self) -> np.ndarray:
        return read_token_column(self.file, self.column)

    def moments(self) -> tuple[float, float]:
        v = self.values()
        return float(v.mean()), float((v * v).mean())

    def quantiles(self, k: int) -> np.ndarray:
        v = self.values()
        return np.sort(v) if len(v) <= k else np.quantile(v, _midpoints(k), method="inverted_cdf")

    def sampler(self, gen: np.random.Generator):
        v = self.values()
        return lambda n: v[gen.integers(0, len(v), n)]


def _fixed(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    return value


_Union = Annotated[FixedTokens | ExponentialTokens | LognormalTokens | EmpiricalTokens, Field(discriminator="kind")]
Tokens = Annotated[_Union | None, BeforeValidator(_fixed)]
"""A token-count distribution (optional): a number is ``fixed``."""


# ----------------------------------------------------------------------------- files

_MAX_BYTES = 1 << 30


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV (gzip by its magic bytes). ValueError naming the file."""
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a CSV of token counts")
    if path.stat().st_size > _MAX_BYTES:
        raise ValueError(f"{path}: larger than {_MAX_BYTES >> 20:,} MiB")
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot read ({err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(f.strip() for f in r)]
    if not rows:
        raise ValueError(f"{path}: empty; expected token counts")
    return [f.strip() for f in rows[0]], rows[1:]


def _numbers(path: Path, rows: list[list[str]], col: int, name: str, first_line: int) -> np.ndarray:
    try:  # the quick way; on any doubt, the slow one below finds the line
        out = np.array([row[col] for row in rows], dtype=float)
        if len(out) and np.all((out >= 0) & (out <= MAX_TOKENS)):
            return out
    except (ValueError, IndexError):
        pass
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        text = row[col].strip() if col < len(row) else ""
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value <= MAX_TOKENS):
            raise ValueError(f"{path}:{i + first_line}: expected a token count in {name}, got {text[:40]!r}")
        out[i] = value
    if len(out) == 0:
        raise ValueError(f"{path}: no rows; expected token counts")
    return out


@functools.lru_cache(maxsize=32)
def _read_log(path: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    p = Path(path)
    header, rows = _rows(p)
    found = [c for c in PROMPT_COLUMNS if c in header], [c for c in OUTPUT_COLUMNS if c in header]
    if not found[0] or not found[1]:
        raise ValueError(
            f"{p}: needs a prompt column ({' or '.join(PROMPT_COLUMNS)}) and an output column "
            f"({' or '.join(OUTPUT_COLUMNS)}); found: {', '.join(header)[:200]}"
        )
    prompt = _numbers(p, rows, header.index(found[0][0]), found[0][0], 2)
    output = np.maximum(np.rint(_numbers(p, rows, header.index(found[1][0]), found[1][0], 2)), 1.0)
    prompt.setflags(write=False)
    output.setflags(write=False)
    return prompt, output


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return (0, 0)


def read_token_log(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(prompt tokens, output tokens) of a request log, one pair per row; outputs rounded to
    whole tokens (at least 1). ValueError naming the file and what is missing."""
    return _read_log(str(path), _stamp(Path(path)))


@functools.lru_cache(maxsize=32)
def _read_column(path: str, column: str | None, stamp: tuple) -> np.ndarray:
    p = Path(path)
    header, rows = _rows(p)
    if column is None:
        if len(header) != 1:
            raise ValueError(f"{p}: give `column` (the file has columns: {', '.join(header)[:200]})")
        try:
            float(header[0])
        except ValueError:  # a one-column CSV with a header
            values = _numbers(p, rows, 0, header[0], 2)
        else:  # one number per line
            values = _numbers(p, [header, *rows], 0, "the file", 1)
        values.setflags(write=False)
        return values
    if column not in header:
        raise ValueError(f"{p}: no column {column!r}; found: {', '.join(header)[:200]}")
    values = _numbers(p, rows, header.index(column), column, 2)
    values.setflags(write=False)
    return values


def read_token_column(path: str | Path, column: str | None) -> np.ndarray:
    """Token counts from one column of a CSV (or one number per line without ``column``)."""
    return _read_column(str(path), column, _stamp(Path(path)))
