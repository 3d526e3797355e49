"""The report's sections, in the order the report shows them.

Each module builds one section from a loaded :class:`~clustersim.report.model.Run` and
imports only the model, format, files, series, analysis and figures modules, never this
registry or the builder. To add a section, write a module with a ``*_section(run)`` function
(returning None when the run lacks its data) and, if it shows summary numbers, its
``SUMMARY_KEYS`` and ``applies(run)``; then list it here before the glossary.
"""

from __future__ import annotations

from clustersim.report.model import SectionSpec
from clustersim.report.sections import (
    failures,
    glossary,
    headline,
    power,
    queue,
    services,
    summary,
    supply,
    teams,
    title,
    topology,
    trace,
    utilisation,
    wait_by_size,
    wait_distribution,
)

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(title.title_section),
    SectionSpec(headline.headline_section),
    SectionSpec(summary.summary_section, summary.SUMMARY_KEYS),
    SectionSpec(trace.trace_section, trace.SUMMARY_KEYS, trace.applies),
    SectionSpec(utilisation.utilisation_section),
    SectionSpec(queue.queue_section),
    SectionSpec(wait_distribution.wait_distribution_section),
    SectionSpec(wait_by_size.wait_by_size_section),
    SectionSpec(failures.failures_section, failures.SUMMARY_KEYS, failures.applies),
    SectionSpec(supply.supply_section, supply.SUMMARY_KEYS, supply.applies),
    SectionSpec(services.services_section, services.SUMMARY_KEYS, services.applies),
    SectionSpec(power.power_section, power.SUMMARY_KEYS, power.applies),
    SectionSpec(teams.teams_section, teams.SUMMARY_KEYS, teams.applies),
    SectionSpec(topology.topology_section, topology.SUMMARY_KEYS, topology.applies),
    SectionSpec(glossary.glossary_section),  # keep last; new sections go before it
)
