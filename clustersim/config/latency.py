"""Request latency of an inference service (issue 19): the request model, the replica's
performance profile, routing, the latency SLO and the request-level windows.

- ``requests``: prompt and output token counts, each ``fixed`` (a number), ``lognormal``
  (median, p90), ``exponential`` (mean) or ``empirical`` (a file), or ``trace``: a request log
  with one row per request and its prompt and output tokens (the Azure LLM inference traces'
  ``ContextTokens`` / ``GeneratedTokens``; ``prompt_tokens`` / ``output_tokens`` also read).
  Output counts are rounded to whole tokens (at least one); prompt counts are used as drawn.
- ``profile``: a replica runs iterations (continuous batching): every running sequence makes one
  token per iteration and newly admitted prompts are prefilled in the same iteration, which
  takes ``iteration + per_sequence x decoding + sum(per_prompt_token x P +
  per_prompt_token_sq x P^2)`` seconds (``decode_table`` replaces the first two terms by a table
  of batch size -> seconds). At most ``max_batch`` sequences run at once, and their prompt +
  output tokens must fit in ``kv_tokens``. A named profile (``llama2-70b-a100-tp8``,
  ``llama2-70b-h100-tp8``; :mod:`.profiles`) fills the fields not given.
- ``routing``: ``jsq`` (join the replica with the fewest requests), ``shared`` (one queue that
  replicas take from whenever they have room) or ``round_robin``.
- ``arrivals``: Poisson, or a renewal process with a given (or measured) SCV of interarrival
  times (:mod:`.arrivals`).
- ``slo``: percentile targets such as ``ttft: {p99: 2s}``, ``tpot: {p99: 200ms}``,
  ``e2e: {p99: 60s}``, and optionally ``attainment``: the share of requests that must be within
  every threshold at once.
- ``request_level``: windows in which the request-level model runs (``requests.parquet``).

Only the config's own arithmetic lives here (moments, capacity, the feasibility of the SLO);
the latency model is :mod:`clustersim.workload.latency`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, field_validator, model_validator

from clustersim.config.arrivals import Arrivals
from clustersim.config.base import Frozen, at_field, parse_share, resolve_path
from clustersim.config.distributions import Duration
from clustersim.config.profiles import PROFILES
from clustersim.config.tokens import Tokens, read_token_log

_LATENCY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)\s*(us|ms|s|m|h)?\s*$")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_latency(value: Any) -> float:
    """Seconds from ``0.2``, ``200ms``, ``2s``, ``1.5 m``; negative or non-finite refused."""
    if isinstance(value, bool):
        raise ValueError(f"expected a time such as 200ms or 2s, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _LATENCY.match(value)):
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    else:
        raise ValueError(f"expected a time such as 200ms or 2s, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a finite time >= 0, got {value!r}")
    return seconds


Latency = Annotated[float, BeforeValidator(parse_latency), Field(description="seconds, or 200ms, 2s")]


class RequestsConfig(Frozen):
    """Prompt and output tokens per request: two distributions, or a request log's pairs."""

    prompt: Tokens = Field(None, description="prompt (context) tokens per request")
    output: Tokens = Field(None, description="output (generated) tokens per request, rounded, at least 1")
    trace: Annotated[Path | None, BeforeValidator(resolve_path)] = Field(
        None,
        description="request log (CSV, may be gzipped) with ContextTokens and GeneratedTokens columns (Azure LLM "
        "inference traces) or prompt_tokens and output_tokens: its pairs are resampled; relative to the scenario",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RequestsConfig:
        if self.trace is None and (self.prompt is None or self.output is None):
            missing = "prompt" if self.prompt is None else "output"
            raise at_field(missing, "give both `prompt` and `output` token distributions, or a `trace`")
        if self.trace is not None and (self.prompt is not None or self.output is not None):
            raise ValueError("give either `trace` or `prompt` and `output`, not both")
        if self.trace is not None:
            try:
                read_token_log(self.trace)
            except ValueError as err:
                raise at_field("trace", str(err)) from None
        return self

    def pairs(self, k: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Representative (prompt, output) pairs: a log's pairs, or ``k`` quantiles of each
        distribution paired by a fixed shuffle (independent draws); outputs rounded."""
        if self.trace is not None:
            return read_token_log(self.trace)
        p = self.prompt.quantiles(k)
        o = output_tokens(self.output.quantiles(k))
        order = np.random.default_rng(12345).permutation(len(o))  # a fixed pairing, not a random stream
        return p, o[order]

    def moments(self) -> Moments:
        """Means the latency model needs; the prompt's exactly where its distribution has a
        closed form."""
        p, o = self.pairs()
        if self.trace is None:
            p1, p2 = self.prompt.moments()
        else:
            p1, p2 = float(p.mean()), float((p * p).mean())
        return Moments(p1, p2, float(o.mean()), float((p * o).mean()), float((o * o).mean()),
                       float(((o - 1.0) ** 2).mean()))


def output_tokens(values: np.ndarray) -> np.ndarray:
    """Output counts as generated: whole tokens, at least one."""
    return np.maximum(np.rint(values), 1.0)


@dataclass(frozen=True)
class Moments:
    """E[P], E[P^2], E[O], E[P O], E[O^2], E[(O-1)^2] of a request's prompt P and output O."""

    p: float
    p2: float
    o: float
    po: float
    o2: float
    om1_2: float


def _profile_name(value: Any) -> Any:
    if isinstance(value, str):
        return {"model": value}
    if isinstance(value, dict) and "kind" in value and "model" not in value:  # `--set` expands a name so
        value = dict(value)
        value["model"] = value.pop("kind")
    return value


class ProfileConfig(Frozen):
    """How long one iteration of a replica takes, and how many sequences it holds."""

    model: str | None = Field(None, description=f"a named profile whose values fill the fields not given: {', '.join(PROFILES)}")
    iteration: Latency | None = Field(None, description="fixed cost of every iteration (weights read, launch)")
    per_sequence: Latency | None = Field(None, description="added per sequence decoding in the iteration")
    per_prompt_token: Latency | None = Field(None, description="added per prompt token prefilled in the iteration")
    per_prompt_token_sq: Latency | None = Field(None, description="added per squared prompt length (attention); default 0")
    decode_table: dict[int, Latency] | None = Field(
        None, description="batch size -> decode iteration time, linear between points (replaces iteration + per_sequence "
        "for the decode part; the smallest point is also the cost of an iteration without decodes)",
    )
    max_batch: int | None = Field(None, ge=1, le=1_000_000, description="most sequences running at once (default 256)")
    kv_tokens: float | None = Field(
        None, gt=0, description="KV-cache capacity in tokens: a request holds prompt + output tokens while it runs "
        "(default: the named profile's, else no limit)",
    )

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        return _profile_name(data)

    @field_validator("model")
    @classmethod
    def _known(cls, value):
        if value is not None and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; known: {', '.join(PROFILES)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ProfileConfig:
        if self.decode_table is not None:
            if not self.decode_table:
                raise at_field("decode_table", "give at least one batch size -> time point")
            if min(self.decode_table) < 1:
                raise at_field("decode_table", "batch sizes must be >= 1")
        if self.model is None:
            need = ["per_prompt_token"] + (["iteration", "per_sequence"] if self.decode_table is None else [])
            for name in need:
                if getattr(self, name) is None:
                    raise at_field(name, f"give {name} (or a named profile: model: {next(iter(PROFILES))})")
        if not self.decode(1) > 0:
            raise at_field("iteration", "a decode iteration of one sequence must take more than 0 s (iteration + per_sequence)")
        if not self.a + self.p1 + self.p2 > 0:
            raise at_field("per_prompt_token", "prefilling a prompt must take more than 0 s (iteration + per_prompt_token)")
        if self.decode_table is not None and any(v <= 0 for v in self.decode_table.values()):
            k = next(k for k, v in self.decode_table.items() if v <= 0)
            raise at_field(f"decode_table.{k}", "times must be more than 0 s")
        return self

    def _get(self, name: str) -> float:
        value = getattr(self, name)
        if value is None and self.model is not None:
            value = PROFILES[self.model].get(name)
        return 0.0 if value is None else float(value)

    @property
    def a(self) -> float:
        """Cost of an iteration with no decoding sequence."""
        return self.decode(0)

    @property
    def p1(self) -> float:
        return self._get("per_prompt_token")

    @property
    def p2(self) -> float:
        return self._get("per_prompt_token_sq")

    @property
    def batch(self) -> int:
        return int(self._get("max_batch") or 256)

    @property
    def kv(self) -> float:
        value = self._get("kv_tokens")
        return value if value > 0 else math.inf

    def decode(self, k: float) -> float:
        """Decode part of an iteration with ``k`` sequences decoding (``k`` may be fractional)."""
        if self.decode_table is None:
            return self._get("iteration") + self._get("per_sequence") * k
        xs = sorted(self.decode_table)
        ys = [self.decode_table[x] for x in xs]
        if k <= xs[0]:
            return ys[0]
        if len(xs) == 1:
            return ys[0]
        return float(np.interp(k, xs, ys)) if k <= xs[-1] else ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (k - xs[-1])

    def prefill(self, p):
        """Prefill work of prompts of ``p`` tokens (beyond the iteration's fixed cost)."""
        return self.p1 * p + self.p2 * p * p

    def slowed(self, speed: float) -> ProfileConfig:
        """This profile on a replica running at ``speed`` x its throughput (power-capped,
        ``power.capping.inference``): every iteration time divided by ``speed``, the batch and
        KV-cache limits unchanged."""
        times = ("iteration", "per_sequence", "per_prompt_token", "per_prompt_token_sq")
        data: dict[str, Any] = {name: self._get(name) / speed for name in times}
        if self.decode_table is not None:
            data["decode_table"] = {k: v / speed for k, v in self.decode_table.items()}
        kv = self._get("kv_tokens")
        return ProfileConfig(**data, max_batch=self.batch, kv_tokens=kv if kv > 0 else None)


def _percentile_target(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (key, v), = value.items()
        if isinstance(key, str) and re.fullmatch(r"p[0-9]+(\.[0-9]+)?", key.strip()):
            return {"percentile": float(key.strip()[1:]), "value": v}
    if isinstance(value, dict) and "percentile" not in value:
        raise ValueError(f"expected one percentile and its limit, such as {{p99: 2s}}, got {value!r}")
    return value


class PercentileTarget(Frozen):
    """``{p99: 2s}``: the 99th percentile of the metric must be at most 2 s."""

    percentile: float = Field(gt=0, lt=100, description="which percentile (99 for p99)")
    value: Latency = Field(gt=0, description="its limit")

    @property
    def share(self) -> float:
        return self.percentile / 100.0

    def label(self, metric: str) -> str:
        return f"p{self.percentile:g} {metric} <= {self.value:g} s"


Target = Annotated[PercentileTarget, BeforeValidator(_percentile_target)]


class SloConfig(Frozen):
    """Latency objectives: percentile targets and an optional joint attainment goal."""

    ttft: Target | None = Field(None, description="time to first token, e.g. {p99: 2s} (MLPerf Llama-2-70B server: p99 2 s)")
    tpot: Target | None = Field(None, description="time per output token after the first, e.g. {p99: 200ms} (MLPerf: p99 200 ms)")
    e2e: Target | None = Field(None, description="end-to-end latency (first token + the rest), e.g. {p99: 60s}")
    attainment: Annotated[float | None, BeforeValidator(parse_share)] = Field(
        None, gt=0, le=1, description="share of requests that must be within every threshold above at once, e.g. 99%"
    )

    @model_validator(mode="after")
    def _some(self) -> SloConfig:
        if self.ttft is None and self.tpot is None and self.e2e is None:
            raise ValueError("give at least one of ttft, tpot, e2e")
        return self

    def targets(self) -> dict[str, PercentileTarget]:
        return {k: t for k, t in (("ttft", self.ttft), ("tpot", self.tpot), ("e2e", self.e2e)) if t is not None}


class WindowConfig(Frozen):
    start: Duration = Field(description="start of the window, from time 0 (one unit: 115h is day 4 at 19:00)")
    length: Duration = Field(gt=0, description="length of the window (e.g. 10m)")


class RequestLevelConfig(Frozen):
    """Where the request-level model runs: given windows, and/or the busiest stretch of each
    day or week (by demand, after the run)."""

    windows: list[WindowConfig] = Field(default_factory=list, description="windows [start, start + length)")
    peak: Literal["none", "daily", "weekly"] = Field("none", description="add the busiest `length` of each day or week")
    length: Duration = Field(600.0, gt=0, description="length of each peak window (default 10 min)")
    warmup: Duration = Field(120.0, description="simulated before each window, not recorded (the replicas start empty)")
    replicas: int | None = Field(
        None, ge=1, description="simulate at most this many replicas at the same load per replica (default: all)"
    )

    @model_validator(mode="after")
    def _some(self) -> RequestLevelConfig:
        if not self.windows and self.peak == "none":
            raise ValueError("give `windows`, or `peak: daily` / `peak: weekly`")
        return self


class LatencyConfig(Frozen):
    """Requests, replica profile, routing, SLO and request-level windows of one service."""

    requests: RequestsConfig = Field(description="prompt and output tokens per request")
    profile: Annotated[ProfileConfig, BeforeValidator(_profile_name)] = Field(
        description="iteration times and limits of one replica, or the name of a published profile"
    )
    routing: Literal["jsq", "shared", "round_robin"] = Field("jsq", description="how requests are spread over replicas")
    arrivals: Arrivals = Field(
        None, description="arrival burstiness: poisson (default), the SCV of interarrival times ({scv: 2}), or "
        "{trace: file} to measure it from a request log's timestamps (both fidelities use it)",
    )
    slo: SloConfig | None = Field(None, description="latency objectives (needed by autoscale.target: slo)")
    request_level: RequestLevelConfig | None = Field(None, description="windows for the request-level model")

    @property
    def ca2(self) -> float:
        """Squared coefficient of variation of interarrival times (1: Poisson)."""
        return 1.0 if self.arrivals is None else self.arrivals.ca2

    def slots(self, m: Moments | None = None) -> int:
        """Sequences a replica runs at once: ``max_batch``, or fewer when the KV cache (at the
        mean tokens a running sequence holds, weighted by how long it runs) is the limit."""
        m = m or self.requests.moments()
        kv = self.profile.kv
        held = (m.po + m.o2) / m.o  # E[(P + O) O] / E[O]
        by_kv = math.floor(kv / held) if math.isfinite(kv) else self.profile.batch
        return max(1, min(self.profile.batch, by_kv))

    def capacity(self, m: Moments | None = None) -> float:
        """Requests per second one replica completes when full: ``1 / (E[prefill] + E[O] x
        decode(S q) / S)`` with S slots and q = E[O - 1] / E[O] of them decoding."""
        m = m or self.requests.moments()
        s = self.slots(m)
        prof = self.profile
        q = (m.o - 1.0) / m.o
        return 1.0 / (prof.p1 * m.p + prof.p2 * m.p2 + m.o * prof.decode(s * q) / s)

    def best_case(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prompt, TTFT, TPOT, end-to-end) of the representative requests, each alone on an
        idle replica: the least latency any number of replicas can give them."""
        p, o = self.requests.pairs()
        prof = self.profile
        ttft = prof.a + prof.prefill(p)
        tpot = np.full(len(o), prof.decode(1))
        return p, ttft, tpot, ttft + (o - 1.0) * prof.decode(1)

    def slo_problem(self) -> tuple[str, str] | None:
        """(field, reason) when no replica count can meet the SLO, else None."""
        if self.slo is None:
            return None
        p, ttft, tpot, e2e = self.best_case()
        within = np.ones(len(p), dtype=bool)
        for name, target in self.slo.targets().items():
            values = {"ttft": ttft, "tpot": tpot, "e2e": e2e}[name]
            ok = values <= target.value * (1 + 1e-12)
            within &= ok
            if ok.mean() < target.share - 1e-12:
                best = float(np.quantile(values, target.share, method="inverted_cdf"))
                why = {
                    "ttft": "prefill alone, on an idle replica, of the prompt at that percentile "
                    f"({float(np.quantile(p, target.share, method='inverted_cdf')):,.0f} tokens)",
                    "tpot": "a decode iteration of a single sequence",
                    "e2e": "a request alone on an idle replica",
                }[name]
                return (f"slo.{name}", f"no number of replicas can meet {target.label(name.upper())}: "
                        f"{why} takes {best:.3g} s")
        goal = self.slo.attainment
        if goal is not None and within.mean() < goal - 1e-12:
            return ("slo.attainment", f"no number of replicas can meet attainment {goal:.4g}: even alone on an idle "
                    f"replica only {within.mean():.4g} of requests are within every threshold")
        return None
