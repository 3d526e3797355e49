"""Conservation (power recomputed from each row's counts; energy = integral of power), the cap
never exceeded under admission (hypothesis, derandomized), and a cap above the fleet's maximum
draw changing nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import expected_power, run, scenario, spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustersim.engine.core import simulate

HOURLY = [1.1 + 0.02 * abs(12 - h) for h in range(24)]
MIXED = [
    {"name": "s", "arrival_rate_per_h": 20, "gpus": {1: 0.6, 4: 0.2, 8: 0.2}, "duration": {"kind": "lognormal", "median": "10m", "p90": "2h"}},
    {"name": "m", "arrival_rate_per_h": 0.5, "gpus": {16: 0.5, 32: 0.5}, "duration": {"kind": "lognormal", "median": "3h", "p90": "12h"}},
]


def check_conservation(sc, r):
    ts = r.timeseries
    it, fac = expected_power(sc, ts)
    assert np.array_equal(ts["it_power_w"].to_numpy(), np.round(it).astype("int64"))
    assert np.array_equal(ts["facility_power_w"].to_numpy(), np.round(fac).astype("int64"))
    t = ts["t_s"].to_numpy(float)
    dt = np.diff(np.append(t, sc.horizon))
    energy = float(np.sum(ts["facility_power_w"].to_numpy(float) * dt)) / 3.6e6
    assert r.summary["power"]["energy_kwh"] == pytest.approx(energy, rel=1e-12)


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
)
def test_the_cap_is_never_exceeded_under_admission(jobs, policy, room, cut, hourly):
    # 4 nodes x 8 GPUs at 100 W idle / 400 W busy: idle fleet 3,200 W, +300 W per busy GPU
    pue = {"hourly": [1.0 + 0.05 * (h % 5) for h in range(24)]} if hourly else 1.0
    top = 1.2 if hourly else 1.0
    power = {"mode": "admission", "pue": pue, "cap_mw": top * (3200 + room * 300) / 1e6}
    if cut is not None:  # a cheaper hour window: down to `room - less` busy GPUs
        start, length, less = cut
        power["windows"] = [{"name": "cut", "hours": [start, start + length],
                             "cap_mw": top * (3200 + max(room - less, 0) * 300) / 1e6}]
    sc = scenario(nodes=4, power=power, policy=policy, horizon=40_000.0)
    r = run(sc, [spec(str(i), s, g, d) for i, (s, g, d) in enumerate(jobs)])
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    # a job that could ever fit does not wait forever: any job still queued waits for power
    assert r.summary["power"]["hours_over_cap"] == 0


def _without_power(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if "power" in c])


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
                  {"mode": "account", "pue": {"hourly": HOURLY}}):
        capped = simulate(scenario_from_dict({**base, "power": power}), 5)
        pd.testing.assert_frame_equal(_without_power(capped.jobs), plain.jobs)
        ts = capped.timeseries
        assert (ts["facility_power_w"] <= ts.get("power_cap_w", np.inf)).all()
        assert {k: v for k, v in capped.summary.items() if k != "power"} == plain.summary
        if "power_wait_s" in capped.jobs:
            assert (capped.jobs["power_wait_s"] == 0).all()
