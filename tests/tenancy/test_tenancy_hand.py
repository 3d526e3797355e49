"""Hand-made schedules with exact start, preemption and end times: borrowing, reclaim (at once
and after a grace period), the borrowing limit, guaranteed jobs ahead of the policy's order,
and priority preemption (requeue and suspend)."""

from __future__ import annotations

import math

import pytest
from tenancy_helpers import col, run, scenario, silent, spec, team_gpu_seconds, two_teams


def test_idle_quota_is_borrowed_and_reclaimed_at_once():
    # 4 GPUs, A and B own 2 each. B's four jobs borrow A's idle half; A's job at t=10 takes it
    # back: the newest borrower (ties: submission order, so b0) loses its 10 s and requeues.
    sc = scenario(tenancy=two_teams())
    jobs = [spec(f"b{i}", 0, 1, 100, "b") for i in range(4)] + [spec("a0", 10, 1, 50, "a")]
    r = run(sc, jobs)
    start, end = col(r, "start_s"), col(r, "end_s")
    assert start["a0"] == 10 and end["a0"] == 60
    assert start["b0"] == 0 and end["b0"] == 160  # back at 60 when a0 ends, runs its 100 s again
    assert col(r, "reclaims")["b0"] == 1 and col(r, "reclaim_lost_gpu_s")["b0"] == 10
    assert col(r, "lost_s")["b0"] == 10 and col(r, "restarts")["b0"] == 1
    assert [end[f"b{i}"] for i in (1, 2, 3)] == [100, 100, 100]
    teams = r.summary["tenancy"]["teams"]
    assert teams["B"]["reclaims"] == 1 and teams["A"]["reclaims"] == 0
    assert teams["B"]["reclaimed_gpu_hours"] == pytest.approx(10 / 3600)
    # B held 4 GPUs on [0, 10), 3 on [10, 60), 4 on [60, 100), 1 on [100, 160): 2 above quota
    # on [0, 10) and [60, 100), 1 on [10, 60)
    assert teams["B"]["borrowed_gpu_hours"] == pytest.approx((2 * 10 + 1 * 50 + 2 * 40) / 3600)
    assert list(r.jobs["team"].astype(str)) == ["B"] * 4 + ["A"]


def test_reclaim_after_a_grace_period():
    sc = scenario(tenancy={**two_teams(), "reclaim": {"grace": 30}})
    jobs = [spec(f"b{i}", 0, 1, 100, "b") for i in range(4)] + [spec("a0", 10, 1, 50, "a")]
    r = run(sc, jobs)
    start, end = col(r, "start_s"), col(r, "end_s")
    assert start["a0"] == 40 and end["a0"] == 90  # waits exactly the grace period
    assert end["b0"] == 190 and col(r, "reclaim_lost_gpu_s")["b0"] == 40
    assert col(r, "wait_s")["a0"] == 30


def test_no_reclaim_when_the_borrowers_end_within_the_grace_period():
    sc = scenario(tenancy={**two_teams(), "reclaim": {"grace": 30}})
    jobs = [spec(f"b{i}", 0, 1, 20, "b") for i in range(4)] + [spec("a0", 10, 1, 50, "a")]
    r = run(sc, jobs)
    assert col(r, "start_s")["a0"] == 20
    assert r.summary["tenancy"]["reclaims"] == 0
    assert all(v == 0 for v in col(r, "restarts").values())


def test_reclaim_least_lost_picks_the_job_with_the_least_unsaved_work():
    sc = scenario(tenancy={**two_teams(), "reclaim": {"victims": "least_lost"}})
    jobs = [spec("b0", 0, 1, 100, "b"), spec("b1", 5, 1, 100, "b"), spec("b2", 6, 1, 100, "b"),
            spec("b3", 0, 1, 100, "b"), spec("a0", 10, 1, 50, "a")]
    r = run(sc, jobs)
    assert col(r, "reclaims") == {"b0": 0, "b1": 0, "b2": 1, "b3": 0, "a0": 0}


def test_the_borrowing_limit_caps_a_team():
    sc = scenario(tenancy=two_teams(borrowing_limit=1))
    r = run(sc, [spec(f"b{i}", 0, 1, 100, "b") for i in range(4)])
    assert sorted(col(r, "start_s").values()) == [0, 0, 0, 100]
    assert r.timeseries["team_gpus.B"].max() == 3


def test_a_borrowing_limit_of_zero_means_no_borrowing():
    sc = scenario(tenancy=two_teams(borrowing_limit=0))
    r = run(sc, [spec(f"b{i}", 0, 1, 100, "b") for i in range(4)])
    assert sorted(col(r, "start_s").values()) == [0, 0, 100, 100]


def test_a_capped_job_does_not_block_the_queue():
    # B at its cap (2 + 0): its waiting job is out of the policy's view, so A's later job
    # starts under strict FIFO
    sc = scenario(tenancy=two_teams(borrowing_limit=0))
    jobs = [spec("b0", 0, 2, 100, "b"), spec("b1", 1, 1, 100, "b"), spec("a0", 2, 1, 100, "a")]
    r = run(sc, jobs)
    assert col(r, "start_s") == {"b0": 0, "b1": 100, "a0": 2}


def test_a_guaranteed_job_goes_ahead_of_a_borrowing_head():
    # FIFO: B's 3-GPU head would borrow and does not fit; A's job within its quota starts.
    sc = scenario(tenancy=two_teams())
    jobs = [spec("b0", 0, 2, 100, "b"), spec("b1", 1, 3, 100, "b"), spec("a0", 2, 2, 10, "a")]
    r = run(sc, jobs)
    assert col(r, "start_s") == {"b0": 0, "b1": 100, "a0": 2}


