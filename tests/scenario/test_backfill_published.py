"""FIFO, EASY and conservative backfilling exactly as published, one scheduling pass per instant.

The rules (Lifka 1995; Mu'alem & Feitelson 2001, "Utilization, predictability, workloads, and
user runtime estimates in scheduling the IBM SP2 with backfilling"), for whole-node jobs on
identical nodes with run-time estimates equal to the true durations:

* FIFO: start jobs from the queue head while the head fits; stop at the first that does not.
* EASY (``backfill``): FIFO for the heads; the first blocked job (the head) gets the shadow
  time T (the earliest time enough nodes are free for it, given the running jobs' ends) and
  ``extra`` = nodes free at T - nodes the head needs. Later jobs, in queue order, that fit in
  the nodes free now start if they end by T (``now + duration <= T``), or else if they need
  no more than ``extra`` nodes (``extra`` then drops by their size). T and extra are computed
  once per pass. For a sub-node head, the reserved node's GPUs beyond its need are extra.
* Conservative: every queued job, in queue order, gets the earliest reservation that fits
  the free-node profile left by running jobs and the reservations ahead of it; a job whose
  reservation is now starts now. Recomputed from scratch at every pass.
* Every event of one instant (completions, arrivals, ...) is applied before ONE pass.

Queue order is submission order (ties: the order of the rows). Three kinds of test: schedules
worked out by hand (in the comments, and also checked against the reference), random traces
compared job by job with the independent reference scheduler in
``tests/reference/backfill_reference.py``, and invariance under the order in which the engine
happens to see same-instant events.

Job rows here are ``(job_id, submit_s, gpus, duration_s)``; clusters are ``nodes x 8`` GPUs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference.backfill_reference import schedule as reference_schedule

from clustersim.config import scenario_from_dict
from clustersim.engine import simulate
from clustersim.model import JobSpec

H = 3600.0
GPN = 8  # GPUs per node
DEPTH = 100_000  # larger than any queue here: every queued job is considered
POLICIES = {
    "fifo": "fifo",
    "backfill": {"kind": "backfill", "depth": DEPTH},
    "conservative": {"kind": "conservative", "depth": DEPTH},
}


# ----------------------------------------------------------------------------------- helpers


def run_engine(csim, rows, policy, nodes):
    """Run ``rows`` through the engine; returns (start time by job id, jobs table)."""
    scenario = scenario_from_dict(
        csim.scenario_dict(nodes=nodes, gpus_per_node=GPN, policy=POLICIES[policy], horizon=1e9)
    )
    specs = [JobSpec(job_id, float(s), int(g), float(d)) for job_id, s, g, d in rows]
    specs.sort(key=lambda spec: spec.submit_s)  # stable: ties keep the rows' order
    jobs = simulate(scenario, seed=0, specs=specs).jobs
    return dict(zip(jobs["job_id"].astype(str), jobs["start_s"].astype(float), strict=True)), jobs


def reference(rows, policy, nodes, sub_node=False):
    """The reference's start times. Whole-node jobs are counted in nodes; ``sub_node``: the
    cluster is one node and every GPU is a unit (the same problem, per the sub-node rule)."""
    if sub_node:
        assert nodes == 1
        return reference_schedule(list(rows), GPN, policy)
    assert all(g % GPN == 0 for _, _, g, _ in rows)
    return reference_schedule([(i, s, g // GPN, d) for i, s, g, d in rows], nodes, policy)


def check(csim, rows, policy, expected_h, nodes=4, sub_node=False):
    """Both the reference and the engine give the hand-computed starts (in hours)."""
    want = {job_id: h * H for job_id, h in expected_h.items()}
    ref = reference(rows, policy, nodes, sub_node)
    assert ref == want, f"the reference disagrees with the hand computation: {ref}"
    got, jobs = run_engine(csim, rows, policy, nodes)
    assert (jobs["state"] == "finished").all()
    shown = {k: got[k] / H for k in want}
    assert {k: got[k] for k in want} == want, (
        f"{policy}: engine starts (h) {shown}, want {expected_h}"
    )


def mismatches(got, want, limit=8):
    """How many jobs of ``want`` the engine starts elsewhere (1e-6 s tolerance), and the
    first ``limit`` of them."""
    bad = [
        (k, got.get(k), w)
        for k, w in want.items()
        if not math.isclose(got.get(k, math.nan), w, rel_tol=0, abs_tol=1e-6)
    ]
    lines = [f"{k}: engine {g} vs reference {w}" for k, g, w in bad[:limit]]
    return len(bad), "\n".join(lines)


# ------------------------------------------------------------------ a. the smallest case

# 4 nodes. t=0: J1 (2 nodes, 4 h) starts; 2 nodes free. J2 (3 nodes) does not fit: it is the
# head. Shadow time T = 4 h (J1 ends, 4 nodes free); extra = 4 - 3 = 1 node.
# t=1h: J3 (1 node, 10 h) fits in the 2 free nodes; it ends at 11 h > T, but 1 <= extra = 1,
# so EASY starts it now (extra -> 0). t=4h: J1 ends, 4 - 1 = 3 nodes free: J2 starts at 4 h,
# not delayed. Conservative: J2 reserved on 3 nodes over [4 h, 6 h); J3 needs 1 node over
# [1 h, 11 h): free 2 in [1, 4), 1 in [4, 6), 4 after -> fits, starts at 1 h too.
# FIFO: J3 waits behind J2; at 4 h J2 takes 3 nodes and J3 the fourth.
CASE_A = [("J1", 0, 16, 4 * H), ("J2", 0, 24, 2 * H), ("J3", 1 * H, 8, 10 * H)]


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("backfill", {"J1": 0, "J2": 4, "J3": 1}),
        ("conservative", {"J1": 0, "J2": 4, "J3": 1}),
        ("fifo", {"J1": 0, "J2": 4, "J3": 4}),
    ],
)
def test_extra_node_lets_a_long_job_start_now(csim, policy, expected):
    """EASY: a job that runs past the shadow time still starts now if it fits in the head's
    extra nodes (nodes free at T beyond the head's need); conservative agrees here."""
    check(csim, CASE_A, policy, expected)


# ------------------------------------------------------- b. a backfill ending exactly at T

# 4 nodes. t=0: J1 (2 nodes, 4 h) starts; J2 (4 nodes, 1 h) is the head: T = 4 h, extra = 0.
# t=1h: J3 (1 node, 3 h) ends at 1 + 3 = 4 h = T: "ends by T" allows equality -> starts at 1 h.
#       J4 (1 node, 3 h + 1 s) ends 1 s after T and extra = 0 -> waits.
# t=4h: J1 and J3 end at the same instant: 4 nodes free -> J2 starts at 4 h, ends 5 h.
# t=5h: J4 starts. Conservative: J2 reserved over [4 h, 5 h) on 4 nodes; J3's [1 h, 4 h) ends
# exactly when that reservation begins (half-open intervals) -> 1 h; J4 overlaps it by 1 s
# -> after J2, 5 h. FIFO: J3 and J4 wait for J2, both start at 5 h.
CASE_B = [
    ("J1", 0, 16, 4 * H),
    ("J2", 0, 32, 1 * H),
    ("J3", 1 * H, 8, 3 * H),
    ("J4", 1 * H, 8, 3 * H + 1),
]


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("backfill", {"J1": 0, "J2": 4, "J3": 1, "J4": 5}),
        ("conservative", {"J1": 0, "J2": 4, "J3": 1, "J4": 5}),
        ("fifo", {"J1": 0, "J2": 4, "J3": 5, "J4": 5}),
    ],
)
def test_backfill_ending_exactly_at_shadow_time_starts_now(csim, policy, expected):
    """A later job that ends exactly at the shadow time (now + duration == T) starts now; one
    second longer, with no extra nodes, it waits."""
    check(csim, CASE_B, policy, expected)


