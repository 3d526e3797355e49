"""The Cluster with several pools (GPU types), directly: per-pool indexes, placement across
pools, gang jobs on one pool, draining retirement, spares, and shadow times per pool."""

from __future__ import annotations

import pytest

from clustersim.engine.availability import shadow
from clustersim.engine.cluster import Cluster
from clustersim.engine.placement import Pack, Spread
from clustersim.model import Job, JobSpec

_seq = iter(range(10**9))


def job(gpus: int, end: float = float("inf"), pools=(0,)) -> Job:
    j = Job(JobSpec(None, 0.0, gpus, 1.0), next(_seq))
    j.expected_end_s = end
    j.pools = tuple(pools)
    return j


def two_pools() -> Cluster:
    c = Cluster(2, 8, "A", 1.0)  # nodes 0, 1: A, 8 GPUs
    b = c.add_pool("B", 4, 2.0)  # nodes 2-4: B, 4 GPUs each
    c.add_nodes(3, b.index)
    c.check()
    return c


def put(c: Cluster, j: Job, nodes) -> Job:
    c.allocate(j, nodes)
    c.check()
    return j


def placement(kind="pack"):
    p = Pack() if kind == "pack" else Spread()
    p.bind(8)
    return p


def test_pools_have_their_own_index_and_levels():
    c = two_pools()
    assert c.typed and [p.name for p in c.pools] == ["A", "B"]
    assert c.pool_of == [0, 0, 1, 1, 1]
    assert (c.up_gpus, c.pools[0].up_gpus, c.pools[1].up_gpus) == (28, 16, 12)
    j = put(c, job(2), (3,))
    assert j.pool == 1 and c.pools[1].busy_gpus == 2 and c.pools[0].busy_gpus == 0 and c.busy_gpus == 2
    assert 3 in c.pools[1].buckets[2] and 3 not in c.buckets[2]  # cluster.buckets is pool 0's
    c.release(j)
    c.check()
    assert c.pools[1].busy_gpus == 0


def test_find_job_tries_the_jobs_pools_in_order():
    c = two_pools()
    pack = placement()
    assert c.find_job(job(4, pools=(1, 0)), pack) == (2,)
    assert c.find_job(job(4, pools=(0, 1)), pack) == (0,)
    # gang: 8 GPUs = one A node, or two B nodes
    assert c.find_job(job(8, pools=(1,)), pack) == (2, 3)
    assert c.find_job(job(16, pools=(1,)), pack) is None  # B has 12 GPUs
    assert c.find_job(job(16, pools=(1, 0)), pack) == (0, 1)
    assert c.find_job(job(4, pools=(1,)), pack, exclude={2, 3}) == (4,)
    # pack order is per node size: the fullest B node that still holds 3 GPUs
    put(c, job(1), (4,))
    assert c.find_job(job(3, pools=(1,)), pack) == (4,)
    assert c.find_job(job(3, pools=(1,)), placement("spread")) == (2,)
    assert tuple(pack.order(3, 4)) == (3, 4) and tuple(pack.order(5, 4)) == ()


def test_a_gang_job_cannot_mix_pools():
    c = two_pools()
    with pytest.raises(RuntimeError, match="pool"):
        c.allocate(job(8, pools=(0, 1)), (1, 2))


def test_retire_drains_a_busy_node_and_removes_an_idle_one():
    c = two_pools()
    left = []
    c.on_retired = left.append
    a = put(c, job(4, end=10), (0,))
    assert c.retire(1) is True and left == [1]  # idle: out at once
    assert c.retire(0) is False and 0 in c.draining  # busy: drains
    c.check()
    assert c.find(4, placement().order(4)) is None  # a draining node takes no new job
    assert (c.up_gpus, c.retired_nodes) == (8 + 12, 1)
    c.release(a)
    c.check()
    assert left == [1, 0] and c.retired[0] and not c.draining
    assert (c.up_gpus, c.busy_gpus, c.retired_nodes, c.down_nodes) == (12, 0, 2, 0)
    assert list(c.pools[0].nodes) == []
    c.bring_up(0)  # a retired node never comes back
    assert not c.up[0]


def test_a_draining_node_that_fails_is_gone_and_a_down_node_retires_at_once():
    c = two_pools()
    left = []
    c.on_retired = left.append
    a = put(c, job(8, end=10, pools=(1,)), (2, 3))
    c.retire(2)
    victims = c.take_down(2)
    assert victims == [a] and left == [2] and c.retired[2]
    c.release(a)
    c.take_down(4)
    assert c.retire(4) is True and left == [2, 4]
    c.bring_up(4)
    assert not c.up[4]
    c.check()


def test_spares_belong_to_pool_zero():
    c = two_pools()
    c.hold_spares(1)
    assert list(c.spares_free) == [1]
    assert c.take_spares(1, pool=1) is None
    assert c.take_spares(1, pool=0) == [1]
    c.check()


def test_shadow_per_pool():
    c = two_pools()
    put(c, job(8, end=50), (0,))
    put(c, job(8, end=80), (1,))
    put(c, job(4, end=30, pools=(1,)), (2,))
    put(c, job(8, end=60, pools=(1,)), (3, 4))
    def got(gpus, pool):
        s = shadow(c, gpus, 0, pool)
        return (s.t, s.nodes)

    assert got(8, 0) == (50, {0})
    assert got(4, 1) == (30, {2})
    assert got(12, 1) == (60, {2, 3, 4})
    assert got(16, 0) == (80, {0, 1})
    c.retire(3)  # draining: never counts
    assert shadow(c, 12, 0, 1).t == float("inf")
