"""Time loading a large native trace: 1,000,000 rows by default.

Writes a synthetic native CSV to a temporary folder, then, in a fresh process, reads it with
the same path the simulator uses (``workload.read_native`` and ``workload.trace_jobs``, which
turns rows into JobSpecs lazily) and prints wall time and peak memory above the baseline.

    python benchmarks/bench_trace_load.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def make_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    gen = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "job_id": np.char.add("job-", np.arange(rows).astype(str)),
            "submit_s": np.round(np.cumsum(gen.exponential(30.0, rows)), 3),
            "num_gpus": gen.choice([1, 2, 4, 8, 16, 64], size=rows, p=[0.6, 0.1, 0.1, 0.15, 0.03, 0.02]),
            "duration_s": np.round(gen.lognormal(6.0, 2.0, rows), 1),
            "job_class": gen.choice(["small", "mid"], size=rows),
            "user": np.char.add("u", gen.integers(0, 500, rows).astype(str)),
        }
    )
    frame.to_csv(path, index=False)


def peak_kb() -> int:
    """Peak resident memory of this process in KiB (VmHWM: unlike ru_maxrss, not inherited
    from the parent across fork and exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: str) -> dict:
    import time

    import pandas  # noqa: F401  (the baseline includes the libraries)

    from clustersim.workload import read_native, trace_jobs

    base = peak_kb()
    t0 = time.perf_counter()
    frame, rejected = read_native(path, strict=True)
    t1 = time.perf_counter()
    count = sum(1 for _ in trace_jobs(frame))
    t2 = time.perf_counter()
    peak = peak_kb()
    return {
        "rows": count,
        "read_s": t1 - t0,
        "to_jobspecs_s": t2 - t1,
        "total_s": t2 - t0,
        "peak_mb": peak / 1024,
        "base_mb": base / 1024,
        "bytes_per_job": (peak - base) * 1024 / max(count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        make_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        out = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{r['rows']:,} rows ({size_mb:.0f} MB CSV): read {r['read_s']:.2f} s + JobSpecs {r['to_jobspecs_s']:.2f} s "
          f"= {r['total_s']:.2f} s; peak {r['peak_mb']:.0f} MB (baseline {r['base_mb']:.0f} MB), {r['bytes_per_job']:.0f} bytes/job above baseline")


if __name__ == "__main__":
    main()
