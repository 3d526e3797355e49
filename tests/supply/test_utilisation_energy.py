"""Utilisation follows in-service capacity; energy is the integral of power by state; capital
and rental cost. Hand-made runs with whole-second times, so every value is exact to rounding."""

from __future__ import annotations

import json

import pytest
from reference.summary_reference import area, assert_close, core_summary


def test_utilisation_denominator_follows_capacity_that_doubles_mid_run(sup):
    # 1 node of A at time 0, a second node in service at 1,000 s; horizon 2,000 s.
    # Job a holds 8 GPUs all run; job b takes 8 more from 1,500 s.
    supply = {"orders": [{"at": 0, "nodes": 1, "lead_time": 1000, "burn_in": 0}]}
    specs = [sup.spec("a", 0, 8, 10_000), sup.spec("b", 1500, 8, 10_000)]
    r, _ = sup.run(sup.scenario(nodes=1, horizon=2000, supply=supply), specs)
    busy = 8 * 2000 + 8 * 500
    up = 8 * 1000 + 16 * 1000
    assert r.summary["gpu_utilisation"] == busy / up  # 5/6, exactly
    assert r.summary["utilisation_by_type"] == {"A": busy / up}
    # from a warm-up of 500 s: busy 8 x 1,500 + 8 x 500, up 8 x 500 + 16 x 1,000
    r, _ = sup.run(sup.scenario(nodes=1, horizon=2000, warmup=500, supply=supply), specs)
    assert r.summary["gpu_utilisation"] == (8 * 1500 + 8 * 500) / (8 * 500 + 16 * 1000)  # 0.8
    # offered load uses the same denominator
    assert r.summary["offered_load"] == pytest.approx(8 * 10_000 / (8 * 500 + 16 * 1000), rel=1e-15)


def energy_run(sup, burn_in_power="busy"):
    # A: 1 node at time 0 (idle 100 W, busy 400 W per GPU); B: 1 node ordered at 0, delivered
    # at 1,000 s, burned in until 1,500 s (idle 200 W, busy 1,000 W, speed 2). PUE 1.5.
    supply = {
        "orders": [{"at": 0, "nodes": 1, "gpu_type": "B", "lead_time": 1000, "burn_in": 500}],
        "energy": {"pue": 1.5, "price_per_kwh": 0.1, "burn_in_power": burn_in_power},
    }
    specs = [
        sup.spec("a", 0, 4, 2000, gpu_type="A"),  # A: 4 GPUs busy over [0, 2,000)
        sup.spec("b", 0, 8, 2000, gpu_type="B"),  # waits for B; runs [1,500, 2,500) at speed 2
    ]
    return sup.run(sup.scenario(nodes=1, horizon=4000, supply=supply), specs)


@pytest.mark.parametrize(("burn_in_power", "burn_w"), [("busy", 1000), ("idle", 200), ("off", 0)])
def test_energy_is_the_integral_of_power_by_state(sup, burn_in_power, burn_w):
    r, _ = energy_run(sup, burn_in_power)
    jobs = r.jobs.set_index("job_id")
    assert (jobs.loc["b", "start_s"], jobs.loc["b", "end_s"]) == (1500, 2500)
    a_ws = 4 * 400 * 2000 + 4 * 100 * 2000 + 8 * 100 * 2000  # busy, idle beside it, idle after
    b_ws = 8 * burn_w * 500 + 8 * 1000 * 1000 + 8 * 200 * 1500  # burn-in, busy, idle after
    kwh = (a_ws + b_ws) * 1.5 / 3.6e6
    assert r.summary["energy_kwh"] == pytest.approx(kwh, rel=1e-12)
    assert r.summary["energy_cost"] == pytest.approx(kwh * 0.1, rel=1e-12)
    assert r.summary["energy_kwh_per_day"] == pytest.approx(kwh / (4000 / 86400), rel=1e-12)


