"""Time replications: N seeds of a scenario in one process, then on the local process pool.

Prints the wall time of each, the speed-up, the parallel efficiency and whether both gave
identical summaries (they must: a run depends only on its scenario and seed).

    python benchmarks/bench_plan.py                      # 32 seeds of seeds/lingang-4000.yaml
    python benchmarks/bench_plan.py --seeds 8 --workers 2
    python benchmarks/bench_plan.py --dask tcp://127.0.0.1:8786   # the pool column on Dask
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "seeds" / "lingang-4000.yaml"


def _cpu() -> float:
    """CPU seconds of this process and of its finished (reaped) children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(executor, specs) -> tuple[float, float, list[dict]]:
    """Wall seconds, CPU seconds (pool workers included once shut down), summaries."""
    from clustersim.planning.runs import Runner

    runner = Runner(executor)
    start, cpu = time.perf_counter(), _cpu()
    try:
        summaries = runner.summaries(specs)
    finally:
        executor.close()
    return time.perf_counter() - start, _cpu() - cpu, summaries


def main() -> None:
    from clustersim.planning.executor import DaskExecutor, LocalExecutor
    from clustersim.planning.replications import Replications
    from clustersim.planning.runs import ScenarioInput

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT))
    parser.add_argument("--seeds", type=int, default=32, help="replications (seeds 0..N-1)")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: all cores)")
    parser.add_argument("--dask", default=None, help="time a Dask scheduler instead of the pool")
    args = parser.parse_args()

    base = ScenarioInput.from_path(args.scenario)
    specs = base.specs([], range(args.seeds))
    cores = os.cpu_count() or 1
    print(f"{args.seeds} replications of {args.scenario} on a {cores}-core machine "
          f"(load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    serial_s, serial_cpu, serial = timed(LocalExecutor(workers=1), specs)
    print(f"  {'1 process':<24} {serial_s:8.1f} s wall  {serial_cpu:8.1f} s CPU")
    parallel = DaskExecutor(args.dask) if args.dask else LocalExecutor(args.workers)
    label = repr(parallel)
    pool_s, pool_cpu, pooled = timed(parallel, specs)
    speedup = serial_s / pool_s
    slots = parallel.slots if not args.dask else None
    print(f"  {label:<24} {pool_s:8.1f} s wall  {pool_cpu:8.1f} s CPU (workers included)")
    eff = f", efficiency {speedup / slots:.0%} of {slots} workers" if slots else ""
    print(f"  speed-up {speedup:.2f}x{eff}")
    print(f"  identical summaries: {serial == pooled}")
    print(f"  load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other processes on the machine share its cores)")
    reps = Replications.of(range(args.seeds), serial)
    for key in ("wait_s.p90", "by_class.large.wait_s.p90", "gpu_utilisation"):
        s = reps.metrics.get(key)
        if s is not None and s.mean is not None:
            hw = f" ± {s.half_width:.4g}" if s.half_width is not None else ""
            print(f"  {key:<28} mean {s.mean:.4g}{hw} (95% CI, n={s.n})")


if __name__ == "__main__":
    main()
