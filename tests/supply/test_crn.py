"""Common random numbers: supply draws come from streams named per order, and delivered nodes
fail on streams named for their place in the order, so moving an order in time leaves the
arrivals and the failures of the fleet at time zero exactly as they were."""

from __future__ import annotations

import pandas as pd

from clustersim.engine.failures import Failures
from clustersim.engine.supply import Supply

WORKLOAD = ["job_id", "job_class", "submit_s", "num_gpus", "duration_s"]
FAILURE = ["t_s", "node_id", "cause", "repair_class", "down_s"]
DAY = 86400.0


def crn_run(sup, order_at: str, seed: int = 3):
    classes = [
        {"name": "small", "arrival_rate_per_h": 20, "gpus": {1: 0.6, 8: 0.4}, "duration": {"kind": "exponential", "mean": "30m"}},
        {"name": "gang", "arrival_rate_per_h": 0.5, "gpus": {16: 0.5, 32: 0.5}, "duration": "8h"},
    ]
    sc = sup.scenario(
        nodes=6, horizon="60d", classes=classes, policy="backfill",
        supply={
            "orders": [{"at": order_at, "nodes": 6, "gpu_type": "B", "lead_time": {"kind": "lognormal", "median": "5d", "p90": "9d"},
                        "batch_nodes": 2, "batch_every": "2d", "burn_in": {"kind": "lognormal", "median": "2d", "p90": "4d"}}],
            "acceptance": {"fail_fraction": 0.3},
        },
        # node failures only: job-level interruptions share the detection stream with node
        # failures and depend on the schedule, which the order date changes
        failures={"rate_per_1000_node_days": 60, "job_rate_per_1000_node_days": 0,
                  "early_life": {"multiplier": 3, "period": "30d"}},
    )
    return sup.run(sc, seed=seed)


def test_changing_only_the_order_date_leaves_arrivals_and_failures_unchanged(sup):
    (early, e1), (late, e2) = crn_run(sup, "2d"), crn_run(sup, "12d")
    # the schedule did change: capacity arrived ten days later
    assert not early.jobs["start_s"].equals(late.jobs["start_s"])
    # arrivals: identical
    pd.testing.assert_frame_equal(early.jobs[WORKLOAD], late.jobs[WORKLOAD])
    # failures of the fleet at time zero (nodes 0-5): identical, event for event
    def initial(result):
        ev = result.events
        return ev[(ev["kind"] == "failure") & (ev["node_id"] < 6)][FAILURE].reset_index(drop=True)

    a, b = initial(early), initial(late)
    assert len(a) > 10
    pd.testing.assert_frame_equal(a, b)
    # the order's own draws moved with it: same lead and burn-in, shifted by ten days
    p1, p2 = e1.part(Supply).orders[0], e2.part(Supply).orders[0]
    assert (p1.lead, p1.burn_in, p1.repair) == (p2.lead, p2.burn_in, p2.repair)

    def entries(result):
        ev = result.events
        return ev[ev["kind"] == "in_service"][["t_s", "gpus"]].reset_index(drop=True)

    x, y = entries(early), entries(late)
    assert len(x) == len(y) > 0
    assert ((y["t_s"] - x["t_s"] - 10 * DAY).abs() < 1e-6).all()  # up to rounding of the sums
    # each delivered node's first failure comes the same time after it entered service
    def first_failure(result, engine):
        ev = result.events
        fail = ev[(ev["kind"] == "failure") & (ev["node_id"] >= 6)].groupby("node_id")["t_s"].min()
        fp = engine.part(Failures)
        return {fp.node_key[n]: t - fp.service_start[n] for n, t in fail.items()}

    f1, f2 = first_failure(early, e1), first_failure(late, e2)
    common = set(f1) & set(f2)
    assert len(common) >= 3
    assert all(abs(f1[k] - f2[k]) < 1e-6 for k in common), {k: (f1[k], f2[k]) for k in common}


def test_delivered_node_failure_streams_are_named_by_order_place(sup):
    (r, engine) = crn_run(sup, "2d")
    fp = engine.part(Failures)
    names = set(engine.streams._cache)
    assert {f"failures.node.order0.{j}" for j in range(6)} <= names
    assert {"supply.order.0.lead", "supply.order.0.burn_in", "supply.order.0.accept", "supply.order.0.repair"} <= names
    assert all(f"failures.node.{i}" in names for i in range(6))
    assert "failures.node.6" not in names  # delivered nodes are not named by their id
    assert len(fp.node_token) == 12
