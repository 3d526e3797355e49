"""Properties of the preemptive policies (srtf, las) and of EASY with estimates, over random
workloads with failures (hypothesis): after every pass no node holds more GPUs than it has and
no job is both queued and running (``policy_helpers.CheckingEngine``); at the horizon every
submitted job is finished, running, queued or rejected, exactly once; GPU-seconds add up."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import run, scenario, silent, spec

from clustersim.results.summary import step_integral

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POLICIES = [
    "srtf",
    {"kind": "srtf", "preemption": "suspend"},
    {"kind": "las", "thresholds": [50, 400], "promote_knob": 2, "preemption": "suspend"},
    {"kind": "las", "thresholds": [3600]},
    {"kind": "backfill", "estimate": {"factor": 1.5}},
    {"kind": "backfill", "estimate": {"factor": 1.0}, "kill_at_limit": True},
]
FAILURES = {"rate_per_1000_node_days": 40000, "job_rate_per_1000_node_days": 20000,
            "detection": {"kind": "exponential", "mean": 20},
            "repair": [{"name": "r", "share": 1, "time": {"kind": "exponential", "mean": 300}}],
            "checkpoint": {"interval": 120, "cost": 5, "restart": 20}}


@st.composite
def workloads(draw, per: int, nodes: int):
    jobs = []
    for i in range(draw(st.integers(1, 30))):
        if per > 1 and draw(st.booleans()):
            g = per * draw(st.integers(1, nodes))
        else:
            g = draw(st.sampled_from([k for k in (1, 2, 4) if k <= per]))
        jobs.append(spec(str(i), float(draw(st.integers(0, 2000))), g, float(draw(st.integers(1, 900)))))
    return sorted(jobs, key=lambda s: s.submit_s)


def conserved(result, n: int) -> None:
    jobs = result.jobs
    assert len(jobs) == n and jobs["job_id"].is_unique
    assert set(jobs["state"]) <= {"finished", "running", "queued", "rejected"}
    done = jobs[jobs["state"] == "finished"]
    assert (done["end_s"] >= done["start_s"]).all()
    killed = done["reason"] == "killed: time limit"
    assert np.allclose(done.loc[~killed, "work_done_s"], done.loc[~killed, "duration_s"])
    assert (done.loc[killed, "work_done_s"] <= done.loc[killed, "duration_s"] + 1e-9).all()


def gpu_seconds_add_up(result) -> None:
    jobs, ts = result.jobs, result.timeseries
    held = float(np.sum(jobs["num_gpus"] * (jobs["useful_s"] + jobs["lost_s"] + jobs["overhead_s"])))
    busy = step_integral(ts["t_s"].to_numpy(float), ts["busy_gpus"].to_numpy(float), 0.0, result.scenario.horizon)
    assert busy == pytest.approx(held, rel=1e-9, abs=1e-6)


# with lossy preemption and thresholds under the checkpoint interval LAS may never finish a
# job (runs are cut before they save anything): conservation still holds
LOSSY = [{"kind": "las", "thresholds": [50, 400], "promote_knob": 2}]


@pytest.mark.parametrize("policy", POLICIES + LOSSY, ids=lambda p: p if isinstance(p, str) else str(p))
@SETTINGS
@given(jobs=workloads(per=4, nodes=3), seed=st.integers(0, 3))
def test_conservation_with_failures(policy, jobs, seed):
    sc = scenario(nodes=3, gpus_per_node=4, policy=policy, horizon=20_000.0, failures=FAILURES,
                  classes=[silent("a")])
    _, r = run(sc, jobs, seed=seed)
    conserved(r, len(jobs))


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p if isinstance(p, str) else str(p))
@SETTINGS
@given(jobs=workloads(per=2, nodes=3))
def test_no_failures_everything_ends_and_adds_up(policy, jobs):
    ck = [silent("a", checkpoint={"interval": 60, "cost": 3, "restart": 10})]
    sc = scenario(nodes=3, gpus_per_node=2, policy=policy, horizon=1e7, classes=ck)
    _, r = run(sc, jobs)
    conserved(r, len(jobs))
    assert (r.jobs["state"] == "finished").all()  # a long horizon: no livelock, nothing starves
    gpu_seconds_add_up(r)


@SETTINGS
@given(jobs=workloads(per=2, nodes=3), knob=st.sampled_from([0.25, 1.0, 8.0]), requeue=st.booleans())
def test_las_promotions_are_bounded_by_service(jobs, knob, requeue):
    # Tiresias' starvation rule promotes only a job in a lower queue, i.e. one that attained a
    # whole first threshold since its last promotion (which resets its service): so the
    # promotions can never outnumber the GPU-seconds held / that threshold, however long jobs wait
    threshold = 40.0
    policy = {"kind": "las", "thresholds": [threshold, 300], "promote_knob": knob}
    if not requeue:
        policy["preemption"] = "suspend"
    sc = scenario(nodes=3, gpus_per_node=2, policy=policy, horizon=20_000.0, classes=[silent("a")])
    engine, r = run(sc, jobs)
    conserved(r, len(jobs))
    held = float(np.sum(r.jobs["num_gpus"] * (r.jobs["useful_s"] + r.jobs["lost_s"] + r.jobs["overhead_s"])))
    assert engine.policy.promotions <= held / threshold + 1e-9
