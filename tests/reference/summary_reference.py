"""The summary numbers of a run, recomputed from its files with numpy and pandas alone.

Written from the README's glossary (``summary.json`` keys, ``jobs.parquet`` and
``timeseries.parquet`` columns), with no import from clustersim, so that tests compare the
summary a run wrote with numbers that do not come from the function that wrote it
(``results.summary.summarize``).

* The timeseries is a step function: each row's values hold from its ``t_s`` until the next
  row's (the last until the horizon).
* ``gpu_utilisation``: busy over up GPU-seconds in [warmup, horizon]; ``offered_load``: GPU
  seconds asked for (GPUs x duration) by jobs submitted in the window and not rejected, over
  the same up GPU-seconds; ``mean_queued_jobs``: time-average of ``queued_jobs`` there.
* ``wait_s``: waits of jobs submitted at or after warm-up that started (not rejected); mean
  and linearly interpolated percentiles. ``wait_s_gpu_weighted``: mean weighted by GPU-seconds;
  pQ is the smallest wait such that jobs waiting at most that long hold Q% of the GPU time.
* ``jct_s``: end - submit of those that finished. ``by_class``: the same per class, with
  ``jobs`` (submitted after warm-up, not rejected), ``gpu_hours`` and ``gpu_share``.
* With failures: counts of ``failure`` / ``job_failure`` / ``pulled`` events, restarts, the
  GPU-hours of useful work (``useful_s`` x GPUs), lost and overhead work, busy GPU-hours over
  [0, horizon] (less replica GPUs), goodput, ETTR of finished jobs submitted after warm-up,
  and ``mean_nodes_down`` over [warmup, horizon].
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

WAIT_KEYS = ("mean", "p50", "p90", "p99")
JCT_KEYS = ("mean", "p50", "p90")


def area(ts: pd.DataFrame, column: str, a: float, b: float) -> float:
    """Integral of a timeseries column over [a, b]."""
    t = ts["t_s"].to_numpy(float)
    nxt = np.concatenate([t[1:], [b]])
    overlap = np.minimum(nxt, b) - np.maximum(t, a)
    return float((ts[column].to_numpy(float) * np.where(overlap > 0, overlap, 0.0)).sum())


def percentile(values, q: float) -> float:
    """Linear interpolation between closest ranks (the ``(n - 1) q`` rule)."""
    x = sorted(float(v) for v in values)
    h = (len(x) - 1) * q / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return x[lo] + (h - lo) * (x[hi] - x[lo])


def plain(values, keys) -> dict:
    values = list(values)
    if not values:
        return {k: None for k in keys}
    return {k: (sum(values) / len(values) if k == "mean" else percentile(values, float(k[1:]))) for k in keys}


def weighted(values, weights, keys) -> dict:
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    total = weights.sum()
    if len(values) == 0 or not total > 0:
        return {k: None for k in keys}
    out = {}
    for k in keys:
        if k == "mean":
            out[k] = float((values * weights).sum() / total)
        else:
            share = float(k[1:]) / 100.0
            out[k] = float(min(v for v in values if weights[values <= v].sum() >= share * total * (1 - 1e-12)))
    return out


def core_summary(jobs: pd.DataFrame, ts: pd.DataFrame, horizon: float, warmup: float) -> dict:
    state = jobs["state"].astype(str)
    submitted_late = jobs["submit_s"] >= warmup
    live = submitted_late & (state != "rejected")
    started = live & jobs["start_s"].notna()
    finished = submitted_late & (state == "finished")
    wait = jobs["start_s"] - jobs["submit_s"]
    jct = jobs["end_s"] - jobs["submit_s"]
    gpu_s = jobs["num_gpus"].astype(float) * jobs["duration_s"].astype(float)
    up = area(ts, "up_gpus", warmup, horizon)
    offered = float(gpu_s[live].sum())
    out = {
        "jobs": {"submitted": len(jobs), **{s: int((state == s).sum()) for s in ("finished", "running", "queued", "rejected")}},
        "gpu_utilisation": area(ts, "busy_gpus", warmup, horizon) / up if up > 0 else None,
        "offered_load": offered / up if up > 0 else None,
        "mean_queued_jobs": area(ts, "queued_jobs", warmup, horizon) / (horizon - warmup),
        "wait_s": plain(wait[started], WAIT_KEYS),
        "wait_s_gpu_weighted": weighted(wait[started], gpu_s[started], WAIT_KEYS),
        "jct_s": plain(jct[finished], JCT_KEYS),
        "by_class": {},
    }
    for name, mine in jobs.groupby(jobs["job_class"].astype(str)).groups.items():
        rows = jobs.index.isin(mine)
        out["by_class"][name] = {
            "jobs": int((live & rows).sum()),
            "wait_s": plain(wait[started & rows], WAIT_KEYS),
            "jct_s": plain(jct[finished & rows], JCT_KEYS),
            "gpu_hours": float(gpu_s[live & rows].sum()) / 3600.0,
            "gpu_share": float(gpu_s[live & rows].sum()) / offered if offered > 0 else None,
        }
    return out


def failure_summary(jobs: pd.DataFrame, ts: pd.DataFrame, events: pd.DataFrame, horizon: float, warmup: float) -> dict:
    kinds = events["kind"].astype(str).value_counts() if len(events) else pd.Series(dtype=int)
    busy = area(ts, "busy_gpus", 0.0, horizon)
    if "inference_gpus" in ts:
        busy -= area(ts, "inference_gpus", 0.0, horizon)
    gpus = jobs["num_gpus"].astype(float)
    useful = float((jobs["useful_s"] * gpus).sum())
    done = (jobs["state"].astype(str) == "finished") & (jobs["submit_s"] >= warmup)

    def ettr(mask) -> float | None:
        wall = float(((jobs["end_s"] - jobs["start_s"]) * gpus)[mask].sum())
        return float((jobs["useful_s"] * gpus)[mask].sum()) / wall if wall > 0 else None

    return {
        "failures": int(kinds.get("failure", 0)),
        "job_failures": int(kinds.get("job_failure", 0)),
        "job_interruptions": int(jobs["restarts"].sum()),
        "nodes_pulled": int(kinds.get("pulled", 0)),
        "lost_gpu_hours": float(jobs["lost_gpu_s"].sum()) / 3600.0,
        "overhead_gpu_hours": float(jobs["overhead_gpu_s"].sum()) / 3600.0,
        "useful_gpu_hours": useful / 3600.0,
        "busy_gpu_hours": busy / 3600.0,
        "goodput": useful / busy if busy > 0 else None,
        "ettr": {
            "overall": ettr(done),
            "by_class": {c: ettr(done & (jobs["job_class"].astype(str) == c)) for c in sorted(set(jobs["job_class"].astype(str)))},
        },
        "mean_nodes_down": area(ts, "down_nodes", warmup, horizon) / (horizon - warmup),
    }


def assert_close(got, want, path: str = "", rel: float = 1e-9, abs_: float = 1e-9) -> None:
    """``want`` (recomputed) agrees with ``got`` (the summary) key by key; None = None, NaN
    and inf stand for None (the summary's JSON)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), (path, got)
        assert set(got) == set(want), (path, sorted(got), sorted(want))
        for k in want:
            assert_close(got[k], want[k], f"{path}.{k}", rel, abs_)
        return
    if want is None or (isinstance(want, float) and not math.isfinite(want)):
        assert got is None, (path, got, want)
        return
    assert got is not None, (path, got, want)
    if isinstance(want, int) and not isinstance(want, bool):
        assert got == want, (path, got, want)
        return
    assert math.isclose(float(got), float(want), rel_tol=rel, abs_tol=abs_), (path, got, want)
