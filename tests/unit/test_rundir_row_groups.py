"""A long table is written slice by slice into row groups (issue 11: memory does not hold a
whole Arrow copy of a 10-million-row table); what pandas reads back is the same table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from clustersim.results import rundir


def _table(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "job_id": pd.array([f"j{i}" for i in range(n)], dtype=pd.StringDtype("pyarrow")),
        "job_class": pd.Categorical.from_codes(np.arange(n) % 3, ["train", "eval", "x"]),
        "start_s": np.where(np.arange(n) % 7 == 0, np.nan, np.arange(n) * 1.5),
        "num_gpus": np.arange(n, dtype=np.int64) % 9 + 1,
    })


def test_row_groups_read_back_as_the_same_table(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "ROW_GROUP", 1000)
    frame = _table(3500)
    rundir.write_frame(tmp_path / "jobs.parquet", frame)
    assert pq.ParquetFile(tmp_path / "jobs.parquet").metadata.num_row_groups == 4
    back = pd.read_parquet(tmp_path / "jobs.parquet")
    pd.testing.assert_frame_equal(back, pd.read_parquet(_whole(frame, tmp_path)))
    assert back["start_s"].isna().sum() == 500 and back["num_gpus"].sum() == frame["num_gpus"].sum()


def test_a_short_table_is_written_as_pandas_writes_it(tmp_path):
    frame = _table(50)
    rundir.write_frame(tmp_path / "jobs.parquet", frame)
    assert (tmp_path / "jobs.parquet").read_bytes() == _whole(frame, tmp_path).read_bytes()


def _whole(frame: pd.DataFrame, folder) -> object:
    path = folder / "whole.parquet"
    frame.to_parquet(path, index=False)
    return path
