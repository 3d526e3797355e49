"""Where jobs come from: synthetic job classes and native trace files, as JobSpec streams.

A workload is an iterator of ``JobSpec`` in submit order. Synthetic classes draw from their
own named streams (``arrivals.<class>``, ``sizes.<class>``, ``durations.<class>``), so
changing one class's durations leaves every arrival time unchanged (common random numbers).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from clustersim.config import JobClass, Scenario
from clustersim.errors import TraceError
from clustersim.model import JobSpec
from clustersim.rng import Draws, Streams

NATIVE_REQUIRED = ("job_id", "submit_s", "num_gpus", "duration_s")
NATIVE_OPTIONAL = ("job_class", "user")


def class_jobs(cls: JobClass, streams: Streams, horizon: float) -> Iterator[JobSpec]:
    """Poisson arrivals of one class, submitted before ``horizon``."""
    if cls.arrival_rate_per_h <= 0:
        return
    mean_gap = 3600.0 / cls.arrival_rate_per_h
    gen_a = streams(f"arrivals.{cls.name}")
    gen_s = streams(f"sizes.{cls.name}")
    gen_d = streams(f"durations.{cls.name}")
    gaps = Draws(lambda n: gen_a.exponential(mean_gap, n))
    counts = np.array(list(cls.gpus), dtype=np.int64)
    probs = np.array(list(cls.gpus.values()), dtype=float)
    probs = probs / probs.sum()
    if len(counts) == 1:
        only = int(counts[0])
        sizes = Draws(lambda n: np.full(n, only))
    else:
        sizes = Draws(lambda n: counts[gen_s.choice(len(counts), size=n, p=probs)])
    durations = Draws(cls.duration.sampler(gen_d))
    name = cls.name
    t = 0.0
    while True:
        t += gaps.next()
        if t >= horizon:
            return
        yield JobSpec(None, t, int(sizes.next()), float(durations.next()), name)


def synthetic_jobs(classes: list[JobClass], streams: Streams, horizon: float) -> Iterator[JobSpec]:
    """All classes merged in submit order (ties keep class order)."""
    sources = [class_jobs(c, streams, horizon) for c in classes]
    return heapq.merge(*sources, key=lambda s: s.submit_s)


def trace_jobs(frame) -> Iterator[JobSpec]:
    """JobSpecs from a native-schema DataFrame already sorted by submit time."""
    cols = [frame[c].tolist() for c in ("job_id", "submit_s", "num_gpus", "duration_s")]
    classes = frame["job_class"].tolist() if "job_class" in frame else ["trace"] * len(frame)
    users = frame["user"].tolist() if "user" in frame else [""] * len(frame)
    starts = (
        frame["recorded_start_s"].tolist()
        if "recorded_start_s" in frame
        else [float("nan")] * len(frame)
    )
    for job_id, submit, gpus, duration, cls, user, rec in zip(*cols, classes, users, starts, strict=True):
        yield JobSpec(str(job_id), float(submit), int(gpus), float(duration), str(cls), str(user), float(rec))


def scenario_jobs(scenario: Scenario, streams: Streams) -> Iterator[JobSpec]:
    """The scenario's workload as a JobSpec stream in submit order."""
    wl = scenario.workload
    if wl.classes is not None:
        return synthetic_jobs(wl.classes, streams, scenario.horizon)
    frame, _rejected = load_trace(wl.trace, wl.format, strict=True)
    return trace_jobs(frame)


# ----------------------------------------------------------------------------------- files


def load_trace(path: Path, fmt: str = "native", *, strict: bool = True):
    """Read a trace in any supported format as (native jobs frame, rejected rows frame)."""
    if fmt == "native":
        return read_native(path, strict=strict)
    from clustersim.adapters import read_trace  # format adapters: replay

    adapted = read_trace(path, fmt, strict=strict)
    return adapted.jobs, adapted.rejected


