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

``by_class.*.`` stands for every class that holds at least ``verdict.heavy_share`` of the
GPU-hours at that point (10% by default, the report verdict's rule; ``--set
verdict.heavy_share=0`` for every class): ``by_class.*.wait_s.p90<=2h`` is met only when it is
met for each of them (by the mean of ``by_class.<class>.gpu_share`` over the seeds), missed
when it is missed for one, and judged on the worst of them in the evidence.

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
GROUP = "by_class.*."
DEFAULT_SHARE = 0.10
MET, MISSED, STRADDLES, UNKNOWN = "met", "missed", "straddles", "unknown"

_TARGET = re.compile(r"^\s*([A-Za-z_][\w.\[\]\-* ]*?)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
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

    @property
    def group(self) -> bool:
        """A ``by_class.*.`` target: one test per class that holds enough GPU time."""
        return self.key.startswith(GROUP)

    def class_keys(self, metrics: dict[str, MetricStats], share: float = DEFAULT_SHARE) -> dict[str, str]:
        """Class name -> its metric key, for the classes the target applies to at a point:
        every class whose mean ``gpu_share`` is at least ``share`` (or has no share)."""
        if not self.group:
            return {}
        rest = self.key[len(GROUP):]
        out = {}
        for key in metrics:
            if key.startswith("by_class.") and key.endswith("." + rest):
                name = key[len("by_class."):-len(rest) - 1]
                gpu = metrics.get(f"by_class.{name}.gpu_share")
                if gpu is None or gpu.mean is None or gpu.mean >= share - 1e-12:
                    out[name] = key
        return out

    def judge(self, metrics: dict[str, MetricStats], share: float = DEFAULT_SHARE) -> str:
        """The verdict at a point; a group target combines its classes' verdicts (missed if one
        is missed, met only if all are met)."""
        if not self.group:
            return self.verdict(metrics.get(self.key))
        verdicts = [self.verdict(metrics.get(k)) for k in self.class_keys(metrics, share).values()]
        for v in (MISSED, UNKNOWN, STRADDLES):
            if v in verdicts:
                return v
        return MET if verdicts else UNKNOWN

    def binding(self, metrics: dict[str, MetricStats], share: float = DEFAULT_SHARE) -> tuple[str | None, MetricStats | None]:
        """The class (None for a plain target) and statistics that decide the verdict: for a
        group, the class whose mean is worst for the operator."""
        if not self.group:
            return None, metrics.get(self.key)
        found = [(n, metrics.get(k)) for n, k in self.class_keys(metrics, share).items()]
        found = [(n, st) for n, st in found if st is not None and st.mean is not None]
        if not found:
            return None, None
        upper = self.op in ("<=", "<")
        return max(found, key=lambda item: item[1].mean if upper else -item[1].mean)


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
    if "*" in key and not (key.startswith(GROUP) and "*" not in key[len(GROUP):]):
        raise ClusterSimError(
            f"--target {text!r}: '*' may only stand for the class, as in by_class.*.wait_s.p90<=2h"
        )
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


def check_targets(targets: Sequence[Target], scenario, *, groups: bool = False) -> None:
    """Refuse targets on metrics that the scenario's runs do not report (before any run);
    ``by_class.*.`` targets only where ``groups`` (plans) accept them."""
    known, open_classes = summary_keys(scenario)
    keys = []
    for t in targets:
        if t.group and not groups:
            raise ClusterSimError(
                f"--target {t.text!r}: by_class.* targets are for `clustersim plan`; here name "
                "the class (by_class.<class>.…)"
            )
        if t.group:
            first = next((k.split(".")[1] for k in known if k.startswith("by_class.")), "trace")
            keys.append(f"by_class.{first}.{t.key[len(GROUP):]}")
        else:
            keys.append(t.key)
    check_keys(keys, known, "--target", any_class=open_classes)


__all__ = [
    "DEFAULT_SHARE",
    "GROUP",
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
