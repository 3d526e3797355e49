"""Scenario loading: defaults, shorthands, validation messages (one line per field),
``--set`` overrides, path resolution, and the JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from clustersim.config import (
    apply_override,
    load_scenario,
    scenario_from_dict,
    scenario_json_schema,
    scenario_with_overrides,
)
from clustersim.config.distributions import Exponential, Fixed, Lognormal
from clustersim.errors import ScenarioError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = {
    "name": "m",
    "horizon": "2d",
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 8, "duration": "2h"}]},
}


def problems(data: dict, source: str = "s.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data, source=source)
    assert str(err.value).startswith(f"{source}: invalid scenario")
    return err.value.problems


def with_(path: str, value) -> dict:
    data = copy.deepcopy(MINIMAL)
    apply_override(data, f"{path}={json.dumps(value)}")
    return data


# ------------------------------------------------------------------------------ valid input


def test_defaults_and_shorthands():
    s = scenario_from_dict(MINIMAL)
    assert s.horizon == 2 * 86400 and s.warmup == 0
    assert (s.cluster.nodes, s.cluster.gpus_per_node, s.cluster.gpus) == (500, 8, 4000)
    assert s.scheduler.policy.kind == "backfill" and s.scheduler.policy.depth == 100
    assert s.scheduler.placement.kind == "pack"
    cls = s.workload.classes[0]
    assert cls.gpus == {8: 1.0} and cls.mean_gpus == 8
    assert cls.duration == Fixed(value=7200.0)
    assert s.failures is None


def test_policy_and_distribution_forms():
    data = copy.deepcopy(MINIMAL)
    data["scheduler"] = {"policy": {"kind": "backfill", "depth": 7}, "placement": "spread"}
    data["workload"]["classes"] = [
        {"name": "e", "arrival_rate_per_h": 0.5, "gpus": {"1": 0.25, 4: 0.75}, "duration": {"kind": "exponential", "mean": "30m"}},
        {"name": "l", "arrival_rate_per_h": 2, "gpus": "2", "duration": {"kind": "lognormal", "median": "1h", "p90": "5h"}},
    ]
    s = scenario_from_dict(data)
    assert s.scheduler.policy.depth == 7 and s.scheduler.placement.kind == "spread"
    e, ln = s.workload.classes
    assert e.gpus == {1: 0.25, 4: 0.75} and e.mean_gpus == 3.25
    assert isinstance(e.duration, Exponential) and e.duration.mean() == 1800
    assert ln.gpus == {2: 1.0}
    assert isinstance(ln.duration, Lognormal) and ln.duration.median == 3600


def test_scenario_is_frozen():
    s = scenario_from_dict(MINIMAL)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.cluster.nodes = 3


def test_resolved_scenario_round_trips():
    # config.json stores model_dump(by_alias); reading it back must give the same scenario
    s = load_scenario(REPO / "tests" / "data" / "core" / "small.yaml", ["scheduler.policy=fifo"])
    again = scenario_from_dict(s.model_dump(mode="json", by_alias=True))
    assert again == s


@pytest.mark.parametrize("path", sorted((REPO / "seeds").glob("*.yaml")), ids=lambda p: p.name)
def test_every_seed_scenario_loads(path):
    s = load_scenario(path)
    assert s.horizon > s.warmup >= 0


def test_default_scenario_is_4000_gpus():
    s = load_scenario(REPO / "seeds" / "lingang-4000.yaml")
    assert s.cluster.gpus == 4000


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({**MINIMAL, "colour": "red"}, "colour", "unknown key"),
        (with_("cluster", {"nodes": 2, "gpu_per_node": 8}), "cluster.gpu_per_node", "unknown key"),
        (with_("cluster.nodes", "many"), "cluster.nodes", "valid integer"),
        (with_("cluster.nodes", 0), "cluster.nodes", "greater than or equal to 1"),
        (with_("cluster.gpus_per_node", 65), "cluster.gpus_per_node", "less than or equal to 64"),
        (with_("horizon", "3 days"), "horizon", "expected a duration such as"),
        (with_("horizon", -5), "horizon", "non-negative"),
        (with_("horizon", 0), "(top level)", "horizon must be > 0"),
        (with_("warmup", "3d"), "(top level)", "warmup"),
        (with_("workload.classes[0].duration", "-1h"), "workload.classes[0].duration", "expected a duration"),
        (with_("workload.classes[0].duration", {"kind": "exponential", "mean": 0}), "workload.classes[0].duration.mean", "greater than 0"),
        (with_("workload.classes[0].duration", {"kind": "lognormal", "median": "2h", "p90": "1h"}), "workload.classes[0].duration", "p90"),
        (with_("workload.classes[0].duration", {"kind": "gamma", "mean": 1}), "workload.classes[0].duration", "unknown kind 'gamma'"),
        (with_("workload.classes[0].gpus", {1: 0.5, 2: 0.4}), "workload.classes[0].gpus", "sum to 1"),
        (with_("workload.classes[0].gpus", 0), "workload.classes[0].gpus", ">= 1"),
        (with_("workload.classes[0].arrival_rate_per_h", -1), "workload.classes[0].arrival_rate_per_h", "greater than or equal to 0"),
        (with_("workload.classes[0].name", ""), "workload.classes[0].name", "at least 1 character"),
        (with_("scheduler.policy", "lifo"), "scheduler.policy", "unknown kind 'lifo'"),
        (with_("scheduler.placement", "random"), "scheduler.placement", "unknown kind 'random'"),
        (with_("scheduler.policy", {"kind": "backfill", "depth": 0}), "scheduler.policy.depth", "greater than or equal to 1"),
        (with_("workload.classes", []), "workload", "empty"),
        (with_("workload", {}), "workload", "exactly one of"),
        (with_("workload.trace", "t.csv"), "workload", "exactly one of"),
        ({k: v for k, v in MINIMAL.items() if k != "horizon"}, "horizon", "required field is missing"),
    ],
)
def test_validation_problem_names_the_field(data, field, says):
    found = problems(data)
    assert len(found) == 1, found
    # the location is the field the user wrote (a shorthand may add its inner name, as in
    # `duration.value` for `duration: -1h`)
    assert found[0].split(": ")[0] in (field, f"{field}.value"), found
    assert says in found[0], found


def test_duplicate_class_names():
    data = copy.deepcopy(MINIMAL)
    data["workload"]["classes"].append(copy.deepcopy(data["workload"]["classes"][0]))
    assert problems(data) == ["workload: class names must be unique, repeated: a"]


def test_several_problems_are_all_reported():
    data = with_("cluster.nodes", "x")
    data["horizon"] = "soon"
    found = problems(data)
    assert len(found) == 2 and {p.split(":")[0] for p in found} == {"cluster.nodes", "horizon"}


def test_top_level_must_be_a_mapping():
    assert problems([1, 2]) == ["(top level): expected a mapping of keys, got a list"]


# ------------------------------------------------------------------------------ files


def write(tmp_path: Path, data, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    bad = write(tmp_path, "name: x\nhorizon: [1, 2\n", "bad.yaml")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: invalid scenario\n  line \d+, column \d+: not valid YAML"):
        load_scenario(bad)
    empty = write(tmp_path, "", "empty.yaml")
    with pytest.raises(ScenarioError, match="the file is empty"):
        load_scenario(empty)


def test_trace_path_is_relative_to_the_scenario_file(tmp_path):
    sub = tmp_path / "scen"
    sub.mkdir()
    data = {**MINIMAL, "workload": {"trace": "jobs.csv"}}
    s = load_scenario(write(sub, data))
    assert s.workload.trace == sub / "jobs.csv"
    absolute = tmp_path / "elsewhere.csv"
    s = load_scenario(write(sub, {**MINIMAL, "workload": {"trace": str(absolute)}}))
    assert s.workload.trace == absolute


# ------------------------------------------------------------------------------ overrides


def test_overrides_set_nested_fields_and_list_items():
    s = scenario_with_overrides(
        MINIMAL,
        [
            "cluster.nodes=16",
            "workload.classes[0].duration=45m",
            "workload.classes[0].gpus={1: 0.5, 8: 0.5}",
            "scheduler.policy=sjf",
            "name=renamed",
        ],
        source="m",
        base_dir=None,
    )
    assert s.cluster.nodes == 16 and s.cluster.gpus_per_node == 8
    assert s.workload.classes[0].duration == Fixed(value=2700.0)
    assert s.workload.classes[0].gpus == {1: 0.5, 8: 0.5}
    assert s.scheduler.policy.kind == "sjf" and s.name == "renamed"
    assert MINIMAL["workload"]["classes"][0]["duration"] == "2h"  # input not mutated
    assert "cluster" not in MINIMAL


def test_override_expands_a_shorthand_policy():
    data = {**MINIMAL, "scheduler": {"policy": "backfill"}}
    s = scenario_with_overrides(data, ["scheduler.policy.depth=5"], source="m", base_dir=None)
    assert s.scheduler.policy.kind == "backfill" and s.scheduler.policy.depth == 5


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("cluster.nodes", "expected key=value"),
        ("cluster..nodes=3", "cannot parse key 'cluster..nodes'"),
        ("cluster.nodes[=3", "cannot parse key"),
        ("=3", "empty key"),
        ("workload.classes[5].name=x", "workload.classes[5].name: no list item [5] here"),
        ("workload.classes[1]=x", "no list item [1] here"),
        ("cluster[0]=x", "'cluster' is not a list"),
    ],
)
def test_bad_override(assignment, says):
    with pytest.raises(ScenarioError) as err:
        scenario_with_overrides(MINIMAL, [assignment], source="m.yaml", base_dir=None)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith("--set ")
    assert says in err.value.problems[0]
    assert str(err.value).startswith("m.yaml: invalid scenario")


def test_schema_documents_every_top_level_field():
    schema = scenario_json_schema()
    json.dumps(schema)
    assert {"name", "horizon", "warmup", "cluster", "scheduler", "workload"} <= set(schema["properties"])
    assert schema["required"] == ["name", "horizon", "workload"] or set(schema["required"]) == {"name", "horizon", "workload"}
