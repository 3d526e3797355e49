"""Conservative backfilling's free-capacity profile: its indexed levels (releases by bisection,
entire nodes by their last release, ``whole_free`` remembered until the reservations change,
reservation starts kept sorted) equal the plain sums over every release and reservation, at
every time that matters, on a profile taken from a busy cluster with reservations added and
pruned as a run does."""

from __future__ import annotations

import random
from bisect import bisect_right

import pytest

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.engine.policies.conservative import _Profile, _ranks
from clustersim.rng import Streams


def busy_engine(until: float = 86_400.0):
    sc = scenario_from_dict({
        "name": "profile", "horizon": "2d",
        "cluster": {"nodes": 12, "gpus_per_node": 8},
        "scheduler": {"policy": "conservative"},
        "workload": {"classes": [{
            "name": "mix", "arrival_rate_per_h": 30, "gpus": {1: 0.4, 2: 0.2, 4: 0.2, 8: 0.1, 16: 0.1},
            "duration": {"kind": "lognormal", "median": "30m", "p90": "4h"}}]},
    })
    engine = Engine(sc, Streams(11))
    engine.env.run(until=until)
    return engine


def plain_free_at(prof, n, t):
    return (prof.free0[n] + sum(g for e, g in prof.rel[n] if e <= t)
            - sum(g for s, e, g in prof.sub.get(n, ()) if s <= t < e))


def plain_whole_free(prof, t):
    entire = bisect_right(prof.whole_from, t)
    busy = {n for s, e, n in prof.subs
            if s <= t < e and prof.free0[n] + sum(g for e2, g in prof.rel[n] if e2 <= t) == prof.per}
    return entire - len(busy) - sum(m for s, e, m in prof.wholes if s <= t < e)


def test_indexed_levels_equal_the_plain_sums():
    engine = busy_engine()
    now = engine.env.now
    prof = _Profile(engine.cluster, 0, now)
    assert sum(len(r) for r in prof.rel.values()) > 20  # a busy cluster: many releases
    rng = random.Random(5)
    checked = 0
    for step in range(60):
        if step % 3 == 0:  # a reservation: whole nodes or part of one, as the planner makes
            start = now + rng.choice([0.0, 600.0, 1800.0, 7200.0]) + rng.random() * 3600
            if rng.random() < 0.5:
                prof.reserve(8 * rng.randint(1, 3), start, 3600.0 * rng.random() + 60, ())
            else:  # on a node, often from the instant its last running job ends (it becomes entire)
                n = rng.choice([m for m in prof.nodes if prof.rel[m]] or prof.nodes)
                if prof.rel[n] and rng.random() < 0.7:
                    start = max(now, prof.rel[n][-1][0])
                prof.reserve(rng.choice([1, 2, 4]), start, 3600.0 * rng.random() + 60, (n,))
        if step % 10 == 9:
            now += 1800.0
            prof.prune(now)
        times = sorted({now, *prof.times, *prof.starts, *(e for _, e, _ in prof.subs + prof.wholes)})
        for t in times:
            if t < now:
                continue
            assert prof.whole_free(t) == plain_whole_free(prof, t), t
            for n in prof.nodes:
                assert prof.free_at(n, t) == plain_free_at(prof, n, t)
                checked += 1
            end = t + 5400.0
            assert sorted(prof._points(t, end)) == sorted(
                [t] + [s for s, e, _ in prof.subs + prof.wholes if t < s < end])
    assert checked > 10_000


def plain_earliest(prof, gpus, duration, now, order):
    """The search over every node at every candidate time (the definition ``earliest`` indexes)."""
    per = prof.per
    times = [now] + [t for t in prof.times if t > now]
    nodes = sorted(prof.nodes, key=order)
    for t in times:
        end = t + duration
        points = None
        for n in nodes:
            if plain_free_at(prof, n, t) < gpus:
                continue
            own = [t] + [s for s, e, _ in prof.sub.get(n, ()) if t < s < end]
            if any(plain_free_at(prof, n, x) < gpus for x in own):
                continue
            if points is None:
                points = [t] + [s for s, e, _ in prof.subs + prof.wholes if t < s < end] + [
                    e for e, _ in prof.rel[n] if t < e < end]
            if any(prof.free0[n] + sum(g for e2, g in prof.rel[n] if e2 <= x) == per
                   and plain_free_at(prof, n, x) == per and plain_whole_free(prof, x) < 1 for x in points):
                continue
            return t, (n,)
    return None


