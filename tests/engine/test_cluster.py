"""The Cluster (node/GPU state and its bucket index) and the JobQueue (order), directly."""

from __future__ import annotations

import pytest

from clustersim.engine.availability import shadow
from clustersim.engine.cluster import Cluster
from clustersim.engine.placement import Pack, Spread
from clustersim.engine.policies import Fifo, ShortestFirst
from clustersim.engine.queue import JobQueue
from clustersim.model import Job, JobSpec

_seq = iter(range(10**9))


def job(gpus: int, end: float = float("inf"), duration: float = 1.0) -> Job:
    j = Job(JobSpec(None, 0.0, gpus, duration), next(_seq))
    j.expected_end_s = end
    return j


def placement(kind: str, per: int = 8):
    p = Pack() if kind == "pack" else Spread()
    p.bind(per)
    return p


def put(cluster: Cluster, j: Job, nodes) -> Job:
    cluster.allocate(j, nodes)
    cluster.check()
    return j


def test_constructor_and_capacity():
    c = Cluster(3, 8)
    assert (c.node_count, c.up_gpus, c.busy_gpus, c.free_gpus) == (3, 24, 0, 24)
    c.check()
    with pytest.raises(ValueError):
        Cluster(0, 8)
    with pytest.raises(ValueError):
        Cluster(2, 0)


def test_shape_rules():
    c = Cluster(4, 8)
    assert [c.nodes_needed(g) for g in (1, 8, 16, 32)] == [1, 1, 2, 4]
    assert [c.per_node(g) for g in (1, 5, 8, 16, 32)] == [1, 5, 8, 8, 8]
    for ok in (1, 3, 7, 8, 16, 24, 32):
        assert c.shape_problem(ok) is None
    assert "at least 1 GPU" in c.shape_problem(0)
    assert "not a multiple of 8" in c.shape_problem(12)
    assert "more than the cluster's 32" in c.shape_problem(40)
    assert "more than the cluster's 16" in c.shape_problem(24, max_nodes=2)


def test_pack_chooses_the_fullest_node_that_fits_and_spread_the_emptiest():
    c = Cluster(3, 8)
    put(c, job(5), (1,))  # node 1: 3 free
    put(c, job(2), (2,))  # node 2: 6 free; node 0: 8 free
    pack, spread = placement("pack"), placement("spread")
    assert c.find(2, pack.order(2)) == (1,)
    assert c.find(2, spread.order(2)) == (0,)
    assert c.find(4, pack.order(4)) == (2,)
    assert c.find(4, spread.order(4)) == (0,)
    assert c.find(7, pack.order(7)) == (0,)
    assert c.find(3, pack.order(3), exclude={1}) == (2,)
    assert c.find(8, pack.order(8), exclude={0}) is None
    assert c.fits(8) and c.fits(6) and not c.fits(16)


def test_bucket_orders():
    assert tuple(placement("pack").order(3)) == (3, 4, 5, 6, 7, 8)
    assert tuple(placement("spread").order(3)) == (8, 7, 6, 5, 4, 3)
    assert tuple(placement("pack").order(9)) == ()  # multi-node jobs take whole nodes


def test_multi_node_jobs_take_whole_nodes():
    c = Cluster(4, 8)
    put(c, job(1), (0,))
    assert c.find(24, ()) == (1, 2, 3)
    assert c.find(32, ()) is None and not c.fits(32)
    assert c.find(16, (), exclude={1}) == (2, 3)
    assert c.find(16, (), exclude={1, 2}) is None
    j = put(c, job(16), (1, 3))
    assert c.busy_gpus == 17 and c.free == [7, 0, 8, 0]
    assert j.nodes == (1, 3)
    c.release(j)
    c.check()
    assert c.busy_gpus == 1 and j.nodes == ()


def test_allocate_refuses_overcommit_and_down_nodes():
    c = Cluster(2, 8)
    put(c, job(6), (0,))
    with pytest.raises(RuntimeError):
        c.allocate(job(4), (0,))
    c.check()  # a refused allocation leaves the state unchanged
    c.take_down(1)
    with pytest.raises(RuntimeError):
        c.allocate(job(1), (1,))
    c.check()


def test_refused_multi_node_allocation_leaves_no_trace():
    c = Cluster(2, 8)
    put(c, job(1), (1,))
    with pytest.raises(RuntimeError):
        c.allocate(job(16), (0, 1))  # node 0 is whole, node 1 is not
    c.check()
    assert c.free == [8, 7]


def test_allocate_release_take_down_bring_up_keep_indexes_consistent():
    c = Cluster(3, 8)
    a = put(c, job(4, end=10), (0,))
    b = put(c, job(16, end=20), (1, 2))
    d = put(c, job(4, end=5), (0,))
    assert (c.busy_gpus, c.free_gpus) == (24, 0)
    # node 1 fails: the 16-GPU job is a victim; its GPUs on node 1 leave with the node
    victims = c.take_down(1)
    assert victims == [b]
    assert (c.up_nodes, c.up_gpus, c.busy_gpus) == (2, 16, 16)
    assert c.take_down(1) == []  # already down: no-op
    c.release(b)  # the caller releases each victim: frees node 2 only
    c.check()
    assert c.free == [0, 0, 8] and c.busy_gpus == 8
    c.release(d)
    c.check()
    with pytest.raises(RuntimeError):
        bad = job(1)
        bad_node_jobs = c.jobs_on[1]
        bad_node_jobs[bad] = None
        try:
            c.bring_up(1)
        finally:
            del bad_node_jobs[bad]
    c.bring_up(1)
    c.check()
    c.bring_up(1)  # already up: no-op
    c.check()
    assert (c.up_gpus, c.busy_gpus, c.free) == (24, 4, [4, 8, 8])
    c.release(a)
    c.check()
    assert c.busy_gpus == 0 and c.free == [8, 8, 8]
    new = c.add_nodes(2)
    c.check()
    assert new == [3, 4] and c.up_gpus == 40


