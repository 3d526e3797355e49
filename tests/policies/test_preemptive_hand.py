"""SRTF and Tiresias LAS on hand-made schedules: every start, preemption and end computed by
hand in the comments. Table rows are (first start, end, restarts, lost wall seconds)."""

from __future__ import annotations

import pytest
from policy_helpers import run, scenario, silent, spec, table

from clustersim.errors import ScenarioError


def las(thresholds, knob=None):
    return {"kind": "las", "thresholds": thresholds, "promote_knob": knob}


# ----------------------------------------------------------------------------------- SRTF


def test_srtf_preempts_for_less_remaining_work():
    # one GPU. t=0 A (10 s) starts. t=2 B (3 s) arrives: A has 10 - 2 = 8 left > 3, so B
    # preempts A (A loses its 2 s, no checkpoint: 10 left again). t=3 C (1 s): B has 3 - 1 = 2
    # left > 1, C preempts B (B loses 1 s: 3 left). t=4 C ends; queue B (3) before A (10): B
    # 4-7, then A 7-17.
    _, r = run(scenario(policy="srtf"), [spec("A", 0, 1, 10), spec("B", 2, 1, 3), spec("C", 3, 1, 1)])
    assert table(r) == {"A": (0.0, 17.0, 1, 2.0), "B": (2.0, 7.0, 1, 1.0), "C": (3.0, 4.0, 0, 0.0)}


def test_srtf_does_not_preempt_a_job_with_less_left():
    # one GPU. A (10 s) at 0; B (6 s) at 5: A has 5 left < 6, no preemption; B 10-16.
    _, r = run(scenario(policy="srtf"), [spec("A", 0, 1, 10), spec("B", 5, 1, 6)])
    assert table(r) == {"A": (0.0, 10.0, 0, 0.0), "B": (10.0, 16.0, 0, 0.0)}


def test_srtf_gang_preemption_and_refill():
    # two 1-GPU nodes. t=0 A (2 GPUs, 10 s) takes both. t=1 B (1 GPU, 4 s): A has 9 left > 4:
    # evicting A frees both nodes, B takes one (A back to 10 left, lost 1 s). t=1.5 C (1 GPU,
    # 20 s) fits on the other node. t=5 B ends: A (10 left, 2 GPUs) does not fit; C has
    # 20 - 3.5 = 16.5 left > 10: A preempts C (C loses 3.5 s) and runs 5-15; C 15-35.
    _, r = run(scenario(nodes=2, policy="srtf"), [spec("A", 0, 2, 10), spec("B", 1, 1, 4), spec("C", 1.5, 1, 20)])
    assert table(r) == {"A": (0.0, 15.0, 1, 1.0), "B": (1.0, 5.0, 0, 0.0), "C": (1.5, 35.0, 1, 3.5)}


def test_srtf_counts_progress_not_checkpoint_writes_and_keeps_checkpointed_work():
    # one GPU, checkpoints every 4 s of progress costing 1 s, restart 2 s. A (10 s) at 0:
    # progress 0-4, checkpoint 4-5, progress 5-... At t=7 B (3 s) arrives: A has done 4 + 2 = 6
    # s of work (its checkpoint write is not work), 4 left > 3: B preempts A. A keeps the 4 s it
    # checkpointed, loses the 2 s since (6 left). B 7-10 (no checkpoint: 3 s < 4). A restarts at
    # 10: restart 2 + progress 4 + checkpoint 1 + progress 2 = 9 s: ends at 19. Its overhead:
    # 1 + 2 + 1 = 4 s.
    ck = [silent("a", checkpoint={"interval": 4, "cost": 1, "restart": 2})]
    _, r = run(scenario(policy="srtf", classes=ck), [spec("A", 0, 1, 10), spec("B", 7, 1, 3)])
    assert table(r) == {"A": (0.0, 19.0, 1, 2.0), "B": (7.0, 10.0, 0, 0.0)}
    assert r.jobs.set_index("job_id").loc["A", "overhead_s"] == 4.0


