"""The one duration parser: units, whitespace, numbers, and refusal of bad input."""

from __future__ import annotations

import math

import pytest

from clustersim.units import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("45m", 2700.0),
        ("2h", 7200.0),
        ("3d", 3 * 86400.0),
        ("12w", 12 * 7 * 86400.0),
        ("1.5h", 5400.0),
        (".5m", 30.0),
        ("2.", 2.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("100", 100.0),  # no unit: seconds
        ("1e3", 1000.0),
        ("1e3s", 1000.0),
        ("1.5e1m", 900.0),
        ("2E-1h", 720.0),
        ("  2h  ", 7200.0),
        ("2 h", 7200.0),
        ("\t30m\n", 1800.0),
    ],
)
def test_parse_duration_strings(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (90, 90.0), (2.5, 2.5), (1e6, 1e6)])
def test_parse_duration_numbers_are_seconds(value, seconds):
    out = parse_duration(value)
    assert out == seconds and isinstance(out, float)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "h",
        "2hours",
        "3 days",
        "2h30m",
        "2H",
        "1..2h",
        "abc",
        "-5",
        "-1h",
        "+1h",
        "nan",
        "inf",
        "0x10",
        "1,5h",
        "1e400",  # overflows to inf
        -1,
        -0.5,
        float("nan"),
        float("inf"),
        True,
        None,
        [1],
        {"h": 1},
    ],
)
def test_parse_duration_refuses_bad_input(bad):
    with pytest.raises(ValueError) as err:
        parse_duration(bad)
    assert "expected" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_parse_duration_messages_say_what_was_expected():
    with pytest.raises(ValueError, match=r"such as 90s, 45m, 2h, 3d or 12w, got '3 days'"):
        parse_duration("3 days")
    with pytest.raises(ValueError, match="non-negative"):
        parse_duration(-3600)
    with pytest.raises(ValueError, match="finite"):
        parse_duration(math.inf)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (750, "12.5 min"), (5400, "1.50 h"), (3 * 86400, "3.00 d"), (float("nan"), "n/a")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["90s", "45m", "2h", "3d", "12w", "1.5h"])
def test_format_then_parse_is_close(text):
    seconds = parse_duration(text)
    shown = format_duration(seconds).replace(" min", "m").replace(" ", "")
    assert parse_duration(shown) == pytest.approx(seconds, rel=0.01)