def test_version_counts_node_changes_only():
    c = Cluster(2, 8)
    v = c.version
    j = put(c, job(8), (0,))
    c.release(j)
    assert c.version == v
    c.take_down(0)
    c.bring_up(0)
    assert c.version == v + 2


def test_shadow():
    c = Cluster(2, 8)
    put(c, job(4, end=50), (0,))
    put(c, job(2, end=30), (0,))
    put(c, job(6, end=100), (1,))
    # an 8-GPU head: node 0 is whole at 50, no other whole node by then; a 4-GPU head: node 0 has 2 + 2
    # free at 30 (the 4-GPU job still runs), no extra; a 16-GPU head needs both nodes: 100
    def got(s):
        return (s.t, s.nodes, s.extra, s.whole)

    assert got(shadow(c, 8, 0)) == (50, {0}, 0, True)  # a whole node: counted as whole nodes
    assert got(shadow(c, 4, 0)) == (30, {0}, 0, False)
    assert got(shadow(c, 16, 0)) == (100, {0, 1}, 0, True)
    # a 1-GPU head fits now on node 0 (2 free; the fullest node in bucket order): 1 extra GPU
    assert got(shadow(c, 1, 0)) == (0, {0}, 1, False)


# ---------------------------------------------------------------------------------- JobQueue


def test_fifo_queue_keeps_arrival_order():
    q = JobQueue(Fifo().key)
    jobs = [job(g, duration=d) for g, d in [(8, 5), (1, 1), (4, 9), (2, 3)]]
    for j in jobs:
        q.push(j)
    assert q.jobs == jobs and len(q) == 4 and q.gpus == 15
    assert [q.index(j) for j in jobs] == [0, 1, 2, 3]
    assert q.pop(0) is jobs[0] and q.gpus == 7


def test_sjf_queue_orders_by_duration_then_arrival():
    q = JobQueue(ShortestFirst().key)
    a, b, c, d, e = (job(1, duration=x) for x in (50, 10, 30, 10, 0))
    for j in (a, b, c, d, e):
        q.push(j)
    assert q.jobs == [e, b, d, c, a]  # ties (b, d) keep arrival order
    q.remove_indices([3, 0])  # any order of indices
    assert q.jobs == [b, d, a] and q.gpus == 3
    assert q.index(d) == 1
    with pytest.raises(ValueError):
        q.index(c)
    q.push(c)
    assert q.jobs == [b, d, c, a]
    assert not JobQueue(Fifo().key)


def test_queue_taking_heads_matches_a_plain_sorted_list():
    """``popleft`` leaves taken jobs behind a head index and drops them in slices; every other
    operation must see exactly the queued jobs, as a plain sorted list would (random mixes of
    pushes, heads taken, pops, lookups and removals, across several compactions)."""
    import random

    from clustersim.engine import queue as queue_module

    for seed in range(30):
        rnd = random.Random(seed)
        q = JobQueue(ShortestFirst().key)
        model: list[Job] = []
        for _ in range(600):
            op = rnd.random()
            if op < 0.45 or not model:
                j = job(rnd.randint(1, 8), duration=rnd.choice([1.0, 2.0, 3.0, 5.0]))
                assert q.push(j) == sorted(model + [j], key=ShortestFirst().key).index(j)
                model = sorted(model + [j], key=ShortestFirst().key)
            elif op < 0.85:
                assert q.first() is model[0]
                assert q.popleft() is model.pop(0)
            elif op < 0.92:
                i = rnd.randrange(len(model))
                assert q.index(model[i]) == i
                assert q.pop(i) is model.pop(i)
            else:
                k = rnd.sample(range(len(model)), min(3, len(model)))
                q.remove_indices(k)
                model = [j for i, j in enumerate(model) if i not in k]
            assert len(q) == len(model) and bool(q) == bool(model)
            assert q.gpus == sum(j.spec.num_gpus for j in model)
            if rnd.random() < 0.1:
                assert q.jobs == model
        assert q.jobs == model
    # a long run of heads taken: slices dropped at COMPACT_AT, half, ... while arrivals go on
    q = JobQueue(Fifo().key)
    model = []
    for _step in range(3 * queue_module.COMPACT_AT):
        for _ in range(2):
            model.append(job(1))
            q.push(model[-1])
        assert q.popleft() is model.pop(0)
        assert q._head < max(queue_module.COMPACT_AT, len(q) + 1)  # the taken front is bounded
        assert len(q) == len(model) and q.first() is model[0]
    assert q.index(model[5]) == 5 and q.jobs == model
    q = JobQueue(Fifo().key)
    q.push(job(1))
    q.popleft()
    assert q.first() is None and not q and q.jobs == []