def test_capex_utilisation_by_type_and_recomputation_from_files(sup, tmp_path):
    from clustersim.results import rundir as output

    r, _ = energy_run(sup)
    s = r.summary
    assert s["capex"] == {"total": 8 * 1000 + 8 * 3000, "initial": 8 * 1000, "delivered": 8 * 3000,
                          "by_type": {"A": 8000.0, "B": 24000.0}}
    assert s["utilisation_by_type"] == {"A": (4 * 2000) / (8 * 4000), "B": (8 * 1000) / (8 * 2500)}
    assert s["capacity"]["delivered_gpus"] == 8 and s["rental_cost"] == 0
    # every number is a pure function of the files of the run directory (+ the scenario)
    output.begin_run(tmp_path, r.scenario, 0)
    output.write_run(tmp_path, r)
    import pandas as pd

    jobs, ts, ev = (pd.read_parquet(tmp_path / f"{n}.parquet") for n in ("jobs", "timeseries", "events"))
    written = json.loads((tmp_path / "summary.json").read_text())
    sc = r.scenario
    # recomputed with pandas from the files and the scenario's prices and powers (README:
    # energy = busy x busy power + idle x idle power + burn-in x the burn-in power, x PUE;
    # capex = unit cost x GPUs at time zero and delivered), not by the functions that wrote it
    h, w = sc.horizon, sc.warmup
    again = core_summary(jobs, ts, horizon=h, warmup=w)
    types = sc.supply.gpu_types
    joules = sum(
        area(ts, f"busy_gpus.{t}", 0, h) * types[t].power_busy_w
        + (area(ts, f"up_gpus.{t}", 0, h) - area(ts, f"busy_gpus.{t}", 0, h)) * types[t].power_idle_w
        + area(ts, f"burn_in_gpus.{t}", 0, h) * types[t].power_busy_w  # burn-in at busy power (the default)
        for t in ("A", "B")
    )
    kwh = joules * sc.supply.energy.pue / 3.6e6
    delivered = ev[ev["kind"] == "delivery"]
    bought = {t: float((delivered["gpus"] * types[t].unit_cost)[delivered["gpu_type"] == t].sum()) for t in ("A", "B")}
    initial = sc.cluster.nodes * sc.cluster.gpus_per_node * types["A"].unit_cost
    again.update({
        "capacity": {"in_service_gpu_hours": area(ts, "in_service_gpus", 0, h) / 3600,
                     "delivered_gpus": int(delivered["gpus"].sum()),
                     "delivered_late_gpus": int(delivered.loc[delivered["late_s"] > 0, "gpus"].sum()),
                     "orders_refused": int((ev["kind"] == "order_refused").sum()),
                     "orders_substituted": int((ev["kind"] == "order_substituted").sum())},
        "energy_kwh": kwh,
        "energy_kwh_per_day": kwh / (h / 86400),
        "energy_cost": kwh * sc.supply.energy.price_per_kwh,
        "capex": {"total": initial + sum(bought.values()), "initial": initial, "delivered": sum(bought.values()),
                  "by_type": {"A": initial + bought["A"], "B": bought["B"]}},
        "rental_cost": 0.0,
        "utilisation_by_type": {t: area(ts, f"busy_gpus.{t}", w, h) / area(ts, f"up_gpus.{t}", w, h) for t in ("A", "B")},
    })
    assert (written["scenario"], written["seed"], written["horizon_s"], written["warmup_s"]) == (sc.name, 0, h, w)
    assert_close({k: v for k, v in written.items() if k not in ("scenario", "seed", "horizon_s", "warmup_s")}, again)


def test_f15_order_of_magnitude_with_default_powers():
    """Seed F15: a ChatGPT-class service (~30,000 A100, F11) draws ~500,000 kWh a day. The default
    A100 powers at 80% busy and the default PUE give the same order (within 10%)."""
    from clustersim.config import SupplyConfig

    cfg = SupplyConfig()
    a100 = cfg.gpu_types["A100"]
    watts = 0.8 * a100.power_busy_w + 0.2 * a100.power_idle_w
    kwh_per_day = 30_000 * watts * cfg.energy.pue * 24 / 1000
    assert abs(kwh_per_day - 500_000) / 500_000 < 0.1


def test_rental_cost_is_clipped_to_the_horizon(sup):
    sc = sup.scenario(horizon=7200, supply={"rental": [
        {"gpus": 8, "from": 0, "price_per_gpu_hour": 2.0},  # to the horizon: 2 h
        {"gpus": 16, "from": 3600, "to": 36000, "price_per_gpu_hour": 1.0},  # clipped: 1 h
    ]})
    r, _ = sup.run(sc)
    assert r.summary["rental_cost"] == pytest.approx(8 * 2 * 2.0 + 16 * 1 * 1.0)
    assert r.summary["energy_kwh"] == pytest.approx(16 * 100 * 7200 * 1.3 / 3.6e6)  # rented: no energy
