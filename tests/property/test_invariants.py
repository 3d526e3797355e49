"""Invariants that hold for every trace, policy and placement (hypothesis).

Random small traces (sizes that fit the drawn cluster, with a few shapes it can never hold,
tied and untied submit times, zero and non-zero durations) run on small clusters under a
random policy and placement, in an Engine that checks the cluster's node-level indexes and the
queue's order after every event (``conftest.RecordingEngine``). The outputs are then checked
against each other: states against start/end columns, the timeseries against levels rebuilt
from the jobs table at every event time, the summary against numbers recomputed here with
numpy from the tables (never with the functions that wrote them).

The schedule itself (which job starts when) is checked against an independent reference
scheduler (``tests/reference/gpu_reference.py``: FIFO, SJF, EASY at every depth, and
conservative), which shares no code with the engine.

Every test here is derandomized (``derandomize=True``): CI runs the same examples each time.
Set ``CLUSTERSIM_EXPLORE=1`` to draw fresh random examples instead, and
``CLUSTERSIM_EXAMPLES=N`` for more of them in the schedule test (local bug hunting).
"""

from __future__ import annotations

import math
import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reference.gpu_reference import Mismatch, Pool, conservative_units
from reference.gpu_reference import schedule as reference_schedule

from clustersim.engine.core import Engine
from clustersim.engine.queue import JobQueue
from clustersim.model import Job, JobSpec
from clustersim.results.columns import STATES
from clustersim.rng import Streams

SIZES = [1, 2, 3, 4, 8, 16, 24, 32, 40]
# ~60 ms per example (mostly building the result tables); moderate counts keep the file
# well under 30 s even on a busy 2-core machine.
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
DERANDOMIZE = os.environ.get("CLUSTERSIM_EXPLORE", "") in ("", "0")
# CLUSTERSIM_NO_SHRINK=1 (tests/mutation/run_mutants.py): report a failure without shrinking it
PHASES = [p for p in Phase if p != Phase.shrink or not os.environ.get("CLUSTERSIM_NO_SHRINK")]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=HEALTH, derandomize=DERANDOMIZE, phases=PHASES)
FEW = settings(max_examples=40, deadline=None, suppress_health_check=HEALTH, derandomize=DERANDOMIZE, phases=PHASES)

# Times are multiples of 1/8 s: sums and differences of such numbers are exact in binary
# floating point, so the engine's clock lands exactly on every submit and end time. (With
# arbitrary floats it does not: see test_arrival_clock_is_exact, an xfail for that bug.)
times = st.one_of(
    st.integers(0, 120).map(float),  # whole seconds: many ties
    st.integers(0, 120 * 8).map(lambda k: k / 8),
)
durations = st.one_of(
    st.just(0.0),
    st.integers(1, 80).map(float),
    st.integers(0, 150 * 8).map(lambda k: k / 8),
)
policies = st.one_of(
    st.sampled_from(["fifo", "sjf", "backfill"]),
    st.integers(1, 3).map(lambda d: {"kind": "backfill", "depth": d}),
    st.integers(1, 3).map(lambda d: {"kind": "conservative", "depth": d}),
)


def shapes(gpn: int, nodes: int, whole: bool = False) -> list[int]:
    """GPU counts a cluster of ``nodes`` x ``gpn`` can hold: up to one node, or whole nodes
    (``whole``: whole nodes only)."""
    return ([] if whole else list(range(1, gpn))) + [k * gpn for k in range(1, nodes + 1)]


def impossible_shapes(gpn: int, nodes: int) -> list[int]:
    """Sizes of SIZES the cluster can never hold (rejected at submission)."""
    return [g for g in SIZES if (g > gpn and g % gpn) or g > gpn * nodes]


@st.composite
def sizes(draw, gpn: int, nodes: int, whole: bool = False, impossible: bool = False) -> int:
    """A size the cluster can hold; with ``impossible``, one it cannot in about 1 draw in 16
    (enough to exercise rejection, few enough that most jobs take part in the schedule)."""
    bad = impossible_shapes(gpn, nodes)
    if impossible and bad and draw(st.integers(0, 15)) == 0:
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(shapes(gpn, nodes, whole)))


