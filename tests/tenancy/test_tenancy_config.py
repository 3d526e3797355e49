"""Bad tenancy input: one clear message naming the field, never an exception of another kind."""

from __future__ import annotations

import pytest
from tenancy_helpers import scenario, scenario_data, silent

from clustersim.config import scenario_from_dict
from clustersim.config.tenancy import resolve_gpus
from clustersim.errors import ScenarioError


def problems(**kw) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(scenario_data(**kw), source="s.yaml")
    return info.value.problems


def teams(*items, **extra) -> dict:
    return {"teams": list(items), **extra}


def test_quotas_summing_past_the_cluster():
    (p,) = problems(tenancy=teams({"name": "A", "quota": "80%", "classes": ["a"]},
                                  {"name": "B", "quota": 2, "classes": ["b"]}))
    assert p.startswith("tenancy.teams[1].quota:")
    assert "A 3 + B 2 = 5" in p and "quotas sum past the cluster" in p and "4 training GPUs" in p


def test_quota_shares_resolve_against_training_gpus():
    sc = scenario(nodes=10, gpus_per_node=8, failures={"spare_nodes": 2},
                  tenancy=teams({"name": "A", "quota": "50%", "classes": ["a", "b"]}))
    assert resolve_gpus(sc.tenancy.teams[0].quota, 64) == 32


def test_a_team_with_no_jobs_mapped():
    (p,) = problems(tenancy=teams({"name": "A", "quota": 1, "classes": ["a", "b"]}, {"name": "B", "quota": 1}))
    assert p.startswith("tenancy.teams[1]:") and "'B' has no jobs mapped" in p


def test_a_team_with_only_users_in_a_synthetic_workload_has_no_jobs():
    (p,) = problems(tenancy=teams({"name": "A", "quota": 1, "classes": ["a", "b"]},
                                  {"name": "B", "quota": 1, "users": ["x"]}))
    assert p.startswith("tenancy.teams[1]:")


@pytest.mark.parametrize(
    ("tenancy", "where", "words"),
    [
        (teams({"name": "A", "quota": 1, "classes": ["a", "b"]}, default_team="Z"), "tenancy.default_team", "unknown team 'Z'"),
        (teams({"name": "A", "quota": 1, "classes": ["a", "zz"]}), "tenancy.teams[0].classes[1]", "unknown job class 'zz'"),
        (teams({"name": "A", "quota": 1, "classes": ["a"]}), "tenancy.teams", "job class 'b' belongs to no team"),
        (teams({"name": "A", "quota": 1, "classes": ["a"]}, {"name": "A", "quota": 1, "classes": ["b"]}),
         "tenancy.teams[1].name", "unique"),
        (teams({"name": "A", "quota": 1, "classes": ["a"]}, {"name": "B", "quota": 1, "classes": ["b", "a"]}),
         "tenancy.teams[1].classes[1]", "already in team 'A'"),
        ({"priority": {"classes": {"nope": 3}}}, "tenancy.priority.classes", "unknown job class 'nope'"),
        (teams({"name": "A", "quota": -1, "classes": ["a", "b"]}), "tenancy.teams[0].quota", ">= 0"),
        (teams({"name": "A", "quota": 1, "classes": ["a", "b"], "borrowing_limit": -2}),
         "tenancy.teams[0].borrowing_limit", ">= 0"),
        (teams({"name": "A", "quota": 1, "classes": ["a", "b"], "borrowing_limit": "-10%"}),
         "tenancy.teams[0].borrowing_limit", ">= 0"),
        (teams({"name": "A", "quota": "150%", "classes": ["a", "b"]}), "tenancy.teams[0].quota", "at most 100%"),
        (teams({"name": "A", "quota": 1.5, "classes": ["a", "b"]}), "tenancy.teams[0].quota", "whole number"),
        (teams({"name": "A", "quota": 1, "classes": ["a", "b"], "weight": 0}), "tenancy.teams[0].weight", "greater than 0"),
        (teams({"name": "A", "quota": 1, "classes": ["a", "b"]}, reclaim={"victims": "oldest"}),
         "tenancy.reclaim.victims", "newest"),
    ],
)
def test_bad_input_names_the_field(tenancy, where, words):
    (p,) = problems(tenancy=tenancy)
    assert p.startswith(f"{where}:"), p
    assert words in p, p


def test_fairshare_needs_teams():
    (p,) = problems(policy="fairshare")
    assert p.startswith("scheduler.policy:") and "tenancy" in p
    (p,) = problems(policy="fairshare", tenancy={"priority": {"default": 1}})
    assert p.startswith("tenancy.teams:")


def test_a_trace_needs_a_default_team(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("job_id,submit_s,num_gpus,duration_s,user\n1,0,1,10,x\n")
    data = scenario_data(tenancy=teams({"name": "A", "quota": 1, "users": ["x"]}))
    data["workload"] = {"trace": str(trace)}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.yaml")
    (p,) = info.value.problems
    assert p.startswith("tenancy.default_team:")


def test_tenancy_with_supply_is_refused():
    data = scenario_data(gpus_per_node=8, tenancy=teams({"name": "A", "quota": 1, "classes": ["a", "b"]}))
    data["supply"] = {}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.yaml")
    assert any(p.startswith("tenancy:") for p in info.value.problems)


def test_a_good_section_loads():
    sc = scenario(classes=[silent("a"), silent("b")],
                  tenancy=teams({"name": "A", "quota": "50%", "classes": ["a"], "borrowing_limit": "25%"},
                                {"name": "B", "quota": 2, "classes": ["b"]}, reclaim={"grace": "5m"}))
    assert sc.tenancy.reclaim.grace == 300
    assert resolve_gpus(sc.tenancy.teams[0].borrowing_limit, 4) == 1
