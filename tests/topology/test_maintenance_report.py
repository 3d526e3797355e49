"""The report with planned maintenance: a "Planned maintenance" section without a topology,
and with one the topology section's maintenance table, down-by-cause figure, domain event
timeline and gang waits by locality level; the table functions behind them by hand."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
import yaml

from clustersim.results.topology import domain_timeline, straggler_loss, wait_by_constraint

BASE = {
    "name": "maint-report",
    "horizon": "3d",
    "warmup": "2h",
    "cluster": {"nodes": 16, "gpus_per_node": 8},
    "scheduler": {"policy": "backfill", "placement": "pack"},
    "workload": {"classes": [
        {"name": "small", "arrival_rate_per_h": 4, "gpus": {1: 0.5, 8: 0.5}, "duration": "1h"},
        {"name": "gang", "arrival_rate_per_h": 1, "gpus": {16: 0.5, 48: 0.5}, "duration": "3h"},
    ]},
}
WINDOW = {"name": "fw", "start": "1d", "duration": "2h", "max_down": "25%", "lead_time": "1h"}


def _run(tmp_path, python, data, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / name
    proc = subprocess.run([python, "-m", "clustersim", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out, (out / "report.md").read_text()


def test_maintenance_without_topology(tmp_path, python):
    data = dict(BASE, maintenance={"windows": [dict(WINDOW, nodes=["0-7"])]})
    out, md = _run(tmp_path, python, data, "flat")
    section = md[md.index("## Planned maintenance"):]
    assert "| fw | nodes 0-7 |" in section and "2 waves took 8 node outages" in section
    assert (out / "figures" / "down_by_cause.png").stat().st_size > 1000
    assert (out / "figures" / "domain_timeline.png").stat().st_size > 1000
    assert "## Topology" not in md and "Wait of large jobs" not in md


def test_maintenance_with_topology_and_domain_failures(tmp_path, python):
    data = dict(BASE, cluster=dict(BASE["cluster"], topology={
        "levels": [{"name": "rack", "nodes": 4}, {"name": "leaf", "nodes": 8}]}),
        failures={"rate_per_1000_node_days": 20, "domains": [
            {"name": "pdu", "level": "rack", "rate_per_1000_domain_days": 200, "repair": "3h"}]},
        maintenance={"windows": [dict(WINDOW, level="rack", running="finish")]})
    out, md = _run(tmp_path, python, data, "topo")
    section = md[md.index("## Topology"):]
    for heading in ("### Planned maintenance", "### Nodes down and draining, by cause", "### Domain events",
                    "### Wait of large jobs by domain constraint"):
        assert heading in section
    assert "| fw | every rack |" in section
    for name in ("down_by_cause", "domain_timeline", "wait_by_constraint", "fragmentation"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000


def test_domain_timeline_pairs_waves_and_failures_by_hand():
    ev = pd.DataFrame({
        "t_s": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
        "kind": ["domain_failure", "maintenance_drain", "maintenance_start", "maintenance_end",
                 "maintenance_drain", "maintenance_start", "failure"],
        "cause": ["pdu", "fw", "fw", "fw", "fw", "fw", "gpu"],
        "detail": ["rack:1", "rack:0", "rack:0", "rack:0", "rack:2", "rack:2", ""],
        "down_s": [100.0, 5, 5, 5, 5, 5, 1],
    })
    assert domain_timeline(ev, 80.0) == [
        ("rack:1", 10.0, 80.0, "pdu"),  # repair after the horizon: drawn to it
        ("rack:0", 20.0, 30.0, "drain"), ("rack:0", 30.0, 40.0, "maintenance"),
        ("rack:2", 50.0, 60.0, "drain"), ("rack:2", 60.0, 80.0, "maintenance")]


def test_wait_by_constraint_and_straggler_loss_by_hand():
    jobs = pd.DataFrame({
        "submit_s": [0.0, 5, 5, 5, 5, 5], "num_gpus": [64, 64, 64, 16, 8, 256],
        "state": ["finished", "finished", "finished", "finished", "finished", "queued"],
        "wait_s": [100.0, 10, 30, 0, 7, float("nan")], "domain_level": ["leaf", "leaf", "leaf", "rack", "", "any"],
        "domains_spanned": [1, 1, 1, 1, 0, 0], "job_class": ["a", "a", "b", "b", "b", "a"],
        "slow_s": [0.0, 3600, 0, 1800, 0, 0],
    })
    rows = wait_by_constraint(jobs, 1.0, 8)
    assert [(r["gpus"], r["level"], r["jobs"], r["started"]) for r in rows] == [
        (16, "rack", 1, 1), (64, "leaf", 2, 2), (256, "any", 1, 0)]
    assert rows[1]["mean"] == 20.0 and rows[1]["p90"] == pytest.approx(28.0) and rows[2]["p90"] is None
    loss = straggler_loss(jobs)
    assert loss == {"gpu_hours": 64 + 8, "jobs": 2, "mean_s": 2700.0, "by_class": {"a": 64.0, "b": 8.0}}
    assert straggler_loss(jobs.assign(slow_s=0.0)) is None and straggler_loss(jobs.drop(columns="slow_s")) is None
