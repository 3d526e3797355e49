"""EASY backfilling with run-time estimates (Mu'alem & Feitelson 2001): the reservation and the
backfill test use requested times; killing at the limit. Schedules computed by hand."""

from __future__ import annotations

import pytest
from policy_helpers import run, scenario, spec, table

from clustersim.config import scenario_from_dict
from clustersim.errors import ScenarioError

JOBS = [spec("R", 0, 1, 10), spec("H", 1, 2, 5), spec("B", 2, 1, 9)]


def backfill(estimate="exact", **kw):
    return {"kind": "backfill", "estimate": estimate, **kw}


def test_exact_estimates_as_before():
    # two 1-GPU nodes. R (1 GPU, 10 s) at 0. H (2 GPUs) at 1 is the head: shadow time 10 (R's
    # end), no extra node at 10. B (1 GPU, 9 s) at 2 would end at 11 > 10 and there is no extra:
    # it waits. R ends 10, H 10-15, B 15-24.
    _, r = run(scenario(nodes=2, policy=backfill()), JOBS)
    assert table(r) == {"R": (0.0, 10.0, 0, 0.0), "H": (10.0, 15.0, 0, 0.0), "B": (15.0, 24.0, 0, 0.0)}


def test_estimates_move_the_reservation():
    # every user asks for 2 x the true time. H's shadow: R's estimated end 0 + 20 = 20. B asks
    # for 18 s: 2 + 18 = 20 <= 20, so it backfills at 2 (the true EASY would). R ends at 10,
    # before its estimate; B truly ends at 11 and H starts then: H 11-16.
    _, r = run(scenario(nodes=2, policy=backfill({"factor": 2})), JOBS)
    assert table(r) == {"R": (0.0, 10.0, 0, 0.0), "H": (11.0, 16.0, 0, 0.0), "B": (2.0, 11.0, 0, 0.0)}


def test_a_longer_overestimate_blocks_the_backfill():
    # factor 3: shadow 30, B asks 27: 2 + 27 = 29 <= 30, backfills; same as factor 2. With B
    # of 9.5 s and factor 2: B asks 19, 2 + 19 = 21 > 20 and no extra: B waits as with exact
    # estimates, behind H (which starts at R's true end, 10): H 10-15, B 15-24.5.
    jobs = [spec("R", 0, 1, 10), spec("H", 1, 2, 5), spec("B", 2, 1, 9.5)]
    _, r = run(scenario(nodes=2, policy=backfill({"factor": 2})), jobs)
    assert table(r) == {"R": (0.0, 10.0, 0, 0.0), "H": (10.0, 15.0, 0, 0.0), "B": (15.0, 24.5, 0, 0.0)}


def trace_scenario(tmp_path, policy):
    path = tmp_path / "t.csv"
    path.write_text("job_id,submit_s,num_gpus,duration_s\nx,0,1,1\n")
    return scenario_from_dict({
        "name": "t", "horizon": 1000, "cluster": {"nodes": 1, "gpus_per_node": 1},
        "scheduler": {"policy": policy}, "workload": {"trace": str(path)},
    })


@pytest.mark.parametrize("kill", [True, False])
def test_kill_at_the_requested_limit(tmp_path, kill):
    # one GPU; limits from the trace column. A (10 s, limit 6) at 0; B (3 s, limit 5) at 1.
    # Killed at its limit: A ends at 6 with 6 s of work done, reason "killed: time limit"; B
    # 6-9. Running on: A 0-10, B 10-13.
    sc = trace_scenario(tmp_path, backfill("column", kill_at_limit=kill))
    _, r = run(sc, [spec("A", 0, 1, 10, "trace", time_limit=6), spec("B", 1, 1, 3, "trace", time_limit=5)])
    jobs = r.jobs.set_index("job_id")
    assert (jobs["state"] == "finished").all()
    if kill:
        assert table(r) == {"A": (0.0, 6.0, 0, 0.0), "B": (6.0, 9.0, 0, 0.0)}
        assert jobs.loc["A", "reason"] == "killed: time limit" and jobs.loc["B", "reason"] == ""
        assert jobs.loc["A", "work_done_s"] == 6.0 and jobs.loc["A", "useful_s"] == 6.0
    else:
        assert table(r) == {"A": (0.0, 10.0, 0, 0.0), "B": (10.0, 13.0, 0, 0.0)}
        assert (jobs["reason"] == "").all()


def test_a_job_without_a_limit_is_planned_with_its_true_time(tmp_path):
    # two nodes; column estimates, R has no limit (NaN: planned at its true 10 s), B asks 7:
    # 2 + 7 = 9 <= 10, backfills at 2 and truly takes 8 (ends 10); H 10-15.
    sc = trace_scenario(tmp_path, backfill("column"))
    sc = sc.model_copy(update={"cluster": sc.cluster.model_copy(update={"nodes": 2})})
    jobs = [spec("R", 0, 1, 10, "trace"), spec("H", 1, 2, 5, "trace", 5), spec("B", 2, 1, 8, "trace", 7)]
    _, r = run(sc, jobs)
    assert table(r) == {"R": (0.0, 10.0, 0, 0.0), "H": (10.0, 15.0, 0, 0.0), "B": (2.0, 10.0, 0, 0.0)}


def test_bad_estimate_settings():
    with pytest.raises(ScenarioError, match=r"kill_at_limit"):
        scenario(policy=backfill(kill_at_limit=True))
    with pytest.raises(ScenarioError, match=r"factor"):
        scenario(policy=backfill({"factor": 0.5}))
    with pytest.raises(ScenarioError, match=r"estimate: column reads"):  # synthetic classes: no column
        scenario(policy=backfill("column"))
