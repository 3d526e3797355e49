"""The wait queue: jobs kept sorted by the policy's key, so a pass never sorts or scans it all.

Arrival-ordered policies append in O(1); other keys insert by bisection. A requeued job
(after a failure or preemption) goes back to the place its key gives it.

Taking the head (``popleft``, what FIFO does at every start) is O(1) too: the taken jobs stay
at the front of the lists, behind ``_head``, until half the lists are taken, then go in one
slice. Deleting them one at a time would move the whole queue in memory at every start, a cost
that grows with the queue (an overloaded run keeps tens of thousands queued). A job taken from
near the front (``pop``, as backfilling takes them) moves the jobs before it up one place
instead of every job after it down, so it costs its index, not the queue's length; ``window``
gives the first jobs without touching the rest. ``jobs`` drops the taken front first, so
callers always see exactly the queued jobs.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Final

from clustersim.model import Job

# Final: a compiled build keeps these in C variables (or inlines them) instead of looking
# each one up in the module's namespace at every use
bisect_right: Final = bisect.bisect_right
COMPACT_AT: Final = 64  # taken jobs kept at the front before a slice may drop them


class JobQueue:
    __slots__ = ("_key", "_keys", "_jobs", "_head", "gpus")

    def __init__(self, key: Callable[[Job], tuple]):
        self._key = key
        self._keys: list[tuple] = []
        self._jobs: list[Job] = []  # sorted by key; the first ``_head`` are taken
        self._head = 0
        self.gpus = 0  # GPUs requested by queued jobs

    @property
    def jobs(self) -> list[Job]:
        """The queued jobs in key order: read-only for callers, and current only until the queue
        next changes (take it again after a ``pop`` or ``push``)."""
        if self._head:
            self._compact()
        return self._jobs

    def _compact(self) -> None:
        h = self._head
        del self._jobs[:h]
        del self._keys[:h]
        self._head = 0

    def __len__(self) -> int:
        return len(self._jobs) - self._head

    def __bool__(self) -> bool:
        return len(self._jobs) > self._head

    def first(self) -> Job | None:
        """The head of the queue, or None when it is empty."""
        return self._jobs[self._head] if len(self._jobs) > self._head else None

    def push(self, job: Job) -> int:
        """Insert in key order; returns the job's index."""
        k = self._key(job)
        keys = self._keys
        head = self._head
        if len(keys) == head or keys[-1] <= k:
            keys.append(k)
            self._jobs.append(job)
            i = len(keys) - 1
        else:
            i = bisect_right(keys, k, head)
            keys.insert(i, k)
            self._jobs.insert(i, job)
        self.gpus += job.spec.num_gpus
        return i - head

    def window(self, n: int) -> list[Job]:
        """The first ``n`` queued jobs, in order (a new list: O(n) whatever the queue's length)."""
        h = self._head
        return self._jobs[h:h + n]

    def at(self, index: int) -> Job | None:
        """The job at ``index`` (0: the head), or None past the end: O(1), nothing copied."""
        i = self._head + index
        return self._jobs[i] if i < len(self._jobs) else None

    def popleft(self) -> Job:
        """Take the head (O(1): see the module docstring)."""
        job = self._jobs[self._head]
        self._head += 1
        self.gpus -= job.spec.num_gpus
        self._trim()
        return job

    def pop(self, index: int = 0) -> Job:
        """Take the job at ``index``: in the front half by moving the jobs before it up one
        place (O(index)), else by deleting it (O(length - index))."""
        jobs, keys = self._jobs, self._keys
        h = self._head
        i = h + index
        job = jobs[i]
        if 2 * index < len(jobs) - h:
            if index:
                jobs[h + 1:i + 1] = jobs[h:i]  # same length: nothing after i moves
                keys[h + 1:i + 1] = keys[h:i]
            self._head = h + 1
            self.gpus -= job.spec.num_gpus
            self._trim()
            return job
        del keys[i]
        del jobs[i]
        self.gpus -= job.spec.num_gpus
        return job

    def _trim(self) -> None:
        """Drop the taken front once it is half the lists (or everything is taken)."""
        h = self._head
        if h == len(self._jobs):  # empty: start the lists afresh
            self._jobs.clear()
            self._keys.clear()
            self._head = 0
        elif h >= COMPACT_AT and 2 * h >= len(self._jobs):
            self._compact()

    def remove_indices(self, indices: list[int]) -> None:
        """Remove several jobs by index (any order)."""
        for i in sorted(indices, reverse=True):
            self.pop(i)

    def index(self, job: Job) -> int:
        """Position of a queued job (bisection on its key, then identity)."""
        k = self._key(job)
        head = self._head
        keys = self._keys
        i = bisect_right(keys, k, head) - 1
        while i >= head and keys[i] == k:
            if self._jobs[i] is job:
                return i - head
            i -= 1
        raise ValueError(f"{job!r} is not queued")
