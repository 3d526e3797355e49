"""Preemption against a hand-made schedule: a 16-GPU replica (two whole 8-GPU nodes) on a full
cluster of five nodes, held by three preemptible jobs and one non-preemptible one.

    node  job  GPUs  class  segment start   lost at 3600 s (no checkpoint: whole segment)
    0     N    8     n      0               -
    1     A    8     p      1000            2600 x 8  = 20,800 GPU-s
    2     C    8     p      2500            1100 x 8  =  8,800
    3,4   B    16    p      3000             600 x 16 =  9,600

At 01:00 the service wants one replica. Each victim policy names a different set:
least_lost walks C, B (frees nodes 2 and 3) -> {C, B}; smallest walks A, C -> {A, C};
newest walks B (frees nodes 3 and 4) -> {B}. N is never touched.
"""

from __future__ import annotations

import pytest

from clustersim.engine.inference import Inference

CLASSES = [
    {"name": "p", "arrival_rate_per_h": 0, "gpus": 8, "duration": "1h", "preemptible": True},
    {"name": "n", "arrival_rate_per_h": 0, "gpus": 8, "duration": "1h"},
]
ON_AT_1H = {"base_rps": 10.0, "hourly": [0.0] + [1.0] * 23}


def hand_case(svc, victims, extra_specs=(), **kw):
    sc = svc.scenario(
        nodes=5,
        classes=CLASSES,
        services=[svc.service(gpus=16, rps=10.0, demand=ON_AT_1H, headroom=0.0, min_replicas=0, startup=0)],
        inference={"victims": victims},
        **kw,
    )
    specs = [
        svc.spec("N", 0, 8, 10**6, "n"),
        svc.spec("A", 1000, 8, 10**6, "p"),
        svc.spec("C", 2500, 8, 10**6, "p"),
        svc.spec("B", 3000, 16, 10**6, "p"),
        *extra_specs,
    ]
    return svc.run(sc, specs)


@pytest.mark.parametrize(
    ("victims", "expected"),
    [("least_lost", {"C", "B"}), ("smallest", {"A", "C"}), ("newest", {"B"})],
)
def test_replica_preempts_exactly_the_jobs_the_policy_names(svc, victims, expected):
    result, engine = hand_case(svc, victims)
    jobs = result.jobs.set_index("job_id")
    preempted = set(jobs.index[jobs["preemptions"] > 0])
    assert preempted == expected
    assert jobs.loc["N", "preemptions"] == 0 and jobs.loc["N", "restarts"] == 0
    assert (jobs.loc[list(expected), "preemptions"] == 1).all()
    # work lost = the whole segment (no checkpoint plan without failures or a class checkpoint)
    seg = {"A": 2600 * 8, "C": 1100 * 8, "B": 600 * 16}
    for name in expected:
        assert jobs.loc[name, "preempted_lost_gpu_s"] == pytest.approx(seg[name])
        assert jobs.loc[name, "lost_gpu_s"] == pytest.approx(seg[name])
    assert result.summary["preemptions"] == len(expected)
    assert result.summary["preempted_gpu_hours_lost"] == pytest.approx(sum(seg[n] for n in expected) / 3600)
    assert engine.part(Inference).services[0].ready == 1
    assert engine.part(Inference).preemptions == len(expected)


def test_least_lost_uses_checkpoints_when_the_class_has_them(svc):
    classes = [dict(c) for c in CLASSES]
    classes[0]["checkpoint"] = {"interval": "1000s", "cost": 0, "restart": "60s"}
    sc = svc.scenario(
        nodes=5,
        classes=classes,
        services=[svc.service(gpus=16, rps=10.0, demand=ON_AT_1H, headroom=0.0, min_replicas=0, startup=0)],
    )
    specs = [svc.spec("N", 0, 8, 10**6, "n"), svc.spec("A", 1000, 8, 10**6, "p"),
             svc.spec("C", 2500, 8, 10**6, "p"), svc.spec("B", 3000, 16, 10**6, "p")]
    result, _ = svc.run(sc, specs)
    jobs = result.jobs.set_index("job_id")
    # unsaved since the last checkpoint: A 2600 % 1000 = 600 s x 8, C 1100 % 1000 = 100 s x 8, B 600 s x 16
    assert set(jobs.index[jobs["preemptions"] > 0]) == {"C", "A"}
    assert jobs.loc["A", "preempted_lost_gpu_s"] == pytest.approx(600 * 8)
    assert jobs.loc["C", "preempted_lost_gpu_s"] == pytest.approx(100 * 8)


def test_non_preemptible_jobs_are_never_touched_and_the_replica_waits(svc):
    sc = svc.scenario(
        nodes=2,
        classes=CLASSES,
        services=[svc.service(gpus=16, rps=10.0, demand=ON_AT_1H, headroom=0.0, min_replicas=0, startup=0)],
        horizon=3 * 3600.0,
    )
    specs = [svc.spec("N1", 0, 8, 9000, "n"), svc.spec("P", 0, 8, 10**6, "p")]
    result, engine = svc.run(sc, specs)
    jobs = result.jobs.set_index("job_id")
    assert jobs.loc["N1", "preemptions"] == 0 and jobs.loc["N1", "state"] == "finished"
    frame = result.extra_tables["services"]
    # waits from 01:00 until N1 ends at 9000 s, then preempts P and is placed
    waiting = frame[frame["waiting_replicas"] > 0]
    assert waiting["t_s"].min() == 3600.0
    placed = frame[frame["ready_replicas"] == 1]["t_s"].min()
    assert placed == 9000.0
    assert jobs.loc["P", "preemptions"] == 1
    s = result.summary["services"]["chat"]
    assert s["waiting_replica_hours"] == pytest.approx((9000 - 3600) / 3600)
    assert s["shortfall_hours"] == pytest.approx((9000 - 3600) / 3600)


def test_preempted_job_is_requeued_and_restarts_with_its_remaining_work(svc):
    # one 8-GPU node: the replica (8 GPUs) evicts P at 01:00 and is released when demand ends
    hourly = [0.0, 1.0] + [0.0] * 22
    sc = svc.scenario(
        nodes=1,
        classes=CLASSES,
        services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 10.0, "hourly": hourly}, headroom=0.0,
                              min_replicas=0, startup=0, cooldown=0)],
        horizon=5 * 3600.0,
    )
    result, _ = svc.run(sc, [svc.spec("P", 0, 8, 5000, "p")])
    p = result.jobs.set_index("job_id").loc["P"]
    assert p["preemptions"] == 1 and p["restarts"] == 1 and p["state"] == "finished"
    assert p["end_s"] == 7200.0 + 5000.0  # lost its first 3600 s, ran again in full from 02:00
    assert p["lost_s"] == 3600.0
