"""Planned maintenance (issue 13, part c) under random calendars and workloads (hypothesis):
never more than the wave cap down for maintenance at once, no job ever starts on a draining
(cordoned) node, the cluster's indexes stay consistent; and Little's law on down nodes with node
failures, domain events and maintenance together, from an independent log of every node's
down intervals."""

from __future__ import annotations

import importlib.machinery
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from topo_helpers import scenario

import clustersim.engine.core
from clustersim.config.maintenance import wave_cap
from clustersim.engine.cluster import Cluster
from clustersim.engine.core import Engine
from clustersim.engine.maintenance import Maintenance
from clustersim.rng import Streams

DAY = 86400.0
DERANDOMIZE = os.environ.get("CLUSTERSIM_EXPLORE", "") in ("", "0")
WORK = [{"name": "g", "arrival_rate_per_h": 1.5, "gpus": {1: 0.3, 8: 0.3, 16: 0.2, 32: 0.2},
         "duration": {"kind": "exponential", "mean": "5h"}}]


class Guarded(Engine):
    """Checks every start (no cordoned or down node) and, after every maintenance event, the
    number of nodes down for maintenance against the cap and the cluster's indexes."""

    def __init__(self, *a, cap, **k):
        super().__init__(*a, **k)
        self.cap = cap
        self.most = 0
        m = self.m = self.part(Maintenance)
        for name in ("_down", "_up", "_drain", "_begin"):
            orig = getattr(m, name)

            def wrapped(*args, _orig=orig):
                _orig(*args)
                down = len(self.cluster.in_maintenance)
                assert down <= self.cap, (down, self.cap)
                self.most = max(self.most, down)
                self.cluster.check()
            setattr(m, name, wrapped)

    def start(self, job, nodes):
        c = self.cluster
        # the calendar's own record of drained nodes (not the cluster's cordon) is the reference
        assert all(c.up[n] and n not in self.m.drains and n not in c.draining for n in nodes), (nodes,)
        super().start(job, nodes)


@settings(max_examples=25, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    racks=st.integers(2, 6),
    target=st.sampled_from(["level", "nodes", "fraction"]),
    share=st.floats(0.1, 1.0),
    duration_h=st.floats(0.5, 12),
    lead_h=st.floats(0, 6),
    every_d=st.sampled_from([None, 2.0, 5.0]),
    running=st.sampled_from(["checkpoint", "finish"]),
    failures=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_never_more_than_the_cap_down_and_no_start_on_a_draining_node(
        racks, target, share, duration_h, lead_h, every_d, running, failures, seed):
    nodes = 4 * racks
    window = {"name": "w", "start": "6h", "duration": duration_h * 3600, "lead_time": lead_h * 3600,
              "running": running, "max_down": max(share, 4 / nodes)}
    if every_d is not None:
        window["every"] = every_d * DAY
    if target == "level":
        window["level"] = "rack"
    elif target == "nodes":
        window["nodes"] = [f"1-{nodes - 2}"]
    else:
        window["fraction"] = 0.5
    fail = None
    if failures:
        fail = {"rate_per_1000_node_days": 40, "spare_nodes": 1,
                "checkpoint": {"interval": "1h", "cost": "1m", "restart": "5m"},
                "domains": [{"name": "pdu", "level": "rack", "rate_per_1000_domain_days": 60, "repair": "3h"}]}
    sc = scenario(nodes=nodes, levels=[("rack", 4)], horizon=10 * DAY, policy="backfill", classes=WORK,
                  failures=fail, maintenance={"windows": [window]})
    cap = wave_cap(sc.maintenance.windows[0], nodes)
    engine = Guarded(sc, Streams(seed), cap=cap)
    engine.run()
    r = engine.result()
    engine.cluster.check()
    assert r.timeseries.down_maintenance_nodes.max() <= cap
    assert engine.most >= 1  # some wave went down


class DownLog(Cluster):
    """A cluster that logs every node's going down and coming back (independent of the
    timeseries): (time, node, +1 down / -1 up)."""

    clock = None
    log: list

    def take_down(self, node):
        if self.up[node]:
            self.log.append((self.clock.now, node, 1))
        return super().take_down(node)

    def bring_up(self, node):
        was = self.up[node]
        super().bring_up(node)
        if not was and self.up[node]:
            self.log.append((self.clock.now, node, -1))

    def _leave(self, node):
        if self.up[node]:
            self.log.append((self.clock.now, node, 1))
        super()._leave(node)


@pytest.mark.skipif(
    clustersim.engine.core.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)),
    reason="swaps the engine's Cluster class, which the compiled engine binds at build time",
)
def test_littles_law_on_down_nodes_with_failures_domain_events_and_maintenance(monkeypatch):
    # L = lambda W on the nodes down: the time-average of down_nodes (the timeseries) equals
    # the outages begun per second times their mean length, both from the independent log
    # (an outage still open at the horizon counts to the horizon). The maintenance share alone:
    # every node of the weekly window is down exactly `duration` per repeat.
    import clustersim.engine.core as core

    N, T = 32, 120 * DAY
    log: list = []

    class Logged(DownLog):
        pass

    Logged.log = log
    monkeypatch.setattr(core, "Cluster", Logged)
    window = {"name": "weekly", "start": "2d", "every": "7d", "duration": "6h", "level": "rack",
              "max_down": "25%", "lead_time": "2h"}
    sc = scenario(nodes=N, levels=[("rack", 4), ("leaf", 16)], horizon=T, policy="backfill", classes=WORK,
                  failures={"rate_per_1000_node_days": 10, "job_rate_per_1000_node_days": 0,
                            "domains": [{"name": "pdu", "level": "rack", "rate_per_1000_domain_days": 20,
                                         "repair": {"kind": "exponential", "mean": "8h"}},
                                        {"name": "leaf", "level": "leaf", "rate_per_1000_domain_days": 10,
                                         "repair": "12h"}]},
                  maintenance={"windows": [window]})
    engine = Engine(sc, Streams(7))
    Logged.clock = engine.env
    engine.run()
    r = engine.result()
    open_at: dict[int, float] = {}
    lengths = []
    for t, node, step in log:
        if step == 1:
            assert node not in open_at
            open_at[node] = t
        else:
            lengths.append(t - open_at.pop(node))
    lengths += [T - t for t in open_at.values()]
    lam, W = len(lengths) / T, float(np.mean(lengths))
    ts = r.timeseries
    widths = np.diff(np.append(ts.t_s.to_numpy(), T))
    L = float((ts.down_nodes.to_numpy() * widths).sum() / T)
    assert L == pytest.approx(lam * W, rel=1e-9)
    ev = r.events
    assert (ev.kind == "failure").sum() > 10 and (ev.kind == "domain_failure").sum() > 5
    # maintenance: 8 racks in waves of 2 (25% of 32 = 8 nodes), 4 waves of 6 h from day 2 every week
    repeats = math.ceil((T - 2 * DAY) / (7 * DAY))
    L_m = float((ts.down_maintenance_nodes.to_numpy() * widths).sum() / T)
    # a wave starts late only behind a node whose failure outlasts its window (checkpoint mode:
    # never); each node is down 6 h per repeat, all within the horizon
    assert L_m == pytest.approx(repeats * N * 6 * 3600 / T, rel=1e-9)
    assert (ev.kind == "maintenance_down").sum() == repeats * N
    parts = ts[["down_maintenance_nodes", "down_domain_nodes", "down_failure_nodes"]].sum(axis=1)
    assert (parts == ts.down_nodes).all()
