"""Hypothesis strategies for traces in every format clustersim reads: valid rows rendered in
the format's own layout, then mutated field by field (inf, nan, -1, 1e308, 1e20, hex, empty,
dates in year 1 and 9999, ...), row by row (fields missing or added, rows repeated) and byte
by byte (see ``fuzzing.byte_mutations``).

A case is ``(format, {file name: bytes}, path to read)``: the files are written to a fresh
folder and the path handed to ``load_any`` / ``clustersim replay``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fuzzing import NASTY_TEXT, byte_mutations
from hypothesis import strategies as st

FORMATS = ("native", "itp", "alibaba2023", "pai2020", "philly", "helios", "acme", "swf")
_T0 = datetime(2020, 5, 1, tzinfo=UTC)


def _date(seconds: float, offset: bool = False) -> str:
    t = _T0 + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S") + ("+00:00" if offset else "")


@st.composite
def _job(draw):
    """One plausible job: submit, wait, run time, GPUs."""
    return {
        "id": f"j{draw(st.integers(0, 40))}",
        "submit": draw(st.integers(0, 86400)),
        "wait": draw(st.integers(0, 3600)),
        "run": draw(st.integers(0, 7200)),
        "gpus": draw(st.sampled_from([1, 2, 4, 8, 16, 0])),
        "cls": draw(st.sampled_from(["a", "b", "vc1"])),
        "user": draw(st.sampled_from(["u1", "u2", ""])),
    }


def _rows(fmt: str, jobs: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows of field texts) of a CSV-like format."""
    if fmt == "native":
        return ["job_id", "submit_s", "num_gpus", "duration_s", "job_class", "user"], [
            [j["id"], str(j["submit"]), str(j["gpus"]), str(j["run"]), j["cls"], j["user"]] for j in jobs]
    if fmt == "itp":
        return ["job_id", "submission_time", "duration", "num_gpu"], [
            [j["id"], str(j["submit"]), str(j["run"]), str(j["gpus"])] for j in jobs]
    if fmt == "alibaba2023":
        head = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
                "creation_time", "deletion_time", "scheduled_time"]
        return head, [[j["id"], "1000", "1024", str(j["gpus"]), "1000", "", j["cls"], "Succeeded", str(j["submit"]),
                       str(j["submit"] + j["wait"] + j["run"]), str(j["submit"] + j["wait"])] for j in jobs]
    if fmt == "helios":
        head = ["job_id", "user", "vc", "gpu_num", "cpu_num", "node_num", "state", "submit_time", "start_time",
                "end_time", "duration", "queue"]
        return head, [[j["id"], j["user"], j["cls"], str(j["gpus"]), "6", "1", "COMPLETED", _date(j["submit"]),
                       _date(j["submit"] + j["wait"]), _date(j["submit"] + j["wait"] + j["run"]), str(j["run"]),
                       str(j["wait"])] for j in jobs]
    if fmt == "acme":
        head = ["job_id", "user", "node_num", "gpu_num", "cpu_num", "type", "state", "submit_time", "start_time",
                "end_time", "duration", "queue", "gpu_time"]
        return head, [[j["id"], j["user"], "1", str(j["gpus"]), "8", j["cls"], "COMPLETED", _date(j["submit"], True),
                       _date(j["submit"] + j["wait"], True), _date(j["submit"] + j["wait"] + j["run"], True),
                       str(j["run"]), str(j["wait"]), "1.0"] for j in jobs]
    if fmt == "swf":
        return [], [[str(k + 1), str(j["submit"]), str(j["wait"]), str(j["run"]), str(j["gpus"]), "-1", "-1",
                     str(j["gpus"]), "-1", "-1", "1", "3", "1", "-1", "1", "-1", "-1", "-1"]
                    for k, j in enumerate(sorted(jobs, key=lambda j: j["submit"]))]
    if fmt == "pai_job":
        return [], [[j["id"], "inst", j["user"], "Terminated", str(j["submit"]), str(j["submit"] + j["wait"] + j["run"])]
                    for j in jobs]
    if fmt == "pai_task":
        return [], [[j["id"], j["cls"], "1.0", "Terminated", str(j["submit"] + j["wait"]),
                     str(j["submit"] + j["wait"] + j["run"]), "600.0", "29.3", str(100 * j["gpus"]), "MISC"]
                    for j in jobs]
    raise ValueError(fmt)