# -------------------------------------- c. two completions and an arrival at the same instant

# 4 nodes. Queue order X, C1, C2, Y, H, J, S.
# t=0:   X (4 nodes, 1 h) takes the cluster; C1, C2 (1 node, 1 h each), Y (2 nodes, 9 h) and
#        H (4 nodes, 1 h) wait.
# t=0.5h: J (2 nodes, 2 h) arrives: nothing free.
# t=1h:  X ends: C1, C2 and Y start (0 free, C1/C2 end at 2 h on different nodes, Y at 10 h).
#        H is the head: T = 10 h (4 nodes free only when Y ends), extra = 0.
# t=2h:  C1 and C2 end AND S (1 node, 1 h) arrives. One pass after all three events: 2 free
#        nodes. H still waits (T = 10 h). J is first behind it: it needs both freed nodes and
#        ends at 4 h <= T -> starts at 2 h. S finds no free node -> waits.
# t=4h:  J ends; S (ends 5 h <= T) starts at 4 h. t=10h: Y ends, H starts.
# An engine that makes a pass per event goes wrong when S's arrival is seen first: S's
# arrival event was created at 0.5 h (when J was submitted), before the completions of C1 and
# C2 (created at 1 h). Then S gets the node C1 frees (it ends by T), and J, queued earlier,
# cannot start until S ends at 3 h.
# FIFO: nobody passes H; H runs 10-11 h, then J and S together at 11 h.
# Conservative: H reserved [10 h, 11 h); J fits [2 h, 4 h) on the 2 free nodes; S then has no
# node until 4 h -> 4 h, as under EASY.
CASE_C = [
    ("X", 0, 32, 1 * H),
    ("C1", 0, 8, 1 * H),
    ("C2", 0, 8, 1 * H),
    ("Y", 0, 16, 9 * H),
    ("H", 0, 32, 1 * H),
    ("J", 0.5 * H, 16, 2 * H),
    ("S", 2 * H, 8, 1 * H),
]


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("backfill", {"X": 0, "C1": 1, "C2": 1, "Y": 1, "H": 10, "J": 2, "S": 4}),
        ("conservative", {"X": 0, "C1": 1, "C2": 1, "Y": 1, "H": 10, "J": 2, "S": 4}),
        ("fifo", {"X": 0, "C1": 1, "C2": 1, "Y": 1, "H": 10, "J": 11, "S": 11}),
    ],
)
def test_one_pass_after_all_events_of_an_instant(csim, policy, expected):
    """Two completions and an arrival at the same instant are all applied before one pass, so
    the earlier-queued job needing both freed nodes starts, not the small job arriving then."""
    check(csim, CASE_C, policy, expected)


