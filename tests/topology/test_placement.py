"""Locality-aware placement (issue 13, part a): hand-made placements with the domain index,
its counts against brute force under random changes (hypothesis), the rule at every start of
whole simulations, equality with the flat cluster when the rule cannot bind, the span penalty
and the shape rejection, and the fragmentation level by hand."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from topo_helpers import brute_fits, col, domain_counts, run, satisfies, scenario, spec

from clustersim.config.topology import TopologyConfig
from clustersim.engine.cluster import Cluster
from clustersim.engine.core import simulate
from clustersim.engine.domains import DomainIndex
from clustersim.engine.topology import fragmentation
from clustersim.model import Job, JobSpec
from clustersim.results.columns import JOB_COLUMNS, LEVEL_COLUMNS

DERANDOMIZE = os.environ.get("CLUSTERSIM_EXPLORE", "") in ("", "0")
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
_seq = iter(range(10**9))


def job(gpus: int) -> Job:
    return Job(JobSpec(None, 0.0, gpus, 1.0), next(_seq))


def indexed(nodes: int, levels, locality=None, spread=False) -> tuple[Cluster, DomainIndex]:
    cfg = {"levels": [{"name": n, "nodes": s} for n, s in levels]}
    if locality is not None:
        cfg["locality"] = locality
    c = Cluster(nodes, 8)
    index = DomainIndex(TopologyConfig.model_validate(cfg), 8, spread)
    index.install(c)
    return c, index


def busy(c: Cluster, *nodes: int) -> None:
    for n in nodes:  # one GPU taken: the node is no longer whole and free
        c.allocate(job(1), (n,))


def check_index(c: Cluster, index: DomainIndex) -> None:
    """The index's per-domain counts equal a brute-force count of whole free nodes."""
    free_whole = [n for n in range(c.node_count) if c.up[n] and c.free[n] == 8 and n in c.buckets[8]]
    for level, size in enumerate(index.sizes):
        want = domain_counts(free_whole, size)
        got = {d: k for d, k in enumerate(index.count[level]) if k}
        assert got == want, (level, got, want)
        for k, dset in enumerate(index.by_count[level]):
            assert all(index.count[level][d] == k for d in dset)


# ------------------------------------------------------------------------------ by hand


def test_fit_rule_pack_and_spread_by_hand():
    # 16 nodes, racks of 4: free whole nodes per rack 2, 3, 4, 1 after these one-GPU jobs
    for spread, two, three in ((False, (2, 3), (5, 6, 7)), (True, (8, 9), (8, 9, 10))):
        c, index = indexed(16, [("rack", 4)], spread=spread)
        busy(c, 0, 1, 4, 12, 13, 14)
        check_index(c, index)
        # pack: the rack with the fewest free nodes that holds the gang; spread: the most
        assert c.find(16, ()) == two
        assert c.find(24, ()) == three
        assert c.find(32, ()) == (8, 9, 10, 11)  # only rack 2 holds 4
        assert c.fits(32) and c.fits(40)  # 5 nodes is more than a rack: any nodes ...
        assert len(c.find(40, ())) == 5  # ... of the flat cluster (10 free)
        assert not c.fits(88)  # 11 > 10 free
        c.check()


def test_fit_rule_two_levels_takes_fullest_racks_first():
    c, index = indexed(16, [("rack", 4), ("leaf", 8)])
    busy(c, 0, 1, 4, 12, 13, 14, 15)  # racks 2, 3, 4, 0 free; leaves 5, 4
    nodes = c.find(40, ())  # 5 nodes: a leaf; only leaf 0 holds 5: rack 1 (3) then rack 0 (2)
    assert nodes == (5, 6, 7, 2, 3)
    assert c.find(48, ()) is None  # 6 nodes: no leaf holds 6 (5 and 4 free)
    assert not c.fits(48)
    assert c.find(32, (), exclude={8}) is None  # 4 nodes: rack 2 only, and one is excluded


def test_span_rule_by_hand_and_penalty():
    c, index = indexed(16, [("rack", 4)], {"kind": "span", "level": "rack", "max_domains": 2,
                                           "penalty_per_extra_domain": 0.25})
    busy(c, 0, 1, 4, 12, 13, 14)  # free 2, 3, 4, 1
    nodes = c.find(48, ())  # 6 nodes in at most 2 racks: rack 2 (4) then rack 1 (2 of 3)
    assert nodes == (8, 9, 10, 11, 5, 6)
    assert index.speed_factor(nodes) == pytest.approx(1 / 1.25)
    assert c.fits(56) and c.find(56, ()) is not None  # 7 = 4 + 3
    assert not c.fits(64) and c.find(64, ()) is None  # 8 > 4 + 3 although 10 are free
    assert index.speed_factor((8, 9, 10, 11)) == 1.0
    assert c.shape_problem(72) is not None and "max_domains" in c.shape_problem(72)  # 9 > 2 x 4


