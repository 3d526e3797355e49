"""Statistical tests of the synthetic workload's samplers: durations, GPU-size mix and
per-class arrival rates, drawn through ``workload.sources.scenario_jobs`` (the path a run
uses) from a scenario, for the plain Poisson path and the thinning path (a class with an
arrival pattern: here a flat ``hourly`` profile, the same rate).

Expected values are the README's definitions, computed here: a lognormal given by median m
and p90 q has P(X <= m) = 0.5 and P(X <= q) = 0.9; an exponential of mean m has mean m and
P(X > m) = 1/e; a class's GPU counts have the given probabilities; a class's arrivals are a
Poisson process at ``arrival_rate_per_h``, so its count over the horizon is Poisson with mean
rate x horizon and its gaps are exponential.

Every check is a z-test at 4 standard deviations (``stat_tools``; false alarm 6.3e-5 per check
for a correct sampler). Seeds are fixed. Powers (probability that a wrong sampler fails, for
a random seed) are stated per test and checked in ``test_stated_powers``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stat_tools import CRIT, binomial_z, ks_critical, ks_distance, poisson_z, power

from clustersim.config import scenario_from_dict
from clustersim.rng import Streams
from clustersim.workload.sources import scenario_jobs

HOURS = 100
SMALL_RATE, EXP_RATE = 600.0, 120.0  # jobs per hour: 60,000 and 12,000 expected
MEDIAN, P90 = 120.0, 1980.0  # the README's small class: lognormal median 2m, p90 33m
EXP_MEAN = 1800.0
MIX = {1: 0.5, 2: 0.1, 4: 0.1, 8: 0.2, 16: 0.1}


def workload(patterned: bool) -> dict:
    pattern = {"hourly": [1.0] * 24} if patterned else {}
    return {
        "name": "sampling",
        "horizon": f"{HOURS}h",
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "workload": {"classes": [
            {"name": "small", "arrival_rate_per_h": SMALL_RATE, "gpus": dict(MIX),
             "duration": {"kind": "lognormal", "median": MEDIAN, "p90": P90}, **pattern},
            {"name": "exp", "arrival_rate_per_h": EXP_RATE, "gpus": 8,
             "duration": {"kind": "exponential", "mean": EXP_MEAN}, **pattern},
        ]},
    }


@pytest.fixture(scope="module", params=[False, True], ids=["poisson", "thinning"])
def jobs(request):
    specs = list(scenario_jobs(scenario_from_dict(workload(request.param)), Streams(2024)))
    cls = np.array([s.job_class for s in specs])
    return {
        name: {
            "submit": np.array([s.submit_s for s in specs])[cls == name],
            "gpus": np.array([s.num_gpus for s in specs])[cls == name],
            "duration": np.array([s.duration_s for s in specs])[cls == name],
        }
        for name in ("small", "exp")
    }


def test_lognormal_median_and_p90(jobs):
    """P(X <= median) = 0.5 and P(X <= p90) = 0.9 over ~60,000 draws (sd 0.0020 and 0.0012).
    Power >= 0.99 against a median 10% off (P(X <= m) = 0.483 with sigma = ln(16.5)/1.2816)
    and 1.0 against sigma computed with the 95% quantile (P(X <= p90) = 0.95)."""
    d = jobs["small"]["duration"]
    n = len(d)
    for q, p in ((MEDIAN, 0.5), (P90, 0.9)):
        z = binomial_z(int(np.sum(d <= q)), n, p)
        assert abs(z) <= CRIT, (q, p, float(np.mean(d <= q)), z)


def test_exponential_mean_and_tail(jobs):
    """Mean 30 min (se = mean/sqrt(n), ~0.9% over ~12,000 draws) and P(X > mean) = 1/e (an
    exponential, not another law with the same mean). Power 0.93 against a mean 5% off."""
    d = jobs["exp"]["duration"]
    n = len(d)
    z = (d.mean() - EXP_MEAN) / (EXP_MEAN / math.sqrt(n))
    assert abs(z) <= CRIT, (d.mean(), z)
    z = binomial_z(int(np.sum(d > EXP_MEAN)), n, math.exp(-1))
    assert abs(z) <= CRIT, (float(np.mean(d > EXP_MEAN)), z)


def test_gpu_size_mix(jobs):
    """Each GPU count's share is its probability: per count a binomial z over ~60,000 draws
    (sd 0.0012 to 0.0020). Power 0.97 against one probability 1.5 points off (1 GPU: 0.5 ->
    0.485, z = 7.4 ... at 16 GPUs: 0.1 -> 0.115, z = 12)."""
    g = jobs["small"]["gpus"]
    n = len(g)
    assert set(np.unique(g)) == set(MIX)
    for count, p in MIX.items():
        z = binomial_z(int(np.sum(g == count)), n, p)
        assert abs(z) <= CRIT, (count, p, float(np.mean(g == count)), z)
    assert (jobs["exp"]["gpus"] == 8).all()


@pytest.mark.parametrize("name,rate", [("small", SMALL_RATE), ("exp", EXP_RATE)])
def test_per_class_arrival_rate_and_exponential_gaps(jobs, name, rate):
    """A class's count over the horizon is Poisson(rate x horizon): 60,000 (sd 245) and 12,000
    (sd 110); power 0.82 against a 2% error in the large class and 0.93 against 5% in the
    small one. Its gaps are exponential of mean 1/rate: KS distance within the 1e-4 critical
    value (0.010 and 0.022)."""
    submit = jobs[name]["submit"]
    z = poisson_z(len(submit), rate * HOURS)
    assert abs(z) <= CRIT, (name, len(submit), rate * HOURS, z)
    assert (np.diff(submit) >= 0).all() and submit[0] >= 0 and submit[-1] < HOURS * 3600
    gaps = np.diff(np.concatenate([[0.0], submit]))
    mean_gap = 3600.0 / rate
    d = ks_distance(gaps, lambda x: 1.0 - np.exp(-x / mean_gap))
    assert d <= ks_critical(len(gaps)), (name, d, ks_critical(len(gaps)))


def test_stated_powers():
    """The powers stated in the docstrings above, from the normal approximation."""
    sigma = math.log(P90 / MEDIAN) / 1.2815515655446004
    n_small, n_exp = SMALL_RATE * HOURS, EXP_RATE * HOURS
    # median 10% off: P(X <= m) under the wrong median
    p_off = 0.5 - (0.5 - _phi(-math.log(1.1) / sigma))
    assert power((0.5 - p_off) / math.sqrt(0.25 / n_small)) > 0.99
    assert power(0.05 / math.sqrt(0.09 / n_small)) > 0.999  # p90 read as p95
    assert power(0.05 * math.sqrt(n_exp)) > 0.9  # exponential mean 5% off (se = mean / sqrt(n))
    assert power(0.015 / math.sqrt(0.25 / n_small)) > 0.97  # 1-GPU share 0.5 -> 0.485
    assert power(0.02 * n_small / math.sqrt(n_small)) > 0.8  # large class rate 2% off
    assert power(0.05 * n_exp / math.sqrt(n_exp)) > 0.9  # small class rate 5% off


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