@st.composite
def cases(draw, impossible: bool = True, policy=policies):
    gpn = draw(st.sampled_from([2, 4, 8]))
    nodes = draw(st.integers(1, 4))
    n = draw(st.integers(0, 30))
    submits = sorted(draw(st.lists(times, min_size=n, max_size=n)))
    specs = [
        JobSpec(f"j{i}", s, draw(sizes(gpn, nodes, impossible=impossible)), draw(durations), draw(st.sampled_from(["a", "b"])))
        for i, s in enumerate(submits)
    ]
    horizon = float(draw(st.integers(20, 200)))
    warmup = draw(st.sampled_from([0.0, horizon / 4, horizon / 2]))
    return {
        "specs": specs,
        "nodes": nodes,
        "gpus_per_node": gpn,
        "policy": draw(policy),
        "placement": draw(st.sampled_from(["pack", "spread"])),
        "horizon": horizon,
        "warmup": warmup,
    }


def levels_at(jobs, t: np.ndarray) -> np.ndarray:
    """Rows of (busy GPUs, running jobs, queued jobs, queued GPUs) at each time in ``t``,
    rebuilt from the jobs table alone (a job runs on [start, end), queues on [submit, start))."""
    gpus = jobs["num_gpus"].to_numpy()
    submit = jobs["submit_s"].to_numpy()
    start = np.nan_to_num(jobs["start_s"].to_numpy(), nan=math.inf)
    end = np.nan_to_num(jobs["end_s"].to_numpy(), nan=math.inf)
    live = (jobs["state"] != "rejected").to_numpy()
    t = np.asarray(t)[:, None]
    started = start <= t
    running = started & (t < end)
    queued = live & (submit <= t) & ~started
    return np.stack(
        [(running * gpus).sum(1), running.sum(1), queued.sum(1), (queued * gpus).sum(1)], axis=1
    )


def run_case(csim, case):
    kw = {k: v for k, v in case.items() if k != "specs"}
    return csim.run_jobs(case["specs"], **kw)


