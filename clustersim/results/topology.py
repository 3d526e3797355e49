"""The topology summary: a pure function of a run's tables (runs with ``cluster.topology``).

``topology.mean_free_gpus`` and ``topology.mean_fragmented_gpus`` are time averages over
[warmup, horizon] of the ``free_gpus_topo`` and ``fragmented_gpus`` timeseries columns;
``topology.by_level.<level>`` gives, for gangs submitted after warm-up held to that level by the
locality rule (``any``: larger than every level), their count, how many started, their wait
(mean, p90, of those started) and the mean number of domains of that level they spanned.
With domain failures, ``topology.domain_failures.<name>`` counts the events of each kind and
``topology.mean_domain_down_nodes`` is the time average of nodes held down by them.

Also here, as pure functions of the tables: the ``maintenance`` summary (runs with a
``maintenance`` section), and what the report's topology section shows: waits of gangs by
locality level, time lost to stragglers (``slow_s``), and the domain-level event timeline.
"""

from __future__ import annotations

import numpy as np


def topology_summary(jobs, timeseries, events, warmup: float, horizon: float) -> dict:
    """Time-average free and fragmented GPUs over [warmup, horizon], and the waits of gangs
    submitted after warm-up by the level their locality rule holds them to."""
    t = timeseries["t_s"].to_numpy(dtype=float)
    ends = np.append(t[1:], horizon)
    span = np.clip(ends, warmup, horizon) - np.clip(t, warmup, horizon)
    width = horizon - warmup

    def mean(column: str) -> float:
        v = timeseries[column].to_numpy(dtype=float)
        return float((v * span).sum() / width) if width > 0 else 0.0

    out: dict = {"mean_free_gpus": mean("free_gpus_topo"), "mean_fragmented_gpus": mean("fragmented_gpus")}
    after = jobs[(jobs["submit_s"] >= warmup) & (jobs["domain_level"] != "")]
    by_level: dict = {}
    for level, group in after.groupby("domain_level", sort=True):
        w = group["wait_s"].dropna().to_numpy(dtype=float)
        by_level[str(level)] = {
            "jobs": int(len(group)),
            "started": int(len(w)),
            "wait_s": {
                "mean": float(w.mean()) if len(w) else None,
                "p90": float(np.percentile(w, 90)) if len(w) else None,
            },
            "mean_domains_spanned": float(group["domains_spanned"][group["domains_spanned"] > 0].mean())
            if (group["domains_spanned"] > 0).any() else None,
        }
    out["by_level"] = by_level
    if len(events) and (events["kind"] == "domain_failure").any():
        hits = events[events["kind"] == "domain_failure"]
        out["domain_failures"] = {str(k): int(v) for k, v in hits.groupby("cause").size().items()}
        out["mean_domain_down_nodes"] = mean("domain_down_nodes")
    return out


def _time_mean(timeseries, column: str, warmup: float, horizon: float) -> float:
    t = timeseries["t_s"].to_numpy(dtype=float)
    span = np.clip(np.append(t[1:], horizon), warmup, horizon) - np.clip(t, warmup, horizon)
    v = timeseries[column].to_numpy(dtype=float)
    return float((v * span).sum() / (horizon - warmup)) if horizon > warmup else 0.0


def maintenance_summary(jobs, timeseries, events, warmup: float, horizon: float) -> dict:
    """Planned maintenance over the run (``engine.maintenance``): waves begun, node outages, jobs
    checkpointed and stopped and the GPU-hours of their checkpoint writes; the time from a wave's
    start to each of its nodes going down (0 with ``running: checkpoint``); over [warmup,
    horizon] the time-average nodes draining and down by cause, and the most down for
    maintenance at once (over the whole run)."""
    ev = events
    kind = ev["kind"].to_numpy() if len(ev) else np.array([], dtype=object)
    starts = ev[kind == "maintenance_start"]
    downs = ev[kind == "maintenance_down"]
    stops = ev[kind == "maintenance_stop"]
    began: dict[tuple[str, str], list[float]] = {}
    for t, cause, detail in zip(starts["t_s"], starts["cause"], starts["detail"], strict=True):
        began.setdefault((cause, detail), []).append(float(t))
    waits = []
    for t, cause, detail in zip(downs["t_s"], downs["cause"], downs["detail"], strict=True):
        times = began.get((cause, detail), [])
        before = [s for s in times if s <= t]
        if before:
            waits.append(float(t) - before[-1])
    down = timeseries["down_maintenance_nodes"].to_numpy(dtype=float)
    out = {
        "waves": int(len(starts)),
        "node_outages": int(len(downs)),
        "jobs_stopped": int(len(stops)),
        "checkpoint_write_gpu_hours": float((stops["down_s"] * stops["gpus"]).sum() / 3600.0),
        "mean_wait_to_down_s": float(np.mean(waits)) if waits else None,
        "max_wait_to_down_s": float(np.max(waits)) if waits else None,
        "max_down_nodes": int(down.max()) if len(down) else 0,
    }
    for column in ("draining_nodes", "down_maintenance_nodes", "down_domain_nodes", "down_failure_nodes"):
        out[f"mean_{column}"] = _time_mean(timeseries, column, warmup, horizon)
    return out


