"""Hand cases of the admission gate: exact start times worked out on paper."""

from __future__ import annotations

import pytest
from power_helpers import run, scenario, spec, starts

# 2 nodes x 8 GPUs, 100 W idle / 400 W busy, PUE 1: idle fleet 1,600 W; each busy GPU +300 W.
# A cap of 5,200 W holds the idle fleet and 12 busy GPUs: one 8-GPU job, not two.
CAP_12 = (1600 + 12 * 300) / 1e6


@pytest.mark.parametrize("policy", ["fifo", "sjf", "backfill"])
def test_two_jobs_over_the_cap_start_one_after_the_other(policy):
    sc = scenario(power={"mode": "admission", "cap_mw": CAP_12}, policy=policy)
    r = run(sc, [spec("a", 0, 8, 1000), spec("b", 0, 8, 500)])
    s = starts(r)
    if policy == "sjf":  # the shorter first
        assert s == {"a": 500.0, "b": 0.0}
    else:
        assert s == {"a": 0.0, "b": 1000.0}
    waits = dict(zip(r.jobs["job_id"], r.jobs["power_wait_s"], strict=True))
    assert sorted(waits.values()) == [0.0, 500.0 if policy == "sjf" else 1000.0]
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert ts["facility_power_w"].max() == 1600 + 8 * 300


def test_without_the_cap_both_start_at_once():
    sc = scenario(power={"mode": "account", "cap_mw": CAP_12})
    r = run(sc, [spec("a", 0, 8, 1000), spec("b", 0, 8, 500)])
    assert starts(r) == {"a": 0.0, "b": 0.0}
    assert r.summary["power"]["hours_over_cap"] == pytest.approx(500 / 3600)


def test_easy_backfills_within_power_but_never_delays_the_head():
    # 4 nodes, idle 3,200 W; cap = 16 busy GPUs. a (8 GPUs, to 1,000 s) runs; head b needs 16:
    # its GPUs are free now but its power only when a ends (1,000 s). c (8 GPUs, 500 s) ends
    # by then and backfills; d (8 GPUs, 2,000 s) would hold power b needs at 1,000 s: waits.
    cap = (3200 + 16 * 300) / 1e6
    sc = scenario(nodes=4, power={"mode": "admission", "cap_mw": cap}, policy="backfill")
    r = run(sc, [spec("a", 0, 8, 1000), spec("b", 0, 16, 1000), spec("c", 0, 8, 500), spec("d", 0, 8, 2000)])
    assert starts(r) == {"a": 0.0, "b": 1000.0, "c": 0.0, "d": 2000.0}
    # without power, b starts at once
    free = run(scenario(nodes=4, policy="backfill"),
               [spec("a", 0, 8, 1000), spec("b", 0, 16, 1000), spec("c", 0, 8, 500), spec("d", 0, 8, 2000)])
    assert starts(free)["b"] == 0.0


def test_a_lower_cap_ahead_holds_a_job_that_would_run_into_it():
    # base cap: 16 busy GPUs; from 1,000 s to 2,000 s only 8. A 16-GPU job of 1,500 s would
    # cross into the window: it starts when the window ends; b (FIFO) after it, as 16 + 8 > 16.
    sc = scenario(power={"mode": "admission", "cap_mw": (1600 + 16 * 300) / 1e6,
                         "windows": [{"name": "cut", "cap_mw": (1600 + 8 * 300) / 1e6, "from": 1000, "to": 2000}]})
    r = run(sc, [spec("a", 0, 16, 1500), spec("b", 0, 8, 900)])
    assert starts(r) == {"a": 2000.0, "b": 3500.0}
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
