"""``services.parquet``: the rows the inference component keeps per service (``engine.inference``),
as a table with what they imply: served and unserved demand, replica GPUs, and with a latency
model its predicted latency (``engine.slo``).

One row per service and change (demand step, replica placed, ready, lost or released, replica
speed); each row holds until the service's next row. Served demand is at most the ready
replicas x ``rps_per_replica``; when replicas may be power-capped (``power.capping.inference``)
the table has ``replica_speed`` too, and served demand is at most ready replicas x
``rps_per_replica`` x that speed.
"""

from __future__ import annotations

from clustersim.engine.slo import latency_frame

SERVICE_COLUMNS = (
    "t_s", "service", "demand_rps", "ready_replicas", "starting_replicas", "waiting_replicas",
    "served_rps", "unserved_rps", "replica_gpus",
)


def service_table(services, capped: bool):
    """(``services.parquet``, per service with a latency model what its summary needs) from the
    services' rows (t, demand, ready, starting, waiting, speed); ``capped``: replicas may run
    power-capped (the table gains ``replica_speed``)."""
    import numpy as np
    import pandas as pd

    parts, latency = [], {}
    for svc in services:
        if not svc.rows:
            continue
        a = np.array(svc.rows, dtype=float)
        demand, ready, starting, waiting = a[:, 1], a[:, 2], a[:, 3], a[:, 4]
        speed = a[:, 5] if capped else None
        served = np.minimum(demand, ready * svc.rate if speed is None else ready * svc.rate * speed)
        extra = {} if speed is None else {"replica_speed": speed}
        if svc.latency is not None:
            cols, latency[svc.name] = latency_frame(svc, a, speed)
            extra.update(cols)
        parts.append(
            pd.DataFrame(
                {
                    "t_s": a[:, 0],
                    "service": svc.name,
                    "demand_rps": demand,
                    "ready_replicas": ready.astype(np.int64),
                    "starting_replicas": starting.astype(np.int64),
                    "waiting_replicas": waiting.astype(np.int64),
                    "served_rps": served,
                    "unserved_rps": np.maximum(demand - served, 0.0),
                    "replica_gpus": ((ready + starting) * svc.g).astype(np.int64),
                    **extra,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=SERVICE_COLUMNS), latency
    return pd.concat(parts, ignore_index=True), latency
