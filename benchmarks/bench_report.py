"""Time ``clustersim report`` on the default scenario's run, and ``clustersim --help``.

Copies the run files of the committed example (``reports/lingang-4000``: the default
scenario, 30 days, ~43,000 jobs) to a temporary folder, then runs each command as a fresh
process several times, alternating them, and prints the median and range of wall time and of
CPU time (the process and its drawing workers). ``build_report`` is the build alone, without
the command line; ``build_report, 1 proc`` the same with every figure drawn in the calling
process (``workers=0``), for comparison. Every report built is checked byte for byte against
the committed one.

    python benchmarks/bench_report.py [--runs 7] [--run DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "reports" / "lingang-4000"
RUN_FILES = ("config.json", "summary.json", "jobs.parquet", "timeseries.parquet", "events.parquet")
REPORT_FILES = ("report.md", "report.html")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (CPU includes its reaped children)."""
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start, children_cpu() - cpu


def report_files(run: Path) -> dict[str, bytes]:
    names = [*REPORT_FILES, *(f"figures/{p.name}" for p in sorted((run / "figures").glob("*.png")))]
    return {name: (run / name).read_bytes() for name in names if (run / name).is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (after one warm-up)")
    parser.add_argument("--run", type=Path, default=EXAMPLE, help="run directory to copy (default: the example)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        for name in RUN_FILES:
            if (args.run / name).is_file():
                shutil.copy(args.run / name, run / name)
        py = sys.executable
        build = "import sys; from clustersim.report.build import build_report; build_report(sys.argv[1]{})"
        commands = {
            "clustersim report": [py, "-m", "clustersim", "report", str(run)],
            "build_report": [py, "-c", build.format(""), str(run)],
            "build_report, 1 proc": [py, "-c", build.format(", workers=0"), str(run)],
            "clustersim --help": [py, "-m", "clustersim", "--help"],
        }
        for command in commands.values():  # warm-up: file cache, bytecode
            timed(command)
        committed = report_files(args.run) if args.run == EXAMPLE else None
        differ: set[str] = set()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command))
                if committed is not None and "--help" not in command:
                    built = report_files(run)
                    differ |= {f"{n} ({name})" for n in committed.keys() | built.keys()
                               if committed.get(n) != built.get(n)}
        print(f"{args.runs} runs each, alternating; seconds, median (min-max)")
        for name, rows in times.items():
            wall, cpu = [w for w, _ in rows], [c for _, c in rows]
            print(f"  {name:<20} wall {statistics.median(wall):.3f} ({min(wall):.3f}-{max(wall):.3f})"
                  f"   cpu {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f})")
        if committed is not None:
            print("report files of every run byte-identical to the committed example: "
                  + ("yes" if not differ else f"NO: {', '.join(sorted(differ))}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
