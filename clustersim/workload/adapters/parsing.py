"""Field values: text, numbers and ISO 8601 date-times from arrow string columns.

Each parser returns ``(values, empty mask, unusable mask)`` so the caller decides which
rejection reason each case gets (see :mod:`.rejections`).  All are vectorised with pyarrow
compute kernels, with a slower forgiving fallback only when a column mixes good and bad text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
_NUMBER_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def text(arr: pa.Array) -> pa.Array:
    """Field text with surrounding whitespace removed; null becomes empty."""
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return pc.utf8_trim_whitespace(arr)


def is_empty(arr: pa.Array) -> np.ndarray:
    """Mask of empty (or whitespace-only, or null) fields."""
    return np_bool(pc.equal(text(arr), ""))


def parse_numbers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse numeric text: (values with NaN where unusable, empty mask, non-numeric mask).

    Non-finite spellings (``nan``, ``inf``) count as non-numeric.
    """
    trimmed = text(arr)
    empty = np_bool(pc.equal(trimmed, ""))
    masked = pc.if_else(pa.array(empty), pa.scalar(None, trimmed.type), trimmed)
    try:
        values = pc.cast(masked, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # some value is not a number: null out everything that does not look like one
        numeric = pc.match_substring_regex(masked, _NUMBER_RE)
        masked = pc.if_else(numeric, masked, pa.scalar(None, masked.type))
        try:
            values = pc.cast(masked, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            series = pd.Series(masked.to_numpy(zero_copy_only=False), dtype=object)
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    bad = ~empty & ~np.isfinite(values)
    values = np.where(bad, np.nan, values)
    return values, empty, bad


def parse_timestamps(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse ISO 8601 date-time text to seconds since the Unix epoch.

    Text without a UTC offset (``2020-04-01 00:00:00``) is taken as UTC wall-clock; text with
    one (``2023-03-01 00:18:22+08:00``) is converted to UTC.  Returns (seconds with NaN where
    unusable, empty mask, unparsable mask).  Impossible dates (``2020-04-31``) are unparsable.
    """
    trimmed = text(arr)
    empty = np_bool(pc.equal(trimmed, ""))
    masked = pc.if_else(pa.array(empty), pa.scalar(None, trimmed.type), trimmed)
    values: np.ndarray | None = None
    kinds = [pa.timestamp("us"), pa.timestamp("us", tz="UTC")]
    present = np.flatnonzero(~empty)
    if len(present) and _OFFSET.search(str(trimmed[int(present[0])].as_py())):
        kinds.reverse()  # a failing cast is slow: try the likely kind first
    for kind in kinds:
        try:
            stamps = pc.cast(masked, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        micros = pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False)
        values = np.asarray(micros, dtype=np.float64) / 1e6
        break
    if values is None:  # mixed or broken values: the slower, forgiving parser
        series = pd.Series(masked.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        values = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(empty, np.nan, values)
    bad = ~empty & np.isnan(values)
    return values, empty, bad


def np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean arrow array as numpy, null as False."""
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)