def plain_whole_earliest(prof, gpus, duration, now):
    """The whole-node search trying every candidate time at every point of its window."""
    need = gpus // prof.per
    for t in [now] + [t for t in prof.times if t > now]:
        points = [t] + [s for s, e, _ in prof.subs + prof.wholes if t < s < t + duration]
        if all(plain_whole_free(prof, x) >= need for x in points):
            return t, ()
    return None


@pytest.mark.parametrize("until", [1800.0, 3 * 3600.0, 86_400.0])  # from part-free nodes to a full cluster
def test_sub_node_search_finds_what_trying_every_node_finds(until):
    engine = busy_engine(until)
    now = engine.env.now
    prof = _Profile(engine.cluster, 0, now)
    rng = random.Random(9)
    free = engine.cluster.free
    found_later = later_wholes = 0
    for step in range(120):
        if step % 3 == 2:  # whole-node reservations too: sub-node jobs may not take their nodes
            size, length = 8 * rng.choice([1, 2, 4, 8]), rng.choice([1800.0, 7200.0, 6 * 3600.0])
            whole = prof.earliest(size, length, now)
            assert whole == plain_whole_earliest(prof, size, length, now)
            if whole is not None:
                later_wholes += whole[0] > now
                prof.reserve(size, whole[0], length, ())
            continue
        gpus = rng.choice([1, 2, 3, 4, 6, 7])
        duration = rng.choice([300.0, 3600.0, 4 * 3600.0])
        counts = rng.sample(range(9), rng.randint(1, 9))  # some placement order of free counts
        rank = {k: i for i, k in enumerate(counts)}
        order = lambda n, r=rank: (r.get(free[n], len(r)), n)  # noqa: E731
        got = prof.earliest(gpus, duration, now, _ranks(counts, 8), free)
        assert got == plain_earliest(prof, gpus, duration, now, order)
        if got is not None:
            found_later += got[0] > now
            prof.reserve(gpus, got[0], duration, got[1])  # the plan fills up as a window does
    assert found_later > 10  # most searches had to look past now
    assert later_wholes > (3 if until > 1800.0 else 0)


def test_pruning_changes_no_level_from_now_on():
    """A profile that forgets ended reservations (``prune``, lazily) gives the same levels, points
    and searches from ``now`` on as one that keeps every reservation."""
    engine = busy_engine()
    now = engine.env.now
    prof, kept = _Profile(engine.cluster, 0, now), _Profile(engine.cluster, 0, now)
    free = engine.cluster.free
    rng = random.Random(11)
    pruned = 0
    for step in range(150):
        start = now + rng.choice([0.0, 0.0, 600.0, 1800.0]) + rng.random() * 1800
        length = rng.choice([300.0, 900.0, 3600.0])
        if rng.random() < 0.4:
            args = (8 * rng.randint(1, 2), start, length, ())
        else:
            args = (rng.choice([1, 2, 4]), start, length, (rng.choice(prof.nodes),))
        prof.reserve(*args)
        kept.reserve(*args)
        if step % 5 == 4:
            now += 900.0
            before = len(prof.subs) + len(prof.wholes)
            prof.prune(now)
            pruned += before - len(prof.subs) - len(prof.wholes)
            for t in sorted({now, *kept.starts, *(e for _, e, _ in kept.subs + kept.wholes)}):
                if t < now:
                    continue
                assert prof.whole_free(t) == kept.whole_free(t)
                assert prof._points(t, t + 3600.0) == kept._points(t, t + 3600.0)
                for n in prof.nodes:
                    assert prof.free_at(n, t) == kept.free_at(n, t)
            ranks = _ranks([1, 2, 3, 4, 5, 6, 7, 8], 8)
            for gpus in (1, 4, 8, 16):
                assert prof.earliest(gpus, 1800.0, now, ranks, free) == kept.earliest(gpus, 1800.0, now, ranks, free)
    assert pruned > 50  # reservations were forgotten along the way
