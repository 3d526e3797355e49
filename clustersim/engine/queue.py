"""The wait queue: jobs kept sorted by the policy's key, so a pass never sorts or scans it all.

Arrival-ordered policies append in O(1); other keys insert by bisection. A requeued job
(after a failure or preemption) goes back to the place its key gives it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from clustersim.model import Job


class JobQueue:
    __slots__ = ("_key", "_keys", "jobs", "gpus")

    def __init__(self, key: Callable[[Job], tuple]):
        self._key = key
        self._keys: list[tuple] = []
        self.jobs: list[Job] = []  # read-only for callers; sorted by key
        self.gpus = 0  # GPUs requested by queued jobs

    def __len__(self) -> int:
        return len(self.jobs)

    def __bool__(self) -> bool:
        return bool(self.jobs)

    def push(self, job: Job) -> int:
        """Insert in key order; returns the job's index."""
        k = self._key(job)
        keys = self._keys
        if not keys or keys[-1] <= k:
            keys.append(k)
            self.jobs.append(job)
            i = len(keys) - 1
        else:
            i = bisect_right(keys, k)
            keys.insert(i, k)
            self.jobs.insert(i, job)
        self.gpus += job.spec.num_gpus
        return i

    def pop(self, index: int = 0) -> Job:
        del self._keys[index]
        job = self.jobs.pop(index)
        self.gpus -= job.spec.num_gpus
        return job

    def remove_indices(self, indices: list[int]) -> None:
        """Remove several jobs by index (any order)."""
        for i in sorted(indices, reverse=True):
            self.pop(i)

    def index(self, job: Job) -> int:
        """Position of a queued job (bisection on its key, then identity)."""
        k = self._key(job)
        i = bisect_right(self._keys, k) - 1
        while i >= 0 and self._keys[i] == k:
            if self.jobs[i] is job:
                return i
            i -= 1
        raise ValueError(f"{job!r} is not queued")
