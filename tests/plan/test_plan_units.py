"""Pure pieces of the planning layer: Student t, flattening, CIs, targets, seeds, search."""

from __future__ import annotations

import math

import pytest

from clustersim.errors import ClusterSimError
from clustersim.planning.plan import _search_order, parse_search
from clustersim.planning.replications import (
    MetricStats,
    Replications,
    check_keys,
    flatten,
    t_quantile,
)
from clustersim.planning.runs import parse_seeds
from clustersim.planning.targets import MET, MISSED, STRADDLES, UNKNOWN, parse_target

# Student t 0.975 quantiles from published tables (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.2).
T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 9: 2.262157,
        10: 2.228139, 19: 2.093024, 29: 2.045230, 60: 2.000298, 100: 1.983972, 1000: 1.962339}


@pytest.mark.parametrize("df,expected", sorted(T975.items()))
def test_t_quantile_matches_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-5)


def test_t_quantile_other_levels_and_symmetry():
    assert t_quantile(0.995, 5) == pytest.approx(4.032143, abs=1e-5)
    assert t_quantile(0.95, 10) == pytest.approx(1.812461, abs=1e-5)
    assert t_quantile(0.025, 4) == pytest.approx(-2.776445, abs=1e-5)
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)  # tends to the normal


def test_flatten_dotted_numeric_leaves():
    summary = {"scenario": "x", "seed": 3, "jobs": {"finished": 5, "queued": 0},
               "gpu_utilisation": 0.5, "wait_s": {"mean": 1.0, "p90": None},
               "by_class": {"large": {"wait_s": {"p90": 7.0}}}, "flag": True}
    assert flatten(summary) == {"jobs.finished": 5, "jobs.queued": 0, "gpu_utilisation": 0.5,
                                "wait_s.mean": 1.0, "by_class.large.wait_s.p90": 7.0}
    assert flatten(summary, keep_none=True)["wait_s.p90"] is None


def test_metric_stats_student_t_interval():
    stats = MetricStats.of([1.0, 2.0, 3.0, 4.0, None])
    assert stats.n == 4 and stats.mean == 2.5
    assert stats.std == pytest.approx(math.sqrt(5 / 3))
    assert stats.half_width == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-6)
    assert stats.lo < 2.5 < stats.hi
    single = MetricStats.of([4.0])
    assert single.mean == 4.0 and single.half_width is None
    assert MetricStats.of([]).mean is None
    assert MetricStats.of([0.0, 0.0, 0.0]).precise(0.05)  # exactly zero counts as precise


def test_replications_union_of_keys():
    reps = Replications.of([0, 1], [{"a": 1.0, "b": {"c": 2}}, {"a": 3.0, "b": {"d": 1}}])
    assert list(reps.metrics) == ["a", "b.c", "b.d"]
    assert reps["a"].mean == 2.0 and reps["b.c"].n == 1


def test_check_keys_suggests_close_matches():
    with pytest.raises(ClusterSimError, match=r"did you mean wait_s\.p90"):
        check_keys(["wait_s.p09"], ["wait_s.p90", "wait_s.mean"], "--target")
    check_keys(["by_class.anything.wait_s.p90"], ["by_class.trace.wait_s.p90"], "m", any_class=True)


@pytest.mark.parametrize("text,key,op,value", [
    ("wait_s.p90<=2h", "wait_s.p90", "<=", 7200.0),
    ("by_class.large.wait_s.p90 < 1.5d", "by_class.large.wait_s.p90", "<", 129600.0),
    ("gpu_utilisation>=80%", "gpu_utilisation", ">=", 0.8),
    ("jobs.finished>1e3", "jobs.finished", ">", 1000.0),
    ("wait_s.mean<=900", "wait_s.mean", "<=", 900.0),
])
def test_parse_target(text, key, op, value):
    t = parse_target(text)
    assert (t.key, t.op) == (key, op) and t.value == pytest.approx(value)


@pytest.mark.parametrize("text,message", [
    ("wait_s.p90=<2h", "expected METRIC OP VALUE"),
    ("wait_s.p90==2h", "expected METRIC OP VALUE"),
    ("wait_s.p90", "expected METRIC OP VALUE"),
    ("<=2h", "expected METRIC OP VALUE"),
    ("wait_s.p90<=soon", "cannot read the value"),
    ("gpu_utilisation>=2h", "not a time metric"),
])
def test_parse_target_malformed(text, message):
    with pytest.raises(ClusterSimError, match=message):
        parse_target(text)


