"""A recorded start before the submit (issue 16) is a rejected row, ``start before submit``: the
job cannot have run then, so neither its recorded wait (negative) nor a run time counted from
that start (Alibaba's ``scheduled_time: -1`` once made a pod created on day 100 run for 100
days) can be trusted. The consistent rows beside it are kept untouched, and a job that ends
before it starts is still ``negative duration``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clustersim.workload import load_any

DAY100 = 100 * 86400


def _date(s: float) -> str:
    return (datetime(2020, 5, 1, tzinfo=UTC) + timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S")


def _trace(folder: Path, fmt: str, jobs: list[tuple[float, float, float]]) -> Path:
    """One 8-GPU job per (submit, start, end), in seconds (after 2020-05-01 for dated formats)."""
    if fmt == "alibaba2023":
        path = folder / "openb_pod_list_x.csv"
        path.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                        "deletion_time,scheduled_time\n" + "".join(
                            f"p{i},1000,1024,8,1000,,LS,Succeeded,{s},{e},{b}\n" for i, (s, b, e) in enumerate(jobs)))
    elif fmt == "pai2020":
        (folder / "pai_task_table.csv").write_text("".join(
            f"j{i},worker,1.0,Terminated,{b},{e},600,29,800,MISC\n" for i, (s, b, e) in enumerate(jobs)))
        path = folder / "pai_job_table.csv"
        path.write_text("".join(f"j{i},inst,u,Terminated,{s},{e}\n" for i, (s, b, e) in enumerate(jobs)))
    elif fmt == "helios":
        path = folder / "cluster_log.csv"
        path.write_text("job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,"
                        "queue\n" + "".join(f"j{i},u,vc,8,6,1,COMPLETED,{_date(s)},{_date(b)},{_date(e)},0,0\n"
                                            for i, (s, b, e) in enumerate(jobs)))
    elif fmt == "acme":
        path = folder / "trace_seren.csv"
        path.write_text("job_id,user,node_num,gpu_num,cpu_num,type,state,submit_time,start_time,end_time,duration,"
                        "queue,gpu_time\n" + "".join(f"j{i},u,1,8,8,SFT,COMPLETED,{_date(s)},{_date(b)},{_date(e)},"
                                                     "0,0,1\n" for i, (s, b, e) in enumerate(jobs)))
    elif fmt == "philly":
        path = folder / "cluster_job_log"
        path.write_text(json.dumps([
            {"jobid": f"j{i}", "user": "u", "vc": "vc", "status": "Pass", "submitted_time": _date(s),
             "attempts": [{"start_time": _date(b), "end_time": _date(e),
                           "detail": [{"ip": "m1", "gpus": [f"gpu{g}" for g in range(8)]}]}]}
            for i, (s, b, e) in enumerate(jobs)]))
    else:
        raise ValueError(fmt)
    return path


FORMATS = ["alibaba2023", "pai2020", "helios", "acme", "philly"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_start_before_the_submit_is_rejected_and_the_rest_kept(tmp_path, fmt):
    good = (DAY100, DAY100 + 60, DAY100 + 3660)
    skewed = (DAY100 + 600, DAY100 + 500, DAY100 + 4200)  # started 100 s "before" its submit
    trace = load_any(_trace(tmp_path, fmt, [good, skewed, good]), fmt)
    assert trace.rejected["reason"].tolist() == ["start before submit"]
    assert len(trace.jobs) == 2
    assert trace.jobs["duration_s"].tolist() == [3600, 3600]  # consistent rows untouched
    assert (trace.jobs["recorded_start_s"] - trace.jobs["submit_s"]).tolist() == [60, 60]
    assert any("start before submit (1)" in n for n in trace.notes)


def test_alibaba_scheduled_time_minus_one_is_not_a_run_from_time_zero(tmp_path):
    path = _trace(tmp_path, "alibaba2023", [(DAY100, DAY100 + 60, DAY100 + 3660), (DAY100, -1, DAY100 + 7200)])
    trace = load_any(path, "alibaba2023")
    assert trace.jobs["duration_s"].tolist() == [3600]  # not a pod running DAY100 + 7201 s
    assert trace.rejected["reason"].tolist() == ["start before submit"]
    assert trace.rejected["line"].tolist() == [3]


@pytest.mark.parametrize("fmt", ["alibaba2023", "pai2020", "helios", "acme"])
def test_a_job_that_ends_before_it_starts_is_a_negative_duration(tmp_path, fmt):
    good = (DAY100, DAY100 + 60, DAY100 + 3660)
    backwards = (DAY100 + 100, DAY100 + 900, DAY100 + 200)
    early = (DAY100 + 9000, DAY100 + 100, DAY100 + 200)  # whole run before its submit
    trace = load_any(_trace(tmp_path, fmt, [good, backwards, early]), fmt)
    assert len(trace.jobs) == 1 and trace.jobs["duration_s"].tolist() == [3600]
    assert trace.rejected["reason"].tolist() == ["negative duration", "start before submit"]


def test_philly_a_first_attempt_before_the_submit_is_rejected(tmp_path):
    path = tmp_path / "cluster_job_log"
    attempts = [(DAY100 - 500, DAY100 - 100), (DAY100 - 50, DAY100 + 1000), (DAY100 + 2000, DAY100 + 3000)]
    path.write_text(json.dumps([{
        "jobid": "j", "user": "u", "vc": "vc", "status": "Pass", "submitted_time": _date(DAY100),
        "attempts": [{"start_time": _date(b), "end_time": _date(e), "detail": [{"ip": "m", "gpus": ["gpu0"]}]}
                     for b, e in attempts]}]))
    trace = load_any(path, "philly")
    assert len(trace.jobs) == 0 and trace.rejected["reason"].tolist() == ["start before submit"]


def test_philly_attempts_after_the_submit_add_up(tmp_path):
    path = tmp_path / "cluster_job_log"
    attempts = [(DAY100 + 50, DAY100 + 1000), (DAY100 + 2000, DAY100 + 3000)]
    path.write_text(json.dumps([{
        "jobid": "j", "user": "u", "vc": "vc", "status": "Pass", "submitted_time": _date(DAY100),
        "attempts": [{"start_time": _date(b), "end_time": _date(e), "detail": [{"ip": "m", "gpus": ["gpu0"]}]}
                     for b, e in attempts]}]))
    trace = load_any(path, "philly")
    assert trace.jobs["duration_s"].tolist() == [1950.0]  # 950 + 1000, the re-queue gap left out
    assert trace.jobs["recorded_start_s"].tolist() == [50.0]  # shifted: submit at 0
