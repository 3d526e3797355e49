"""Arrival patterns of synthetic classes: hour-of-day and weekday multipliers, growth and the
size shift, generated as a non-homogeneous Poisson process by thinning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clustersim.config import JobClass, load_scenario
from clustersim.errors import ScenarioError
from clustersim.rng import Streams
from clustersim.workload.synthetic import ArrivalRate, SizeShift, class_jobs, synthetic_jobs

DAY = 86400.0
YEAR = 365 * DAY
# chi-square critical values at 1% (upper tail): df 23 (24 hourly bins), df 6 (7 weekdays)
CHI2_1PCT = {23: 41.638, 6: 16.812}
HOURLY = [0.70, 0.58, 0.42, 0.26, 0.21, 0.21, 0.26, 0.44, 0.74, 0.95, 0.98, 0.96,
          0.87, 0.91, 0.98, 0.99, 0.98, 0.90, 0.87, 0.95, 0.99, 0.99, 1.00, 0.96]
WEEKDAY = [1.0, 1.1, 1.0, 1.0, 0.9, 0.5, 0.4]


def job_class(**kw) -> JobClass:
    data = {"name": "c", "arrival_rate_per_h": 30.0, "gpus": {1: 1.0}, "duration": 60.0}
    return JobClass.model_validate({**data, **kw})


def submits(cls: JobClass, horizon: float, seed: int = 0) -> np.ndarray:
    return np.array([j.submit_s for j in class_jobs(cls, Streams(seed), horizon)])


def integral(cls: JobClass, horizon: float, step: float = 60.0) -> float:
    """∫ λ(t) dt over [0, horizon] (λ is piecewise smooth: a fine midpoint rule)."""
    rate = ArrivalRate(cls, horizon, SizeShift([cls]))
    t = np.arange(0.0, horizon, step) + step / 2
    return float(sum(rate(x) for x in t) * step)


def chi_square(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(np.sum((counts - expected) ** 2 / expected))


def test_counts_per_hour_of_day_follow_the_profile():
    cls = job_class(hourly=HOURLY)
    horizon = 28 * DAY
    t = submits(cls, horizon)
    counts = np.bincount(((t % DAY) // 3600).astype(int), minlength=24)
    share = np.array(HOURLY) / sum(HOURLY)
    assert chi_square(counts, share * len(t)) < CHI2_1PCT[23]
    # and a flat profile is clearly rejected: the test has power
    assert chi_square(counts, np.full(24, len(t) / 24)) > 10 * CHI2_1PCT[23]
    # the total matches the integral of the rate: arrival_rate_per_h is the mean rate
    expected = integral(cls, horizon)
    assert expected == pytest.approx(30.0 * horizon / 3600, rel=1e-9)
    assert abs(len(t) - expected) < 3 * math.sqrt(expected)


def test_counts_per_weekday_follow_the_profile_and_time_zero_is_a_monday():
    cls = job_class(weekday=WEEKDAY, arrival_rate_per_h=20.0)
    horizon = 70 * DAY
    t = submits(cls, horizon, seed=3)
    counts = np.bincount((t // DAY).astype(int) % 7, minlength=7)
    expected = np.array(WEEKDAY) / sum(WEEKDAY) * len(t)
    assert chi_square(counts, expected) < CHI2_1PCT[6]
    assert counts[5] < 0.6 * counts[0]  # Saturday (day 5) is quiet, as the profile says


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_total_count_matches_the_integral_of_the_rate_with_growth(seed):
    cls = job_class(hourly=HOURLY, weekday=WEEKDAY, growth="40%/yr", arrival_rate_per_h=5.0)
    horizon = 365 * DAY
    t = submits(cls, horizon, seed)
    expected = integral(cls, horizon, step=300.0)
    # rate grows 40% over the year: the integral is 5/h x (0.4 / ln 1.4) x 1 year
    assert expected == pytest.approx(5.0 * 8760 * 0.4 / math.log(1.4), rel=2e-3)
    assert abs(len(t) - expected) < 3 * math.sqrt(expected)
    first, last = np.sum(t < 30 * DAY), np.sum(t >= horizon - 30 * DAY)
    assert last / first == pytest.approx(1.4 ** (335 / 365), rel=0.08)


def test_a_class_without_a_pattern_is_the_homogeneous_process():
    """No pattern: exponential gaps straight from arrivals.<class> (the path golden runs use)."""
    cls = job_class()
    gen = Streams(5)("arrivals.c")
    gaps = gen.exponential(120.0, 4096)
    expected = np.cumsum(gaps)
    got = submits(cls, float(expected[99]) + 1e-9, seed=5)
    np.testing.assert_array_equal(got, expected[:100])


def test_pattern_classes_keep_common_random_numbers():
    """A pattern on one class leaves every other class's jobs unchanged."""
    other = job_class(name="other", gpus={1: 0.5, 8: 0.5}, duration={"kind": "exponential", "mean": 600})
    plain = [job_class(), other]
    shaped = [job_class(hourly=HOURLY, growth="10%/yr"), other]
    keep = [j for j in synthetic_jobs(plain, Streams(9), 5 * DAY) if j.job_class == "other"]
    again = [j for j in synthetic_jobs(shaped, Streams(9), 5 * DAY) if j.job_class == "other"]
    assert keep == again


