"""Invariants of runs with failures, on random small clusters with high failure rates.

Each example builds a random scenario (2-6 nodes, spares, any policy, node and job-level
failure rates of hundreds to thousands per 1,000 node-days, lemons, early life, Weibull
life, random repair/detection/checkpoint settings) and runs it on an Engine that checks the
cluster after every change. Then, from the output tables alone:

* GPU-seconds add up: sum(work_done x gpus) + lost + overhead = integral of busy GPUs over
  [0, horizon], to 1e-6 relative (float accumulation only);
* no job ever holds a node that is down, except a hung job on the node that just failed
  (until detection); busy <= up at every instant;
* every job is accounted for: submitted = finished + running + queued + rejected, an
  interrupted job is finished, running or queued at the horizon, work_done <= duration and
  finished => work_done == duration;
* the events table is well formed (failure -> repair | pulled, per node, in time order);
* with zero rates, zero-cost checkpoints and no spares, a run is identical to the same
  scenario without a ``failures`` section, and ``events.parquet`` is empty without one.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference.summary_reference import area, assert_close, core_summary, failure_summary

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine, simulate
from clustersim.engine.failures import Failures
from clustersim.results import rundir as output
from clustersim.results.columns import STATES
from clustersim.rng import Streams

HOUR = 3600.0
DAY = 86400.0
EPS_S = 1e-6  # float noise allowed on sums of seconds (values are up to ~1e5 s)
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def nan(x: float) -> bool:
    return x != x


class CheckedEngine(Engine):
    """Asserts the cluster's state after every recorded change and at every segment start."""

    def __init__(self, *args, **kw):
        self.checks = 0
        super().__init__(*args, **kw)

    def start(self, job, nodes):
        super().start(job, nodes)
        c = self.cluster
        assert job.hung_since is None
        for node in job.nodes:
            assert c.up[node], f"{job!r} started on node {node}, which is down"
            assert not c.spare[node], f"{job!r} started on spare {node} without taking it"

    def _record(self):
        super()._record()
        self.invariants()

    def invariants(self) -> None:
        self.checks += 1
        c = self.cluster
        g = c.gpus_per_node
        busy = 0
        for node, free in enumerate(c.free):
            jobs = c.jobs_on[node]
            used = sum(c.per_node(j.spec.num_gpus) for j in jobs)
            if c.up[node]:
                assert free + used == g, (node, free, used)
                if c.spare[node]:
                    assert node in c.spares_free and used == 0
                else:
                    assert node in c.buckets[free] and node not in c.spares_free
                busy += used
            else:
                # a down node holds no GPUs; the only jobs still listed on it are hung ones
                # waiting for detection (they are released then)
                assert free == 0 and node not in c.spares_free
                for job in jobs:
                    assert job.hung_since is not None, f"{job!r} runs on down node {node}"
        assert busy == c.busy_gpus, (busy, c.busy_gpus)
        assert 0 <= c.busy_gpus <= c.up_gpus
        assert sum(len(b) for b in c.buckets) + len(c.spares_free) == c.up_nodes
        assert len(c.spares_free) <= c.spare_target
        for job in self.running:
            assert job.nodes and job.state == "running"
            if job.hung_since is None:
                assert all(c.up[n] for n in job.nodes), (job, job.nodes)
        queued = set(self.queue.jobs)
        assert not (queued & set(self.running))
        assert all(not j.nodes and j.state == "queued" for j in queued)


# --------------------------------------------------------------------------- strategies


def durations(lo: float, hi: float):
    return st.floats(lo, hi).map(lambda x: round(x, 3))


@st.composite
def distributions(draw, lo: float, hi: float):
    kind = draw(st.sampled_from(["fixed", "exponential", "lognormal"]))
    if kind == "fixed":
        return draw(durations(lo, hi))
    if kind == "exponential":
        return {"kind": "exponential", "mean": draw(durations(max(lo, 1.0), hi))}
    median = draw(durations(max(lo, 1.0), hi))
    return {
        "kind": "lognormal",
        "median": median,
        "p90": median * draw(st.sampled_from([1.5, 4.0])),
    }


@st.composite
def checkpoints(draw):
    return {
        "interval": draw(st.one_of(st.just("young"), durations(300.0, 4 * HOUR))),
        "cost": draw(durations(0.0, 120.0)),
        "restart": draw(durations(0.0, 1200.0)),
    }


DETECTIONS = st.one_of(
    st.sampled_from([0.0, 60.0, 300.0, 2 * HOUR]),
    st.sampled_from([180.0, HOUR]).map(lambda m: {"kind": "exponential", "mean": m}),
)


