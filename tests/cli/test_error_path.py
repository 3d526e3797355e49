"""One error path (issue 16): every case the issue lists ends as one message naming the file
and the field or line, exit code 2 and no traceback; a real bug shows its traceback and a line
asking to report it; the output folder is only where --out or reports/<name> says; a run
directory says whether it is complete.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.cli.common import BUG_LINE

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "tests" / "data" / "core" / "small.yaml"
runner = CliRunner()

BASE = {
    "name": "edge",
    "horizon": "6h",
    "cluster": {"nodes": 2, "gpus_per_node": 8},
    "scheduler": {"policy": "fifo"},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}]},
}
SERVICE = {"name": "chat", "gpus_per_replica": 8, "rps_per_replica": 15, "demand": {"base_rps": 100}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_clean_error(result, *parts: str) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    err = result.stderr
    assert err.startswith("error: ") and err.count("error:") == 1, err
    assert result.stdout == "", result.stdout
    for part in parts:
        assert part in err, (part, err)
    return err


def with_(path: str, value) -> dict:
    data = copy.deepcopy(BASE)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return data


def scenario_file(tmp_path: Path, data) -> Path:
    path = tmp_path / "case.yaml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


# (id, scenario (dict, YAML text or bytes), extra args, parts of the one message)
ISSUE_CASES = [
    ("inf-arrival-rate", with_("workload.classes.0.arrival_rate_per_h", math.inf), [],
     ["workload.classes[0].arrival_rate_per_h", "finite"]),
    ("inf-failure-rate", {**BASE, "failures": {"rate_per_1000_node_days": math.inf}}, [],
     ["failures.rate_per_1000_node_days", "finite"]),
    ("inf-gpu-speed", {**BASE, "supply": {"gpu_types": {"A100": {"speed": math.inf}}}}, [],
     ["supply.gpu_types.A100.speed", "finite"]),
    ("inf-rps-per-replica", {**BASE, "services": [{**SERVICE, "rps_per_replica": math.inf}]}, [],
     ["services[0].rps_per_replica", "finite"]),
    ("inf-base-rps", {**BASE, "services": [{**SERVICE, "demand": {"base_rps": math.inf}}]}, [],
     ["services[0].demand.base_rps", "finite"]),
    ("inf-weekend-factor", {**BASE, "services": [{**SERVICE, "demand": {"base_rps": 1, "weekend_factor": math.inf}}]},
     [], ["services[0].demand.weekend_factor", "finite"]),
    ("utf-16", yaml.safe_dump(BASE).encode("utf-16"), [], ["UTF-16", "save it as UTF-8"]),
    ("latin-1", (yaml.safe_dump(BASE) + "# café\n").encode("latin-1"), [], ["line ", "not UTF-8"]),
    ("binary", b"\x00\x01\x02\xff\xfe", [], ["not UTF-8"]),
    ("deep-nesting", "name: x\nhorizon: " + "[" * 3000 + "]" * 3000 + "\n", [], ["line 2", "nested more than 64"]),
    ("set-unparsable", BASE, ["--set", "cluster.nodes=[1,2"], ["--set cluster.nodes=[1,2", "not valid YAML"]),
    ("set-python-tag", BASE, ["--set", "cluster.nodes=!!python/object:os.system {}"],
     ["--set cluster.nodes=", "!!python/object:os.system' is not read"]),
    ("nodes-a-trillion", with_("cluster.nodes", 10**12), [], ["cluster.nodes", "1,000,000,000,000 nodes", "at most 1,000,000"]),
    ("duplicate-key", yaml.safe_dump(BASE, sort_keys=False) + "horizon: 1d\n", [],
     ["line 14", "key 'horizon' is given twice (first on line 2)"]),
    ("nodes-true", yaml.safe_dump(BASE, sort_keys=False).replace("nodes: 2", "nodes: true"), [],
     ["cluster.nodes", "got true"]),
    ("nodes-hex", yaml.safe_dump(BASE, sort_keys=False).replace("nodes: 2", "nodes: 0x10"), [],
     ["cluster.nodes", "'0x10'", "decimal"]),
    ("replicas-overflow", {**BASE, "services": [{**SERVICE, "rps_per_replica": 1e-300, "demand": {"base_rps": 1e300}}]},
     [], ["services[0].demand.base_rps", "replicas", "at most 1,000,000"]),
    ("name-dotdot", with_("name", "../../../somewhere"), [], ["name", "a name, not a path"]),
    ("name-absolute", with_("name", "/tmp/elsewhere"), [], ["name", "a name, not a path"]),
    ("bad-date", yaml.safe_dump(BASE, sort_keys=False) + "supply: {start_date: 2023-02-30}\n", [],
     ["line 14", "2023-02-30"]),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("scenario", "args", "parts"), [c[1:] for c in ISSUE_CASES], ids=[c[0] for c in ISSUE_CASES])
def test_each_case_of_the_issue_is_one_clean_error(tmp_path, command, scenario, args, parts):
    path = scenario_file(tmp_path, scenario)
    out = ["--out", tmp_path / "out", "--no-report"] if command == "run" else []
    result = invoke(command, path, *out, *args)
    one_clean_error(result, path.name, *parts)
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize(
    ("content", "parts"),
    [(None, ["d.txt", "is a directory"]), (b"", ["d.txt", "no values"]), (b"60\ninf\n", ["d.txt:2", "got 'inf'"])],
    ids=["directory", "empty", "non-finite"],
)
def test_a_bad_empirical_file_is_one_clean_error(tmp_path, content, parts):
    if content is None:
        (tmp_path / "d.txt").mkdir()
    else:
        (tmp_path / "d.txt").write_bytes(content)
    path = scenario_file(tmp_path, with_("workload.classes.0.duration", {"kind": "empirical", "file": "d.txt"}))
    one_clean_error(invoke("run", path, "--out", tmp_path / "out", "--no-report"), "workload.classes[0].duration", *parts)


def test_the_cases_in_a_real_process_have_no_traceback(tmp_path, python):
    for i, case in enumerate(c for c in ISSUE_CASES if c[0] in ("inf-arrival-rate", "utf-16", "set-python-tag")):
        folder = tmp_path / str(i)
        folder.mkdir()
        path = scenario_file(folder, case[1])
        proc = subprocess.run(
            [python, "-m", "clustersim", "run", str(path), "--out", str(folder / "out"), "--no-report", *case[2]],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=120,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.count("error:") == 1 and proc.stdout == ""


# ------------------------------------------------------------------------------ bugs


def test_a_bug_shows_its_traceback_and_asks_for_a_report(tmp_path, monkeypatch):
    import clustersim.engine.core as core

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(core, "simulate", broken)
    result = invoke("run", SMALL, "--out", tmp_path / "out", "--no-report")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "ZeroDivisionError: a bug" in result.stderr
    assert BUG_LINE in result.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


def test_the_console_script_reports_a_bug_that_escapes_a_command(monkeypatch, capsys):
    from clustersim.cli import app as cli_app

    def broken():
        raise RuntimeError("escaped")

    monkeypatch.setattr(cli_app, "app", broken)
    with pytest.raises(SystemExit) as info:
        cli_app.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "RuntimeError: escaped" in err and BUG_LINE in err


# ------------------------------------------------------------------------------ output folder


def test_the_default_output_folder_is_reports_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = scenario_file(tmp_path, with_("name", "plain"))
    result = invoke("run", path, "--no-report")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "plain" / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml", "reports"]


def test_a_name_cannot_lead_the_output_outside_reports(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = scenario_file(work, with_("name", "../../escaped"))
    one_clean_error(invoke("run", path, "--no-report"), "name")
    override = invoke("run", scenario_file(work, BASE), "--no-report", "--set", "name=../escaped")
    one_clean_error(override, "name", "a name, not a path")
    assert not (tmp_path / "escaped").exists() and not (work / "reports").exists()


def test_an_output_folder_that_is_a_file_is_one_clean_error(tmp_path):
    (tmp_path / "taken").write_text("x")
    one_clean_error(invoke("run", SMALL, "--out", tmp_path / "taken", "--no-report"), "taken", "is a file")
    one_clean_error(invoke("run", SMALL, "--out", tmp_path / "taken" / "below", "--no-report"), "taken")


# ------------------------------------------------------------------------------ complete runs


def test_a_run_killed_midway_leaves_no_summary_and_report_says_incomplete(tmp_path, monkeypatch):
    from clustersim.results import rundir

    out = tmp_path / "run"
    assert invoke("run", SMALL, "--out", out, "--no-report", "--set", "horizon=6h", "--set", "warmup=0s").exit_code == 0
    assert (out / "summary.json").is_file()
    real = rundir.write_frame

    def killed(path, frame):
        if Path(path).name == "timeseries.parquet":
            raise KeyboardInterrupt  # the run is stopped while it writes its tables
        real(path, frame)

    monkeypatch.setattr(rundir, "write_frame", killed)
    result = invoke("run", SMALL, "--out", out, "--no-report", "--set", "horizon=6h", "--set", "warmup=0s")
    assert result.exit_code == 130
    assert not (out / "summary.json").exists()  # the earlier run's summary went first
    assert not (out / "timeseries.parquet").exists() and not list(out.glob(".*.tmp"))
    monkeypatch.undo()
    one_clean_error(invoke("report", out), str(out), "incomplete run", "summary.json")


def test_rejected_rows_are_written_before_the_summary(tmp_path, monkeypatch):
    from clustersim.results import rundir

    trace = tmp_path / "jobs.csv"
    trace.write_text("job_id,submit_s,num_gpus,duration_s\na,0,1,60\nb,10,1e20,60\nc,20,1,1e20\n")
    order = []
    real = rundir.atomic_write

    def recording(path, write):
        order.append(Path(path).name)
        real(path, write)

    monkeypatch.setattr(rundir, "atomic_write", recording)
    out = tmp_path / "out"
    result = invoke("replay", trace, "--nodes", "1", "--no-report", "--out", out)
    assert result.exit_code == 0, result.output
    assert order[-1] == "summary.json" and "rejected_rows.csv" in order
    rejected = pd.read_csv(out / "rejected_rows.csv")
    assert rejected["line"].tolist() == [3, 4]
    assert "num_gpus out of range" in rejected["reason"][0] and "duration_s out of range" in rejected["reason"][1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trace"]["rows_used"] == 1 and summary["jobs"]["submitted"] == 1
