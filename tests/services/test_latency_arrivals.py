"""Arrival burstiness (issue 19): Poisson, or a renewal process with the SCV of interarrival
times given or measured from a request log, in both fidelities.

- The SCV measured from the Azure traces equals an independent computation (pandas).
- Poisson (absent, ``poisson``, ``scv: 1``) draws and predicts exactly as before.
- Hand-checkable: one replica, one sequence, exponential service of mean 1 s, lam = 0.8 and
  ca^2 = 3. The chain has one state below full, and above it a geometric tail of ratio
  sigma = 0.8^(2 / (1 + 3)) = 0.894427191, so P(wait) = 0.8 / (1 - sigma + 0.8) and the wait,
  given one, is exponential with mean (ca^2 + cs^2) / 2 / (mu - lam) = (3 + 1) / 2 / 0.2 = 10 s.
- Against exact theory: GI/M/1 with gamma interarrival times (shape k = 1 / ca^2) waits with
  probability sigma, the root of sigma = (1 + mu (1 - sigma) / (k lam))^-k, and E[W] =
  sigma / (mu (1 - sigma)) (Kleinrock, Queueing Systems I, 6.4). The analytic model is within
  3% of it (heavy-traffic approximation); the request-level model, drawing gamma intervals,
  agrees within its 95% confidence interval over seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.config import scenario_from_dict
from clustersim.config.arrivals import interarrival_scv
from clustersim.config.latency import LatencyConfig
from clustersim.engine import serving
from clustersim.errors import ClusterSimError
from clustersim.workload.latency import LatencyModel

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "workloads" / "azure-llm-2023"
T95_19 = 2.0930


def one_per_replica(arrivals=None) -> LatencyConfig:
    data = {
        "requests": {"prompt": {"kind": "exponential", "mean": 1000}, "output": 1},
        "profile": {"iteration": 0, "per_sequence": 0.001, "per_prompt_token": 0.001, "max_batch": 1},
        "routing": "shared",
    }
    if arrivals is not None:
        data["arrivals"] = arrivals
    return LatencyConfig.model_validate(data)


def gi_m_1(lam: float, ca2: float, mu: float = 1.0) -> tuple[float, float]:
    """(P(wait), mean wait) of GI/M/1 with gamma interarrival times of SCV ca2."""
    k = 1.0 / ca2
    sigma = 0.5
    for _ in range(100_000):
        new = (1.0 + mu * (1.0 - sigma) / (k * lam)) ** -k
        if abs(new - sigma) < 1e-15:
            break
        sigma = new
    return sigma, sigma / (mu * (1.0 - sigma))


@pytest.mark.parametrize("trace", ["conv", "code"])
def test_scv_measured_from_a_request_log(trace):
    path = TRACES / f"AzureLLMInferenceTrace_{trace}.csv.gz"
    t = pd.to_datetime(pd.read_csv(path)["TIMESTAMP"]).sort_values().astype("int64").to_numpy() / 1e9
    gaps = np.diff(t)
    assert interarrival_scv(path) == pytest.approx(gaps.var() / gaps.mean() ** 2, rel=1e-9)
    cfg = LatencyConfig.model_validate({"requests": {"prompt": 100, "output": 10}, "profile": "llama2-70b-a100-tp8",
                                        "arrivals": {"trace": str(path)}})
    assert cfg.ca2 == pytest.approx({"conv": 1.197, "code": 172.96}[trace], abs=5e-3)  # the README's figures


def test_poisson_draws_and_predicts_as_before():
    steps = [(0.0, 3.0), (50.0, 7.5), (80.0, 0.0), (90.0, 2.0)]
    old = serving.arrivals(steps, 10.0, 200.0, np.random.default_rng(4))
    assert np.array_equal(serving.arrivals(steps, 10.0, 200.0, np.random.default_rng(4), 1.0), old)
    base = LatencyConfig.model_validate({"requests": {"trace": str(TRACES / "AzureLLMInferenceTrace_conv.csv.gz")},
                                         "profile": "llama2-70b-a100-tp8"})
    for same in ("poisson", 1, {"scv": 1.0}):
        cfg = base.model_copy(update={"arrivals": LatencyConfig.model_validate(
            {**base.model_dump(), "arrivals": same}).arrivals})
        assert cfg.ca2 == 1.0
        for lam, n in ((2.0, 1), (3.1, 1), (20.0, 8)):
            a, b = LatencyModel(base).predict(lam, n), LatencyModel(cfg).predict(lam, n)
            for f in ("p_wait", "wait_mean", "ttft_p50", "ttft_p99", "tpot_mean", "tpot_p99", "batch"):
                assert getattr(a, f) == getattr(b, f), f


def test_renewal_draws_have_the_rate_and_the_scv():
    gen = np.random.default_rng(1)
    t = serving.arrivals([(0.0, 5.0)], 0.0, 100_000.0, gen, 3.0)
    gaps = np.diff(t)
    assert len(t) == pytest.approx(500_000, rel=0.02)
    assert gaps.mean() == pytest.approx(0.2, rel=0.02)
    assert gaps.var() / gaps.mean() ** 2 == pytest.approx(3.0, rel=0.03)
    # the rate follows the steps: 4 / s for 1,000 s, none for 500 s, then 1 / s
    t = serving.arrivals([(0.0, 4.0), (1000.0, 0.0), (1500.0, 1.0)], 0.0, 11_500.0, np.random.default_rng(2), 2.0)
    assert ((t >= 1000.0) & (t < 1500.0)).sum() == 0
    assert (t < 1000.0).sum() == pytest.approx(4000, rel=0.1)
    assert (t >= 1500.0).sum() == pytest.approx(10_000, rel=0.05)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0.0 and t.max() < 11_500.0


def test_the_queueing_approximation_by_hand():
    p = LatencyModel(one_per_replica({"scv": 3})).predict(0.8, 1)
    sigma = 0.8 ** 0.5
    p_wait = 0.8 / (1.0 - sigma + 0.8)
    assert p.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert p.wait_mean == pytest.approx(p_wait * (3 + 1) / 2 / 0.2, rel=1e-9)
    assert p.wait_p99 == pytest.approx(10.0 * math.log(p_wait / 0.01), rel=1e-9)
    assert p.ttft_mean == pytest.approx(p_wait * 10.0 + 1.0, rel=1e-9)  # + the service (its prefill)


@pytest.mark.parametrize(("lam", "ca2"), [(0.5, 3.0), (0.8, 3.0), (0.9, 3.0), (0.8, 0.5)])
def test_analytic_wait_near_exact_gi_m_1(lam, ca2):
    p = LatencyModel(one_per_replica({"scv": ca2})).predict(lam, 1)
    sigma, mean = gi_m_1(lam, ca2)
    assert p.wait_mean == pytest.approx(mean, rel=0.03)
    assert p.p_wait == pytest.approx(sigma, rel=0.13)  # heavy-traffic sigma: 12% low at lam 0.5


def test_request_level_waits_agree_with_exact_gi_m_1():
    lam, ca2 = 0.7, 2.0
    cfg = one_per_replica({"scv": ca2})
    sigma, mean = gi_m_1(lam, ca2)
    got = []
    for seed in range(20):
        gen = np.random.default_rng(seed)
        t = serving.arrivals([(0.0, lam)], 0.0, 10_000.0, gen, cfg.ca2)
        p, o = serving.draw_requests(cfg, gen, len(t))
        w = serving.latencies(t, o, serving.simulate(cfg, t, p, o, [(0.0, 1)]))["wait_s"][t > 200.0]
        got.append((w.mean(), (w > 1e-12).mean()))
    got = np.array(got)
    half = T95_19 * got.std(axis=0, ddof=1) / math.sqrt(len(got))
    assert abs(got[:, 0].mean() - mean) <= half[0], (got[:, 0].mean(), mean, half[0])
    assert abs(got[:, 1].mean() - sigma) <= half[1], (got[:, 1].mean(), sigma, half[1])


def test_bad_arrivals_name_the_field(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("ContextTokens,GeneratedTokens\n10,2\n20,3\n30,4\n")

    def problem(arrivals) -> str:
        data = {
            "name": "lat", "horizon": "1d", "cluster": {"nodes": 4, "gpus_per_node": 8},
            "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 1, "duration": "1h"}]},
            "services": [{"name": "chat", "gpus_per_replica": 8, "demand": {"base_rps": 10}, "latency": {
                "requests": {"prompt": 100, "output": 10}, "profile": "llama2-70b-a100-tp8", "arrivals": arrivals}}],
        }
        with pytest.raises(ClusterSimError) as err:
            scenario_from_dict(data)
        return str(err.value)

    text = problem({"trace": str(log)})
    assert "services[0].latency.arrivals.trace: " in text
    assert "needs an arrival time column (TIMESTAMP or arrival_s); found: ContextTokens, GeneratedTokens" in text
    log.write_text("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.1,3\nyesterday,4\n2023-11-16 18:15:49,5\n")
    assert f"{log}:3: expected a time in TIMESTAMP, got 'yesterday'" in problem({"trace": str(log)})
    assert "services[0].latency.arrivals.scv: " in problem({"scv": 0})
    assert "give `scv` (1 is Poisson) or a `trace`" in problem({})
