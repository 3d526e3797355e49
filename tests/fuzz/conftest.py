"""The fuzz suite's case count, printed at the end of the session (see ``fuzzing``)."""

from __future__ import annotations

import fuzzing


def pytest_terminal_summary(terminalreporter):
    if not fuzzing.CASES:
        return
    total = sum(fuzzing.CASES.values())
    profile = f"long, {fuzzing.LONG:,} requested" if fuzzing.LONG else "short (CI)"
    terminalreporter.write_line(f"fuzz cases: {total:,} ({profile})")
    for name, n in sorted(fuzzing.CASES.items()):
        terminalreporter.write_line(f"  {name}: {n:,}")
    for name, n in sorted(fuzzing.KNOWN.items()):
        terminalreporter.write_line(f"known bug (not fixed here, see fuzzing.KNOWN_BUGS) hit {n:,} times: {name}")
