"""Preemptive priority on one server against queueing theory.

One GPU, two Poisson classes with exponential service of the same mean 1/mu: class 1 (priority
1) preempts class 2 (priority 0, preemptible) and class 2 resumes where it stopped
(``preemption: suspend``, preemptive-resume). Class 1 sees an M/M/1 queue of its own load:
mean wait rho1 / (mu - lambda1), mean sojourn 1 / (mu - lambda1). Class 2's mean sojourn is the
preemptive-resume priority formula (Kleinrock, Queueing Systems vol. 2, 3.7; Harchol-Balter,
Performance Modeling and Design of Computer Systems, 32.3):

    T2 = E[S] / (1 - rho1) + (lambda1 E[S1^2] + lambda2 E[S2^2]) / 2 / ((1 - rho1)(1 - rho1 - rho2))

Each seed gives one estimate of each mean; they must match within 4 standard errors over the
seeds (the standard error from the spread of the seeds' estimates).
"""

from __future__ import annotations

import numpy as np
import pytest
from tenancy_helpers import run, scenario

HOUR = 3600.0
MU = 1.0  # per hour
LAM1, LAM2 = 0.3, 0.4
HORIZON_H, WARMUP_H, TAIL_H = 20_000.0, 500.0, 500.0
SEEDS = range(10)


def expected() -> dict[str, float]:
    rho1, rho2 = LAM1 / MU, LAM2 / MU
    es2 = 2.0 / MU**2  # E[S^2] of an exponential
    r = (LAM1 * es2 + LAM2 * es2) / 2.0
    return {
        "wait1": rho1 / (MU - LAM1),
        "sojourn1": 1.0 / (MU - LAM1),
        "sojourn2": (1.0 / MU) / (1.0 - rho1) + r / ((1.0 - rho1) * (1.0 - rho1 - rho2)),
    }


def one_seed(seed: int) -> dict[str, float]:
    sc = scenario(
        nodes=1,
        horizon=HORIZON_H * HOUR,
        warmup=WARMUP_H * HOUR,
        classes=[
            {"name": "one", "arrival_rate_per_h": LAM1, "gpus": 1, "duration": {"kind": "exponential", "mean": "1h"}},
            {"name": "two", "arrival_rate_per_h": LAM2, "gpus": 1, "duration": {"kind": "exponential", "mean": "1h"},
             "preemptible": True},
        ],
        tenancy={"priority": {"classes": {"one": 1}}, "preemption": "suspend"},
    )
    jobs = run(sc, seed=seed, check=False).jobs
    submit = jobs["submit_s"].to_numpy(float)
    keep = (submit >= WARMUP_H * HOUR) & (submit < (HORIZON_H - TAIL_H) * HOUR)
    assert (jobs["state"][keep] == "finished").all()
    one = keep & (jobs["job_class"] == "one").to_numpy(bool)
    two = keep & (jobs["job_class"] == "two").to_numpy(bool)
    sojourn = (jobs["end_s"] - jobs["submit_s"]).to_numpy(float) / HOUR
    wait = jobs["wait_s"].to_numpy(float) / HOUR
    assert jobs["priority_preemptions"][two].sum() > 100  # the rule is exercised
    assert jobs["priority_preemptions"][one].sum() == 0
    return {"wait1": wait[one].mean(), "sojourn1": sojourn[one].mean(), "sojourn2": sojourn[two].mean()}


@pytest.fixture(scope="module")
def estimates():
    return [one_seed(s) for s in SEEDS]


@pytest.mark.parametrize("name", ["wait1", "sojourn1", "sojourn2"])
def test_preemptive_priority_mm1_matches_theory(estimates, name):
    values = np.array([e[name] for e in estimates])
    mean = values.mean()
    se = values.std(ddof=1) / np.sqrt(len(values))
    want = expected()[name]
    assert abs(mean - want) <= 4 * se, (name, mean, want, se)
    assert se < 0.1 * want  # the runs are long enough for the test to mean something


def test_the_closed_forms_are_consistent():
    # the classes' sojourns average (by arrival rate) to the M/M/1 of the total load
    e = expected()
    total = (LAM1 * e["sojourn1"] + LAM2 * e["sojourn2"]) / (LAM1 + LAM2)
    assert total == pytest.approx(1.0 / (MU - LAM1 - LAM2))
