"""Shared pieces of the scenario models: the frozen base class, shorthands, file paths, times,
field-addressed error messages for checks that span several fields, and the size limits.

Every scenario model derives from :class:`Frozen`: frozen, unknown keys refused, non-finite
numbers (``.inf``, ``.nan``) refused, and strict scalars (see :mod:`.strict`): a count is a
whole number written in decimal (not ``true``, not ``0x10``, not text), a number is a number,
a yes/no field is ``true`` or ``false``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from clustersim.config.strict import check_scalars
from clustersim.units import parse_duration

# Sizes no machine could simulate are refused when the scenario is read, with the limit in the
# message (rather than a MemoryError, an overflow or a run that never ends).
YEAR = 365 * 86400.0
MAX_NODES = 1_000_000  # nodes over a run: the fleet at time 0 + orders + rentals
MAX_JOB_GPUS = 1_000_000  # GPUs of one job (as for trace rows)
MAX_REPLICAS = 1_000_000  # replicas of one service at once
MAX_JOBS = 100_000_000  # jobs a synthetic workload may submit over the horizon (expected)
MAX_EVENTS = 100_000_000  # failures, demand steps over the horizon (expected)
MAX_HORIZON = 1000 * YEAR  # simulated time
MAX_SECONDS = 1000 * YEAR  # any duration


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _strict_scalars(cls, data: Any) -> Any:
        problem = check_scalars(cls, data)
        if problem is not None:
            raise at_field(*problem)
        return data


def resolve_path(value: Any, info: ValidationInfo) -> Any:
    """A file path relative to the scenario's folder (``base_dir`` in the validation context)."""
    if value is None:
        return value
    if not isinstance(value, str | Path):
        raise ValueError(f"expected a file name, got {value!r}")
    if not str(value).strip() or "\x00" in str(value):
        raise ValueError(f"expected a file name, got {str(value)!r}")
    base = (info.context or {}).get("base_dir")
    path = Path(value)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return path


def parse_share(value: Any) -> Any:
    """A share written as a percentage (``5%``) or a fraction (``0.05``); other values pass."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a share such as 5% or 0.05, got {value!r}") from None
    return value


Share = Annotated[float, BeforeValidator(parse_share)]


def kind_shorthand(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


# A check that spans several fields raises ``at_field("orders[1].batch_nodes", "...")``; the
# error renderer turns the tag into the location, so the message names the field the user
# wrote, relative to the model whose validator raised it.
_FIELD_TAG = re.compile(r"^\[field (?P<path>\S+)\] (?P<msg>.*)$", re.S)


def at_field(path: str, message: str) -> ValueError:
    return ValueError(f"[field {path}] {message}")


def split_field_tag(message: str) -> tuple[str | None, str]:
    m = _FIELD_TAG.match(message)
    return (m.group("path"), m.group("msg")) if m else (None, message)


# Points in time: a duration from time 0 (``90d``), or a calendar date (``2023-10-17``) when the
# supply section gives a ``start_date``. Dates are kept as written and turned into seconds by
# ``SupplyConfig.seconds``.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _when(value: Any, before_zero: str) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"not a valid date: {value!r}") from None
        if text.startswith("-"):
            raise ValueError(before_zero.format(value=value))
    elif isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ValueError(before_zero.format(value=value))
    seconds = parse_duration(value)
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is later than any simulated time can be (at most {MAX_SECONDS / YEAR:,.0f} years)")
    return seconds


def _when_any(value: Any) -> Any:
    return _when(value, "{value!r} is before time 0; give a duration from the start (90d) or a date")


def _when_order(value: Any) -> Any:
    return _when(
        value,
        "an order at {value!r} is before time 0; the fleet at time 0 is the `cluster` section, "
        "orders are placed at or after time 0",
    )


When = Annotated[
    float | date,
    BeforeValidator(_when_any),
    Field(description="a time: a duration from the start (90d, 12w) or a date (2023-10-17, needs supply.start_date)"),
]
OrderTime = Annotated[
    float | date,
    BeforeValidator(_when_order),
    Field(description="when the order is placed: a duration from the start or a date (needs supply.start_date)"),
]
