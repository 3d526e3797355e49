"""Bad input to the services section: one clear message naming the field."""

from __future__ import annotations

import pytest

from clustersim.config import DEEPSEEK_HOURLY, scenario_from_dict
from clustersim.errors import ClusterSimError


def data(**svc_changes):
    svc = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15,
           "demand": {"base_rps": 100, "hourly": list(DEEPSEEK_HOURLY)}}
    for path, value in svc_changes.items():
        *parents, leaf = path.split("__")
        node = svc
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return {
        "name": "bad",
        "horizon": "1d",
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 1, "duration": "1h"}]},
        "services": [svc],
    }


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"demand__hourly": [1.0] * 23}, "services[0].demand.hourly", "expected 24 hourly multipliers"),
        ({"demand__hourly": [1.0] * 23 + [-1.0]}, "services[0].demand.hourly", ">= 0"),
        ({"demand__base_rps": -5}, "services[0].demand.base_rps", "greater than or equal to 0"),
        ({"rps_per_replica": -1}, "services[0].rps_per_replica", "greater than 0"),
        ({"rps_per_replica": 0}, "services[0].rps_per_replica", "greater than 0"),
        ({"gpus_per_replica": 12}, "services[0].gpus_per_replica", "not a multiple of 8"),
        ({"autoscale__min_replicas": 5, "autoscale__max_replicas": 2}, "services[0].autoscale.min_replicas",
         "larger than max_replicas"),
        ({"demand__weekend_factor": -0.5}, "services[0].demand.weekend_factor", "greater than or equal to 0"),
    ],
)
def test_bad_input_gets_one_message_naming_the_field(changes, field, words):
    with pytest.raises(ClusterSimError) as err:
        scenario_from_dict(data(**changes))
    lines = [ln.strip() for ln in str(err.value).splitlines()[1:]]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field}:"), lines
    assert words in lines[0]


def test_curve_or_log_not_both_and_not_neither():
    d = data()
    d["services"][0]["demand"] = {"hourly": [1.0] * 24}
    with pytest.raises(ClusterSimError, match=r"services\[0\]\.demand: .*exactly one of `base_rps`"):
        scenario_from_dict(d)


def test_whole_node_replicas_and_duplicates():
    scenario_from_dict(data(gpus_per_replica=16))  # whole nodes: fine
    d = data()
    d["services"].append(dict(d["services"][0]))
    with pytest.raises(ClusterSimError, match=r"services\[1\]\.name: service names must be unique"):
        scenario_from_dict(d)


def test_reserved_nodes_must_leave_training_a_node():
    d = data()
    d["inference"] = {"reserved_nodes": 4}
    with pytest.raises(ClusterSimError, match=r"inference\.reserved_nodes: 4 reserved nodes"):
        scenario_from_dict(d)


def test_deepseek_profile_matches_calibration():
    assert len(DEEPSEEK_HOURLY) == 24
    assert min(DEEPSEEK_HOURLY) / max(DEEPSEEK_HOURLY) == pytest.approx(0.21)
    assert sum(DEEPSEEK_HOURLY) / 24 == pytest.approx(0.75, abs=0.01)
