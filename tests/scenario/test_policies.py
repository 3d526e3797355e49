"""Scheduling policies on hand-made job lists whose start times are worked out by hand.

Every expected start time below is derived in the comment next to it, from the policy's
definition alone (not from running the simulator). Cluster: ``nodes x 8`` GPUs, placement
``pack`` unless stated. Job tuples are (id, submit_s, gpus, duration_s).
"""

from __future__ import annotations

import math

import pytest

NAN = float("nan")


def specs(csim, rows):
    return [csim.spec(*row) for row in rows]


def assert_starts(csim, result, expected: dict[str, float]) -> None:
    starts = csim.by_id(result, "start_s")
    got = {k: starts[k] for k in expected}
    for job_id, want in expected.items():
        assert csim.same(got[job_id], want), f"{job_id}: start {got[job_id]} != {want}\n{got}"


# ------------------------------------------------------------------------------------- FIFO

# 4 nodes x 8 GPUs = 32 GPUs, strict FIFO.
FIFO_ROWS = [
    ("A", 0, 16, 100),  # t=0: nodes 0,1 free -> starts 0, ends 100
    ("B", 1, 32, 50),  # needs all 4 nodes; A holds 2 until 100 -> starts 100, ends 150
    ("C", 2, 8, 10),  # would fit now on node 2 or 3, but B is the head -> waits; starts 150
    ("D", 3, 4, 20),  # also behind B; at 150 C takes a node, D another -> starts 150, ends 170
    ("E", 200, 24, 30),  # empty cluster -> starts 200, ends 230 (nodes 0,1,2)
    ("F", 201, 16, 10),  # only node 3 free -> waits for E -> starts 230
    ("G", 202, 1, 5),  # fits on node 3 now but F is the head -> starts 230 with F
    ("H", 203, 8, 1),  # at 230: F takes 2 nodes, G 1 GPU of a 3rd; H takes the 4th -> 230
]
FIFO_STARTS = {"A": 0, "B": 100, "C": 150, "D": 150, "E": 200, "F": 230, "G": 230, "H": 230}


def test_fifo_hand_computed_multinode(csim):
    result, engine = csim.run_jobs(specs(csim, FIFO_ROWS), nodes=4, policy="fifo", horizon=1000)
    assert_starts(csim, result, FIFO_STARTS)
    ends = csim.by_id(result, "end_s")
    for job_id, _submit, _g, duration in FIFO_ROWS:
        assert ends[job_id] == FIFO_STARTS[job_id] + duration
    assert (result.jobs["state"] == "finished").all()
    # gang placement: B spans the whole cluster, E three whole nodes, small jobs one node
    assert sorted(engine.placed["B"]) == [0, 1, 2, 3]
    assert len(engine.placed["E"]) == 3 and len(engine.placed["C"]) == 1
    # F, G and H all start at 230 on disjoint capacity: F two whole nodes, H the remaining
    # whole node, so G shares none of their nodes
    assert not set(engine.placed["F"]) & set(engine.placed["H"])
    assert not set(engine.placed["G"]) & (set(engine.placed["F"]) | set(engine.placed["H"]))


def test_fifo_head_blocks_a_job_that_would_fit(csim):
    # 2 nodes x 8. A holds one node until 100. B (16) cannot start before 100. C (1 GPU)
    # would fit on the free node right now, yet strict FIFO keeps it behind B; it starts
    # when B ends at 100 + 10 = 110. Under EASY backfilling C (ends 2 + 5 = 7 <= 100) jumps
    # the queue at its arrival, and B still starts at 100.
    rows = [("A", 0, 8, 100), ("B", 1, 16, 10), ("C", 2, 1, 5)]
    fifo, _ = csim.run_jobs(specs(csim, rows), nodes=2, policy="fifo", horizon=1000)
    assert_starts(csim, fifo, {"A": 0, "B": 100, "C": 110})
    easy, _ = csim.run_jobs(specs(csim, rows), nodes=2, policy="backfill", horizon=1000)
    assert_starts(csim, easy, {"A": 0, "B": 100, "C": 2})


def test_fifo_jobs_start_in_submission_order(csim):
    starts = csim.by_id(
        csim.run_jobs(specs(csim, FIFO_ROWS), nodes=4, policy="fifo", horizon=1000)[0], "start_s"
    )
    ordered = [starts[r[0]] for r in FIFO_ROWS]
    assert ordered == sorted(ordered)


# ------------------------------------------------------------------------------------- EASY