def test_whole_node_reclaim():
    # 2 nodes x 8: B borrows both nodes with two 8-GPU jobs; A's 8-GPU job reclaims one node
    sc = scenario(nodes=2, gpus_per_node=8, tenancy=two_teams(8, 8))
    jobs = [spec("b0", 0, 8, 100, "b"), spec("b1", 1, 8, 100, "b"), spec("a0", 10, 8, 10, "a")]
    r = run(sc, jobs)
    assert col(r, "start_s")["a0"] == 10
    assert col(r, "reclaims") == {"b0": 0, "b1": 1, "a0": 0}  # newest segment first
    assert col(r, "end_s")["b1"] == 120


def test_gpu_seconds_add_up_per_team_with_reclaims():
    sc = scenario(tenancy=two_teams())
    jobs = [spec(f"b{i}", i, 1, 100 + i, "b") for i in range(6)] + [spec(f"a{i}", 10 + 7 * i, 1, 30, "a")
                                                                    for i in range(4)]
    r = run(sc, jobs)
    for name, (ts, jobs_) in team_gpu_seconds(r).items():
        assert ts == pytest.approx(jobs_, rel=1e-12), name


# ------------------------------------------------------------------------------- priorities


def prio_scenario(mode="requeue", **tenancy):
    return scenario(
        nodes=1,
        classes=[silent("lo", preemptible=True), silent("hi"), silent("mid", preemptible=True)],
        tenancy={"priority": {"classes": {"hi": 5, "mid": 2}}, "preemption": mode, **tenancy},
    )


def test_a_higher_priority_job_preempts_and_the_victim_requeues():
    r = run(prio_scenario(), [spec("lo", 0, 1, 100, "lo"), spec("hi", 30, 1, 20, "hi")])
    assert col(r, "start_s") == {"lo": 0, "hi": 30}
    assert col(r, "end_s") == {"lo": 150, "hi": 50}  # lo loses its 30 s, runs 100 s again
    assert col(r, "priority_preemptions") == {"lo": 1, "hi": 0}
    assert col(r, "priority_lost_gpu_s")["lo"] == 30
    assert col(r, "priority") == {"lo": 0, "hi": 5}


def test_suspend_keeps_the_victims_progress():
    r = run(prio_scenario("suspend"), [spec("lo", 0, 1, 100, "lo"), spec("hi", 30, 1, 20, "hi")])
    assert col(r, "end_s") == {"lo": 120, "hi": 50}
    assert col(r, "lost_s")["lo"] == 0 and col(r, "restarts")["lo"] == 0


def test_non_preemptible_jobs_are_never_preempted_and_priority_orders_the_queue():
    jobs = [spec("hi0", 0, 1, 100, "hi"), spec("lo", 10, 1, 10, "lo"), spec("hi1", 20, 1, 10, "hi")]
    r = run(prio_scenario(), jobs)
    assert col(r, "start_s") == {"hi0": 0, "lo": 110, "hi1": 100}


def test_lowest_priority_is_preempted_first():
    # 1 node of 1 GPU: mid runs, lo queued; hi preempts mid (the only running one)
    jobs = [spec("mid", 0, 1, 100, "mid"), spec("hi", 10, 1, 10, "hi")]
    r = run(prio_scenario("suspend"), jobs)
    assert col(r, "end_s") == {"mid": 110, "hi": 20}


def test_preemption_off():
    jobs = [spec("lo", 0, 1, 100, "lo"), spec("hi", 30, 1, 20, "hi")]
    sc = scenario(nodes=1, classes=[silent("lo", preemptible=True), silent("hi")],
                  tenancy={"priority": {"classes": {"hi": 5}, "preempt": False}})
    r = run(sc, jobs)
    assert col(r, "start_s") == {"lo": 0, "hi": 100}


def test_priority_preemption_stays_within_a_team():
    # teams A (hi) and B (lo): A's high-priority job may not preempt B's job (B is within its
    # quota; reclaim covers borrowing), so it waits
    sc = scenario(
        nodes=2, classes=[silent("lo", preemptible=True), silent("hi")],
        tenancy={"teams": [{"name": "A", "quota": 1, "classes": ["hi"]}, {"name": "B", "quota": 1, "classes": ["lo"]}],
                 "priority": {"classes": {"hi": 5}}},
    )
    jobs = [spec("lo", 0, 1, 100, "lo"), spec("hi0", 1, 1, 100, "hi"), spec("hi1", 2, 1, 10, "hi")]
    r = run(sc, jobs)
    assert col(r, "start_s")["hi1"] == 100  # when lo ends, borrowing B's idle GPU
    assert r.summary["tenancy"]["priority_preemptions"] == 0


def test_team_by_user_then_class_then_default():
    sc = scenario(
        classes=[silent("a"), silent("b"), silent("c")],
        tenancy={"teams": [{"name": "A", "quota": 2, "classes": ["a"], "users": ["alice"]},
                           {"name": "B", "quota": 2, "classes": ["b"]}], "default_team": "B"},
    )
    jobs = [spec("1", 0, 1, 10, "b", "alice"), spec("2", 0, 1, 10, "a"), spec("3", 0, 1, 10, "c"),
            spec("4", 0, 8, 10, "a")]
    r = run(sc, jobs)
    assert col(r, "team") == {"1": "A", "2": "A", "3": "B", "4": ""}  # rejected: no team
    assert col(r, "state")["4"] == "rejected"
    assert math.isnan(col(r, "start_s")["4"])
