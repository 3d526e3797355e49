"""The compact job log: plain and non-plain rows come back as the exact columns of each job."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from clustersim.results.recorder import JobLog, Recorder


def job(seq, gpus, submit, duration, *, start=None, end=None, cls="a", reason="", pool=0, request="any",
        remaining=0.0, restarts=0, lost=0.0, overhead=0.0, lost_gpu=0.0, overhead_gpu=0.0, work_fast=0.0,
        wall_fast=0.0, job_id=None):
    spec = SimpleNamespace(num_gpus=gpus, submit_s=submit, duration_s=duration, job_class=cls, job_id=job_id)
    return SimpleNamespace(spec=spec, seq=seq, start_s=start, end_s=end, reason=reason, pool=pool,
                           request=request, remaining_s=remaining, restarts=restarts, lost_s=lost,
                           overhead_s=overhead, lost_gpu_s=lost_gpu, overhead_gpu_s=overhead_gpu,
                           work_fast=work_fast, wall_fast=wall_fast)


def test_rows_in_submission_order_with_exact_values():
    log = JobLog(["A", "B"])
    # finished out of order; seq 1 plain, seq 0 restarted once with losses, seq 2 queued at
    # the horizon (work left), seq 3 rejected, seq 4 ran on a fast pool
    log.add(job(1, 8, 10.0, 100.0, start=20.0, end=120.0, pool=1), "finished")
    log.add(job(0, 1, 5.0, 50.0, start=6.0, end=80.0, restarts=1, lost=7.5, overhead=3.0, lost_gpu=7.5,
                overhead_gpu=3.0, cls="b"), "finished")
    log.add(job(3, 3, 12.0, 40.0, reason="not a multiple", pool=-1, remaining=40.0), "rejected")
    log.add(job(4, 8, 13.0, 90.0, start=14.0, end=59.0, work_fast=90.0, wall_fast=45.0, request="B"), "finished")
    log.add(job(2, 16, 11.0, 30.0, pool=-1, remaining=30.0), "queued")
    f = log.frame()
    assert f["job_id"].tolist() == ["0", "1", "2", "3", "4"]
    assert f["job_class"].tolist() == ["b", "a", "a", "a", "a"]
    assert f["num_gpus"].tolist() == [1, 8, 16, 3, 8]
    assert f["state"].tolist() == ["finished", "finished", "queued", "rejected", "finished"]
    assert f["reason"].tolist() == ["", "", "", "not a multiple", ""]
    assert f["restarts"].tolist() == [1, 0, 0, 0, 0]
    assert f["work_done_s"].tolist() == [50.0, 100.0, 0.0, 0.0, 90.0]
    assert f["lost_s"].tolist() == [7.5, 0.0, 0.0, 0.0, 0.0]
    assert f["overhead_gpu_s"].tolist() == [3.0, 0.0, 0.0, 0.0, 0.0]
    assert f["useful_s"].tolist() == [50.0, 100.0, 0.0, 0.0, 45.0]  # fast pool: 90 s of work in 45 s
    assert f["gpu_request"].tolist() == ["any", "any", "any", "any", "B"]
    assert f["gpu_type"].tolist() == ["A", "B", "", "", "A"]
    assert f["wait_s"].tolist()[:2] == [1.0, 10.0] and math.isnan(f["wait_s"].iloc[2])
    assert f["num_gpus"].dtype == np.int64 and f["restarts"].dtype == np.int64


def test_own_job_ids_kept():
    log = JobLog()
    log.add(job(1, 1, 1.0, 2.0, start=1.0, end=3.0, job_id="x"), "finished")
    log.add(job(0, 1, 0.0, 2.0, start=0.0, end=2.0), "finished")
    assert log.frame()["job_id"].tolist() == ["0", "x"]


def test_recorder_frame_shares_the_recorded_rows():
    rec = Recorder()
    rec.level(0.0, 0, 8, 0, 0, 0)
    rec.level(1.0, 4, 8, 1, 0, 0)
    rec.level(1.0, 4, 8, 1, 2, 16)  # same instant: replaces the row
    rec.level(2.0, 0, 8, 0, 0, 0)
    f = rec.frame()
    assert f["t_s"].tolist() == [0.0, 1.0, 2.0]
    assert f["busy_gpus"].tolist() == [0, 4, 0]
    assert f["queued_gpus"].tolist() == [0, 16, 0]
    assert list(f.columns)[:3] == ["t_s", "busy_gpus", "up_gpus"]
    assert f["busy_gpus"].dtype == np.int64
