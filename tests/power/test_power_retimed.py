"""The cap holds when runs slow down after the gate booked them: a node that turns slow
(fail-slow) stretches a running job, and a gang that spans racks under a topology's span rule
runs slower than its pool speed, which the gate cannot know before placement. A job admitted
beside a booking that ends too early could overlap it in a lower cap window, where admission
cannot shed power and capping is already at its floor; so such runs are booked at the slowest
speed they can fall to (``power_modes.worst_speed``). Before that rule this test failed within
seconds under both modes (hypothesis, derandomized)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from power_helpers import GPU, SILENT, run, spec

from clustersim.config import scenario_from_dict
from clustersim.engine.power_modes import worst_speed

jobs_st = st.lists(
    st.tuples(st.integers(0, 20).map(lambda k: k * 300.0), st.sampled_from([1, 2, 4, 8, 16]),
              st.integers(1, 40).map(lambda k: k * 250.0)),
    min_size=1, max_size=25,
)
SPAN = {"levels": [{"name": "rack", "nodes": 1}],
        "locality": {"kind": "span", "level": "rack", "max_domains": 2, "penalty_per_extra_domain": 1.0}}


def scenario(power: dict, policy: str, slow: tuple | None, span: bool):
    cluster = {"nodes": 4, "gpus_per_node": 8}
    if span:  # a 16-GPU gang spans two 1-node racks and runs at half speed
        cluster["topology"] = copy.deepcopy(SPAN)
    data = {"name": "retimed", "horizon": 40_000.0, "cluster": cluster, "scheduler": {"policy": policy},
            "workload": {"classes": [dict(SILENT)]}, "power": {**power, "gpu_types": {"A100": dict(GPU)}, "pue": 1.0}}
    if slow is not None:
        rate, factor = slow
        data["failures"] = {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0,
                            "slow": {"rate_per_1000_node_days": rate, "factor": factor,
                                     "duration": {"kind": "fixed", "value": 4 * 3600.0}}}
    return scenario_from_dict(data)


@settings(derandomize=True, max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    jobs=jobs_st,
    policy=st.sampled_from(["fifo", "backfill"]),
    room=st.integers(8, 32),  # busy GPUs the base cap holds
    cut=st.tuples(st.integers(0, 7), st.integers(1, 6), st.integers(4, 24)),
    mode=st.sampled_from(["admission", "capping"]),
    slow=st.one_of(st.none(), st.tuples(st.sampled_from([2_000.0, 10_000.0]), st.sampled_from([0.25, 0.5]))),
    span=st.booleans(),
)
def test_the_cap_holds_when_runs_slow_down_after_they_are_booked(jobs, policy, room, cut, mode, slow, span):
    # 4 nodes x 8 GPUs at 100 W idle / 400 W busy; an hourly window cuts the cap by `less`
    # busy GPUs, so a job that outlives its booking into the window would pass it
    power = {"mode": mode, "cap_mw": (3200 + room * 300) / 1e6}
    if mode == "capping":
        power["capping"] = {"order": "smallest_first", "training": [[0.5, 0.4], [0.8, 0.85], [1.0, 1.0]]}
    start, length, less = cut
    power["windows"] = [{"name": "cut", "hours": [start, start + length],
                         "cap_mw": (3200 + max(room - less, 0) * 300) / 1e6}]
    sc = scenario(power, policy, slow, span)
    r = run(sc, [spec(str(i), s, g, d) for i, (s, g, d) in enumerate(jobs)], seed=len(jobs))
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert r.summary["power"]["hours_over_cap"] == 0


@pytest.mark.parametrize(("slow", "span", "worst"), [
    (None, False, 1.0), ((100.0, 0.5), False, 0.5), (None, True, 0.5), ((100.0, 0.8), True, 0.4),
    ((0.0, 0.5), False, 1.0),  # no episodes: nothing slows
])
def test_worst_speed_by_hand(slow, span, worst):
    sc = scenario({"mode": "admission", "cap_mw": 1.0}, "fifo", slow, span)
    assert worst_speed(sc) == pytest.approx(worst)


@pytest.mark.parametrize(("slow", "b_start"), [(None, 100.0), ((1e-9, 0.5), 2000.0)])
def test_a_booking_at_the_slowest_speed_by_hand(slow, b_start):
    # 4 nodes; the cap holds two busy nodes (8,000 W), one from 1:00 to 2:00 (5,600 W). a (8 GPUs,
    # 2,000 s) at 0; b (8 GPUs, 2,000 s) at 100. Nothing can slow: b's run [100, 2,100) ends
    # before the window and a ends at 2,000: b starts at 100. Nodes may slow to half speed
    # (episodes too rare to come): a is booked to 4,000 s and b's run to [100, 4,100), both
    # in the window at 3,600: b waits for a's true end at 2,000 and runs to 4,000 alone.
    power = {"mode": "admission", "cap_mw": (3200 + 16 * 300) / 1e6,
             "windows": [{"name": "cut", "hours": [1, 2], "cap_mw": (3200 + 8 * 300) / 1e6}]}
    r = run(scenario(power, "fifo", slow, False), [spec("a", 0, 8, 2000), spec("b", 100, 8, 2000)])
    t = r.jobs.set_index("job_id")
    assert (t.loc["a", "start_s"], t.loc["a", "end_s"]) == (0.0, 2000.0)
    assert (t.loc["b", "start_s"], t.loc["b", "end_s"]) == (b_start, b_start + 2000.0)
    assert (r.timeseries["facility_power_w"] <= r.timeseries["power_cap_w"]).all()