@given(case=cases())
@SETTINGS
def test_invariants(csim, case):
    result, engine = run_case(csim, case)
    jobs, ts, s = result.jobs, result.timeseries, result.summary
    horizon, warmup = case["horizon"], case["warmup"]
    per, nodes = case["gpus_per_node"], case["nodes"]
    gpus_total = per * nodes
    window = horizon - warmup
    submitted = [sp for sp in case["specs"] if sp.submit_s < horizon]

    # -- every submitted job appears exactly once, in submission order, in one known state
    assert list(jobs["job_id"]) == [sp.job_id for sp in submitted]
    assert jobs["state"].notna().all() and set(jobs["state"].astype(str)) <= set(STATES)
    assert (jobs["num_gpus"].to_numpy() == [sp.num_gpus for sp in submitted]).all()

    state = jobs["state"].astype(str).to_numpy()
    start, end = jobs["start_s"].to_numpy(), jobs["end_s"].to_numpy()
    submit, dur = jobs["submit_s"].to_numpy(), jobs["duration_s"].to_numpy()
    g = jobs["num_gpus"].to_numpy()
    reason = jobs["reason"].astype(str).to_numpy()

    # -- states consistent with the start/end columns
    fin, run_, que, rej = (state == x for x in STATES)
    assert not np.isnan(start[fin]).any() and not np.isnan(end[fin]).any()
    assert (end[fin] <= horizon).all()
    assert (end[fin] == start[fin] + dur[fin]).all()  # no preemption: ends exactly on time
    assert not np.isnan(start[run_]).any() and np.isnan(end[run_]).all()
    assert (start[run_] + dur[run_] >= horizon).all()  # it really had not ended yet
    assert np.isnan(start[que]).all() and np.isnan(end[que]).all()
    assert np.isnan(start[rej]).all() and np.isnan(end[rej]).all()
    has_start = ~np.isnan(start)
    assert (start[has_start] >= submit[has_start]).all()
    assert (start[has_start] < horizon).all()
    wait = jobs["wait_s"].to_numpy()
    assert np.array_equal(wait, start - submit, equal_nan=True)

    # -- rejected exactly when the shape can never run; with a reason; others without one
    impossible = ((g > per) & (g % per != 0)) | (g > gpus_total)
    assert np.array_equal(rej, impossible)
    assert all(r for r in reason[rej]) and not any(r for r in reason[~rej])

    # -- conservation
    counts = s["jobs"]
    assert counts["submitted"] == len(submitted) == engine.submitted
    assert counts["submitted"] == counts["finished"] + counts["running"] + counts["queued"] + counts["rejected"]
    for name, mask in zip(STATES, (fin, run_, que, rej), strict=True):
        assert counts[name] == int(mask.sum())

    # -- timeseries: well formed, busy within [0, up]
    t = ts["t_s"].to_numpy()
    assert t[0] == 0.0 and (np.diff(t) > 0).all() and t[-1] < horizon
    busy, up = ts["busy_gpus"].to_numpy(), ts["up_gpus"].to_numpy()
    assert (busy >= 0).all() and (busy <= up).all() and (up == gpus_total).all()
    assert (ts["queued_jobs"] >= 0).all() and (ts["running_jobs"] >= 0).all()

    # -- the timeseries is the step function of the jobs table, at every event time
    points = np.unique(np.concatenate([t, submit, start[has_start], end[~np.isnan(end)]]))
    points = points[points < horizon]
    cols = ("busy_gpus", "running_jobs", "queued_jobs", "queued_gpus")
    levels = ts[list(cols)].to_numpy()
    recorded = levels[np.searchsorted(t, points, side="right") - 1]
    rebuilt = levels_at(jobs, points)
    bad = np.flatnonzero((recorded != rebuilt).any(axis=1))
    assert not len(bad), (points[bad[0]], recorded[bad[0]], rebuilt[bad[0]])

    # -- no GPU is given to two jobs: sweep the half-open intervals [start, end) of jobs that
    #    held GPUs for a positive time (ends before starts at equal times)
    holds = has_start & ~(end == start)
    events = sorted(
        [(e, 0, -gi) for e, gi in zip(end[holds], g[holds], strict=True) if not math.isnan(e)]
        + [(st_, 1, gi) for st_, gi in zip(start[holds], g[holds], strict=True)]
    )
    level = 0
    for _, _, delta in events:
        level += delta
        assert 0 <= level <= gpus_total

    # -- the summary is recomputable from the tables (numpy here, not results.summary)
    busy_s = float(np.sum(np.clip(np.minimum(np.nan_to_num(end, nan=horizon), horizon) - np.maximum(start, warmup), 0, None)[has_start] * g[has_start]))
    assert s["gpu_utilisation"] == pytest.approx(busy_s / (gpus_total * window), rel=0, abs=1e-9)
    q_area = np.clip(np.minimum(np.nan_to_num(start, nan=horizon), horizon) - np.maximum(submit, warmup), 0, None)
    q_area = float(q_area[~rej].sum())
    assert s["mean_queued_jobs"] == pytest.approx(q_area / window, rel=0, abs=1e-9)
    measured = (submit >= warmup) & ~rej & has_start
    if measured.any():
        assert s["wait_s"]["mean"] == pytest.approx(float(np.mean(wait[measured])), rel=1e-12, abs=1e-9)
    else:
        assert s["wait_s"]["mean"] is None
    if measured.any():
        for k in ("p50", "p90", "p99"):
            assert s["wait_s"][k] == pytest.approx(float(np.percentile(wait[measured], float(k[1:]))), rel=1e-12, abs=1e-9)
    in_window = (submit >= warmup) & ~rej
    offered = float(np.sum(g[in_window] * dur[in_window]))
    assert s["offered_load"] == pytest.approx(offered / (gpus_total * window), rel=1e-12, abs=1e-12)
    classes = jobs["job_class"].astype(str).to_numpy()
    assert set(s["by_class"]) == set(classes)
    for name, entry in s["by_class"].items():
        assert entry["jobs"] == int(np.sum(in_window & (classes == name)))
        mine = in_window & (classes == name)
        assert entry["gpu_hours"] == pytest.approx(float(np.sum(g[mine] * dur[mine])) / 3600.0, rel=1e-12, abs=1e-12)
        if offered > 0:
            assert entry["gpu_share"] == pytest.approx(float(np.sum(g[mine] * dur[mine])) / offered, rel=1e-12)
    finished_m = (submit >= warmup) & fin
    if finished_m.any():
        jct = end[finished_m] - submit[finished_m]
        assert s["jct_s"]["mean"] == pytest.approx(float(np.mean(jct)), rel=1e-12, abs=1e-9)
        for k in ("p50", "p90"):
            assert s["jct_s"][k] == pytest.approx(float(np.percentile(jct, float(k[1:]))), rel=1e-12, abs=1e-9)
    # GPU-weighted waits: pQ is the smallest wait w such that the jobs waiting at most w hold
    # at least Q% of the GPU-seconds (README glossary), by brute force over the waits
    weight = (g * dur)[measured]
    for k in ("p50", "p90", "p99"):
        if not measured.any() or weight.sum() <= 0:
            assert s["wait_s_gpu_weighted"][k] is None
            continue
        w = wait[measured]
        want = min(x for x in w if weight[w <= x].sum() >= float(k[1:]) / 100 * weight.sum() * (1 - 1e-12))
        assert s["wait_s_gpu_weighted"][k] == want, (k, w, weight)

    # -- node-level checks ran after every pass: at least one per distinct submit instant
    assert engine.checks >= len(np.unique(submit[~rej]))


