"""Golden results: a content digest of every result table of a few short scenarios, recorded.

A change that should not move results (a refactor, a speed-up) must leave every digest as it
is; a change that should move them (a model fix) updates ``digests.json`` in the same commit,
with the reason in the commit message. Regenerate with

    python tests/golden/test_golden.py --write

The digest is of the tables' values (every float to 17 significant digits) and of the summary,
not of the Parquet bytes, so it does not depend on the pyarrow version. For a byte-for-byte
comparison of every shipped scenario between two checkouts use ``golden_runs.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("digests.json")
SMALL = REPO / "tests" / "data" / "core" / "small.yaml"

# name -> (scenario file, overrides): each runs in about a second
CASES = {
    "small-backfill": (SMALL, []),
    "small-fifo": (SMALL, ["scheduler.policy=fifo"]),
    "small-sjf": (SMALL, ["scheduler.policy=sjf", "scheduler.placement=spread"]),
    "small-failures": (SMALL, ["failures={}", "failures.rate_per_1000_node_days=400"]),
    "chat-4d": (REPO / "seeds" / "lingang-4000-chat.yaml", ["horizon=4d", "warmup=1d"]),
    "growth-4d": (
        REPO / "seeds" / "lingang-4000-growth.yaml",
        ["horizon=4d", "warmup=1d", "supply.orders[0].lead_time=1d", "supply.orders[0].burn_in=12h"],
    ),
    "pessimistic-2d": (REPO / "seeds" / "pessimistic-10min.yaml", ["horizon=2d", "warmup=0s"]),
}


def frame_digest(frame) -> str:
    text = frame.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digests(name: str) -> dict[str, str]:
    from clustersim.config import load_scenario
    from clustersim.engine import simulate

    path, overrides = CASES[name]
    result = simulate(load_scenario(path, overrides), seed=0)
    out = {
        "jobs": frame_digest(result.jobs),
        "timeseries": frame_digest(result.timeseries),
        "events": frame_digest(result.events),
        "summary": hashlib.sha256(json.dumps(result.summary, sort_keys=True).encode()).hexdigest()[:16],
    }
    for table, frame in sorted(result.extra_tables.items()):
        out[table] = frame_digest(frame)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_match_the_recorded_digests(name):
    recorded = json.loads(DIGESTS.read_text())
    assert name in recorded, f"no digest recorded for {name}: run {Path(__file__).name} --write"
    assert digests(name) == recorded[name], (
        f"{name}: results moved. If that is intended, regenerate with "
        f"`python tests/golden/test_golden.py --write` and say why in the commit."
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    DIGESTS.write_text(json.dumps({name: digests(name) for name in sorted(CASES)}, indent=2) + "\n")
    print(f"wrote {DIGESTS}")