# ------------------------------------------------------------------ d. sub-node head, extra GPUs

# 1 node x 8 GPUs (the reference sees 8 units).
# d1. t=0: A (6 GPUs, 2 h) starts, 2 free. H (4 GPUs) does not fit: head. T = 2 h (A ends,
#     8 free on the node), extra = 8 - 4 = 4 GPUs.
#     t=1h: L (2 GPUs, 10 h) fits in the 2 free GPUs, ends at 11 h > T, but 2 <= extra 4
#     -> starts at 1 h. t=2h: A ends, 8 - 2 = 6 >= 4: H starts at 2 h, not delayed.
CASE_D1 = [("A", 0, 6, 2 * H), ("H", 0, 4, 1 * H), ("L", 1 * H, 2, 10 * H)]
# d2. t=0: A (4 GPUs, 2 h), 4 free. H (6 GPUs) blocked: T = 2 h, extra = 8 - 6 = 2.
#     t=1h: L (3 GPUs, 10 h) fits now (3 <= 4) but runs past T and 3 > extra 2 -> waits.
#     L2 (2 GPUs, 10 h), after it in the queue, fits and 2 <= extra 2 -> starts at 1 h
#     (extra -> 0). t=2h: A ends, 8 - 2 = 6 free: H starts at 2 h (ends 3 h); L needs 3,
#     none free. t=3h: H ends, L starts.
CASE_D2 = [
    ("A", 0, 4, 2 * H),
    ("H", 0, 6, 1 * H),
    ("L", 1 * H, 3, 10 * H),
    ("L2", 1 * H, 2, 10 * H),
]


