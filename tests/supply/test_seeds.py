"""The supply seed scenarios: they load, differ only in the market, and (on a shortened
horizon) the normal market's first batch is in service while the tight market's is not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clustersim.config import load_scenario
from clustersim.engine.core import simulate

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_the_two_markets_differ_only_in_lead_time():
    normal = load_scenario(SEEDS / "lingang-4000-growth.yaml")
    tight = load_scenario(SEEDS / "lingang-4000-growth-tight.yaml")
    a, b = normal.model_dump(), tight.model_dump()
    la, lb = a["supply"]["orders"][0].pop("lead_time"), b["supply"]["orders"][0].pop("lead_time")
    a.pop("name"), b.pop("name")
    assert a == b
    assert (la["median"], la["p90"]) == (12 * 7 * 86400, 16 * 7 * 86400)
    assert (lb["median"], lb["p90"]) == (40 * 7 * 86400, 52 * 7 * 86400)
    assert normal.cluster.gpus == 4000 and normal.supply.orders[0].nodes * 8 == 2000


def test_shortened_runs_show_the_delay():
    runs = {name: simulate(load_scenario(SEEDS / f"{name}.yaml", ["horizon=14w"]), 0)
            for name in ("lingang-4000-growth", "lingang-4000-growth-tight")}
    normal, tight = runs.values()
    cols = ["job_id", "submit_s", "num_gpus", "duration_s"]
    pd.testing.assert_frame_equal(normal.jobs[cols], tight.jobs[cols])  # same arrivals
    last = {name: r.timeseries.iloc[-1] for name, r in runs.items()}
    assert last["lingang-4000-growth"]["in_service_gpus"] > 4000
    assert last["lingang-4000-growth-tight"]["in_service_gpus"] == 4000
    assert last["lingang-4000-growth-tight"]["in_transit_gpus"] == 2000
    assert normal.summary["capacity"]["in_service_gpu_hours"] > tight.summary["capacity"]["in_service_gpu_hours"]
