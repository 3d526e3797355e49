"""The report's Teams section: present with a tenancy section, absent without; its numbers are
the summary's, and the summary's are recomputed here from the run directory's files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tenancy_helpers import scenario

from clustersim.engine.core import simulate
from clustersim.report.build import build_report
from clustersim.results.rundir import begin_run, write_run
from clustersim.results.summary import step_integral

CLASSES = [
    {"name": "a", "arrival_rate_per_h": 3, "gpus": {8: 0.5, 16: 0.5}, "duration": {"kind": "exponential", "mean": "3h"},
     "checkpoint": {"interval": "30m", "cost": 0, "restart": "5m"}},
    {"name": "b", "arrival_rate_per_h": 4, "gpus": {8: 1.0}, "duration": {"kind": "exponential", "mean": "2h"}},
]
TENANCY = {"teams": [{"name": "A", "quota": "50%", "classes": ["a"]},
                     {"name": "B", "quota": "25%", "classes": ["b"], "borrowing_limit": 24}]}


def _run(tmp_path, sc, name):
    out = tmp_path / name
    begin_run(out, sc, 0)
    write_run(out, simulate(sc, 0))
    return build_report(out), out


@pytest.fixture(scope="module")
def with_teams(tmp_path_factory):
    sc = scenario(nodes=8, gpus_per_node=8, policy="backfill", horizon=4 * 86400.0, warmup=86400.0,
                  classes=CLASSES, tenancy=TENANCY)
    return _run(tmp_path_factory.mktemp("teams"), sc, "with")


def test_teams_section_and_figure(with_teams):
    md, out = with_teams
    text = md.read_text()
    assert "## Teams" in text and "| A |" in text and "| B |" in text
    assert (out / "figures" / "teams.png").is_file()
    assert "`tenancy`" not in text  # shown in the section, not under "Other metrics"


def test_team_summary_recomputed_from_the_files(with_teams):
    _, out = with_teams
    summary = json.loads((out / "summary.json").read_text())["tenancy"]
    jobs = pd.read_parquet(out / "jobs.parquet")
    ts = pd.read_parquet(out / "timeseries.parquet")
    horizon, warmup = 4 * 86400.0, 86400.0
    t = ts["t_s"].to_numpy(float)
    for name, quota in (("A", 32), ("B", 16)):
        team = summary["teams"][name]
        assert team["quota_gpus"] == quota
        used = ts[f"team_gpus.{name}"].to_numpy(float)
        assert team["gpu_hours"] == pytest.approx(step_integral(t, used, warmup, horizon) / 3600)
        assert team["borrowed_gpu_hours"] == pytest.approx(step_integral(t, np.maximum(used - quota, 0), warmup, horizon) / 3600)
        mine = jobs[(jobs["team"] == name) & (jobs["submit_s"] >= warmup)]
        started = mine[mine["start_s"].notna()]
        assert team["jobs"] == len(mine)
        assert team["wait_s"]["mean"] == pytest.approx(started["wait_s"].mean())
        assert team["reclaims"] == int(mine["reclaims"].sum()) + int(
            jobs[(jobs["team"] == name) & (jobs["submit_s"] < warmup)]["reclaims"].sum())
    assert ts["team_gpus.B"].max() <= 16 + 24
    assert summary["reclaims"] > 0  # the run exercises reclaim
    assert (ts["team_gpus.A"] + ts["team_gpus.B"] == ts["busy_gpus"]).all()


def test_no_tenancy_no_section(tmp_path):
    sc = scenario(nodes=2, gpus_per_node=8, classes=[{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}])
    md, out = _run(tmp_path, sc, "without")
    assert "## Teams" not in md.read_text()
    jobs = pd.read_parquet(out / "jobs.parquet")
    assert "team" not in jobs.columns and "priority" not in jobs.columns
