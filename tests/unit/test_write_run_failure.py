"""A run directory whose table cannot be written: a clear error naming the folder, and no
summary (the mark of a complete run) left behind; the tables written in parallel are whole."""

from __future__ import annotations

import pandas as pd
import pytest

from clustersim.errors import ClusterSimError
from clustersim.results.result import RunResult
from clustersim.results.rundir import write_run


def result() -> RunResult:
    jobs = pd.DataFrame({"job_id": ["a", "b"], "num_gpus": [1, 8]})
    ts = pd.DataFrame({"t_s": [0.0, 1.0], "busy_gpus": [0, 8]})
    events = pd.DataFrame({"t_s": pd.Series([], dtype=float)})
    return RunResult(None, 0, jobs, ts, events, {"jobs": {"submitted": 2}})


def test_a_table_that_cannot_be_written_is_an_error_and_no_summary(tmp_path):
    (tmp_path / "jobs.parquet").mkdir()  # a folder where the job table should go
    with pytest.raises(ClusterSimError, match="cannot write results"):
        write_run(tmp_path, result())
    assert not (tmp_path / "summary.json").exists()
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_all_tables_and_then_the_summary(tmp_path):
    write_run(tmp_path, result())
    assert pd.read_parquet(tmp_path / "jobs.parquet")["num_gpus"].tolist() == [1, 8]
    assert pd.read_parquet(tmp_path / "timeseries.parquet")["busy_gpus"].tolist() == [0, 8]
    assert (tmp_path / "summary.json").is_file()
