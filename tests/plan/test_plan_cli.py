"""The sweep / plan / replications commands: bad input gives one clear line, good input works."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from clustersim.cli.plan import plan_command, run_replications, sweep_command


@pytest.fixture(scope="module")
def app():
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("sweep")(sweep_command)
    app.command("plan")(plan_command)
    app.command("replicate")(run_replications)
    return app


@pytest.fixture
def scenario(mmc_file):
    return str(mmc_file(c=2, lam_per_h=1.0, horizon="80h", warmup="4h"))


def invoke(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args,expected", [
    (["--vary", "cluster.nodez=2,3"], "did you mean cluster.nodes"),
    (["--vary", "cluster.nodes"], "expected KEY=V1,V2"),
    (["--vary", "cluster.nodes=2,"], "empty value"),
    (["--vary", "cluster.nodes=0,2"], "greater than or equal to 1"),
    (["--vary", "cluster.nodes=2,3", "--metric", "wait_s.p95"], "did you mean wait_s.p9"),
    (["--vary", "cluster.nodes=2,3", "--target", "wait_s.maen<=1h"], "did you mean wait_s.mean"),
    (["--vary", "cluster.nodes=2,3", "--seeds", "5-2"], "reversed"),
    (["--vary", "cluster.nodes=2,3", "--set", "cluster.gpus=4"], "unknown key"),
    ([], "give at least one --vary"),
])
def test_sweep_bad_input(app, scenario, tmp_path, args, expected):
    line = one_error_line(invoke(app, "sweep", scenario, *args, "--out", tmp_path / "o"))
    assert expected in line
    assert not (tmp_path / "o" / "runs").exists()  # refused before any run


@pytest.mark.parametrize("args,expected", [
    (["--target", "wait_s.maen<=1h", "--search", "cluster.nodes=2..5"], "did you mean wait_s.mean"),
    (["--target", "by_class.jobs.wait_s.p90<=1h", "--search", "cluster.nodes=2..5"], "by_class.job.wait_s.p90"),
    (["--target", "wait_s.mean=<1h", "--search", "cluster.nodes=2..5"], "expected METRIC OP VALUE"),
    (["--target", "wait_s.mean<=1h", "--search", "cluster.nodez=2..5"], "did you mean cluster.nodes"),
    (["--target", "wait_s.mean<=1h", "--search", "cluster.nodes=5..2"], "reversed range"),
    (["--target", "wait_s.mean<=1h", "--search", "cluster.nodes=.."], "empty range"),
    (["--target", "wait_s.mean<=1h", "--search", "cluster.nodes=2.."], "empty range"),
    (["--target", "gpu_utilisation<=1h", "--search", "cluster.nodes=2..5"], "not a time metric"),
    (["--target", "wait_s.mean<=1h"], "give --search"),
    (["--search", "cluster.nodes=2..5"], "give at least one --target"),
])
def test_plan_bad_input(app, scenario, tmp_path, args, expected):
    line = one_error_line(invoke(app, "plan", scenario, *args, "--out", tmp_path / "o"))
    assert expected in line
    assert not (tmp_path / "o" / "runs").exists()


def test_missing_scenario_file(app, tmp_path):
    """The scenario loader's own error (file, then one indented line per problem)."""
    result = invoke(app, "plan", tmp_path / "nope.yaml", "--target", "wait_s.mean<=1h",
                    "--search", "cluster.nodes=2..5")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "file not found" in result.stderr
    assert "Traceback" not in result.output


def test_sweep_command_writes_everything(app, scenario, tmp_path):
    out = tmp_path / "sweep"
    result = invoke(app, "sweep", scenario, "--vary", "cluster.nodes=2,3", "--seeds", "1-3",
                    "--workers", "1", "--out", out, "--target", "wait_s.p90<=30m")
    assert result.exit_code == 0, result.output
    assert "wait_s.p90 (95% CI)" in result.stdout
    for name in ("sweep.parquet", "sweep_summary.parquet", "sweep_summary.json", "sweep.md",
                 "sweep.html", "figures/sweep-wait_s_p90.png"):
        assert (out / name).exists(), name
    assert len(list((out / "runs").glob("*.json"))) == 6
    again = invoke(app, "sweep", scenario, "--vary", "cluster.nodes=2,3", "--seeds", "1-3",
                   "--workers", "1", "--out", out)
    assert "0 runs computed, 6 reused" in again.stderr


def test_plan_command_prints_answer_and_evidence(app, scenario, tmp_path):
    out = tmp_path / "plan"
    result = invoke(app, "plan", scenario, "--target", "wait_s.mean<=20m", "--search",
                    "cluster.nodes=1..6", "--seeds", "4", "--workers", "1", "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "plan.json").read_text())
    assert result.stdout.startswith(f"cluster.nodes = {data['answer_text']}: the smallest value")
    assert "| `cluster.nodes` |" in result.stdout and "monotone" in result.stdout
    assert data["status"] == "found" and "monotone" in data["assumption"]
    assert all("targets" in ev for ev in data["evaluated"])
    assert (out / "plan.md").read_text().startswith("# Plan: mmc")


def test_plan_with_no_feasible_value_exits_1(app, scenario, tmp_path):
    result = invoke(app, "plan", scenario, "--target", "wait_s.mean<=0", "--search",
                    "cluster.nodes=1..2", "--seeds", "3", "--workers", "1", "--out", tmp_path)
    assert result.exit_code == 1
    assert result.stdout.startswith("No value of cluster.nodes in 1..2 meets every target")


def test_plan_latest_duration(app, scenario, tmp_path):
    """A duration range searches for the latest value: the longest horizon whose submitted
    jobs stay <= 40 (about 1 per hour, so the answer is near 40 h less the CI margin)."""
    result = invoke(app, "plan", scenario, "--target", "jobs.submitted<=40", "--search",
                    "horizon=20h..60h", "--step", "4h", "--seeds", "5", "--workers", "1",
                    "--set", "warmup=0", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["search"]["direction"] == "largest" and data["search"]["kind"] == "duration"
    answer = data["answer"]
    evaluated = {ev["value"]: ev for ev in data["evaluated"]}
    assert evaluated[answer]["meets_all"]
    assert not evaluated[answer + 4 * 3600]["meets_all"]  # the next later value fails
    assert 20 * 3600 <= answer < 40 * 3600
    assert "latest value" in result.stdout


def test_replications_precision(app, scenario, tmp_path):
    result = invoke(app, "replicate", scenario, "--seeds", "4", "--precision", "20%",
                    "--metric", "jobs.submitted", "--workers", "1", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "replications.json").read_text())
    assert data["precision"]["converged"] is True
    stats = data["metrics"]["jobs.submitted"]
    assert stats["half_width"] <= 0.2 * stats["mean"]
    assert "converged" in result.stdout and "| jobs.submitted |" in result.stdout


def test_replications_precision_cap(app, scenario, tmp_path):
    result = invoke(app, "replicate", scenario, "--seeds", "2", "--precision", "0.1%",
                    "--metric", "wait_s.p90", "--max-seeds", "4", "--workers", "1", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "replications.json").read_text())
    assert data["precision"]["converged"] is False and len(data["seeds"]) == 4
    assert "NOT converged (cap 4 seeds)" in result.stdout


def test_replications_bad_metric(app, scenario, tmp_path):
    line = one_error_line(invoke(app, "replicate", scenario, "--precision", "5%", "--metric",
                                 "gpu_util", "--out", tmp_path))
    assert "gpu_utilisation" in line