def test_easy_sub_node_job_uses_the_heads_extra_gpus(csim):
    """EASY with a sub-node head: the reserved node's GPUs beyond the head's need are extra,
    so a long sub-node job that fits now in no more than those GPUs starts now."""
    check(csim, CASE_D1, "backfill", {"A": 0, "H": 2, "L": 1}, nodes=1, sub_node=True)


def test_easy_sub_node_job_larger_than_the_extra_gpus_waits(csim):
    """EASY with a sub-node head: a long job needing more than the extra GPUs waits even
    though it fits now, and the scan goes on to a later job that fits in the extra GPUs."""
    check(csim, CASE_D2, "backfill", {"A": 0, "H": 2, "L": 3, "L2": 1}, nodes=1, sub_node=True)


# ------------------------------------------------------------ e. EASY and conservative differ

# 4 nodes. t=0: R1 (2 nodes, 4 h) starts. H (3 nodes, 1 h) is the head: T = 4 h, extra = 1.
# H2 (4 nodes, 1 h) does not fit now.
# EASY, t=1h: L (1 node, 10 h) fits, ends 11 h > T, 1 <= extra -> starts at 1 h. It cannot
#   delay H (at 4 h, 3 nodes are free: H runs 4-5 h), but it delays H2, which needs all 4
#   nodes: H2 waits for L to end at 11 h.
# Conservative: H is reserved [4 h, 5 h) on 3 nodes, H2 [5 h, 6 h) on all 4. L needs 1 node
#   for 10 h: every start before 6 h overlaps H2's reservation (0 free in [5 h, 6 h)) -> L is
#   reserved at 6 h and starts then; H2 starts at 5 h.
# FIFO gives the conservative schedule here.
CASE_E = [("R1", 0, 16, 4 * H), ("H", 0, 24, 1 * H), ("H2", 0, 32, 1 * H), ("L", 1 * H, 8, 10 * H)]


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("backfill", {"R1": 0, "H": 4, "H2": 11, "L": 1}),
        ("conservative", {"R1": 0, "H": 4, "H2": 5, "L": 6}),
        ("fifo", {"R1": 0, "H": 4, "H2": 5, "L": 6}),
    ],
)
def test_easy_protects_only_the_head_conservative_protects_all(csim, policy, expected):
    """EASY starts a job that delays the second queued job (only the head is protected);
    conservative backfilling gives every queued job a reservation, so it does not."""
    check(csim, CASE_E, policy, expected)


# ---------------------------------------------------------- 2. random traces vs the reference

NODES = 16
N_JOBS = 1500
SEEDS = (1, 2, 3)


