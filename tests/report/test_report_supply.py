"""The "Capacity, supply and cost" report section on small hand-made run directories."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.report.analysis import supply as analysis
from clustersim.report.build import build_report
from clustersim.report.files import load_run
from clustersim.report.sections.supply import supply_section

DAY = 86400.0
HORIZON = 10 * DAY
WARMUP = 1 * DAY
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NEW_FIGURES = ["capacity.png", "supply_wait.png"]
OLD_FIGURES = ["queue.png", "utilisation.png", "wait_by_size.png", "wait_cdf.png"]

SUPPLY = {
    "start_date": None,
    "gpu_types": {"A100": {"speed": 1.0, "gpus_per_node": 8, "power_idle_w": 250.0,
                           "power_busy_w": 650.0, "unit_cost": 25000.0,
                           "orderable_until": None, "substitute": None}},
    "orders": [{"at": 0.0, "nodes": 3, "gpu_type": "A100",
                "lead_time": {"kind": "fixed", "value": 3 * DAY}, "batch_nodes": None,
                "batch_every": 14 * DAY, "burn_in": {"kind": "fixed", "value": DAY}}],
    "retire": [],
    "rental": [],
    "energy": {"pue": 1.3, "price_per_kwh": 0.08, "burn_in_power": "busy"},
}

CONFIG = {
    "scenario": {
        "name": "growing-test",
        "horizon": HORIZON,
        "warmup": WARMUP,
        "cluster": {"nodes": 4, "gpus_per_node": 8, "gpu_type": "A100"},
        "scheduler": {"policy": {"kind": "fifo"}, "placement": {"kind": "pack"}},
        "supply": SUPPLY,
    },
    "seed": 1,
    "clustersim_version": "0.1.0",
}

SUMMARY = {
    "scenario": "growing-test",
    "seed": 1,
    "horizon_s": HORIZON,
    "warmup_s": WARMUP,
    "jobs": {"submitted": 20, "finished": 18, "running": 0, "queued": 1, "rejected": 1},
    "gpu_utilisation": 0.6,
    "wait_s": {"mean": 1.0, "p50": 1.0, "p90": 1.0, "p99": 1.0},
    "jct_s": {"mean": 1.0, "p50": 1.0, "p90": 1.0},
    "by_class": {},
    "capacity": {"in_service_gpu_hours": 12345.6, "delivered_gpus": 24,
                 "delivered_late_gpus": 8, "orders_refused": 0, "orders_substituted": 1},
    "energy_kwh": 4567.8,
    "energy_kwh_per_day": 456.78,
    "energy_cost": 365.42,
    "capex": {"total": 1_400_000.0, "initial": 800_000.0, "delivered": 600_000.0,
              "by_type": {"A100": 1_400_000.0}},
    "rental_cost": 0.0,
    "utilisation_by_type": {"A100": 0.6},
}

# Jobs: 11 measured before the first in-service (day 4) with waits 0, 1000, ..., 10000 s
# (p90 = 9000 s exactly: index 0.9 x 10 = 9); 5 started after the last (day 6) with waits
# 0, 0, 60, 120, 600 s and 1 still queued, submitted at 9.5 d (counts 0.5 d = 43200 s):
# p90 of [0, 0, 60, 120, 600, 43200] is at index 4.5: 600 + 0.5 x 42600 = 21900 s.
# Left out: one in warm-up, one rejected, one submitted between day 4 and day 6.
BEFORE_P90 = 9000.0
AFTER_P90 = 21900.0
NAN = float("nan")


def jobs_frame() -> pd.DataFrame:
    rows = []
    for i in range(11):
        submit = 1.5 * DAY + i * 3600
        rows.append((f"b{i}", "train", 8, submit, submit + i * 1000.0, "finished"))
    for i, wait in enumerate([0.0, 0.0, 60.0, 120.0, 600.0]):
        submit = 6 * DAY + i * 3600
        rows.append((f"a{i}", "train", 8, submit, submit + wait, "finished"))
    rows += [
        ("q", "train", 32, 9.5 * DAY, NAN, "queued"),
        ("w", "train", 8, 0.5 * DAY, 0.5 * DAY + 50000, "finished"),  # warm-up
        ("r", "train", 999, 2 * DAY, NAN, "rejected"),
        ("m", "train", 8, 5 * DAY, 5 * DAY + 99999, "finished"),  # between first and last
    ]
    frame = pd.DataFrame(rows, columns=["job_id", "job_class", "num_gpus", "submit_s",
                                        "start_s", "state"])
    frame["end_s"] = frame["start_s"] + 100.0
    frame["wait_s"] = frame["start_s"] - frame["submit_s"]
    return frame


def timeseries_frame() -> pd.DataFrame:
    # 32 GPUs in service; 24 ordered at 0, delivered day 3, 16 in service day 4 and the
    # last 8 (failed acceptance, repaired) day 6.
    return pd.DataFrame({
        "t_s": [0.0, 3 * DAY, 4 * DAY, 6 * DAY, 8 * DAY],
        "busy_gpus": [16, 32, 40, 48, 20],
        "up_gpus": [32, 32, 48, 56, 56],
        "running_jobs": [2, 4, 5, 6, 3],
        "queued_jobs": [1, 3, 1, 0, 1],
        "queued_gpus": [8, 24, 8, 0, 32],
        "down_nodes": [0, 0, 0, 0, 0],
        "ordered_gpus": [24, 24, 24, 24, 24],
        "in_transit_gpus": [24, 0, 0, 0, 0],
        "burn_in_gpus": [0, 24, 8, 0, 0],
        "in_service_gpus": [32, 32, 48, 56, 56],
        "retired_gpus": [0, 0, 0, 0, 0],
        "rented_gpus": [0, 0, 0, 0, 0],
    })


EVENT_COLUMNS = ["t_s", "kind", "node_id", "cause", "repair_class", "down_s", "jobs_hit",
                 "gpu_type", "gpus", "order_id", "batch", "late_s", "detail"]
EVENTS = [
    (0.0, "order", -1, "", "", NAN, 0, "A100", 24, 0, -1, NAN, ""),
    (3 * DAY, "delivery", -1, "", "", NAN, 0, "A100", 24, 0, 0, 3600.0, ""),
    (4 * DAY, "acceptance", -1, "", "", NAN, 0, "A100", 16, 0, 0, NAN, ""),
    (4 * DAY, "acceptance_fail", -1, "", "swap", 2 * DAY, 0, "A100", 8, 0, 0, NAN, "node 2"),
    (4 * DAY, "in_service", 4, "", "", NAN, 0, "A100", 16, 0, 0, NAN, "nodes 4-5"),
    (6 * DAY, "in_service", 6, "", "", NAN, 0, "A100", 8, 0, 0, NAN, "nodes 6-6"),
    (7 * DAY, "in_service", 7, "", "", NAN, 0, "rental:A100", 8, 0, -1, NAN, "rental"),
]


def events_frame(rows=EVENTS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=EVENT_COLUMNS).astype(
        {"t_s": float, "kind": str, "node_id": "int64", "gpus": "int64", "order_id": "int64",
         "batch": "int64", "late_s": float})


def write_run(path: Path, *, config=None, events=None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(CONFIG if config is None else config))
    (path / "summary.json").write_text(json.dumps(SUMMARY))
    jobs_frame().to_parquet(path / "jobs.parquet")
    timeseries_frame().to_parquet(path / "timeseries.parquet")
    (events_frame() if events is None else events).to_parquet(path / "events.parquet")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    run = write_run(tmp_path_factory.mktemp("run"))
    build_report(run)
    return run


def section_of(md: str) -> str:
    return md.split("## Capacity, supply and cost")[1].split("## How to read this")[0]


def png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_section_sits_before_the_glossary_with_two_valid_figures(built):
    md = (built / "report.md").read_text()
    assert md.index("## Wait by job size") < md.index("## Capacity, supply and cost") < md.index(
        "## How to read this")
    assert sorted(p.name for p in (built / "figures").glob("*.png")) == sorted(
        OLD_FIGURES + NEW_FIGURES)
    for name in NEW_FIGURES:
        assert f"](figures/{name})" in md
        data = (built / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert png_size(data) == (1080, 540), name
    assert (built / "report.html").read_text().count("data:image/png;base64,") == 6


def test_table_shows_the_summary_numbers(built):
    text = section_of((built / "report.md").read_text())
    for row in [
        "| **Capital cost (capex), total** | **1.40 M** |",
        "| of which: fleet at time 0 | 800.0 k |",
        "| of which: GPUs delivered during the run (paid on delivery) | 600.0 k |",
        "| by GPU type: A100 | 1.40 M |",
        "| Rental cost | 0 |",
        "| Energy (facility, incl. PUE) | 4,568 kWh (457 kWh/day) |",
        "| Energy cost | 365 (PUE 1.3, 0.08 per kWh) |",
        "| **Capex + rental + energy** | **1.40 M** |",
        "| GPU-hours in service (owned and rented) | 12,346 |",
        "| GPUs delivered (of them late) | 24 (8) |",
        "| Orders refused / substituted (export controls) | 0 / 1 |",
        "| Utilisation after warm-up: A100 | 60.0 % |",
    ]:
        assert row in text, row


def test_reading_names_the_delivery_window_and_the_waits(built):
    text = section_of((built / "report.md").read_text())
    assert ("Of the 24 A100 GPUs ordered, 24 entered service between day 4 (week 0.6) and "
            "day 6 (week 0.9), in 2 steps. 8 GPUs were delivered later than planned.") in text
    assert ("waited **2.50 h** at p90 (11 jobs); jobs submitted after the last did "
            "**at least 6.08 h** (6 jobs)") in text
    # busy / up: before [1 d, 4 d): (16·2 + 32·1) / (32·3) = 64/96; after [6 d, 10 d):
    # (48·2 + 20·2) / (56·4) = 136/224
    assert "Utilisation went from 66.7 % to 60.7 %." in text


def test_before_after_waits_equal_the_hand_computed_values(tmp_path):
    run = load_run(write_run(tmp_path))
    events = analysis.load_events(run)
    times, gpus = analysis.entered_service(events)  # the rental at day 7 is not an order
    assert times.tolist() == [4 * DAY, 6 * DAY] and gpus.tolist() == [16, 8]
    before, after = analysis.wait_before_after(run, times[0], times[-1])
    assert before == analysis.WaitWindow(11, BEFORE_P90, 0)
    assert after.jobs == 6 and after.queued == 1
    assert after.p90 == pytest.approx(AFTER_P90)
    assert after.p90 == pytest.approx(np.percentile([0, 0, 60, 120, 600, 43200], 90))


def test_binned_p90_wait_by_submit_day(tmp_path):
    run = load_run(write_run(tmp_path))
    edges, p90, count, queued = analysis.binned_p90_wait(run, DAY)
    assert len(edges) == 11 and edges[-1] == HORIZON
    assert count.tolist() == [0, 11, 0, 0, 0, 1, 5, 0, 0, 1]  # day 1: the 11 "before" jobs
    assert queued.tolist() == [0] * 9 + [1]
    assert p90[1] == pytest.approx(BEFORE_P90) and p90[9] == pytest.approx(43200.0)
    assert np.isnan(p90[0])


@pytest.mark.parametrize("supply", ["absent", None])
def test_no_section_and_no_figures_without_supply(tmp_path, supply):
    config = copy.deepcopy(CONFIG)
    if supply == "absent":
        del config["scenario"]["supply"]
    else:
        config["scenario"]["supply"] = None
    run = write_run(tmp_path, config=config)
    assert supply_section(load_run(run)) is None
    md = build_report(run).read_text()
    assert "Capacity, supply and cost" not in md
    assert sorted(p.name for p in (run / "figures").glob("*.png")) == OLD_FIGURES


def test_no_ordered_capacity_in_service_is_said(tmp_path):
    events = events_frame([e for e in EVENTS if e[1] in ("order", "delivery")])
    run = load_run(write_run(tmp_path, events=events))
    run.figures_dir.mkdir()
    text = supply_section(run).markdown
    assert "None of the 24 A100 GPUs ordered entered service before the end of the run" in text
    for name in NEW_FIGURES:
        assert (run.figures_dir / name).read_bytes().startswith(PNG_MAGIC)


def test_import_of_the_supply_section_is_cheap():
    code = ("import sys, clustersim.report.sections.supply; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'clustersim.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
