"""User-facing errors. The CLI prints these as one message, without a traceback."""

from __future__ import annotations


class ClusterSimError(Exception):
    """An error caused by the user's input (scenario, trace, command line), not by a bug."""


class ScenarioError(ClusterSimError):
    """A scenario file or override that does not validate.

    ``problems`` holds one line per field, already rendered as ``path.to.field: what was wrong``.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: invalid scenario\n{lines}")


class TraceError(ClusterSimError):
    """A trace file that cannot be read: names the file, the line (1-based, header = 1) and why."""

    def __init__(self, path: str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