def wait_by_constraint(jobs, warmup: float, gpus_per_node: int) -> list[dict]:
    """Waits of multi-node gangs submitted after warm-up, per (GPU count, locality level):
    jobs, started, mean / p50 / p90 wait of those started, mean domains spanned. The level is
    the one whose domains the rule counts (``any``: no domain constraint, larger than every
    level; runs without a topology: ``flat``)."""
    gang = jobs[(jobs["submit_s"] >= warmup) & (jobs["num_gpus"] > gpus_per_node) & (jobs["state"] != "rejected")]
    level = gang["domain_level"].astype(str) if "domain_level" in gang.columns else "flat"
    gang = gang.assign(_level=level)
    out = []
    for (gpus, lv), group in gang.groupby(["num_gpus", "_level"], sort=True):
        w = group["wait_s"].dropna().to_numpy(dtype=float)
        spanned = group["domains_spanned"] if "domains_spanned" in group.columns else None
        out.append({
            "gpus": int(gpus), "level": str(lv), "jobs": int(len(group)), "started": int(len(w)),
            "mean": float(w.mean()) if len(w) else None,
            "p50": float(np.percentile(w, 50)) if len(w) else None,
            "p90": float(np.percentile(w, 90)) if len(w) else None,
            "spanned": float(spanned[spanned > 0].mean()) if spanned is not None and (spanned > 0).any() else None,
        })
    return out


def straggler_loss(jobs) -> dict | None:
    """Time lost to slow nodes, from the jobs table's ``slow_s`` (wall seconds a job lost to a
    slow gang): None when the column is absent or all zero; else GPU-hours lost (``slow_s`` x
    GPUs), jobs slowed, and the GPU-hours per class."""
    if "slow_s" not in jobs.columns:
        return None
    slow = jobs["slow_s"].fillna(0).to_numpy(dtype=float)
    if not (slow > 0).any():
        return None
    gpu_h = slow * jobs["num_gpus"].to_numpy(dtype=float) / 3600.0
    per: dict[str, float] = {}
    for cls, v in zip(jobs["job_class"].astype(str), gpu_h, strict=True):
        if v > 0:
            per[cls] = per.get(cls, 0.0) + float(v)
    return {"gpu_hours": float(gpu_h.sum()), "jobs": int((slow > 0).sum()),
            "mean_s": float(slow[slow > 0].mean()), "by_class": dict(sorted(per.items()))}


def domain_timeline(events, horizon: float) -> list[tuple[str, float, float, str]]:
    """Domain-level events as intervals ``(domain, start, end, what)``: each domain failure
    from its event to its repair (``what``: its kind), each maintenance wave's drain (from its
    drain to its start; ``what``: ``drain``) and its outage (from its start to its end, or the
    horizon; ``what``: ``maintenance``)."""
    out: list[tuple[str, float, float, str]] = []
    if not len(events):
        return out
    kind = events["kind"].astype(str).to_numpy()
    fails = events[kind == "domain_failure"]
    for t, down, detail, cause in zip(fails["t_s"], fails["down_s"], fails["detail"], fails["cause"], strict=True):
        out.append((str(detail), float(t), min(float(t) + float(down), horizon), str(cause)))
    pending: dict[tuple[str, str, str], list[float]] = {}
    waves = events[np.isin(kind, ("maintenance_drain", "maintenance_start", "maintenance_end"))]
    for t, k, cause, detail in zip(waves["t_s"], waves["kind"], waves["cause"], waves["detail"], strict=True):
        key = (str(cause), str(detail))
        if k == "maintenance_drain":
            pending.setdefault((*key, "drain"), []).append(float(t))
        elif k == "maintenance_start":
            drains = pending.get((*key, "drain"))
            if drains:
                out.append((key[1], drains.pop(0), float(t), "drain"))
            pending.setdefault((*key, "start"), []).append(float(t))
        else:
            starts = pending.get((*key, "start"))
            if starts:
                out.append((key[1], starts.pop(0), float(t), "maintenance"))
    for (_cause, detail, what), times in pending.items():
        for t in times:
            out.append((detail, t, horizon, "maintenance" if what == "start" else "drain"))
    return sorted(out, key=lambda r: (r[1], r[0]))
