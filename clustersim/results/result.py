"""``RunResult``: everything one run produced, as tables and a summary (no files)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunResult:
    scenario: object  # config.Scenario
    seed: int
    jobs: object  # pandas.DataFrame, columns columns.JOB_COLUMNS
    timeseries: object  # pandas.DataFrame, columns columns.TIMESERIES_COLUMNS
    events: object  # pandas.DataFrame, columns columns.EVENT_COLUMNS
    summary: dict = field(default_factory=dict)
    extra_tables: dict = field(default_factory=dict)  # name -> DataFrame, written as <name>.parquet
