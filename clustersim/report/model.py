"""The types sections and the builder share: a loaded run, a built section, a registry entry.

Nothing here reads files (see ``clustersim.report.files``, whose ``Table`` holds a run's
tables); pandas is used only through :attr:`Run.jobs`, :attr:`Run.timeseries` and
:meth:`Run.measured_jobs`, so a report whose sections take numpy columns never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from clustersim.report.format import seconds

P90_WAIT_TARGET_S = 2 * 3600.0
"""The common planning target the verdict checks: p90 wait ≤ 2 h."""


class Section(NamedTuple):
    """A built section: its markdown and the figures it links."""

    markdown: str
    figures: list[Path]


@dataclass
class Run:
    """A loaded run directory. ``job_table`` and ``series_table`` are the jobs and the
    timeseries as ``files.Table``: numpy columns (``numbers``, ``texts``) or, through
    :attr:`jobs` and :attr:`timeseries`, pandas DataFrames.

    ``shown_elsewhere`` holds the summary keys that some section of this report renders; the
    builder fills it from the registry so the summary's "Other metrics" table leaves them out.
    """

    dir: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    job_table: Any
    series_table: Any
    shown_elsewhere: frozenset[str] = field(default_factory=frozenset)

    @property
    def jobs(self):
        """The jobs as a pandas DataFrame (made on first use)."""
        return self.job_table.frame()

    @property
    def timeseries(self):
        """The timeseries as a pandas DataFrame (made on first use), sorted by ``t_s``."""
        return self.series_table.frame()

    @property
    def scenario(self) -> dict[str, Any]:
        scenario = self.config.get("scenario")
        return scenario if isinstance(scenario, dict) else {}

    @property
    def figures_dir(self) -> Path:
        return self.dir / "figures"

    @property
    def horizon(self) -> float:
        for value in (self.summary.get("horizon_s"), self.scenario.get("horizon")):
            value = seconds(value)
            if value is not None and value > 0:
                return value
        import numpy as np

        t = self.series_table.numbers("t_s")
        t = t[~np.isnan(t)]  # as pandas' max leaves them out
        return float(t.max()) if len(t) and t.max() > 0 else 1.0

    @property
    def warmup(self) -> float:
        for value in (self.summary.get("warmup_s"), self.scenario.get("warmup")):
            value = seconds(value)
            if value is not None:
                return min(value, self.horizon)
        return 0.0

    def _measured_rows(self):
        """Which jobs the wait statistics are about: submitted at or after warm-up, not
        rejected (a boolean array over the job rows)."""
        table = self.job_table
        return (table.numbers("submit_s") >= self.warmup) & (table.texts("state") != "rejected")

    def measured(self, columns: tuple[str, ...] = ()) -> dict[str, Any]:
        """:meth:`measured_jobs` as numpy arrays, without pandas: ``submit_s``, ``start_s``,
        ``wait`` and ``started`` for the jobs the wait statistics are about, and each of
        ``columns`` that the jobs have (the loader's text columns as str, others as float)."""
        import numpy as np

        table, keep = self.job_table, self._measured_rows()
        out = {}
        for name in dict.fromkeys(("submit_s", "start_s", *columns)):
            if name in table.columns:
                out[name] = table.column(name)[keep]
        wait = out["start_s"] - out["submit_s"]
        if "wait_s" in table.columns:
            recorded = table.numbers("wait_s")[keep]
            wait = np.where(np.isnan(recorded), wait, recorded)
        out["wait"] = wait
        out["started"] = ~np.isnan(out["start_s"])
        return out

    def measured_jobs(self, columns: tuple[str, ...] | None = None):
        """Jobs the wait statistics are about: submitted at or after warm-up, not rejected.

        Adds ``wait`` (``wait_s``, else start − submit; NaN if not started) and ``started``.
        ``columns`` limits the copy to those (present) job columns besides ``submit_s`` and
        ``start_s``: a report of ten million jobs then copies a few columns, not all of them.
        """
        jobs = self.jobs
        keep = self._measured_rows()
        if columns is not None:
            wanted = dict.fromkeys(("submit_s", "start_s", "wait_s", *columns))
            jobs = jobs[[c for c in wanted if c in jobs.columns]]
        jobs = jobs[keep]  # a copy: the columns below are added to it, not to run.jobs
        wait = jobs["start_s"] - jobs["submit_s"]
        if "wait_s" in jobs.columns:
            wait = jobs["wait_s"].where(jobs["wait_s"].notna(), wait)
        jobs = jobs.assign(wait=wait, started=jobs["start_s"].notna())
        return jobs


def _always(run: Run) -> bool:
    return True


class SectionSpec(NamedTuple):
    """One entry of the report's registry (``clustersim.report.sections.SECTIONS``).

    ``build`` returns the section, or None when the run lacks what it needs. When
    ``applies(run)`` holds, the section shows ``summary_keys``, and the summary's
    "Other metrics" table leaves them out.
    """

    build: Callable[[Run], Section | None]
    summary_keys: frozenset[str] = frozenset()
    applies: Callable[[Run], bool] = _always
