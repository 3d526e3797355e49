"""The topology summary: a pure function of a run's tables (runs with ``cluster.topology``).

``topology.mean_free_gpus`` and ``topology.mean_fragmented_gpus`` are time averages over
[warmup, horizon] of the ``free_gpus_topo`` and ``fragmented_gpus`` timeseries columns;
``topology.by_level.<level>`` gives, for gangs submitted after warm-up held to that level by the
locality rule (``any``: larger than every level), their count, how many started, their wait
(mean, p90, of those started) and the mean number of domains of that level they spanned.
With domain failures, ``topology.domain_failures.<name>`` counts the events of each kind and
``topology.mean_domain_down_nodes`` is the time average of nodes held down by them.
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
