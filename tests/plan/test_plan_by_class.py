"""Targets by what matters: a run whose p90 wait over all jobs meets 2 h while the class that
holds the GPU time does not. The report's verdict and `clustersim plan` both refuse it."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from clustersim.config import scenario_from_dict
from clustersim.engine import simulate
from clustersim.errors import ClusterSimError
from clustersim.planning.executor import LocalExecutor
from clustersim.planning.plan import plan, plan_markdown
from clustersim.planning.replications import MetricStats
from clustersim.planning.runs import Runner, RunStore
from clustersim.planning.targets import MET, MISSED, STRADDLES, UNKNOWN, check_targets, parse_target
from clustersim.report.files import load_run
from clustersim.report.sections.headline import headline_section
from clustersim.results.rundir import begin_run, write_run
from clustersim.results.summary import weighted_stats

# 32 GPUs; ~27,000 one-GPU jobs of 3 min (10% of GPU time) that never wait under SJF, and
# ~330 jobs of 24 GPUs x 1.5 h (90% of GPU time) that queue for hours behind one another.
HEAVY = {
    "name": "heavy",
    "horizon": "30d",
    "warmup": "2d",
    "cluster": {"nodes": 4, "gpus_per_node": 8},
    "scheduler": {"policy": "sjf"},
    "workload": {"classes": [
        {"name": "tiny", "arrival_rate_per_h": 40, "gpus": 1, "duration": {"kind": "exponential", "mean": "3m"}},
        {"name": "big", "arrival_rate_per_h": 0.5, "gpus": 24, "duration": "1.5h"},
    ]},
}
TARGETS = ["wait_s.p90<=2h", "by_class.*.wait_s.p90<=2h"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("heavy")
    sc = scenario_from_dict(HEAVY)
    begin_run(path, sc, 0)
    write_run(path, simulate(sc, 0))
    return path


def test_the_run_meets_the_overall_target_but_not_the_gpu_heavy_class(run_dir):
    summary = load_run(run_dir).summary
    assert summary["wait_s"]["p90"] <= 7200
    assert summary["by_class"]["big"]["wait_s"]["p90"] > 2 * 7200
    assert summary["by_class"]["big"]["gpu_share"] > 0.8
    assert summary["wait_s_gpu_weighted"]["p90"] > 7200  # the GPU-time view sees it


def test_the_report_verdict_refuses_and_names_the_class(run_dir):
    md = headline_section(load_run(run_dir)).markdown
    assert "<!-- class: not-met -->" in md
    assert "**Verdict: target not met.** The p90 wait over all jobs is 0 s, under the target, but 1 class" in md
    assert "big (" in md and "of GPU-hours, p90" in md
    assert "weighted by GPU time" in md


def test_the_verdict_share_is_an_option(tmp_path, run_dir):
    import json
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["scenario"]["verdict"] = {"heavy_share": 0.95}  # big (~90%) no longer counts
    (copy / "config.json").write_text(json.dumps(config))
    md = headline_section(load_run(copy)).markdown
    assert "**Verdict: target met.**" in md
    assert "smaller job class (under 95.0 % of the GPU-hours each) waits longer" in md


def test_plan_refuses_the_point_and_says_which_class(tmp_path):
    path = tmp_path / "heavy.yaml"
    path.write_text(yaml.safe_dump(HEAVY))
    runner = Runner(LocalExecutor(2), RunStore(tmp_path / "out"))
    try:
        result = plan(path, TARGETS, "cluster.nodes=4..4", seeds=4, runner=runner)
        overall_only = plan(path, TARGETS[:1], "cluster.nodes=4..4", seeds=4, runner=runner)
    finally:
        runner.executor.close()
    assert result.answer is None and result.status == "none_in_range"
    (ev,) = result.evaluations
    assert ev.verdicts == {TARGETS[0]: MET, TARGETS[1]: MISSED}
    assert result.binding_class(ev, result.targets[1]) == "big"
    data = result.to_dict()
    assert data["heavy_share"] == 0.1
    assert data["evaluated"][0]["targets"][TARGETS[1]]["class"] == "big"
    assert "(big)" in plan_markdown(result)
    # the count-weighted target alone passes, and the plan says what it hides
    assert overall_only.answer == 4
    assert any("not for big" in n and "by_class.*.wait_s.p90<=2h" in n for n in overall_only.notes)


def stats(mean: float, half: float = 1.0) -> MetricStats:
    return MetricStats(5, mean, half, half)


def test_group_targets_combine_the_classes_that_hold_enough_gpu_time():
    t = parse_target("by_class.*.wait_s.p90<=2h")
    assert t.group and t.value == 7200
    metrics = {
        "by_class.a.wait_s.p90": stats(100.0), "by_class.a.gpu_share": stats(0.6),
        "by_class.b.wait_s.p90": stats(9000.0), "by_class.b.gpu_share": stats(0.05),
        "by_class.c.wait_s.p90": stats(7200.5), "by_class.c.gpu_share": stats(0.35),
    }
    assert t.class_keys(metrics) == {"a": "by_class.a.wait_s.p90", "c": "by_class.c.wait_s.p90"}
    assert t.judge(metrics) == STRADDLES  # c straddles 2 h; b is too small to count
    assert t.judge(metrics, share=0.0) == MISSED  # every class: b misses
    assert t.binding(metrics) == ("c", metrics["by_class.c.wait_s.p90"])
    metrics["by_class.c.wait_s.p90"] = stats(100.0)
    assert t.judge(metrics) == MET
    assert t.judge({}) == UNKNOWN


def test_star_only_stands_for_the_class_and_groups_only_in_plans():
    with pytest.raises(ClusterSimError, match="may only stand for the class"):
        parse_target("wait_s.*<=2h")
    sc = scenario_from_dict(HEAVY)
    with pytest.raises(ClusterSimError, match="by_class.\\* targets are for `clustersim plan`"):
        check_targets([parse_target(TARGETS[1])], sc)
    check_targets([parse_target(TARGETS[1])], sc, groups=True)
    with pytest.raises(ClusterSimError, match="not a summary metric"):
        check_targets([parse_target("by_class.*.wait_s.p95<=2h")], sc, groups=True)


def test_gpu_weighted_percentiles():
    waits = np.array([0.0, 10.0, 100.0, 1000.0])
    weights = np.array([1.0, 1.0, 1.0, 7.0])  # the last job holds 70% of the GPU time
    s = weighted_stats(waits, weights, ("mean", "p50", "p90"))
    assert s == {"mean": pytest.approx(711.0), "p50": 1000.0, "p90": 1000.0}
    s = weighted_stats(waits, np.array([7.0, 1.0, 1.0, 1.0]), ("p50", "p90", "p99"))
    assert s == {"p50": 0.0, "p90": 100.0, "p99": 1000.0}
    assert weighted_stats(waits, np.zeros(4), ("p90",)) == {"p90": None}