# ----------------------------------------------------------------------------------- LAS


def test_las_demotes_at_the_threshold_then_preempts():
    # one GPU, queues split at 10 GPU-s, no promotion. t=0 A (30 s) starts in Q1. t=5 B (8 s)
    # arrives in Q1: A is in Q1 and was submitted first (FIFO within a queue): B waits. t=10 A
    # has attained 10 GPU-s: it moves to Q2 (a timer, no other event at 10) and B preempts it
    # (A loses 10 s). B 10-18 (8 GPU-s < 10: stays in Q1). A 18-48.
    _, r = run(scenario(policy=las([10])), [spec("A", 0, 1, 30), spec("B", 5, 1, 8)])
    assert table(r) == {"A": (0.0, 48.0, 1, 10.0), "B": (10.0, 18.0, 0, 0.0)}


def test_las_attained_service_is_gpus_times_time():
    # two 1-GPU nodes, threshold 8 GPU-s. W (2 GPUs, 10 s) at 0 attains 2 GPU-s a second: Q2 at
    # t=4. N (1 GPU, 3 s) at 1 and M (1 GPU, 6 s) at 2 wait behind it in Q1 (FIFO) until then.
    # t=4: N preempts W (evicting W frees both nodes; W loses 4 s), and the pass that follows
    # starts M on the other node. N 4-7 (3 GPU-s), M 4-10 (6 GPU-s): both stay in Q1. W needs
    # both nodes: at 7 M (Q1) still runs and outranks W; W 10-20.
    _, r = run(scenario(nodes=2, policy=las([8])), [spec("W", 0, 2, 10), spec("N", 1, 1, 3), spec("M", 2, 1, 6)])
    assert table(r) == {"W": (0.0, 20.0, 1, 4.0), "N": (4.0, 7.0, 0, 0.0), "M": (4.0, 10.0, 0, 0.0)}


def test_las_starvation_promotion():
    # one GPU, threshold 2 GPU-s, PROMOTEKNOB 1. t=0 A (5 s) starts; t=2 it moves to Q2 (no one
    # waits). t=3 B and C (1.5 s each) arrive in Q1: B preempts A (A ran 0-3, loses 3 s; it may be
    # promoted after waiting 1 x 3 s, at 6). B 3-4.5, C 4.5-6. t=5 D (1 s) arrives in Q1.
    # t=6: C ends and A is promoted to Q1 with its service reset; A (submitted first) goes
    # before D: A starts at 6 and reaches 2 GPU-s again at 8: Q2, D preempts it (A loses 2 s).
    # D 8-9; A 9-14 (its promotion due at 8 + 2 = 10 is void: it runs again at 9).
    jobs = [spec("A", 0, 1, 5), spec("B", 3, 1, 1.5), spec("C", 3, 1, 1.5), spec("D", 5, 1, 1)]
    engine, r = run(scenario(policy=las([2], knob=1)), jobs)
    assert table(r) == {
        "A": (0.0, 14.0, 2, 5.0), "B": (3.0, 4.5, 0, 0.0), "C": (4.5, 6.0, 0, 0.0), "D": (8.0, 9.0, 0, 0.0)
    }
    assert engine.policy.promotions == 1
    # without promotion A stays in Q2 and D goes first at 6: D 6-7, A 7-12
    _, r = run(scenario(policy=las([2])), jobs)
    assert table(r) == {
        "A": (0.0, 12.0, 1, 3.0), "B": (3.0, 4.5, 0, 0.0), "C": (4.5, 6.0, 0, 0.0), "D": (6.0, 7.0, 0, 0.0)
    }