@st.composite
def failure_sections(draw, nodes: int):
    share = draw(st.sampled_from([1.0, 0.25, 0.5]))
    repair = [{"name": "a", "share": share, "time": draw(distributions(0.0, 6 * HOUR))}]
    if share < 1.0:
        repair.append({"name": "b", "share": 1.0 - share, "time": draw(distributions(60.0, DAY))})
    section = {
        "rate_per_1000_node_days": draw(st.sampled_from([0.0, 300.0, 1000.0, 3000.0])),
        "job_rate_per_1000_node_days": draw(st.sampled_from([0.0, 300.0, 1000.0, 3000.0])),
        "life": draw(
            st.one_of(
                st.just("exponential"),
                st.builds(
                    lambda k: {"kind": "weibull", "shape": k}, st.sampled_from([0.6, 1.0, 2.0])
                ),
            )
        ),
        "repair": repair,
        # hours-long hangs: some are still going at the horizon
        "detection": draw(DETECTIONS),
        "spare_nodes": draw(st.integers(0, nodes - 1)),
        "checkpoint": draw(checkpoints()),
        "requeue": draw(st.sampled_from(["original", "front"])),
    }
    if draw(st.booleans()):
        section["lemons"] = {
            "fraction": 0.3,
            "multiplier": 3.0,
            "pull_after": draw(st.integers(2, 4)),
        }
    if draw(st.booleans()):
        section["early_life"] = {"multiplier": 3.0, "period": "6h"}
    return section


SHARES = {1: [1.0], 2: [0.5, 0.5], 3: [0.5, 0.25, 0.25]}  # exact binary fractions: sum to 1


@st.composite
def workloads(draw, nodes: int, gpn: int, with_checkpoints: bool):
    sizes = sorted({1, 2, gpn, 2 * gpn, nodes * gpn})
    classes = []
    for i in range(draw(st.integers(1, 2))):
        picked = draw(st.lists(st.sampled_from(sizes), min_size=1, max_size=3, unique=True))
        cls = {
            "name": f"c{i}",
            "arrival_rate_per_h": draw(st.sampled_from([0.5, 2.0, 6.0])),
            "gpus": dict(zip(picked, SHARES[len(picked)], strict=True)),
            "duration": {
                "kind": "lognormal",
                "median": draw(durations(600.0, 4 * HOUR)),
                "p90": "8h",
            },
        }
        if with_checkpoints and draw(st.booleans()):
            cls["checkpoint"] = draw(checkpoints())
        classes.append(cls)
    return classes