def test_size_shift_moves_the_mix_to_larger_jobs_and_keeps_the_job_count():
    small = job_class(name="small", arrival_rate_per_h=8.0, gpus={1: 1.0})
    big = job_class(name="big", arrival_rate_per_h=8.0, gpus={8: 0.5, 64: 0.5})
    growth = {"rate": 0.0, "size_shift": "50%/yr"}
    classes = [c.model_copy(update={"growth": JobClass.model_validate(
        {**c.model_dump(), "growth": growth}).growth}) for c in (small, big)]
    horizon = 2 * 365 * DAY
    jobs = list(synthetic_jobs(classes, Streams(1), horizon))
    t = np.array([j.submit_s for j in jobs])
    g = np.array([j.num_gpus for j in jobs])
    first, last = t < 60 * DAY, t >= horizon - 60 * DAY
    # per doubling of size, 1.5x as likely per year: after ~2 years 64 vs 8 GPUs is 1.5^(3 x 1.92)
    ratio_first = np.sum(first & (g == 64)) / np.sum(first & (g == 8))
    ratio_last = np.sum(last & (g == 64)) / np.sum(last & (g == 8))
    assert ratio_first == pytest.approx(1.5 ** (3 * 30 / 365), rel=0.12)
    assert ratio_last == pytest.approx(1.5 ** (3 * (horizon - 30 * DAY) / YEAR), rel=0.12)
    assert np.sum(last & (g == 1)) < 0.8 * np.sum(first & (g == 1))  # the 1-GPU class shrinks
    # the job count follows the growth rate (0 here): 16 jobs per hour throughout
    assert len(t) == pytest.approx(16.0 * horizon / 3600, rel=0.02)
    assert np.sum(last) == pytest.approx(np.sum(first), rel=0.05)


def test_workload_growth_is_copied_into_classes_without_their_own():
    sc = load_scenario("seeds/lingang-4000.yaml", ["workload.growth=40%/yr",
                                                   "workload.classes[2].growth=3%/mo"])
    rates = [c.growth.rate for c in sc.workload.classes]
    assert rates[0] == rates[1] == pytest.approx(0.4)
    assert rates[2] == pytest.approx(1.03 ** (365 / 30) - 1)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("workload.classes[0].hourly=[1, 2, 3]", "expected 24 hourly multipliers, got 3"),
        ("workload.classes[0].weekday=[1, 1, 1, 1, 1, 1]", "expected 7 weekday multipliers, got 6"),
        ("workload.classes[0].hourly=[" + ",".join(["0"] * 24) + "]", "all 0"),
        ("workload.growth=-150%/yr", "growth must be more than -100%"),
        ("workload.growth=-100%", "growth must be more than -100%"),
        ("workload.growth=fast", "expected a growth rate such as 40%/yr"),
        ("workload.classes[0].duration_by_gpus={64: 2h}", "duration_by_gpus has GPU count(s) 64"),
    ],
)
def test_bad_patterns_give_one_clear_message(override, message):
    with pytest.raises(ScenarioError) as info:
        load_scenario("seeds/lingang-4000.yaml", [override])
    assert len(info.value.problems) == 1 and message in info.value.problems[0]


def test_growth_is_refused_on_a_trace_workload():
    with pytest.raises(ScenarioError, match="fit the trace into classes first"):
        load_scenario("workloads/itp/cluster01.yaml", ["workload.growth=40%/yr"])
