"""Correlated domain failures (issue 13, part b): event counts against the renewal-process
expectation per level, every node of a failed domain down from the event to its repair, jobs
taking the failure path, Little's law on down nodes with node and domain failures together,
and config errors naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest
from topo_helpers import scenario

from clustersim.engine.core import Engine, simulate
from clustersim.errors import ScenarioError
from clustersim.rng import Streams

DAY = 86400.0
LEVELS = [("rack", 4), ("leaf", 16)]
KINDS = [
    {"name": "rack_power", "level": "rack", "rate_per_1000_domain_days": 50, "repair": {"kind": "fixed", "value": "2h"}},
    {"name": "leaf_switch", "level": "leaf", "rate_per_1000_domain_days": 100, "repair": {"kind": "fixed", "value": "6h"}},
]
WORK = [{"name": "gang", "arrival_rate_per_h": 0.5, "gpus": {8: 0.4, 16: 0.3, 32: 0.3},
         "duration": {"kind": "exponential", "mean": "4h"}}]


def test_domain_failure_counts_match_the_renewal_expectation_per_level():
    # 64 nodes: 16 racks, 4 leaves; no node failures. A domain fails at rate r while up and is
    # down for a fixed R: a renewal process of mean cycle 1/r + R, so over T the expected count
    # is D x T / (1/r + R) (to within one cycle per domain), variance below Poisson's.
    T = 400 * DAY
    sc = scenario(nodes=64, levels=LEVELS, horizon=T,
                  failures={"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0, "domains": KINDS})
    r = simulate(sc, 11)
    ev = r.events
    for kind, domains, rate, repair in (("rack_power", 16, 0.05 / DAY, 2 * 3600), ("leaf_switch", 4, 0.1 / DAY, 6 * 3600)):
        n = int(((ev.kind == "domain_failure") & (ev.cause == kind)).sum())
        expect = domains * T / (1 / rate + repair)
        assert abs(n - expect) < 4 * math.sqrt(expect) + domains, (kind, n, expect)
        assert r.summary["topology"]["domain_failures"][kind] == n
    # every repair comes exactly R after its event
    fails = ev[ev.kind == "domain_failure"].sort_values(["detail", "t_s"])
    reps = ev[ev.kind == "domain_repair"].sort_values(["detail", "t_s"])
    for detail, group in fails.groupby("detail"):
        back = reps[reps.detail == detail]
        k = len(back)
        assert np.allclose(back.t_s.to_numpy(), group.t_s.to_numpy()[:k] + group.down_s.to_numpy()[:k])


class Watch(Engine):
    """Checks, at each domain event, that every node of the domain goes down, stays down at
    the midpoint and just before the repair, and is up just after (unless its own repair or
    another outage still holds it)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from clustersim.engine.failures import Failures

        self.f = self.part(Failures)
        out = self.f.outages
        self.seen = 0
        orig_fail, orig_rep = out._fail, out._repaired

        def fail(event):
            k, d = event._value
            orig_fail(event)
            level = out.kinds[k][1]
            nodes = out.nodes(level, d)
            assert all(not self.cluster.up[x] for x in nodes)
            repair = self.f.rows[-1][5]
            self.seen += 1
            self.call_at(self.env.now + repair / 2, lambda e: self._all_down(nodes))

        def repaired(event):
            k, d, nodes, _repair = event._value
            self._all_down(nodes)  # to the last instant before the repair
            orig_rep(event)
            for x in nodes:
                assert self.cluster.up[x] or x in self.f.in_repair or x in self.cluster.holds or self.cluster.retired[x]

        out._fail, out._repaired = fail, repaired

    def _all_down(self, nodes):
        assert all(not self.cluster.up[x] for x in nodes), nodes

    def start(self, job, nodes):
        assert all(self.cluster.up[x] for x in nodes)
        super().start(job, nodes)


def test_every_node_of_a_failed_domain_is_down_until_its_repair_and_jobs_fail_over():
    sc = scenario(nodes=32, levels=LEVELS, horizon=60 * DAY, policy="backfill", classes=WORK,
                  failures={"rate_per_1000_node_days": 20, "spare_nodes": 2, "domains": [
                      dict(KINDS[0], rate_per_1000_domain_days=300),
                      dict(KINDS[1], rate_per_1000_domain_days=300, repair={"kind": "exponential", "mean": "3h"})]})
    engine = Watch(sc, Streams(2))
    engine.run()
    r = engine.result()
    engine.cluster.check()
    assert engine.seen > 30
    hit = r.events[(r.events.kind == "domain_failure") & (r.events.jobs_hit > 0)]
    assert len(hit) > 5 and (r.jobs.restarts > 0).sum() >= len(hit) // 2


def test_littles_law_on_down_nodes_with_both_failure_kinds():
    # Mean nodes down = node failures per second x mean node downtime (detection + repair)
    # + domain events per second x nodes per domain x repair. Rates are low enough that
    # outages rarely overlap (overlap would only lower the mean a little).
    N, T = 64, 2000 * DAY
    node_rate = 2.0 / 1000 / DAY  # per node-day
    detect, node_repair = 600.0, 4 * 3600.0
    sc = scenario(nodes=N, levels=LEVELS, horizon=T, failures={
        "rate_per_1000_node_days": 2, "job_rate_per_1000_node_days": 0,
        "detection": {"kind": "fixed", "value": detect},
        "repair": [{"name": "fix", "share": 1, "time": {"kind": "fixed", "value": node_repair}}],
        "domains": [dict(KINDS[0], rate_per_1000_domain_days=5), dict(KINDS[1], rate_per_1000_domain_days=5)]})
    r = simulate(sc, 4)
    ts = r.timeseries
    t = ts.t_s.to_numpy()
    widths = np.diff(np.append(t, T))
    mean_down = float((ts.down_nodes.to_numpy() * widths).sum() / T)
    d_rate = 5 / 1000 / DAY
    expect = N * node_rate * (detect + node_repair) + 16 * d_rate * 4 * 7200 + 4 * d_rate * 16 * 21600
    assert mean_down == pytest.approx(expect, rel=0.12), (mean_down, expect)
    # the domain part alone, from its own column
    dom = float((ts.domain_down_nodes.to_numpy() * widths).sum() / T)
    assert dom == pytest.approx(16 * d_rate * 4 * 7200 + 4 * d_rate * 16 * 21600, rel=0.12)


def test_domain_failures_need_a_topology_and_a_known_level():
    bad = {"rate_per_1000_node_days": 1, "domains": [dict(KINDS[0], level="row")]}
    with pytest.raises(ScenarioError, match=r"failures.domains\[0\].level: 'row' is not a level"):
        scenario(nodes=8, levels=LEVELS, failures=bad)
    with pytest.raises(ScenarioError, match=r"failures.domains\[0\]: domain failures need cluster.topology"):
        scenario(nodes=8, topology=False, failures={"domains": [KINDS[0]]})
