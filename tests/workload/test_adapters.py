"""The adapters' public API: errors for unreadable files, auto-detection, containers
(gzip, tarball, folder, cluster selection), CSV details and the shipped ITP traces."""

from __future__ import annotations

import dataclasses
import gzip
import io
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.errors import ClusterSimError, TraceError
from clustersim.workload.adapters import FORMATS, NATIVE_COLUMNS, AdaptedTrace, read_trace

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "traces"
ITP_FIXTURE = DATA / "itp" / "cluster_fixture.csv"


def test_formats_and_result_type():
    assert FORMATS == ("itp", "alibaba2023", "pai2020", "philly", "helios", "acme", "swf")
    trace = read_trace(str(ITP_FIXTURE), "itp")
    assert isinstance(trace, AdaptedTrace)
    assert trace.source == str(ITP_FIXTURE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trace.format = "swf"  # type: ignore[misc]


# ------------------------------------------------------------------------ unreadable files


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no such file") as info:
        read_trace(tmp_path / "nope.csv")
    assert isinstance(info.value, ClusterSimError)


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file(tmp_path, fmt):
    path = tmp_path / "pai_job_table.csv" if fmt == "pai2020" else tmp_path / "empty.csv"
    path.write_text("  \n\n")
    if fmt == "pai2020":
        (tmp_path / "pai_task_table.csv").write_text("")
    with pytest.raises(TraceError, match="empty file"):
        read_trace(path, fmt)


def test_unknown_format_lists_formats():
    with pytest.raises(TraceError, match="unknown trace format 'csv'; known: auto, itp, "):
        read_trace(ITP_FIXTURE, "csv")


def test_undetectable_file_lists_formats(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, world\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert "cannot tell the trace format" in str(info.value)
    assert ", ".join(FORMATS) in str(info.value)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"job_id,submission_time,duration,num_gpu\nj1,1,2,3\nj\xff,1,2,3\n")
    with pytest.raises(TraceError, match="not UTF-8") as info:
        read_trace(path, "itp")
    assert info.value.line == 3


def test_wrong_format_for_file_is_a_trace_error():
    with pytest.raises(TraceError, match="missing required column 'job_id'"):
        read_trace(DATA / "swf" / "fixture.swf", "itp")
    with pytest.raises(TraceError, match="not JSON"):
        read_trace(ITP_FIXTURE, "philly")


def test_cluster_refused_for_single_cluster_formats():
    with pytest.raises(TraceError, match="one cluster per file"):
        read_trace(DATA / "swf" / "fixture.swf", "swf", cluster="x")


# ---------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("itp/cluster_fixture.csv", "itp"),
        ("itp/malformed.csv", "itp"),
        ("alibaba2023/openb_pod_list_excerpt.csv", "alibaba2023"),
        ("pai2020", "pai2020"),
        ("pai2020/pai_job_table.csv", "pai2020"),
        ("philly/cluster_job_log", "philly"),
        ("philly/malformed.jsonl", "philly"),
        ("helios/Venus/cluster_log.csv", "helios"),
        ("helios/malformed_cluster_log.csv", "helios"),
        ("acme/trace_kalos.csv", "acme"),
        ("acme/malformed_trace.csv", "acme"),
        ("swf/fixture.swf", "swf"),
    ],
)
def test_auto_detection(path, expected):
    trace = read_trace(DATA / path)
    assert trace.format == expected
    assert trace.notes[0] == f"format detected automatically: {expected}"


def test_auto_detection_by_content_alone(tmp_path):
    """Renamed files are still recognised from their first line."""
    copies = {
        "pai2020/pai_job_table.csv": "pai2020",
        "swf/malformed.swf": None,  # starts with ';' -> swf
        "philly/cluster_job_log": "philly",
    }
    for src, fmt in copies.items():
        dst = tmp_path / "renamed.dat"
        shutil.copy(DATA / src, dst)
        from clustersim.workload.adapters.detect import detect

        assert detect(dst, FORMATS) == (fmt or "swf")
    dst = tmp_path / "jobs.log"
    dst.write_text((DATA / "swf" / "fixture.swf").read_text().split(";\n")[-1])
    assert read_trace(dst).format == "swf"  # no comment header: 18 numbers per line


def test_auto_detection_of_folders():
    assert read_trace(DATA / "helios", cluster="Earth").format == "helios"
    assert read_trace(DATA / "acme", cluster="seren").format == "acme"
    assert read_trace(ROOT / "workloads" / "itp", cluster="cluster10").format == "itp"


# ---------------------------------------------------------------------------- containers


def _itp_tarball(tmp_path: Path) -> Path:
    path = tmp_path / "raw-traces.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {
            "cluster01.csv": ITP_FIXTURE.read_text(),
            "cluster02.csv": "job_id,submission_time,duration,num_gpu\nx,5,10,2\n",
            "LICENSE": "MIT",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_itp_tarball_member_by_cluster(tmp_path):
    path = _itp_tarball(tmp_path)
    trace = read_trace(path, cluster="cluster02")
    assert trace.format == "itp"
    assert trace.source == f"{path}[cluster02.csv]"
    assert trace.jobs["job_id"].tolist() == ["x"]
    assert len(read_trace(path, "itp", cluster="cluster01.csv").jobs) == 4
    with pytest.raises(TraceError, match="choose one with cluster=: cluster01, cluster02"):
        read_trace(path, "itp")
    with pytest.raises(TraceError, match="no cluster named 'cluster99'"):
        read_trace(path, "itp", cluster="cluster99")


