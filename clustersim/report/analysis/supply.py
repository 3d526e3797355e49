"""Numbers behind the "Capacity, supply and cost" section, from the run directory.

Before / after: the section compares jobs submitted (after warm-up, not rejected) before the
first ordered GPUs entered service with jobs submitted at or after the last ordered GPUs did
(``in_service`` events of an order batch, ``batch >= 0``; rentals are not orders). A job
still queued at the end counts with the time it had waited so far (horizon − submit), so a
p90 that includes such jobs is a lower bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from clustersim.report.model import Run

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
HOUR_S = 3600.0


def supply_config(run: Run) -> dict[str, Any] | None:
    """``scenario.supply`` when the run simulated supply, else None."""
    value = run.scenario.get("supply")
    return value if isinstance(value, dict) else None


def load_events(run: Run):
    """The supply rows of ``events.parquet`` (all columns the section uses present; an empty
    frame when the file is missing)."""
    import pandas as pd

    path = Path(run.dir) / "events.parquet"
    frame = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
    defaults = {"t_s": float("nan"), "kind": "", "gpu_type": "", "gpus": 0, "order_id": -1,
                "batch": -1, "late_s": float("nan"), "detail": ""}
    for column, value in defaults.items():
        if column not in frame.columns:
            frame[column] = value
    for column in ("kind", "gpu_type", "detail"):
        frame[column] = frame[column].astype(str)
    for column in ("t_s", "gpus", "order_id", "batch", "late_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)


def entered_service(events):
    """``in_service`` events of ordered batches (not rentals): (times, GPUs), in time order,
    same-time events merged."""
    rows = events[(events["kind"] == "in_service") & (events["batch"] >= 0)]
    grouped = rows.groupby("t_s", sort=True)["gpus"].sum()
    return grouped.index.to_numpy(float), grouped.to_numpy(float)


def job_waits(run: Run):
    """Measured jobs' submit times and waits; a job not started by the end counts with
    horizon − submit. Returns (submit, wait, started) numpy arrays."""
    jobs = run.measured_jobs(())
    started = jobs["started"].to_numpy(bool)
    submit = jobs["submit_s"].to_numpy(float)
    wait = jobs["wait"].to_numpy(float).copy()
    wait[~started] = run.horizon - submit[~started]
    return submit, wait, started


class WaitWindow(NamedTuple):
    """Jobs submitted in a time window, their p90 wait, and how many were still queued."""

    jobs: int
    p90: float | None
    queued: int  # jobs still queued at the end (their wait is a lower bound)


def _window(submit, wait, started, inside) -> WaitWindow:
    import numpy as np

    w = wait[inside]
    w = w[np.isfinite(w)]
    p90 = float(np.percentile(w, 90)) if len(w) else None
    return WaitWindow(int(inside.sum()), p90, int((inside & ~started).sum()))


def wait_before_after(run: Run, first: float, last: float) -> tuple[WaitWindow, WaitWindow]:
    """p90 wait of jobs submitted before ``first`` and at or after ``last``."""
    submit, wait, started = job_waits(run)
    return (_window(submit, wait, started, submit < first),
            _window(submit, wait, started, submit >= last))


def binned_p90_wait(run: Run, width: float):
    """p90 wait of jobs by submit time in bins of ``width`` seconds from 0 to the horizon:
    (bin edges, p90 seconds per bin or NaN, jobs per bin, still-queued jobs per bin)."""
    import numpy as np

    submit, wait, started = job_waits(run)
    n = max(1, int(np.ceil(run.horizon / width - 1e-9)))
    edges = np.minimum(np.arange(n + 1) * width, run.horizon)
    index = np.clip(np.searchsorted(edges, submit, side="right") - 1, 0, n - 1)
    p90 = np.full(n, np.nan)
    count = np.zeros(n, dtype=int)
    queued = np.zeros(n, dtype=int)
    finite = np.isfinite(wait)
    for i in range(n):
        inside = (index == i) & finite
        count[i] = int(inside.sum())
        queued[i] = int((inside & ~started).sum())
        if count[i]:
            p90[i] = float(np.percentile(wait[inside], 90))
    return edges, p90, count, queued


def timeseries_column(run: Run, name: str):
    """A timeseries column as floats (missing values 0), or None when the run lacks it."""
    import pandas as pd

    ts = run.timeseries
    if name not in ts.columns:
        return None
    return pd.to_numeric(ts[name], errors="coerce").fillna(0).to_numpy(float)



def wait_bin(horizon: float) -> tuple[float, str]:
    """The bin width (seconds) and its name for wait by submit time over a run this long."""
    if horizon >= 8 * WEEK_S:
        return WEEK_S, "week"
    if horizon >= 4 * DAY_S:
        return DAY_S, "day"
    return HOUR_S, "hour"