def test_target_verdict_is_conservative():
    t = parse_target("wait_s.mean<=10")
    assert t.verdict(MetricStats(5, 8.0, 1.0, 1.0)) == MET  # [7, 9]
    assert t.verdict(MetricStats(5, 9.5, 1.0, 1.0)) == STRADDLES  # [8.5, 10.5]
    assert t.verdict(MetricStats(5, 12.0, 1.0, 1.0)) == MISSED  # [11, 13]
    assert t.verdict(MetricStats(1, 1.0, None, None)) == UNKNOWN
    assert parse_target("gpu_utilisation>0.5").verdict(MetricStats(5, 0.6, 0.1, 0.1)) == STRADDLES


@pytest.mark.parametrize("text,seeds", [("3", [0, 1, 2]), ("1-4", [1, 2, 3, 4]), ("5,2,9", [5, 2, 9]),
                                        (2, [0, 1])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "9-3", "x", "1,1", "-3"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ClusterSimError, match="--seeds"):
        parse_seeds(text)


def test_parse_search_counts_and_durations():
    s = parse_search("cluster.nodes=300..305")
    assert (s.kind, s.direction, s.grid) == ("count", "smallest", [300, 301, 302, 303, 304, 305])
    s = parse_search("cluster.nodes=300..800", step="100")
    assert s.grid == [300, 400, 500, 600, 700, 800]
    s = parse_search("supply.orders[0].at=0d..3d")
    assert (s.key, s.kind, s.direction) == ("supply.orders[0].at", "duration", "largest")
    assert s.grid == [0, 86400, 172800, 259200] and s.order[0] == 259200
    assert s.override(86400.0) == "supply.orders[0].at=86400"
    assert parse_search("x=0d..10d", step="4d").grid == [0, 4 * 86400, 8 * 86400, 10 * 86400]
    assert parse_search("x=0d..2d", direction="earliest").direction == "smallest"


def test_decimal_ranges_keep_the_step_digits():
    s = parse_search("power.cap_mw=2.0..2.5", step="0.1")
    assert (s.kind, s.direction, s.size) == ("number", "smallest", 6)
    assert s.grid == [2.0, 2.1, 2.2, 2.3, 2.4, 2.5]
    assert s.override(s.at(3)) == "power.cap_mw=2.3" and s.show(2.3) == "2.3"
    s = parse_search("power.cap_mw=2..3", step="0.25", direction="largest")
    assert s.order == [3.0, 2.75, 2.5, 2.25, 2.0]


@pytest.mark.parametrize("text,kw,message", [
    ("cluster.nodes=800..300", {}, "reversed range"),
    ("cluster.nodes=..", {}, "empty range"),
    ("cluster.nodes=300..", {}, "empty range"),
    ("cluster.nodes=300", {}, "expected a range"),
    ("cluster.nodes", {}, "expected KEY=LO..HI"),
    ("cluster.nodes=3.5..9", {}, "needs a --step"),
    ("x=1.5..9d", {}, "both ends as durations"),
    ("power.cap_mw=2..x", {"step": "0.1"}, "neither a number nor a duration"),
    ("cluster.nodes=1..9", {"step": "0"}, "must be > 0"),
    ("cluster.nodes=1..9", {"direction": "up"}, "--direction"),
])
def test_parse_search_errors(text, kw, message):
    with pytest.raises(ClusterSimError, match=message):
        parse_search(text, **kw)


@pytest.mark.parametrize("n", [2, 3, 7, 50, 501])
@pytest.mark.parametrize("probes", [1, 3])
def test_search_order_finds_first_feasible(n, probes):
    for first in range(n):
        asked: list[int] = []

        def meets(indices, first=first, asked=asked):
            asked += indices
            return {i: i >= first for i in indices}

        index, at_end = _search_order(n, meets, probes)
        assert index == first and at_end == (first == 0)
        assert len(asked) <= 2 + probes * (math.ceil(math.log2(n)) + 1)


def test_search_order_none_feasible():
    assert _search_order(10, lambda idx: {i: False for i in idx}, 1) == (None, False)
