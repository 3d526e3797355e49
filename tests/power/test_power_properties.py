"""Conservation (power recomputed from each row's counts; energy = integral of power), the cap
never exceeded under admission (hypothesis, derandomized), and a cap above the fleet's maximum
draw changing nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from power_helpers import MIXED, check_conservation, run, scenario, spec

from clustersim.engine.core import simulate

HOURLY = [1.1 + 0.02 * abs(12 - h) for h in range(24)]


@pytest.mark.parametrize("pue", [1.3, {"hourly": HOURLY}, {"monthly": [1.1 + 0.03 * m for m in range(12)]}])
def test_power_is_pue_times_the_sum_of_node_powers_at_every_row(pue):
    power = {"mode": "account", "pue": pue, "down_node_w": 250,
             "gpu_types": {"A100": {"idle_w": 60, "busy_w": 400, "inference_w": 300, "node_w": 1700}}}
    sc = scenario(nodes=12, power=power, policy="backfill", horizon="40d", classes=MIXED,
                  failures={"rate_per_1000_node_days": 200},
                  services=[{"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
                             "demand": {"base_rps": 40, "hourly": HOURLY}}],
                  inference={"victims": "least_lost"})
    r = run(sc, seed=3)
    ts = r.timeseries
    assert ts["down_nodes"].max() > 0 and ts["inference_gpus"].max() > 0  # every state drew
    check_conservation(sc, r)
    if not isinstance(pue, float):  # a row at every hour where the PUE changes
        assert len(ts) > 40 * 24


def test_admission_rows_conserve_too():
    sc = scenario(nodes=12, policy="backfill", horizon="10d", classes=MIXED,
                  power={"mode": "admission", "cap_mw": (96 * 100 + 60 * 300) * 1.3 / 1e6, "pue": 1.3})
    r = run(sc, seed=1)
    check_conservation(sc, r)
    assert r.summary["power"]["jobs_delayed"] > 0


jobs_st = st.lists(
    st.tuples(st.integers(0, 20) .map(lambda k: k * 300.0), st.sampled_from([1, 2, 4, 8, 16, 24]),
              st.integers(1, 40).map(lambda k: k * 250.0)),
    min_size=1, max_size=25,
)


@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    jobs=jobs_st,
    policy=st.sampled_from(["fifo", "sjf", "backfill"]),
    room=st.integers(8, 32),  # busy GPUs the base cap holds
    cut=st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(1, 6), st.integers(0, 16))),
    hourly=st.booleans(),
    mode=st.sampled_from(["admission", "capping"]),
    order=st.sampled_from(["smallest_first", "largest_first", "even"]),
)
def test_the_cap_is_never_exceeded_under_admission_or_capping(jobs, policy, room, cut, hourly, mode, order):
    # 4 nodes x 8 GPUs at 100 W idle / 400 W busy: idle fleet 3,200 W, +300 W per busy GPU
    # (under capping the same caps hold more jobs, throttled down to half power)
    pue = {"hourly": [1.0 + 0.05 * (h % 5) for h in range(24)]} if hourly else 1.0
    top = 1.2 if hourly else 1.0
    power = {"mode": mode, "pue": pue, "cap_mw": top * (3200 + room * 300) / 1e6}
    if mode == "capping":
        power["capping"] = {"order": order, "training": [[0.5, 0.4], [0.8, 0.85], [1.0, 1.0]]}
    if cut is not None:  # a cheaper hour window: down to `room - less` busy GPUs
        start, length, less = cut
        power["windows"] = [{"name": "cut", "hours": [start, start + length],
                             "cap_mw": top * (3200 + max(room - less, 0) * 300) / 1e6}]
    sc = scenario(nodes=4, power=power, policy=policy, horizon=40_000.0)
    r = run(sc, [spec(str(i), s, g, d) for i, (s, g, d) in enumerate(jobs)])
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert r.summary["power"]["hours_over_cap"] == 0
    check_conservation(sc, r)
    if mode == "capping":  # work is conserved: every finished job did exactly its work
        done = r.jobs[r.jobs["state"] == "finished"]
        assert (done["end_s"] - done["start_s"] >= done["duration_s"] - 1e-6).all()


def _without_power(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if "power" in c or c == "capped_s"])


@pytest.mark.parametrize("policy", ["fifo", "backfill"])
def test_a_cap_above_the_maximum_draw_changes_nothing(policy):
    base = {"name": "same", "horizon": "6d", "warmup": "1d", "cluster": {"nodes": 40, "gpus_per_node": 8},
            "scheduler": {"policy": policy}, "workload": {"classes": MIXED}}
    from clustersim.config import scenario_from_dict

    plain = simulate(scenario_from_dict(base), 5)
    full = (320 * 400 + 40 * 1700) * 1.5 / 1e6  # every GPU busy at the highest PUE
    for power in ({"mode": "admission", "cap_mw": full, "pue": 1.3},
                  {"mode": "admission", "cap_mw": full * 2, "pue": {"hourly": HOURLY},
                   "windows": [{"name": "summer", "months": [1], "hours": [12, 18], "cap_mw": full}]},
                  {"mode": "account", "pue": {"hourly": HOURLY}},
                  {"mode": "capping", "cap_mw": full, "pue": 1.3, "capping": {"order": "even"}},
                  {"mode": "capping", "cap_mw": full, "pue": {"hourly": HOURLY}}):
        capped = simulate(scenario_from_dict({**base, "power": power}), 5)
        pd.testing.assert_frame_equal(_without_power(capped.jobs), plain.jobs)
        ts = capped.timeseries
        assert (ts["facility_power_w"] <= ts.get("power_cap_w", np.inf)).all()
        assert {k: v for k, v in capped.summary.items() if k != "power"} == plain.summary
        for column in ("power_wait_s", "capped_s"):
            if column in capped.jobs:
                assert (capped.jobs[column] == 0).all()


@pytest.mark.parametrize("mode", ["admission", "capping"])
def test_services_under_a_cap_keep_their_replicas_and_the_cap_holds(mode):
    # 12 nodes, idle 9,600 W; the chat service may run 4 replicas of 8 GPUs at full power: the
    # gate books 4 x 8 x 300 = 9,600 W for them, leaving room for 40 busy training GPUs.
    power = {"mode": mode, "cap_mw": (9600 + 9600 + 40 * 300) / 1e6}
    sc = scenario(nodes=12, power=power, policy="backfill", horizon="6d", classes=MIXED,
                  services=[{"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
                             "autoscale": {"max_replicas": 4, "startup": 0},
                             "demand": {"base_rps": 40, "hourly": HOURLY}}])
    r = run(sc, seed=2)
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert ts["inference_gpus"].max() == 32  # the service reached its 4 replicas
    check_conservation(sc, r)
    if mode == "admission":
        assert r.summary["power"]["jobs_delayed"] > 0
    else:  # at half power the budget holds every training GPU left: they run capped instead
        assert r.summary["power"]["jobs_delayed"] == 0 and r.summary["power"]["jobs_slowed"] > 0


def test_a_service_without_max_replicas_or_its_power_is_refused_under_a_cap():
    from clustersim.errors import ScenarioError

    svc = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15, "demand": {"base_rps": 10}}
    with pytest.raises(ScenarioError, match=r"services\[0\].autoscale.max_replicas"):
        scenario(nodes=4, power={"mode": "admission", "cap_mw": 1.0}, services=[svc])
    # idle 3,200 W + 2 replicas x 8 x 300 W = 8,000 W > a cap of 7,999 W
    with pytest.raises(ScenarioError, match=r"power.cap_mw.*every replica the services may run"):
        scenario(nodes=4, power={"mode": "capping", "cap_mw": 7999 / 1e6},
                 services=[{**svc, "autoscale": {"max_replicas": 2}}])
    scenario(nodes=4, power={"mode": "capping", "cap_mw": 8000 / 1e6}, services=[{**svc, "autoscale": {"max_replicas": 2}}])


def test_capping_with_failures_and_a_service_conserves_power_and_work():
    # failures interrupt capped jobs (checkpoints, restarts) and a service's replicas come and
    # go; the cap holds at every row, each row's power adds up, and every finished job did
    # exactly its work (useful time = its duration at speed 1 only when never capped).
    power = {"mode": "capping", "cap_mw": (96 * 60 + 12 * 1700 + 3 * 8 * 340 + 30 * 340) * 1.3 / 1e6, "pue": 1.3,
             "down_node_w": 250, "capping": {"order": "even"},
             "gpu_types": {"A100": {"idle_w": 60, "busy_w": 400, "node_w": 1700}}}
    sc = scenario(nodes=12, power=power, policy="backfill", horizon="20d", classes=MIXED,
                  failures={"rate_per_1000_node_days": 200},
                  services=[{"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
                             "autoscale": {"max_replicas": 3}, "demand": {"base_rps": 30, "hourly": HOURLY}}])
    r = run(sc, seed=4)
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert ts["throttled_gpus"].max() > 0 and ts["down_nodes"].max() > 0
    check_conservation(sc, r)
    done = r.jobs[(r.jobs["state"] == "finished") & (r.jobs["capped_s"] > 0)]
    assert len(done) > 0
    assert np.allclose(done["work_done_s"], done["duration_s"], rtol=1e-9)
    # capped work took longer (unless a failure lost the capped part and it ran again at full speed)
    assert (done["useful_s"] >= done["duration_s"] * (1 - 1e-12)).all()
    assert (done["useful_s"] > done["duration_s"]).mean() > 0.9