def test_fragmentation_by_hand():
    c, index = indexed(8, [("rack", 4)])
    busy(c, 0, 4)  # each rack: 3 whole free nodes and one with 7 free GPUs; 62 free GPUs
    assert fragmentation(c, index, {}) == (62, 0)  # nothing waits
    assert fragmentation(c, index, {32: 1}) == (62, 62)  # a 4-node gang fits no rack
    assert fragmentation(c, index, {24: 2}) == (62, 14)  # 3-node gangs fit; the 7s do not
    assert fragmentation(c, index, {24: 1, 2: 1}) == (62, 0)  # a 2-GPU job fits anywhere
    assert fragmentation(c, index, {8: 1}) == (62, 14)  # a whole-node job: not on the 7s
    c2, index2 = indexed(8, [("rack", 4)], {"kind": "span", "level": "rack", "max_domains": 2})
    busy(c2, 0, 4)
    assert fragmentation(c2, index2, {48: 1}) == (62, 14)  # 3 + 3 in two racks


# ------------------------------------------------------------------------------ properties

OPS = st.lists(
    st.tuples(st.sampled_from(["alloc", "alloc", "alloc", "release", "down", "up"]), st.integers(0, 10**6)),
    min_size=1, max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=HEALTH, derandomize=DERANDOMIZE)