def _rejected_frame(rows: list[tuple[int, str, str]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=["line", "reason", "raw"]).astype({"line": "int64"})


def read_native(path: str | Path, *, strict: bool = True):
    """Read a native trace (CSV or Parquet) into (jobs, rejected).

    Columns: ``job_id, submit_s, num_gpus, duration_s`` and optionally ``job_class, user``.
    With ``strict`` the first bad row raises ``TraceError`` naming its line (CSV: the file
    line, header = 1; Parquet: row number + 1); otherwise bad rows are returned as rejected.
    The result is sorted by submit time, then file order.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "trace file not found")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if is_parquet:
            raw = pd.read_parquet(path)
            raw = raw.astype({c: "string" for c in raw.columns})
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise TraceError(str(path), f"cannot read as {'Parquet' if is_parquet else 'CSV'}: {err}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in NATIVE_REQUIRED if c not in raw.columns]
    if missing:
        raise TraceError(
            str(path),
            f"missing column(s) {', '.join(missing)}; expected {', '.join(NATIVE_REQUIRED)} "
            f"(found {', '.join(map(str, raw.columns)) or 'none'})",
            line=1,
        )
    n = len(raw)
    line_of = np.arange(n) + (2 if not is_parquet else 1)
    bad_reason = np.full(n, "", dtype=object)

    def flag(mask, reason):
        mask = np.asarray(mask) & (bad_reason == "")
        bad_reason[mask] = reason

    ids = raw["job_id"].astype("string").str.strip()
    flag(ids.isna().to_numpy() | (ids == "").to_numpy(), "missing job_id")
    numbers = {}
    for col in ("submit_s", "num_gpus", "duration_s"):
        text = raw[col].astype("string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy()
        flag(empty, f"missing {col}")
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        flag(~empty & ~np.isfinite(values), f"{col} is not a number")
        numbers[col] = values
    gpus = numbers["num_gpus"]
    with np.errstate(invalid="ignore"):
        flag(np.isfinite(gpus) & ((gpus != np.round(gpus)) | (gpus < 1)), "num_gpus must be a whole number >= 1")
        flag(numbers["submit_s"] < 0, "submit_s must be >= 0")
        flag(numbers["duration_s"] < 0, "duration_s must be >= 0")
    dup = ids.duplicated(keep="first").to_numpy() & (bad_reason == "")
    flag(dup, "duplicate job_id")
    bad = bad_reason != ""
    if bad.any():
        first = int(np.argmax(bad))
        if strict:
            col = bad_reason[first]
            raise TraceError(str(path), f"{col} (row: {_raw_row(raw, first)})", line=int(line_of[first]))
        rejected = _rejected_frame(
            [(int(line_of[i]), str(bad_reason[i]), _raw_row(raw, i)) for i in np.flatnonzero(bad)]
        )
    else:
        rejected = _rejected_frame([])
    keep = ~bad
    frame = pd.DataFrame(
        {
            "job_id": ids[keep].astype(str).to_numpy(),
            "submit_s": numbers["submit_s"][keep],
            "num_gpus": gpus[keep].astype(np.int64),
            "duration_s": numbers["duration_s"][keep],
            "job_class": (raw["job_class"].astype(str).to_numpy()[keep] if "job_class" in raw else "trace"),
            "user": (raw["user"].astype(str).to_numpy()[keep] if "user" in raw else ""),
        }
    )
    frame = frame.sort_values("submit_s", kind="stable", ignore_index=True)
    return frame, rejected


def _raw_row(raw, i: int) -> str:
    import pandas as pd

    return ",".join("" if pd.isna(v) else str(v) for v in raw.iloc[i].tolist())[:200]


def read_empirical(path: str | Path) -> np.ndarray:
    """Durations for an empirical distribution: one number per line, or a CSV with a
    ``duration_s`` column. All must be finite and >= 0; at least one value."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise TraceError(str(path), "empirical distribution file not found")
    raw = pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
    first = raw.iloc[0].tolist() if len(raw) else []
    if "duration_s" in [str(v).strip() for v in first]:
        col = [str(v).strip() for v in first].index("duration_s")
        texts = raw.iloc[1:, col]
        offset = 2
    else:
        texts = raw.iloc[:, 0]
        offset = 1
    values = pd.to_numeric(texts.str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(str(path), f"expected a duration in seconds >= 0, got {texts.iloc[i]!r}", line=i + offset)
    if len(values) == 0:
        raise TraceError(str(path), "no values: expected one duration in seconds per line")
    return values
