"""Named, independent, seeded random streams. The only place random generators are built.

``Streams(seed)("arrivals.small")`` always returns the same generator for the same seed and
name, independent of every other name and of the order in which streams are asked for. Two
runs that differ only in policy therefore see identical arrivals and failures (common random
numbers). Names are hashed with a stable hash (BLAKE2b), never Python's salted ``hash()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np


def _name_key(name: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Streams:
    """A family of independent ``numpy.random.Generator`` objects keyed by name."""

    def __init__(self, seed: Any):  # an int, checked here (compiled, ``int`` would refuse or convert first)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self._cache: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        gen = self._cache.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._cache[name] = gen
        return gen


class Draws:
    """Scalar draws from a vectorised sampler, fetched in blocks to keep the hot loop cheap.

    ``sample(n)`` must return an array of ``n`` values; ``next()`` hands them out one by one.
    The sequence depends only on the generator, so it is reproducible.
    """

    __slots__ = ("_sample", "_block", "_buf", "_i")

    def __init__(self, sample: Callable[[int], Any], block: int = 4096):
        self._sample = sample
        self._block = block
        self._buf: list = []
        self._i = 0

    def next(self):  # a float, or a row of floats
        if self._i >= len(self._buf):
            self._buf = self._sample(self._block).tolist()
            self._i = 0
        value = self._buf[self._i]
        self._i += 1
        return value