@given(case=cases())
@FEW
def test_fifo_starts_jobs_in_submission_order(csim, case):
    case = {**case, "policy": "fifo"}
    result, _ = run_case(csim, case)
    jobs = result.jobs[result.jobs["state"] != "rejected"]
    start = jobs["start_s"].to_numpy()
    started = ~np.isnan(start)
    # a prefix of the queue has started, and in order
    assert not np.any(started[1:] & ~started[:-1])
    assert (np.diff(start[started]) >= 0).all()


class StartLog(Engine):
    """The engine, recording each job's first start: job id -> (time, nodes)."""

    def __init__(self, *args, **kw):
        self.first_starts: dict[str, tuple[float, tuple[int, ...]]] = {}
        super().__init__(*args, **kw)

    def start(self, job, nodes):
        if job.start_s is None:
            self.first_starts[job.spec.job_id] = (self.env.now, tuple(nodes))
        super().start(job, nodes)


# Submissions bunched in the first 30 s (durations reach 150 s): queues build up, so heads
# block and EASY has jobs to backfill.
busy_times = st.one_of(st.integers(0, 30).map(float), st.integers(0, 30 * 8).map(lambda k: k / 8))


@st.composite
def schedule_cases(draw, kind: str):
    """Traces whose every job fits the drawn cluster (no rejected shape). For ``kind`` =
    "conservative", clusters whose nodes are interchangeable for the schedule: whole-node
    jobs only, or a single node (the reference plans units there)."""
    gpn = draw(st.sampled_from([2, 4, 8]))
    nodes = draw(st.integers(1, 4))
    whole = draw(st.integers(0, 3)) == 0  # a quarter of the clusters: whole-node jobs only
    if kind == "conservative" and nodes > 1:
        whole = True
    n = draw(st.integers(8, 30))
    submits = sorted(draw(st.lists(busy_times, min_size=n, max_size=n)))
    specs = [JobSpec(f"j{i}", s, draw(sizes(gpn, nodes, whole)), draw(durations)) for i, s in enumerate(submits)]
    return {
        "specs": specs,
        "nodes": nodes,
        "gpus_per_node": gpn,
        "whole": whole or nodes == 1,
        "placement": draw(st.sampled_from(["pack", "spread"])),
        "horizon": float(draw(st.integers(20, 400))),
    }


