"""A trace's ``priority`` column (native format): read (fast and careful paths, CSV and
Parquet), bad values refused with their line, and the priority used by tenancy, overriding the
job's class priority only where the cell is given."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.errors import TraceError
from clustersim.workload import read_native, trace_jobs

HEADER = "job_id,submit_s,num_gpus,duration_s,job_class,priority\n"
# Two GPUs (2 nodes x 1 GPU). lo1 (class batch, no priority given: the class's 2) and lo2 (class
# batch, priority 1 from the trace) run from 0; hi (priority 5) arrives at 10 and preempts the
# lowest-priority preemptible job: lo2, only if the trace's 1 overrides the class's 2 (with the
# class's 2 for both, the victim order, newest then submission order, would pick lo1).
HAND = HEADER + "lo1,0,1,100,batch,\nlo2,0,1,100,batch,1\nhi,10,1,50,batch,5\n"


def test_the_fast_and_careful_paths_read_the_same_priorities(tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_text(HAND)
    fast, rejected = read_native(clean)
    assert len(rejected) == 0
    # a bad row elsewhere sends the file down the careful path (non-strict)
    careful_csv = tmp_path / "careful.csv"
    careful_csv.write_text(HAND + "bad,x,1,1,batch,3\n")
    careful, rejected = read_native(careful_csv, strict=False)
    assert rejected["line"].tolist() == [5]
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"job_id": ["lo1", "lo2", "hi"], "submit_s": [0.0, 0.0, 10.0], "num_gpus": [1, 1, 1],
                  "duration_s": [100.0, 100.0, 50.0], "job_class": ["batch"] * 3,
                  "priority": pd.array([None, 1, 5], dtype="Int64")}).to_parquet(pq)
    parquet, _ = read_native(pq)
    for frame in (fast, careful, parquet):
        assert frame["job_id"].tolist() == ["lo1", "lo2", "hi"]
        p = frame["priority"].to_numpy(float)
        assert np.isnan(p[0]) and p[1:].tolist() == [1.0, 5.0]
        specs = list(trace_jobs(frame))
        assert [s.priority for s in specs] == [None, 1, 5]
        assert specs[2].job_class == "batch" and specs[2].num_gpus == 1  # still a JobSpec's fields


def test_a_trace_without_the_column_gives_plain_jobspecs(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("job_id,submit_s,num_gpus,duration_s\na,0,1,10\n")
    frame, _ = read_native(csv)
    assert "priority" not in frame
    (spec,) = trace_jobs(frame)
    assert not hasattr(spec, "priority")


@pytest.mark.parametrize(
    ("value", "reason"),
    [("high", "priority must be a whole number"), ("1.5", "priority must be a whole number"),
     ("inf", "priority must be a whole number"), ("3000000000", "priority out of range")],
)
def test_a_bad_priority_names_its_line_or_is_a_rejected_row(tmp_path, value, reason):
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + f"a,0,1,10,batch,2\nb,1,1,10,batch,{value}\nc,2,1,10,batch,-7\n")
    with pytest.raises(TraceError) as err:
        read_native(csv)
    assert err.value.line == 3 and reason in str(err.value)
    frame, rejected = read_native(csv, strict=False)
    assert frame["job_id"].tolist() == ["a", "c"] and frame["priority"].tolist() == [2.0, -7.0]
    assert rejected["line"].tolist() == [3] and rejected["reason"].str.startswith(reason).all()


def _scenario(tmp_path, **tenancy) -> str:
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump({
        "name": "trace-priority",
        "cluster": {"nodes": 2, "gpus_per_node": 1},
        "scheduler": {"policy": "fifo"},
        "inference": {"trace_preemptible": True},
        "tenancy": {"priority": {"classes": {"batch": 2}, "default": 0}, **tenancy},
    }))
    return str(path)


def test_a_high_priority_trace_job_preempts_the_lowest_priority_one(tmp_path):
    csv = tmp_path / "hand.csv"
    csv.write_text(HAND)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["replay", str(csv), "--scenario", _scenario(tmp_path), "--horizon", "1000s",
                                   "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    jobs = pd.read_parquet(out / "jobs.parquet").set_index("job_id")
    assert jobs["priority"].to_dict() == {"lo1": 2, "lo2": 1, "hi": 5}
    # hi preempts lo2 at 10 and ends at 60; lo2 (no checkpoint) lost its 10 s, reruns 60 -> 160
    assert jobs.loc["hi", "start_s"] == 10 and jobs.loc["hi", "end_s"] == 60
    assert jobs.loc["lo2", "end_s"] == 160 and jobs.loc["lo2", "priority_preemptions"] == 1
    assert jobs.loc["lo2", "priority_lost_gpu_s"] == 10
    assert jobs.loc["lo1", "end_s"] == 100 and jobs.loc["lo1", "priority_preemptions"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == 3


def test_a_bad_priority_stops_a_run_with_the_file_and_line(tmp_path):
    csv = tmp_path / "hand.csv"
    csv.write_text(HAND.replace("hi,10,1,50,batch,5", "hi,10,1,50,batch,urgent"))
    res = CliRunner().invoke(app, ["replay", str(csv), "--scenario", _scenario(tmp_path), "--strict",
                                   "--out", str(tmp_path / "run"), "--no-report"])
    assert res.exit_code == 2
    assert f"{csv}:4" in res.output and "priority must be a whole number" in res.output
    assert "Traceback" not in res.output
