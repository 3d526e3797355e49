"""Fuzzing scenarios through the command line: `validate`, `run` and `report` on generated and
mutated scenarios, overrides and run directories. Every case ends with exit code 0 or 2, one
message and no traceback; a run that finishes writes only finite numbers.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import yaml
from fuzzing import byte_mutations, check_outputs, count, invoke, profile
from hypothesis import given
from hypothesis import strategies as st
from scenario_cases import TEXT_EDITS, mutated, overrides, schema_scenarios, valid_scenarios

from clustersim.config import load_scenario
from clustersim.errors import ClusterSimError

DURATIONS_FILE = b"60\n120\n3600\n7200\n"


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _write(folder: Path, text: str, edit_bytes, durations: bytes = DURATIONS_FILE) -> Path:
    path = folder / "scenario.yaml"
    path.write_bytes(edit_bytes(text.encode("utf-8")))
    (folder / "durations.txt").write_bytes(durations)
    return path


@profile(short=80, weight=0.30)
@given(
    data=schema_scenarios(),
    edit_text=st.sampled_from(TEXT_EDITS),
    edit_bytes=byte_mutations(),
    data_strategy=st.data(),
)
def test_scenarios_from_the_schema_validate_cleanly(data, edit_text, edit_bytes, data_strategy):
    count("scenario: schema -> validate")
    sets = data_strategy.draw(overrides(data))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), edit_text(_dump(data)), edit_bytes)
        invoke("validate", path, *[a for s in sets for a in ("--set", s)])


def _cheap(path: Path, sets: list[str]) -> bool:
    """A valid scenario small enough to run in a fuzz case."""
    try:
        sc = load_scenario(path, sets)
    except ClusterSimError:
        return False
    nodes = sc.cluster.nodes + sum(o.nodes for o in (sc.supply.orders if sc.supply else ()))
    jobs = sum(c.arrival_rate_per_h for c in sc.workload.classes or ()) * sc.horizon / 3600
    steps = sum(sc.horizon / max(s.demand.resolution, 1.0) for s in sc.services if math.isfinite(s.demand.resolution))
    failures = (sc.failures.rate_per_1000_node_days / 1000 if sc.failures else 0) * nodes * sc.horizon / 86400
    return nodes <= 64 and jobs <= 5000 and steps <= 5000 and failures <= 5000 and sc.horizon <= 30 * 86400


def _run_case(base, mutate, seed, data_strategy, *flags) -> Path | None:
    """Validate a (mutated) small scenario and run it if it is valid and cheap; the run
    directory of a finished run, else None."""
    data = data_strategy.draw(mutated(base)) if mutate == 0 else base
    sets = data_strategy.draw(overrides(data)) if mutate == 1 else []
    durations = data_strategy.draw(byte_mutations())(DURATIONS_FILE) if mutate == 2 else DURATIONS_FILE
    args = [a for s in sets for a in ("--set", s)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _write(folder, _dump(data), lambda b: b, durations)
        if invoke("validate", path, *args).exit_code != 0 or not _cheap(path, sets):
            return None
        out = folder / "out"
        result = invoke("run", path, "--out", out, "--seed", seed, *flags, *args)
        if result.exit_code != 0:
            return None
        check_outputs(out)
        assert (out / "report.html").is_file() == ("--no-report" not in flags)
        return out


@profile(short=30, weight=0.10)
@given(base=valid_scenarios(), mutate=st.integers(0, 2), seed=st.integers(0, 3), data_strategy=st.data())
def test_small_scenarios_run_or_fail_cleanly(base, mutate, seed, data_strategy):
    count("scenario: valid/mutated -> validate + run")
    _run_case(base, mutate, seed, data_strategy, "--no-report")


@profile(short=2, weight=0.01)
@given(base=valid_scenarios(), seed=st.integers(0, 3), data_strategy=st.data())
def test_small_scenarios_build_their_report(base, seed, data_strategy):
    count("scenario: valid -> run + report")
    _run_case(base, 3, seed, data_strategy)


@st.composite
def damaged_run(draw):
    """What to do to a finished run directory before `clustersim report`."""
    names = ["config.json", "summary.json", "jobs.parquet", "timeseries.parquet", "events.parquet"]
    return draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(["delete", "empty", "garbage", "truncate",
                                                                            "json-list", "nan"])), max_size=2))


@profile(short=8, weight=0.02)
@given(damage=damaged_run())
def test_report_on_a_damaged_run_directory(damage):
    count("run directory: damaged -> report")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        shutil.copytree(_finished_run(), out)
        for name, how in damage:
            path = out / name
            if how == "delete":
                path.unlink(missing_ok=True)
            elif how == "empty":
                path.write_bytes(b"")
            elif how == "garbage":
                path.write_bytes(b"\x00\xff garbage \xfe")
            elif how == "truncate" and path.exists():
                path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
            elif how == "json-list":
                path.write_text("[1, 2]")
            elif how == "nan":
                path.write_text('{"scenario": NaN}')
        result = invoke("report", out)
        if not (out / "summary.json").exists() and (out / "config.json").is_file():
            assert result.exit_code == 2 and "incomplete run" in result.stderr, result.output


_RUN: list[Path] = []


def _finished_run() -> Path:
    if not _RUN:
        folder = Path(tempfile.mkdtemp(prefix="fuzz-run-"))
        small = Path(__file__).resolve().parents[1] / "data" / "core" / "small.yaml"
        invoke("run", small, "--out", folder / "run", "--no-report", "--set", "horizon=6h", "--set", "warmup=0s")
        _RUN.append(folder / "run")
    return _RUN[0]
