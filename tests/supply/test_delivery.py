"""Orders, delivery batches, burn-in, acceptance, export controls, retirement and rental, checked
on the timeseries and events a run writes. Times are whole seconds, so sums are exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clustersim.engine.supply import Supply
from clustersim.results.columns import STAGE_COLUMNS

AT, LEAD, EVERY, BURN = 1000, 5000, 2000, 700


def stage_identity(ts, initial_gpus: int) -> None:
    """Owned GPUs are always in exactly one stage."""
    owned = ts["in_service_gpus"] - ts["rented_gpus"]
    total = ts["in_transit_gpus"] + ts["burn_in_gpus"] + owned + ts["retired_gpus"]
    assert (total == initial_gpus + ts["ordered_gpus"]).all()


def test_fixed_times_enter_service_exactly_at_order_lead_burn_in_and_spacing(sup):
    # 2 nodes of A at time 0; order 5 nodes of B at 1,000 s: batches of 2, 2, 1 nodes
    sc = sup.scenario(horizon=30_000, supply={"orders": [
        {"at": AT, "nodes": 5, "gpu_type": "B", "lead_time": LEAD, "batch_nodes": 2, "batch_every": EVERY, "burn_in": BURN}
    ]})
    r, engine = sup.run(sc)
    ts = r.timeseries
    entry = [AT + LEAD + k * EVERY + BURN for k in range(3)]  # 6,700, 8,700, 10,700
    expected_up = {0: 16, AT: 16, entry[0] - 1: 16, entry[0]: 32, entry[1] - 1: 32, entry[1]: 48, entry[2]: 56}
    for t, up in expected_up.items():
        assert sup.value_at(ts, "up_gpus", t) == up, t
        assert sup.value_at(ts, "in_service_gpus", t) == up, t
    # the per-type columns say which type arrived
    assert sup.value_at(ts, "up_gpus.B", entry[2]) == 40 and sup.value_at(ts, "up_gpus.A", entry[2]) == 16
    # the step function changes exactly at those instants (nothing else happens in this run)
    changes = ts["t_s"][ts["up_gpus"].diff().fillna(0) != 0].tolist()
    assert changes == entry
    # stages: ordered at 1,000; in transit until each delivery; burn-in until service
    deliveries = [AT + LEAD + k * EVERY for k in range(3)]
    assert sup.value_at(ts, "ordered_gpus", AT - 1) == 0
    assert sup.value_at(ts, "ordered_gpus", AT) == 40 and sup.value_at(ts, "in_transit_gpus", AT) == 40
    assert sup.value_at(ts, "in_transit_gpus", deliveries[0]) == 24
    assert sup.value_at(ts, "burn_in_gpus", deliveries[0]) == 16
    assert sup.value_at(ts, "burn_in_gpus", entry[0]) == 0
    assert sup.value_at(ts, "in_transit_gpus", deliveries[2]) == 0
    stage_identity(ts, 16)
    ev = r.events
    assert ev["t_s"].is_monotonic_increasing
    rows = ev[ev["kind"] != "acceptance"][["t_s", "kind", "gpus", "batch"]].itertuples(index=False)
    assert [tuple(x) for x in rows] == [
        (AT, "order", 40, -1),
        (deliveries[0], "delivery", 16, 0), (entry[0], "in_service", 16, 0),
        (deliveries[1], "delivery", 16, 1), (entry[1], "in_service", 16, 1),
        (deliveries[2], "delivery", 8, 2), (entry[2], "in_service", 8, 2),
    ]
    cap = r.summary["capacity"]
    assert cap["delivered_gpus"] == 40 and cap["delivered_late_gpus"] == 0  # fixed lead = its median
    assert cap["in_service_gpu_hours"] == pytest.approx(
        (16 * 30_000 + 16 * (30_000 - entry[0]) + 16 * (30_000 - entry[1]) + 8 * (30_000 - entry[2])) / 3600, rel=1e-12
    )
    engine.cluster.check()


def test_order_without_type_or_batches_is_one_batch_of_the_initial_type(sup):
    sc = sup.scenario(horizon=20_000, supply={"orders": [{"at": 0, "nodes": 3, "lead_time": 100, "burn_in": 50}]})
    r, engine = sup.run(sc)
    assert len(engine.cluster.pools) == 1 and engine.cluster.pools[0].name == "A"
    assert sup.value_at(r.timeseries, "up_gpus", 149) == 16 and sup.value_at(r.timeseries, "up_gpus", 150) == 40
    assert "up_gpus.A" not in r.timeseries  # one pool: no per-type columns
    assert r.summary["utilisation_by_type"] == {"A": 0.0}


def test_acceptance_failures_are_repaired_before_service(sup):
    sc = sup.scenario(horizon=20_000, supply={
        "orders": [{"at": 0, "nodes": 2, "lead_time": 100, "burn_in": 50}],
        "acceptance": {"fail_fraction": 1.0, "repair": [{"name": "swap", "share": 1.0, "time": 1000}]},
    })
    r, _ = sup.run(sc)
    ts = r.timeseries
    assert sup.value_at(ts, "up_gpus", 1149) == 16
    assert sup.value_at(ts, "burn_in_gpus", 1149) == 16  # repair counts as burn-in
    assert sup.value_at(ts, "up_gpus", 1150) == 32
    ev = r.events
    fails = ev[ev["kind"] == "acceptance_fail"]
    assert len(fails) == 2 and (fails["t_s"] == 150).all() and (fails["down_s"] == 1000).all()
    assert (fails["repair_class"] == "swap").all()
    assert ev[ev["kind"] == "acceptance"]["gpus"].tolist() == [0]
    stage_identity(ts, 16)


def test_acceptance_fraction_is_drawn_per_node(sup):
    horizon = 200 * 86400
    sc = sup.scenario(horizon=horizon, supply={
        "orders": [{"at": 0, "nodes": 2000, "lead_time": 100, "burn_in": 50, "batch_nodes": 500, "batch_every": 10}],
        "acceptance": {"fail_fraction": 0.03},  # default repairs: swap (24 h) 80%, vendor (10 d) 20%
    }, nodes=1)
    r, _ = sup.run(sc)
    fails = r.events[r.events["kind"] == "acceptance_fail"]
    assert abs(len(fails) - 60) <= 3 * math.sqrt(2000 * 0.03 * 0.97)
    assert set(fails["repair_class"]) == {"swap", "vendor"}
    last = (fails["t_s"] + fails["down_s"]).max()
    assert sup.value_at(r.timeseries, "up_gpus", last - 1e-6) < 8 * 2001
    assert sup.value_at(r.timeseries, "up_gpus", last) == 8 * 2001  # all repaired by then


def test_late_deliveries_are_counted_against_the_median_lead_time(sup):
    sc = sup.scenario(horizon=400 * 86400, supply={"orders": [
        {"at": 0, "nodes": 4, "lead_time": "tight", "batch_nodes": 1, "burn_in": 0}
    ]})
    r, engine = sup.run(sc)
    plan = engine.part(Supply).orders[0]
    ev = r.events[r.events["kind"] == "delivery"]
    late = ev["t_s"].to_numpy() - (40 * 7 * 86400 + np.arange(4) * 14 * 86400)
    np.testing.assert_allclose(ev["late_s"].to_numpy(), late)
    assert (ev["t_s"].to_numpy() == plan.lead + np.arange(4) * 14 * 86400).all()
    expected = 32 if plan.lead > 40 * 7 * 86400 else 0
    assert r.summary["capacity"]["delivered_late_gpus"] == expected


@pytest.mark.parametrize(("substitute", "kind"), [(None, "order_refused"), ("A", "order_substituted")])
def test_export_controls_refuse_or_substitute(sup, substitute, kind):
    types = {**sup.TYPES, "B": {**sup.TYPES["B"], "orderable_until": 500, "substitute": substitute}}
    sc = sup.scenario(horizon=10_000, supply={"gpu_types": types, "orders": [
        {"at": 0, "nodes": 1, "gpu_type": "B", "lead_time": 100, "burn_in": 0},  # before the ban
        {"at": 500, "nodes": 2, "gpu_type": "B", "lead_time": 100, "burn_in": 0},  # at the ban
    ]})
    r, _ = sup.run(sc)
    ev = r.events
    assert ev[ev["kind"] == kind][["t_s", "order_id", "gpus"]].values.tolist() == [[500, 1, 16]]
    cap = r.summary["capacity"]
    assert (cap["orders_refused"], cap["orders_substituted"]) == ((1, 0) if substitute is None else (0, 1))
    ts = r.timeseries
    assert sup.value_at(ts, "up_gpus.B", 9999) == 8
    assert sup.value_at(ts, "up_gpus.A", 9999) == (16 if substitute is None else 32)
    assert cap["delivered_gpus"] == (8 if substitute is None else 24)


def test_retirement_drains_nodes(sup):
    # 3 nodes; a job on node 0 until 5,000; retire 2 nodes at 1,000: node 1 leaves at once,
    # node 0 when its job ends; retirement never interrupts a job
    sc = sup.scenario(nodes=3, horizon=10_000, supply={"retire": [{"at": 1000, "nodes": 2}]})
    r, engine = sup.run(sc, [sup.spec("a", 0, 8, 5000), sup.spec("b", 2000, 8, 100)])
    ts = r.timeseries
    assert sup.value_at(ts, "up_gpus", 999) == 24
    assert sup.value_at(ts, "up_gpus", 1000) == 16 and sup.value_at(ts, "retired_gpus", 1000) == 8
    assert sup.value_at(ts, "up_gpus", 5000) == 8 and sup.value_at(ts, "retired_gpus", 5000) == 16
    assert sup.value_at(ts, "in_service_gpus", 5000) == 8
    jobs = r.jobs.set_index("job_id")
    assert jobs.loc["a", "end_s"] == 5000 and jobs.loc["a", "restarts"] == 0
    # b arrives while node 0 drains: it goes to node 2, the only one taking jobs
    assert engine.starts[1][1:] == ("b", ("A",), (2,))
    retire = r.events[r.events["kind"] == "retired"]
    assert retire[["t_s", "node_id"]].values.tolist() == [[1000, 1], [5000, 0]]
    stage_identity(ts, 24)


def test_whole_type_retires(sup):
    sc = sup.scenario(nodes=2, horizon=10_000, supply={
        "orders": [{"at": 0, "nodes": 1, "gpu_type": "B", "lead_time": 10, "burn_in": 0}],
        "retire": [{"at": 100, "gpu_type": "A"}],
    })
    r, _ = sup.run(sc)
    ts = r.timeseries
    assert sup.value_at(ts, "up_gpus.A", 100) == 0 and sup.value_at(ts, "up_gpus.B", 100) == 8
    assert sup.value_at(ts, "retired_gpus.A", 100) == 16


def test_rental_is_a_pool_in_service_between_dates_and_paid_per_gpu_hour(sup):
    sc = sup.scenario(horizon=20_000, supply={"rental": {"gpus": 16, "from": 1000, "to": 4600, "price_per_gpu_hour": 2.5}})
    r, engine = sup.run(sc, [sup.spec("x", 900, 32, 1000)])  # needs the rented nodes too? no: one type only
    ts = r.timeseries
    assert [p.name for p in engine.cluster.pools] == ["A", "rental:A"]
    assert sup.value_at(ts, "up_gpus", 999) == 16 and sup.value_at(ts, "up_gpus", 1000) == 32
    assert sup.value_at(ts, "rented_gpus", 1000) == 16 and sup.value_at(ts, "up_gpus.rental:A", 1000) == 16
    assert sup.value_at(ts, "up_gpus", 4600) == 16 and sup.value_at(ts, "rented_gpus", 4600) == 0
    assert r.summary["rental_cost"] == pytest.approx(16 * 1.0 * 2.5)
    # a 32-GPU gang job cannot span the owned and the rented pool: it is rejected
    jobs = r.jobs.set_index("job_id")
    assert jobs.loc["x", "state"] == "rejected" and "32 GPUs" in jobs.loc["x", "reason"]
    kinds = r.events["kind"].tolist()
    assert kinds.count("rental_start") == 1 and kinds.count("rental_end") == 2
    assert (ts["retired_gpus"] == 0).all()
    stage_identity(ts, 16)


def test_stage_columns_only_with_supply(csim):
    # without supply every GPU is in service all the time: the stage columns would be
    # constants, so they are left out (they cost more memory than the jobs table)
    r, _ = csim.run_jobs([csim.spec("a", 0, 8, 100)], nodes=3)
    ts = r.timeseries
    assert not set(STAGE_COLUMNS) & set(ts.columns)
    assert (ts["up_gpus"] == 24).all()
    assert "capacity" not in r.summary and "energy_kwh" not in r.summary
