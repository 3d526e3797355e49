"""Numbers behind the "Inference services" section, from the run directory."""

from __future__ import annotations

from clustersim.report.files import read_optional_table
from clustersim.report.model import Run

DAY_S = 86400.0
HOUR_S = 3600.0
GRID_S = 300.0  # sampling step of the hour-of-day profiles


def load_services(run: Run):
    """``services.parquet`` as a DataFrame, or None when it is missing or unreadable."""
    return read_optional_table(run.dir, "services.parquet")


def _sample(t, v, grid):
    """Values of the step function (t, v) at the grid points (0 before the first row)."""
    import numpy as np

    i = np.searchsorted(t, grid, side="right") - 1
    out = np.where(i >= 0, np.asarray(v, dtype=float)[np.maximum(i, 0)], 0.0)
    return out


def fleet_by_hour(run: Run):
    """Mean GPUs by hour of day after warm-up: inference, training, idle (from the timeseries)."""
    import numpy as np

    ts = run.timeseries
    if "inference_gpus" not in ts:
        return None
    horizon, warmup = run.horizon, run.warmup
    grid = np.arange(warmup, horizon, GRID_S)
    if len(grid) == 0:
        return None
    t = ts["t_s"].to_numpy(float)
    inf = _sample(t, ts["inference_gpus"], grid)
    busy = _sample(t, ts["busy_gpus"], grid)
    up = _sample(t, ts["up_gpus"], grid)
    hour = ((grid % DAY_S) // HOUR_S).astype(int)
    out = {}
    for name, v in (("inference", inf), ("training", busy - inf), ("idle", up - busy)):
        out[name] = np.array([v[hour == h].mean() if (hour == h).any() else np.nan for h in range(24)])
    return out


def wait_by_hour(run: Run):
    """Mean and p90 wait in hours of jobs submitted after warm-up that started, by hour of day
    of submission: (hours 0–23, mean, p90; NaN for an hour without jobs), or None when no
    such job exists."""
    import numpy as np

    jobs = run.jobs
    measured = (jobs["submit_s"] >= run.warmup) & jobs["start_s"].notna()
    if not measured.any():
        return None
    hour = ((jobs.loc[measured, "submit_s"] % DAY_S) // HOUR_S).astype(int).to_numpy()
    waits = jobs.loc[measured, "wait_s"].to_numpy(float) / HOUR_S
    hours = np.arange(24)
    mean_h = np.array([waits[hour == h].mean() if (hour == h).any() else np.nan for h in hours])
    p90_h = np.array([np.percentile(waits[hour == h], 90) if (hour == h).any() else np.nan
                      for h in hours])
    return hours, mean_h, p90_h
