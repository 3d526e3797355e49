"""Durations: the one parser from text like ``90s``, ``45m``, ``2h``, ``3d``, ``12w`` to seconds."""

from __future__ import annotations

import math
import re

SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*([smhdw]?)\s*$")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds. Numbers are seconds; strings may carry one unit suffix.

    Raises ``ValueError`` with a message saying what was expected; negative, NaN and
    infinite durations are refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 45m, 2h, 3d or 12w, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(
                f"expected a duration such as 90s, 45m, 2h, 3d or 12w, got {value!r}"
            )
        unit = match.group(2) or "s"
        number = text[: len(text) - len(unit)] if match.group(2) else text
        seconds = float(number.strip()) * SECONDS[unit]
    else:
        raise ValueError(f"expected a duration such as 90s, 45m, 2h, 3d or 12w, got {value!r}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"expected a finite duration, got {value!r}")
    if seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds for people: ``45s``, ``12.5 min``, ``3.2 h``, ``4.1 d``."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 86400:.2f} d"
