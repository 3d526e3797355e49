"""The scenario's components (``engine.component``): which ones a scenario has, built in
attach order. Each is imported only when the scenario uses it, so a run without failures,
supply, inference, tenancy, topology or power loads none of their code."""

from __future__ import annotations

from clustersim.config import Scenario
from clustersim.engine.component import Component
from clustersim.rng import Streams


def components(scenario: Scenario, streams: Streams) -> list[Component]:
    """The scenario's components, in attach order (failures, supply, inference, tenancy, power)."""
    found: list[Component] = []
    if scenario.cluster.topology is not None:  # first: the others see its domain index
        from clustersim.engine.topology import Topology

        found.append(Topology(scenario, streams))
    if scenario.failures is not None:
        from clustersim.engine.failures import Failures

        found.append(Failures(scenario, streams))
        if scenario.failures.slow is not None:
            from clustersim.engine.slowness import FailSlow

            found.append(FailSlow(scenario, streams))
    if scenario.supply is not None:
        from clustersim.engine.supply import Supply

        found.append(Supply(scenario, streams))
    if scenario.services:
        from clustersim.engine.inference import Inference

        found.append(Inference(scenario, streams))
    if scenario.tenancy is not None:
        from clustersim.engine.tenancy import Tenancy

        found.append(Tenancy(scenario, streams))
    if scenario.maintenance is not None:
        from clustersim.engine.maintenance import Maintenance

        found.append(Maintenance(scenario, streams))
    if scenario.power is not None:  # last: it reads the others' levels (replica GPUs)
        from clustersim.engine.capped_power import CappedPower
        from clustersim.engine.power import Power

        # capping also slows jobs (the core's speed hook): a component class of its own
        found.append((CappedPower if scenario.power.mode == "capping" else Power)(scenario, streams))
    return found
