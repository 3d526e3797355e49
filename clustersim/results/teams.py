"""Tenancy's job columns and per-team summary: pure functions of a run's tables.

Job columns (runs with a tenancy section): ``team`` (empty for rejected jobs), ``priority``,
``reclaims`` and ``reclaim_lost_gpu_s`` (times the job was preempted to give borrowed GPUs
back to their owner, and the GPU-seconds of work it lost then), ``priority_preemptions`` and
``priority_lost_gpu_s`` (the same for preemption by higher-priority jobs).

``summarize_teams`` gives, per team: its quota and borrowing limit (GPUs), jobs and their waits
(submitted after warm-up), GPU-hours used and its quota's GPU-hours over [warmup, horizon]
(from the ``team_gpus.<team>`` timeseries columns), GPU-hours borrowed (used above its quota),
and the preemptions it suffered with the work they cost (whole run, as for services).
"""

from __future__ import annotations

import numpy as np

from clustersim.results.summary import clean, stats, step_integral

TEAM_WAIT_KEYS = ("mean", "p50", "p90")


def add_tenancy_columns(jobs, names: list[str], seq_team, seq_prio, default_prio: int, hits: dict):
    """Add the tenancy columns to a jobs table (rows in submission order, seq = row)."""
    import pandas as pd

    n = len(jobs)
    team = np.full(n, -1, dtype=np.int64)
    prio = np.full(n, default_prio, dtype=np.int64)
    k = min(n, len(seq_team))
    team[:k] = np.frombuffer(seq_team, dtype=np.int16)[:k]
    prio[:k] = np.frombuffer(seq_prio, dtype=np.int64)[:k]
    cols = np.zeros((n, 4), dtype=float)
    for seq, rec in hits.items():
        cols[seq] = rec
    team[team < 0] = len(names)
    jobs = jobs.copy()
    jobs["team"] = pd.Categorical.from_codes(team, [*names, ""] if "" not in names else names + ["(none)"])
    jobs["priority"] = prio
    jobs["reclaims"] = cols[:, 0].astype(np.int64)
    jobs["reclaim_lost_gpu_s"] = cols[:, 1]
    jobs["priority_preemptions"] = cols[:, 2].astype(np.int64)
    jobs["priority_lost_gpu_s"] = cols[:, 3]
    return jobs


def summarize_teams(jobs, timeseries, teams: dict, *, horizon: float, warmup: float) -> dict:
    """The ``tenancy`` summary key (see the module docstring); ``teams`` maps each team name
    to its ``quota_gpus``, ``borrowing_limit_gpus`` (None: no limit) and ``weight``."""
    submit = jobs["submit_s"].to_numpy(float)
    start = jobs["start_s"].to_numpy(float)
    measured = (submit >= warmup) & (jobs["state"] != "rejected").to_numpy(bool)
    started = measured & ~np.isnan(start)
    wait = start - submit
    team = jobs["team"].astype(str).to_numpy(object)
    t = timeseries["t_s"].to_numpy(float)
    window = horizon - warmup
    out: dict = {}
    used_all = 0.0
    for name, info in teams.items():
        mine = team == name
        col = f"team_gpus.{name}"
        used = timeseries[col].to_numpy(float) if col in timeseries else np.zeros(len(t))
        q = info["quota_gpus"]
        gpu_s = step_integral(t, used, warmup, horizon)
        used_all += gpu_s
        out[name] = {
            **info,
            "jobs": int(np.sum(mine & measured)),
            "wait_s": stats(wait[mine & started], TEAM_WAIT_KEYS),
            "gpu_hours": gpu_s / 3600.0,
            "quota_gpu_hours": q * window / 3600.0,
            "borrowed_gpu_hours": step_integral(t, np.maximum(used - q, 0.0), warmup, horizon) / 3600.0,
            "reclaims": int(jobs["reclaims"].to_numpy()[mine].sum()),
            "reclaimed_gpu_hours": float(jobs["reclaim_lost_gpu_s"].to_numpy()[mine].sum()) / 3600.0,
            "priority_preemptions": int(jobs["priority_preemptions"].to_numpy()[mine].sum()),
            "priority_lost_gpu_hours": float(jobs["priority_lost_gpu_s"].to_numpy()[mine].sum()) / 3600.0,
        }
    for name in out:
        out[name]["usage_share"] = out[name]["gpu_hours"] * 3600.0 / used_all if used_all > 0 else None
    return clean(
        {
            "tenancy": {
                "reclaims": int(jobs["reclaims"].sum()),
                "reclaimed_gpu_hours": float(jobs["reclaim_lost_gpu_s"].sum()) / 3600.0,
                "priority_preemptions": int(jobs["priority_preemptions"].sum()),
                "priority_lost_gpu_hours": float(jobs["priority_lost_gpu_s"].sum()) / 3600.0,
                "teams": out,
            }
        }
    )
