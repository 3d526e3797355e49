"""The power gate's cost: the power-supply seed under each power mode against the same growth
without power, each run in a fresh process.

``seeds/lingang-4000-power-supply.yaml`` is a year of a 4,000-GPU fleet growing by deliveries
under a 4.06 MW cap (about 530,000 jobs); ``seeds/lingang-4000-growth.yaml`` is the same
scenario without a power section, the floor the power model adds to. The script runs
``clustersim run --no-report`` on each and prints wall and CPU seconds (the CPU time of the
child: on a shared machine it moves less than the wall time). ``--weeks`` shortens the
horizon (the cap binds from the first deliveries, about week 11, to the end).

    python benchmarks/bench_power.py                       # the year: growth, capping, admission
    python benchmarks/bench_power.py --weeks 20 --modes capping
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUPPLY = "seeds/lingang-4000-power-supply.yaml"
GROWTH = "seeds/lingang-4000-growth.yaml"


def timed(args: list[str], out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``clustersim run`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "clustersim", "run", *args, "--out", str(out), "--no-report"],
                   cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=float, default=None, help="horizon (default: the seeds' 52 weeks)")
    parser.add_argument("--modes", nargs="+", default=["none", "capping", "admission"],
                        help="none (the growth seed, no power), account, admission, capping")
    args = parser.parse_args()
    horizon = ["--set", f"horizon={args.weeks:g}w"] if args.weeks is not None else []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            run = [GROWTH] if mode == "none" else [SUPPLY, "--set", f"power.mode={mode}"]
            wall, cpu = timed(run + horizon, Path(tmp) / mode)
            print(f"{mode:>10}  wall {wall:7.1f} s  cpu {cpu:7.1f} s", flush=True)


if __name__ == "__main__":
    main()
