"""Rejection bookkeeping: which candidate rows are unusable, and why.

A :class:`RowSet` holds one entry per candidate job row (physical line number, raw text) and
the first reason each row was rejected for; the ``check_*`` helpers apply the rejections
shared by several formats.  :func:`rejected_frame` is the ``rejected`` table of an
:class:`~clustersim.workload.adapters.builders.AdaptedTrace`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clustersim.workload.adapters.parsing import np_bool

REJECTED_COLUMNS: tuple[str, ...] = ("line", "reason", "raw")
RAW_LIMIT = 200

# Plausible ranges: a row outside them is rejected with a reason rather than simulated.
MAX_GPUS = 1_000_000  # GPUs of one job
MAX_DURATION_S = 10 * 365 * 86400.0  # a job's run time: 10 years
MIN_DATE_S = 0.0  # dates from 1970-01-01 ...
MAX_DATE_S = 4_102_444_800.0  # ... to 2100-01-01 (UTC), as seconds since the Unix epoch
MAX_TIME_S = MAX_DATE_S  # numeric times (seconds): within +-4,102,444,800 s


class RowSet:
    """Candidate job rows: physical line numbers, raw text, and each row's first rejection."""

    def __init__(self, lines: np.ndarray, raw: pa.Array | Sequence[str]):
        self.line = np.asarray(lines, dtype=np.int64)
        self._raw = raw
        self._code = np.zeros(len(self.line), dtype=np.int32)
        self._reasons: list[str] = [""]

    def __len__(self) -> int:
        return len(self.line)

    def select(self, mask: np.ndarray) -> RowSet:
        """A new RowSet of the rows in ``mask``, keeping their rejections."""
        idx = np.flatnonzero(mask)
        if isinstance(self._raw, pa.Array | pa.ChunkedArray):
            raw: pa.Array | Sequence[str] = pc.take(self._raw, pa.array(idx, pa.int64()))
        else:
            raw = [self._raw[i] for i in idx]
        out = RowSet(self.line[idx], raw)
        out._code = self._code[idx].copy()
        out._reasons = list(self._reasons)
        return out

    def reject(self, mask: np.ndarray, reason: str) -> None:
        """Flag rows in ``mask`` with ``reason`` unless they already carry a reason."""
        mask = np.asarray(mask, dtype=bool)
        target = mask & (self._code == 0)
        if not target.any():
            return
        if reason not in self._reasons:
            self._reasons.append(reason)
        self._code[target] = self._reasons.index(reason)

    @property
    def raw(self) -> pa.Array | Sequence[str]:
        """Each row's text, as read."""
        return self._raw

    def rejected_for(self, reason: str) -> np.ndarray:
        """Mask of rows whose (first) rejection is ``reason``."""
        if reason not in self._reasons:
            return np.zeros(len(self), dtype=bool)
        return self._code == self._reasons.index(reason)

    @property
    def ok(self) -> np.ndarray:
        return self._code == 0

    def first(self) -> tuple[int, str] | None:
        """(line, reason) of the earliest rejected row, or None."""
        bad = np.flatnonzero(self._code != 0)
        if len(bad) == 0:
            return None
        i = bad[np.argmin(self.line[bad])]
        return int(self.line[i]), self._reasons[self._code[i]]

    def frame(self) -> pd.DataFrame:
        bad = np.flatnonzero(self._code != 0)
        if isinstance(self._raw, pa.Array | pa.ChunkedArray):
            raw = pc.take(self._raw, pa.array(bad, pa.int64())).to_pylist()
        else:
            raw = [self._raw[i] for i in bad]
        reasons = np.array(self._reasons, dtype=object)[self._code[bad]]
        return rejected_frame(self.line[bad], reasons, raw)


def rejected_frame(
    lines: Sequence[int], reasons: Sequence[str], raws: Sequence[str]
) -> pd.DataFrame:
    """The ``rejected`` table, sorted by line."""
    df = pd.DataFrame(
        {
            "line": pd.Series(np.asarray(lines, dtype=np.int64), dtype="int64"),
            "reason": pd.Series(list(reasons), dtype="str"),
            "raw": pd.Series([(r or "")[:RAW_LIMIT] for r in raws], dtype="str"),
        }
    )
    return df.sort_values("line", kind="stable").reset_index(drop=True)


def check_numeric(
    rows: RowSet, name: str, parsed: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Reject empty (``missing <name>``) and unparsable (``non-numeric <name>``) values."""
    values, empty, bad = parsed
    rows.reject(empty, f"missing {name}")
    rows.reject(bad, f"non-numeric {name}")
    return values


def check_gpus(rows: RowSet, gpus: np.ndarray, zero_reason: str) -> np.ndarray:
    """Reject non-integer, negative, zero and out-of-range (> ``MAX_GPUS``) GPU counts;
    return int64 counts (0 where bad)."""
    gpus = np.asarray(gpus, dtype=np.float64)
    finite = np.isfinite(gpus)
    rows.reject(finite & (gpus < 0), "negative num_gpus")
    rows.reject(np.isinf(gpus) | (finite & (gpus > MAX_GPUS)), "GPU count out of range")
    rows.reject(finite & (gpus != np.floor(gpus)), "non-integer num_gpus")
    rows.reject(finite & (gpus == 0), zero_reason)
    usable = finite & (gpus > 0) & (gpus <= MAX_GPUS)
    return np.where(usable, np.floor(np.where(usable, gpus, 0.0)), 0).astype(np.int64)


def check_duration(rows: RowSet, duration: np.ndarray) -> None:
    """Reject run times longer than ``MAX_DURATION_S`` (10 years)."""
    with np.errstate(invalid="ignore"):
        rows.reject(np.asarray(duration, dtype=np.float64) > MAX_DURATION_S, "duration out of range")


def check_time(rows: RowSet, seconds: np.ndarray, what: str, *, dates: bool) -> None:
    """Reject ``what`` times outside the plausible range: dates before 1970 or from 2100 on,
    numeric times beyond +-4,102,444,800 s. The reason is ``<what> time out of range``."""
    t = np.asarray(seconds, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = (t < MIN_DATE_S) | (t >= MAX_DATE_S) if dates else np.abs(t) > MAX_TIME_S
    rows.reject(bad, f"{what} time out of range")


def check_duplicates(rows: RowSet, job_id: pa.Array | np.ndarray | Sequence[str]) -> None:
    """Reject later occurrences of a job_id (the first occurrence in file order is kept)."""
    n = len(rows)
    if n < 2:
        return
    if isinstance(job_id, pa.Array) and (np.diff(rows.line) > 0).all():
        idx = pc.sort_indices(job_id).to_numpy()  # stable: equal ids stay in line order
        ordered = pc.take(job_id, pa.array(idx))
        same = np_bool(pc.equal(ordered.slice(1), ordered.slice(0, n - 1)))
        dup = np.zeros(n, dtype=bool)
        dup[idx[1:][same]] = True
    else:
        ids = _series(job_id)
        order = np.argsort(rows.line, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order] = ids.iloc[order].duplicated(keep="first").to_numpy()
    rows.reject(dup, "duplicate job_id")


def _series(values: pa.Array | pa.ChunkedArray | np.ndarray | Sequence[str]) -> pd.Series:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pd.Series(values.to_pandas(), copy=False)
    return pd.Series(np.asarray(values, dtype=object), dtype=object)
