"""Summaries of a run: pure functions of its tables.

``summarize`` computes every summary number from the jobs table and the timeseries alone, so
anyone can recompute it from the files of a run directory; ``summarize_failures`` and
``summarize_services`` add the keys of runs with failures and with inference services.
"""

from __future__ import annotations

import math

import numpy as np

from clustersim.results.columns import STATES


def step_integral(t: np.ndarray, v: np.ndarray, start: float, end: float) -> float:
    """Integral over [start, end] of the right-continuous step function v(t) (v[i] holds on
    [t[i], t[i+1]); the last value holds to ``end``; zero before t[0]).

    One temporary as long as ``t``: the clipped times become the interval lengths in place,
    a slice at a time, and ``v`` (of any numeric type) multiplies them without a float copy.
    Each interval is still ``min(max(t[i+1], start), end) - min(max(t[i], start), end)`` and
    the sum is over the same array, so the result is the same float."""
    if end <= start or len(t) == 0:
        return 0.0
    span = np.clip(np.asarray(t, dtype=float), start, end)
    n = len(span)
    last = end - span[-1]
    for a in range(0, n - 1, _SLICE):
        b = min(a + _SLICE, n - 1)
        np.subtract(span[a + 1:b + 1], span[a:b], out=span[a:b])  # span[b] is still a time here
    span[-1] = last
    np.multiply(span, v, out=span)
    return float(np.sum(span))


_SLICE = 1 << 16  # rows per in-place slice of step_integral: small temporaries, few calls


def stats(values: np.ndarray, keys: tuple[str, ...]) -> dict:
    """Mean and percentiles (``p50``, ``p90`` ...) of ``values``; None for each when empty."""
    if len(values) == 0:
        return {k: None for k in keys}
    out = {}
    for k in keys:
        if k == "mean":
            out[k] = float(np.mean(values))
        else:
            out[k] = float(np.percentile(values, float(k[1:])))
    return out


def weighted_stats(values: np.ndarray, weights: np.ndarray, keys: tuple[str, ...]) -> dict:
    """Weighted mean and percentiles: ``pQ`` is the smallest value v such that the values <= v
    hold at least Q% of the total weight (no interpolation). None for each when the total
    weight is zero."""
    total = float(np.sum(weights))
    if len(values) == 0 or not total > 0:
        return {k: None for k in keys}
    order = np.argsort(values, kind="stable")
    v, share = values[order], weights[order].astype(float, copy=False)
    del order
    np.cumsum(share, out=share)  # in place: the same cumulative shares, without two more copies
    share /= total
    out = {}
    for k in keys:
        if k == "mean":
            out[k] = float(np.dot(values, weights) / total)
        else:
            i = int(np.searchsorted(share, float(k[1:]) / 100.0 - 1e-12, side="left"))
            out[k] = float(v[min(i, len(v) - 1)])
    return out


WAIT_KEYS = ("mean", "p50", "p90", "p99")
JCT_KEYS = ("mean", "p50", "p90")


def busy_gpu_seconds_from_jobs(jobs, start: float, end: float) -> float:
    """Busy GPU-seconds in [start, end] recomputed from the jobs table alone."""
    started = jobs[jobs["start_s"].notna()]
    s = started["start_s"].to_numpy(float)
    e = started["end_s"].fillna(end).to_numpy(float)
    overlap = np.clip(np.minimum(e, end) - np.maximum(s, start), 0, None)
    return float(np.sum(overlap * started["num_gpus"].to_numpy(float)))


