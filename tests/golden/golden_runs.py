"""Run every shipped scenario and compare the run files of two checkouts byte for byte.

A change that should not move results (a refactor, a speed-up) is checked with it:

    python tests/golden/golden_runs.py record /tmp/before      # on the old commit
    python tests/golden/golden_runs.py record /tmp/after       # on the new one
    python tests/golden/golden_runs.py compare /tmp/before /tmp/after

`record` runs each scenario of `seeds/` and `workloads/itp/` (seed 0, no report) through the
CLI in a fresh process and keeps the four result files; `compare` prints one line per
scenario and file and exits 1 if any differ. `--only NAME` (repeatable) limits the scenarios.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = ("jobs.parquet", "summary.json", "timeseries.parquet", "events.parquet")


def scenarios() -> list[Path]:
    found = sorted((REPO / "seeds").glob("*.yaml")) + sorted((REPO / "workloads" / "itp").glob("*.yaml"))
    return found


def record(out: Path, only: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for path in scenarios():
        if only and path.stem not in only:
            continue
        run_dir = out / f"{path.parent.name}-{path.stem}"
        proc = subprocess.run(
            [sys.executable, "-m", "clustersim", "run", str(path.relative_to(REPO)), "--out", str(run_dir), "--no-report"],
            capture_output=True, text=True, cwd=REPO,
        )
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
        print(f"{run_dir.name}: {status}", flush=True)
    return 0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


def compare(a: Path, b: Path) -> int:
    differ = 0
    names = sorted({p.name for p in a.iterdir() if p.is_dir()} | {p.name for p in b.iterdir() if p.is_dir()})
    for name in names:
        for file in FILES:
            da, db = digest(a / name / file), digest(b / name / file)
            if da == "missing" and db == "missing":
                continue
            same = da == db
            differ += not same
            print(f"{'same' if same else 'DIFFERENT'}  {name}/{file}  {da} {db}")
    print(f"{differ} file(s) differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--only", action="append", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.cmd == "record":
        return record(args.out, args.only)
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