def seeded_case(rng: np.random.Generator, kind: str) -> dict:
    """What ``schedule_cases`` draws, from a numpy generator: a corpus that does not change
    when the tests' source does (hypothesis derandomizes by a digest of the source)."""
    gpn = int(rng.choice([2, 4, 8]))
    nodes = int(rng.integers(1, 5))
    whole = bool(rng.integers(0, 4) == 0) or (kind == "conservative" and nodes > 1)
    n = int(rng.integers(8, 31))
    submits = np.sort(np.where(rng.random(n) < 0.5, rng.integers(0, 31, n), rng.integers(0, 241, n) / 8))
    options = shapes(gpn, nodes, whole)
    pick = rng.random(n)
    durs = np.where(pick < 0.2, 0.0, np.where(pick < 0.6, rng.integers(1, 81, n), rng.integers(0, 1201, n) / 8))
    specs = [JobSpec(f"j{i}", float(s), int(rng.choice(options)), float(d)) for i, (s, d) in enumerate(zip(submits, durs, strict=True))]
    return {"specs": specs, "nodes": nodes, "gpus_per_node": gpn, "whole": whole or nodes == 1,
            "placement": str(rng.choice(["pack", "spread"])), "horizon": float(rng.integers(20, 401))}


def check_schedule(csim, case: dict, kind: str, depth: int, seen: Counter) -> None:
    """Run ``case`` in the engine and compare every first start with the reference's; count
    in ``seen`` what the case exercised."""
    gpn, nodes, horizon = case["gpus_per_node"], case["nodes"], case["horizon"]
    policy = kind if kind in ("fifo", "sjf") else {"kind": kind, "depth": depth}
    scenario = csim.make_scenario(nodes=nodes, gpus_per_node=gpn, policy=policy,
                                  placement=case["placement"], horizon=horizon)
    engine = StartLog(scenario, Streams(0), case["specs"])
    engine.run()
    got = {job_id: t for job_id, (t, _) in engine.first_starts.items()}
    rows = [(sp.job_id, sp.submit_s, sp.num_gpus, sp.duration_s) for sp in case["specs"]]
    if kind == "conservative":
        unit = gpn if nodes > 1 else 1  # whole nodes, or the GPUs of the one node
        want = conservative_units([(i, s, gg // unit, d) for i, s, gg, d in rows], nodes * gpn // unit,
                                  depth=depth, horizon=horizon)
        # a job started while a job ahead of it still waited
        seen["behind"] += any(want[j] < max((want.get(k, math.inf) for k, *_ in rows[:m]), default=0)
                              for m, (j, *_r) in enumerate(rows) if j in want)
    else:
        guide = None if case["whole"] else engine.first_starts
        try:
            ref = reference_schedule(rows, [Pool(gpn, nodes)], kind, depth=depth or 100,
                                     placement=case["placement"], horizon=horizon, guide=guide)
        except Mismatch as err:
            raise AssertionError(f"{kind} depth {depth}: {err}") from None
        want = ref.starts
        seen["behind"] += ref.backfilled > 0
        seen["long"] += ref.long_backfills > 0
        seen["unguided"] += guide is None
        # EASY's promise, with the reference's shadow times
        for head, t in ref.promises.items():
            if t < horizon:
                assert head in got and got[head] <= t, f"head {head} promised {t}, engine {got.get(head)}"
    bad = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
    assert not bad, f"{kind} depth {depth}: job -> (engine start, reference start): {bad}"
    seen["examples"] += 1


# (policy, depth): EASY and conservative at every depth the cases can exceed, and the default
SCHEDULE_POLICIES = [("fifo", 0), ("sjf", 0), ("backfill", 1), ("backfill", 2), ("backfill", 3),
                     ("backfill", 100), ("conservative", 1), ("conservative", 100)]
POLICY_IDS = [f"{k}-{d}" if d else k for k, d in SCHEDULE_POLICIES]
SCHEDULE_EXAMPLES = int(os.environ.get("CLUSTERSIM_EXAMPLES", "50"))  # more for local bug hunting
CORPUS = 200


@pytest.mark.parametrize("kind,depth", SCHEDULE_POLICIES, ids=POLICY_IDS)
def test_schedule_is_strict_and_easy_keeps_its_promise(csim, kind, depth):
    """Every job starts exactly when the independent reference scheduler starts it.

    The reference (``tests/reference/gpu_reference.py``) implements the policies from their
    stated rules (strict FIFO/SJF, EASY with its GPU extensions and ``depth``, conservative),
    on GPU-granular nodes. Placement ties (which of several equally good nodes) are not a
    rule: where nodes are not interchangeable the reference follows the engine's node when it
    is one of the equally good ones the placement rule allows, and fails otherwise; on
    whole-node-only clusters and single nodes it needs no guide at all. So this checks
    strictness (a head that fits starts), EASY's shadow time, extra nodes/GPUs and ``depth``,
    and SJF's order. EASY's promise: each head starts no later than the earliest shadow time
    the reference computed while it was the head. (Hypothesis searches and shrinks; the
    seeded corpus below guarantees what is exercised.)"""
    seen = Counter()

    @given(case=schedule_cases(kind))
    @settings(max_examples=SCHEDULE_EXAMPLES, deadline=None, suppress_health_check=HEALTH, derandomize=DERANDOMIZE,
              phases=PHASES)
    def check(case):
        check_schedule(csim, case, kind, depth, seen)

    check()


@pytest.mark.parametrize("kind,depth", SCHEDULE_POLICIES, ids=POLICY_IDS)
def test_schedule_matches_the_reference_on_a_seeded_corpus(csim, kind, depth):
    """The same comparison on a fixed corpus of 200 cases (numpy, seed 21), which must
    exercise the policy: a job starts behind a blocked head (EASY, conservative) in at least
    a third of the cases, one runs past the head's shadow time on its extra capacity (EASY)
    in at least a sixth, and a quarter are compared with no guide at all. Measured: behind
    0.62, 0.69, 0.71, 0.78 for EASY at depth 1, 2, 3, 100 and 0.37, 0.72 for conservative at
    depth 1, 100; long 0.22-0.30; unguided 0.43."""
    rng = np.random.default_rng(21)
    seen = Counter()
    for _ in range(CORPUS):
        check_schedule(csim, seeded_case(rng, kind), kind, depth, seen)
    if kind in ("backfill", "conservative"):
        assert seen["behind"] >= seen["examples"] // 3, seen
    if kind == "backfill":
        assert seen["long"] >= seen["examples"] // 6, seen
    assert seen["unguided"] >= seen["examples"] // 4 or kind == "conservative", seen


def test_arrival_clock_is_exact(csim):
    # Found by hypothesis with arbitrary float submit times. Two 1-GPU jobs on an idle node:
    # both must start exactly when submitted (wait 0, not -1.8e-15).
    a, b = 1.0980178466847095, 9.875039117510132
    result, _ = csim.run_jobs([csim.spec("a", a, 1, 10), csim.spec("b", b, 1, 10)], nodes=1, horizon=100)
    jobs = result.jobs.set_index("job_id")
    assert jobs.loc["b", "start_s"] == b
    assert (jobs["wait_s"] >= 0).all() and result.summary["wait_s"]["mean"] >= 0
    assert b in set(result.timeseries["t_s"])


# ---------------------------------------------------------------------------------- JobQueue


@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("push"), st.floats(0, 10, allow_nan=False), st.sampled_from([1, 2, 8])),
            st.tuples(st.just("pop"), st.integers(0, 50), st.just(0)),
            st.tuples(st.just("remove"), st.lists(st.integers(0, 50), max_size=4, unique=True), st.just(0)),
        ),
        max_size=60,
    ),
    sjf=st.booleans(),
)
@SETTINGS
def test_job_queue_stays_sorted(ops, sjf):
    def key(job):
        return (job.spec.duration_s, job.seq) if sjf else (job.seq,)

    queue = JobQueue(key)
    model: list[Job] = []
    seq = 0
    for op, a, b in ops:
        if op == "push":
            job = Job(JobSpec(None, 0.0, b, a), seq)
            seq += 1
            i = queue.push(job)
            assert queue.jobs[i] is job
            model.append(job)
        elif op == "pop" and model:
            i = a % len(model)
            expected = sorted(model, key=key)[i]
            assert queue.pop(i) is expected
            model.remove(expected)
        elif op == "remove" and model:
            idx = sorted({x % len(model) for x in a})
            order = sorted(model, key=key)
            queue.remove_indices(list(reversed(idx)))
            for i in idx:
                model.remove(order[i])
        assert queue.jobs == sorted(model, key=key)
        assert len(queue) == len(model) and bool(queue) == bool(model)
        assert queue.gpus == sum(j.spec.num_gpus for j in model)
        for j in model:
            assert queue.jobs[queue.index(j)] is j