@given(
    rack=st.integers(1, 4),
    mult=st.integers(0, 3),
    racks=st.integers(1, 7),
    span=st.one_of(st.none(), st.tuples(st.integers(0, 1), st.integers(1, 4), st.sampled_from([0.0, 0.5]))),
    spread=st.booleans(),
    ops=OPS,
)
def test_index_and_placement_against_brute_force(rack, mult, racks, span, spread, ops):
    levels = [("rack", rack)] + ([("leaf", rack * (mult + 1))] if mult else [])
    nodes = rack * racks
    locality = None
    rule = None
    if span is not None:
        level = min(span[0], len(levels) - 1)
        locality = {"kind": "span", "level": levels[level][0], "max_domains": span[1],
                    "penalty_per_extra_domain": span[2]}
        rule = (level, span[1])
    c, index = indexed(nodes, levels, locality, spread)
    sizes = [s for _, s in levels]
    running: list[Job] = []
    for op, x in ops:
        if op == "alloc":
            need = 1 + x % nodes
            g = 8 * need if x % 3 else 1 + x % 8
            got = c.find(g, tuple(range(g, 9)) if g <= 8 else ())
            free_whole = [n for n in c.buckets[8]]
            if g > 8:
                assert c.fits(g) == brute_fits(free_whole, sizes, need, rule)
                assert (got is not None) == brute_fits(free_whole, sizes, need, rule), (got, free_whole)
            if got is not None:
                assert len(set(got)) == len(got)
                if g > 8:
                    assert all(n in c.buckets[8] for n in got)
                    assert satisfies(got, sizes, rule)
                    if span is not None and span[2] == 0.0 and span[1] >= -(-nodes // sizes[rule[0]]):
                        pass  # the rule cannot bind: any nodes
                j = job(g)
                c.allocate(j, got)
                running.append(j)
        elif op == "release" and running:
            c.release(running.pop(x % len(running)))
        elif op == "down":
            for j in c.take_down(x % nodes):
                if j in running:
                    running.remove(j)
                c.release(j)
        elif op == "up":
            c.bring_up(x % nodes)
        c.check()
        check_index(c, index)


# ------------------------------------------------------------------------------ whole runs

WORK = [
    {"name": "small", "arrival_rate_per_h": 6, "gpus": {1: 0.5, 4: 0.2, 8: 0.3}, "duration": {"kind": "exponential", "mean": "1h"}},
    {"name": "gang", "arrival_rate_per_h": 1.5, "gpus": {16: 0.3, 24: 0.2, 32: 0.3, 64: 0.1, 96: 0.1},
     "duration": {"kind": "exponential", "mean": "3h"}},
]
FAIL = {"rate_per_1000_node_days": 200, "spare_nodes": 1}


@pytest.mark.parametrize("policy", ["fifo", "backfill"])
@pytest.mark.parametrize("locality", [None, {"kind": "span", "level": "rack", "max_domains": 2,
                                              "penalty_per_extra_domain": 0.1}])
@pytest.mark.parametrize("placement", ["pack", "spread"])
def test_every_start_meets_the_rule(policy, locality, placement):
    sc = scenario(nodes=24, levels=[("rack", 4), ("leaf", 8)], locality=locality, policy=policy,
                  placement=placement, horizon="6d", classes=WORK, failures=FAIL)
    span = (0, 2) if locality else None
    from clustersim.rng import Streams
    from clustersim.workload.sources import scenario_jobs

    specs = list(scenario_jobs(sc, Streams(3)))
    result, engine = run(sc, specs, span=span, seed=3)
    gangs = [s for s in engine.starts if len(s[2]) > 1]
    assert len(gangs) > 30  # the check above ran on many gangs
    jobs = result.jobs
    # a job the rule rejects (96 GPUs = 12 nodes > 2 racks) is rejected with the reason
    if locality:
        rej = jobs[jobs.num_gpus == 96]
        assert len(rej) and (rej.state == "rejected").all() and rej.reason.str.contains("max_domains").all()
    else:
        assert (jobs.state != "rejected").all()


def test_flat_equivalence_when_the_rule_cannot_bind():
    """One domain holding every node (fit), or a span rule allowing every rack without a
    penalty: the run equals the flat cluster's, job for job and level for level."""
    base = dict(nodes=24, policy="backfill", horizon="8d", classes=WORK, failures=FAIL)
    flat = simulate(scenario(topology=False, **base), 5)
    for levels, locality in (
        ([("all", 24)], None),
        ([("rack", 4)], {"kind": "span", "level": "rack", "max_domains": 6}),
    ):
        topo = simulate(scenario(levels=levels, locality=locality, **base), 5)
        for c in JOB_COLUMNS:
            assert flat.jobs[c].equals(topo.jobs[c]), (levels, c)
        for c in LEVEL_COLUMNS:
            assert flat.timeseries[c].equals(topo.timeseries[c]), (levels, c)
        assert len(flat.jobs) > 100 and (flat.jobs.restarts > 0).any()


def test_span_penalty_stretches_the_gang_by_hand():
    # 8 nodes, racks of 4; a 6-node gang spans 2 racks at a 25% cost: 1000 s of work take
    # 1000 x 1.25 = 1250 s; a 4-node gang sits in one rack and takes 1000 s
    sc = scenario(nodes=8, levels=[("rack", 4)],
                  locality={"kind": "span", "level": "rack", "max_domains": 2, "penalty_per_extra_domain": 0.25})
    r, _ = run(sc, [spec("six", 0, 48, 1000), spec("four", 2000, 32, 1000), spec("nine", 0, 72, 10)], span=(0, 2))
    end, start = col(r, "end_s"), col(r, "start_s")
    assert end["six"] == 1250 and start["four"] == 2000 and end["four"] == 3000
    assert col(r, "state")["nine"] == "rejected"
    assert col(r, "domains_spanned")["six"] == 2 and col(r, "domains_spanned")["four"] == 1


def test_fit_rule_makes_a_gang_wait_for_its_rack(csim):
    # racks of 4: two 2-node jobs hold nodes 0-1 (rack 0) and 4-5 (rack 1) until t=100; a
    # 3-node gang arriving at t=1 finds 4 free nodes (2 per rack) but no rack holding 3: it
    # waits until t=100. The flat cluster starts it at t=1.
    jobs = [spec("a", 0, 16, 100), spec("b", 0, 16, 100), spec("g", 1, 24, 50)]
    sc = scenario(nodes=8, levels=[("rack", 4)], placement="spread")
    r, engine = run(sc, jobs)
    assert engine.starts[0][2] == (0, 1) and engine.starts[1][2] == (4, 5)
    assert col(r, "start_s")["g"] == 100
    # fragmentation by hand: 4 free whole nodes (32 GPUs) no waiting shape can use on [1, 100);
    # free GPUs 32 on [0, 100), 64 - 24 on [100, 150) (g runs), 64 after, horizon 100,000 s
    topo = r.summary["topology"]
    assert topo["mean_fragmented_gpus"] == pytest.approx(32 * 99 / 100_000)
    assert topo["mean_free_gpus"] == pytest.approx((32 * 100 + 40 * 50 + 64 * (100_000 - 150)) / 100_000)
    assert topo["by_level"]["rack"]["jobs"] == 3 and topo["by_level"]["rack"]["wait_s"]["mean"] == pytest.approx(99 / 3)
    rf, _ = csim.run_jobs(jobs, nodes=8, placement="spread")
    assert rf.jobs.set_index("job_id").start_s["g"] == 1


def test_conservative_with_a_binding_topology_is_refused():
    from clustersim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="scheduler.policy: conservative"):
        scenario(nodes=8, levels=[("rack", 4)], policy="conservative")


def test_bad_topology_gets_one_line_naming_the_field(tmp_path, python):
    import subprocess

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nhorizon: 1d\ncluster:\n  nodes: 16\n  topology:\n    levels: [{name: rack, nodes: 8}, {name: leaf, nodes: 12}]\n"
        "workload:\n  classes: [{name: a, arrival_rate_per_h: 1, gpus: 1, duration: 1h}]\n"
    )
    proc = subprocess.run([python, "-m", "clustersim", "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "cluster.topology.levels" in proc.stderr and "must be a larger multiple" in proc.stderr
    assert "Traceback" not in proc.stderr
