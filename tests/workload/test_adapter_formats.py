"""Each trace format's fixture maps to hand-written native rows; malformed variants are
rejected row by row (or raise in strict mode) with the right line and reason."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.errors import TraceError
from clustersim.workload.adapters import NATIVE_COLUMNS, read_trace
from clustersim.workload.adapters import swf as swf_adapter

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
NAN = math.nan


def native(rows: list[tuple]) -> pd.DataFrame:
    """The expected native table, typed as the adapters promise."""
    frame = pd.DataFrame(rows, columns=list(NATIVE_COLUMNS))
    return frame.astype(
        {
            "job_id": "str",
            "submit_s": "float64",
            "num_gpus": "int64",
            "duration_s": "float64",
            "job_class": "str",
            "user": "str",
            "recorded_start_s": "float64",
        }
    )


OPTIONAL = ["time_limit_s"]  # extra columns an adapter may add after the native ones (SWF)


def assert_jobs(actual: pd.DataFrame, rows: list[tuple]) -> None:
    cols = list(actual.columns)
    assert cols[: len(NATIVE_COLUMNS)] == list(NATIVE_COLUMNS)
    assert set(cols[len(NATIVE_COLUMNS):]) <= set(OPTIONAL)
    pd.testing.assert_frame_equal(actual[list(NATIVE_COLUMNS)], native(rows))


def reasons(trace) -> list[tuple[int, str]]:
    return list(
        zip(trace.rejected["line"].tolist(), trace.rejected["reason"].tolist(), strict=True)
    )


def assert_strict(
    path: Path, fmt: str, line: int, reason: str, *, where: Path | None = None
) -> None:
    with pytest.raises(TraceError) as info:
        read_trace(path, fmt, strict=True)
    assert info.value.line == line
    assert info.value.reason == reason
    assert info.value.path == str(where or path)
    assert f":{line}: {reason}" in str(info.value)


def drop_column(src: Path, dst: Path, column: str) -> Path:
    """Copy a CSV fixture without one column (header and rows)."""
    lines = src.read_text().splitlines()
    index = lines[0].split(",").index(column)
    out = [",".join(f for i, f in enumerate(line.split(",")) if i != index) for line in lines]
    dst.write_text("\n".join(out) + "\n")
    return dst


def assert_missing_column(src: Path, tmp_path: Path, fmt: str, column: str) -> None:
    path = drop_column(src, tmp_path / src.name, column)
    with pytest.raises(TraceError) as info:
        read_trace(path, fmt)
    message = str(info.value)
    assert f"missing required column '{column}'" in message
    assert "found columns:" in message and column not in message.split("found columns:")[1]
    assert info.value.line == 1


# ------------------------------------------------------------------------------------ itp


def test_itp_fixture_maps_to_native_rows():
    trace = read_trace(DATA / "itp" / "cluster_fixture.csv", "itp")
    assert trace.format == "itp"
    # shifted by the first submission (16566); ties at 16600 ordered by job_id
    assert_jobs(
        trace.jobs,
        [
            ("6b2d9ccc-6279-403c-e1a2-cfe7810d5c57", 0.0, 4, 3890.0, "trace", "", NAN),
            ("0fffffff-0000-4000-8000-000000000003", 34.0, 8, 7200.0, "trace", "", NAN),
            ("a0000000-0000-4000-8000-000000000002", 34.0, 1, 120.0, "trace", "", NAN),
            ("b0000000-0000-4000-8000-000000000004", 3434.0, 64, 0.0, "trace", "", NAN),
        ],
    )
    assert trace.rejected.empty
    assert list(trace.rejected.columns) == ["line", "reason", "raw"]


def test_itp_malformed_rows_are_rejected_with_line_and_reason():
    trace = read_trace(DATA / "itp" / "malformed.csv", "itp")
    assert reasons(trace) == [
        (3, "non-numeric submit_s"),
        (4, "negative duration"),
        (5, "duplicate job_id"),
        (6, "zero GPUs"),
        (7, "missing duration_s"),
        (9, "non-integer num_gpus"),  # line 8 is blank and not counted as a row
        (10, "wrong number of fields"),
        (11, "missing job_id"),
        (12, "non-numeric num_gpus"),
    ]
    assert trace.rejected["raw"].tolist()[:2] == ["j2,abc,50,2", "j3,110,-5,1"]
    assert_jobs(
        trace.jobs,
        [("j1", 0.0, 2, 50.0, "trace", "", NAN), ("j9", 90.0, 2, 30.0, "trace", "", NAN)],
    )


def test_itp_strict_raises_at_first_bad_line():
    assert_strict(DATA / "itp" / "malformed.csv", "itp", 3, "non-numeric submit_s")


def test_itp_missing_column(tmp_path):
    assert_missing_column(DATA / "itp" / "cluster_fixture.csv", tmp_path, "itp", "duration")


# ---------------------------------------------------------------------------- alibaba2023


def test_alibaba2023_excerpt_maps_to_native_rows():
    trace = read_trace(DATA / "alibaba2023" / "openb_pod_list_excerpt.csv", "alibaba2023")
    # duration = deletion_time - scheduled_time; pod-0001 shares a GPU (gpu_milli 460) -> 1
    assert_jobs(
        trace.jobs,
        [
            ("openb-pod-0000", 0.0, 1, 12537496.0, "LS", "", 0.0),
            ("openb-pod-0001", 427061.0, 1, 12475899.0, "LS", "", 427061.0),
            ("openb-pod-0017", 9437497.0, 8, 1332357.0, "Burstable", "", 9437497.0),
            ("openb-pod-0033", 9965463.0, 1, 182.0, "BE", "", 9965463.0),
            ("openb-pod-0054", 9997763.0, 1, 3737.0, "LS", "", 9997763.0),
            ("openb-pod-0129", 10035396.0, 1, 957.0, "Guaranteed", "", 10035396.0),
        ],
    )
    assert reasons(trace) == [(4, "cpu-only job"), (8, "no start time")]
    assert any("fractional GPUs" in n and ": 1 rows" in n for n in trace.notes)


def test_alibaba2023_malformed():
    trace = read_trace(DATA / "alibaba2023" / "malformed.csv", "alibaba2023")
    assert reasons(trace) == [
        (3, "non-numeric num_gpus"),
        (4, "negative duration"),
        (5, "duplicate job_id"),
        (6, "no end time"),
    ]
    assert_jobs(
        trace.jobs,
        [("pod-a", 0.0, 1, 90.0, "LS", "", 10.0), ("pod-e", 50.0, 1, 240.0, "BE", "", 60.0)],
    )
    assert_strict(DATA / "alibaba2023" / "malformed.csv", "alibaba2023", 3, "non-numeric num_gpus")


def test_alibaba2023_missing_column(tmp_path):
    src = DATA / "alibaba2023" / "malformed.csv"
    assert_missing_column(src, tmp_path, "alibaba2023", "scheduled_time")


# -------------------------------------------------------------------------------- pai2020


PAI_EXPECTED = [
    ("4f057009a5d481acec67b088", 0.0, 1, 38.0, "tensorflow", "a1b2c3d4e5f6", 62.0),
    # ps (no GPU) + worker 4 x 100% + evaluator 150% -> 0 + 4 + 2; class = task with most GPUs
    ("af724763f4f5d0beef445849", 342200.0, 6, 2553.0, "worker", "a1b2c3d4e5f6", 342236.0),
    ("4b3f04b66a525d2df903eb16", 2811779.0, 1, 516.0, "tensorflow", "58540f191766", 2811800.0),
]


def test_pai2020_folder_maps_to_native_rows():
    trace = read_trace(DATA / "pai2020", "pai2020")
    assert trace.source == str(DATA / "pai2020" / "pai_job_table.csv")
    assert_jobs(trace.jobs, PAI_EXPECTED)
    assert reasons(trace) == [(4, "cpu-only job"), (5, "no start time"), (6, "no end time")]
    assert any("rounded up per instance: 3 task rows" in n for n in trace.notes)


def test_pai2020_job_table_path_finds_task_table_and_accepts_header(tmp_path):
    for name in ("pai_job_table.csv", "pai_task_table.csv"):
        text = (DATA / "pai2020" / name).read_text()
        header = "job_name,inst_id,user,status,start_time,end_time"
        if name.startswith("pai_task"):
            header = "job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type"
        (tmp_path / name).write_text(header + "\n" + text)
    trace = read_trace(tmp_path / "pai_job_table.csv", "pai2020")
    assert_jobs(trace.jobs, PAI_EXPECTED)
    assert reasons(trace) == [(5, "cpu-only job"), (6, "no start time"), (7, "no end time")]


def test_pai2020_without_task_table(tmp_path):
    job = tmp_path / "pai_job_table.csv"
    job.write_bytes((DATA / "pai2020" / "pai_job_table.csv").read_bytes())
    with pytest.raises(TraceError, match="no pai_task_table.csv beside it"):
        read_trace(job, "pai2020")


def test_pai2020_malformed():
    trace = read_trace(DATA / "pai2020" / "malformed", "pai2020")
    assert reasons(trace) == [
        (2, "non-numeric submit_s"),
        (3, "negative duration"),
        (4, "duplicate job_id"),
        (5, "no tasks"),
        (6, "bad task row"),
        (7, "wrong number of fields"),
    ]
    assert_jobs(trace.jobs, [("j1", 0.0, 1, 90.0, "worker", "u1", 10.0)])
    assert any("pai_task_table.csv line 4: non-numeric plan_gpu" in n for n in trace.notes)
    # strict: the task table is checked first and its own line is named
    folder = DATA / "pai2020" / "malformed"
    assert_strict(folder, "pai2020", 4, "non-numeric plan_gpu", where=folder / "pai_task_table.csv")


def test_pai2020_strict_job_table_line(tmp_path):
    for name in ("pai_job_table.csv", "pai_task_table.csv"):
        text = (DATA / "pai2020" / "malformed" / name).read_text()
        (tmp_path / name).write_text(text.replace("lots", "100.0"))
    assert_strict(
        tmp_path, "pai2020", 2, "non-numeric submit_s", where=tmp_path / "pai_job_table.csv"
    )


def test_pai2020_wrong_field_count_everywhere_is_a_file_error(tmp_path):
    (tmp_path / "pai_job_table.csv").write_text("a,b,c\nd,e,f\n")
    (tmp_path / "pai_task_table.csv").write_text(
        (DATA / "pai2020" / "pai_task_table.csv").read_text()
    )
    with pytest.raises(TraceError, match="expected 6 fields per line") as info:
        read_trace(tmp_path, "pai2020")
    assert info.value.line == 1


# --------------------------------------------------------------------------------- philly


def test_philly_fixture_maps_to_native_rows():
    trace = read_trace(DATA / "philly" / "cluster_job_log", "philly")
    assert_jobs(
        trace.jobs,
        [
            # 2 machines x 2 GPUs; one 3600 s attempt; first start 5 min after submit
            ("application_1506638472019_14001", 0.0, 4, 3600.0, "b436b2", "6c1a9f", 300.0),
            # the upstream README example: attempts of 74 s and 193182 s are summed
            ("application_1506638472019_14199", 699.0, 8, 193256.0, "ee9e8c", "ce2f4c", 729.0),
            # first attempt has no start time: skipped for duration; GPUs = max(2, 1)
            ("application_1506638472019_14500", 3600.0, 2, 1800.0, "ee9e8c", "ce2f4c", 4800.0),
        ],
    )
    # JSON array: line = record index + 1
    assert reasons(trace) == [(3, "no attempts"), (4, "no end time")]
    assert trace.rejected["raw"][0].startswith('{"status":"Failed"')
    assert any("skipped: 1" in n for n in trace.notes)


def test_philly_malformed_json_lines():
    trace = read_trace(DATA / "philly" / "malformed.jsonl", "philly")
    assert reasons(trace) == [
        (2, "bad submit time"),
        (3, "negative duration"),
        (4, "duplicate job_id"),
        (5, "invalid JSON"),
        (7, "zero GPUs"),  # line 6 is blank
        (8, "not a job record"),
    ]
    assert trace.rejected["raw"].tolist()[-1] == "[1, 2]"
    assert_jobs(
        trace.jobs,
        [("a1", 0.0, 1, 600.0, "v1", "u1", 10.0), ("a6", 300.0, 2, 60.0, "v2", "u2", 330.0)],
    )
    assert_strict(DATA / "philly" / "malformed.jsonl", "philly", 2, "bad submit time")


def test_philly_broken_json_array_names_the_line(tmp_path):
    path = tmp_path / "cluster_job_log"
    path.write_text('[\n  {"jobid": "x",\n   "user" "u"}\n]\n')
    with pytest.raises(TraceError, match="invalid JSON") as info:
        read_trace(path, "philly")
    assert info.value.line == 3


def test_philly_record_without_keys_is_rejected(tmp_path):
    path = tmp_path / "log.json"
    path.write_text('[{"status": "Pass"}]')
    trace = read_trace(path, "philly")
    assert reasons(trace) == [(1, "missing job_id")]


# --------------------------------------------------------------------------------- helios


VENUS = [
    ("4003", 0.0, 8, 7200.0, "vc6YE", "uXt8r", 1.0),
    ("4005", 323.0, 1, 45.0, "vcLJZ", "ub9Lq", 353.0),
    ("4007", 593.0, 2, 86400.0, "vc6YE", "u0Qm2", 10793.0),
]


def test_helios_cluster_folder_maps_to_native_rows():
    trace = read_trace(DATA / "helios", "helios", cluster="venus")
    assert trace.source == str(DATA / "helios" / "Venus" / "cluster_log.csv")
    assert_jobs(trace.jobs, VENUS)
    assert reasons(trace) == [(3, "cpu-only job"), (5, "no start time")]
    earth = read_trace(DATA / "helios", "helios", cluster="Earth")
    assert earth.jobs["job_id"].tolist() == ["9001", "9002"]


def test_helios_folder_needs_a_cluster():
    with pytest.raises(TraceError, match="choose one with cluster=: Earth, Venus"):
        read_trace(DATA / "helios", "helios")
    with pytest.raises(TraceError, match="no cluster named 'mars'"):
        read_trace(DATA / "helios", "helios", cluster="mars")


def test_helios_merged_log_selects_cluster_column(tmp_path):
    rows = []
    for name in ("Venus", "Earth"):
        lines = (DATA / "helios" / name / "cluster_log.csv").read_text().splitlines()
        header = lines[0]
        rows += [f"{r.split(',', 1)[0]},{name},{r.split(',', 1)[1]}" for r in lines[1:]]
    head = header.split(",", 1)
    merged = tmp_path / "all_cluster_log.csv"
    merged.write_text("\n".join([f"{head[0]},cluster,{head[1]}", *rows]) + "\n")
    trace = read_trace(merged, "helios", cluster="Venus")
    assert_jobs(trace.jobs, VENUS)
    with pytest.raises(TraceError, match="choose one with cluster="):
        read_trace(merged, "helios")


def test_helios_malformed():
    path = DATA / "helios" / "malformed_cluster_log.csv"
    trace = read_trace(path, "helios")
    assert reasons(trace) == [
        (3, "bad submit time"),  # 2020-04-31 does not exist
        (4, "negative duration"),
        (5, "duplicate job_id"),
        (6, "non-numeric num_gpus"),
        (7, "no end time"),
    ]
    assert_jobs(
        trace.jobs,
        [("1", 0.0, 1, 3600.0, "vc1", "u1", 10.0), ("6", 300.0, 4, 1800.0, "vc2", "u2", 300.0)],
    )
    assert_strict(path, "helios", 3, "bad submit time")


def test_helios_missing_column(tmp_path):
    src = DATA / "helios" / "malformed_cluster_log.csv"
    assert_missing_column(src, tmp_path, "helios", "end_time")


# ----------------------------------------------------------------------------------- acme


def test_acme_seren_maps_to_native_rows():
    trace = read_trace(DATA / "acme" / "trace_seren.csv", "acme")
    # +08:00 offsets: only differences matter after the shift
    assert_jobs(
        trace.jobs,
        [
            ("5778432", 0.0, 8, 117.0, "Other", "u5907", 32.0),
            ("5778469", 336.0, 8, 2693.0, "Other", "u5907", 349.0),
            ("5778501", 698.0, 32, 86400.0, "Pretrain", "u1a2b", 1298.0),
        ],
    )
    assert reasons(trace) == [(4, "cpu-only job")]


def test_acme_kalos_by_cluster_uses_fail_time_when_end_is_empty():
    trace = read_trace(DATA / "acme", "acme", cluster="kalos")
    assert trace.source == str(DATA / "acme" / "trace_kalos.csv")
    assert_jobs(
        trace.jobs,
        [
            ("dlctk696s0jbvitv", 0.0, 64, 8.0, "Other", "uf794", 10.0),
            ("dlc1t2ypl09b8qtp", 1664.0, 64, 70.0, "Other", "uf794", 1676.0),
            ("dlcq8a1b2c3d4e5f", 3542.0, 8, 1800.0, "SFT", "u77aa", 3547.0),
        ],
    )
    assert reasons(trace) == [(5, "no end time")]
    assert any("fail_time or stop_time" in n and ": 1 rows" in n for n in trace.notes)


def test_acme_malformed():
    path = DATA / "acme" / "malformed_trace.csv"
    trace = read_trace(path, "acme")
    assert reasons(trace) == [
        (3, "non-integer num_gpus"),
        (4, "negative duration"),
        (5, "duplicate job_id"),
        (6, "bad submit time"),
        (7, "no start time"),
    ]
    assert_jobs(
        trace.jobs,
        [
            ("7000001", 0.0, 8, 600.0, "Other", "u1", 10.0),
            ("7000006", 360.0, 16, 3600.0, "Pretrain", "u2", 390.0),
        ],
    )
    assert_strict(path, "acme", 3, "non-integer num_gpus")


def test_acme_missing_column(tmp_path):
    assert_missing_column(DATA / "acme" / "trace_seren.csv", tmp_path, "acme", "gpu_num")


# ------------------------------------------------------------------------------------ swf


def test_swf_fixture_maps_to_native_rows():
    trace = read_trace(DATA / "swf" / "fixture.swf", "swf")
    assert_jobs(
        trace.jobs,
        [
            ("1", 0.0, 8, 3600.0, "1", "3", 10.0),
            ("2", 60.0, 1, 100.0, "2", "4", NAN),  # wait -1: no recorded start
            ("3", 60.0, 4, 50.0, "trace", "", 65.0),  # allocated -1: requested processors
        ],
    )
    assert reasons(trace) == [(9, "zero GPUs"), (10, "unknown run time")]
    # field 9, requested time: the limit EASY plans with under `estimate: column`
    assert trace.jobs["time_limit_s"].tolist() == [7200.0, 600.0, 600.0]


def test_swf_procs_per_gpu():
    trace = swf_adapter.read(DATA / "swf" / "fixture.swf", procs_per_gpu=4)
    assert trace.jobs["num_gpus"].tolist() == [2, 1, 1]


def test_swf_malformed():
    path = DATA / "swf" / "malformed.swf"
    trace = read_trace(path, "swf")
    assert reasons(trace) == [
        (3, "non-numeric duration_s"),
        (4, "unsorted submit time"),
        (5, "duplicate job_id"),
        (6, "negative duration"),
        (7, "wrong number of fields"),
    ]
    assert_jobs(
        trace.jobs,
        [("1", 0.0, 1, 100.0, "1", "1", 0.0), ("6", 90.0, 2, 100.0, "1", "1", 90.0)],
    )
    assert_strict(path, "swf", 3, "non-numeric duration_s")


def test_swf_with_too_few_fields_everywhere_is_a_file_error(tmp_path):
    path = tmp_path / "short.swf"
    path.write_text("; header\n1 0 0 100 1\n2 5 0 100 1\n")
    with pytest.raises(TraceError, match="expected 18 fields per line") as info:
        read_trace(path, "swf")
    assert info.value.line == 2


# --------------------------------------------------------------------------- every format


@pytest.mark.parametrize(
    ("path", "fmt", "cluster"),
    [
        ("itp/cluster_fixture.csv", "itp", None),
        ("alibaba2023/openb_pod_list_excerpt.csv", "alibaba2023", None),
        ("pai2020", "pai2020", None),
        ("philly/cluster_job_log", "philly", None),
        ("helios", "helios", "Venus"),
        ("acme", "acme", "seren"),
        ("swf/fixture.swf", "swf", None),
    ],
)
def test_native_contract_holds(path, fmt, cluster):
    trace = read_trace(DATA / path, fmt, cluster=cluster)
    jobs = trace.jobs
    assert list(jobs.columns)[: len(NATIVE_COLUMNS)] == list(NATIVE_COLUMNS)
    assert set(list(jobs.columns)[len(NATIVE_COLUMNS):]) <= set(OPTIONAL)
    assert jobs["submit_s"].iloc[0] == 0.0
    assert jobs["num_gpus"].dtype == np.int64 and (jobs["num_gpus"] > 0).all()
    assert (jobs["duration_s"] >= 0).all()
    keys = list(zip(jobs["submit_s"], jobs["job_id"], strict=True))
    assert keys == sorted(keys)
    assert jobs["job_id"].is_unique
    assert trace.rejected["line"].dtype == np.int64
    assert trace.rejected["line"].is_monotonic_increasing
    assert trace.notes and isinstance(trace.notes, tuple)


def test_pai2020_task_row_with_wrong_field_count_spoils_its_job(tmp_path):
    for name in ("pai_job_table.csv", "pai_task_table.csv"):
        (tmp_path / name).write_text((DATA / "pai2020" / name).read_text())
    task = tmp_path / "pai_task_table.csv"
    task.write_text(task.read_text() + "4f057009a5d481acec67b088,worker,1.0,Terminated\n")
    trace = read_trace(tmp_path, "pai2020")
    assert "4f057009a5d481acec67b088" not in trace.jobs["job_id"].tolist()
    assert (2, "bad task row") in reasons(trace)
    assert any("pai_task_table.csv line 9: wrong number of fields" in n for n in trace.notes)


@pytest.mark.parametrize(("bad", "reason"), [("  ", "missing job_id"), ("a", "duplicate job_id")])
def test_native_csv_blank_or_repeated_id_is_rejected_on_its_line(tmp_path, bad, reason):
    # an otherwise clean CSV: the typed fast read must notice the id and leave it to the
    # careful read, which names the line
    from clustersim.workload.native import read_native

    path = tmp_path / "trace.csv"
    path.write_text(f"job_id,submit_s,num_gpus,duration_s\na,0,1,10\n{bad},1,1,10\nc,2,1,10\n")
    jobs, rejected = read_native(path, strict=False)
    assert rejected[["line", "reason"]].values.tolist() == [[3, reason]]
    assert jobs["job_id"].tolist() == ["a", "c"]