# 2 nodes x 8 GPUs, placement pack.
#   P (4 GPUs, 0-50): pack puts it on node 0 -> node 0 has 4 free.
#   Q (6 GPUs, 0-100): buckets 6, 7, 8 in order -> node 1 -> node 1 has 2 free.
#   H (8 GPUs) at t=1 is the head: no whole node is free. Its reservation: P ends at 50 and
#     frees node 0 completely -> shadow time T = 50 on R = {node 0}.
#   L (2 GPUs, 1000 s) at t=2 ends long after T, but fits outside R (node 1's 2 free GPUs):
#     backfilled at 2 without touching the head's node.
#   M (4 GPUs, 1000 s) at t=3 fits only on node 0 (4 free), which is reserved, and would
#     end at 1003 > 50: starting it would delay H, so it is NOT backfilled. At 50 H takes
#     node 0; node 1 is full (Q + L), so M waits until H ends at 60 -> starts 60.
#   N (4 GPUs, 40 s) at t=4 fits on node 0 and ends at 44 <= 50: backfilled at 4.
# H starts at 50 exactly as if nobody had jumped the queue.
EASY_ROWS = [
    ("P", 0, 4, 50),
    ("Q", 0, 6, 100),
    ("H", 1, 8, 10),
    ("L", 2, 2, 1000),
    ("M", 3, 4, 1000),
    ("N", 4, 4, 40),
]
EASY_STARTS = {"P": 0, "Q": 0, "H": 50, "L": 2, "M": 60, "N": 4}
# Strict FIFO on the same list: H at 50 (node 0), then L (2 GPUs) fits node 1 at 50,
# M waits for H (node 0 full) -> 60, N (4) shares node 0 with M -> 60.
EASY_ROWS_FIFO_STARTS = {"P": 0, "Q": 0, "H": 50, "L": 50, "M": 60, "N": 60}


def test_easy_backfills_without_delaying_the_head(csim):
    result, engine = csim.run_jobs(specs(csim, EASY_ROWS), nodes=2, policy="backfill", horizon=5000)
    assert_starts(csim, result, EASY_STARTS)
    assert engine.placed["P"] == (0,) and engine.placed["Q"] == (1,)
    assert engine.placed["L"] == (1,)  # outside the reservation R = {0}
    assert engine.placed["N"] == (0,)  # inside R, but done by the shadow time
    assert engine.placed["H"] == (0,)


def test_easy_same_trace_under_fifo(csim):
    result, _ = csim.run_jobs(specs(csim, EASY_ROWS), nodes=2, policy="fifo", horizon=5000)
    assert_starts(csim, result, EASY_ROWS_FIFO_STARTS)


def test_easy_does_not_backfill_a_job_that_would_delay_a_multinode_head(csim):
    # 4 nodes x 8. A (16 GPUs) holds nodes 0,1 until 100; nodes 2,3 are free.
    # B (32 GPUs) at 1 is the head: it needs every node, T = 100, R = all nodes.
    # C (8 GPUs, 200 s) at 2: ends 202 > 100 and there is no node outside R -> not
    #   backfilled; it starts after B: 100 + 50 = 150.
    # D (8 GPUs, 90 s) at 3: ends 93 <= 100 -> backfilled at 3.
    # E (8 GPUs, 97 s) at 3: ends exactly at T = 100: "ends by T" -> backfilled at 3.
    # F (1 GPU, 98 s) at 4: no free GPU left (A, D, E fill all four nodes) -> after B: 150.
    rows = [
        ("A", 0, 16, 100),
        ("B", 1, 32, 50),
        ("C", 2, 8, 200),
        ("D", 3, 8, 90),
        ("E", 3, 8, 97),
        ("F", 4, 1, 98),
    ]
    result, _ = csim.run_jobs(specs(csim, rows), nodes=4, policy="backfill", horizon=5000)
    assert_starts(csim, result, {"A": 0, "B": 100, "C": 150, "D": 3, "E": 3, "F": 150})


def test_easy_depth_limits_the_jobs_considered(csim):
    # 2 nodes x 8. A (8 GPUs) holds node 0 until 100. H (16) at 1 is the head (T = 100).
    # X (8 GPUs, 500 s) at 2 cannot end by T and node 1 is in R -> stays queued.
    # Y (1 GPU, 10 s) at 3 would backfill (ends 13 <= 100), but with depth 1 only the first
    # job behind the head (X) is looked at -> Y waits until H ends at 100 + 10 = 110, then
    # X and Y start together at 110. With the default depth Y starts at 3.
    rows = [("A", 0, 8, 100), ("H", 1, 16, 10), ("X", 2, 8, 500), ("Y", 3, 1, 10)]
    shallow, _ = csim.run_jobs(
        specs(csim, rows), nodes=2, policy={"kind": "backfill", "depth": 1}, horizon=5000
    )
    assert_starts(csim, shallow, {"A": 0, "H": 100, "X": 110, "Y": 110})
    deep, _ = csim.run_jobs(specs(csim, rows), nodes=2, policy="backfill", horizon=5000)
    assert_starts(csim, deep, {"A": 0, "H": 100, "X": 110, "Y": 3})


