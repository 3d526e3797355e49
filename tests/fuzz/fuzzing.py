"""Shared pieces of the fuzz tests: the profile (short in CI, long by hand), the case counter,
the in-process CLI call with its checks, and the mutations applied to any input.

Profiles. By default each fuzz test runs a short, derandomized profile (the same cases on
every run, the whole fuzz suite in well under a minute). ``CLUSTERSIM_FUZZ_EXAMPLES=N`` runs
the long profile: about N generated cases in all, shared among the tests by weight, with
random (not derandomized) generation; ``CLUSTERSIM_FUZZ_SEED`` fixes its seed. The number of
cases actually run is printed at the end of the session (``fuzz cases: ...``).

What every case must give: exit code 0 or 2 (a user error), never a traceback, and never a
non-finite number in an output file (``summary.json``/``config.json`` hold only finite
numbers; no parquet column holds an infinity; NaN means "did not happen" there).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clustersim.cli.app import app

LONG = int(os.environ.get("CLUSTERSIM_FUZZ_EXAMPLES", "0") or 0)
SEED = os.environ.get("CLUSTERSIM_FUZZ_SEED")
CASES: Counter = Counter()  # test name -> cases run (printed by conftest)
KNOWN: Counter = Counter()  # known bug -> cases that hit it (printed by conftest)

# KNOWN_BUGS: tracebacks found by the fuzz suite in code this suite's authors may not change
# (another engineer owns it); each is pinned by a strict-xfail test in tests/cli/
# test_fuzz_findings.py, counted here, and printed at the end. Remove an entry when its fix
# lands (that test then passes and its xfail marker must go too).
KNOWN_BUGS = {
}
CASE_SECONDS = 120 if LONG else 60  # one case longer than this is a hang: a finding


def profile(short: int, weight: float):
    """Hypothesis settings: ``short`` examples in CI; in the long profile ``weight`` of the
    ``CLUSTERSIM_FUZZ_EXAMPLES`` budget, drawn from ``CLUSTERSIM_FUZZ_SEED`` when it is set
    (the same seed gives the same cases; another seed, others)."""
    examples = max(short, int(LONG * weight)) if LONG else short
    chosen = settings(
        max_examples=examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],  # no tracing
    )
    if not LONG or SEED is None:
        return chosen
    return lambda test: seed(int(SEED))(chosen(test))


def count(name: str) -> None:
    CASES[name] += 1


class Hang(BaseException):
    """A case ran past ``CASE_SECONDS`` (BaseException: no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: int = CASE_SECONDS):
    def alarm(signum, frame):
        raise Hang(f"the case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


_runner = CliRunner()


def invoke(*args) -> object:
    """Run ``clustersim ARGS`` in-process and check the error path: exit 0 or 2, no traceback,
    an exit by SystemExit (an uncaught exception would be left in ``result.exception``), one
    ``error:`` message for exit 2, and no numeric RuntimeWarning (a cast or overflow of nonsense)."""
    with warnings.catch_warnings(record=True) as caught, time_limit():
        warnings.simplefilter("always")
        result = _runner.invoke(app, [str(a) for a in args])
    text = result.output
    known = [name for sig, name in KNOWN_BUGS.items() if sig in text]
    if known and result.exit_code == 1 and "Traceback" in text:
        KNOWN[known[0]] += 1
        return result
    assert "Traceback" not in text, text
    assert result.exit_code in (0, 2), (result.exit_code, text)
    if result.exit_code == 0:
        assert result.exception is None, repr(result.exception)
    else:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        starts = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(starts) == 1, result.stderr  # one message (notes on the trace may come first)
    numeric = [w for w in caught if issubclass(w.category, RuntimeWarning) and "encountered" in str(w.message)]
    assert not numeric, [f"{w.filename}:{w.lineno}: {w.message}" for w in numeric]
    return result


# KNOWN_INFINITE: the engine writes down_s = inf for a node pulled after repeated failures (its
# last `failure` event and its `pulled` event, repair_class `pulled`): it never comes back. That is the engine's to change (to NaN, or the time
# left to the horizon); until then it is the one infinity allowed in an output file.


def _strict_constant(name: str):
    raise AssertionError(f"non-finite number {name} in a JSON output file")


def check_outputs(run_dir: Path) -> None:
    """Every output file of a finished run holds only finite numbers (NaN allowed in parquet)."""
    import pandas as pd

    assert (run_dir / "summary.json").is_file()
    for path in run_dir.glob("*.json"):
        data = json.loads(path.read_text(), parse_constant=_strict_constant)
        _finite_json(data, path.name)
    for path in run_dir.glob("*.parquet"):
        frame = pd.read_parquet(path)
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                arr = values.to_numpy(dtype=float, na_value=np.nan)
                inf = np.isinf(arr)
                if (path.name, column) == ("events.parquet", "down_s"):
                    inf &= (frame["repair_class"] != "pulled").to_numpy()  # KNOWN_INFINITE
                assert not inf.any(), f"{path.name}: infinite value in {column}"
    assert not list(run_dir.glob(".*.tmp")), "a temporary file was left behind"


def _finite_json(value, where: str) -> None:
    if isinstance(value, float):
        assert math.isfinite(value), f"{where}: {value}"
    elif isinstance(value, dict):
        for k, v in value.items():
            _finite_json(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite_json(v, f"{where}[{i}]")


# --------------------------------------------------------------------------- mutations

NASTY_TEXT = [
    "", " ", "inf", "-inf", "nan", "NaN", "Infinity", "-1", "0", "1e308", "1e400", "-1e308", "1e20",
    "18446744073709551617", "0x10", "0o17", "010", "1_000", "true", "yes", "null", "~", ",", '"',
    "1,5", "é", "\t", "9" * 400, "0001-01-01 00:00:00", "9999-12-31 23:59:59", "2020-02-30 00:00:00",
    "1970-01-01 00:00:00", "2100-01-01 00:00:00", "2023-05-17 11:00:58+08:00",
]
NASTY_VALUES = [
    True, False, None, float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 10**30, -(10**30),
    -1, 0, 0.5, 1e-300, "0x10", "010", "yes", "", "../../../escape", "/abs/path", "a\x00b", [], {}, [1, 2],
    {"kind": "weird"}, "1e999", "2h", "-2h", "1:30", "9" * 400,
]


def byte_mutations() -> st.SearchStrategy:
    """A function bytes -> bytes: truncation, encodings, BOM, CRLF, NUL and random bytes, gzip."""
    import gzip

    def truncate(at):
        return lambda b: b[: int(len(b) * at)]

    def insert(junk, at):
        return lambda b: b[: int(len(b) * at)] + junk + b[int(len(b) * at):]

    def reencode(codec):
        def f(b):
            return b.decode("utf-8", "replace").encode(codec, "replace")
        return f

    return st.one_of(
        st.just(lambda b: b),
        st.floats(0, 1).map(truncate),
        st.sampled_from(["utf-16", "utf-16-be", "latin-1", "utf-32", "cp1252"]).map(reencode),
        st.just(lambda b: b"\xef\xbb\xbf" + b),
        st.just(lambda b: b.replace(b"\n", b"\r\n")),
        st.just(lambda b: b.replace(b"\n", b"\r")),
        st.tuples(st.binary(min_size=1, max_size=16), st.floats(0, 1)).map(lambda t: insert(*t)),
        st.floats(0, 1).map(lambda at: insert(b"\x00", at)),
        st.floats(0, 1).map(lambda at: insert(b"\xff\xfe\xe9", at)),
        st.just(lambda b: gzip.compress(b)),
        st.just(lambda b: gzip.compress(b)[:20]),
        st.just(lambda b: b"\n".join(b.split(b"\n")[:1])),  # header only
        st.just(lambda b: b""),
        st.just(lambda b: b.replace(b",", b"\t")),
        st.just(lambda b: b + b"x" * 2_000_000 + b"\n"),
    )
