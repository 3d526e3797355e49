"""The cluster's cordon (maintenance drains) by hand: a cordoned node leaves the free index and
the domain index, keeps its jobs, stays cordoned through a failure and a repair, a cordoned
spare leaves the spare pool and returns to it, retirement overrides a cordon, and a retiring
node cannot be cordoned."""

from __future__ import annotations

from clustersim.config.topology import TopologyConfig
from clustersim.engine.cluster import Cluster
from clustersim.engine.cordon import cordon, uncordon
from clustersim.engine.domains import DomainIndex
from clustersim.model import Job, JobSpec


def job(gpus: int, seq: int) -> Job:
    j = Job(JobSpec(str(seq), 0.0, gpus, 1.0), seq)
    j.expected_end_s = 1.0
    return j


def test_cordon_takes_a_node_out_of_every_index_and_keeps_it_out_through_a_repair():
    c = Cluster(8, 8)
    index = DomainIndex(TopologyConfig.model_validate({"levels": [{"name": "rack", "nodes": 4}]}), 8)
    index.install(c)
    a = job(4, 0)
    c.allocate(a, (1,))
    assert cordon(c, 0) and cordon(c, 1) and not cordon(c, 1)
    assert index.count[0] == [2, 4] and 0 not in c.buckets[8] and 1 not in c.buckets[4]
    assert c.find(16, (8,)) == (2, 3) and c.find(8, (8,)) in ((2,), (3,))
    c.check()
    c.release(a)  # the node stays up and cordoned (a retiring node would leave now)
    assert c.up[1] and 1 in c.draining and not c.retired[1] and 1 not in c.buckets[8]
    c.check()
    assert c.take_down(1) == [] and 1 not in c.draining and 1 in c.cordoned
    c.bring_up(1)  # repaired while its drain lasts: up, still out of the free index
    assert c.up[1] and 1 in c.draining and index.count[0] == [2, 4]
    c.check()
    c.in_maintenance[0] = None
    c.take_down(0)
    c.bring_up(0)  # down for maintenance: a repair does not bring it back
    assert not c.up[0]
    del c.in_maintenance[0]
    uncordon(c, 0)
    c.bring_up(0)
    uncordon(c, 1)
    assert index.count[0] == [4, 4] and c.up[0] and not c.cordoned and not c.draining
    c.check()


def test_a_cordoned_spare_leaves_the_pool_and_retirement_overrides_a_cordon():
    c = Cluster(6, 8)
    c.hold_spares(2)
    assert list(c.spares_free) == [5, 4]
    assert cordon(c, 5)
    assert list(c.spares_free) == [4] and not c.spare[5] and 5 in c.draining
    c.check()
    assert c.take_spares(2) is None and c.take_spares(1) == [4]
    uncordon(c, 5)  # idle, and the pool is short: a spare again
    assert c.spare[5] and list(c.spares_free) == [5]
    c.check()
    b = job(8, 1)
    c.allocate(b, (2,))
    assert cordon(c, 2)
    assert not c.retire(2)  # retiring now: drains for good, leaves when b ends
    assert 2 not in c.cordoned and 2 in c.draining and not cordon(c, 2)
    c.release(b)
    assert c.retired[2] and not c.up[2]
    c.check()
