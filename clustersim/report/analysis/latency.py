"""Numbers behind the latency part of the "Inference services" section (issue 19): predicted
latency against the SLO over a typical day, attainment by hour, and the request-level windows
beside the analytic model. From ``services.parquet`` (the latency columns), ``summary.json``
and ``requests.parquet``; nothing is recomputed from the model."""

from __future__ import annotations

from clustersim.report.files import read_optional_table
from clustersim.report.model import Run

DAY_S = 86400.0
HOUR_S = 3600.0
GRID_S = 300.0  # sampling step of the hour-of-day profiles
LATENCY = ("ttft_p99_s", "tpot_p99_s", "ttft_p50_s", "tpot_p50_s")


def has_latency(rows) -> bool:
    return "ttft_p99_s" in rows.columns and rows["ttft_p99_s"].notna().any()


def by_hour(run: Run, rows):
    """Per hour of day after warm-up, weighted by demand (requests): the median over the days
    of each latency column, its range (the 10th and 90th percentile over the days), and the
    share of requests within the SLO (``attainment``). ``rows`` are one service's rows in time
    order. Returns a dict of 24-value arrays (NaN for an hour without requests) or None."""
    import numpy as np

    grid = np.arange(run.warmup, run.horizon, GRID_S)
    if len(grid) == 0 or not has_latency(rows):
        return None
    t = rows["t_s"].to_numpy(float)
    i = np.searchsorted(t, grid, side="right") - 1
    ok = i >= 0
    grid, i = grid[ok], i[ok]
    demand = rows["demand_rps"].to_numpy(float)[i]
    hour = ((grid % DAY_S) // HOUR_S).astype(int)
    day = (grid // DAY_S).astype(int)
    out = {}
    for col in (*LATENCY, "attainment"):
        if col not in rows:
            continue
        v = rows[col].to_numpy(float)[i]
        if col == "attainment":
            out[col] = np.array([_weighted(v[hour == h], demand[hour == h]) for h in range(24)])
            continue
        per_day = {}
        for d in np.unique(day):
            for h in range(24):
                sel = (day == d) & (hour == h)
                if sel.any():
                    # a step with more demand than the replicas can serve is infinitely late
                    per_day.setdefault(h, []).append(_weighted_median(v[sel], demand[sel]))
        med = np.full(24, np.nan)
        lo = np.full(24, np.nan)
        hi = np.full(24, np.nan)
        for h, vals in per_day.items():
            vals = np.array(vals)
            # order statistics, no interpolation: a day whose hour was overloaded is inf
            med[h], lo[h], hi[h] = np.percentile(vals, [50, 10, 90], method="inverted_cdf")
        out[col] = med
        out[col + ":lo"], out[col + ":hi"] = lo, hi
    return out


def _weighted(v, w) -> float:
    import numpy as np

    ok = np.isfinite(v) | (v == np.inf)
    total = w[ok].sum()
    return float((np.where(np.isfinite(v), v, 0.0)[ok] * w[ok]).sum() / total) if total > 0 else float("nan")


def _weighted_median(v, w) -> float:
    import numpy as np

    if w.sum() <= 0:
        return float(np.median(v))
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, cum[-1] / 2)])


def slo_targets(cfg: dict) -> dict[str, tuple[float, float]]:
    """metric -> (percentile, limit in seconds) from a service's config; attainment goal under
    key ``attainment`` as (goal, goal)."""
    lat = cfg.get("latency") if isinstance(cfg, dict) else None
    slo = lat.get("slo") if isinstance(lat, dict) else None
    if not isinstance(slo, dict):
        return {}
    out = {}
    for name in ("ttft", "tpot", "e2e"):
        t = slo.get(name)
        if isinstance(t, dict) and "percentile" in t and "value" in t:
            out[name] = (float(t["percentile"]), float(t["value"]))
    if slo.get("attainment") is not None:
        out["attainment"] = (float(slo["attainment"]), float(slo["attainment"]))
    return out


def load_requests(run: Run):
    """``requests.parquet`` or None."""
    return read_optional_table(run.dir, "requests.parquet")
