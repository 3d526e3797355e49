"""A run's tables as numpy columns (``files.Table``) hold what pandas makes of them, and a
report of the core sections never imports pandas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from clustersim.report.files import load_run, read_table

EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "lingang-4000"
RUN_FILES = ("config.json", "summary.json", "jobs.parquet", "timeseries.parquet", "events.parquet")


def assert_same_as_pandas(path: Path, numbers: tuple[str, ...], texts: tuple[str, ...] = ()) -> None:
    """Every column of ``path`` taken straight from Arrow equals the same column of the
    DataFrame the table makes (read a second time, so neither side sees the other)."""
    arrays = read_table(path, numbers, texts)
    frame = read_table(path, numbers, texts).frame()
    for name in numbers + texts:
        mine = arrays.texts(name) if name in texts else arrays.numbers(name)
        theirs = frame[name].to_numpy()
        assert mine.dtype == theirs.dtype, name
        if name in texts:
            assert [repr(v) for v in mine] == [repr(v) for v in theirs], name  # 'nan' != nan
        else:
            np.testing.assert_array_equal(mine, theirs, err_msg=name)


def test_the_example_columns_are_the_same_as_through_pandas():
    assert_same_as_pandas(EXAMPLE / "jobs.parquet", ("num_gpus", "submit_s", "start_s", "wait_s", "duration_s"),
                          ("job_class", "state"))
    assert_same_as_pandas(EXAMPLE / "timeseries.parquet",
                          ("t_s", "busy_gpus", "up_gpus", "queued_jobs", "queued_gpus"))


def test_awkward_columns_are_the_same_as_through_pandas(tmp_path):
    n = 10
    table = pa.table({
        "ints": pa.array(range(n), pa.int32()),
        "ints_missing": pa.array([None if i % 3 == 0 else i for i in range(n)], pa.int64()),
        "flags": pa.array([i % 2 == 0 for i in range(n)]),
        "numeric_text": pa.array(["1.5", "x", "", "7"] + ["2"] * (n - 4)),
        "text": pa.array([f"c{i % 3}" for i in range(n)]),
        "text_missing": pa.array([None if i == 4 else "a" for i in range(n)]),
        "categories": pa.array([f"k{i % 2}" for i in range(n)]).dictionary_encode(),
        "unsigned": pa.array(range(n), pa.uint8()),
        "floats_missing": pa.array([None if i % 4 == 1 else i / 3 for i in range(n)], pa.float64()),
        "small_missing": pa.array([None if i > 6 else -i for i in range(n)], pa.int8()),
        "all_missing": pa.array([None] * n, pa.float64()),  # a replay's recorded waits, say
    })
    path = tmp_path / "awkward.parquet"
    pq.write_table(table, path, row_group_size=4)  # several chunks per column
    assert_same_as_pandas(path, ("ints", "ints_missing", "flags", "numeric_text", "unsigned", "floats_missing",
                                 "small_missing", "all_missing"),
                          ("text", "text_missing", "categories"))


def test_numbers_with_missing_values_from_a_slice_of_an_array():
    from clustersim.report.files import _chunk_numbers

    values = [None if i % 5 == 2 else i * 1.25 for i in range(37)]
    for kind in (pa.float64(), pa.float32()):
        array = pa.array(values, kind)
        for lo, hi in ((0, 37), (3, 30), (9, 10), (11, 37)):  # offsets inside and across bitmap bytes
            got = _chunk_numbers(array.slice(lo, hi - lo))
            want = pd.Series(values[lo:hi], dtype=float).astype(np.dtype(kind.to_pandas_dtype())).astype(float)
            np.testing.assert_array_equal(got, want.to_numpy())


def test_an_unsorted_timeseries_is_sorted_stably_on_both_sides(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in RUN_FILES:
        shutil.copy(EXAMPLE / name, run / name)
    series = pd.read_parquet(run / "timeseries.parquet").iloc[::-1]
    series.to_parquet(run / "timeseries.parquet", index=False)
    loaded = load_run(run)
    t = loaded.series_table.numbers("t_s")
    assert (np.diff(t) >= 0).all()
    expected = series.sort_values("t_s", kind="stable").reset_index(drop=True)
    for name in ("t_s", "busy_gpus", "queued_gpus"):
        np.testing.assert_array_equal(loaded.series_table.numbers(name), expected[name].to_numpy(float))
        np.testing.assert_array_equal(loaded.timeseries[name].to_numpy(float), expected[name].to_numpy(float))


def test_a_report_of_the_core_sections_never_imports_pandas(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in RUN_FILES:
        shutil.copy(EXAMPLE / name, run / name)
    code = ("import sys; from clustersim.report.build import build_report; "
            "build_report(sys.argv[1], workers=0); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert (run / "report.md").read_bytes() == (EXAMPLE / "report.md").read_bytes()
