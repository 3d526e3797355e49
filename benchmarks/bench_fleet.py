"""A 100,000-GPU fleet for a year, in one process: how long, how much memory.

12,500 nodes x 8 GPUs at 80% offered load with the default failure model; the job mix of
``bench_core.py`` (1 to 1,024 GPUs, skewed small) with run times 3.5x longer (median 35 min,
p90 10.5 h), which gives about 10 million jobs a year. ``--days`` simulates part of the year
(default 18.25 d, a twentieth); the script runs ``clustersim run`` on it as one whole process
(simulate, write the run directory, build the report), prints wall time, peak memory and jobs,
and extrapolates linearly to 365 days (the cost per job does not depend on the run's length:
see ``bench_core.py``'s doubling figures).

    python benchmarks/bench_fleet.py                  # 18.25 days, ~500,000 jobs
    python benchmarks/bench_fleet.py --days 365       # the whole year, once
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import SIZES  # noqa: E402

NODES, PER, LOAD = 12_500, 8, 0.8
MEDIAN_S, P90_S = 2_100.0, 37_800.0


def scenario(days: float) -> dict:
    sigma = math.log(P90_S / MEDIAN_S) / 1.2815515655446004
    mean_d = MEDIAN_S * math.exp(sigma**2 / 2)
    mean_g = sum(k * p for k, p in SIZES.items())
    rate_per_h = LOAD * NODES * PER / (mean_g * mean_d) * 3600
    return {
        "name": "fleet-100k",
        "horizon": f"{days}d",
        "cluster": {"nodes": NODES, "gpus_per_node": PER},
        "scheduler": {"policy": "fifo"},
        "failures": {},
        "workload": {"classes": [{
            "name": "mix", "arrival_rate_per_h": rate_per_h, "gpus": SIZES,
            "duration": {"kind": "lognormal", "median": MEDIAN_S, "p90": P90_S},
        }]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=18.25)
    parser.add_argument("--policy", default="fifo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = scenario(args.days)
        data["scheduler"]["policy"] = args.policy
        path = Path(tmp) / "fleet.json"
        path.write_text(json.dumps(data))
        yaml_path = Path(tmp) / "fleet.yaml"
        yaml_path.write_text(path.read_text())  # JSON is YAML
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "clustersim", "run", str(yaml_path), "--out", f"{tmp}/run"],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    jobs = summary["jobs"]["submitted"]
    scale = 365 / args.days
    print(f"{NODES:,} x {PER} GPUs, {args.days:g} days, {args.policy}, failures: {jobs:,} jobs")
    print(f"whole process: {wall:.1f} s ({jobs / wall:,.0f} jobs/s), peak memory {peak_mb:,.0f} MB, "
          f"utilisation {summary['gpu_utilisation']:.3f}")
    if scale > 1.01:
        print(f"a year at this rate: ~{jobs * scale / 1e6:.1f} M jobs, ~{wall * scale / 60:.1f} min "
              f"(peak memory grows with the job table: ~{peak_mb * scale:,.0f} MB if all of it were per job)")


if __name__ == "__main__":
    main()
