"""Formatting helpers the report sections share: numbers, durations, shares, tables, links.

Every helper takes what ``summary.json`` may hold (a number, None, NaN, text, a nested
object) and never raises on it: a value it cannot show becomes ``n/a``. Imported as
``from clustersim.report import format as fmt``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from clustersim.units import format_duration, parse_duration


def number(value: Any) -> float | None:
    """A finite float, or None for null, NaN, text and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def seconds(value: Any) -> float | None:
    """A duration as config.json writes it (seconds or text like ``2h``), or None."""
    try:
        return parse_duration(value) if value is not None else None
    except ValueError:
        return None


def duration(value: Any) -> str:
    """Seconds as a human duration (``1.50 h``), or ``n/a``."""
    value = number(value)
    return "n/a" if value is None else format_duration(value)


def percent(fraction: Any) -> str:
    """A fraction as a percentage with one decimal (``45.7 %``), or ``n/a``."""
    value = number(fraction)
    return "n/a" if value is None else f"{100 * value:.1f} %"


def count(value: Any) -> str:
    """A whole number with thousands separators, or ``n/a``."""
    value = number(value)
    return "n/a" if value is None else f"{value:,.0f}"


def hours(value: float) -> str:
    """Seconds in hours, shortest form (``2 h``)."""
    return f"{value / 3600:g} h"


def days(value: float) -> str:
    """Seconds in days, three significant digits (``1 day``, ``2.5 days``)."""
    n = value / 86400
    return f"{n:.3g} day" + ("" if n == 1 else "s")


def md_escape(text: Any) -> str:
    """Escape user text (class names, scenario names) for markdown and table cells."""
    return re.sub(r"([\\`*_|\[\]<>#])", r"\\\1", str(text))


def stat(block: Any, key: str) -> Any:
    """``block[key]`` when ``block`` is a dict, else None."""
    return block.get(key) if isinstance(block, dict) else None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """Pipe table lines; ``align`` has one letter per column, l or r."""
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def image(root: Path, path: Path, alt: str) -> str:
    """A markdown image line for ``path``, relative to the run directory ``root``."""
    return f"![{alt}]({path.relative_to(root).as_posix()})"