def test_easy_depth_window_after_backfill_is_reconsidered(csim):
    # 2 nodes x 8, depth 1 (one job behind the head per pass).
    #   A (8, 0-100) node 0; B1 (4, 0-100) and B2 (4, 0-20) node 1: cluster full.
    #   H (16) at 1 is the head: T = 100, R = {0, 1}.
    #   P (2 GPUs, 10 s) at 2 and Q (1 GPU, 5 s) at 3 queue behind it (no free GPU).
    #   t=20, B2 ends: the pass looks at P (first behind H): ends 30 <= 100 -> backfilled.
    #     Q was second, outside the window of that pass. Node 1 now has 2 free GPUs.
    #   t=21, R (8 GPUs) arrives: a pass in which Q *is* first behind the head; it fits on
    #     node 1 and ends 26 <= 100 -> Q should start at 21. (The engine starts it at 30,
    #     when P ends, because the arrival pass only looks at R.)
    rows = [
        ("A", 0, 8, 100),
        ("B1", 0, 4, 100),
        ("B2", 0, 4, 20),
        ("H", 1, 16, 10),
        ("P", 2, 2, 10),
        ("Q", 3, 1, 5),
        ("R", 21, 8, 1),
    ]
    result, _ = csim.run_jobs(
        specs(csim, rows), nodes=2, policy={"kind": "backfill", "depth": 1}, horizon=1000
    )
    assert_starts(csim, result, {"H": 100, "P": 20, "Q": 21})


# ------------------------------------------------------------------------------------- SJF


def test_sjf_orders_by_duration(csim):
    # 1 node x 8. A (8 GPUs) holds it until 100. B, C, D (8 GPUs each) arrive with
    # durations 50, 10, 30. SJF runs C (100-110), D (110-140), B (140-190); FIFO runs them in
    # arrival order B (100-150), C (150-160), D (160-190).
    rows = [("A", 0, 8, 100), ("B", 1, 8, 50), ("C", 2, 8, 10), ("D", 3, 8, 30)]
    sjf, _ = csim.run_jobs(specs(csim, rows), nodes=1, policy="sjf", horizon=1000)
    assert_starts(csim, sjf, {"A": 0, "C": 100, "D": 110, "B": 140})
    fifo, _ = csim.run_jobs(specs(csim, rows), nodes=1, policy="fifo", horizon=1000)
    assert_starts(csim, fifo, {"A": 0, "B": 100, "C": 150, "D": 160})


def test_sjf_shortest_job_blocks_the_rest(csim):
    # 2 nodes x 8. A (8 GPUs) holds node 0 until 100. S (16 GPUs, 5 s) is the shortest
    # waiting job but needs both nodes; strict SJF lets it block W (1 GPU, 50 s), which
    # would fit on node 1 now. S runs 100-105, W starts at 105.
    rows = [("A", 0, 8, 100), ("W", 1, 1, 50), ("S", 2, 16, 5)]
    sjf, _ = csim.run_jobs(specs(csim, rows), nodes=2, policy="sjf", horizon=1000)
    # W arrived first, when nothing else was queued, so it started at once on node 1.
    assert_starts(csim, sjf, {"A": 0, "W": 1, "S": 100})
    rows = [("A", 0, 8, 100), ("S", 1, 16, 5), ("W", 2, 1, 50)]
    sjf, _ = csim.run_jobs(specs(csim, rows), nodes=2, policy="sjf", horizon=1000)
    assert_starts(csim, sjf, {"A": 0, "S": 100, "W": 105})


def test_sjf_ties_keep_submission_order(csim):
    rows = [("A", 0, 8, 100), ("B", 1, 8, 30), ("C", 2, 8, 30), ("D", 3, 8, 30)]
    sjf, _ = csim.run_jobs(specs(csim, rows), nodes=1, policy="sjf", horizon=1000)
    assert_starts(csim, sjf, {"B": 100, "C": 130, "D": 160})


# ------------------------------------------------------------------------------ placement


