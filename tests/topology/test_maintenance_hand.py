"""Planned maintenance (issue 13, part c) by hand: a two-rack calendar whose drain, down and
return times, job stops and restarts are computed here from the documented rules, in both
`running` modes; a window that never falls in the run changes nothing; config errors name the
field."""

from __future__ import annotations

import math

import pytest
from topo_helpers import scenario, spec

from clustersim.engine.core import Engine, simulate
from clustersim.errors import ScenarioError
from clustersim.rng import Streams

# 8 nodes in two racks of 4; wave cap 50% = 4 nodes = one rack; one checkpoint plan for all jobs
CKPT = {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0,
        "checkpoint": {"interval": "1h", "cost": 60, "restart": 300}}
WINDOW = {"name": "fw", "start": 10_000, "duration": 3600, "level": "rack", "max_down": "50%", "lead_time": 1800}
SPECS = [spec("a", 0, 32, 20_000), spec("b", 100, 8, 50_000), spec("c", 9000, 8, 100)]


def wall(remaining, restart=0.0, interval=3600.0, cost=60.0):
    """Checkpoint arithmetic of seeds: a segment completing ``remaining`` s of work."""
    return restart + remaining + cost * max(0, math.ceil(remaining / interval) - 1)


def kept(elapsed, write=60.0, interval=3600.0, cost=60.0):
    """Progress kept by a checkpoint-and-stop ``elapsed`` s into a first segment (no restart):
    the last ``write`` seconds are the final checkpoint write."""
    p = elapsed - write
    k = math.floor(p / (interval + cost))
    return k * interval + (p - k * (interval + cost)), k * cost + write


class Recording(Engine):
    def __init__(self, *a, **k):
        self.starts = []
        super().__init__(*a, **k)

    def start(self, job, nodes):
        assert not any(n in self.cluster.cordoned for n in nodes), (job.spec.job_id, nodes)
        self.starts.append((self.env.now, job.spec.job_id, tuple(nodes)))
        super().start(job, nodes)
        self.cluster.check()


def run(running):
    sc = scenario(nodes=8, levels=[("rack", 4)], horizon=200_000.0, failures=CKPT,
                  maintenance={"windows": [dict(WINDOW, running=running)]})
    e = Recording(sc, Streams(0), list(SPECS))
    e.run()
    e.cluster.check()
    return e.result(), e


def rows(r, kind):
    ev = r.events[r.events.kind == kind]
    return sorted(zip(ev.t_s.tolist(), ev.node_id.tolist(), ev.detail.tolist(), strict=True))


def test_checkpoint_mode_drain_down_return_and_stops_by_hand():
    r, e = run("checkpoint")
    # drains lead_time before each wave's planned start; wave 1 planned at 10,000 + 3,600
    assert rows(r, "maintenance_drain") == [(8200.0, -1, "rack:0"), (11_800.0, -1, "rack:1")]
    assert rows(r, "maintenance_start") == [(10_000.0, -1, "rack:0"), (13_600.0, -1, "rack:1")]
    assert rows(r, "maintenance_down") == [(10_000.0, n, "rack:0") for n in range(4)] + [
        (13_600.0, n, "rack:1") for n in range(4, 8)]
    assert rows(r, "maintenance_up") == [(13_600.0, n, "rack:0") for n in range(4)] + [
        (17_200.0, n, "rack:1") for n in range(4, 8)]
    assert rows(r, "maintenance_stop") == [(10_000.0, 0, "job a"), (13_600.0, 4, "job b")]
    # c arrives while rack 0 drains: it may not start there
    c_start = [s for s in e.starts if s[1] == "c"]
    assert c_start[0][0] == 9000.0 and c_start[0][2][0] >= 4
    jobs = r.jobs.set_index("job_id")
    # a: stopped at 10,000 s having run 10,000 s; it keeps the progress to 9,940 s
    ka, oa = kept(10_000.0)
    assert (ka, oa) == (9820.0, 180.0)
    assert jobs.loc["a", "end_s"] == 13_600.0 + wall(20_000 - ka, restart=300)  # rack 0 back
    assert jobs.loc["a", "overhead_s"] == pytest.approx(oa + 300 + 120)
    assert jobs.loc["a", "lost_s"] == 0.0 and jobs.loc["a", "restarts"] == 1
    # b: on node 4 from 100 s, stopped at 13,600 s; rack 0 is full with a: restarts at 17,200
    kb, ob = kept(13_500.0)
    assert jobs.loc["b", "end_s"] == pytest.approx(17_200.0 + wall(50_000 - kb, restart=300))
    assert jobs.loc["b", "lost_s"] == 0.0 and jobs.loc["b", "maintenance_stops"] == 1
    assert jobs.loc["c", "end_s"] == 9100.0
    s = r.summary["maintenance"]
    assert s["jobs_stopped"] == 2 and s["waves"] == 2 and s["node_outages"] == 8 and s["max_down_nodes"] == 4
    assert s["checkpoint_write_gpu_hours"] == pytest.approx((60 * 32 + 60 * 8) / 3600)
    assert s["mean_down_maintenance_nodes"] == pytest.approx(8 * 3600 / 200_000)
    # every GPU-second accounted for: busy = useful + lost + overhead
    busy = float(r.summary["busy_gpu_hours"])
    assert busy == pytest.approx(r.summary["useful_gpu_hours"] + r.summary["lost_gpu_hours"]
                                 + r.summary["overhead_gpu_hours"])


