"""The command line: the run directory it writes, validate/schema/report, and bad input.

Commands run in-process through typer's CliRunner (click 8.2+: ``result.output`` mixes
stdout and stderr, ``result.stderr`` is stderr alone). CliRunner catches exceptions instead
of printing a traceback, so "no traceback" is checked as "the command ended by SystemExit"
(an uncaught exception would be left in ``result.exception``), and a few cases are also run
as real subprocesses and their stderr searched for "Traceback".
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from reference.summary_reference import assert_close, core_summary
from typer.testing import CliRunner

import clustersim
from clustersim.cli.app import app
from clustersim.config import load_scenario
from clustersim.results import columns

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "tests" / "data" / "core" / "small.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CORE_JOB_COLUMNS = [
    "job_id", "job_class", "num_gpus", "submit_s", "start_s", "end_s", "wait_s", "duration_s", "state", "reason",
]
CORE_TS_COLUMNS = ["t_s", "busy_gpus", "up_gpus", "running_jobs", "queued_jobs", "queued_gpus"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_exit(result, code: int = 0) -> None:
    assert result.exit_code == code, result.output
    if code == 0:
        assert result.exception is None, result.exception
    else:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------------ run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke("run", SMALL, "--out", out)
    assert_clean_exit(result)
    assert f"run directory: {out}" in result.output
    assert "report:" in result.output
    return out


def test_run_writes_every_file(run_dir):
    for name in ("config.json", "jobs.parquet", "timeseries.parquet", "events.parquet", "summary.json", "report.md", "report.html"):
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    pngs = sorted((run_dir / "figures").glob("*.png"))
    assert pngs
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC
    assert not list(run_dir.glob(".*.tmp"))  # no half-written temp files left behind


def test_jobs_table(run_dir):
    jobs = pd.read_parquet(run_dir / "jobs.parquet")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(jobs.columns[: len(CORE_JOB_COLUMNS)]) == CORE_JOB_COLUMNS
    assert list(jobs.columns) == list(columns.JOB_COLUMNS)
    assert len(jobs) == summary["jobs"]["submitted"] > 100
    assert set(jobs["state"].astype(str)) <= set(columns.STATES)
    assert jobs["job_id"].is_unique
    done = jobs[jobs["state"] == "finished"]
    assert (done["end_s"] == done["start_s"] + done["duration_s"]).all()
    assert (jobs["wait_s"].dropna() >= 0).all()


def test_timeseries_table(run_dir):
    ts = pd.read_parquet(run_dir / "timeseries.parquet")
    assert list(ts.columns[: len(CORE_TS_COLUMNS)]) == CORE_TS_COLUMNS
    assert list(ts.columns) == list(columns.TIMESERIES_COLUMNS)
    assert (ts["busy_gpus"] <= ts["up_gpus"]).all() and (ts["up_gpus"] == 32).all()
    assert ts["t_s"].is_monotonic_increasing


def test_summary_is_recomputable_from_the_files(run_dir):
    """summary.json agrees with numbers recomputed from jobs.parquet and timeseries.parquet by
    tests/reference/summary_reference.py (numpy and pandas, from the README's glossary), not
    by the function that wrote it."""
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    sc = config["scenario"]
    jobs = pd.read_parquet(run_dir / "jobs.parquet")
    ts = pd.read_parquet(run_dir / "timeseries.parquet")
    again = core_summary(jobs, ts, horizon=sc["horizon"], warmup=sc["warmup"])
    assert_close({k: summary[k] for k in again}, again)
    assert (summary["scenario"], summary["seed"], summary["horizon_s"], summary["warmup_s"]) == (
        sc["name"], config["seed"], sc["horizon"], sc["warmup"])
    expected_keys = {"scenario", "seed", "horizon_s", "warmup_s", "jobs", "gpu_utilisation", "offered_load", "mean_queued_jobs", "wait_s", "wait_s_gpu_weighted", "jct_s", "by_class"}
    assert set(summary) == expected_keys  # no failures, supply or services: nothing else
    assert set(summary["jobs"]) == {"submitted", *columns.STATES}
    assert set(summary["wait_s"]) == {"mean", "p50", "p90", "p99"} and set(summary["jct_s"]) == {"mean", "p50", "p90"}
    assert set(summary["by_class"]) == {"small", "gang"}
    # the run is busy enough for the comparison to mean something
    assert summary["jobs"]["finished"] > 100 and summary["jobs"]["queued"] > 0
    assert summary["wait_s"]["p99"] > 0 and summary["wait_s_gpu_weighted"]["p90"] > 0 and 0.3 < summary["gpu_utilisation"] < 1


def test_config_json_holds_resolved_scenario_seed_and_version(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 0
    assert config["clustersim_version"] == clustersim.__version__
    resolved = load_scenario(SMALL).model_dump(mode="json", by_alias=True)
    assert config["scenario"] == resolved
    assert config["scenario"]["horizon"] == 172800.0  # "2d", resolved to seconds


def test_report_rebuilds_the_report(run_dir):
    (run_dir / "report.md").unlink()
    (run_dir / "report.html").unlink()
    for png in (run_dir / "figures").glob("*.png"):
        png.unlink()
    result = invoke("report", run_dir)
    assert_clean_exit(result)
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    assert list((run_dir / "figures").glob("*.png"))


def test_report_on_a_folder_that_is_not_a_run(tmp_path):
    result = invoke("report", tmp_path)
    assert_clean_exit(result, 2)
    assert str(tmp_path) in result.stderr


def test_set_overrides_take_effect_and_seed_is_recorded(tmp_path):
    out = tmp_path / "r"
    result = invoke("run", SMALL, "--out", out, "--no-report", "--seed", "5", "--set", "cluster.nodes=16",
                    "--set", "horizon=12h", "--set", "warmup=1h")
    assert_clean_exit(result)
    config = json.loads((out / "config.json").read_text())
    assert config["scenario"]["cluster"]["nodes"] == 16 and config["seed"] == 5
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert (ts["up_gpus"] == 128).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 5 and summary["horizon_s"] == 43200.0
    assert not (out / "report.md").exists()  # --no-report


@pytest.mark.parametrize("path", sorted((REPO / "seeds").glob("*.yaml")), ids=lambda p: p.name)
def test_validate_every_seed(path):
    result = invoke("validate", path)
    assert_clean_exit(result)
    assert result.output.startswith("ok")


def test_validate_with_override_reports_the_change():
    result = invoke("validate", SMALL, "--set", "cluster.nodes=16")
    assert_clean_exit(result)
    assert "16 nodes x 8 GPUs = 128 GPUs" in result.output


def test_schema_is_json_schema():
    result = invoke("schema")
    assert_clean_exit(result)
    schema = json.loads(result.stdout)
    assert "properties" in schema and "cluster" in schema["properties"]
    assert schema.get("type") == "object"


def test_job_class_larger_than_the_cluster_is_rejected_and_counted(tmp_path):
    # not an error: the run completes and every job of the oversized class is `rejected`
    data = yaml.safe_load(SMALL.read_text())
    data["workload"]["classes"].append(
        {"name": "huge", "arrival_rate_per_h": 2, "gpus": 64, "duration": "1h"}
    )
    scen = tmp_path / "huge.yaml"
    scen.write_text(yaml.safe_dump(data))
    out = tmp_path / "r"
    result = invoke("run", scen, "--out", out, "--no-report")
    assert_clean_exit(result)
    jobs = pd.read_parquet(out / "jobs.parquet")
    summary = json.loads((out / "summary.json").read_text())
    huge = jobs[jobs["job_class"] == "huge"]
    assert len(huge) > 50
    assert (huge["state"] == "rejected").all()
    assert huge["reason"].str.contains("more than the cluster's 32").all()
    assert (jobs.loc[jobs["job_class"] != "huge", "state"] != "rejected").all()
    assert summary["jobs"]["rejected"] == len(huge)
    assert f"rejected {len(huge):,}" in result.output
    assert summary["by_class"]["huge"]["wait_s"]["mean"] is None  # never started, no wait


# ------------------------------------------------------------------------------ bad input

BASE = {
    "name": "bad",
    "horizon": "1d",
    "cluster": {"nodes": 2, "gpus_per_node": 8},
    "scheduler": {"policy": "fifo"},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}]},
}
HEADER = "job_id,submit_s,num_gpus,duration_s\n"


def _with(path: str, value) -> dict:
    import copy

    data = copy.deepcopy(BASE)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    return data


# (id, scenario (dict or raw YAML text), trace CSV text or None, extra args, expected parts)
BAD = [
    ("unknown-key", {**BASE, "colour": "red"}, None, [], ["colour", "unknown key"]),
    ("unknown-nested-key", _with("cluster", {"nodes": 2, "gpu_per_node": 8}), None, [], ["cluster.gpu_per_node", "unknown key"]),
    ("wrong-type", _with("cluster", {"nodes": "many", "gpus_per_node": 8}), None, [], ["cluster.nodes", "valid integer", "'many'"]),
    ("negative-horizon", _with("horizon", -3600), None, [], ["horizon", "expected a non-negative duration"]),
    ("negative-mean", _with("workload", {"classes": [{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": {"kind": "exponential", "mean": -5}}]}), None, [], ["workload.classes[0].duration.mean", "expected a non-negative duration"]),
    ("unparsable-duration", _with("horizon", "3 days"), None, [], ["horizon", "expected a duration such as 90s", "'3 days'"]),
    ("unknown-policy", _with("scheduler", {"policy": "lifo"}), None, [], ["scheduler.policy", "unknown kind 'lifo'", "expected one of"]),
    ("yaml-syntax", "name: x\nhorizon: [1d\n", None, [], ["not valid YAML", "line "]),
    ("missing-trace", _with("workload", {"trace": "nope.csv"}), None, [], ["nope.csv", "trace file not found"]),
    ("trace-row-missing-field", _with("workload", {"trace": "rows.csv"}), HEADER + "j1,0,1,100\nj2,10,,3600\n", [], ["rows.csv:3", "missing num_gpus"]),
    ("trace-row-short", _with("workload", {"trace": "rows.csv"}), HEADER + "j1,0,1,100\nj2,10,4\n", [], ["rows.csv:3", "missing duration_s"]),
    ("trace-row-not-a-number", _with("workload", {"trace": "rows.csv"}), HEADER + "j1,0,1,100\nj2,10,four,3600\n", [], ["rows.csv:3", "num_gpus is not a number"]),
    ("trace-negative-duration", _with("workload", {"trace": "rows.csv"}), HEADER + "j1,0,1,100\nj2,10,1,100\nj3,20,1,-5\n", [], ["rows.csv:4", "duration_s must be >= 0"]),
    ("trace-missing-column", _with("workload", {"trace": "rows.csv"}), "job_id,submit_s,num_gpus\nj1,0,1\n", [], ["rows.csv:1", "missing column(s) duration_s"]),
    ("set-bad-key", BASE, None, ["--set", "cluster..nodes=3"], ["--set", "cannot parse key 'cluster..nodes'"]),
    ("set-no-equals", BASE, None, ["--set", "cluster.nodes"], ["--set", "expected key=value"]),
    ("set-index-out-of-range", BASE, None, ["--set", "workload.classes[5].name=x"], ["--set", "workload.classes[5].name", "no list item [5]"]),
    ("set-invalid-value", BASE, None, ["--set", "cluster.nodes=0"], ["cluster.nodes", "greater than or equal to 1"]),
]


def _write_case(tmp_path: Path, scenario, trace) -> Path:
    scen = tmp_path / "case.yaml"
    scen.write_text(scenario if isinstance(scenario, str) else yaml.safe_dump(scenario))
    if trace is not None:
        (tmp_path / "rows.csv").write_text(trace)
    return scen


@pytest.mark.parametrize(("scenario", "trace", "args", "parts"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gives_one_clear_message(tmp_path, scenario, trace, args, parts):
    scen = _write_case(tmp_path, scenario, trace)
    result = invoke("run", scen, "--out", tmp_path / "out", "--no-report", *args)
    assert_clean_exit(result, 2)
    err = result.stderr
    assert result.stdout == "", result.stdout
    assert err.count("error:") == 1, err
    assert err.startswith("error: ")
    # names the file: the scenario, or the trace file for trace problems
    named = "rows.csv" if trace is not None else ("nope.csv" if "nope.csv" in parts else scen.name)
    assert named in err, err
    for part in parts:
        assert part in err, (part, err)
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("case_id", ["wrong-type", "trace-row-not-a-number", "set-index-out-of-range"])
def test_bad_input_in_a_real_process_has_no_traceback(tmp_path, python, case_id):
    _, scenario, trace, args, parts = next(b for b in BAD if b[0] == case_id)
    scen = _write_case(tmp_path, scenario, trace)
    proc = subprocess.run(
        [python, "-m", "clustersim", "run", str(scen), "--out", str(tmp_path / "out"), "--no-report", *args],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.count("error:") == 1
    for part in parts:
        assert part in proc.stderr


def test_missing_scenario_file(tmp_path):
    result = invoke("run", tmp_path / "nope.yaml", "--out", tmp_path / "o")
    assert_clean_exit(result, 2)
    assert "nope.yaml" in result.stderr and "file not found" in result.stderr


def test_validate_reports_bad_input_too(tmp_path):
    scen = _write_case(tmp_path, _with("horizon", "3 days"), None)
    result = invoke("validate", scen)
    assert_clean_exit(result, 2)
    assert "horizon" in result.stderr and "expected a duration" in result.stderr
