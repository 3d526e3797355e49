"""Speed against a yardstick: clustersim on a 200,000-job trace vs a lean FIFO loop.

Writes a native trace (500 x 8 GPUs at 80% offered load, sizes 1-1,024 GPUs skewed small,
lognormal run times: the mix of ``bench_core.py``) to a temporary folder, then times, each in a
fresh process and in the same run (so the ratios hold on a noisy machine):

- ``lean``: ``benchmarks/lean_loop.py`` on the trace (FIFO, best fit, whole nodes for gangs,
  no output), the whole process;
- ``run fifo`` / ``run backfill``: ``clustersim replay`` of the trace with that policy, the
  whole process (read, simulate, write the run directory, build the report);
- ``engine fifo`` / ``engine backfill``: the engine alone (``Engine.run`` + ``result``), jobs/s.

    python benchmarks/bench_scale.py                 # 200,000 jobs
    python benchmarks/bench_scale.py --jobs 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import GPUS, LOAD, MEDIAN_S, P90_S, SIZES  # noqa: E402


def make_trace(path: Path, jobs: int, seed: int = 0) -> None:
    import math

    import numpy as np
    import pandas as pd

    gen = np.random.default_rng(seed)
    sigma = math.log(P90_S / MEDIAN_S) / 1.2815515655446004
    mean_d = MEDIAN_S * math.exp(sigma**2 / 2)
    sizes = np.array(list(SIZES))
    p = np.array(list(SIZES.values()))
    p = p / p.sum()
    rate = LOAD * GPUS / (float((sizes * p).sum()) * mean_d)
    frame = pd.DataFrame({
        "job_id": np.arange(jobs).astype(str),
        "submit_s": np.round(np.cumsum(gen.exponential(1 / rate, jobs)), 3),
        "num_gpus": gen.choice(sizes, size=jobs, p=p),
        "duration_s": np.round(np.maximum(gen.lognormal(math.log(MEDIAN_S), sigma, jobs), 1.0), 1),
    })
    frame.to_csv(path, index=False)


def engine_case(trace: str, policy: str) -> dict:
    from clustersim.config import scenario_from_dict
    from clustersim.engine.core import Engine
    from clustersim.rng import Streams
    from clustersim.workload.native import read_native, trace_jobs

    frame, _rejected = read_native(trace)
    horizon = float((frame["submit_s"] + frame["duration_s"]).max()) * 1.5
    scenario = scenario_from_dict({
        "name": "bench", "horizon": horizon, "cluster": {"nodes": 500, "gpus_per_node": 8},
        "scheduler": {"policy": policy}, "workload": {"trace": trace, "format": "native"},
    })
    t0 = time.perf_counter()
    engine = Engine(scenario, Streams(0), trace_jobs(frame))
    engine.run()
    result = engine.result()
    sim_s = time.perf_counter() - t0
    jobs = result.summary["jobs"]["submitted"]
    return {"jobs": jobs, "sim_s": sim_s, "jobs_per_s": jobs / sim_s}


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (the median is shown)")
    parser.add_argument("--engine-case", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_case:
        print(json.dumps(engine_case(*args.engine_case)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        make_trace(trace, args.jobs)
        py = sys.executable
        whole = {
            "lean": [py, str(HERE / "lean_loop.py"), str(trace)],
            "run fifo": [py, "-m", "clustersim", "replay", str(trace), "--format", "native", "--nodes", "500",
                         "--policy", "fifo", "--out", f"{tmp}/fifo"],
            "run backfill": [py, "-m", "clustersim", "replay", str(trace), "--format", "native", "--nodes", "500",
                             "--policy", "backfill", "--out", f"{tmp}/backfill"],
        }
        times: dict[str, list[float]] = {k: [] for k in whole}
        engine: dict[str, list[float]] = {"fifo": [], "backfill": []}
        for _ in range(args.repeat):  # interleaved, so drift of the machine's speed hits all alike
            for name, cmd in whole.items():
                times[name].append(timed(cmd))
            for policy in engine:
                out = subprocess.run([py, __file__, "--engine-case", str(trace), policy],
                                     check=True, capture_output=True, text=True)
                engine[policy].append(json.loads(out.stdout.strip().splitlines()[-1])["jobs_per_s"])
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{args.jobs:,} jobs, 500 x 8 GPUs, load {LOAD}; median of {args.repeat} runs, whole processes")
        print(f"{'':16} {'wall s':>7} {'jobs/s':>8} {'x lean':>7}")
        for name, t in med.items():
            print(f"{name:16} {t:7.2f} {args.jobs / t:8.0f} {t / med['lean']:7.2f}")
        print(f"backfill / fifo (whole run): {med['run backfill'] / med['run fifo']:.2f}")
        for policy, rates in engine.items():
            print(f"engine alone, {policy:8}: {statistics.median(rates):8.0f} jobs/s")


if __name__ == "__main__":
    main()