def test_finish_mode_waits_for_the_last_job_and_delays_the_next_wave():
    r, _ = run("finish")
    a_end = wall(20_000)  # 20,300: rack 0's nodes wait for a
    b_end = 100 + wall(50_000)  # 50,880
    assert rows(r, "maintenance_start") == [(10_000.0, -1, "rack:0"), (a_end + 3600, -1, "rack:1")]
    assert rows(r, "maintenance_down") == sorted(
        [(a_end, n, "rack:0") for n in range(4)] + [(a_end + 3600, n, "rack:1") for n in (5, 6, 7)]
        + [(b_end, 4, "rack:1")])
    assert rows(r, "maintenance_up") == sorted(
        [(a_end + 3600, n, "rack:0") for n in range(4)] + [(a_end + 7200, n, "rack:1") for n in (5, 6, 7)]
        + [(b_end + 3600, 4, "rack:1")])
    assert rows(r, "maintenance_stop") == []
    jobs = r.jobs.set_index("job_id")
    assert jobs.loc["a", "end_s"] == a_end and jobs.loc["b", "end_s"] == b_end
    assert (jobs.restarts == 0).all()
    s = r.summary["maintenance"]
    assert s["max_wait_to_down_s"] == b_end - (a_end + 3600)
    assert s["mean_wait_to_down_s"] == pytest.approx((4 * (a_end - 10_000) + (b_end - a_end - 3600)) / 8)


def test_nodes_and_fraction_windows_without_a_topology():
    sc = scenario(nodes=10, topology=False, horizon=100_000.0, maintenance={"windows": [
        {"name": "bios", "start": 1000, "duration": 500, "nodes": ["2-4", 9], "max_down": 0.2},
        {"name": "sample", "start": 50_000, "duration": 100, "fraction": "30%"}]})
    r = simulate(sc, 3, specs=[])
    down = rows(r, "maintenance_down")
    # cap 2 nodes: waves [2, 3], [4, 9]
    assert [d for d in down if d[0] < 50_000] == [(1000.0, 2, "node:2..node:3"), (1000.0, 3, "node:2..node:3"),
                                                  (1500.0, 4, "node:4..node:9"), (1500.0, 9, "node:4..node:9")]
    sampled = [d for d in down if d[0] >= 50_000]
    assert len(sampled) == 3 and len({d[1] for d in sampled}) == 3
    assert r.timeseries.down_maintenance_nodes.max() == 3


def test_repeats_and_a_window_outside_the_run_changes_nothing():
    base = dict(nodes=16, levels=[("rack", 4)], horizon=20 * 86400.0, policy="backfill",
                classes=[{"name": "g", "arrival_rate_per_h": 2, "gpus": {8: 0.5, 16: 0.3, 32: 0.2},
                          "duration": {"kind": "exponential", "mean": "3h"}}],
                failures={"rate_per_1000_node_days": 30, "spare_nodes": 1, "domains": [
                    {"name": "pdu", "level": "rack", "rate_per_1000_domain_days": 40, "repair": "4h"}]})
    plain = simulate(scenario(**base), 5)
    late = simulate(scenario(**base, maintenance={"windows": [dict(WINDOW, start="30d")]}), 5)
    extra = ["draining_nodes", "down_maintenance_nodes", "down_domain_nodes", "down_failure_nodes"]
    assert late.timeseries.drop(columns=extra).equals(plain.timeseries)
    assert late.jobs.drop(columns=["maintenance_stops"]).equals(plain.jobs)
    assert late.events.equals(plain.events)
    # the cause columns add up to down_nodes
    ts = late.timeseries
    assert (ts[extra[1:]].sum(axis=1) == ts.down_nodes).all()
    monthly = simulate(scenario(**base, maintenance={"windows": [dict(WINDOW, start="1d", every="7d")]}), 5)
    starts = monthly.events[monthly.events.kind == "maintenance_start"].t_s.tolist()
    assert starts[0] == 86400.0 and 8 * 86400.0 in starts and 15 * 86400.0 in starts


@pytest.mark.parametrize("window, topology, message", [
    ({"level": "row"}, True, r"maintenance.windows\[0\].level: 'row' is not a level"),
    ({"level": "rack"}, False, r"maintenance.windows\[0\].level: maintenance by domain needs cluster.topology"),
    ({"level": "rack", "max_down": "10%"}, True, r"maintenance.windows\[0\].max_down: a wave of at most 0 nodes|less than one node"),
    ({"level": "rack", "max_down": "30%"}, True, r"cannot hold one rack domain of 4 nodes"),
    ({"nodes": ["0-8"]}, True, r"maintenance.windows\[0\].nodes: node 8 does not exist"),
    ({"nodes": ["5-2"]}, True, r"expected a node id or a range such as 0-63"),
    ({"level": "rack", "fraction": 0.5}, True, r"exactly one of level, nodes, fraction"),
    ({"level": "rack", "domains": [2]}, True, r"domain 2 does not exist: rack has 2 domains"),
])
def test_config_errors_name_the_field(window, topology, message):
    w = {"start": "1d", "duration": "1h", **window}
    with pytest.raises(ScenarioError, match=message):
        scenario(nodes=8, levels=[("rack", 4)], topology=topology, maintenance={"windows": [w]})
