"""Speed changes of running jobs (``Engine.respeed``, ``engine.segments``) and fail-slow nodes
(``engine.slowness``), on cases computed by hand."""

from __future__ import annotations

import math

import pytest

from clustersim.checkpoint import Plan
from clustersim.config import scenario_from_dict
from clustersim.engine.component import Component
from clustersim.engine.core import Engine, simulate
from clustersim.engine.slowness import FailSlow
from clustersim.model import FINISHED, JobSpec
from clustersim.rng import Streams

SILENT = {"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}


def scenario(nodes=2, horizon=100_000.0, failures=None, policy="fifo"):
    d = {
        "name": "speed-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": 8},
        "scheduler": {"policy": policy},
        "workload": {"classes": [dict(SILENT)]},
    }
    if failures is not None:
        d["failures"] = failures
    return scenario_from_dict(d)


class Dial(Component):
    """A test component: every job runs at ``factor``, changed at given times; an optional
    checkpoint plan for every job."""

    def __init__(self, changes, plan=None, only=None):
        self.only = only  # the job id it slows (None: every job)
        self.factor = 1.0
        self.changes = changes
        self.plan = plan

    def attach(self, engine):
        self.engine = engine
        for t, f in self.changes:
            engine.call_at(t, self._set, value=f)

    def _set(self, event):
        self.factor = event._value
        for job in list(self.engine.running):
            self.engine.respeed(job)

    def job_submitted(self, job):
        job.plan = self.plan

    def speed_factor(self, job, nodes):
        return self.factor if self.only in (None, job.spec.job_id) else 1.0


def run(changes, specs, plan=None, nodes=2, evict_at=None):
    dial = Dial(changes, plan)
    engine = Engine(scenario(nodes=nodes), Streams(0), specs, parts=[dial])
    if evict_at is not None:
        def evict(_e):
            for job in list(engine.running):
                engine.evict(job)
                engine.capacity_changed()
        engine.call_at(evict_at, evict)
    engine.run()
    return engine.result().jobs


def test_a_gang_slowed_then_released_ends_when_its_work_is_done():
    # 1,000 s of work on 16 GPUs: full speed to t=200 (200 done), half speed to t=600 (200 more),
    # full speed for the last 600: ends at 1,200
    jobs = run([(200.0, 0.5), (600.0, 1.0)], [JobSpec("a", 0.0, 16, 1000.0)])
    row = jobs.iloc[0]
    assert row.state == FINISHED
    assert row.end_s == 1200.0
    assert row.work_done_s == 1000.0
    # useful wall: 400 s at speed 1 plus the 400 s the 200 s of work took at half speed
    assert row.useful_s == pytest.approx(1000.0 - 200.0 + 400.0, abs=1e-9)


def test_a_job_slowed_from_its_start_runs_duration_over_s():
    jobs = run([(0.0, 0.25)], [JobSpec("a", 10.0, 8, 300.0)])
    assert jobs.iloc[0].end_s == pytest.approx(10.0 + 300.0 / 0.25, abs=1e-9)


def test_checkpoints_follow_progress_time_across_a_speed_change():
    # interval 100 s of progress, cost 10 s, no restart cost; 300 s of work.
    # t=0..55 at speed 1: 55 of work; then 0.5: 245 left takes 490 s of progress; total
    # progress 545 -> checkpoints at 100, 200, 300, 400, 500: 5 x 10 s -> ends at 595
    plan = Plan(interval=100.0, cost=10.0, restart=0.0)
    jobs = run([(55.0, 0.5)], [JobSpec("a", 0.0, 8, 300.0)], plan=plan)
    row = jobs.iloc[0]
    assert row.end_s == pytest.approx(595.0, abs=1e-9)
    assert row.overhead_s == pytest.approx(50.0, abs=1e-9)


def test_an_interruption_after_a_speed_change_keeps_the_work_of_its_checkpoints():
    # as above, evicted at t=250: cycles of 110 s -> 2 checkpoints (progress 200 saved), 30 s
    # of progress lost. Work saved: 55 at speed 1 + 145 at 0.5 = 127.5; 172.5 left.
    # The job restarts at once (the cluster is free) at speed 0.5: 345 s of progress,
    # checkpoints at 100, 200, 300 -> 3 x 10 s: ends at 250 + 345 + 30 = 625
    plan = Plan(interval=100.0, cost=10.0, restart=0.0)
    jobs = run([(55.0, 0.5)], [JobSpec("a", 0.0, 8, 300.0)], plan=plan, evict_at=250.0)
    row = jobs.iloc[0]
    assert row.lost_s == pytest.approx(30.0, abs=1e-9)
    assert row.end_s == pytest.approx(625.0, abs=1e-9)
    assert row.restarts == 1


def test_two_changes_at_one_instant_and_a_change_back_to_the_same_speed():
    jobs = run([(100.0, 0.5), (100.0, 0.8), (300.0, 0.8)], [JobSpec("a", 0.0, 8, 500.0)])
    # 100 at 1.0, then 400 left at 0.8: 500 s -> ends at 600
    assert jobs.iloc[0].end_s == pytest.approx(600.0, abs=1e-9)


