"""The preemptive policies' victim lists, made faster per policy, must give exactly the ranks
and the order of the general ``Preemptive._victims`` (``rank`` per running job, then sorted)
at instants of overloaded runs: SRTF ranks inline (plain segments, and those with checkpoint
plans and speed changes by slow nodes); LAS keeps its running jobs ordered by rank as they
start, stop and are demoted (and skips hung ones)."""

from __future__ import annotations

import pytest
from policy_helpers import scenario

from clustersim.engine.core import Engine
from clustersim.engine.policies.preemptive import Preemptive
from clustersim.rng import Streams


@pytest.mark.parametrize("failures", [None, {"rate_per_1000_node_days": 300, "slow": {"rate_per_1000_node_days": 400, "factor": 0.5}}])
def test_inlined_ranks_equal_the_general_ones(failures):
    extra = {"failures": failures} if failures else {}
    sc = scenario(nodes=12, gpus_per_node=8, policy="srtf", horizon=3 * 86_400.0, classes=[{
        "name": "mix", "arrival_rate_per_h": 14, "gpus": {1: 0.5, 2: 0.2, 4: 0.1, 8: 0.1, 16: 0.1},
        "duration": {"kind": "lognormal", "median": "30m", "p90": "5h"}}], **extra)
    engine = Engine(sc, Streams(4))
    policy = engine.policy
    kinds = set()
    compared = 0
    for hour in range(1, 72, 3):
        engine.env.run(until=hour * 3600.0 + 17.5)  # between events: segments part-way done
        now = engine.env.now
        fast = policy._victims(now)
        general = Preemptive._victims(policy, now)
        assert fast == general
        compared += len(fast[0])
        kinds |= {(j.plan is None, j.pieces is None) for j in fast[1]}
    assert compared > 300
    if failures:  # plans, and speed changes, were among the ranked jobs
        assert (False, False) in kinds or (False, True) in kinds
    else:
        assert kinds == {(True, True)}


@pytest.mark.parametrize("preemption", ["requeue", "suspend"])
def test_kept_las_order_equals_ranking_every_job(preemption):
    sc = scenario(nodes=12, gpus_per_node=8, policy={"kind": "las", "preemption": preemption, "thresholds": ["2h"]},
                  horizon=3 * 86_400.0, failures={"rate_per_1000_node_days": 400}, classes=[{
                      "name": "mix", "arrival_rate_per_h": 14, "gpus": {1: 0.5, 2: 0.2, 4: 0.1, 8: 0.1, 16: 0.1},
                      "duration": {"kind": "lognormal", "median": "30m", "p90": "5h"}}])
    engine = Engine(sc, Streams(4))
    policy = engine.policy
    levels, hung, compared = set(), 0, 0
    t = 0.0
    while t < 3 * 86_400.0:
        t += 1234.5
        engine.env.run(until=t)
        now = engine.env.now
        kept = policy._victims(now)
        assert kept == Preemptive._victims(policy, now)
        assert len(policy._ranked) == sum(1 for j in engine.running if j.pool == 0)
        compared += len(kept[0])
        levels |= {r[1] for r in kept[0]}
        hung += sum(1 for j in engine.running if j.hung_since is not None)
    assert compared > 1000 and levels == {0, 1} and hung > 0