def test_las_starvation_clocks_count_since_the_promotion():
    # Tiresias' rule (its authors' simulator): the wait since the last promotion >= knob x the run
    # since it, each summed over segments; not "the last wait >= knob x the last run". Two
    # 1-GPU nodes, threshold 6 GPU-s, PROMOTEKNOB 1, suspend (Tiresias keeps progress). A (2
    # GPUs, 30 s) at 0: Q2 at 3. t=4 B (1 GPU, 1 s) preempts it (A has done 4 s). B 4-5; A
    # again 5-6 (it waited 1 s) until C (1 GPU, 5 s) preempts it at 6 (5 s done). A has run
    # 4 + 1 = 5 s and waited 1 s: due at 6 + 5 - 1 = 10 (the last-run reading: 6 + 1 = 7). C
    # runs 6-10 (4 GPU-s: Q1). t=10: A is promoted (service from zero) and, submitted first,
    # preempts C (4 s done). A reaches 6 GPU-s at 13 (8 s done): Q2, and C preempts it (A's
    # next promotion would be due at 13 + 3 = 16). C 13-14 ends (5 GPU-s: Q1 throughout). A
    # 14-36 (22 s left); its promotion at 16 is void. (Suspended runs resume: no restarts, no loss.)
    jobs = [spec("A", 0, 2, 30), spec("B", 4, 1, 1), spec("C", 6, 1, 5)]
    policy = {**las([6], knob=1), "preemption": "suspend"}
    engine, r = run(scenario(nodes=2, policy=policy), jobs)
    assert table(r) == {"A": (0.0, 36.0, 0, 0.0), "B": (4.0, 5.0, 0, 0.0), "C": (6.0, 14.0, 0, 0.0)}
    assert engine.policy.promotions == 1


def test_las_three_queues():
    # one GPU, thresholds 2 and 6 GPU-s. A (10 s) at 0: Q2 at 2, Q3 at 6. B (5 s) at 1 waits
    # (A is in Q1, first). t=2: A in Q2, B in Q1 preempts (A loses 2 s). B reaches 2 at 4: Q2;
    # A (Q2, submitted first) preempts B back (B loses 2 s). A restarts at 4 with 2 GPU-s: Q3 at
    # 8, when B (Q2) preempts it (A loses 4 s). B has 2 GPU-s (Q2) and needs 5 s: it reaches 6
    # GPU-s at 12 (Q3) and A (Q3, first) preempts it (B loses 4 s). A 12-22; B 22-27.
    _, r = run(scenario(policy=las([2, 6])), [spec("A", 0, 1, 10), spec("B", 1, 1, 5)])
    assert table(r) == {"A": (0.0, 22.0, 2, 6.0), "B": (2.0, 27.0, 2, 6.0)}


# ----------------------------------------------------------------------------------- config


@pytest.mark.parametrize("policy", ["srtf", "las"])
def test_refused_with_tenancy_teams(policy):
    teams = {"teams": [{"name": "A", "quota": 1, "classes": ["a"]}]}
    with pytest.raises(ScenarioError, match=r"scheduler\.policy: .*quotas"):
        run(scenario(policy=policy, tenancy=teams), [spec("A", 0, 1, 1)])


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (las([5, 2]), r"scheduler\.policy\.thresholds\[1\]: thresholds must be > 0 and increasing"),
        (las([]), r"scheduler\.policy\.thresholds: give at least one threshold"),
        (las([1], knob=0), r"scheduler\.policy\.promote_knob: must be > 0"),
        ({"kind": "srtf", "preemption": "kill"}, r"scheduler\.policy\.preemption"),
    ],
)
def test_bad_settings_name_the_field(policy, message):
    with pytest.raises(ScenarioError, match=message):
        scenario(policy=policy)


def test_suspend_keeps_all_progress():
    # one GPU, as the first SRTF case but victims keep their work: t=2 B preempts A (8 left),
    # t=3 C preempts B (2 left). C 3-4, B 4-6 (2 left), A 6-14 (8 left). Nothing lost.
    _, r = run(scenario(policy={"kind": "srtf", "preemption": "suspend"}),
               [spec("A", 0, 1, 10), spec("B", 2, 1, 3), spec("C", 3, 1, 1)])
    assert table(r) == {"A": (0.0, 14.0, 0, 0.0), "B": (2.0, 6.0, 0, 0.0), "C": (3.0, 4.0, 0, 0.0)}