def test_easy_backfill_sees_the_new_end_of_a_slowed_job():
    # two 8-GPU nodes. a (8 GPUs, 100 s) runs on one from t=0; b (16 GPUs) arrives at t=1, is
    # the head and is reserved at a's end. At t=50 a is slowed to half: its 50 s left take
    # 100 s, so it ends at 150 and b's reservation moves there. c (8 GPUs, 80 s) arrives at
    # t=60: it ends at 140, before the new reservation (but after the old one, 100), so EASY
    # backfills it on the idle node at once.
    specs = [JobSpec("a", 0.0, 8, 100.0), JobSpec("b", 1.0, 16, 10.0), JobSpec("c", 60.0, 8, 80.0)]
    dial = Dial([(50.0, 0.5)], only="a")
    engine = Engine(scenario(policy="backfill"), Streams(0), specs, parts=[dial])
    engine.run()
    jobs = engine.result().jobs.set_index("job_id")
    assert jobs.loc["a", "end_s"] == pytest.approx(150.0)
    assert jobs.loc["c", "start_s"] == 60.0
    assert jobs.loc["c", "end_s"] == 140.0
    assert jobs.loc["b", "start_s"] == pytest.approx(150.0)


# ------------------------------------------------------------------------------------ fail-slow

SLOW = {"rate_per_1000_node_days": 0.0, "factor": 0.5}


def slow_engine(specs, slow=None, nodes=2, **failures):
    f = {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0,
         "checkpoint": {"interval": "1d", "cost": 0, "restart": 0}, "slow": dict(slow or SLOW)}
    f.update(failures)
    engine = Engine(scenario(nodes=nodes, failures=f), Streams(0), specs)
    return engine, engine.part(FailSlow)


def test_a_gang_with_one_slow_node_runs_duration_over_s():
    engine, fs = slow_engine([JobSpec("a", 0.0, 16, 1000.0)])
    fs.begin(1, 0.5, duration=math.inf)
    engine.run()
    jobs = engine.result().jobs
    assert jobs.iloc[0].end_s == pytest.approx(2000.0, abs=1e-9)
    assert jobs.iloc[0].slow_s == pytest.approx(1000.0, abs=1e-9)  # 2,000 s x (1 - 0.5)


def test_an_episode_in_the_middle_of_a_run():
    engine, fs = slow_engine([JobSpec("a", 0.0, 16, 1000.0)])
    engine.call_at(100.0, lambda _e: fs.begin(0, 0.5, duration=300.0))
    engine.run()
    jobs = engine.result().jobs
    # 100 at 1, 300 s at 0.5 (150 done), 750 left at 1: ends at 1,150
    assert jobs.iloc[0].end_s == pytest.approx(1150.0, abs=1e-9)
    assert jobs.iloc[0].slow_s == pytest.approx(150.0, abs=1e-9)
    kinds = [row[1] for row in fs.rows]
    assert kinds == ["slow_start", "slow_end"]


def test_detection_swaps_the_node_out_and_the_job_restarts_from_its_checkpoint():
    # checkpoint every 100 s (no cost); slow at t=50 (factor 0.5), swapped out at t=250:
    # progress 250 s -> saved 200 s of progress = 50 + 150 x 0.5 = 125 work; 50 s lost.
    # With 2 nodes and no spare the 16-GPU job waits for the node's repair (fixed 1,000 s):
    # restarts at 1,250 with 875 left: ends at 2,125
    specs = [JobSpec("a", 0.0, 16, 1000.0)]
    f = {"checkpoint": {"interval": 100.0, "cost": 0, "restart": 0},
         "slow": {"rate_per_1000_node_days": 0, "factor": 0.5, "repair": {"kind": "fixed", "value": 1000.0}}}
    engine, fs = slow_engine(specs, **f)
    engine.call_at(50.0, lambda _e: fs.begin(1, 0.5, duration=1e9, detect=200.0))
    engine.run()
    row = engine.result().jobs.iloc[0]
    assert row.lost_s == pytest.approx(50.0, abs=1e-9)
    assert row.restarts == 1
    assert row.start_s == 0.0
    assert row.end_s == pytest.approx(2125.0, abs=1e-9)
    assert fs.swaps == 1


def test_episode_counts_match_the_poisson_expectation():
    # 50 nodes, 20 episodes per 1,000 node-days, 400 days, 1-minute episodes (so a node is
    # almost never slow when picked): expected 50 x 400 x 0.02 = 400 episodes
    specs = []
    f = {"rate_per_1000_node_days": 0, "job_rate_per_1000_node_days": 0,
         "slow": {"rate_per_1000_node_days": 20, "duration": {"kind": "fixed", "value": 60.0}}}
    counts = []
    for seed in range(8):
        engine = Engine(scenario(nodes=50, horizon=400 * 86400.0, failures=f), Streams(seed), specs)
        engine.run()
        counts.append(engine.part(FailSlow).episodes)
    mean = sum(counts) / len(counts)
    # Poisson: sd of the mean of 8 counts = sqrt(400 / 8) ~ 7.1; 4 sd
    assert abs(mean - 400.0) < 4 * math.sqrt(400.0 / 8)


def test_without_fail_slow_settings_no_component_and_no_column():
    s = scenario(failures={"rate_per_1000_node_days": 5})
    result = simulate(s, 0, specs=[JobSpec("a", 0.0, 8, 100.0)])
    assert "slow_s" not in result.jobs.columns
    assert "fail_slow" not in result.summary


def test_a_change_and_its_undoing_during_a_checkpoint_write_leave_the_end_alone():
    # interval 100, cost 50: writes at wall 100-150 and 250-300; 300 s of work ends at 400.
    # Slowed at 110 and restored at 120, both inside the first write (no progress between):
    # the end goes back to exactly 400, where the first completion event already waits; the
    # job must finish once
    plan = Plan(interval=100.0, cost=50.0, restart=0.0)
    jobs = run([(110.0, 0.5), (120.0, 1.0)], [JobSpec("a", 0.0, 8, 300.0)], plan=plan)
    assert len(jobs) == 1
    assert jobs.iloc[0].end_s == 400.0
    assert jobs.iloc[0].overhead_s == pytest.approx(100.0, abs=1e-9)
