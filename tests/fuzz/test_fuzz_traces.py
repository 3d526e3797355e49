"""Fuzzing the trace readers (all eight formats) and `clustersim replay`.

Every mutated trace is read by ``load_any`` (lenient and strict): it either raises a
``ClusterSimError`` naming the file, or returns jobs that are all plausible (GPU counts 1 to
1,000,000, finite durations of at most 10 years, finite submit times from 0, a recorded start
that is NaN or not before the submit), every other row being in ``rejected`` with a reason.
Some cases are also replayed through the command line: exit 0 or 2, no traceback, finite
numbers in every output file.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from fuzzing import check_outputs, count, invoke, profile, time_limit
from hypothesis import given
from hypothesis import strategies as st
from trace_cases import FORMATS, trace_case

from clustersim.errors import ClusterSimError
from clustersim.workload import load_any
from clustersim.workload.adapters import NATIVE_COLUMNS

MAX_GPUS = 1_000_000
MAX_DURATION_S = 10 * 365 * 86400.0
MAX_SPAN_S = 2 * 4_102_444_800.0  # numeric times within +-4,102,444,800 s, shifted to start at 0


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


def check_trace(trace) -> None:
    jobs, rejected = trace.jobs, trace.rejected
    assert set(NATIVE_COLUMNS) - {"recorded_start_s"} <= set(jobs.columns)
    gpus = jobs["num_gpus"].to_numpy()
    assert ((gpus >= 1) & (gpus <= MAX_GPUS)).all(), gpus
    duration = jobs["duration_s"].to_numpy(float)
    assert (np.isfinite(duration) & (duration >= 0) & (duration <= MAX_DURATION_S)).all(), duration
    submit = jobs["submit_s"].to_numpy(float)
    assert (np.isfinite(submit) & (submit >= 0) & (submit <= MAX_SPAN_S)).all(), submit
    start = jobs["recorded_start_s"].to_numpy(float)
    assert (np.isnan(start) | (np.isfinite(start) & (start >= submit))).all(), (start, submit)
    assert jobs["job_id"].astype(str).is_unique
    assert list(rejected.columns) == ["line", "reason", "raw"]
    assert (rejected["reason"].astype(str).str.len() > 0).all()


@pytest.mark.parametrize("fmt", FORMATS)
@profile(short=25, weight=0.065)
@given(data=st.data(), strict=st.booleans(), auto=st.integers(0, 4))
def test_every_mutated_trace_is_read_or_refused_cleanly(fmt, data, strict, auto):
    count(f"trace: {fmt} -> load_any")
    _fmt, files, name = data.draw(trace_case(fmt))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, files)
        with warnings.catch_warnings(record=True) as caught, time_limit():
            warnings.simplefilter("always")
            try:
                trace = load_any(folder / name, "auto" if auto == 0 else fmt, strict=strict)
            except ClusterSimError as err:
                assert str(err), "an error with no message"
                return
        numeric = [w for w in caught if issubclass(w.category, RuntimeWarning) and "encountered" in str(w.message)]
        assert not numeric, [f"{w.filename}:{w.lineno}: {w.message}" for w in numeric]
        check_trace(trace)
        if strict:
            assert len(trace.rejected) == 0


@pytest.mark.parametrize("fmt", FORMATS)
@profile(short=3, weight=0.02)
@given(data=st.data(), nodes=st.sampled_from([None, 1, 4]))
def test_mutated_traces_replay_cleanly(fmt, data, nodes):
    count(f"trace: {fmt} -> replay")
    _fmt, files, name = data.draw(trace_case(fmt))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, files)
        out = folder / "out"
        sizing = [] if nodes is None else ["--nodes", nodes]
        result = invoke("replay", folder / name, "--format", fmt, *sizing, "--no-report", "--out", out)
        if result.exit_code == 0:
            check_outputs(out)
