"""Cordons: nodes that take no new jobs because their maintenance is near (issue 13, part c).

A cordoned node that is up sits in the cluster's ``draining`` set, out of the free-capacity
index (so out of the topology's free-node index too, which is told through pool 0's bucket of
whole free nodes): placement, spares, EASY's shadow, replicas and a failed gang's restart all
pass it over, as they pass over a retiring node. Unlike a retiring node it stays in service
when its last job ends (the maintenance component takes it down), and it stays cordoned while
down, so a repair during its drain does not return it to the free index. Retirement overrides
a cordon. Neither function is on a hot path.
"""

from __future__ import annotations


def cordon(cluster, node: int) -> bool:
    """Stop ``node`` from taking new jobs. False if it is retired, retiring or cordoned already."""
    if node in cluster.cordoned or cluster.retired[node] or node in cluster.draining:
        return False
    cluster.cordoned[node] = None
    if cluster.up[node]:
        if cluster.spare[node]:  # an idle hot spare: no longer one
            cluster.spare[node] = False
            del cluster.spares_free[node]
        else:
            del cluster.pools[cluster.pool_of[node]].buckets[cluster.free[node]][node]
        cluster.draining[node] = None
    cluster.version += 1
    cluster.changes += 1
    return True


def uncordon(cluster, node: int) -> None:
    """Let ``node`` take jobs again (if it is up: back to the free index, or to the spare pool
    when that is short and the node idle)."""
    if node not in cluster.cordoned:
        return
    del cluster.cordoned[node]
    if cluster.up[node]:
        del cluster.draining[node]
        index = cluster.pool_of[node]
        pool = cluster.pools[index]
        if index == 0 and not cluster.jobs_on[node] and len(cluster.spares_free) < cluster.spare_target:
            cluster.spare[node] = True
            cluster.spares_free[node] = None
        else:
            pool.buckets[cluster.free[node]][node] = None
    cluster.version += 1
    cluster.changes += 1