def random_trace(seed: int, hours: bool, n: int = N_JOBS, load: float = 0.95):
    """Whole-node jobs (1, 2, 4, 8 or 16 of 16 nodes), lognormal durations (median 2 h),
    Poisson arrivals at ``load`` of the cluster. ``hours``: submit times and durations rounded
    to whole hours (durations at least 1 h), so many events share an instant. Rows are in
    submission order; sizes are in nodes."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 4, 8, 16], size=n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    durations = np.maximum(rng.lognormal(np.log(2 * H), 1.0, size=n), 60.0)
    rate = load * NODES / float((sizes * durations).mean())
    submits = np.cumsum(rng.exponential(1.0 / rate, size=n))
    submits -= submits[0]
    if hours:
        submits = np.round(submits / H) * H
        durations = np.maximum(1.0, np.round(durations / H)) * H
    return [
        (f"j{i:04d}", float(s), int(k), float(d))
        for i, (s, k, d) in enumerate(zip(submits, sizes, durations, strict=True))
    ]


def as_gpu_rows(rows):
    return [(i, s, k * GPN, d) for i, s, k, d in rows]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("hours", [False, True], ids=["continuous", "whole-hours"])
@pytest.mark.parametrize("policy", ["fifo", "backfill", "conservative"])
def test_random_trace_matches_reference(csim, policy, hours, seed):
    """On a high-load random trace, every job starts exactly when the independent reference
    scheduler (published rules, one pass per instant) starts it."""
    rows = random_trace(seed, hours)
    want = reference_schedule(rows, NODES, policy)
    got, jobs = run_engine(csim, as_gpu_rows(rows), policy, NODES)
    assert (jobs["state"] == "finished").all()
    count, lines = mismatches(got, want)
    assert count == 0, f"{count} of {len(rows)} jobs start elsewhere than the reference:\n{lines}"


def static_conservative(rows, nodes):
    """Conservative backfilling with exact estimates, computed without an event loop: no job
    ends early, so a reservation never moves, and each job, in queue order, simply takes the
    earliest start >= its submit time at which it fits beside the jobs placed before it."""
    placed: list[tuple[float, float, int]] = []  # (start, end, nodes)
    starts = {}
    for job_id, submit, size, duration in sorted(rows, key=lambda row: row[1]):
        for s in sorted({submit} | {e for _, e, _ in placed if e > submit}):
            # usage only rises at a start: check s and the starts inside [s, s + duration)
            points = [s] + [a for a, _, _ in placed if s < a < s + duration]
            if all(size + sum(k for a, b, k in placed if a <= p < b) <= nodes for p in points):
                break
        placed.append((s, s + duration, size))
        starts[job_id] = s
    return starts


@pytest.mark.parametrize("hours", [False, True], ids=["continuous", "whole-hours"])
def test_reference_conservative_is_the_static_schedule(hours):
    """Self-check of the reference: its event-loop conservative backfilling (reservations
    recomputed at every pass) gives the static schedule that exact estimates imply."""
    rows = random_trace(SEEDS[0], hours, n=300)
    assert reference_schedule(rows, NODES, "conservative") == static_conservative(rows, NODES)


def test_random_traces_are_busy_and_tied():
    """The random traces are what the comparison needs: the whole-hour ones put many
    arrivals on one instant, and under FIFO jobs wait (the cluster is loaded)."""
    rows = random_trace(SEEDS[0], hours=True)
    submits = [s for _, s, _, _ in rows]
    assert len(set(submits)) < 0.75 * len(submits)
    starts = reference_schedule(rows, NODES, "fifo")
    assert sum(starts[i] > s for i, s, _, _ in rows) > len(rows) / 2


# -------------------------------------------------------------- 3. same-instant invariance


def with_rejected_dummies(rows, nodes=NODES):
    """The same trace plus, half an hour before every whole-hour submit instant t, a job the
    engine rejects on arrival (more GPUs than the cluster has): it neither queues nor runs.

    What it changes is the engine's internal event order: the arrival event for the jobs at t
    is created when the job before them in the trace is submitted. Without the dummy that is
    at the previous submit instant, before the jobs that start in between have scheduled
    their completions at t, so arrivals at t come before those completions; with it, the
    arrival event is created at t - 0.5 h, after every start at a whole hour < t, so all
    completions at t come first."""
    out, previous = [], None
    for row in rows:
        if previous is not None and row[1] != previous:
            assert row[1] - 0.5 * H > previous
            out.append((f"dummy{len(out)}", row[1] - 0.5 * H, (nodes + 1) * GPN, H))
        out.append(row)
        previous = row[1]
    return out


@pytest.mark.parametrize("policy", ["fifo", "backfill", "conservative"])
def test_start_times_do_not_depend_on_same_instant_event_order(csim, policy):
    """With whole-hour times (many completions and arrivals per instant), changing only the
    order in which the engine sees same-instant events (arrivals before or after the
    completions) changes no start time: all events of an instant come before one pass."""
    rows = as_gpu_rows(random_trace(4, hours=True, n=1000))
    plain, _ = run_engine(csim, rows, policy, NODES)
    perturbed, jobs = run_engine(csim, with_rejected_dummies(rows), policy, NODES)
    dummies = jobs["job_id"].astype(str).str.startswith("dummy")
    assert dummies.sum() > 100 and (jobs.loc[dummies, "state"] == "rejected").all()
    count, lines = mismatches(perturbed, {i: plain[i] for i, *_ in rows})
    assert count == 0, f"{count} jobs start elsewhere when only the event order changes:\n{lines}"