def summarize(jobs, timeseries, *, scenario: str, seed: int, horizon: float, warmup: float) -> dict:
    """Every summary number, from the jobs table and the timeseries alone.

    Waits are over jobs submitted at or after ``warmup`` that started by the horizon; JCT
    over those that finished. Utilisation is busy over up GPU-seconds in [warmup, horizon].
    ``wait_s_gpu_weighted`` weighs each of those waits by the job's GPU-seconds (GPUs ×
    duration), so it says how long the cluster's GPU time waited, not how long most jobs did;
    ``by_class.<c>.gpu_hours`` and ``gpu_share`` are the GPU-hours each class asked for (jobs
    submitted after warm-up, not rejected) and their share of all of them.
    """
    state = jobs["state"]
    job_class = jobs["job_class"]
    submit = jobs["submit_s"].to_numpy(float)
    start = jobs["start_s"].to_numpy(float)
    end = jobs["end_s"].to_numpy(float)
    counts = {s: int((state == s).sum()) for s in STATES}
    t = timeseries["t_s"].to_numpy(float)
    window = horizon - warmup
    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), warmup, horizon)
    up = step_integral(t, timeseries["up_gpus"].to_numpy(float), warmup, horizon)
    measured = (submit >= warmup) & (state != "rejected").to_numpy(bool)
    started = measured & ~np.isnan(start)
    finished = measured & (state == "finished").to_numpy(bool)
    wait = start - submit
    gpu_s = jobs["num_gpus"].to_numpy(float) * jobs["duration_s"].to_numpy(float)  # GPU-seconds asked for
    offered = float(np.sum(gpu_s[measured]))
    summary = {
        "scenario": scenario,
        "seed": seed,
        "horizon_s": horizon,
        "warmup_s": warmup,
        "jobs": {"submitted": int(len(state)), **counts},
        "gpu_utilisation": (busy / up) if up > 0 else None,
        "offered_load": (offered / up) if up > 0 else None,
        "mean_queued_jobs": step_integral(t, timeseries["queued_jobs"].to_numpy(float), warmup, horizon) / window,
        "wait_s": stats(wait[started], WAIT_KEYS),
        "wait_s_gpu_weighted": weighted_stats(wait[started], gpu_s[started], WAIT_KEYS),
        "jct_s": None,  # below
        "by_class": {},
    }
    jct = end - submit  # made after the weighted waits' sort, which is when memory peaks
    summary["jct_s"] = stats(jct[finished], JCT_KEYS)
    for name in sorted(str(c) for c in job_class.unique().tolist()):
        mine = (job_class == name).to_numpy(bool)
        summary["by_class"][name] = {
            "jobs": int(np.sum(mine & measured)),
            "wait_s": stats(wait[mine & started], WAIT_KEYS),
            "jct_s": stats(jct[mine & finished], JCT_KEYS),
            "gpu_hours": float(np.sum(gpu_s[mine & measured])) / 3600.0,
            "gpu_share": float(np.sum(gpu_s[mine & measured])) / offered if offered > 0 else None,
        }
    return clean(summary)


def summarize_failures(jobs, timeseries, events, *, horizon: float, warmup: float, spare_swaps: int) -> dict:
    """Failure and goodput numbers, from the jobs table, timeseries and events alone.

    GPU-second accounting is over the whole run [0, horizon]: busy = useful + lost +
    overhead, where useful is work done (kept), lost is work since the last checkpoint plus
    time hung before detection, overhead is checkpoint writing and restarts.
    """
    t = timeseries["t_s"].to_numpy(float)
    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), 0.0, horizon)
    if "inference_gpus" in timeseries:  # the identity is over training GPUs only
        busy -= step_integral(t, timeseries["inference_gpus"].to_numpy(float), 0.0, horizon)
    gpus = jobs["num_gpus"].to_numpy(float)
    # useful_s: wall seconds of kept progress (= work done at speed 1.0; older runs lack it)
    useful_s = jobs["useful_s" if "useful_s" in jobs else "work_done_s"].to_numpy(float)
    useful = float(np.sum(useful_s * gpus))
    lost = float(jobs["lost_gpu_s"].sum())
    overhead = float(jobs["overhead_gpu_s"].sum())
    kind = events["kind"].to_numpy(object) if len(events) else np.array([], dtype=object)
    finished = (jobs["state"] == "finished").to_numpy(bool) & (jobs["submit_s"].to_numpy(float) >= warmup)
    wall = (jobs["end_s"] - jobs["start_s"]).to_numpy(float)
    work = jobs["useful_s"].to_numpy(float) if "useful_s" in jobs else jobs["duration_s"].to_numpy(float)

    def ettr(mask) -> float | None:
        denom = float(np.sum(wall[mask] * gpus[mask]))
        return float(np.sum(work[mask] * gpus[mask])) / denom if denom > 0 else None

    classes = sorted(str(c) for c in jobs["job_class"].unique().tolist())
    job_class = jobs["job_class"]
    return clean(
        {
            "failures": int(np.sum(kind == "failure")),
            "job_failures": int(np.sum(kind == "job_failure")),
            "job_interruptions": int(jobs["restarts"].sum()),
            "spare_swaps": int(spare_swaps),
            "nodes_pulled": int(np.sum(kind == "pulled")),
            "lost_gpu_hours": lost / 3600.0,
            "overhead_gpu_hours": overhead / 3600.0,
            "useful_gpu_hours": useful / 3600.0,
            "busy_gpu_hours": busy / 3600.0,
            "goodput": useful / busy if busy > 0 else None,
            "ettr": {
                "overall": ettr(finished),
                "by_class": {c: ettr(finished & (job_class == c).to_numpy(bool)) for c in classes},
            },
            "mean_nodes_down": step_integral(t, timeseries["down_nodes"].to_numpy(float), warmup, horizon)
            / (horizon - warmup),
        }
    )


