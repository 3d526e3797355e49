"""Power with a supply section: a fleet that grows by deliveries of several GPU types.

Hand cases (deliveries, burn-in, acceptance repair, retirement, rental: IT power steps by the
watts worked out in the comments), the admission gate and capping across a delivery, and a
hypothesis property test over random supply + power scenarios: the cap is never exceeded and
every row's power is recomputed from its counts per pool and stage (``expected_power_supply``)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from power_helpers import SILENT, run, spec

from clustersim.config import scenario_from_dict
from clustersim.model import JobSpec

H = 3600.0
# Round numbers. A: 8 GPUs a node, 100 W idle / 400 W busy, 500 W a node (idle node 1,300 W;
# busy node 3,700 W). B: 8 GPUs, 150 / 700 W, 1,000 W a node (idle 2,200 W; busy 6,600 W).
POWER_TYPES = {"A": {"idle_w": 100, "busy_w": 400, "node_w": 500},
               "B": {"idle_w": 150, "busy_w": 700, "node_w": 1000}}
SUPPLY_TYPES = {"A": {"speed": 1.0}, "B": {"speed": 2.0}, "R": {"speed": 1.0}}


def scenario(*, nodes=2, orders=(), power=None, policy="fifo", horizon=40 * H, classes=None, failures=None,
             services=None, **supply_extra):
    p = {"gpu_types": copy.deepcopy(POWER_TYPES), "pue": 1.0, **copy.deepcopy(power or {})}
    data = {
        "name": "power-supply-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": 8, "gpu_type": "A"},
        "scheduler": {"policy": policy},
        "workload": {"classes": classes if classes is not None else [dict(SILENT)]},
        "supply": {"gpu_types": copy.deepcopy(SUPPLY_TYPES), "orders": list(orders),
                   "acceptance": {"fail_fraction": 0.0}, **supply_extra},
        "power": p,
    }
    if failures is not None:
        data["failures"] = failures
    if services is not None:
        data["services"] = services
    return scenario_from_dict(data)


def order(nodes, gpu_type="A", at=0.0, lead=10 * H, burn_in=5 * H, **extra):
    return {"at": at, "nodes": nodes, "gpu_type": gpu_type, "lead_time": lead, "burn_in": burn_in, **extra}


def expected_power_supply(sc, ts):
    """(IT W, facility W) of every row from the row's counts alone: per owned pool, busy GPUs
    x busy_w (replicas of pool 0 at inference_w) + idle up GPUs x idle_w + up nodes x node_w +
    down nodes ((in service - up) / GPUs a node) x down_node_w + GPUs in the burn-in stage x
    the burn-in GPU draw + their nodes x node_w (busy/idle) ; rented pools draw nothing."""
    p, s = sc.power, sc.supply
    state = p.burn_in or s.energy.burn_in_power
    pools = [c[len("busy_gpus."):] for c in ts.columns if c.startswith("busy_gpus.")]
    single = not pools
    if single:
        pools = [sc.cluster.gpu_type]
    it = np.zeros(len(ts))
    down_total = np.zeros(len(ts))
    for name in pools:
        def col(base, name=name):
            return ts[base if single else f"{base}.{name}"].to_numpy(float)
        if name.startswith("rental:"):
            continue
        g = p.gpu_types[name]
        per = s.gpu_types[name].gpus_per_node
        busy, up, burn, in_service = col("busy_gpus"), col("up_gpus"), col("burn_in_gpus"), col("in_service_gpus")
        replica = ts["inference_gpus"].to_numpy(float) if name == sc.cluster.gpu_type and "inference_gpus" in ts \
            else np.zeros(len(ts))
        down = (in_service - up) / per
        down_total += down
        burn_gpu = {"busy": g.busy_w, "idle": g.idle_w, "off": 0.0}[state]
        burn_node = 0.0 if state == "off" else g.node_w
        inf_w = g.busy_w if g.inference_w is None else g.inference_w
        it += ((busy - replica) * g.busy_w + replica * inf_w + (up - busy) * g.idle_w + up / per * g.node_w
               + down * p.down_node_w + burn * burn_gpu + burn / per * burn_node)
    rented_down = sum(((ts[f"in_service_gpus.{n}"] - ts[f"up_gpus.{n}"]) / s.gpu_types[n[7:]].gpus_per_node)
                      .to_numpy(float) for n in pools if n.startswith("rental:"))
    assert np.array_equal(down_total + rented_down, ts["down_nodes"].to_numpy(float))  # the counts agree
    if "power_shed_w" in ts:
        it = np.round(it) - ts["power_shed_w"].to_numpy(float)
    return it, p.pue_at(0) * it  # (constant PUE in these tests)


def check_conservation(sc, r):
    ts = r.timeseries
    it, fac = expected_power_supply(sc, ts)
    assert np.array_equal(ts["it_power_w"].to_numpy(), np.round(it).astype("int64"))
    assert np.array_equal(ts["facility_power_w"].to_numpy(), np.round(fac).astype("int64"))
    t = ts["t_s"].to_numpy(float)
    energy = float(np.sum(ts["facility_power_w"].to_numpy(float) * np.diff(np.append(t, sc.horizon)))) / 3.6e6
    assert r.summary["power"]["energy_kwh"] == pytest.approx(energy, rel=1e-12)


def power_at(r, t, column="it_power_w"):
    ts = r.timeseries
    i = int(np.searchsorted(ts["t_s"].to_numpy(float), t, side="right")) - 1
    return int(ts[column].iloc[i])


# ----------------------------------------------------------------------------- hand cases

@pytest.mark.parametrize(("burn_in", "at_delivery", "at_acceptance"), [
    ("busy", 3 * 6600, 3 * (2200 - 6600)),  # stress tests: 8 x 700 + 1,000 W a node
    ("idle", 3 * 2200, 0),
    ("off", 0, 3 * 2200),
])
def test_a_delivery_steps_it_power_at_delivery_and_at_acceptance(burn_in, at_delivery, at_acceptance):
    # 2 A nodes idle: 2,600 W. 3 B nodes delivered at 10 h, in burn-in for 5 h, in service at 15 h.
    sc = scenario(orders=[order(3, "B")], power={"burn_in": burn_in})
    r = run(sc)
    assert power_at(r, 9 * H) == 2600
    assert power_at(r, 10 * H) == 2600 + at_delivery
    assert power_at(r, 15 * H) == 2600 + at_delivery + at_acceptance == 2600 + 3 * 2200
    check_conservation(sc, r)


def test_burn_in_follows_supply_energy_unless_the_power_section_says():
    sc = scenario(orders=[order(1, "B")], energy={"burn_in_power": "off"})
    assert power_at(run(sc), 10 * H) == 2600  # supply.energy: off
    sc = scenario(orders=[order(1, "B")], energy={"burn_in_power": "off"}, power={"burn_in": "idle"})
    assert power_at(run(sc), 10 * H) == 2600 + 2200  # the power section wins


def test_acceptance_repair_retirement_and_rental():
    # 2 B nodes delivered at 10 h; both fail acceptance at 15 h and stay in the burn-in stage
    # (burn-in draw) until their repair ends at 18 h. The A fleet retires at 20 h (idle: it
    # leaves at once, -2,600 W). 16 rented R GPUs from 1 h are off-site: no step at 1 h.
    sc = scenario(orders=[order(2, "B")], power={"down_node_w": 50},
                  acceptance={"fail_fraction": 1.0, "repair": [{"name": "swap", "share": 1.0, "time": "3h"}]},
                  retire=[{"at": 20 * H, "gpu_type": "A"}], rental={"gpus": 16, "gpu_type": "R", "from": 1 * H})
    r = run(sc)
    assert power_at(r, 1 * H) == 2600
    assert power_at(r, 10 * H) == power_at(r, 15 * H) == 2600 + 2 * 6600
    assert power_at(r, 18 * H) == 2600 + 2 * 2200
    assert power_at(r, 20 * H) == 2 * 2200
    check_conservation(sc, r)


def test_jobs_on_a_rented_pool_draw_nothing_here():
    cls = [{"name": "r", "arrival_rate_per_h": 0, "gpus": 8, "duration": "1h", "gpu_type": "R"}]
    sc = scenario(rental={"gpus": 8, "gpu_type": "R", "from": 0.0}, classes=cls)
    r = run(sc, [JobSpec("r", 3600.0, 8, 7200.0, "r", gpu_type="R")])
    assert r.jobs["start_s"].iloc[0] == 3600.0
    assert power_at(r, 1.5 * H) == 2600 and r.timeseries["busy_gpus"].max() == 8
    check_conservation(sc, r)


def test_admission_keeps_a_job_out_of_the_burn_in_peak():
    # Idle A fleet 2 x 800 W (node_w 0); one A node delivered at 10 h draws 3,200 W in burn-in
    # (busy) until 15 h, then 800 W idle. A 16-GPU job adds 16 x 300 = 4,800 W. Cap 8,000 W:
    # over [0, 20 h) the job would meet the burn-in (1,600 + 3,200 + 4,800 = 9,600 W), so it
    # waits; at 15 h the node is in service and 1,600 + 800 + 4,800 = 7,200 W fits.
    types = {"A": {"idle_w": 100, "busy_w": 400, "node_w": 0}, "B": POWER_TYPES["B"]}
    power = {"mode": "admission", "cap_mw": 8000 / 1e6, "gpu_types": types}
    sc = scenario(orders=[order(1, "A")], power=power)
    r = run(sc, [spec("big", 0, 16, 20 * H)])
    assert r.jobs["start_s"].iloc[0] == 15 * H
    assert r.jobs["power_wait_s"].iloc[0] == 15 * H
    assert (r.timeseries["facility_power_w"] <= 8000).all()
    check_conservation(sc, r)
    # a job that ends before the delivery starts at once
    r = run(sc, [spec("short", 0, 16, 10 * H)])
    assert r.jobs["start_s"].iloc[0] == 0
    # without the gate the burn-in peak passes the cap
    account = scenario(orders=[order(1, "A")], power={**power, "mode": "account"})
    assert power_at(run(account, [spec("big", 0, 16, 20 * H)]), 12 * H, "facility_power_w") == 9600


def test_a_retired_node_gives_its_power_back_to_the_gate():
    # 3 A nodes idle at 800 W (node_w 0): 2,400 W. A 16-GPU job adds 4,800 W; the cap, 7,199 W,
    # holds it only once one node retires (idle: it leaves at 5 h at once): 1,600 + 4,800 W.
    types = {"A": {"idle_w": 100, "busy_w": 400, "node_w": 0}, "B": POWER_TYPES["B"]}
    sc = scenario(nodes=3, power={"mode": "admission", "cap_mw": 7199 / 1e6, "gpu_types": types},
                  retire=[{"at": 5 * H, "gpu_type": "A", "nodes": 1}])
    r = run(sc, [spec("big", 0, 16, 2 * H)])
    assert r.jobs["start_s"].iloc[0] == 5 * H and r.jobs["power_wait_s"].iloc[0] == 5 * H
    assert power_at(r, 5 * H) == 1600 + 16 * 400 - 16 * 100
    check_conservation(sc, r)


def test_capping_throttles_through_the_burn_in_peak_exactly():
    # As above under capping: at the lowest limit (0.5 x 400 W) the job adds 16 x 100 W, so it
    # starts at 0. From 10 h to 15 h the full draw, 9,600 W, passes the cap: the job sheds
    # 9,600 - (8,000 - 2) = 1,602 W, limit 1 - 1,602 / 6,400, and runs at that speed for 5 h.
    types = {"A": {"idle_w": 100, "busy_w": 400, "node_w": 0}, "B": POWER_TYPES["B"]}
    sc = scenario(orders=[order(1, "A")], power={"mode": "capping", "cap_mw": 8000 / 1e6, "gpu_types": types})
    r = run(sc, [spec("big", 0, 16, 20 * H)])
    job = r.jobs.iloc[0]
    s = sc.power.capping.speed(1 - 1602 / 6400)
    assert job["start_s"] == 0 and job["capped_s"] == pytest.approx(5 * H)
    assert job["end_s"] == pytest.approx(25 * H - 5 * H * s, rel=1e-12)
    assert power_at(r, 12 * H, "facility_power_w") == 7998
    assert (r.timeseries["facility_power_w"] <= 8000).all()
    check_conservation(sc, r)


def test_the_gates_static_draw_matches_the_fleet_at_every_step():
    # The gate books the fleet without jobs as a step function of the order plans; at each step
    # it equals what the run draws with no job (here: the recorded IT power, nothing running).
    from clustersim.engine.core import Engine
    from clustersim.rng import Streams

    sc = scenario(orders=[order(3, "B", lead={"kind": "lognormal", "median": "2d", "p90": "5d"}, batch_nodes=1, batch_every="3h", burn_in={"kind": "lognormal", "median": "5h", "p90": "9h"}),
                          order(2, "A", at=4 * H, lead=6 * H)],
                  power={"mode": "admission", "cap_mw": 1.0, "burn_in": "busy"},
                  acceptance={"fail_fraction": 0.5, "repair": [{"name": "swap", "share": 1.0, "time": "2h"}]},
                  horizon=40 * 86400.0)
    engine = Engine(sc, Streams(7), [])
    engine.run()
    power = engine.part(type(engine.parts[-1]))
    ts = engine.result().timeseries
    steps = [t for t in power.static_steps if t < sc.horizon]
    assert len(steps) >= 5  # 3 + 1 deliveries, acceptances, repairs
    for t in [0.0, *steps]:
        assert power.static_at(t) == power_at(engine.result(), t)
    assert ts["burn_in_gpus.B"].max() > 0


def test_account_mode_changes_nothing_but_adds_the_power_columns_and_energy():
    from clustersim.engine.core import simulate

    orders = [order(2, "B", batch_nodes=1, batch_every="4h"), order(1, "A", at=3 * H)]
    classes = [{"name": "s", "arrival_rate_per_h": 6, "gpus": {1: 0.5, 8: 0.5}, "duration": "2h"},
               {"name": "b", "arrival_rate_per_h": 1, "gpus": 8, "duration": "3h", "gpu_type": "B"}]
    sc = scenario(orders=orders, classes=classes, rental={"gpus": 8, "gpu_type": "R", "from": 2 * H})
    plain = simulate(sc.model_copy(update={"power": None}), 3)
    with_power = simulate(sc, 3)
    assert with_power.jobs.equals(plain.jobs)
    ts = with_power.timeseries
    assert ts[list(plain.timeseries.columns)].equals(plain.timeseries)  # power rows fall on the same times
    same = {k: v for k, v in with_power.summary.items() if k not in ("power", "energy_kwh", "energy_kwh_per_day",
                                                                        "energy_cost")}
    assert same == {k: v for k, v in plain.summary.items() if k in same}
    # the supply summary's energy is the power model's (PUE 1, price 0.08)
    assert with_power.summary["energy_kwh"] == with_power.summary["power"]["energy_kwh"]
    assert with_power.summary["energy_cost"] == pytest.approx(with_power.summary["energy_kwh"] * 0.08)
    check_conservation(sc, with_power)


@pytest.mark.parametrize("mode", ["account", "capping"])
def test_services_failures_and_deliveries_conserve_power(mode):
    # replicas (pool 0, at inference_w), failed nodes (down_node_w), two types delivered in
    # batches with acceptance repairs, a rental: every row's power adds up from its counts
    types = {"A": {"idle_w": 100, "busy_w": 400, "inference_w": 300, "node_w": 500}, "B": POWER_TYPES["B"]}
    orders = [order(2, "B", batch_nodes=1, batch_every="6h"), order(2, "A", at=5 * H, lead=20 * H, burn_in=8 * H)]
    power = {"mode": mode, "gpu_types": types, "down_node_w": 120, "pue": 1.25}
    if mode == "capping":
        # the least the check accepts (the bound + both replicas at 200 W over idle a GPU) + 1 kW
        power["cap_mw"] = 1.25 * (_bound(3, [{"nodes": 2, "gpu_type": "B"}, {"nodes": 2, "gpu_type": "A"}], "busy")
                                  + 16 * 200 + 1000) / 1e6
    heavy = MIXED + [{"name": "h", "arrival_rate_per_h": 1, "gpus": {8: 0.5, 16: 0.5}, "duration": "4h"}]
    sc = scenario(nodes=3, orders=orders, power=power, policy="backfill", horizon=6 * 86400.0, classes=heavy,
                  failures={"rate_per_1000_node_days": 400},
                  acceptance={"fail_fraction": 0.5, "repair": [{"name": "swap", "share": 1.0, "time": "10h"}]},
                  rental={"gpus": 8, "gpu_type": "R", "from": 2 * H},
                  services=[{"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
                             "autoscale": {"max_replicas": 2, "startup": 0}, "demand": {"base_rps": 20}}])
    r = run(sc, seed=5)
    ts = r.timeseries
    assert ts["inference_gpus"].max() > 0 and ts["down_nodes"].max() > 0 and ts["burn_in_gpus.B"].max() > 0
    check_conservation(sc, r)
    if mode == "capping":
        assert (ts["facility_power_w"] <= ts["power_cap_w"]).all() and ts["throttled_gpus"].max() > 0


# ----------------------------------------------------------------------------- properties

MIXED = [
    {"name": "s", "arrival_rate_per_h": 4, "gpus": {1: 0.5, 8: 0.5}, "duration": {"kind": "lognormal", "median": "30m", "p90": "3h"}},
    {"name": "m", "arrival_rate_per_h": 0.3, "gpus": {16: 0.5, 24: 0.5}, "duration": {"kind": "lognormal", "median": "3h", "p90": "12h"}},
    {"name": "b", "arrival_rate_per_h": 0.5, "gpus": {8: 1.0}, "duration": {"kind": "lognormal", "median": "2h", "p90": "8h"}, "gpu_type": "B"},
]

orders_st = st.lists(
    st.fixed_dictionaries({
        "at": st.integers(0, 20).map(lambda k: k * H),
        "nodes": st.integers(1, 3),
        "gpu_type": st.sampled_from(["A", "B"]),
        "lead_time": st.integers(1, 30).map(lambda k: k * H),
        "batch_nodes": st.sampled_from([None, 1]),
        "batch_every": st.integers(1, 10).map(lambda k: k * H),
        "burn_in": st.integers(0, 20).map(lambda k: k * H),
    }).map(lambda o: {k: v for k, v in o.items() if v is not None}),
    min_size=1, max_size=3,
)


def _bound(nodes, orders, burn_in):
    """The validation bound by hand: every node at its idle draw, ordered ones at the larger of
    idle and burn-in (A: 1,300 W idle, 3,700 W busy; B: 2,200 / 6,600 W)."""
    idle = {"A": 1300, "B": 2200}
    burn = {"busy": {"A": 3700, "B": 6600}, "idle": idle, "off": {"A": 0, "B": 0}}[burn_in]
    return nodes * 1300 + sum(o["nodes"] * max(idle[o["gpu_type"]], burn[o["gpu_type"]]) for o in orders)


@settings(derandomize=True, max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    orders=orders_st,
    nodes=st.integers(1, 3),
    room=st.integers(8, 40),  # busy A GPUs (300 W each over idle) the cap holds over the bound
    burn_in=st.sampled_from(["busy", "idle", "off"]),
    mode=st.sampled_from(["admission", "capping"]),
    policy=st.sampled_from(["fifo", "sjf", "backfill"]),
    order_=st.sampled_from(["smallest_first", "largest_first", "even"]),
    fail=st.sampled_from([0.0, 0.5]),
    retire=st.booleans(),
    rent=st.booleans(),
    seed=st.integers(0, 3),
)
def test_the_cap_is_never_exceeded_with_deliveries(orders, nodes, room, burn_in, mode, policy, order_, fail, retire,
                                                   rent, seed):
    cap = (_bound(nodes, orders, burn_in) + room * 300) / 1e6
    power = {"mode": mode, "cap_mw": cap, "burn_in": burn_in, "down_node_w": 200}
    if mode == "capping":
        power["capping"] = {"order": order_, "training": [[0.5, 0.4], [0.8, 0.85], [1.0, 1.0]]}
    extra = {"acceptance": {"fail_fraction": fail, "repair": [{"name": "swap", "share": 1.0, "time": "4h"}]}}
    if retire:
        extra["retire"] = [{"at": 30 * H, "gpu_type": "A", "nodes": 1}]
    if rent:
        extra["rental"] = {"gpus": 8, "gpu_type": "R", "from": 2 * H, "to": 50 * H}
    classes = MIXED + ([{"name": "r", "arrival_rate_per_h": 0.3, "gpus": 8, "duration": "3h", "gpu_type": "R"}]
                       if rent else [])
    sc = scenario(nodes=nodes, orders=orders, power=power, policy=policy, horizon=80 * H, classes=classes,
                  failures={"rate_per_1000_node_days": 300}, **extra)
    r = run(sc, seed=seed)
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert r.summary["power"]["hours_over_cap"] == 0
    check_conservation(sc, r)
    if mode == "capping":
        done = r.jobs[r.jobs["state"] == "finished"]
        assert np.allclose(done["work_done_s"], done["duration_s"], rtol=1e-9)
