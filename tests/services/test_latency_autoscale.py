"""``autoscale.target: slo``: replica counts by hand, never fewer than the SLO needs while GPUs
are free, monotone in demand; and the latency outputs (services.parquet columns, summary keys,
requests.parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustersim.config.services import ServiceConfig
from clustersim.engine.service_table import SERVICE_COLUMNS
from clustersim.engine.slo import ServiceLatency

REPO = Path(__file__).resolve().parents[2]
CONV = str(REPO / "workloads" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv.gz")

# One sequence per replica, a fixed 1 s prefill, one output token: TTFT = wait + 1 s. The model's
# wait for a replica is Erlang C's, so "p99 TTFT <= 1 s + 1 us" holds exactly when the chance of
# waiting, C(c, demand x 1 s), is at most 1%.
ERLANG = {
    "requests": {"prompt": 1000, "output": 1},
    "profile": {"iteration": 0, "per_sequence": "1ms", "per_prompt_token": "1ms", "max_batch": 1},
    "routing": "shared",
    "slo": {"ttft": {"p99": 1.000001}},
}
CHAT = {"requests": {"trace": CONV}, "profile": "llama2-70b-a100-tp8", "slo": {"ttft": {"p99": "2s"}, "tpot": {"p99": "200ms"}}}


def latency(lat: dict, **autoscale) -> ServiceLatency:
    cfg = ServiceConfig.model_validate({"name": "chat", "gpus_per_replica": 1, "demand": {"base_rps": 1},
                                        "autoscale": {"target": "slo", "headroom": 0, **autoscale}, "latency": lat})
    return ServiceLatency(cfg)


# By hand, from Erlang C with a = demand Erlangs: the fewest c with C(c, a) <= 1%
# (C(3, 0.5) = 1.5%, C(4, 0.5) = 0.18%; C(6, 2) = 1.8%, C(7, 2) = 0.48%; C(11, 5) = 1.5%,
# C(12, 5) = 0.59%; C(18, 10) = 1.6%, C(19, 10) = 0.79%; C(31, 20) = 1.5%, C(32, 20) = 0.90%).
@pytest.mark.parametrize(("demand", "replicas"), [(0.5, 4), (2.0, 7), (5.0, 12), (10.0, 19), (20.0, 32)])
def test_slo_replicas_by_hand(demand, replicas):
    lat = latency(ERLANG)
    assert lat.replicas(demand, 1, None) == replicas
    assert lat.replicas(demand, 1, 10) == min(replicas, 10)  # max_replicas caps it
    assert lat.replicas(demand, 40, None) == 40  # min_replicas floors it
    assert lat.replicas(0.0, 2, None) == 2


def test_slo_autoscaler_in_the_fleet_run(svc):
    sc = svc.scenario(nodes=4, gpn=8, services=[{
        "name": "chat", "gpus_per_replica": 1, "demand": {"base_rps": 10.0},
        "autoscale": {"target": "slo", "headroom": 0, "startup": 0}, "latency": ERLANG}])
    result, _ = svc.run(sc)
    rows = result.extra_tables["services"]
    last = rows.iloc[-1]
    assert last["ready_replicas"] == 19 and bool(last["slo_met"])
    assert last["ttft_p99_s"] == pytest.approx(1.0, rel=5e-3)  # the 1 s prefill (quantile grid: 0.4%)
    s = result.summary["services"]["chat"]
    assert s["latency_attainment"] >= 0.99 and s["slo_time_share"] == 1.0
    # the same service sized by the utilisation rule at its saturation throughput (1 req/s) and
    # the same headroom (0): 10 replicas; the SLO asks for 9 more, of 1 GPU each, over 2 h
    assert s["slo_minus_utilisation_gpu_hours"] == pytest.approx(9 * 2.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 400.0), min_size=2, max_size=6))
def test_slo_replicas_are_monotone_in_demand(demands):
    lat = MONOTONE
    counts = [lat.replicas(d, 1, None) for d in sorted(demands)]
    assert counts == sorted(counts)


MONOTONE = latency(CHAT)


def test_never_fewer_replicas_than_the_slo_needs_while_gpus_are_free(svc):
    hourly = [0.3, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 0.9, 0.7, 0.9, 1.0, 0.8] * 2
    sc = svc.scenario(nodes=40, gpn=8, horizon=86400.0, services=[{
        "name": "chat", "gpus_per_replica": 8, "demand": {"base_rps": 60.0, "hourly": hourly},
        "autoscale": {"target": "slo", "headroom": 0.1, "startup": 600, "cooldown": 1200}, "latency": CHAT}])
    result, engine = svc.run(sc)
    rows = result.extra_tables["services"]
    lat = MONOTONE
    need = np.array([lat.replicas(d * 1.1, 1, None) for d in rows["demand_rps"]])
    placed = rows["ready_replicas"] + rows["starting_replicas"]
    assert (rows["waiting_replicas"] == 0).all()  # GPUs are free: every wanted replica is placed
    assert (placed >= need).all()
    settled = rows["starting_replicas"] == 0
    assert rows.loc[settled, "slo_met"].all()  # once ready, the SLO holds at the step's demand
    assert rows["ttft_p99_s"][settled].max() <= 2.0 + 1e-9


def test_outputs_with_and_without_latency(svc):
    plain = svc.scenario(services=[svc.service()])
    result, _ = svc.run(plain)
    assert tuple(result.extra_tables["services"].columns) == SERVICE_COLUMNS
    assert "requests" not in result.extra_tables
    assert "ttft_p99_s" not in result.summary["services"]["chat"]
    lat = dict(CHAT, request_level={"windows": [{"start": 3600, "length": 300}], "replicas": 2})
    sc = svc.scenario(nodes=8, services=[{"name": "chat", "gpus_per_replica": 8, "demand": {"base_rps": 8.0},
                                          "autoscale": {"startup": 0}, "latency": lat}])
    result, _ = svc.run(sc)
    rows = result.extra_tables["services"]
    assert list(rows.columns) == [*SERVICE_COLUMNS, "ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p50_s",
                                  "tpot_p99_s", "attainment", "slo_met"]
    s = result.summary["services"]["chat"]
    for key in ("ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p50_s", "tpot_p99_s", "latency_attainment",
                "slo_time_share"):
        assert s[key] is not None and s[key] >= 0
    assert s["ttft_p50_s"] <= s["ttft_p99_s"] and s["tpot_p50_s"] <= s["tpot_p99_s"]
    req = result.extra_tables["requests"]
    assert list(req.columns) == ["service", "window", "arrival_s", "prompt_tokens", "output_tokens", "replica",
                                 "wait_s", "ttft_s", "tpot_s", "e2e_s", "within_slo"]
    assert req["arrival_s"].between(3600, 3900).all() and set(req["replica"]) <= {0, 1}
    # 8 rps on ceil(8 x 1.2 / 3.81) = 3 replicas, two simulated at 8 x 2/3 rps: ~1,600 requests
    assert 1300 < len(req) < 1900
    rl = s["request_level"]
    assert rl["windows"] == 1 and rl["requests"] == len(req)
    assert rl["ttft_p99_s"] == pytest.approx(np.percentile(req["ttft_s"], 99))
    assert 0.5 < rl["model_ttft_p99_s"] / rl["ttft_p99_s"] < 2.0


def test_a_latency_section_without_slo_sizing_leaves_the_run_as_it_was(svc):
    # With rps_per_replica given and the utilisation rule, the latency model only reads the run:
    # jobs, timeseries and the services table's own columns are those of the run without it.
    classes = [{"name": "small", "arrival_rate_per_h": 30, "gpus": {1: 0.5, 8: 0.5},
                "duration": {"kind": "lognormal", "median": "5m", "p90": "1h"}, "preemptible": True}]
    base = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 3.0,
            "demand": {"base_rps": 20.0, "hourly": [0.5] * 6 + [1.0] * 18}, "autoscale": {"startup": 600}}
    plain = svc.scenario(nodes=12, horizon=86400.0, classes=classes, services=[base])
    with_lat = svc.scenario(nodes=12, horizon=86400.0, classes=classes, services=[dict(base, latency=CHAT)])
    a, _ = svc.run(plain, seed=3)
    b, _ = svc.run(with_lat, seed=3)
    assert a.jobs.equals(b.jobs) and a.timeseries.equals(b.timeseries)
    sa, sb = a.extra_tables["services"], b.extra_tables["services"]
    assert sa.equals(sb[list(SERVICE_COLUMNS)])
    assert {k: v for k, v in b.summary["services"]["chat"].items() if k in a.summary["services"]["chat"]} \
        == a.summary["services"]["chat"]
