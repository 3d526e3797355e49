"""Bad input at the edges of the scenario format (issue 16): the YAML reader, strict scalars,
non-finite numbers, names that are paths, sizes no machine could simulate, and empirical
files. Each is one problem naming the field (or the line), never an exception of another kind.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml

from clustersim.config import load_scenario, scenario_from_dict, scenario_with_overrides
from clustersim.config.base import MAX_JOBS, MAX_NODES, MAX_REPLICAS, Frozen
from clustersim.config.distributions import Empirical
from clustersim.config.yaml_reader import MAX_DEPTH, YamlProblem, load
from clustersim.errors import ScenarioError

BASE = {
    "name": "edge",
    "horizon": "1d",
    "cluster": {"nodes": 2, "gpus_per_node": 8},
    "scheduler": {"policy": "fifo"},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}]},
}
BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)


def with_(path: str, value) -> dict:
    data = copy.deepcopy(BASE)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return data


def problems_of(data) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.yaml")
    return info.value.problems


def file_problems(tmp_path: Path, content: bytes | str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    return info.value.problems


# ------------------------------------------------------------------------------ the YAML reader


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x: 16", 16), ("x: -3", -3), ("x: 1e3", 1000.0), ("x: 2.5", 2.5), ("x: .5", 0.5), ("x: true", True),
        ("x: 0x10", "0x10"), ("x: 0o20", "0o20"), ("x: 010", "010"), ("x: 1_000", "1_000"), ("x: 1:30", "1:30"),
        ("x: yes", "yes"), ("x: off", "off"), ("x: null", None), ("x: 2h", "2h"), ("x: 007", "007"),
    ],
)
def test_plain_scalars_mean_what_they_look_like(text, value):
    assert load(text) == {"x": value}


def test_infinities_are_read_then_refused_by_the_models():
    assert math.isinf(load("x: .inf")["x"]) and math.isnan(load("x: .nan")["x"])


def test_a_duplicate_key_is_an_error_naming_both_lines():
    with pytest.raises(YamlProblem, match=r"key 'horizon' is given twice \(first on line 1\)") as info:
        load("horizon: 1d\nname: x\nhorizon: 2d\n")
    assert info.value.where == "line 3, column 1"


def test_a_merge_key_is_not_a_duplicate():
    assert load("a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n")["b"] == {"x": 2}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x: !!python/object/apply:os.system ['echo']", "'!!python/object/apply:os.system' is not read"),
        ("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "nested more than"),
        ("x: 2023-02-30", "cannot read '2023-02-30'"),
        ("x: [1, 2", "not valid YAML"),
        ("? [a, b]\n: 1", "a key cannot be a list"),
        ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]",
         "once aliases are expanded"),
        ("x: 1\x00", "U+0000 cannot appear"),
        ("x: " + "9" * 5000, "cannot read"),
    ],
)
def test_text_the_reader_refuses(text, says):
    with pytest.raises(YamlProblem, match=None) as info:
        load(text)
    assert says in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (BASE_TEXT.encode("utf-16"), "UTF-16"),
        (BASE_TEXT.encode("utf-32"), "UTF-32"),
        ((BASE_TEXT + "# café\n").encode("latin-1"), "line 14: not UTF-8 text (byte 0xe9)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        ("x: " + "[" * 5000 + "]" * 5000, "nested more than"),
        (BASE_TEXT + "horizon: 2d\n", "key 'horizon' is given twice"),
        ("- a\n- b\n", "(top level): expected a mapping of keys"),
        ("", "the file is empty"),
    ],
)
def test_a_bad_scenario_file_is_one_problem(tmp_path, content, says):
    found = file_problems(tmp_path, content)
    assert len(found) == 1 and says in found[0], found


def test_a_byte_order_mark_and_crlf_are_fine(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE_TEXT.replace("\n", "\r\n").encode())
    assert load_scenario(path).cluster.nodes == 2


def test_a_directory_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


# ------------------------------------------------------------------------------ --set values


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("cluster.nodes=[1,2", "--set cluster.nodes=[1,2: not valid YAML"),
        ("cluster.nodes=!!python/object:os.system {}", "is not read"),
        ("workload.classes[0].gpus={1: 0.5, 1: 0.5}", "key 1 is given twice"),
        ("cluster.nodes=0x10", "cluster.nodes: expected a valid integer (a whole number) written in decimal"),
        ("cluster.nodes=true", "cluster.nodes: expected a valid integer (a whole number), got true"),
        ("workload.classes[0].arrival_rate_per_h=.inf", "arrival_rate_per_h: Input should be a finite number"),
        ("horizon=.nan", "horizon: expected a finite duration"),
    ],
)
def test_overrides_are_read_as_the_file_is(assignment, says):
    with pytest.raises(ScenarioError) as info:
        scenario_with_overrides(BASE, [assignment], source="s.yaml with --set", base_dir=None)
    assert len(info.value.problems) == 1 and says in info.value.problems[0], info.value.problems


def test_an_override_may_use_exponent_notation():
    sc = scenario_with_overrides(BASE, ["workload.classes[0].arrival_rate_per_h=1e1"], source="s", base_dir=None)
    assert sc.workload.classes[0].arrival_rate_per_h == 10.0


# ------------------------------------------------------------------------------ strict scalars


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("cluster.nodes", True, "expected a valid integer (a whole number), got true (a yes/no value)"),
        ("cluster.nodes", "0x10", "written in decimal, got '0x10'"),
        ("cluster.nodes", "010", "leading zeros are not read"),
        ("cluster.nodes", "16", "got the text '16'"),
        ("cluster.gpus_per_node", False, "got false"),
        ("workload.classes.0.arrival_rate_per_h", True, "expected a valid number, got true"),
        ("workload.classes.0.arrival_rate_per_h", "2", "expected a valid number, got the text '2'"),
        ("workload.classes.0.preemptible", 1, "expected true or false, got 1"),
        ("workload.classes.0.preemptible", "yes", "expected true or false, got 'yes'"),
        ("workload.classes.0.hourly", [1.0] * 23 + [True], "hourly[23]: expected a valid number, got true"),
    ],
)
def test_scalars_are_read_only_as_what_the_field_means(path, value, says):
    found = problems_of(with_(path, value))
    assert len(found) == 1 and says in found[0], found
    assert found[0].startswith(path.replace(".0.", "[0].")), found


def test_every_model_is_frozen_strict_and_refuses_non_finite_numbers():
    from pydantic import BaseModel

    import clustersim.config  # noqa: F401  (every model module imported)

    models, todo = [], list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("clustersim.config."):
            models.append(cls)
    assert len(models) > 20
    for cls in models:
        assert issubclass(cls, Frozen), cls
        assert cls.model_config.get("allow_inf_nan") is False, cls
        assert cls.model_config.get("frozen") and cls.model_config.get("extra") == "forbid", cls


# ------------------------------------------------------------------------------ non-finite numbers

SERVICE = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15, "demand": {"base_rps": 100}}
SUPPLY = {"gpu_types": {"A100": {"speed": 1.0}}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (with_("workload.classes.0.arrival_rate_per_h", math.inf), "workload.classes[0].arrival_rate_per_h"),
        ({**BASE, "failures": {"rate_per_1000_node_days": math.inf}}, "failures.rate_per_1000_node_days"),
        ({**BASE, "supply": {"gpu_types": {"A100": {"speed": math.inf}}}}, "supply.gpu_types.A100.speed"),
        ({**BASE, "services": [{**SERVICE, "rps_per_replica": math.inf}]}, "services[0].rps_per_replica"),
        ({**BASE, "services": [{**SERVICE, "demand": {"base_rps": math.inf}}]}, "services[0].demand.base_rps"),
        ({**BASE, "services": [{**SERVICE, "demand": {"base_rps": 1, "weekend_factor": math.inf}}]},
         "services[0].demand.weekend_factor"),
        ({**BASE, "services": [{**SERVICE, "demand": {"base_rps": 1, "noise": math.nan}}]}, "services[0].demand.noise"),
        ({**BASE, "failures": {"causes": {"gpu": math.nan, "network": 1}}}, "failures.causes.gpu"),
        (with_("horizon", math.inf), "horizon"),
    ],
)
def test_non_finite_numbers_are_refused(data, field):
    found = problems_of(data)
    assert len(found) == 1 and found[0].startswith(f"{field}:"), found
    assert "finite" in found[0], found


# ------------------------------------------------------------------------------ names


@pytest.mark.parametrize("name", ["../../../somewhere", "/etc/cron.d/x", "a/b", "..", ".", "a\\b", "C:x", "a\x00b",
                                  " padded", "tab\there"])
def test_the_name_is_a_name_not_a_path(name):
    found = problems_of(with_("name", name))
    assert len(found) == 1 and found[0].startswith("name: a name, not a path"), found


@pytest.mark.parametrize("name", ["lingang-4000", "v1.2", "chat_4d", "...x", "集群"])
def test_ordinary_names_are_fine(name):
    assert scenario_from_dict(with_("name", name)).name == name


# ------------------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (with_("cluster.nodes", 10**12), "cluster.nodes", f"at most {MAX_NODES:,}"),
        ({**BASE, "supply": {"orders": [{"nodes": MAX_NODES}]}}, "supply", f"at most {MAX_NODES:,}"),
        (with_("workload.classes.0.arrival_rate_per_h", 1e12), "workload.classes[0].arrival_rate_per_h",
         f"at most {MAX_JOBS:,}"),
        (with_("workload.classes.0.gpus", 10**30), "workload.classes[0].gpus", "at most 1,000,000"),
        ({**BASE, "failures": {"rate_per_1000_node_days": 1e300}}, "failures.rate_per_1000_node_days", "at most"),
        ({**BASE, "services": [{**SERVICE, "rps_per_replica": 1e-300, "demand": {"base_rps": 1e300}}]},
         "services[0].demand.base_rps", f"at most {MAX_REPLICAS:,}"),
        ({**BASE, "services": [{**SERVICE, "autoscale": {"min_replicas": 10**12}}]}, "services[0].autoscale.min_replicas",
         "less than or equal to"),
        ({**BASE, "horizon": "1000d", "services": [{**SERVICE, "demand": {"base_rps": 1, "growth_per_month": 1e300}}]},
         "services[0].demand.growth_per_month", "1e100"),
        (with_("horizon", 1e300), "horizon", "1,000 years"),
        ({**BASE, "failures": {"life": {"kind": "weibull", "shape": 1e-300}}}, "failures.life.shape", "0.1"),
        (with_("workload.classes.0.duration", {"kind": "lognormal", "median": 1e-300, "p90": "1000d"}),
         "workload.classes[0].duration", "narrower"),
    ],
)
def test_sizes_past_what_a_run_can_hold_are_refused_with_the_limit(data, field, says):
    found = problems_of(data)
    assert len(found) == 1 and found[0].startswith(field), found
    assert says in found[0], found


def test_a_service_capped_by_max_replicas_is_fine():
    sc = scenario_from_dict({**BASE, "services": [{**SERVICE, "demand": {"base_rps": 1e300},
                                                   "autoscale": {"max_replicas": 4}}]})
    assert sc.services[0].autoscale.max_replicas == 4


# ------------------------------------------------------------------------------ empirical files


def empirical(tmp_path: Path, content: bytes | None, name: str = "d.txt") -> dict:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    return with_("workload.classes.0.duration", {"kind": "empirical", "file": name})


def test_an_empirical_file_is_read_relative_to_the_scenario(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.txt").write_text("60\n120\n")
    path = tmp_path / "sub" / "s.yaml"
    data = with_("workload.classes.0.duration", {"kind": "empirical", "file": "d.txt"})
    data["failures"] = {"detection": {"kind": "empirical", "file": "d.txt"}}
    path.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(Path("sub/s.yaml"))
    assert sc.workload.classes[0].duration.file == Path("sub/d.txt")
    assert sc.failures.detection.file == Path("sub/d.txt")
    assert sc.failures.detection.mean() == 90.0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "no values"),
        (b"\n\n", "no values"),
        (b"duration_s\n", "no values"),
        (b"10\ninf\n", "d.txt:2: expected a duration in seconds"),
        (b"10\n\n-nan\n", "d.txt:3: expected a duration in seconds"),
        (b"1e400\n", "d.txt:1:"),
        (b"1e20\n", "d.txt:1:"),
        (b"\xff\xfe1\x000\x00", "not UTF-8"),
        (None, "not found"),
    ],
)
def test_a_bad_empirical_file_is_a_scenario_problem_naming_the_file(tmp_path, content, says):
    found = problems_of(_in(tmp_path, empirical(tmp_path, content)))
    assert len(found) == 1 and found[0].startswith("workload.classes[0].duration"), found
    assert says in found[0], found


def _in(tmp_path: Path, data: dict) -> dict:
    data["workload"]["classes"][0]["duration"]["file"] = str(tmp_path / "d.txt")
    return data


def test_an_empirical_directory_is_a_scenario_problem(tmp_path):
    data = with_("workload.classes.0.duration", {"kind": "empirical", "file": str(tmp_path)})
    found = problems_of(data)
    assert len(found) == 1 and "is a directory" in found[0], found


def test_an_empirical_path_object_is_taken_as_it_is(tmp_path):
    (tmp_path / "d.txt").write_text("5\n")
    assert Empirical(kind="empirical", file=tmp_path / "d.txt").mean() == 5.0
