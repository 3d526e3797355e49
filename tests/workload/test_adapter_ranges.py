"""Trace rows out of any plausible range (issue 16): GPU counts of 1e20 or 1e308, submit times
of 1e308 s or in year 1 or 9999, durations of 1e20 s become rejected rows with a reason, in
every format; the other rows are kept and replayed; a recorded start before the submit is a
rejected row too (``start before submit``), never a negative wait.
"""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.errors import TraceError
from clustersim.workload import load_any
from clustersim.workload.demand import replicas_needed

GOOD = dict(submit=100, start=160, end=3760, gpus=8)
DATES = {"Y1": "0001-01-01 00:00:00", "Y9999": "9999-12-31 00:00:00"}


def _date(seconds: float) -> str:
    from datetime import datetime, timedelta

    return (datetime(2020, 5, 1, tzinfo=UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def _value(v, dates: bool) -> str:
    if isinstance(v, str):
        return v
    return _date(v) if dates else repr(v) if isinstance(v, float) else str(v)


def _gpus(v) -> str:
    return v if isinstance(v, str) else str(v)


def write_trace(folder: Path, fmt: str, jobs: list[dict]) -> Path:
    """A trace of ``fmt`` with one row per job (keys: submit, start, end, gpus; dates for the
    date-based formats are seconds after 2020-05-01 unless given as text)."""
    dated = fmt in ("helios", "acme", "philly")

    def v(j, key):
        return _value(j[key], dated)

    if fmt == "native":
        lines = ["job_id,submit_s,num_gpus,duration_s"] + [
            f"j{i},{v(j, 'submit')},{_gpus(j['gpus'])},{j['end'] - j['start'] if 'duration' not in j else j['duration']}"
            for i, j in enumerate(jobs)]
        path = folder / "jobs.csv"
    elif fmt == "itp":
        lines = ["job_id,submission_time,duration,num_gpu"] + [
            f"j{i},{v(j, 'submit')},{j.get('duration', j['end'] - j['start'])},{_gpus(j['gpus'])}" for i, j in enumerate(jobs)]
        path = folder / "cluster01.csv"
    elif fmt == "alibaba2023":
        lines = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
                 "scheduled_time"] + [
            f"p{i},1000,1024,{_gpus(j['gpus'])},1000,,LS,Succeeded,{v(j, 'submit')},{v(j, 'end')},{v(j, 'start')}"
            for i, j in enumerate(jobs)]
        path = folder / "openb_pod_list_x.csv"
    elif fmt == "helios":
        lines = ["job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue"] + [
            f"j{i},u,vc,{_gpus(j['gpus'])},6,1,COMPLETED,{v(j, 'submit')},{v(j, 'start')},{v(j, 'end')},0,0"
            for i, j in enumerate(jobs)]
        path = folder / "cluster_log.csv"
    elif fmt == "acme":
        lines = ["job_id,user,node_num,gpu_num,cpu_num,type,state,submit_time,start_time,end_time,duration,queue,"
                 "gpu_time"] + [
            f"j{i},u,1,{_gpus(j['gpus'])},8,SFT,COMPLETED,{v(j, 'submit')},{v(j, 'start')},{v(j, 'end')},0,0,1"
            for i, j in enumerate(jobs)]
        path = folder / "trace_seren.csv"
    elif fmt == "swf":
        lines = ["; Version: 2.2"] + [
            f"{i + 1} {v(j, 'submit')} {j['start'] - j['submit'] if not isinstance(j['start'], str) else j['start']} "
            f"{j.get('duration', j['end'] - j['start'] if not isinstance(j['end'], str) else 60)} {_gpus(j['gpus'])} -1 -1 "
            f"{_gpus(j['gpus'])} -1 -1 1 3 1 -1 1 -1 -1 -1"
            for i, j in enumerate(jobs)]
        path = folder / "trace.swf"
    elif fmt == "pai2020":
        (folder / "pai_task_table.csv").write_text("\n".join(
            f"j{i},worker,1.0,Terminated,{v(j, 'start')},{v(j, 'end')},600,29,{_gpu_pct(j['gpus'])},MISC"
            for i, j in enumerate(jobs)) + "\n")
        lines = [f"j{i},inst,u,Terminated,{v(j, 'submit')},{v(j, 'end')}" for i, j in enumerate(jobs)]
        path = folder / "pai_job_table.csv"
    elif fmt == "philly":
        records = [{"jobid": f"j{i}", "user": "u", "vc": "vc", "status": "Pass", "submitted_time": v(j, "submit"),
                    "attempts": [{"start_time": v(j, "start"), "end_time": v(j, "end"),
                                  "detail": [{"ip": "m1", "gpus": [f"gpu{g}" for g in range(int(j["gpus"]))]}]}]}
                   for i, j in enumerate(jobs)]
        path = folder / "cluster_job_log"
        path.write_text(json.dumps(records))
        return path
    else:
        raise ValueError(fmt)
    path.write_text("\n".join(lines) + "\n")
    return path


def _gpu_pct(gpus) -> str:
    return str(gpus) if isinstance(gpus, str) else repr(float(gpus) * 100)


NUMERIC = ["native", "itp", "alibaba2023", "pai2020", "swf"]
DATED = ["helios", "acme", "philly"]
ALL = NUMERIC + DATED


def reasons(trace) -> list[str]:
    return trace.rejected.sort_values("line")["reason"].tolist()


@pytest.mark.parametrize("fmt", [f for f in ALL if f != "philly"])
@pytest.mark.parametrize("gpus", ["1e20", "1e308"])
def test_absurd_gpu_counts_are_rejected_rows(tmp_path, fmt, gpus):
    trace = load_any(write_trace(tmp_path, fmt, [GOOD, {**GOOD, "gpus": gpus}, GOOD]), fmt)
    assert len(trace.jobs) == 2
    assert trace.jobs["num_gpus"].tolist() == [8, 8]
    assert len(trace.rejected) == 1
    reason = trace.rejected["reason"][0]
    assert "out of range" in reason and ("GPU" in reason or "num_gpus" in reason), reason


@pytest.mark.parametrize("fmt", NUMERIC)
@pytest.mark.parametrize("submit", [1e308, -1e308, 1e20])
def test_numeric_submit_times_out_of_range_are_rejected(tmp_path, fmt, submit):
    if fmt == "native" and submit < 0:
        pytest.skip("native refuses negative submit times already")
    bad = {**GOOD, "submit": submit, "start": GOOD["start"], "end": GOOD["end"]}
    if fmt == "swf":
        bad = {**bad, "start": 60 + submit}  # wait stays 60 s
    trace = load_any(write_trace(tmp_path, fmt, [GOOD, bad, GOOD]), fmt)
    assert len(trace.jobs) == 2 and len(trace.rejected) == 1, (trace.jobs, trace.rejected)
    assert "out of range" in trace.rejected["reason"][0] and "submit" in trace.rejected["reason"][0]
    assert trace.jobs["submit_s"].max() < 1e4


@pytest.mark.parametrize("fmt", DATED)
@pytest.mark.parametrize("year", ["Y1", "Y9999"])
def test_dates_in_year_1_and_9999_are_rejected(tmp_path, fmt, year):
    bad = {**GOOD, "submit": DATES[year]}
    trace = load_any(write_trace(tmp_path, fmt, [GOOD, bad, GOOD]), fmt)
    assert len(trace.jobs) == 2 and len(trace.rejected) == 1, trace.rejected
    assert trace.rejected["reason"][0] == "submit time out of range"


@pytest.mark.parametrize("fmt", ALL)
def test_durations_of_1e20_seconds_are_rejected(tmp_path, fmt):
    if fmt in DATED:
        bad = {**GOOD, "end": DATES["Y9999"]}
    elif fmt in ("native", "itp", "swf"):
        bad = {**GOOD, "duration": 1e20}
    else:
        bad = {**GOOD, "end": 1e20 + GOOD["start"]}
    trace = load_any(write_trace(tmp_path, fmt, [GOOD, bad, GOOD]), fmt)
    assert len(trace.jobs) == 2 and len(trace.rejected) == 1, trace.rejected
    reason = trace.rejected["reason"][0]
    assert "out of range" in reason and ("duration" in reason or "end time" in reason), reason
    assert trace.jobs["duration_s"].max() == 3600


@pytest.mark.parametrize("fmt", ["alibaba2023", "pai2020", "helios", "acme", "philly"])
def test_a_recorded_start_before_submit_is_a_rejected_row(tmp_path, fmt):
    early = {**GOOD, "start": GOOD["submit"] - 50, "end": GOOD["submit"] + 3000}
    trace = load_any(write_trace(tmp_path, fmt, [GOOD, early]), fmt)
    assert len(trace.jobs) == 1 and trace.rejected["reason"].tolist() == ["start before submit"]
    assert trace.rejected["line"].tolist() == [3 if fmt not in ("philly", "pai2020") else 2]
    start = trace.jobs["recorded_start_s"].to_numpy()
    assert (start >= trace.jobs["submit_s"].to_numpy()).all()


def test_alibaba_scheduled_time_minus_one_is_a_rejected_row(tmp_path):
    path = write_trace(tmp_path, "alibaba2023", [GOOD, {**GOOD, "start": -1}])
    trace = load_any(path, "alibaba2023")
    assert len(trace.jobs) == 1 and trace.rejected["reason"].tolist() == ["start before submit"]


def test_strict_stops_at_the_first_out_of_range_row_naming_its_line(tmp_path):
    path = write_trace(tmp_path, "itp", [GOOD, {**GOOD, "gpus": "1e20"}])
    with pytest.raises(TraceError, match="GPU count out of range") as info:
        load_any(path, "itp", strict=True)
    assert info.value.line == 3


@pytest.mark.parametrize("fmt", ALL)
def test_replay_rejects_the_bad_rows_and_simulates_the_rest(tmp_path, fmt):
    bad = [{**GOOD, "gpus": "1e308"}, {**GOOD, "submit": DATES["Y9999"] if fmt in DATED else 1e308}]
    path = write_trace(tmp_path, fmt, [GOOD, {**GOOD, "submit": 500, "start": 560, "end": 4160}, *(b for b in bad if fmt != "philly" or b["gpus"] != "1e308")])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["replay", str(path), "--format", fmt, "--nodes", "2", "--no-report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "RuntimeWarning" not in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == 2 and summary["jobs"]["finished"] == 2
    assert summary["trace"]["rows_rejected"] >= 1
    assert summary["horizon_s"] < 86400
    assert "not used" in result.stderr and "out of range" in result.stderr


# ------------------------------------------------------------------------------ replicas


def test_replicas_needed_is_capped_not_overflowed():
    assert replicas_needed(1e300, 1e-300, 0.2, 1, None) == 1_000_000
    assert replicas_needed(math.inf, 1.0, 0.2, 1, None) == 1_000_000
    assert replicas_needed(1e300, 1.0, 0.2, 1, 50) == 50
    assert replicas_needed(100, 10, 0.2, 1, None) == 12


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "request log not found"),
        ("TIMESTAMP\n2023-11-16 18:15:46\nnot a time\n", "log.csv:3: expected a date-time"),
        ("TIMESTAMP\n0001-01-01 00:00:00\n9999-01-01 00:00:00\n", "more than a run can hold"),
        ("OTHER\n1\n", "cannot read a request log"),
    ],
)
def test_a_bad_request_log_is_a_trace_error(tmp_path, content, says):
    from clustersim.config import DemandConfig
    from clustersim.workload.demand import read_log_rates

    path = tmp_path / "log.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TraceError) as info:
        read_log_rates(DemandConfig(trace=path, bin=1))
    assert says in str(info.value), str(info.value)


def test_native_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,submit_s,num_gpus,duration_s\n\na,0,1,60\n\nb,1,1e20,60\n")
    with pytest.raises(TraceError, match="num_gpus out of range") as info:
        load_any(path, "native", strict=True)
    assert info.value.line == 5
