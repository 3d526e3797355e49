"""The ``failures`` section of a scenario: defaults, and bad input turned into one clear
message that names the field (``ScenarioError``), through the API and through the CLI."""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.config import FailuresConfig, scenario_from_dict
from clustersim.errors import ScenarioError

BASE = {
    "name": "x",
    "horizon": "1d",
    "cluster": {"nodes": 4, "gpus_per_node": 8},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 1, "duration": "1h"}]},
}


def with_failures(failures: dict, **top) -> dict:
    data = copy.deepcopy(BASE)
    data["failures"] = failures
    data.update(top)
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="x.yaml")
    err = info.value
    assert str(err).startswith("x.yaml: invalid scenario")
    return err.problems


def test_defaults_are_calibration_7a_to_7c():
    f = scenario_from_dict(with_failures({})).failures
    assert f.rate_per_1000_node_days == 5.0
    assert f.job_rate_per_1000_node_days == 0.9
    assert sum(f.causes.values()) == pytest.approx(1.0)
    assert [r.name for r in f.repair] == ["soft", "swap", "vendor"]
    assert sum(r.share for r in f.repair) == pytest.approx(1.0)
    assert f.detection.mean() == 180.0
    assert (f.checkpoint.interval, f.checkpoint.cost, f.checkpoint.restart) == (
        "young",
        30.0,
        600.0,
    )
    assert f.spare_nodes == 0 and f.requeue == "original"
    assert f.early_life is None and f.lemons is None
    # the lognormal mean used by the Little's-law test: median * exp(sigma^2 / 2),
    # sigma = ln(p90 / median) / 1.2816
    soft = f.repair[0].time
    sigma = math.log(4.0) / 1.2815515655446004
    assert soft.mean() == pytest.approx(3600.0 * math.exp(sigma**2 / 2))
    # absent section: failures off
    assert scenario_from_dict(copy.deepcopy(BASE)).failures is None


def test_durations_with_units_are_parsed():
    f = scenario_from_dict(
        with_failures(
            {
                "detection": "5m",
                "checkpoint": {"interval": "30m", "cost": "30s", "restart": "10m"},
                "early_life": {"multiplier": 3, "period": "30d"},
            }
        )
    ).failures
    assert f.detection.mean() == 300.0
    assert (f.checkpoint.interval, f.checkpoint.cost, f.checkpoint.restart) == (1800.0, 30.0, 600.0)
    assert f.early_life.period == 30 * 86400.0
    assert FailuresConfig(life={"kind": "weibull", "shape": 0.7}).life.shape == 0.7


# Each case: the failures section, the field the message must name, a phrase it must contain.
BAD = {
    "negative node rate": (
        {"rate_per_1000_node_days": -1},
        "failures.rate_per_1000_node_days",
        "greater than or equal to 0",
    ),
    "negative job rate": (
        {"job_rate_per_1000_node_days": -0.5},
        "failures.job_rate_per_1000_node_days",
        "greater than or equal to 0",
    ),
    "NaN node rate": (
        {"rate_per_1000_node_days": float("nan")},
        "failures.rate_per_1000_node_days",
        "",
    ),
    "causes not summing to 1": (
        {"causes": {"gpu": 0.5, "network": 0.3}},
        "failures.causes",
        "must sum to 1, got 0.8",
    ),
    "negative cause share": (
        {"causes": {"gpu": 1.5, "network": -0.5}},
        "failures.causes",
        ">= 0",
    ),
    "unknown life kind": ({"life": {"kind": "gamma"}}, "failures.life", "unknown kind 'gamma'"),
    "unknown life shorthand": ({"life": "lognormal"}, "failures.life", "unknown kind 'lognormal'"),
    "unknown repair time kind": (
        {"repair": [{"name": "a", "share": 1, "time": {"kind": "gamma", "mean": 3}}]},
        "failures.repair[0].time",
        "unknown kind 'gamma'",
    ),
    "repair shares not summing to 1": (
        {
            "repair": [
                {"name": "a", "share": 0.5, "time": "1h"},
                {"name": "b", "share": 0.3, "time": "1h"},
            ]
        },
        "failures.repair",
        "must sum to 1, got 0.8",
    ),
    "no repair class": ({"repair": []}, "failures.repair", "at least one"),
    "repair lognormal p90 below median": (
        {
            "repair": [
                {
                    "name": "a",
                    "share": 1,
                    "time": {"kind": "lognormal", "median": "2h", "p90": "1h"},
                }
            ]
        },
        "failures.repair[0].time",
        "p90",
    ),
    "checkpoint interval 0": (
        {"checkpoint": {"interval": 0}},
        "failures.checkpoint.interval",
        "must be > 0",
    ),
    "negative checkpoint cost": (
        {"checkpoint": {"cost": -5}},
        "failures.checkpoint.cost",
        "non-negative",
    ),
    "negative spares": ({"spare_nodes": -1}, "failures.spare_nodes", "greater than or equal to 0"),
    "unknown detection kind": (
        {"detection": {"kind": "weird"}},
        "failures.detection",
        "unknown kind",
    ),
    "unknown requeue": ({"requeue": "back"}, "failures.requeue", "'original' or 'front'"),
    "early-life multiplier below 1": (
        {"early_life": {"multiplier": 0.5, "period": "30d"}},
        "failures.early_life.multiplier",
        "greater than or equal to 1",
    ),
    "lemon fraction above 1": (
        {"lemons": {"fraction": 2, "multiplier": 10, "pull_after": 3}},
        "failures.lemons.fraction",
        "less than or equal to 1",
    ),
    "misspelt key": ({"rate": 3}, "failures.rate", "unknown key"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_failures_input_gives_one_message_naming_the_field(case):
    section, field, phrase = BAD[case]
    lines = problems(with_failures(section))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field}: "), lines
    assert phrase in lines[0], lines


@pytest.mark.parametrize("spares", [4, 5])
def test_spare_pool_as_large_as_the_cluster_is_rejected(spares):
    # a cross-field check: the message names both fields and both values
    lines = problems(with_failures({"spare_nodes": spares}))
    assert len(lines) == 1, lines
    assert f"failures.spare_nodes ({spares})" in lines[0]
    assert "cluster.nodes (4)" in lines[0]
    # one fewer than the cluster is allowed
    assert scenario_from_dict(with_failures({"spare_nodes": 3})).failures.spare_nodes == 3


def test_class_checkpoint_interval_zero_names_the_class_field():
    data = with_failures({})
    data["workload"]["classes"][0]["checkpoint"] = {"interval": 0}
    lines = problems(data)
    assert lines == [
        "workload.classes[0].checkpoint.interval: interval must be > 0 (or `young`) (got 0)"
    ]


def test_weibull_shape_error_names_the_field_the_user_wrote():
    lines = problems(with_failures({"life": {"kind": "weibull", "shape": 0}}))
    assert lines[0].startswith("failures.life.shape: "), lines


def test_negative_checkpoint_interval_gives_one_message():
    lines = problems(with_failures({"checkpoint": {"interval": "-5m"}}))
    assert len(lines) == 1, lines


def test_cli_validate_reports_bad_failures_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_failures({"causes": {"gpu": 0.5, "network": 0.3}})))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code != 0
    output = result.output  # stderr is part of the output in click >= 8.2 and by default before
    assert "Traceback" not in output
    assert "failures.causes: cause shares must sum to 1, got 0.8" in output
    assert str(path) in output
    # and a good file validates
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(with_failures({"spare_nodes": 1})))
    ok = CliRunner().invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: ")
