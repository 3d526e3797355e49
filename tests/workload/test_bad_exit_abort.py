"""The trace readers hand Arrow's threaded CSV reader nothing that holds a Python object.

Found by the issue-16 edge-case script: about one `clustersim validate`/`run`/`replay` of a
trace in 10-100 (more on a loaded machine) printed its result or its one error line and then
aborted with "terminate called without an active exception" (exit code 134 instead of 0 or 2).
The threaded reader released its input, a buffer wrapping the Python ``bytes`` (and the Python
``invalid_row_handler``), on an Arrow worker thread after ``read_csv`` had returned; that thread
took the GIL while the interpreter was exiting and was torn down mid-release (core dump: the
worker in ``arrow::py::PyBuffer::~PyBuffer`` -> ``PyGILState_Ensure`` -> ``pthread_exit``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pcsv

from clustersim.workload import load_any
from clustersim.workload.adapters import tables


def test_the_csv_reader_gets_an_arrow_owned_buffer_and_no_python_callback(tmp_path, monkeypatch):
    seen = {}
    real_reader, real_read = pa.BufferReader, pcsv.read_csv

    def reader(source):
        seen["source"] = source
        return real_reader(source)

    def read_csv(source, *args, parse_options=None, **kwargs):
        seen["handler"] = getattr(parse_options, "invalid_row_handler", None)
        return real_read(source, *args, parse_options=parse_options, **kwargs)

    monkeypatch.setattr(pa, "BufferReader", reader)
    monkeypatch.setattr(pcsv, "read_csv", read_csv)
    path = tmp_path / "cluster01.csv"
    path.write_text("job_id,submission_time,duration,num_gpu\na,0,60,1\nb,10,60,8\n")
    trace = load_any(path, "itp")
    assert len(trace.jobs) == 2
    source = seen["source"]
    # Arrow's own memory (a buffer over Python bytes, pa.py_buffer, is read-only)
    assert isinstance(source, pa.Buffer) and source.is_mutable, "a buffer wrapping a Python object"
    assert seen["handler"] is None


def test_an_arrow_owned_copy_holds_the_same_bytes():
    for data in (b"", b"a,b\n1,2\n", bytes(range(256)) * 100):
        buf = tables._arrow_owned(data)
        assert buf.to_pybytes() == data and buf.is_mutable and not pa.py_buffer(data).is_mutable


def test_irregular_rows_still_take_the_exact_path(tmp_path):
    path = tmp_path / "cluster01.csv"
    path.write_text("job_id,submission_time,duration,num_gpu\na,0,60,1\nb,10,60\nc,20,60,8,extra\nd,30,60,2\n")
    trace = load_any(path, "itp")
    assert trace.jobs["job_id"].tolist() == ["a", "d"]
    assert trace.rejected["line"].tolist() == [3, 4]
    assert set(trace.rejected["reason"]) == {"wrong number of fields"}
