"""Power-capped inference replicas (``power.capping.inference``): hand cases, the gate's booking
of replicas at their lowest limit, the cost in served demand and latency, conservation and the
cap never exceeded with replicas in the throttle order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from power_helpers import MIXED, check_conservation, run, scenario, spec

from clustersim.config.capping import CappingConfig
from clustersim.engine.replica_power import throttle_with_replicas
from clustersim.errors import ScenarioError

# 2 nodes x 8 GPUs, 100 W idle / 400 W busy (inference_w = busy_w), PUE 1, no node overhead.
# One service of one 8-GPU replica serving 10 requests/s at full speed, demand 9 requests/s
# (no headroom: one replica), and one 8-GPU training job. Full draw: 8 x 400 + 8 x 400 =
# 6,400 W. Training curve: speed = power fraction down to half power; inference curve: half
# power at 0.8 of full throughput (one point below full: replicas run at 0.5 or 1).
LINEAR = [[0.5, 0.5], [1.0, 1.0]]
REPLICA = [[0.5, 0.8], [1.0, 1.0]]
SERVICE = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 10,
           "autoscale": {"max_replicas": 1, "startup": 0, "headroom": 0}, "demand": {"base_rps": 9}}


def capped(order=None, cap_w=5602, service=SERVICE, **extra):
    capping = {"training": LINEAR}
    if order is not None:
        capping.update(inference=REPLICA, inference_order=order)
    power = {"mode": "capping", "cap_mw": cap_w / 1e6, "capping": capping}
    return scenario(power=power, services=[service], **extra)


def end_of(r, job="a") -> float:
    return float(r.jobs.set_index("job_id").loc[job, "end_s"])


def test_inference_first_slows_the_replica_and_its_capacity_by_the_curves_factor():
    # cap 5,602 W: 5,600 W of IT power, 800 W over the full draw. Inference first: the replica
    # sheds 800 W at the highest point that does it, half power (8 x 200 = 1,600 W shed), and
    # serves 10 x 0.8 = 8 requests/s of the 9 asked while the job runs; the job keeps full
    # speed (the replica shed more than enough) and ends at 1,000 s, when the replica is released.
    r = run(capped("first"), [spec("a", 0, 8, 1000)])
    assert end_of(r) == 1000.0 and r.jobs["capped_s"].tolist() == [0.0]
    ts = r.timeseries.set_index("t_s")
    assert ts.loc[0.0, "power_shed_w"] == 1600 and ts.loc[0.0, "it_power_w"] == 4800
    assert ts.loc[0.0, "throttled_replica_gpus"] == 8 and ts.loc[0.0, "throttled_gpus"] == 0
    assert ts.loc[1000.0, "throttled_replica_gpus"] == 0 and ts.loc[1000.0, "power_shed_w"] == 0
    services = r.extra_tables["services"].set_index("t_s")
    assert services.loc[0.0, "replica_speed"] == 0.8 and services.loc[1000.0, "replica_speed"] == 1.0
    assert services.loc[0.0, "served_rps"] == 8.0 and services.loc[0.0, "unserved_rps"] == 1.0
    assert services.loc[1000.0, "served_rps"] == 9.0
    chat = r.summary["services"]["chat"]
    assert chat["capped_hours"] == pytest.approx(1000 / 3600, rel=1e-12)
    assert chat["capacity_lost_requests"] == pytest.approx(10 * 0.2 * 1000, rel=1e-12)
    assert chat["capped_unserved_requests"] == pytest.approx(1000.0, rel=1e-12)
    assert chat["unserved_requests"] == chat["capped_unserved_requests"]
    p = r.summary["power"]
    assert p["replica_throttled_gpu_hours"] == pytest.approx(8 * 1000 / 3600, rel=1e-12)
    assert p["replica_throttle_lost_gpu_hours"] == pytest.approx(8 * 0.2 * 1000 / 3600, rel=1e-12)
    assert p["throttle_lost_gpu_hours"] == 0.0
    assert (r.timeseries["facility_power_w"] <= r.timeseries["power_cap_w"]).all()


@pytest.mark.parametrize("order", [None, "last"])
def test_by_default_and_inference_last_the_replica_keeps_full_power(order):
    # training sheds the 800 W: limit 1 - 800 / 3,200 = 0.75, speed 0.75, the job ends at
    # 1,000 / 0.75 s; the replica serves all 9 requests/s at full speed throughout.
    r = run(capped(order), [spec("a", 0, 8, 1000)])
    assert end_of(r) == pytest.approx(1000 / 0.75, rel=1e-12)
    services = r.extra_tables["services"]
    assert (services["served_rps"] == 9.0).all()
    if order is None:  # no inference curve: no replica columns or keys at all
        assert "replica_speed" not in services and "throttled_replica_gpus" not in r.timeseries
        assert "capped_hours" not in r.summary["services"]["chat"]
    else:
        assert (services["replica_speed"] == 1.0).all() and r.timeseries["throttled_replica_gpus"].max() == 0
        assert r.summary["services"]["chat"]["capped_hours"] == 0.0


def test_the_gate_books_replicas_at_their_lowest_limit_and_inference_last_sheds_the_rest():
    # cap 4,402 W. Without an inference curve the gate books the replica at full power: 1,600
    # idle + 8 x 300 = 4,000 W, and the job at its floor adds 8 x 100: 4,800 W > 4,402 W, held.
    # With the curve the replica is booked at half power (+8 x 100): 2,400 + 800 <= 4,402 W,
    # the job starts. The full draw exceeds the budget by 2,000 W: training sheds what it can
    # (1,600 W at its floor), the replica the other 400 W at its only point, half power
    # (1,600 W), and training then only 400 W: limit 0.875. The job ends at 1,000 / 0.875 s.
    held = run(capped(None, cap_w=4402), [spec("a", 0, 8, 1000)])
    assert np.isnan(held.jobs["start_s"].iloc[0])
    r = run(capped("last", cap_w=4402), [spec("a", 0, 8, 1000)])
    a_end = 1000 / 0.875
    assert end_of(r) == pytest.approx(a_end, rel=1e-12)
    ts = r.timeseries.set_index("t_s")
    assert ts.loc[0.0, "power_shed_w"] == 2000 and ts.loc[0.0, "it_power_w"] == 4400
    assert ts.loc[0.0, "throttled_replica_gpus"] == 8 and ts.loc[0.0, "throttled_gpus"] == 8
    chat = r.summary["services"]["chat"]
    assert chat["capped_hours"] == pytest.approx(a_end / 3600, rel=1e-12)
    assert chat["capacity_lost_share"] == pytest.approx(0.2 * a_end / 100_000, rel=1e-12)


def test_the_autoscaler_sizes_for_the_capped_speed_and_scales_in_after_its_cooldown():
    # up to 2 replicas; demand 9 on a replica of 10: one at full speed, two at 0.8 (9 / 8).
    # 4 nodes (idle 3,200 W), cap 9,602 W, a 16-GPU job. One replica and the job draw 3,200 +
    # 2,400 + 4,800 = 10,400 W: the replica sheds at half power, serves 8, the autoscaler wants
    # two; two and the job draw 12,800 W, both replicas at half power shed the 3,200 W, the job
    # runs at full speed. When it ends at 1,000 s two replicas at full power (8,000 W) fit: full
    # speed again, and 600 s of cooldown later one is released.
    service = {**SERVICE, "autoscale": {"max_replicas": 2, "startup": 0, "headroom": 0, "cooldown": 600}}
    r = run(capped("first", cap_w=9602, service=service, nodes=4), [spec("a", 0, 16, 1000)])
    assert end_of(r) == 1000.0
    s = r.extra_tables["services"]
    placed = dict(zip(s["t_s"], s["ready_replicas"], strict=True))
    assert placed[0.0] == 2 and placed[1600.0] == 1
    speed = dict(zip(s["t_s"], s["replica_speed"], strict=True))
    assert speed[0.0] == 0.8 and speed[1000.0] == 1.0
    assert (s["unserved_rps"] == 0).all()  # two capped replicas serve 16 >= 9
    assert (r.timeseries["facility_power_w"] <= r.timeseries["power_cap_w"]).all()


def test_a_capped_replica_is_slower_in_the_latency_model_too():
    # the SLO service's replicas at 0.8 of full speed: saturation throughput x 0.8 and every
    # iteration 1 / 0.8 as long, so at the same load per replica TTFT and TPOT are 1 / 0.8 x
    from clustersim.config import scenario_from_dict  # noqa: F401  (scenario() builds it)
    from clustersim.engine.slo import ServiceLatency

    latency = {"requests": {"prompt": {"kind": "fixed", "value": 500}, "output": {"kind": "fixed", "value": 100}},
               "profile": "llama2-70b-a100-tp8", "slo": {"ttft": {"p99": "2s"}, "tpot": {"p99": "200ms"}}}
    service = {"name": "chat", "gpus_per_replica": 8, "latency": latency, "demand": {"base_rps": 1},
               "autoscale": {"max_replicas": 4, "target": "slo", "startup": 0}}
    sc = capped("first", service=service, nodes=6, cap_w=60_000)
    lat = ServiceLatency(sc.services[0])
    slow = lat.at(0.8)
    assert slow is lat.at(0.8) and lat.at(1.0) is lat
    assert slow.phi == pytest.approx(0.8 * lat.phi, rel=1e-9)
    full, _, _ = lat.read(0.5 * 2 * lat.phi, 2)
    capped_values, _, _ = slow.read(0.5 * 2 * slow.phi, 2)
    assert capped_values[:5] == pytest.approx(full[:5] / 0.8, rel=1e-6)
    assert slow.replicas(3.0, 1, None) >= lat.replicas(3.0, 1, None)


def test_throttle_with_replicas_by_hand():
    curve = CappingConfig(training=LINEAR, inference=[[0.5, 0.7], [0.7, 0.9], [1.0, 1.0]], inference_order="first")
    jobs = [("j", 8, 1, 400)]
    # replicas draw 3,200 W: 500 W is a share 0.156 -> the highest point at or below 0.844 is 0.7
    # (960 W shed), and training sheds nothing
    assert throttle_with_replicas(jobs, 500, 0.5, curve, 3200) == ({}, 0.7)
    # 2,000 W: more than the lowest point sheds (1,600 W): the replicas at 0.5, training 400 W
    assert throttle_with_replicas(jobs, 2000, 0.5, curve, 3200) == ({"j": 1 - 400 / 3200}, 0.5)
    last = curve.model_copy(update={"inference_order": "last"})
    assert throttle_with_replicas(jobs, 1600, 0.5, last, 3200) == ({"j": 0.5}, 1.0)  # training alone can
    assert throttle_with_replicas(jobs, 1700, 0.5, last, 3200) == ({"j": 1 - 740 / 3200}, 0.7)
    assert throttle_with_replicas(jobs, 0, 0.5, curve, 3200) == ({}, 1.0)
    assert throttle_with_replicas(jobs, 500, 0.5, curve, 0.0) == ({"j": 1 - 500 / 3200}, 1.0)  # no replicas


def test_inference_capping_is_checked_when_read():
    with pytest.raises(ScenarioError, match="inference_order"):
        scenario(power={"mode": "capping", "cap_mw": 1.0, "capping": {"inference_order": "first"}})
    with pytest.raises(ScenarioError, match=r"capping.inference\[0\]"):  # 0.2 x 400 W < 100 W idle
        scenario(power={"mode": "capping", "cap_mw": 1.0, "capping": {"inference": [[0.2, 0.5], [1, 1]]}})
    with pytest.raises(ScenarioError, match="last point"):
        scenario(power={"mode": "capping", "cap_mw": 1.0, "capping": {"inference": [[0.5, 0.5], [0.9, 1]]}})
    # the replicas booked at their lowest limit: idle 1,600 + 8 x 100 W holds at 2,400 W, not below
    scenario(power={"mode": "capping", "cap_mw": 2400 / 1e6, "capping": {"inference": REPLICA}}, services=[SERVICE])
    with pytest.raises(ScenarioError, match="at their lowest limit"):
        scenario(power={"mode": "capping", "cap_mw": 2399 / 1e6, "capping": {"inference": REPLICA}},
                 services=[SERVICE])


HOURLY = [0.4 + 0.6 * abs(12 - h) / 12 for h in range(24)]


@pytest.mark.parametrize("order", ["first", "last"])
def test_capped_replicas_conserve_power_with_failures_and_the_cap_holds(order):
    # a day-shaped demand, failures and training sharing a tight cap: every row's power adds
    # up (shed watts of replicas included), the cap holds, replicas were capped some of the time
    power = {"mode": "capping", "cap_mw": (96 * 60 + 12 * 1700 + 3 * 8 * 340 + 30 * 340) * 1.3 / 1e6, "pue": 1.3,
             "down_node_w": 250, "capping": {"order": "even", "inference": [[0.5, 0.7], [0.7, 0.92], [1.0, 1.0]],
                                             "inference_order": order},
             "gpu_types": {"A100": {"idle_w": 60, "busy_w": 400, "inference_w": 380, "node_w": 1700}}}
    sc = scenario(nodes=12, power=power, policy="backfill", horizon="10d", classes=MIXED,
                  failures={"rate_per_1000_node_days": 200},
                  services=[{"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
                             "autoscale": {"max_replicas": 4}, "demand": {"base_rps": 40, "hourly": HOURLY}}])
    r = run(sc, seed=4)
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert ts["throttled_replica_gpus"].max() > 0 and ts["down_nodes"].max() > 0
    check_conservation(sc, r)
    s = r.extra_tables["services"]
    assert set(s["replica_speed"]) <= {0.7, 0.92, 1.0}
    assert np.allclose(s["served_rps"], np.minimum(s["demand_rps"], s["ready_replicas"] * 15 * s["replica_speed"]))


jobs_st = st.lists(
    st.tuples(st.integers(0, 20).map(lambda k: k * 300.0), st.sampled_from([1, 2, 4, 8, 16]),
              st.integers(1, 40).map(lambda k: k * 250.0)),
    min_size=1, max_size=20,
)


@settings(derandomize=True, max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    jobs=jobs_st,
    room=st.integers(0, 24),  # busy training GPUs the base cap holds at full power, replicas booked at their floor
    cut=st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(1, 6), st.integers(0, 16))),
    order=st.sampled_from(["smallest_first", "largest_first", "even"]),
    inference_order=st.sampled_from(["first", "last"]),
    demand=st.sampled_from([5.0, 20.0, 35.0]),
)
def test_the_cap_is_never_exceeded_with_capped_replicas(jobs, room, cut, order, inference_order, demand):
    # 5 nodes x 8 GPUs at 100 W idle / 400 W busy: idle 4,000 W; up to 2 replicas of 8 GPUs,
    # booked at their floor of 0.5 x 400 W (+100 W a GPU): 1,600 W
    base = 4000 + 1600
    power = {"mode": "capping", "cap_mw": (base + room * 300) / 1e6,
             "capping": {"order": order, "training": [[0.5, 0.4], [0.8, 0.85], [1.0, 1.0]],
                         "inference": [[0.5, 0.75], [0.8, 0.95], [1.0, 1.0]], "inference_order": inference_order}}
    if cut is not None:
        start, length, less = cut
        power["windows"] = [{"name": "cut", "hours": [start, start + length],
                             "cap_mw": (base + max(room - less, 0) * 300) / 1e6}]
    service = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
               "autoscale": {"max_replicas": 2, "startup": 600, "cooldown": 900},
               "demand": {"base_rps": demand, "hourly": HOURLY}}
    sc = scenario(nodes=5, power=power, policy="backfill", horizon=40_000.0, services=[service])
    r = run(sc, [spec(str(i), s, g, d) for i, (s, g, d) in enumerate(jobs)])
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    check_conservation(sc, r)
    done = r.jobs[r.jobs["state"] == "finished"]
    assert (done["end_s"] - done["start_s"] >= done["duration_s"] - 1e-6).all()
    s = r.extra_tables["services"]
    assert np.allclose(s["served_rps"], np.minimum(s["demand_rps"], s["ready_replicas"] * 15 * s["replica_speed"]))
