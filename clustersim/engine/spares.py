"""Hot spares of pool 0: idle nodes held back from scheduling to replace failed nodes of
running gangs (``failures.spare_nodes``). The cluster (``engine.cluster``) owns the state
(``spare``, ``spares_free``, ``spare_target``); these are its two operations on it."""

from __future__ import annotations


def hold(cluster, count: int) -> None:
    """Hold ``count`` idle nodes of pool 0 back as hot spares (taken from the highest ids)."""
    cluster.spare_target = count
    g = cluster.gpus_per_node
    order = range(len(cluster.free) - 1, -1, -1)
    if cluster.topology is not None and cluster.topology.spread_spares:  # one per rack in turn
        order = cluster.topology.spread_order(order)
    for node in order:
        if len(cluster.spares_free) >= count:
            break
        up, idle = cluster.up[node] and cluster.pool_of[node] == 0, cluster.free[node] == g
        if up and idle and not cluster.spare[node] and node not in cluster.draining:
            del cluster.buckets[g][node]
            cluster.spare[node] = True
            cluster.spares_free[node] = None


def take(cluster, count: int, pool: int = 0, keep: tuple[int, ...] = ()) -> list[int] | None:
    """``count`` idle spares made ordinary free nodes for a job of ``pool`` that keeps ``keep``
    (pool 0's only; with a binding topology rule, only spares within it), or None."""
    if pool != 0 or count > len(cluster.spares_free):
        return None
    chosen = cluster.topology.pick_spares(keep, count, cluster.spares_free) if cluster.topology else None
    if chosen is False:
        return None
    taken = []
    for i in range(count):
        node = next(iter(cluster.spares_free)) if chosen is None else chosen[i]
        del cluster.spares_free[node]
        cluster.spare[node] = False
        cluster.buckets[cluster.gpus_per_node][node] = None
        taken.append(node)
    cluster.version += 1
    cluster.changes += 1
    return taken
