"""Hand cases of ``mode: capping``: limits, speeds and end times worked out on paper."""

from __future__ import annotations

import pytest
from power_helpers import run, scenario, spec

from clustersim.engine.power_modes import throttle

# 2 nodes x 8 GPUs, 100 W idle / 400 W busy, PUE 1, no node overhead: idle fleet 1,600 W.
# Curve: speed = power fraction, down to half power. A cap of 5,602 W leaves 5,600 W of IT
# power (the mode keeps 2 W below the cap): one 8-GPU job at full power draws 1,600 + 2,400 =
# 4,000 W, two draw 6,400 W, so 800 W must be shed while both run. The gate admits both: at
# half power each started GPU adds 100 W, 1,600 + 16 x 100 = 3,200 W <= 5,602 W.
LINEAR = [[0.5, 0.5], [1.0, 1.0]]
CAP = 5602 / 1e6


def capping(order="smallest_first", cap=CAP, curve=LINEAR):
    return {"mode": "capping", "cap_mw": cap, "capping": {"training": curve, "order": order}}


def ends(result) -> dict[str, float]:
    j = result.jobs
    return dict(zip(j["job_id"], j["end_s"], strict=True))


def column(result, name) -> dict[str, float]:
    j = result.jobs
    return dict(zip(j["job_id"], j[name], strict=True))


@pytest.mark.parametrize("order", ["smallest_first", "largest_first"])
def test_the_newest_job_is_capped_while_both_run_and_ends_when_its_work_is_done(order):
    # a: 1,000 s of work from 0. b: 900 s from 200; equal sizes, so b (newer) sheds the 800 W:
    # limit 1 - 800 / (8 x 400) = 0.75, speed 0.75. At 1,000 s (a ends) b has done
    # 800 x 0.75 = 600 s of work; the other 300 s at full speed: b ends at 1,300 s.
    r = run(scenario(power=capping(order)), [spec("a", 0, 8, 1000), spec("b", 200, 8, 900)])
    assert ends(r) == {"a": 1000.0, "b": 1300.0}
    assert column(r, "capped_s") == {"a": 0.0, "b": 800.0}
    assert column(r, "power_wait_s") == {"a": 0.0, "b": 0.0}
    ts = r.timeseries.set_index("t_s")
    assert ts.loc[200.0, "it_power_w"] == 5600 and ts.loc[200.0, "power_shed_w"] == 800
    assert ts.loc[200.0, "throttled_gpus"] == 8
    assert ts.loc[1000.0, "throttled_gpus"] == 0 and ts.loc[1000.0, "it_power_w"] == 4000
    p = r.summary["power"]
    assert p["jobs_slowed"] == 1
    assert p["throttled_gpu_hours"] == pytest.approx(8 * 800 / 3600, rel=1e-12)
    assert p["throttle_lost_gpu_hours"] == pytest.approx(8 * 0.25 * 800 / 3600, rel=1e-12)
    assert (r.timeseries["facility_power_w"] <= r.timeseries["power_cap_w"]).all()


def test_even_capping_slows_both_to_one_limit():
    # both at 1 - 800 / 6,400 = 0.875 from 200 s. a: 200 s of work done, 800 left at 0.875:
    # ends 200 + 800 / 0.875. b: done 800 by then (the same wall time at the same speed),
    # 100 left at full speed.
    r = run(scenario(power=capping("even")), [spec("a", 0, 8, 1000), spec("b", 200, 8, 900)])
    a_end = 200 + 800 / 0.875
    assert ends(r)["a"] == pytest.approx(a_end, rel=1e-12)
    assert ends(r)["b"] == pytest.approx(a_end + 100, rel=1e-12)
    assert column(r, "capped_s")["b"] == pytest.approx(a_end - 200, rel=1e-12)


def test_a_summer_window_caps_a_running_job_and_its_end_releases_it():
    # one 16-GPU job of 3,000 s; base cap holds it (1,600 + 16 x 300 = 6,400 W); from 1,000 s
    # to 2,000 s the cap is 4,802 W: shed 1,600 W of 6,400 W of GPU power -> limit 0.75.
    # Work by 1,000: 1,000; by 2,000: + 750; the last 1,250 s at full speed: ends 3,250 s.
    power = capping(cap=6402 / 1e6)
    power["windows"] = [{"name": "cut", "cap_mw": 4802 / 1e6, "from": 1000, "to": 2000}]
    r = run(scenario(power=power), [spec("a", 0, 16, 3000)])
    assert ends(r) == {"a": 3250.0}
    assert column(r, "capped_s") == {"a": 1000.0}
    ts = r.timeseries.set_index("t_s")
    assert ts.loc[1000.0, "facility_power_w"] == 4800 and ts.loc[2000.0, "facility_power_w"] == 6400


