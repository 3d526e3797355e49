"""Inference latency (issue 19): how fast the two fidelities are, and how far apart.

    python benchmarks/bench_serving.py              # the speed figures
    python benchmarks/bench_serving.py --table      # also: analytic vs request-level table

1. The analytic model's cost in a fleet run: ``seeds/lingang-4000-chat.yaml`` (30 days) with
   and without a ``latency`` section that leaves the replica counts as they are
   (``rps_per_replica`` stays 15; a profile whose saturation rate is ~19 req/s, so the model is
   read in its stable range), best of ``--repeat`` runs each in a fresh process. Target: the
   latency section adds at most 10%.
2. The request-level model: a 10-minute window (plus 2 minutes of warm-up and the tail until
   its requests are done) on 8 replicas of Llama-2-70B on A100 at 95% of their saturation
   rate, Azure conversation tokens. Target: at most 30 s.
3. ``--table``: p99 TTFT and mean TPOT of both models on the Azure conversation and code token
   counts at 50%, 80% and 95% of a replica's saturation rate (one replica, 2 h x 4 seeds; and
   8 replicas behind JSQ, 1 h x 3 seeds), with the request-level 95% confidence intervals
   (the acceptance cases of issue 19 are the one-replica rows).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "workloads" / "azure-llm-2023"
FAST = {  # the H100 profile at a third of its times: ~19 req/s saturation on Azure conversation
    "model": "llama2-70b-h100-tp8", "iteration": 0.0099, "per_sequence": 0.000104,
    "per_prompt_token": 1.54e-5, "per_prompt_token_sq": 2.27e-9,
}


def run_time(path: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "clustersim", "run", str(path), "--out", str(out), "--no-report"],
                   check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - t0


def fleet(repeat: int) -> None:
    base = REPO / "seeds" / "lingang-4000-chat.yaml"
    data = yaml.safe_load(base.read_text())
    data["services"][0]["latency"] = {
        "requests": {"trace": str(TRACES / "AzureLLMInferenceTrace_conv.csv.gz")}, "profile": FAST,
        "slo": {"ttft": {"p99": "2s"}, "tpot": {"p99": "200ms"}},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with_lat = tmp / "chat-latency.yaml"
        with_lat.write_text(yaml.safe_dump(data))
        plain = [run_time(base, tmp / "a") for _ in range(repeat)]
        lat = [run_time(with_lat, tmp / "b") for _ in range(repeat)]
    a, b = min(plain), min(lat)
    print(f"fleet run, 30 days: {a:.2f} s without latency, {b:.2f} s with ({b / a - 1:+.1%}; target <= +10%)")


def window() -> None:
    from clustersim.config.latency import LatencyConfig
    from clustersim.engine import serving
    from clustersim.workload.latency import LatencyModel

    cfg = LatencyConfig.model_validate({"requests": {"trace": str(TRACES / "AzureLLMInferenceTrace_conv.csv.gz")},
                                        "profile": "llama2-70b-a100-tp8"})
    lam = 0.95 * LatencyModel(cfg).phi_full * 8
    gen = np.random.default_rng(0)
    t0 = time.perf_counter()
    times = serving.arrivals([(0.0, lam)], 0.0, 120.0 + 600.0 + 600.0, gen)
    p, o = serving.draw_requests(cfg, gen, len(times))
    res = serving.simulate(cfg, times, p, o, [(0.0, 8)])
    dt = time.perf_counter() - t0
    print(f"request-level window, 10 min on 8 replicas at 95% load ({len(times):,} requests incl. warm-up "
          f"and tail): {dt:.1f} s (target <= 30 s); {int(np.isfinite(res['end']).sum()):,} served")


def compare(trace: str, load: float, replicas: int, seeds, horizon: float, warm: float = 600.0):
    from clustersim.config.latency import LatencyConfig
    from clustersim.engine import serving
    from clustersim.workload.latency import LatencyModel

    cfg = LatencyConfig.model_validate({"requests": {"trace": str(TRACES / f"AzureLLMInferenceTrace_{trace}.csv.gz")},
                                        "profile": "llama2-70b-a100-tp8", "routing": "jsq"})
    model = LatencyModel(cfg)
    lam = load * model.phi_full * replicas
    got = []
    for seed in seeds:
        gen = np.random.default_rng(seed)
        t = serving.arrivals([(0.0, lam)], 0.0, horizon, gen)
        p, o = serving.draw_requests(cfg, gen, len(t))
        lat = serving.latencies(t, o, serving.simulate(cfg, t, p, o, [(0.0, replicas)]))
        keep = t > warm
        got.append((np.percentile(lat["ttft_s"][keep], 99), np.nanmean(lat["tpot_s"][keep])))
    got = np.array(got)
    half = 2.0 * got.std(axis=0, ddof=1) / math.sqrt(len(got))  # ~95% (t with 2-3 d.o.f. is wider)
    return got.mean(axis=0), half, model.predict(lam, replicas)


def table() -> None:
    print("\n| trace | replicas | load | p99 TTFT request-level | p99 TTFT analytic | diff | "
          "mean TPOT request-level | mean TPOT analytic | diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for trace, replicas, seeds, horizon in (("conv", 1, range(4), 7200.0), ("code", 1, range(4), 7200.0),
                                            ("conv", 8, range(3), 3600.0), ("code", 8, range(3), 3600.0)):
        for load in (0.5, 0.8, 0.95):
            mean, half, pred = compare(trace, load, replicas, seeds, horizon)
            print(f"| {trace} | {replicas} | {load:.0%} | {mean[0]:.2f} ± {half[0]:.2f} s | {pred.ttft_p99:.2f} s | "
                  f"{pred.ttft_p99 / mean[0] - 1:+.0%} | {1000 * mean[1]:.0f} ± {1000 * half[1]:.0f} ms | "
                  f"{1000 * pred.tpot_mean:.0f} ms | {pred.tpot_mean / mean[1] - 1:+.0%} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", action="store_true", help="also print the analytic vs request-level table")
    parser.add_argument("--repeat", type=int, default=3, help="fleet runs of each kind (best is kept)")
    args = parser.parse_args()
    window()
    fleet(args.repeat)
    if args.table:
        table()


if __name__ == "__main__":
    main()
