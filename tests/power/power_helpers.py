"""Helpers for the power tests: small scenarios with a power section, hand-made jobs, and an
independent calculation of what a timeseries row draws. (A module of its own name: importing
``conftest`` clashes with other test folders' conftest modules when the whole suite runs.)"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.model import JobSpec
from clustersim.rng import Streams

SILENT = {"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}
# round numbers: 100 W idle, 400 W busy per GPU, no node overhead, PUE 1
GPU = {"idle_w": 100, "busy_w": 400, "node_w": 0}
# a mixed workload of small jobs and 16-32 GPU gangs
MIXED = [
    {"name": "s", "arrival_rate_per_h": 20, "gpus": {1: 0.6, 4: 0.2, 8: 0.2}, "duration": {"kind": "lognormal", "median": "10m", "p90": "2h"}},
    {"name": "m", "arrival_rate_per_h": 0.5, "gpus": {16: 0.5, 32: 0.5}, "duration": {"kind": "lognormal", "median": "3h", "p90": "12h"}},
]


def scenario(*, nodes=2, power=None, policy="fifo", horizon=100_000.0, classes=None, **extra):
    data = {
        "name": "power-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": 8},
        "scheduler": {"policy": policy},
        "workload": {"classes": classes if classes is not None else [dict(SILENT)]},
        **extra,
    }
    if power is not None:
        p = copy.deepcopy(power)
        p.setdefault("gpu_types", {"A100": dict(GPU)})
        p.setdefault("pue", 1.0)
        data["power"] = p
    return scenario_from_dict(data)


def spec(job_id, submit, gpus, duration):
    return JobSpec(job_id, float(submit), int(gpus), float(duration), "hand")


def run(sc, specs=None, seed=0):
    engine = Engine(sc, Streams(seed), list(specs) if specs is not None else None)
    engine.run()
    return engine.result()


def starts(result) -> dict[str, float]:
    jobs = result.jobs
    return dict(zip(jobs["job_id"], jobs["start_s"], strict=True))


def expected_power(sc, ts):
    """(IT W, facility W) of every row, from the row's counts and the scenario alone."""
    p = sc.power
    g = p.gpu_types[sc.cluster.gpu_type]
    busy = ts["busy_gpus"].to_numpy(float)
    up = ts["up_gpus"].to_numpy(float)
    replica = ts["inference_gpus"].to_numpy(float) if "inference_gpus" in ts else np.zeros(len(ts))
    down = ts["down_nodes"].to_numpy(float)
    inf_w = g.busy_w if g.inference_w is None else g.inference_w
    it = ((busy - replica) * g.busy_w + replica * inf_w + (up - busy) * g.idle_w
          + up / sc.cluster.gpus_per_node * g.node_w + down * p.down_node_w)
    if "power_shed_w" in ts:  # capping: whole watts shed by power-capped GPUs
        it = np.round(it) - ts["power_shed_w"].to_numpy(float)
    t = ts["t_s"].to_numpy(float)
    if isinstance(p.pue, float | int):
        pue = np.full(len(t), float(p.pue))
    elif p.pue.hourly is not None:
        pue = np.array(p.pue.hourly)[(t // 3600).astype(int) % 24]
    else:  # monthly, from the start date
        days = (t // 86400).astype("int64")
        months = (np.datetime64(p.start_date.isoformat()) + days.astype("timedelta64[D]")).astype("datetime64[M]")
        pue = np.array(p.pue.monthly)[months.astype(int) % 12]
    return it, pue * it


def check_conservation(sc, r):
    """Every row's power recomputed from its counts (``expected_power``), and energy the
    integral of facility power."""
    ts = r.timeseries
    it, fac = expected_power(sc, ts)
    assert np.array_equal(ts["it_power_w"].to_numpy(), np.round(it).astype("int64"))
    assert np.array_equal(ts["facility_power_w"].to_numpy(), np.round(fac).astype("int64"))
    t = ts["t_s"].to_numpy(float)
    dt = np.diff(np.append(t, sc.horizon))
    energy = float(np.sum(ts["facility_power_w"].to_numpy(float) * dt)) / 3.6e6
    assert r.summary["power"]["energy_kwh"] == pytest.approx(energy, rel=1e-12)
