"""The grid a plan searches: ``cluster.nodes=300..800`` or ``supply.orders[0].at=0d..180d``.

Ranges are integers (counts; default direction ``smallest``, step 1), decimals (numbers such
as a cap in MW, ``power.cap_mw=2.0..3.2``; a ``--step`` is required, default direction
``smallest``) or durations (default direction ``latest``, step 1 day). ``direction`` may be ``smallest``/``earliest`` or
``largest``/``latest``. :func:`parse_search` turns the command-line text into a
:class:`Search`, or raises one ClusterSimError saying what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clustersim.errors import ClusterSimError
from clustersim.units import format_duration, parse_duration

DIRECTIONS = {"smallest": "smallest", "earliest": "smallest", "largest": "largest", "latest": "largest"}
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Search:
    """A key and the grid of values to search, in the order of the search direction."""

    key: str
    lo: float
    hi: float
    step: float
    kind: str  # "count", "number" or "duration"
    direction: str  # "smallest" or "largest"

    @property
    def size(self) -> int:
        """How many values: lo, lo+step, ... up to hi, and hi itself."""
        n = int((self.hi - self.lo) // self.step) + 1
        return n + (1 if self.lo + (n - 1) * self.step < self.hi else 0)

    def at(self, i: int) -> float:
        """The i-th value in search order, from the least to the most favourable end (the
        answer is the first value, in this order, that meets every target)."""
        j = i if self.direction == "smallest" else self.size - 1 - i
        value = min(self.lo + j * self.step, self.hi)
        if self.kind == "number":  # 2.0 + 3 x 0.1 is 2.3000000000000003: keep the step's digits
            value = round(value, _decimals(self.step, self.lo))
        return value

    @property
    def grid(self) -> list[float]:
        """Every value, ascending (for small ranges; the search never lists them)."""
        return sorted(self.at(i) for i in range(self.size))

    @property
    def order(self) -> list[float]:
        return [self.at(i) for i in range(self.size)]

    def override(self, value: float) -> str:
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
        return f"{self.key}={text}"

    def show(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.kind == "number":
            return f"{value:,.{_decimals(self.step, self.lo)}f}"
        if self.kind == "count":
            return f"{int(value):,}"
        if value % 86400 == 0:
            return f"{int(value // 86400)}d"
        return format_duration(value)

    def word(self) -> str:
        if self.kind == "duration":
            return "earliest" if self.direction == "smallest" else "latest"
        return self.direction

    def assumption(self) -> str:
        better = "larger" if self.direction == "smallest" else "smaller"
        return (f"Assumes every target is monotone in {self.key}: if a value meets the targets, "
                f"every {better} value does too. The search bisects on that assumption instead "
                "of trying every value.")

    def to_dict(self) -> dict:
        return {"key": self.key, "lo": self.lo, "hi": self.hi, "step": self.step,
                "kind": self.kind, "direction": self.direction}


def _decimals(*values: float) -> int:
    """Decimal places enough to write every value exactly as given (at most 9)."""
    places = 0
    for v in values:
        text = f"{v:.9f}".rstrip("0")
        places = max(places, len(text.partition(".")[2]))
    return places


def _bound(text: str, what: str, spec: str) -> tuple[float, str]:
    text = text.strip()
    if not text:
        raise ClusterSimError(f"--search {spec!r}: empty range; write KEY=LO..HI (e.g. cluster.nodes=300..800)")
    if _INT.match(text):
        return float(int(text)), "count"
    if _NUMBER.match(text):
        return float(text), "number"
    try:
        return parse_duration(text), "duration"
    except ValueError:
        raise ClusterSimError(
            f"--search {spec!r}: the {what} {text!r} is neither a number nor a duration (45d)"
        ) from None


def parse_search(text: str, step: str | float | None = None, direction: str | None = None) -> Search:
    """``"cluster.nodes=300..800"`` or ``"supply.orders[0].at=0d..180d"`` -> Search."""
    key, eq, rng = (text or "").partition("=")
    key = key.strip()
    if not eq or not key:
        raise ClusterSimError(f"--search {text!r}: expected KEY=LO..HI (e.g. cluster.nodes=300..800)")
    lo_text, dots, hi_text = rng.partition("..")
    if not dots:
        raise ClusterSimError(f"--search {text!r}: expected a range LO..HI after '='")
    lo, lo_kind = _bound(lo_text, "lower end", text)
    hi, hi_kind = _bound(hi_text, "upper end", text)
    kinds = {lo_kind, hi_kind}
    if kinds == {"duration", "number"}:
        raise ClusterSimError(f"--search {text!r}: give both ends as durations (0d..180d) or both as numbers")
    kind = "duration" if "duration" in kinds else "number" if "number" in kinds else "count"
    if hi < lo:
        raise ClusterSimError(
            f"--search {text!r}: reversed range ({lo_text.strip()} > {hi_text.strip()}); write it "
            f"low..high ({key}={hi_text.strip()}..{lo_text.strip()}) and pick --direction"
        )
    if kind == "count" and step is not None and _NUMBER.match(str(step)) and not _INT.match(str(step)):
        kind = "number"  # cluster.nodes would refuse it; a cap takes it: --step 0.1 over 2..3
    if step is None or step == "":
        if kind == "number":
            raise ClusterSimError(f"--search {text!r}: a range of decimals needs a --step (e.g. --step 0.05)")
        step_value = 86400.0 if kind == "duration" else 1.0
    else:
        try:
            if kind == "duration":
                step_value = parse_duration(step)
            elif kind == "number":
                step_value = float(str(step))
            else:
                step_value = float(int(str(step)))
        except ValueError:
            want = {"duration": "a duration such as 1d or 12h", "number": "a positive number"}.get(
                kind, "a positive integer")
            raise ClusterSimError(f"--step {step!r}: expected {want}") from None
    if step_value <= 0:
        raise ClusterSimError(f"--step {step!r}: must be > 0")
    if direction is None:
        direction = "largest" if kind == "duration" else "smallest"
    if direction not in DIRECTIONS:
        raise ClusterSimError(f"--direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    return Search(key, lo, hi, step_value, kind, DIRECTIONS[direction])


__all__ = ["DIRECTIONS", "Search", "parse_search"]