@st.composite
def _mutated_rows(draw, rows: list[list[str]]) -> list[list[str]]:
    rows = [list(r) for r in rows]
    for _ in range(draw(st.integers(0, 4))):
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        op = draw(st.sampled_from(["field", "field", "field", "drop", "add", "repeat"]))
        if op == "field" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(st.sampled_from(NASTY_TEXT))
        elif op == "drop" and rows[i]:
            rows[i].pop()
        elif op == "add":
            rows[i].append(draw(st.sampled_from(NASTY_TEXT)))
        elif op == "repeat":
            rows.append(list(rows[i]))
    return rows


def _csv(header: list[str], rows: list[list[str]], sep: str = ",") -> bytes:
    lines = ([sep.join(header)] if header else []) + [sep.join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@st.composite
def _philly(draw, jobs: list[dict]) -> bytes:
    records = []
    for j in jobs:
        attempts = [{"start_time": _date(j["submit"] + j["wait"]), "end_time": _date(j["submit"] + j["wait"] + j["run"]),
                     "detail": [{"ip": "m1", "gpus": [f"gpu{g}" for g in range(min(j["gpus"], 8))]}]}]
        rec = {"status": "Pass", "vc": j["cls"], "jobid": j["id"], "user": j["user"],
               "submitted_time": _date(j["submit"]), "attempts": attempts}
        for _ in range(draw(st.integers(0, 2))):
            key = draw(st.sampled_from(["jobid", "submitted_time", "vc", "attempts"]))
            rec[key] = draw(st.one_of(st.sampled_from(NASTY_TEXT), st.sampled_from([None, 1e308, [], {}, [None]])))
        if draw(st.integers(0, 5)) == 0:
            attempts[0][draw(st.sampled_from(["start_time", "end_time"]))] = draw(st.sampled_from(NASTY_TEXT))
        records.append(rec)
    if draw(st.booleans()):
        return json.dumps(records, indent=1, allow_nan=True).encode()
    return "\n".join(json.dumps(r, allow_nan=True) for r in records).encode() + b"\n"


@st.composite
def trace_case(draw, fmt: str):
    """(format, files, name of the path to read) for one mutated trace of format ``fmt``."""
    jobs = draw(st.lists(_job(), min_size=0, max_size=12))
    edit = draw(byte_mutations())
    if fmt == "philly":
        return fmt, {"cluster_job_log": edit(draw(_philly(jobs)))}, "cluster_job_log"
    if fmt == "pai2020":
        job_rows = draw(_mutated_rows(_rows("pai_job", jobs)[1]))
        task_rows = draw(_mutated_rows(_rows("pai_task", jobs)[1]))
        files = {"pai_job_table.csv": edit(_csv([], job_rows)), "pai_task_table.csv": _csv([], task_rows)}
        if draw(st.booleans()):
            files["pai_task_table.csv"] = draw(byte_mutations())(files["pai_task_table.csv"])
        return fmt, files, "pai_job_table.csv"
    header, rows = _rows(fmt, jobs)
    rows = draw(_mutated_rows(rows))
    if fmt == "swf":
        text = b"; Version: 2.2\n; MaxJobs: 12\n" + _csv([], rows, sep=draw(st.sampled_from([" ", "\t", "  "])))
        return fmt, {"trace.swf": edit(text)}, "trace.swf"
    if draw(st.integers(0, 9)) == 0 and header:  # a header with a column missing or renamed
        header = header[1:] if draw(st.booleans()) else [header[0] + "x", *header[1:]]
    name = {"native": "jobs.csv", "itp": "cluster01.csv", "alibaba2023": "openb_pod_list_test.csv",
            "helios": "cluster_log.csv", "acme": "trace_seren.csv"}[fmt]
    return fmt, {name: edit(_csv(header, rows))}, name