def test_gzip_file_and_cluster_check(tmp_path):
    path = tmp_path / "cluster07.csv.gz"
    path.write_bytes(gzip.compress(ITP_FIXTURE.read_bytes()))
    trace = read_trace(path)
    plain = read_trace(ITP_FIXTURE)
    assert trace.jobs.equals(plain.jobs)
    assert len(read_trace(path, cluster="cluster07").jobs) == 4
    with pytest.raises(TraceError, match="no cluster named 'cluster08'"):
        read_trace(path, cluster="cluster08")


def test_shipped_itp_traces():
    folder = ROOT / "workloads" / "itp"
    assert (folder / "LICENSE").read_text().strip().startswith("MIT License")
    total = 0
    gpu_hours = 0.0
    for i in range(1, 11):
        trace = read_trace(folder, "itp", cluster=f"cluster{i:02d}")
        assert trace.rejected.empty
        total += len(trace.jobs)
        gpu_hours += float((trace.jobs["num_gpus"] * trace.jobs["duration_s"]).sum()) / 3600
    # the upstream README: 69,351 jobs and 1,632,719.7 GPU hours over the 10 clusters
    assert total == 69351
    assert gpu_hours == pytest.approx(1632719.7, abs=0.1)


# ---------------------------------------------------------------------------- CSV details


def test_crlf_bom_quotes_and_blank_lines(tmp_path):
    path = tmp_path / "quoted.csv"
    text = (
        '\ufeffjob_id,submission_time,duration,num_gpu\r\n"a,1",10,5,1\r\n\r\n'
        'b,"20",6,2\r\nc,30,7\r\n'
    )
    path.write_bytes(text.encode("utf-8"))
    trace = read_trace(path)
    assert trace.format == "itp"
    assert trace.jobs["job_id"].tolist() == ["a,1", "b"]
    assert trace.jobs["num_gpus"].tolist() == [1, 2]
    assert trace.rejected["line"].tolist() == [5]
    assert trace.rejected["reason"].tolist() == ["wrong number of fields"]


def test_raw_is_truncated_to_200_characters(tmp_path):
    path = tmp_path / "long.csv"
    long_id = "x" * 500
    path.write_text(f"job_id,submission_time,duration,num_gpu\n{long_id},1,-1,1\n")
    raw = read_trace(path, "itp").rejected["raw"].tolist()
    assert raw == [long_id[:200]]


def test_header_only_gives_no_jobs(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("job_id,submission_time,duration,num_gpu\n")
    trace = read_trace(path, "itp")
    assert trace.jobs.empty and trace.rejected.empty
    assert list(trace.jobs.columns) == list(NATIVE_COLUMNS)


def test_large_input_is_fast(tmp_path):
    n = 200_000
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "job_id": [f"job-{i:07d}" for i in range(n)],
            "submission_time": np.sort(rng.integers(0, 10**7, n)),
            "duration": rng.integers(1, 10**6, n),
            "num_gpu": rng.choice([1, 2, 4, 8], n),
        }
    ).astype(str)
    frame.iloc[999, 1] = "abc"  # data row 1000 is line 1001
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    started = time.process_time()  # CPU time: robust to a busy machine
    trace = read_trace(path, "itp")
    elapsed = time.process_time() - started
    assert len(trace.jobs) == n - 1
    assert trace.rejected["line"].tolist() == [1001]
    assert trace.rejected["reason"].tolist() == ["non-numeric submit_s"]
    assert elapsed < 5.0


@pytest.mark.parametrize(
    ("name", "fmt", "interrupt"),
    [("itp/cluster_fixture.csv", "itp", "\n"), ("swf/fixture.swf", "swf", "; mid-file comment\n")],
)
def test_fast_and_exact_parsing_agree(tmp_path, name, fmt, interrupt):
    """A clean file takes the bulk reader; a blank or comment line mid-file forces the
    line-by-line path. Both must give the same jobs, with line numbers shifted by one."""
    lines = (DATA / name).read_text().splitlines(keepends=True)
    clean = tmp_path / "clean"
    clean.write_text("".join(lines))
    broken = tmp_path / "interrupted"
    broken.write_text("".join([*lines[:-2], interrupt, *lines[-2:]]))
    fast, exact = read_trace(clean, fmt), read_trace(broken, fmt)
    assert fast.jobs.equals(exact.jobs)
    shift = [line + 1 if line >= len(lines) - 1 else line for line in fast.rejected["line"]]
    assert exact.rejected["line"].tolist() == shift
    assert exact.rejected["reason"].tolist() == fast.rejected["reason"].tolist()