def summarize_services(services, jobs, *, horizon: float, warmup: float, rates: dict | None = None) -> dict:
    """Service levels and the cost to training, from ``services.parquet`` and the jobs table.

    Per service, over [warmup, horizon]: ``slo_attainment`` = fraction of time with no unserved
    demand; ``unserved_fraction`` = unserved over demanded requests; ``replica_gpu_hours`` =
    GPU-hours held by replicas (starting or ready); ``peak_replicas`` = most replicas placed at
    once; ``shortfall_hours`` = time with unserved demand; ``waiting_replica_hours`` = replica-
    hours wanted but not placed (no GPUs). With power-capped replicas (``replica_speed``):
    ``capped_hours`` = time its replicas ran below full speed; ``capacity_lost_requests`` = the
    capacity its ready replicas lost to the cap, in requests (ready x rps_per_replica x (1 -
    speed), integrated; ``rates``: rps_per_replica by service); ``capacity_lost_share`` = that
    over their full-speed capacity; ``capped_unserved_requests`` and ``capped_shortfall_hours``
    = unserved requests and time with unserved demand while capped. Training: ``preemptions`` and
    ``preempted_gpu_hours_lost`` (work lost to preemption) over the whole run."""
    out: dict = {}
    window = horizon - warmup
    for name in sorted(set(services["service"].tolist())) if len(services) else []:
        rows = services[services["service"] == name]
        t = rows["t_s"].to_numpy(float)
        unserved = rows["unserved_rps"].to_numpy(float)
        demand = step_integral(t, rows["demand_rps"].to_numpy(float), warmup, horizon)
        short = step_integral(t, (unserved > 1e-9).astype(float), warmup, horizon)
        placed = (rows["ready_replicas"] + rows["starting_replicas"]).to_numpy(float)
        inside = (t < horizon) & (np.append(t[1:], horizon) > warmup)
        out[name] = {
            "slo_attainment": 1.0 - short / window,
            "unserved_fraction": step_integral(t, unserved, warmup, horizon) / demand if demand > 0 else 0.0,
            "unserved_requests": step_integral(t, unserved, warmup, horizon),
            "demand_requests": demand,
            "shortfall_hours": short / 3600.0,
            "replica_gpu_hours": step_integral(t, rows["replica_gpus"].to_numpy(float), warmup, horizon) / 3600.0,
            "peak_replicas": int(placed[inside].max()) if inside.any() else 0,
            "waiting_replica_hours": step_integral(t, rows["waiting_replicas"].to_numpy(float), warmup, horizon)
            / 3600.0,
        }
        if "replica_speed" in rows:
            out[name].update(_capped_keys(rows, t, unserved, rates[name], warmup, horizon))
    return clean(
        {
            "services": out,
            "preemptions": int(jobs["preemptions"].sum()) if "preemptions" in jobs else 0,
            "preempted_gpu_hours_lost": float(jobs["preempted_lost_gpu_s"].sum()) / 3600.0
            if "preempted_lost_gpu_s" in jobs
            else 0.0,
        }
    )


def _capped_keys(rows, t, unserved, rate: float, warmup: float, horizon: float) -> dict:
    """What power-capped replicas cost one service over [warmup, horizon] (``summarize_services``):
    its ready replicas' full-speed capacity is ready x ``rate``, of which (1 - speed) is lost."""
    speed = rows["replica_speed"].to_numpy(float)
    capped = (speed < 1.0).astype(float)
    full = rows["ready_replicas"].to_numpy(float) * rate
    lost = step_integral(t, full * (1.0 - speed), warmup, horizon)
    total = step_integral(t, full, warmup, horizon)
    return {
        "capped_hours": step_integral(t, capped, warmup, horizon) / 3600.0,
        "capacity_lost_requests": lost,
        "capacity_lost_share": lost / total if total > 0 else 0.0,
        "capped_unserved_requests": step_integral(t, unserved * capped, warmup, horizon),
        "capped_shortfall_hours": step_integral(t, (unserved > 1e-9) * capped, warmup, horizon) / 3600.0,
    }


def clean(value):
    """JSON-safe: NaN and inf become None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
