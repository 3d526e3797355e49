"""Capacity, energy and cost numbers of a run with a supply section: pure functions of the
run's tables (timeseries, events) and of prices and powers taken from the scenario.

Windows: utilisation by type is over [warmup, horizon] like ``gpu_utilisation``; capacity,
energy and money are over the whole run [0, horizon] (what was owned, drawn and paid).

- ``capacity.in_service_gpu_hours``: integral of ``in_service_gpus`` (up, down for repair or
  draining; rented included).
- ``capacity.delivered_gpus``: GPUs in ``delivery`` events; ``delivered_late_gpus``: those of
  batches delivered after their planned date, ``order.at + median(lead_time) + k * batch_every``
  for batch ``k`` (the ``late_s`` column > 0).
- ``capacity.orders_refused`` / ``orders_substituted``: count of those events.
- ``energy_kwh``: for each owned pool, busy GPUs x busy power + (up - busy) GPUs x idle power
  + GPUs in burn-in x the burn-in power (busy, idle or off), integrated over time, x PUE.
  GPUs down for repair draw nothing. Rented pools are left out (their price includes power).
- ``energy_cost``: ``energy_kwh`` x price per kWh.
- ``capex``: unit cost x GPUs, for the fleet at time zero (``initial``) and for GPUs delivered
  by the horizon (``delivered``, paid on delivery, including nodes that failed acceptance);
  ``total`` is their sum, ``by_type`` splits it.
- ``rental_cost``: GPUs x hours of each rental window clipped to [0, horizon] x its price.
"""

from __future__ import annotations

import numpy as np

from clustersim.results.summary import clean, step_integral

HOUR = 3600.0
KWH = 3.6e6  # joules (watt-seconds) per kWh


def _column(ts, name: str, pool: str, single: bool) -> np.ndarray:
    """A pool's column (``name.pool``), or the whole-cluster column when there is one pool."""
    key = name if single else f"{name}.{pool}"
    return ts[key].to_numpy(float)


def summarize_supply(jobs, timeseries, events, inputs: dict, *, horizon: float, warmup: float) -> dict:
    t = timeseries["t_s"].to_numpy(float)
    pools = inputs["pools"]
    single = len(pools) == 1
    kind = events["kind"].to_numpy(object) if len(events) else np.array([], dtype=object)
    gpus = events["gpus"].to_numpy(float) if len(events) else np.array([])
    delivered = kind == "delivery"
    late = delivered & (events["late_s"].to_numpy(float) > 0) if len(events) else delivered

    def integral(values: np.ndarray, start: float = 0.0) -> float:
        return step_integral(t, values, start, horizon)

    utilisation: dict[str, float | None] = {}
    energy_ws = 0.0
    burn_w = {"busy": "power_busy_w", "idle": "power_idle_w"}.get(inputs["burn_in_power"])
    for pool in pools:
        name = pool["name"]
        busy = _column(timeseries, "busy_gpus", name, single)
        up = _column(timeseries, "up_gpus", name, single)
        up_w = integral(up, warmup)
        utilisation[name] = integral(busy, warmup) / up_w if up_w > 0 else None
        if pool["rental"]:
            continue
        busy_s, up_s = integral(busy), integral(up)
        energy_ws += busy_s * pool["power_busy_w"] + (up_s - busy_s) * pool["power_idle_w"]
        if burn_w is not None:
            energy_ws += integral(_column(timeseries, "burn_in_gpus", name, single)) * pool[burn_w]
    energy_kwh = energy_ws * inputs["pue"] / KWH

    cost = {p["gpu_type"]: p["unit_cost"] for p in pools}
    by_type: dict[str, float] = {}
    initial = 0.0
    for gpu_type, n in inputs["initial"].items():
        initial += n * cost[gpu_type]
        by_type[gpu_type] = by_type.get(gpu_type, 0.0) + n * cost[gpu_type]
    bought = 0.0
    if len(events):
        types = events["gpu_type"].to_numpy(object)
        for gpu_type, n in zip(types[delivered].tolist(), gpus[delivered].tolist(), strict=True):
            bought += n * cost[gpu_type]
            by_type[gpu_type] = by_type.get(gpu_type, 0.0) + n * cost[gpu_type]
    rental = float(sum(
        r["gpus"] * max(0.0, min(r["to_s"], horizon) - max(r["from_s"], 0.0)) / HOUR * r["price_per_gpu_hour"]
        for r in inputs["rentals"]
    ))
    return clean(
        {
            "capacity": {
                "in_service_gpu_hours": integral(timeseries["in_service_gpus"].to_numpy(float)) / HOUR,
                "delivered_gpus": int(gpus[delivered].sum()),
                "delivered_late_gpus": int(gpus[late].sum()),
                "orders_refused": int(np.sum(kind == "order_refused")),
                "orders_substituted": int(np.sum(kind == "order_substituted")),
            },
            "energy_kwh": energy_kwh,
            "energy_kwh_per_day": energy_kwh / (horizon / 86400.0),
            "energy_cost": energy_kwh * inputs["price_per_kwh"],
            "capex": {"total": initial + bought, "initial": initial, "delivered": bought, "by_type": by_type},
            "rental_cost": rental,
            "utilisation_by_type": utilisation,
        }
    )
