"""Replay: traces through the simulator, recorded-vs-simulated waits, rejected rows, shaping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.config import scenario_from_dict
from clustersim.engine.core import simulate
from clustersim.errors import ClusterSimError
from clustersim.rng import Streams
from clustersim.workload import (
    Shaping,
    demand_peak,
    load_any,
    parse_window,
    recorded_waits,
    shape,
    trace_jobs,
)

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "tests" / "data" / "traces"
ITP10 = REPO / "workloads" / "itp" / "cluster10.csv.gz"


def _replay(frame, nodes: int, horizon: float, policy: str = "backfill"):
    sc = scenario_from_dict(
        {
            "name": "replay-test",
            "horizon": horizon,
            "cluster": {"nodes": nodes, "gpus_per_node": 8},
            "scheduler": {"policy": policy},
            "workload": {"trace": str(ITP10), "format": "itp"},
        }
    )
    return simulate(sc, 0, specs=trace_jobs(frame))


def _trace_demand(frame, times: np.ndarray) -> np.ndarray:
    """GPUs in use at each time if every job ran from submit to submit + duration."""
    sub = frame["submit_s"].to_numpy(float)
    end = sub + frame["duration_s"].to_numpy(float)
    g = frame["num_gpus"].to_numpy(float)
    return np.array([g[(sub <= t) & (t < end)].sum() for t in times])


@pytest.mark.parametrize("policy", ["fifo", "sjf", "backfill"])
def test_replay_reproduces_the_demand_series_when_capacity_exceeds_peak(policy):
    frame = load_any(ITP10, "itp").jobs
    _mean, peak = demand_peak(frame, 8)
    nodes = int(peak // 8) + 64  # room for any packing of the peak
    horizon = float((frame["submit_s"] + frame["duration_s"]).max()) + 1.0
    result = _replay(frame, nodes, horizon, policy)
    jobs = result.jobs
    assert (jobs["state"] == "finished").all()
    assert (jobs["wait_s"] == 0).all()
    ts = result.timeseries
    # busy GPUs at every recorded instant (each row holds until the next) equal the trace's demand
    expected = _trace_demand(frame, ts["t_s"].to_numpy(float))
    np.testing.assert_array_equal(ts["busy_gpus"].to_numpy(float), expected)
    # and at instants between rows too
    probes = np.linspace(0, horizon - 1, 997)
    idx = np.searchsorted(ts["t_s"].to_numpy(float), probes, side="right") - 1
    np.testing.assert_array_equal(ts["busy_gpus"].to_numpy(float)[idx], _trace_demand(frame, probes))


def test_recorded_waits_sit_beside_simulated_ones(tmp_path):
    fixture = TRACES / "alibaba2023" / "openb_pod_list_excerpt.csv"
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["replay", str(fixture), "--nodes", "4", "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    trace = load_any(fixture, "auto")
    rec = trace.jobs["recorded_start_s"] - trace.jobs["submit_s"]
    assert summary["recorded"]["jobs"] == len(trace.jobs)
    assert summary["recorded"]["mean"] == pytest.approx(float(np.maximum(rec, 0).mean()))
    assert set(summary["recorded"]) >= set(summary["wait_s"])
    jobs = pd.read_parquet(out / "jobs.parquet")
    assert "recorded_wait_s" in jobs.columns
    by_id = dict(zip(trace.jobs["job_id"].astype(str), np.maximum(rec, 0), strict=True))
    for job_id, value in zip(jobs["job_id"], jobs["recorded_wait_s"], strict=True):
        assert value == pytest.approx(by_id[job_id])
    assert summary["trace"]["format"] == "alibaba2023"


def test_rejected_rows_are_counted_written_and_strict_stops_at_the_first(tmp_path):
    csv = tmp_path / "jobs.csv"
    csv.write_text(
        "job_id,submit_s,num_gpus,duration_s\n"
        "a,0,1,100\n"
        "b,10,x,100\n"
        "c,20,2,-5\n"
        "d,30,8,50\n"
    )
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["replay", str(csv), "--nodes", "2", "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    rejected = pd.read_csv(out / "rejected_rows.csv")
    assert rejected["line"].tolist() == [3, 4]
    assert rejected["reason"].tolist() == ["num_gpus is not a number", "duration_s must be >= 0"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == 2
    assert summary["trace"]["rows_rejected"] == 2
    strict = CliRunner().invoke(app, ["replay", str(csv), "--nodes", "2", "--strict", "--out", str(tmp_path / "s")])
    assert strict.exit_code == 2
    assert f"{csv}:3" in strict.output and "num_gpus is not a number" in strict.output
    assert "Traceback" not in strict.output


def test_the_report_counts_rejected_rows_by_reason_and_shows_the_adapter_notes(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(
        "job_id,submission_time,duration,num_gpu\n"
        "a,0,3600,8\n"
        "b,100,1e20,8\n"
        "c,200,600,1e20\n"
        "e,250,600,1e308\n"
        "d,300,60,4\n"
    )
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["replay", str(csv), "--format", "itp", "--nodes", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text()
    section = report.split("## Trace input", 1)[1].split("\n## ", 1)[0]
    assert "2 rows became jobs, 3 rows were rejected" in section
    assert "| GPU count out of range | 2 |" in section
    assert "| duration out of range | 1 |" in section
    assert "2 jobs read, 3 rows rejected" in section  # the adapter's own note
    assert json.loads((out / "summary.json").read_text())["trace"]["notes"][0].startswith("2 jobs read")


def test_a_run_without_a_trace_has_no_trace_section(tmp_path):
    from clustersim.report.model import Run
    from clustersim.report.sections.trace import trace_section

    assert trace_section(Run(tmp_path, {}, {"jobs": {}}, None, None)) is None


def test_shaping_window_time_scale_and_filters():
    frame = pd.DataFrame(
        {
            "job_id": ["a", "b", "c", "d"],
            "submit_s": [0.0, 100.0, 200.0, 300.0],
            "num_gpus": [1, 8, 16, 2],
            "duration_s": [10.0, 20.0, 30.0, 40.0],
            "job_class": ["x", "y", "x", "x"],
            "user": ["", "", "", ""],
            "recorded_start_s": [5.0, 150.0, np.nan, 300.0],
        }
    )
    out = shape(frame, Shaping(window=(100.0, 301.0), time_scale=0.5, max_gpus=8), Streams(0))
    assert out["job_id"].tolist() == ["b", "d"]
    assert out["submit_s"].tolist() == [0.0, 100.0]  # (100-100)*0.5, (300-100)*0.5
    assert out["recorded_start_s"].tolist() == [25.0, 100.0]
    assert out["duration_s"].tolist() == [20.0, 40.0]  # durations unchanged
    assert shape(frame, Shaping(classes=("y",)), Streams(0))["job_id"].tolist() == ["b"]
    assert parse_window("2d:9d") == (172800.0, 777600.0)
    assert parse_window(":1h") == (0.0, 3600.0)
    for bad in ("5", "9d:2d"):
        with pytest.raises(ClusterSimError):
            Shaping(window=parse_window(bad))


def test_load_scaling_thins_and_replicates_reproducibly():
    n = 4000
    frame = pd.DataFrame(
        {
            "job_id": [f"j{i}" for i in range(n)],
            "submit_s": np.arange(n, dtype=float),
            "num_gpus": np.ones(n, dtype=np.int64),
            "duration_s": np.full(n, 10.0),
            "job_class": ["x"] * n,
            "user": [""] * n,
            "recorded_start_s": np.full(n, np.nan),
        }
    )
    half = shape(frame, Shaping(load_scale=0.5), Streams(1))
    assert abs(len(half) - n / 2) < 4 * np.sqrt(n * 0.25)  # binomial, 4 sigma
    assert half["job_id"].tolist() == shape(frame, Shaping(load_scale=0.5), Streams(1))["job_id"].tolist()
    more = shape(frame, Shaping(load_scale=2.5), Streams(1))
    assert abs(len(more) - 2.5 * n) < 4 * np.sqrt(n * 0.25)
    assert more["job_id"].is_unique
    assert (more["job_id"].str.split("#").str[0].value_counts() >= 2).all()
    assert more["submit_s"].is_monotonic_increasing


def test_recorded_waits_respect_warmup_and_horizon():
    frame = pd.DataFrame(
        {"submit_s": [0.0, 10.0, 20.0, 30.0], "recorded_start_s": [1.0, 14.0, np.nan, 40.0]}
    )
    stats = recorded_waits(frame, warmup=5.0, horizon=30.0)
    assert stats["jobs"] == 1 and stats["mean"] == 4.0
    assert recorded_waits(frame.assign(recorded_start_s=np.nan), 0.0, 100.0) is None


def test_default_itp_replay_writes_a_report(tmp_path):
    out = tmp_path / "itp"
    res = CliRunner().invoke(app, ["replay", str(ITP10), "--format", "auto", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("summary.json", "jobs.parquet", "report.md", "report.html"):
        assert (out / name).exists(), name
    assert "format detected automatically: itp" in res.output
