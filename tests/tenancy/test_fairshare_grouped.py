"""Fairshare's grouped queue orders jobs exactly as re-sorting the whole queue at every
recalculation does (the flat queue, kept as the reference): same starts, same outputs.

The scenarios are overloaded (the queue grows), so every recalculation changes the teams'
order, and each exercises one way jobs enter, leave or move between groups: the age factor
reaching 1 (a short ``max_age``), failures and reclaims requeueing jobs, priority classes
preempting, a size weight, suspended jobs, and submit times that go backwards (where the
policy gives up grouping and re-sorts)."""

from __future__ import annotations

import pytest
from tenancy_helpers import scenario, spec

from clustersim.engine.core import Engine
from clustersim.engine.grouped_queue import GroupedQueue
from clustersim.engine.policies.fairshare import Fairshare
from clustersim.engine.queue import JobQueue
from clustersim.rng import Streams

DAY = 86400.0


def classes(rate=4.5):
    mix = {"gpus": {1: 0.4, 2: 0.2, 4: 0.2, 8: 0.15, 16: 0.05},
           "duration": {"kind": "lognormal", "median": "40m", "p90": "5h"}}
    return [{"name": n, "arrival_rate_per_h": rate, **mix} for n in ("a", "b", "c", "d")]


def teams(quota=0, **extra):  # class d is team A's too: priority classes cut across teams
    return {"teams": [{"name": "A", "quota": quota, "weight": 1, "classes": ["a", "d"]},
                      {"name": "B", "quota": quota, "weight": 2, "classes": ["b"]},
                      {"name": "C", "quota": quota, "weight": 4, "classes": ["c"]}], **extra}


CASES = {
    "age cap, failures": dict(
        policy={"kind": "fairshare", "max_age": "3h", "recalc": 600, "half_life": "6h"},
        tenancy=teams(), failures={"rate_per_1000_node_days": 300}),
    "quotas, reclaim, size weight": dict(
        policy={"kind": "fairshare", "max_age": "8h", "favor_small": True,
                "weights": {"age": 1000, "fairshare": 10000, "size": 3000}},
        tenancy=teams(quota=8, reclaim={"grace": 600})),
    "priorities, strict order": dict(
        policy={"kind": "fairshare", "max_age": "2h", "backfill": False, "weights": {"size": 500}},
        tenancy={**teams(), "priority": {"classes": {"c": 5, "d": 5}}},
        preemptible=True),
    "priorities, suspend": dict(
        policy={"kind": "fairshare", "max_age": "4h", "recalc": 120},
        tenancy={**teams(), "priority": {"classes": {"b": 3, "d": 7}}, "preemption": "suspend"},
        preemptible=True),
}


def build(case: dict):
    kw = dict(case)
    cls = classes()
    if kw.pop("preemptible", False):
        cls = [{**c, "preemptible": True} for c in cls]
    return scenario(nodes=6, gpus_per_node=8, horizon=4 * DAY, classes=cls, **kw)


def run(sc, grouped: bool, monkeypatch, specs=None):
    with monkeypatch.context() as m:
        if not grouped:
            m.setattr(Fairshare, "make_queue", None)  # the engine falls back to a flat JobQueue
        engine = Engine(sc, Streams(7), specs)
        engine.run()
    assert isinstance(engine.queue, GroupedQueue if grouped else JobQueue)
    return engine


@pytest.mark.parametrize("name", list(CASES))
def test_grouped_queue_gives_the_outputs_of_a_full_resort(name, monkeypatch):
    sc = build(CASES[name])
    flat = run(sc, False, monkeypatch)
    grouped = run(sc, True, monkeypatch)
    a, b = flat.result(), grouped.result()
    assert a.jobs.equals(b.jobs)
    assert a.timeseries.equals(b.timeseries)
    assert a.summary == b.summary
    assert grouped.queue._policy.grouped
    queue = grouped.queue
    assert len(queue) > 50, "the run should end overloaded, with a long queue"
    assert [j.seq for j in queue.jobs] == [j.seq for j in flat.queue.jobs]
    if "age cap" in name:  # jobs reached the age cap and moved to their team's capped group
        assert any(g and g[2] and len(q) for g, q in queue._groups.items())
    if "failures" in name:
        assert a.summary["job_interruptions"] > 5


def test_submit_times_that_go_backwards_turn_grouping_off_and_keep_the_order(monkeypatch):
    sc = build({**CASES["age cap, failures"], "failures": None})
    # hand-made jobs: every third one claims to have been submitted an hour before the others
    specs = [spec(f"j{i}", 60.0 * i - (3600.0 if i % 3 == 0 and i else 0.0), 1 + (i % 4) * 2, 1800 + 97 * (i % 13),
                  "abcd"[i % 4]) for i in range(900)]
    flat = run(sc, False, monkeypatch, specs)
    grouped = run(sc, True, monkeypatch, specs)
    assert not grouped.queue._policy.grouped
    assert flat.result().jobs.equals(grouped.result().jobs)


def test_queue_reads_merge_only_what_is_asked(monkeypatch):
    sc = build(CASES["age cap, failures"])
    engine = run(sc, True, monkeypatch)
    q = engine.queue
    q.regroup()  # the front is dropped; reading the head merges a chunk, not the queue
    assert q.first() is not None and len(q._front) < len(q) // 2
    order = [j.seq for j in q.jobs]
    assert len(order) == len(q) and q.at(len(q)) is None
    for i in (0, 3, len(q) - 1):
        assert q.index(q.at(i)) == i
    job = q.pop(5)
    q.push(job)  # a member taken out and back keeps its place (as a recent job, with its key)
    assert [j.seq for j in q.jobs] == order
