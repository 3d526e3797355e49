"""The autoscaler against hand-computed answers: constant demand, a step up, scale-in after
the cool-down, request logs, and replicas lost to a node failure."""

from __future__ import annotations

import math

import pytest

from clustersim.engine.inference import Inference
from clustersim.model import REPLICA
from clustersim.workload.demand import replicas_needed


def rows_at(result, t):
    frame = result.extra_tables["services"]
    frame = frame[frame["t_s"] <= t]
    return frame.iloc[-1]


@pytest.mark.parametrize(
    ("demand", "rate", "headroom", "expected"),
    [(95.0, 10.0, 0.2, 12), (100.0, 10.0, 0.2, 12), (7.0, 2.5, 0.0, 3), (30.0, 3.0, 0.1, 11), (1.0, 100.0, 0.5, 1)],
)
def test_constant_demand_gives_ceil_replicas_after_startup(svc, demand, rate, headroom, expected):
    assert expected == math.ceil(round(demand * (1 + headroom) / rate, 9))
    sc = svc.scenario(
        nodes=4, services=[svc.service(gpus=1, rps=rate, demand={"base_rps": demand}, headroom=headroom, startup=600)]
    )
    result, engine = svc.run(sc)
    before = rows_at(result, 599.0)
    assert before["ready_replicas"] == 0 and before["starting_replicas"] == expected
    after = rows_at(result, 600.0)
    assert after["ready_replicas"] == expected and after["starting_replicas"] == 0
    assert after["served_rps"] == pytest.approx(demand)
    assert len(result.extra_tables["services"]) == 2  # constant demand: one step, one ready event
    assert result.summary["services"]["chat"]["peak_replicas"] == expected
    # inference GPUs are busy GPUs, recorded separately
    assert result.timeseries["inference_gpus"].iloc[-1] == expected
    assert result.timeseries["busy_gpus"].iloc[-1] == expected


def test_min_and_max_bound_the_replicas(svc):
    assert replicas_needed(0.0, 10.0, 0.2, 2, None) == 2
    assert replicas_needed(1000.0, 10.0, 0.2, 1, 5) == 5
    sc = svc.scenario(services=[svc.service(gpus=8, demand={"base_rps": 1000.0}, max_replicas=3, startup=0)])
    result, _ = svc.run(sc)
    last = result.extra_tables["services"].iloc[-1]
    assert last["ready_replicas"] == 3 and last["served_rps"] == 30.0 and last["unserved_rps"] == 970.0


HOURLY_STEP = [1.0] + [2.0] * 23  # 10 rps in hour 0, 20 rps from 01:00


def test_step_up_replicas_ready_startup_after_step_and_unserved_area(svc):
    startup = 600.0
    sc = svc.scenario(
        horizon=7200.0,
        services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 10.0, "hourly": HOURLY_STEP}, headroom=0.0,
                              startup=startup)],
    )
    result, engine = svc.run(sc)
    frame = result.extra_tables["services"]
    assert rows_at(result, 3600.0)["ready_replicas"] == 1
    assert rows_at(result, 3600.0)["starting_replicas"] == 1
    assert rows_at(result, 3600.0 + startup - 1e-6)["ready_replicas"] == 1
    ready2 = frame[frame["ready_replicas"] == 2]["t_s"].min()
    assert ready2 == 3600.0 + startup
    # unserved: 10 rps for the first start-up (no replica yet) + (20 - 10) rps until the new one serves
    expected = 10.0 * startup + (20.0 - 10.0) * startup
    s = result.summary["services"]["chat"]
    assert s["unserved_requests"] == pytest.approx(expected)
    assert s["demand_requests"] == pytest.approx(10.0 * 3600 + 20.0 * 3600)
    assert s["unserved_fraction"] == pytest.approx(expected / (10.0 * 3600 + 20.0 * 3600))
    assert s["slo_attainment"] == pytest.approx(1 - 2 * startup / 7200.0)
    assert s["replica_gpu_hours"] == pytest.approx((8 * 7200 + 8 * 3600) / 3600)


def test_scale_in_waits_for_cooldown_and_releases_newest(svc):
    hourly = [3.0] + [1.0] * 23  # 30 rps in hour 0 (3 replicas), 10 rps after (1 replica)
    sc = svc.scenario(
        services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 10.0, "hourly": hourly}, headroom=0.0,
                              startup=0, cooldown=900)],
    )
    result, engine = svc.run(sc)
    assert rows_at(result, 3600.0 + 899)["ready_replicas"] == 3
    assert rows_at(result, 3600.0 + 900)["ready_replicas"] == 1
    (kept,) = engine.part(Inference).services[0].replicas
    assert kept.seq == 0  # the oldest stays


def test_demand_back_up_within_cooldown_cancels_scale_in(svc):
    hourly = [3.0, 1.0] + [3.0] * 22
    sc = svc.scenario(
        services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 10.0, "hourly": hourly}, headroom=0.0,
                              startup=0, cooldown=5400)],
        horizon=3 * 3600.0,
    )
    result, _ = svc.run(sc)
    assert (result.extra_tables["services"]["ready_replicas"] == 3).all()


