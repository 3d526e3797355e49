"""The engine against queueing theory.

* M/M/c: 1-GPU jobs, Poisson arrivals, exponential durations, FIFO. The mean wait must match
  Erlang C, and the fraction of jobs that wait at all must match the Erlang C probability.
* Little's law: the time-average number of queued jobs (from the timeseries) equals the
  arrival rate times the mean wait.
* With more capacity than demand no job waits and utilisation is exactly the offered load.

Statistical tolerance: each case runs ``len(SEEDS)`` independent replications (long horizon,
warm-up discarded). The replication means are i.i.d., so their standard error ``se`` is
estimated from their spread, and the test asks ``|mean - theory| <= K_SE * se``. With 8
replications (7 degrees of freedom) a correct model fails this at K_SE = 4 with probability
about 0.5%; the seeds are fixed, so the outcome is deterministic. So that a loose ``se``
cannot make the check vacuous, each case also requires ``se`` to be small relative to the
theoretical value (``MAX_REL_SE``): a model with one GPU too few, or durations 10% too long,
misses by many standard errors (see ``test_tolerance_is_discriminating``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clustersim.engine.core import simulate

HOUR = 3600.0
DAY = 86400.0
SEEDS = range(8)
WARMUP = 2 * DAY
K_SE = 4.0
MAX_REL_SE = 0.06

# rho -> cluster shape and horizon. At rho = 0.5 a 16-GPU cluster almost never queues
# (Erlang C wait ~4 s), so the low-load case uses c = 4 (one 4-GPU node), where the mean
# wait is ~5 min and well measured; the high-load case uses 2 nodes x 8 GPUs (c = 16).
CASES = {
    0.5: {"nodes": 1, "gpus_per_node": 4, "days": 200},
    0.85: {"nodes": 2, "gpus_per_node": 8, "days": 120},
}
MEAN_DURATION_H = 1.0


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lambda / mu``
    (needs a < c). Uses the Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), which is
    stable for large c, then C = c B / (c - a (1 - B))."""
    if not 0 <= a < c:
        raise ValueError("unstable: need a < c")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def mmc_mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean time in queue of M/M/c: C(c, a) / (c mu - lambda)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def erlang_c_direct(c: int, a: float) -> float:
    """Textbook formula, term by term (only for small c: checks the recursion)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_formula():
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # P0 = 1/3, C = (1/2)(2)(1/3)
    for c, a in [(3, 2.5), (4, 2.0), (8, 5.0), (16, 13.6)]:
        assert erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-12)
    # M/M/1 mean wait rho / (mu - lambda)
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    assert erlang_c(16, 13.6) == pytest.approx(0.43322, abs=1e-5)


# --------------------------------------------------------------------------------- M/M/c runs

_RUNS: dict[float, dict] = {}


def mmc_scenario(csim, rho: float, **override):
    case = {**CASES[rho], **override}
    c = case["nodes"] * case["gpus_per_node"]
    lam_h = rho * c / MEAN_DURATION_H
    return csim.make_scenario(
        nodes=case["nodes"],
        gpus_per_node=case["gpus_per_node"],
        policy="fifo",
        horizon=case["days"] * DAY,
        warmup=WARMUP,
        classes=[
            {
                "name": "mmc",
                "arrival_rate_per_h": lam_h,
                "gpus": 1,
                "duration": {"kind": "exponential", "mean": MEAN_DURATION_H * HOUR},
            }
        ],
    )


def replicate(scenario) -> dict:
    """Run every seed; per-seed statistics as arrays."""
    window = scenario.horizon - scenario.warmup
    out = {k: [] for k in ("wait", "p_wait", "lq", "lam", "util", "little_rel")}
    for seed in SEEDS:
        r = simulate(scenario, seed)
        jobs = r.jobs
        measured = (jobs["submit_s"] >= scenario.warmup).to_numpy()
        started = measured & jobs["start_s"].notna().to_numpy()
        wait = jobs["wait_s"].to_numpy()
        out["wait"].append(r.summary["wait_s"]["mean"])
        out["p_wait"].append(float(np.mean(wait[started] > 0)))
        out["lq"].append(r.summary["mean_queued_jobs"])
        lam = measured.sum() / window
        out["lam"].append(lam)
        out["util"].append(r.summary["gpu_utilisation"])
        # Little's law on the sample path: queue-length area over the window vs the waits of
        # the jobs submitted in it (still-queued jobs count up to the horizon)
        waits_to_h = np.where(np.isnan(wait), scenario.horizon - jobs["submit_s"].to_numpy(), wait)
        out["little_rel"].append(r.summary["mean_queued_jobs"] / (lam * waits_to_h[measured].mean()) - 1)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


@pytest.fixture(scope="module", params=sorted(CASES), ids=lambda rho: f"rho={rho}")
def mmc(request, csim):
    rho = request.param
    if rho not in _RUNS:
        scenario = mmc_scenario(csim, rho)
        c = scenario.cluster.gpus
        mu = 1 / (MEAN_DURATION_H * HOUR)
        lam = rho * c * mu
        _RUNS[rho] = {
            "rho": rho,
            "c": c,
            "lam": lam,
            "wq": mmc_mean_wait(c, lam, mu),
            "pw": erlang_c(c, lam / mu),
            "stats": replicate(scenario),
        }
    return _RUNS[rho]


def mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def report(name: str, got: float, se: float, want: float) -> str:
    return f"{name}: simulated {got:.4g} +- {se:.2g} (se), theory {want:.4g}, z = {(got - want) / se:+.2f}"


def test_mmc_mean_wait_matches_erlang_c(mmc):
    got, se = mean_se(mmc["stats"]["wait"])
    msg = report(f"mean wait, c={mmc['c']}, rho={mmc['rho']}", got, se, mmc["wq"])
    print(msg)
    assert se <= MAX_REL_SE * mmc["wq"], msg
    assert abs(got - mmc["wq"]) <= K_SE * se, msg


def test_mmc_probability_of_waiting_matches_erlang_c(mmc):
    got, se = mean_se(mmc["stats"]["p_wait"])
    msg = report(f"P(wait > 0), c={mmc['c']}, rho={mmc['rho']}", got, se, mmc["pw"])
    print(msg)
    assert se <= MAX_REL_SE * mmc["pw"], msg
    assert abs(got - mmc["pw"]) <= K_SE * se, msg


def test_mmc_utilisation_is_rho(mmc):
    got, se = mean_se(mmc["stats"]["util"])
    msg = report(f"utilisation, c={mmc['c']}", got, se, mmc["rho"])
    print(msg)
    assert abs(got - mmc["rho"]) <= K_SE * se and se < 0.01, msg


def test_littles_law_on_each_sample_path(mmc):
    # L = lambda W holds on every long sample path up to edge effects (jobs queued across
    # the warm-up boundary): with ~10^4 jobs per run these stay below 0.5% (measured: at most 7e-4).
    rel = mmc["stats"]["little_rel"]
    print(f"Little's law, rho={mmc['rho']}: relative gaps {np.round(rel, 5)}")
    assert np.all(np.abs(rel) < 0.005), rel


def test_littles_law_against_theory(mmc):
    # time-average queue length from the timeseries vs lambda * Wq from Erlang C
    got, se = mean_se(mmc["stats"]["lq"])
    want = mmc["lam"] * mmc["wq"]
    msg = report(f"mean queued jobs, rho={mmc['rho']}", got, se, want)
    print(msg)
    assert se <= MAX_REL_SE * want, msg
    assert abs(got - want) <= K_SE * se, msg


def test_tolerance_is_discriminating(mmc):
    # The same acceptance rule must reject plausible modelling mistakes: one GPU fewer than
    # configured, or arrivals 10% faster than configured.
    got, se = mean_se(mmc["stats"]["wait"])
    c, lam, mu = mmc["c"], mmc["lam"], 1 / (MEAN_DURATION_H * HOUR)
    for wrong in (mmc_mean_wait(c - 1, lam, mu), mmc_mean_wait(c, 1.1 * lam, mu)):
        assert abs(got - wrong) > K_SE * se, (got, se, wrong)


# ------------------------------------------------------------------- capacity > peak demand

# 4 nodes x 8 = 32 GPUs. Peak concurrent demand is at t = 30: 8 + 16 + 4 + 2 + 1 = 31 < 32,
# and the jobs fit node by node (8 -> node 0; 16 -> nodes 1, 2; 4, 2, 1 -> node 3). The
# 32-GPU job at 200 starts after all the others have ended (latest end 25 + 100 = 125).
NO_WAIT_ROWS = [
    ("a", 0, 8, 100),
    ("b", 10, 16, 50),
    ("c", 20, 4, 30),
    ("d", 25, 2, 100),
    ("e", 30, 1, 10),
    ("f", 200, 32, 100),
    ("g", 400, 8, 0.5),
    ("h", 400.25, 1, 0),  # zero-length job
    ("i", 500, 3, 123.456),
]
NO_WAIT_HORIZON = 1000.0


@pytest.mark.parametrize("policy", ["fifo", "sjf", "backfill"])
@pytest.mark.parametrize("placement", ["pack", "spread"])
def test_no_wait_and_utilisation_equals_offered_load(csim, policy, placement):
    specs = [csim.spec(*row) for row in NO_WAIT_ROWS]
    result, _ = csim.run_jobs(
        specs, nodes=4, policy=policy, placement=placement, horizon=NO_WAIT_HORIZON, warmup=0
    )
    jobs = result.jobs
    assert (jobs["state"] == "finished").all()
    assert (jobs["wait_s"] == 0).all()
    assert (jobs["start_s"] == jobs["submit_s"]).all()
    assert (jobs["end_s"] == jobs["start_s"] + jobs["duration_s"]).all()
    offered = sum(g * d for _, _, g, d in NO_WAIT_ROWS)
    expected = offered / (32 * NO_WAIT_HORIZON)
    s = result.summary
    assert s["gpu_utilisation"] == pytest.approx(expected, rel=0, abs=1e-9)
    assert s["offered_load"] == pytest.approx(expected, rel=0, abs=1e-9)
    assert s["wait_s"] == {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}
    assert s["mean_queued_jobs"] == 0.0


def test_no_wait_poisson_workload_on_a_large_cluster(csim):
    # 64 nodes x 8 = 512 GPUs; offered ~ 30 GPUs of 1-8 GPU jobs: the cluster never fills
    # (it would take > 64 concurrent jobs), so every job starts on arrival. Utilisation over
    # the window equals busy GPU-seconds rebuilt from the jobs table, and is close to the
    # offered load lambda E[g] E[d] / GPUs.
    scenario = csim.make_scenario(
        nodes=64,
        gpus_per_node=8,
        policy="fifo",
        horizon=20 * DAY,
        warmup=DAY,
        classes=[
            {
                "name": "x",
                "arrival_rate_per_h": 10,
                "gpus": {1: 0.5, 2: 0.25, 8: 0.25},  # mean 3
                "duration": {"kind": "exponential", "mean": "1h"},
            }
        ],
    )
    r = simulate(scenario, 3)
    jobs = r.jobs
    assert int(r.timeseries["running_jobs"].max()) < 64
    assert (jobs["wait_s"].dropna() == 0).all() and jobs["start_s"].notna().all()
    window = scenario.horizon - scenario.warmup
    # busy GPU-seconds in [warmup, horizon] from the jobs table, with numpy (not results.summary)
    start, g = jobs["start_s"].to_numpy(float), jobs["num_gpus"].to_numpy(float)
    end = np.nan_to_num(jobs["end_s"].to_numpy(float), nan=scenario.horizon)
    busy = float(np.sum(np.clip(np.minimum(end, scenario.horizon) - np.maximum(start, scenario.warmup), 0, None) * g))
    assert r.summary["gpu_utilisation"] == pytest.approx(busy / (512 * window), rel=0, abs=1e-9)
    assert r.summary["gpu_utilisation"] == pytest.approx(10 * 3 * 1 / 512, rel=0.05)
