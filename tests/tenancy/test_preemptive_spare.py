"""The preemptive policies (srtf, las) and tenancy's reclaim evict only the victims needed: a later,
larger victim that frees enough on its own spares the smaller ones walked before it (they used
to be evicted, lose their work and restart in the same instant in the nodes left over)."""

from __future__ import annotations

from tenancy_helpers import col, run, scenario, spec, two_teams


def test_srtf_spares_a_victim_the_larger_one_makes_needless():
    # four 1-GPU nodes, srtf. t=0: B (3 GPUs, 60 s) and X (1 GPU, 100 s) fill them. t=1: P
    # (2 GPUs, 10 s) outranks both (10 left < 59 < 99). Walking the victims lowest-ranked first,
    # X frees one node, B three: B is needed, X is not (B's nodes are enough). P runs 1-11 on
    # two of B's nodes; B (lost 1 s, 60 left) needs 3 nodes, 1 is free, and X (99 left) ranks
    # below it but its node makes only 2: B waits. t=11: B takes P's 2 nodes and the free one,
    # 11-71. X is never touched: 0-100. (Before: X was evicted at 1, restarted at once on B's
    # leftover node, and preempted again by B at 11: it ended at 171 with 2 restarts.)
    r = run(scenario(nodes=4, gpus_per_node=1, policy="srtf"),
            [spec("B", 0, 3, 60), spec("X", 0, 1, 100), spec("P", 1, 2, 10)])
    start, end, restarts = col(r, "start_s"), col(r, "end_s"), col(r, "restarts")
    assert (start["P"], end["P"]) == (1, 11)
    assert (start["B"], end["B"], restarts["B"]) == (0, 71, 1)
    assert (start["X"], end["X"], restarts["X"]) == (0, 100, 0)


def test_srtf_spares_on_one_node_too():
    # one 4-GPU node, srtf. t=0: W (3 GPUs, 50 s) and V (1 GPU, 100 s). t=1: Q (3 GPUs, 5 s)
    # outranks both; V (99 left) is walked first (1 GPU free: not enough), then W (49 left):
    # W alone makes room, V is spared. Q 1-6, W back 6-56 (lost 1 s), V 0-100.
    r = run(scenario(nodes=1, gpus_per_node=4, policy="srtf"),
            [spec("W", 0, 3, 50), spec("V", 0, 1, 100), spec("Q", 1, 3, 5)])
    start, end, restarts = col(r, "start_s"), col(r, "end_s"), col(r, "restarts")
    assert (start["Q"], end["Q"]) == (1, 6)
    assert (end["W"], restarts["W"]) == (56, 1)
    assert (end["V"], restarts["V"]) == (100, 0)


def test_a_gang_reclaim_spares_a_borrower_a_larger_one_makes_needless():
    # four 1-GPU nodes, A and B own 2 each. B: Y (3 GPUs, 100 s) at 0, X (1 GPU, 100 s) at 1:
    # B borrows 2. At 10 A's a0 (2 GPUs) reclaims: in reclaim order X (newest, no larger than
    # what B borrows) frees one node, then Y three; Y alone is enough, so X keeps running.
    # a0 10-60 on two of Y's nodes; Y (lost 10 s) waits for 3 nodes: 60-160. X 1-101.
    r = run(scenario(nodes=4, gpus_per_node=1, tenancy=two_teams()),
            [spec("Y", 0, 3, 100, "b"), spec("X", 1, 1, 100, "b"), spec("a0", 10, 2, 50, "a")])
    start, end, reclaims = col(r, "start_s"), col(r, "end_s"), col(r, "reclaims")
    assert (start["a0"], end["a0"]) == (10, 60)
    assert (end["Y"], reclaims["Y"]) == (160, 1)
    assert (end["X"], reclaims["X"]) == (101, 0)
