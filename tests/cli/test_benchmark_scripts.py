"""The benchmark scripts run end to end at a toy size (their figures are measured by hand and
recorded in the README; here only that they still work with the code they time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def run(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=BENCH.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_bench_core_sizes_teams_and_doubling():
    out = run(str(BENCH / "bench_core.py"), "--jobs", "300", "600", "--policies", "fifo", "fairshare",
              "--teams", "2", "--nodes", "20", "40", "--load", "1.3")
    assert "fairshare on 40 nodes, " in out and "x the jobs took" in out
    assert "fifo, ~300 jobs: us per job 20 nodes" in out
    assert "the lean loop on the same jobs" in out and "beyond it" in out


def test_bench_scale_compares_with_the_lean_loop():
    out = run(str(BENCH / "bench_scale.py"), "--jobs", "1500", "--repeat", "1")
    assert "x lean" in out and "engine alone, backfill" in out
