"""Placement: which node a single-node job goes to (the free-GPU buckets to try, in order).

Multi-node jobs take whole free nodes; single-node jobs take one node with room, and the
placement policy says which: ``Pack`` (best fit) or ``Spread`` (worst fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class PlacementPolicy(Protocol):
    def order(self, gpus: int, per_node: int = 0) -> Sequence[int]:
        """Free-GPU buckets to try, in order, for a single-node job of ``gpus`` GPUs on nodes
        of ``per_node`` GPUs (0: the bound size, pool 0's)."""


class _BucketOrder:
    def __init__(self) -> None:
        self._cache: dict[int, tuple[int, ...]] = {}
        self._other: dict[tuple[int, int], tuple[int, ...]] = {}
        self.gpus_per_node = 0

    def bind(self, gpus_per_node: int) -> None:
        self.gpus_per_node = gpus_per_node
        self._cache = {g: self._make(g, gpus_per_node) for g in range(1, gpus_per_node + 1)}

    def order(self, gpus: int, per_node: int = 0) -> Sequence[int]:
        if not per_node or per_node == self.gpus_per_node:
            return self._cache.get(gpus, ())
        key = (gpus, per_node)
        found = self._other.get(key)
        if found is None:
            found = self._other[key] = self._make(gpus, per_node) if gpus <= per_node else ()
        return found

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        raise NotImplementedError


class Pack(_BucketOrder):
    """Best fit: the node with the fewest free GPUs that still holds the job, so that whole
    nodes stay free for large gang jobs."""

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        return tuple(range(gpus, per_node + 1))


class Spread(_BucketOrder):
    """Worst fit: the node with the most free GPUs (spreads load, fragments more)."""

    def _make(self, gpus: int, per_node: int) -> tuple[int, ...]:
        return tuple(range(per_node, gpus - 1, -1))



PLACEMENTS: dict[str, type] = {"pack": Pack, "spread": Spread}


def build_placement(cfg) -> PlacementPolicy:
    """The placement a ``config.PlacementConfig`` names (its ``kind``)."""
    return PLACEMENTS[cfg.kind]()
