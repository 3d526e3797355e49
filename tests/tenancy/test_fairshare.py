"""The fairshare policy: Slurm's multifactor priority with the classic fair-share factor.

- Two teams with saturating demand and no quota (all borrowing, nothing reclaimed) converge to
  usage in the ratio of their weights, within 5%: 1:1 and 2:1.
- The factors on a hand example: F = 2^(-U/S), age and size as Slurm defines them.
"""

from __future__ import annotations

import pytest
from tenancy_helpers import run, scenario, silent, spec

DAY = 86400.0


def saturated(weights, *, policy=None, seed=0, days=12):
    classes = [
        {"name": "a", "arrival_rate_per_h": 12, "gpus": {1: 0.5, 2: 0.5}, "duration": {"kind": "exponential", "mean": "1h"}},
        {"name": "b", "arrival_rate_per_h": 12, "gpus": {1: 0.5, 2: 0.5}, "duration": {"kind": "exponential", "mean": "1h"}},
    ]
    sc = scenario(
        nodes=2, gpus_per_node=8, horizon=days * DAY, warmup=2 * DAY, classes=classes,
        policy=policy or {"kind": "fairshare", "half_life": "1d", "weights": {"age": 0}},
        tenancy={"teams": [{"name": "A", "quota": 0, "classes": ["a"], "weight": weights[0]},
                           {"name": "B", "quota": 0, "classes": ["b"], "weight": weights[1]}]},
    )
    return run(sc, seed=seed, check=False).summary["tenancy"]["teams"]


@pytest.mark.parametrize("weights", [(1, 1), (2, 1), (1, 3)])
def test_saturating_teams_converge_to_their_weights(weights):
    teams = saturated(weights)
    ratio = teams["A"]["gpu_hours"] / teams["B"]["gpu_hours"]
    want = weights[0] / weights[1]
    assert ratio == pytest.approx(want, rel=0.05), (ratio, want)
    # the cluster is saturated: both teams always have jobs waiting
    assert teams["A"]["gpu_hours"] + teams["B"]["gpu_hours"] > 0.97 * 16 * 10 * 24


def test_without_fair_share_the_shares_follow_arrivals_not_weights():
    # the same demand under EASY: usage follows whoever's jobs come first, not the 2:1 weights
    teams = saturated((2, 1), policy="backfill")
    ratio = teams["A"]["gpu_hours"] / teams["B"]["gpu_hours"]
    assert ratio == pytest.approx(1.0, rel=0.1)


def test_factors_on_a_hand_example():
    # 1 node of 4 GPUs; A has used 4 GPUs for 100 s, B nothing; at the next recalculation B's
    # job outranks A's although A's was queued first
    sc = scenario(
        nodes=1, gpus_per_node=4, classes=[silent("a"), silent("b")],
        policy={"kind": "fairshare", "recalc": 50, "half_life": "1d", "backfill": False,
                "weights": {"age": 0, "fairshare": 1, "size": 0}},
        tenancy={"teams": [{"name": "A", "quota": 0, "classes": ["a"]},
                           {"name": "B", "quota": 0, "classes": ["b"], "weight": 3}]},
    )
    jobs = [spec("a0", 0, 4, 100, "a"), spec("a1", 10, 4, 100, "a"), spec("b0", 20, 4, 100, "b")]
    r = run(sc, jobs)
    start = dict(zip(r.jobs["job_id"], r.jobs["start_s"], strict=True))
    assert start == {"a0": 0, "b0": 100, "a1": 200}


def test_priority_factor_values():
    from clustersim.config.scheduler import FairshareConfig
    from clustersim.engine.policies.fairshare import Fairshare
    from clustersim.model import Job

    cfg = FairshareConfig(kind="fairshare", max_age=1000, weights={"age": 10, "fairshare": 100, "size": 1000})
    p = Fairshare(cfg)

    class T:  # a stand-in for the tenancy component
        names = ["A", "B"]
        weights = [1.0, 3.0]
        cluster = type("C", (), {"up_gpus": 64})()
        gpu_s = [300.0, 100.0]

        def usage(self):
            return list(self.gpu_s)

    p.bind(T())
    assert p.refresh(type("Q", (), {"jobs": [], "remove_indices": lambda self, i: None})(), 0.0)
    # U = (0.75, 0.25), S = (0.25, 0.75): F = 2^-3, 2^-(1/3)
    assert p.factors() == pytest.approx([2 ** -3, 2 ** (-1 / 3)])
    job = Job(spec("x", 0, 16, 10, "a"), 0)
    job.team = 1
    assert p.priority(job, 500.0) == pytest.approx(10 * 0.5 + 100 * 2 ** (-1 / 3) + 1000 * 16 / 64)
    assert p.priority(job, 5000.0) == pytest.approx(10 * 1.0 + 100 * 2 ** (-1 / 3) + 1000 * 0.25)