def test_weekend_noise_and_growth_curve(svc):
    from clustersim.config import DemandConfig
    from clustersim.rng import Streams
    from clustersim.workload.demand import steps

    d = DemandConfig(base_rps=100.0, hourly=HOURLY_STEP, weekend_factor=0.5, growth_per_month=0.1)
    it = steps(d)
    got = {t: r for t, r in (next(it) for _ in range(24 * 8))}
    assert got[0.0] == 100.0
    assert got[3600.0] == pytest.approx(200.0 * 1.1 ** (3600 / (30 * 86400)))
    assert got[5 * 86400.0] == pytest.approx(100.0 * 0.5 * 1.1 ** (5 / 30))  # Saturday
    assert got[7 * 86400.0] == pytest.approx(100.0 * 1.1 ** (7 / 30))  # Monday again
    # noise: one draw per day, from the service's own stream
    dn = DemandConfig(base_rps=100.0, noise=0.1)
    a = list(zip(range(5), steps(dn, Streams(3)("services.x.noise")), strict=False))
    b = list(zip(range(5), steps(dn, Streams(3)("services.x.noise")), strict=False))
    assert a == b
    assert [t for _, (t, _) in a] == [0.0, 86400.0, 2 * 86400.0, 3 * 86400.0, 4 * 86400.0]
    assert len({r for _, (_, r) in a}) == 5


def test_request_log_is_binned_and_scaled(svc, tmp_path):
    log = tmp_path / "log.csv"
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    # 60 requests in the first minute, 120 in the second, 30 in the third
    for minute, count in enumerate([60, 120, 30]):
        for i in range(count):
            lines.append(f"2023-11-16 18:{10 + minute:02d}:{i * 60 / count:010.7f},100,10")
    log.write_text("\n".join(lines) + "\n")
    sc = svc.scenario(
        horizon=360.0,
        services=[svc.service(gpus=1, rps=1.0, demand={"trace": str(log), "bin": 60, "scale": 2.0}, headroom=0.0,
                              startup=0, cooldown=0)],
    )
    result, _ = svc.run(sc)
    frame = result.extra_tables["services"]
    assert frame["demand_rps"].tolist() == [2.0, 4.0, 1.0, 2.0, 4.0, 1.0]  # replayed after 3 bins
    assert frame["t_s"].tolist() == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    assert frame["ready_replicas"].tolist() == [2, 4, 1, 2, 4, 1]


def test_azure_log_reads(svc):
    """The Azure LLM inference trace's own format (seven-digit fractions of a second), from a
    five-minute excerpt shipped in tests/data (CC BY 4.0, see its README): per-minute rates
    equal the requests counted here by hand in each minute from the first request, and the
    mean rate is in calibration 4's range (5.53 req/s over the whole hour)."""
    from pathlib import Path

    from clustersim.config import DemandConfig
    from clustersim.workload.demand import read_log_rates

    path = Path(__file__).resolve().parents[1] / "data" / "traces" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv_5min.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == "TIMESTAMP,ContextTokens,GeneratedTokens" and len(lines) == 1 + 1445

    def seconds(line: str) -> float:  # all on 2023-11-16: the time of day is enough
        hh, mm, ss = line.split(",")[0].split(" ")[1].split(":")
        return int(hh) * 3600 + int(mm) * 60 + float(ss)

    t = [seconds(line) for line in lines[1:]]
    per_minute = [0] * 5
    for x in t:
        per_minute[int((x - t[0]) // 60)] += 1
    rates = read_log_rates(DemandConfig(trace=path, bin=60))
    assert rates.tolist() == pytest.approx([c / 60 for c in per_minute], rel=1e-12)
    assert per_minute == [191, 265, 329, 353, 307]
    assert 3.0 < rates.mean() < 8.0
    scaled = read_log_rates(DemandConfig(trace=path, bin=300, scale=2.0))
    assert scaled.tolist() == pytest.approx([2 * 1445 / 300])


def test_failure_kills_replicas_and_autoscaler_replaces_them(svc):
    sc = svc.scenario(nodes=3, services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 20.0}, headroom=0.0,
                                                     startup=300)])
    from clustersim.rng import Streams

    engine = svc.CheckingEngine(sc, Streams(0))
    engine.env.run(until=1000.0)
    s = engine.part(Inference).services[0]
    assert s.ready == 2
    node = s.replicas[0].nodes[0]
    for job in engine.cluster.take_down(node):  # what failures.Failures._fail does to replicas
        assert job.kind == REPLICA
        job.owner.lost(job)
    engine.capacity_changed()
    engine.env.run(until=1000.0 + 1e-6)  # the pass of this instant places the replacement
    assert len(s.replicas) == 2 and s.ready == 1  # replaced at once, starting
    assert node not in s.replicas[1].nodes
    engine.env.run(until=1000.0 + 300.0 + 1)
    assert s.ready == 2
    result = engine.result()
    assert rows_at(result, 1000.0)["ready_replicas"] == 1
    assert rows_at(result, 1300.0)["ready_replicas"] == 2


def test_replicas_use_reserved_nodes_first_and_training_never_does(svc):
    sc = svc.scenario(
        nodes=4,
        services=[svc.service(gpus=8, rps=10.0, demand={"base_rps": 10.0}, headroom=0.0, startup=0)],
        inference={"reserved_nodes": 1},
        classes=[{"name": "p", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}],
    )
    specs = [svc.spec(f"j{i}", 0, 8, 5000) for i in range(4)]
    result, engine = svc.run(sc, specs)
    rep = engine.part(Inference).services[0].replicas[0]
    assert engine.cluster.pool_of[rep.nodes[0]] == 1
    jobs = result.jobs.set_index("job_id")
    assert jobs.loc["j3", "wait_s"] == 5000.0  # three shared nodes for four training jobs
    assert engine.cluster.schedulable_nodes() == 3
