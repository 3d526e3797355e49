"""Invariants of runs with fail-slow nodes (``failures.slow``) on top of random failure
scenarios: speed changes mid-segment, swaps through the failure path, checkpoints and every
policy. From the output tables alone:

* GPU-seconds add up: sum(useful wall x gpus) + lost + overhead = integral of busy GPUs
  (useful_s, the wall time of kept progress: work done at a lower speed took longer);
* work_done <= duration, finished => work_done == duration, useful_s never exceeds the wall
  time the job held its GPUs (restarts included);
* slow_s >= 0 and 0 for jobs that never ran;
* the event rows of the episodes are well formed: per node, start -> (end | swap) alternate.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property.test_failure_invariants import CheckedEngine, failure_scenarios
from reference.summary_reference import area

from clustersim.config import scenario_from_dict
from clustersim.rng import Streams

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def slow_scenarios(draw):
    data, seed = draw(failure_scenarios())
    slow = {
        "rate_per_1000_node_days": draw(st.sampled_from([300.0, 3000.0, 20000.0])),
        "factor": draw(st.sampled_from([0.25, 0.5, 0.9, 1.0])),
        "duration": {"kind": "exponential", "mean": draw(st.sampled_from([600.0, 7200.0, 43200.0]))},
    }
    if draw(st.booleans()):
        slow["detection"] = {"kind": "exponential", "mean": draw(st.sampled_from([300.0, 3600.0]))}
        slow["repair"] = {"kind": "exponential", "mean": 3600.0}
    data["failures"]["slow"] = slow
    return data, seed


@PROPERTY
@given(case=slow_scenarios())
def test_runs_with_fail_slow_nodes_keep_every_invariant(case):
    data, seed = case
    sc = scenario_from_dict(data)
    engine = CheckedEngine(sc, Streams(seed))
    engine.run()
    r = engine.result()
    jobs, ts, ev = r.jobs, r.timeseries, r.events
    busy = area(ts, "busy_gpus", 0.0, sc.horizon)
    gpus = jobs["num_gpus"].to_numpy(float)
    parts = float(
        np.sum(jobs["useful_s"].to_numpy(float) * gpus) + jobs["lost_gpu_s"].sum() + jobs["overhead_gpu_s"].sum()
    )
    assert parts == pytest.approx(busy, rel=1e-6, abs=1e-6)
    done, dur = jobs["work_done_s"].to_numpy(float), jobs["duration_s"].to_numpy(float)
    assert (done <= dur * (1 + 1e-12) + 1e-9).all()
    fin = (jobs["state"] == "finished").to_numpy(bool)
    assert np.allclose(done[fin], dur[fin], rtol=1e-12, atol=1e-6)
    for col in ("lost_s", "overhead_s", "slow_s"):
        assert (jobs[col] >= -1e-6).all(), col
    never = jobs["start_s"].isna().to_numpy(bool)
    assert (jobs.loc[never, "slow_s"] == 0).all()
    # useful (kept progress, wall) + lost + overhead is at most the wall time held
    held = np.where(fin, jobs["end_s"], sc.horizon) - jobs["start_s"].fillna(sc.horizon)
    spent = jobs["useful_s"] + jobs["lost_s"] + jobs["overhead_s"]
    assert (spent <= held + 1e-6).all()
    slow = ev[ev["cause"] == "slow"]
    assert set(slow["kind"]) <= {"slow_start", "slow_end", "slow_swap"}
    s = r.summary["fail_slow"]
    assert s["episodes"] == int((slow["kind"] == "slow_start").sum())
    assert s["swaps"] == int((slow["kind"] == "slow_swap").sum())
    for node, rows in slow.groupby("node_id"):
        kinds = rows["kind"].tolist()
        assert all(k == "slow_start" for k in kinds[0::2]), (node, kinds)
        assert all(k in ("slow_end", "slow_swap") for k in kinds[1::2]), (node, kinds)
