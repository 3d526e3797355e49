"""``Cluster.ends``: the running jobs by expected end are built on first use, not kept from the
start. A heap built late must hold exactly the live entries of one kept all along (starts,
ends, re-timings by fail-slow nodes, hangs by failures), so the policies that plan with it
decide the same either way."""

from __future__ import annotations

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.rng import Streams


def scenario(policy: str):
    return scenario_from_dict({
        "name": "ends",
        "horizon": "6d",
        "cluster": {"nodes": 24, "gpus_per_node": 8},
        "scheduler": {"policy": policy},
        "failures": {  # frequent hangs (node and job failures) and slow episodes (re-timings)
            "rate_per_1000_node_days": 400,
            "job_rate_per_1000_node_days": 200,
            "slow": {"rate_per_1000_node_days": 300, "factor": 0.5},
        },
        "workload": {"classes": [{
            "name": "mix", "arrival_rate_per_h": 14, "gpus": {1: 0.5, 4: 0.2, 8: 0.2, 32: 0.1},
            "duration": {"kind": "lognormal", "median": 1800, "p90": 14400},
        }]},
    })


def live(cluster, pool: int = 0) -> list[tuple[float, int, int]]:
    """The live entries of a pool's end heap, in the order a planner pops them."""
    return sorted(
        (end, seq, token) for end, seq, token, job in cluster.pools[pool].end_heap
        if job.token == token and job.nodes and end == job.expected_end_s
    )


def test_a_heap_built_late_holds_what_one_kept_all_along_holds():
    kept = Engine(scenario("fifo"), Streams(3))
    kept.cluster.ends(0)  # kept from the first instant
    late = Engine(scenario("fifo"), Streams(3))
    assert not late.cluster.track_ends
    builds = hung_builds = compared = 0
    t = 0.0
    while t < 6 * 86_400.0:
        t += 600.0
        kept.env.run(until=t)
        late.env.run(until=t)
        hung = sum(1 for j in kept.running if j.hung_since is not None)
        if (hung and hung_builds < 3) or (t % 86_400.0 == 0 and builds < 6):
            fresh = Engine(scenario("fifo"), Streams(3))  # the same run, its heap built only now
            fresh.env.run(until=t)
            fresh.cluster.ends(0)
            assert live(fresh.cluster) == live(kept.cluster)
            builds += 1
            hung_builds += bool(hung)
        if t == 2 * 86_400.0:
            late.cluster.ends(0)  # built now, then kept as jobs start, end, hang, are re-timed
        if late.cluster.track_ends:
            assert live(late.cluster) == live(kept.cluster)
            compared += len(live(kept.cluster))
    assert hung_builds == 3 and compared > 1000
    a, b = kept.result(), late.result()
    assert a.jobs.equals(b.jobs) and a.timeseries.equals(b.timeseries)
    assert a.summary["job_interruptions"] > 5
    assert (a.jobs["slow_s"] > 0).sum() > 5  # jobs re-timed by slow nodes


def test_backfilling_plans_the_same_from_a_heap_built_at_its_first_pass():
    # EASY asks for the heap at its first pass; forcing it from the start changes nothing
    lazy = Engine(scenario("backfill"), Streams(5))
    eager = Engine(scenario("backfill"), Streams(5))
    eager.cluster.ends(0)
    lazy.run()
    eager.run()
    assert lazy.result().jobs.equals(eager.result().jobs)