def test_the_gate_holds_a_job_that_would_not_fit_even_at_the_lowest_limit():
    # 3 nodes: idle fleet 2,400 W; at half power each started GPU adds 100 W. Cap 4,402 W (IT
    # budget 4,400 W): a (16 GPUs) fits at the floor (2,400 + 1,600 = 4,000 W); b (8 more)
    # would not (4,800 W) until a ends. a at full power would draw 800 + 16 x 400 = 7,200 W:
    # it sheds 2,800 W, limit 1 - 2,800 / 6,400 = 0.5625, and ends at 1,000 / 0.5625 s; the
    # gate books it to 2,000 s (its end at the floor) but b starts as soon as a really ends.
    r = run(scenario(nodes=3, power=capping(cap=4402 / 1e6)), [spec("a", 0, 16, 1000), spec("b", 0, 8, 100)])
    a_end = 1000 / 0.5625
    assert ends(r)["a"] == pytest.approx(a_end, rel=1e-12)
    assert column(r, "power_wait_s")["b"] == pytest.approx(a_end, rel=1e-12)
    # alone, b at full power would draw 1,600 + 8 x 400 = 4,800 W: it sheds 400 W, limit 0.875
    assert ends(r)["b"] == pytest.approx(a_end + 100 / 0.875, rel=1e-12)
    assert (r.timeseries["facility_power_w"] <= r.timeseries["power_cap_w"]).all()


def test_throttle_orders_by_hand():
    jobs = [("s", 1, 5, 400), ("m", 8, 3, 400), ("m2", 8, 4, 400), ("l", 64, 1, 400)]
    # 400 W busy, floor 0.5: room 200 W per GPU. Excess 2,000 W, smallest first: s sheds 200
    # (floor), m2 (newer of the 8s) 1,600 (floor), m the last 200: 1 - 200 / 3,200.
    assert throttle(jobs, 2000, 0.5, "smallest_first") == {"s": 0.5, "m2": 0.5, "m": 1 - 200 / 3200}
    assert throttle(jobs, 2000, 0.5, "largest_first") == {"l": 1 - 2000 / (64 * 400)}
    assert throttle(jobs, 2000, 0.5, "even") == {k: 1 - 2000 / (81 * 400) for k in ("s", "m", "m2", "l")}
    assert throttle(jobs, 0, 0.5, "even") == {}


def test_the_rounded_rows_stay_within_the_cap_at_a_high_pue():
    # PUE 2.5 (no hall is this bad, but the rounding margin must hold): the recorded whole
    # watts never pass the cap while b is capped to fractional limits
    power = {**capping(cap=(5600 * 2.5 + 1) / 1e6), "pue": 2.5}
    r = run(scenario(power=power), [spec("a", 0, 8, 1000), spec("b", 200, 8, 900), spec("c", 333, 1, 77)])
    ts = r.timeseries
    assert ts["throttled_gpus"].max() > 0
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()


def test_throttle_uses_each_jobs_own_busy_power():
    # an H100 job (700 W a GPU) and an A100 job (400 W): room at the floor 0.5 is 350 and 200 W
    # a GPU. Even: one limit for both, 1 - 880 / (1 x 700 + 8 x 400). Smallest first (the
    # 1-GPU H100 job first): it sheds 350 W at the floor, the A100 job the other 530 W.
    jobs = [("h", 1, 2, 700), ("a", 8, 1, 400)]
    assert throttle(jobs, 880, 0.5, "even") == {"h": 1 - 880 / 3900, "a": 1 - 880 / 3900}
    assert throttle(jobs, 880, 0.5, "smallest_first") == {"h": 0.5, "a": 1 - 530 / 3200}
    assert throttle(jobs, 880, 0.5, "largest_first") == {"a": 1 - 880 / 3200}
