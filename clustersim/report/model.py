"""The types sections and the builder share: a loaded run, a built section, a registry entry.

Nothing here reads files (see ``clustersim.report.files``); pandas is used only inside
:meth:`Run.measured_jobs`, on the frames the loader made.
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
    """A loaded run directory. ``jobs`` and ``timeseries`` are pandas DataFrames.

    ``shown_elsewhere`` holds the summary keys that some section of this report renders; the
    builder fills it from the registry so the summary's "Other metrics" table leaves them out.
    """

    dir: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    jobs: Any
    timeseries: Any
    shown_elsewhere: frozenset[str] = field(default_factory=frozenset)

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
        t = self.timeseries["t_s"]
        return float(t.max()) if len(t) and t.max() > 0 else 1.0

    @property
    def warmup(self) -> float:
        for value in (self.summary.get("warmup_s"), self.scenario.get("warmup")):
            value = seconds(value)
            if value is not None:
                return min(value, self.horizon)
        return 0.0

    def measured_jobs(self, columns: tuple[str, ...] | None = None):
        """Jobs the wait statistics are about: submitted at or after warm-up, not rejected.

        Adds ``wait`` (``wait_s``, else start − submit; NaN if not started) and ``started``.
        ``columns`` limits the copy to those (present) job columns besides ``submit_s`` and
        ``start_s``: a report of ten million jobs then copies a few columns, not all of them.
        """
        jobs = self.jobs
        keep = ((jobs["submit_s"] >= self.warmup) & (jobs["state"] != "rejected")).to_numpy(bool)
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
