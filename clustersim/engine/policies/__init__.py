"""Queue policies: which waiting jobs start now. One small class per policy behind the
``QueuePolicy`` protocol (``strict``); the scenario names one by ``kind`` and ``build_policy``
maps it to its class.

- ``fifo``: strict arrival order (``strict.Fifo``);
- ``sjf``: shortest job first, strict (``strict.ShortestFirst``);
- ``backfill``: EASY backfilling as published (``easy.EasyBackfill``);
- ``conservative``: conservative backfilling as published (``conservative.ConservativeBackfill``);
- ``fairshare``: Slurm's multifactor priority with fair share, then EASY (``fairshare.Fairshare``);
- ``srtf``: preemptive shortest remaining time first (``srtf.ShortestRemaining``);
- ``las``: Tiresias' discretised 2D least attained service, preemptive (``las.LeastAttained``).

A policy with an ``attach(engine)`` method is given the engine once, at construction: the
preemptive ones (``preemptive.Preemptive``) evict running jobs through it.
"""

from __future__ import annotations

from clustersim.engine.policies.conservative import ConservativeBackfill
from clustersim.engine.policies.easy import EasyBackfill
from clustersim.engine.policies.fairshare import Fairshare
from clustersim.engine.policies.las import LeastAttained
from clustersim.engine.policies.srtf import ShortestRemaining
from clustersim.engine.policies.strict import Fifo, QueuePolicy, ShortestFirst

POLICIES: dict[str, type] = {
    "fifo": Fifo,
    "sjf": ShortestFirst,
    "backfill": EasyBackfill,
    "conservative": ConservativeBackfill,
    "fairshare": Fairshare,
    "srtf": ShortestRemaining,
    "las": LeastAttained,
}


def build_policy(cfg) -> QueuePolicy:
    """The queue policy a ``config.PolicyConfig`` names (its ``kind``)."""
    return POLICIES[cfg.kind].from_config(cfg)


__all__ = [
    "POLICIES", "ConservativeBackfill", "EasyBackfill", "Fairshare", "Fifo", "LeastAttained", "QueuePolicy",
    "ShortestFirst", "ShortestRemaining", "build_policy",
]
