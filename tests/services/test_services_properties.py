"""Properties of runs with services (hypothesis): GPUs in use never exceed GPUs up, every
preempted job is requeued and accounted for, and without services nothing changes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustersim.config import scenario_from_dict
from clustersim.engine.core import simulate
from clustersim.engine.inference import Inference

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIZES = [1, 2, 4, 8, 16]


@st.composite
def cases(draw):
    gpn = 8
    nodes = draw(st.integers(2, 5))
    n = draw(st.integers(0, 25))
    specs = []
    for i in range(n):
        specs.append((f"j{i}", float(draw(st.integers(0, 40)) * 300), draw(st.sampled_from(SIZES)),
                      float(draw(st.integers(1, 60)) * 300), draw(st.sampled_from(["p", "n"]))))
    specs.sort(key=lambda s: s[1])
    hourly = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), min_size=24, max_size=24))
    svc = {
        "name": "chat",
        "gpus_per_replica": draw(st.sampled_from([1, 4, 8, 16])),
        "rps_per_replica": 10.0,
        "demand": {"base_rps": draw(st.sampled_from([5.0, 10.0, 20.0])), "hourly": hourly},
        "autoscale": {
            "headroom": draw(st.sampled_from([0.0, 0.2])),
            "min_replicas": draw(st.integers(0, 1)),
            "startup": draw(st.sampled_from([0, 300, 900])),
            "cooldown": draw(st.sampled_from([0, 600, 1800])),
        },
    }
    data = {
        "name": "prop",
        "horizon": 6 * 3600.0,
        "cluster": {"nodes": nodes, "gpus_per_node": gpn},
        "scheduler": {"policy": draw(st.sampled_from(["fifo", "sjf", "backfill"])), "placement": "pack"},
        "workload": {"classes": [
            {"name": "p", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h", "preemptible": True},
            {"name": "n", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"},
        ]},
        "services": [svc],
        "inference": {"victims": draw(st.sampled_from(["least_lost", "smallest", "newest"])),
                      "reserved_nodes": draw(st.integers(0, 1))},
    }
    if draw(st.booleans()):
        data["failures"] = {"rate_per_1000_node_days": 20000.0, "job_rate_per_1000_node_days": 0.0,
                            "detection": 120.0}
    return data, specs


@given(cases())
@SETTINGS
def test_gpus_never_exceed_up_and_preemptions_are_accounted(svc, case):
    from clustersim.model import JobSpec

    data, rows = case
    sc = scenario_from_dict(data)
    specs = [JobSpec(*r) for r in rows]
    result, engine = svc.run(sc, specs)
    assert engine.checks > 0
    ts = result.timeseries
    assert (ts["busy_gpus"] <= ts["up_gpus"]).all()
    assert (ts["inference_gpus"] <= ts["busy_gpus"]).all()
    jobs = result.jobs
    # every job is in the table once, in a state; preempted ones were requeued and restarted
    assert len(jobs) == len(specs)
    assert jobs["preemptions"].sum() == engine.part(Inference).preemptions == result.summary["preemptions"]
    pre = jobs[jobs["preemptions"] > 0]
    assert (pre["job_class"] == "p").all()  # never a non-preemptible job
    assert (pre["restarts"] >= pre["preemptions"]).all()
    assert set(pre["state"].astype(str)) <= {"finished", "running", "queued"}
    assert (jobs["lost_gpu_s"] >= jobs["preempted_lost_gpu_s"] - 1e-6).all()
    assert jobs["preempted_lost_gpu_s"].sum() / 3600 == pytest.approx(result.summary["preempted_gpu_hours_lost"])
    # a finished job did all its work
    fin = jobs[jobs["state"] == "finished"]
    assert np.allclose(fin["work_done_s"], fin["duration_s"])
    # queued jobs are exactly those left in the queue; no replica is in it
    assert int((jobs["state"] == "queued").sum()) == len(engine.queue)
    # service rows: served never above demand nor above ready capacity
    frame = result.extra_tables["services"]
    assert (frame["served_rps"] <= frame["demand_rps"] + 1e-9).all()
    assert (frame["served_rps"] <= frame["ready_replicas"] * 10.0 + 1e-9).all()
    if "failures" in data:
        s = result.summary
        total = s["useful_gpu_hours"] + s["lost_gpu_hours"] + s["overhead_gpu_hours"]
        assert total == pytest.approx(s["busy_gpu_hours"], rel=1e-9, abs=1e-6)


BASE = {
    "name": "core",
    "horizon": "3d",
    "cluster": {"nodes": 20, "gpus_per_node": 8},
    "scheduler": {"policy": "backfill"},
    "workload": {"classes": [
        {"name": "small", "arrival_rate_per_h": 20, "gpus": {1: 0.7, 8: 0.3}, "duration": {"kind": "lognormal", "median": "10m", "p90": "2h"}},
        {"name": "big", "arrival_rate_per_h": 0.5, "gpus": {32: 0.5, 64: 0.5}, "duration": "6h"},
    ]},
}


@pytest.mark.parametrize("failures", [False, True])
def test_no_services_equals_the_core_simulator(failures):
    base = dict(BASE)
    if failures:
        base["failures"] = {"rate_per_1000_node_days": 50.0}
    a = simulate(scenario_from_dict(base), 1)
    # the same scenario with service options but no service, and preemptible classes
    other = {**base, "services": [], "inference": {"victims": "newest", "reserved_nodes": 0}}
    other["workload"] = {"classes": [{**c, "preemptible": True} for c in base["workload"]["classes"]]}
    b = simulate(scenario_from_dict(other), 1)
    pd.testing.assert_frame_equal(a.jobs, b.jobs)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.summary == b.summary
    assert b.extra_tables == {}


def test_a_service_with_no_demand_changes_no_job():
    a = simulate(scenario_from_dict(BASE), 2)
    other = {**BASE, "services": [{"name": "idle", "rps_per_replica": 10, "demand": {"base_rps": 0},
                                   "autoscale": {"min_replicas": 0}}]}
    b = simulate(scenario_from_dict(other), 2)
    pd.testing.assert_frame_equal(a.jobs, b.jobs.drop(columns=["preemptions", "preempted_lost_gpu_s"]))
    assert (b.timeseries["inference_gpus"] == 0).all()
    for key in ("wait_s", "jct_s", "gpu_utilisation", "jobs"):
        assert a.summary[key] == b.summary[key]
    s = b.summary["services"]["idle"]
    assert s["slo_attainment"] == 1.0 and s["replica_gpu_hours"] == 0.0 and s["peak_replicas"] == 0
    assert math.isclose(s["unserved_fraction"], 0.0)
