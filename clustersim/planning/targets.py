"""Service-level targets such as ``wait_s.p90<=2h``, and the conservative test of one.

Syntax: ``METRIC OP VALUE``. ``METRIC`` is a dotted summary key (``wait_s.p90``,
``by_class.large.wait_s.p90``, ``gpu_utilisation``); ``OP`` is one of ``<=``, ``<``, ``>=``,
``>``; ``VALUE`` is

* a plain number, in the metric's own unit (seconds for ``*_s`` keys, a fraction for
  ``gpu_utilisation``, a count for ``jobs.*``);
* a percentage, ``80%`` = 0.8;
* a duration with a unit (``90s``, ``45m``, ``2h``, ``3d``, ``2w``), converted to seconds.
  Durations are accepted only on time metrics (a key with a ``*_s`` part), so
  ``gpu_utilisation>=2h`` is refused rather than silently read as 7,200.

A target is *met* at a point only when the whole confidence interval of the metric's mean
lies on the allowed side, *missed* when the whole interval lies on the wrong side, and
*straddles* otherwise; a metric with fewer than two defined replications is *unknown*. Only
*met* counts as meeting the target, so a plan never rests on a coin toss.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

from clustersim.errors import ClusterSimError
from clustersim.planning.replications import MetricStats, check_keys, summary_keys
from clustersim.units import format_duration, parse_duration

OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
MET, MISSED, STRADDLES, UNKNOWN = "met", "missed", "straddles", "unknown"

_TARGET = re.compile(r"^\s*([A-Za-z_][\w.\[\]\- ]*?)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def is_time_key(key: str) -> bool:
    """A metric in seconds: one of its dotted parts ends in ``_s`` (wait_s.p90, horizon_s)."""
    return any(part.endswith("_s") for part in key.split("."))


@dataclass(frozen=True)
class Target:
    key: str
    op: str
    value: float
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def value_text(self) -> str:
        return format_value(self.key, self.value)

    def holds(self, x: float) -> bool:
        return OPS[self.op](x, self.value)

    def verdict(self, stats: MetricStats | None) -> str:
        """met / missed / straddles / unknown, judged on the whole confidence interval."""
        if stats is None or stats.half_width is None or stats.mean is None:
            return UNKNOWN
        lo, hi = stats.lo, stats.hi
        if self.holds(lo) and self.holds(hi):
            return MET
        if not self.holds(lo) and not self.holds(hi):
            return MISSED
        return STRADDLES

    def to_dict(self) -> dict:
        return {"text": self.text, "key": self.key, "op": self.op, "value": self.value}


def format_value(key: str, value: float | None) -> str:
    """A metric value for people: durations for time metrics, percent for utilisation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if is_time_key(key):
        if value < 0 and format_duration(-value) != format_duration(0.0):
            return "-" + format_duration(-value)
        return format_duration(max(value, 0.0))
    if key in ("gpu_utilisation", "offered_load"):
        return f"{value:.1%}"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def parse_target(text: str) -> Target:
    """``"wait_s.p90<=2h"`` -> Target("wait_s.p90", "<=", 7200.0). ClusterSimError if malformed."""
    match = _TARGET.match(text or "")
    if match is None:
        raise ClusterSimError(
            f"--target {text!r}: expected METRIC OP VALUE with OP one of <=, <, >=, > "
            "(e.g. 'wait_s.p90<=2h')"
        )
    key, op, raw = match.group(1).strip(), match.group(2), match.group(3)
    if raw.startswith(("=", "<", ">")):
        raise ClusterSimError(f"--target {text!r}: unknown operator; use one of <=, <, >=, >")
    if _NUMBER.match(raw):
        value = float(raw)
    elif raw.endswith("%") and _NUMBER.match(raw[:-1].strip()):
        value = float(raw[:-1]) / 100.0
    else:
        try:
            value = parse_duration(raw)
        except ValueError:
            raise ClusterSimError(
                f"--target {text!r}: cannot read the value {raw!r}; give a number, a percentage "
                "(80%) or a duration (2h, 3d)"
            ) from None
        if not is_time_key(key):
            raise ClusterSimError(
                f"--target {text!r}: {raw!r} is a duration but {key} is not a time metric "
                "(time metrics have a *_s part, e.g. wait_s.p90); give a plain number"
            )
    if not math.isfinite(value):
        raise ClusterSimError(f"--target {text!r}: the value must be finite")
    return Target(key, op, value, f"{key}{op}{raw}")


def parse_targets(texts: Sequence[str]) -> list[Target]:
    if not texts:
        raise ClusterSimError("give at least one --target, e.g. --target 'wait_s.p90<=2h'")
    return [parse_target(t) for t in texts]


def check_targets(targets: Sequence[Target], scenario) -> None:
    """Refuse targets on metrics that the scenario's runs do not report (before any run)."""
    known, open_classes = summary_keys(scenario)
    check_keys([t.key for t in targets], known, "--target", any_class=open_classes)


__all__ = [
    "MET",
    "MISSED",
    "STRADDLES",
    "UNKNOWN",
    "Target",
    "check_targets",
    "format_value",
    "is_time_key",
    "parse_target",
    "parse_targets",
]