@st.composite
def failure_scenarios(draw):
    gpn = draw(st.sampled_from([4, 8]))
    nodes = draw(st.integers(2, 6))
    data = {
        "name": "prop-failures",
        "horizon": draw(st.sampled_from([DAY, 2 * DAY])),
        "cluster": {"nodes": nodes, "gpus_per_node": gpn},
        "scheduler": {
            "policy": draw(st.sampled_from(["fifo", "sjf", "backfill"])),
            "placement": draw(st.sampled_from(["pack", "spread"])),
        },
        "workload": {"classes": draw(workloads(nodes, gpn, True))},
        "failures": draw(failure_sections(nodes)),
    }
    return data, draw(st.integers(0, 10_000))


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(case=failure_scenarios())
def test_runs_with_failures_keep_every_invariant(case):
    data, seed = case
    sc = scenario_from_dict(data)
    engine = CheckedEngine(sc, Streams(seed))
    engine.run()
    r = engine.result()
    jobs, ts, ev, s = r.jobs, r.timeseries, r.events, r.summary
    horizon = sc.horizon
    g = sc.cluster.gpus_per_node
    assert engine.checks > 0

    # GPU-seconds add up exactly (up to float accumulation)
    busy = area(ts, "busy_gpus", 0.0, horizon)  # tests/reference: not the summary's own integral
    gpus = jobs["num_gpus"].to_numpy(float)
    parts = float(
        np.sum(jobs["work_done_s"].to_numpy(float) * gpus)
        + jobs["lost_gpu_s"].sum()
        + jobs["overhead_gpu_s"].sum()
    )
    assert parts == pytest.approx(busy, rel=1e-6, abs=1e-6)

    # levels: busy <= up, down_nodes consistent with up_gpus
    assert (ts["busy_gpus"] <= ts["up_gpus"]).all()
    assert (ts["busy_gpus"] >= 0).all()
    assert (ts["down_nodes"] == sc.cluster.nodes - ts["up_gpus"] // g).all()

    # every job accounted for
    counts = s["jobs"]
    assert counts["submitted"] == len(jobs) == sum(counts[k] for k in STATES)
    interrupted = jobs[jobs["restarts"] > 0]
    assert interrupted["state"].isin(["finished", "running", "queued"]).all()
    assert s["job_interruptions"] == int(jobs["restarts"].sum())
    rejected = jobs[jobs["state"] == "rejected"]
    assert (rejected["work_done_s"] == 0).all() and (rejected["restarts"] == 0).all()
    done, dur = jobs["work_done_s"].to_numpy(float), jobs["duration_s"].to_numpy(float)
    assert (done <= dur).all(), jobs[done > dur]
    assert (done >= 0).all()
    fin = (jobs["state"] == "finished").to_numpy(bool)
    assert (done[fin] == dur[fin]).all()
    assert (jobs.loc[fin, "end_s"] <= horizon).all()
    # Non-negative up to float noise: a finished job's overhead is (end - segment start) -
    # remaining, which is +-1e-12 s when checkpoints and restarts are free.
    for col in ("lost_s", "overhead_s", "lost_gpu_s", "overhead_gpu_s"):
        assert (jobs[col] >= -EPS_S * gpus).all(), col
    # overhead is whole-job GPU time; lost includes hangs on the surviving nodes only
    assert np.allclose(jobs["overhead_gpu_s"], jobs["overhead_s"] * gpus, rtol=1e-9, atol=1e-6)
    assert (jobs["lost_gpu_s"] <= jobs["lost_s"] * gpus * (1 + 1e-9) + 1e-6).all()
    never = jobs[(jobs["restarts"] == 0) & (jobs["state"] != "running")]
    assert (never["lost_s"] == 0).all()

    # events: per node failure -> (repair | pulled) -> failure ..., in time order
    assert ev["t_s"].is_monotonic_increasing
    assert s["failures"] == int((ev["kind"] == "failure").sum())
    assert s["nodes_pulled"] == int((ev["kind"] == "pulled").sum())
    assert set(ev["kind"]) <= {"failure", "repair", "job_failure", "pulled"}
    for node, rows in ev[ev["node_id"] >= 0].groupby("node_id"):
        kinds = rows["kind"].tolist()
        assert all(k == "failure" for k in kinds[0::2]), (node, kinds)
        assert all(k in ("repair", "pulled") for k in kinds[1::2]), (node, kinds)
        assert "pulled" not in kinds[:-1], (node, kinds)  # a pulled node never comes back
        t = rows["t_s"].to_numpy(float)
        down = rows["down_s"].to_numpy(float)
        for i in range(1, len(kinds), 2):
            if kinds[i] == "repair":
                assert t[i] - t[i - 1] == pytest.approx(down[i - 1], rel=1e-9, abs=1e-6)
                assert down[i] == down[i - 1]
    pulled = int((ev["kind"] == "pulled").sum())
    assert ts["down_nodes"].iloc[-1] >= pulled

    # the summary, recomputed from the tables by tests/reference/summary_reference.py (numpy
    # and pandas from the README glossary), not by the functions that wrote it
    want = {**core_summary(jobs, ts, horizon, sc.warmup), **failure_summary(jobs, ts, ev, horizon, sc.warmup)}
    assert_close({k: s[k] for k in want}, want, rel=1e-9, abs_=1e-6)


def _without(data: dict) -> dict:
    out = copy.deepcopy(data)
    out.pop("failures", None)
    return out


@st.composite
def plain_scenarios(draw):
    gpn = draw(st.sampled_from([4, 8]))
    nodes = draw(st.integers(1, 5))
    data = {
        "name": "prop-identity",
        "horizon": draw(st.sampled_from([DAY, 2 * DAY])),
        "warmup": draw(st.sampled_from([0.0, 6 * HOUR])),
        "cluster": {"nodes": nodes, "gpus_per_node": gpn},
        "scheduler": {
            "policy": draw(st.sampled_from(["fifo", "sjf", "backfill"])),
            "placement": draw(st.sampled_from(["pack", "spread"])),
        },
        "workload": {"classes": draw(workloads(nodes, gpn, False))},
    }
    return data, draw(st.integers(0, 10_000))


CORE_COLUMNS = [
    "job_id",
    "job_class",
    "num_gpus",
    "submit_s",
    "start_s",
    "end_s",
    "wait_s",
    "duration_s",
    "state",
    "reason",
    "restarts",
]
ZERO_FAILURES = {
    "rate_per_1000_node_days": 0,
    "job_rate_per_1000_node_days": 0,
    "checkpoint": {"interval": "young", "cost": 0, "restart": 0},
}


@settings(max_examples=30, deadline=None, derandomize=True)
@given(case=plain_scenarios())
def test_zero_rate_failures_change_nothing(case):
    """Failures present but off (zero rates, free checkpoints, no spares) reproduce the run
    without a failures section: same jobs, same timeseries, same summary numbers (the
    failure run only adds keys). Failures draw from their own named streams, so the workload
    is unchanged; a checkpoint cost or a spare pool would (rightly) change the schedule."""
    data, seed = case
    base = simulate(scenario_from_dict(_without(data)), seed)
    off = simulate(scenario_from_dict({**data, "failures": ZERO_FAILURES}), seed)
    pd.testing.assert_frame_equal(base.jobs[CORE_COLUMNS], off.jobs[CORE_COLUMNS])
    pd.testing.assert_frame_equal(base.timeseries, off.timeseries)
    # accounting columns: no loss, no overhead (up to float noise: overhead of a finished job
    # is (end - segment start) - remaining), work done equal up to the same rounding
    for col in ("lost_s", "overhead_s", "lost_gpu_s", "overhead_gpu_s"):
        assert (off.jobs[col].abs() <= EPS_S * off.jobs["num_gpus"]).all(), col
    np.testing.assert_allclose(
        off.jobs["work_done_s"], base.jobs["work_done_s"], rtol=1e-12, atol=1e-6
    )
    for key, value in base.summary.items():
        assert off.summary[key] == value, key
    assert off.summary["failures"] == 0 and off.summary["job_interruptions"] == 0
    assert len(base.events) == 0 and len(off.events) == 0
    assert list(base.events.columns) == list(off.events.columns)


def test_events_parquet_is_empty_without_failures():
    data = {
        "name": "no-failures",
        "horizon": "1d",
        "cluster": {"nodes": 2, "gpus_per_node": 8},
        "workload": {
            "classes": [
                {"name": "a", "arrival_rate_per_h": 4, "gpus": {1: 0.5, 8: 0.5}, "duration": "1h"}
            ]
        },
    }
    sc = scenario_from_dict(data)
    r = simulate(sc, 3)
    assert "failures" not in r.summary
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        output.begin_run(run_dir, sc, 3)
        output.write_run(run_dir, r)
        events = pd.read_parquet(run_dir / "events.parquet")
    assert len(events) == 0
    core = ["t_s", "kind", "node_id", "cause", "repair_class", "down_s", "jobs_hit"]
    assert list(events.columns[: len(core)]) == core  # later features may add columns


def test_checked_engine_catches_a_job_on_a_down_node():
    """The invariant check itself can fail: a running (not hung) job listed on a node taken
    down behind the engine's back is reported."""
    data = {
        "name": "x",
        "horizon": "1d",
        "cluster": {"nodes": 2, "gpus_per_node": 8},
        "scheduler": {"policy": "fifo"},
        "workload": {
            "classes": [{"name": "a", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}]
        },
        "failures": {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0},
    }
    from clustersim.model import JobSpec

    engine = CheckedEngine(scenario_from_dict(data), Streams(0), [JobSpec("a", 0.0, 8, HOUR, "t")])
    engine.env.run(until=1.0)
    engine.cluster.take_down(
        engine.cluster.jobs_on.index(next(d for d in engine.cluster.jobs_on if d))
    )
    with pytest.raises(AssertionError, match="runs on down node"):
        engine.invariants()


def test_cluster_check_accepts_a_hung_job():
    from clustersim.model import JobSpec

    data = {
        "name": "x",
        "horizon": "20d",
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "scheduler": {"policy": "fifo"},
        "workload": {
            "classes": [{"name": "a", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}]
        },
        "failures": {
            "rate_per_1000_node_days": 0,
            "job_rate_per_1000_node_days": 0,
            "detection": "5m",
        },
    }
    engine = Engine(scenario_from_dict(data), Streams(0), [JobSpec("a", 0.0, 24, 10 * HOUR, "t")])
    fp = engine.part(Failures)
    engine.env.timeout(1000.0, value=(1, fp.node_token[1])).callbacks.append(fp._fail)
    engine.env.run(until=1100.0)  # node 1 failed at 1,000 s; detection at 1,300 s
    assert next(iter(engine.running)).hung_since is not None
    engine.cluster.check()


def test_result_can_be_called_twice():
    from clustersim.model import JobSpec

    data = {
        "name": "x",
        "horizon": "1d",
        "cluster": {"nodes": 2, "gpus_per_node": 8},
        "scheduler": {"policy": "fifo"},
        "workload": {
            "classes": [{"name": "a", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}]
        },
        "failures": {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0},
    }
    engine = Engine(scenario_from_dict(data), Streams(0), [JobSpec("a", 0.0, 8, 2 * DAY, "t")])
    engine.run()
    first, second = engine.result(), engine.result()
    pd.testing.assert_frame_equal(first.jobs, second.jobs)
