"""The grid a plan searches: ``cluster.nodes=300..800`` or ``supply.orders[0].at=0d..180d``.

Ranges are integers (counts; default direction ``smallest``, step 1) or durations (default
direction ``latest``, step 1 day). ``direction`` may be ``smallest``/``earliest`` or
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
    kind: str  # "count" or "duration"
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
        return min(self.lo + j * self.step, self.hi)

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


def _bound(text: str, what: str, spec: str) -> tuple[float, bool]:
    text = text.strip()
    if not text:
        raise ClusterSimError(f"--search {spec!r}: empty range; write KEY=LO..HI (e.g. cluster.nodes=300..800)")
    if _INT.match(text):
        return float(int(text)), False
    if _NUMBER.match(text):
        raise ClusterSimError(
            f"--search {spec!r}: the {what} {text!r} is neither an integer nor a duration with a "
            "unit (45d, 12h)"
        )
    try:
        return parse_duration(text), True
    except ValueError:
        raise ClusterSimError(
            f"--search {spec!r}: the {what} {text!r} is neither an integer nor a duration (45d)"
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
    lo, lo_dur = _bound(lo_text, "lower end", text)
    hi, hi_dur = _bound(hi_text, "upper end", text)
    kind = "duration" if lo_dur or hi_dur else "count"
    if hi < lo:
        raise ClusterSimError(
            f"--search {text!r}: reversed range ({lo_text.strip()} > {hi_text.strip()}); write it "
            f"low..high ({key}={hi_text.strip()}..{lo_text.strip()}) and pick --direction"
        )
    if step is None or step == "":
        step_value = 86400.0 if kind == "duration" else 1.0
    else:
        try:
            step_value = parse_duration(step) if kind == "duration" else float(int(str(step)))
        except ValueError:
            want = "a duration such as 1d or 12h" if kind == "duration" else "a positive integer"
            raise ClusterSimError(f"--step {step!r}: expected {want}") from None
    if step_value <= 0:
        raise ClusterSimError(f"--step {step!r}: must be > 0")
    if direction is None:
        direction = "largest" if kind == "duration" else "smallest"
    if direction not in DIRECTIONS:
        raise ClusterSimError(f"--direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    return Search(key, lo, hi, step_value, kind, DIRECTIONS[direction])


__all__ = ["DIRECTIONS", "Search", "parse_search"]
