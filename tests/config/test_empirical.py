"""The empirical distribution: its file format, its errors, and resampling from it."""

from __future__ import annotations

import numpy as np
import pytest

from clustersim.config.distributions import Empirical, read_empirical
from clustersim.errors import TraceError


def test_one_value_per_line(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("60\n 120 \n3.5e2\n")
    assert read_empirical(path).tolist() == [60.0, 120.0, 350.0]


def test_csv_with_a_duration_s_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("job,duration_s\na,10\nb,20\n")
    assert read_empirical(path).tolist() == [10.0, 20.0]


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("10\nabc\n", 2, "got 'abc'"),
        ("10\n-1\n", 2, "got '-1'"),
        ("inf\n", 1, "got 'inf'"),
        ("duration_s\n5\nnan\n", 3, "got 'nan'"),
    ],
)
def test_a_bad_value_names_its_line(tmp_path, content, line, reason):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=reason) as info:
        read_empirical(path)
    assert info.value.line == line


@pytest.mark.parametrize("content", ["", "\n\n", "duration_s\n"])
def test_no_values_is_an_error(tmp_path, content):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match="no values"):
        read_empirical(path)


def test_ragged_file_is_a_trace_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1\n2,3\n")
    with pytest.raises(TraceError, match="cannot read"):
        read_empirical(path)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="not found"):
        read_empirical(tmp_path / "nope.csv")


def test_empirical_resamples_the_file_values(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("10\n20\n30\n")
    dist = Empirical(kind="empirical", file=path)
    assert dist.mean() == 20.0
    draws = dist.sampler(np.random.default_rng(0))(1000)
    assert set(draws.tolist()) == {10.0, 20.0, 30.0}
