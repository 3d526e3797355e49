"""Consistency checks of the cluster's indexes (tests and debugging only: O(cluster)): free
GPUs against the jobs on each node, the bucket index, the busy and up counts per pool, and with
a topology the domain index's counts of whole free nodes per domain; cordoned nodes (maintenance)
out of every index while up, nodes down for maintenance not up."""

from __future__ import annotations


def check_cluster(cluster) -> None:
    """Assert every index of ``cluster`` agrees with the per-node state."""
    busy = 0
    pool_busy = [0] * len(cluster.pools)
    pool_up = [0] * len(cluster.pools)
    for node, f in enumerate(cluster.free):
        index = cluster.pool_of[node]
        pool = cluster.pools[index]
        g = pool.gpus_per_node
        used = sum(pool.per_node(j.spec.num_gpus) for j in cluster.jobs_on[node])
        assert all(j.pool == index for j in cluster.jobs_on[node]), node
        if cluster.up[node]:
            assert not cluster.retired[node], node
            assert f + used == g, (node, f, used)
            if cluster.spare[node]:
                assert node in cluster.spares_free and used == 0 and index == 0
            elif node in cluster.draining:  # retiring (has jobs) or cordoned for maintenance
                assert used > 0 or node in cluster.cordoned, node
                assert all(node not in b for b in pool.buckets), node
            else:
                assert node in pool.buckets[f]
            busy += used
            pool_busy[index] += used
            pool_up[index] += 1
        else:
            # a job hung by this node's failure stays on it until the failure is detected
            hung = all(j.hung_since is not None for j in cluster.jobs_on[node])
            assert f == 0 and hung, (node, f)
            assert node not in cluster.draining
        assert node not in cluster.in_maintenance or not cluster.up[node], node
        assert node not in cluster.cordoned or not cluster.up[node] or node in cluster.draining, node
    assert busy == cluster.busy_gpus, (busy, cluster.busy_gpus)
    assert sum(len(b) for p in cluster.pools for b in p.buckets) + len(cluster.spares_free) + len(cluster.draining) == cluster.up_nodes
    assert cluster.up_gpus == sum(p.up_gpus for p in cluster.pools)
    assert sum(cluster.retired) == cluster.retired_nodes
    for pool in cluster.pools:
        assert pool.busy_gpus == pool_busy[pool.index] and pool.up_nodes == pool_up[pool.index], pool.name
    index = cluster.topology
    if index is not None:
        whole = cluster.pools[0].buckets[cluster.pools[0].gpus_per_node]
        for level, n in enumerate(index.sizes):
            want = [0] * len(index.count[level])
            for node in whole:
                want[index.slot[node] // n] += 1
            assert want == index.count[level], (level, want, index.count[level])
            for c, domains in enumerate(index.by_count[level]):
                assert all(index.count[level][d] == c for d in domains), (level, c)