@pytest.mark.parametrize(
    ("placement", "big_start"),
    [
        # pack: the four 4-GPU jobs pair up on nodes 0 and 1, nodes 2 and 3 stay whole, so
        # the 8-GPU job starts at once (t=1, node 2). The 16-GPU job (t=2) needs two whole
        # nodes; only node 3 is whole until big8 ends at 1 + 10 = 11 -> starts at 11.
        ("pack", {"big8": 1, "big16": 11}),
        # spread: each 4-GPU job goes to the emptiest node -> one per node, no node is whole;
        # 16 GPUs are free in total, yet the 8-GPU job must wait for two 4-GPU jobs to end
        # (at 100 all four end together) -> both big jobs start at 100.
        ("spread", {"big8": 100, "big16": 100}),
    ],
)
def test_pack_vs_spread_fragmentation(csim, placement, big_start):
    rows = [
        ("s0", 0, 4, 100),
        ("s1", 0, 4, 100),
        ("s2", 0, 4, 100),
        ("s3", 0, 4, 100),
        ("big8", 1, 8, 10),
        ("big16", 2, 16, 10),
    ]
    result, engine = csim.run_jobs(specs(csim, rows), nodes=4, policy="fifo", placement=placement, horizon=1000)
    assert_starts(csim, result, {"s0": 0, "s1": 0, "s2": 0, "s3": 0, **big_start})
    small_nodes = [engine.placed[f"s{i}"][0] for i in range(4)]
    if placement == "pack":
        assert small_nodes == [0, 0, 1, 1]
    else:
        assert small_nodes == [0, 1, 2, 3]


# ------------------------------------------------------------------------------ gang/shape


def test_shape_rules_reject_impossible_jobs(csim):
    # 4 nodes x 8 = 32 GPUs.
    rows = [
        ("ok8", 0, 8, 10),
        ("bad12", 1, 12, 10),  # > one node and not a multiple of 8
        ("bad20", 2, 20, 10),
        ("ok32", 3, 32, 10),  # exactly the cluster
        ("bad40", 4, 40, 10),  # larger than the cluster
        ("ok3", 5, 3, 10),
    ]
    result, engine = csim.run_jobs(specs(csim, rows), nodes=4, policy="fifo", horizon=1000)
    jobs = result.jobs.set_index("job_id")
    for job_id in ("bad12", "bad20", "bad40"):
        assert jobs.loc[job_id, "state"] == "rejected"
        assert math.isnan(jobs.loc[job_id, "start_s"]) and math.isnan(jobs.loc[job_id, "end_s"])
        assert job_id not in engine.placed
    assert "not a multiple of 8" in jobs.loc["bad12", "reason"]
    assert "12 GPUs" in jobs.loc["bad12", "reason"]
    assert "more than the cluster's 32" in jobs.loc["bad40", "reason"]
    for job_id in ("ok8", "ok32", "ok3"):
        assert jobs.loc[job_id, "state"] == "finished" and jobs.loc[job_id, "reason"] == ""
    # ok32 waits for ok8 (ends at 10); ok3 is behind it in FIFO order -> 10 + 10 = 20
    assert jobs.loc["ok32", "start_s"] == 10 and jobs.loc["ok3", "start_s"] == 20
    s = result.summary
    assert s["jobs"] == {"submitted": 6, "finished": 3, "running": 0, "queued": 0, "rejected": 3}
    # rejected jobs are left out of the wait statistics: 0 (ok8), 7 (ok32), 15 (ok3)
    assert s["wait_s"]["mean"] == pytest.approx((0 + 7 + 15) / 3, abs=1e-12)


@pytest.mark.parametrize("placement", ["pack", "spread"])
def test_single_node_jobs_never_span_nodes(csim, placement):
    # 3 nodes x 8, lots of 1-8 GPU jobs; placement is recorded at every start
    rows = [(f"j{i}", i * 3.0, [1, 2, 3, 4, 5, 6, 7, 8][i % 8], 20 + (i * 7) % 50) for i in range(60)]
    result, engine = csim.run_jobs(specs(csim, rows), nodes=3, policy="backfill", placement=placement, horizon=2000)
    assert (result.jobs["state"] == "finished").all()
    assert all(len(nodes) == 1 for nodes in engine.placed.values())
    assert engine.checks > 0


def test_zero_gpu_job_rejected(csim):
    result, _ = csim.run_jobs([csim.spec("z", 0, 0, 10)], nodes=1, horizon=100)
    row = result.jobs.iloc[0]
    assert row["state"] == "rejected" and "at least 1 GPU" in row["reason"]
