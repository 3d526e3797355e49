"""Where runs execute: one small interface, a local process pool by default, Dask optionally.

An executor has ``map(fn, items)``, an iterator over ``fn(item)`` for every item *in the
order they complete*, plus ``slots`` (how many items it runs at once) and ``close()``. The
callers make each result self-identifying (a run's record names its scenario hash and seed),
so completion order never matters and every executor gives the same tables.

Stopping: if the consumer stops early (an exception, Ctrl-C, closing the iterator) the
executor cancels every pending item before the exception travels on; the local pool also
stops its workers, so Ctrl-C returns at once instead of after the runs in flight.

``fn`` and the items must pickle (a module-level function and plain records): nothing with
live state, such as a SimPy engine, ever crosses a process boundary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from clustersim.errors import ClusterSimError


class Executor(Protocol):
    """Runs ``fn`` over items, yielding results as they complete."""

    @property
    def slots(self) -> int: ...

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which cancels and stops them cleanly."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalExecutor:
    """A ``ProcessPoolExecutor`` over this machine's cores; ``workers=1`` runs in-process.

    The pool is started on first use and kept for the executor's life, so a search that maps
    several batches pays the start-up once.
    """

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise ClusterSimError(f"--workers must be at least 1, got {workers}")
        self.workers = workers or os.cpu_count() or 1
        self._pool = None

    @property
    def slots(self) -> int:
        return self.workers

    def __repr__(self) -> str:
        return f"local pool, {self.workers} worker{'s' if self.workers != 1 else ''}"

    def map(self, fn, items) -> Iterator[Any]:
        items = list(items)
        if self.workers == 1:
            for item in items:
                yield fn(item)
            return
        yield from self._pooled(fn, items)

    def _pooled(self, fn, items) -> Iterator[Any]:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_ignore_sigint)
        futures = {self._pool.submit(fn, item) for item in items}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            self._stop()
            raise

    def _stop(self) -> None:
        """Shut the pool down now: cancel queued work and end the workers mid-run."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A ``dask.distributed.Client`` on a scheduler address, or on a cluster object.

    ``address`` is a scheduler address (``tcp://host:8786``) or a cluster object such as a
    ``LocalCluster``; the executor closes the client it made, never the cluster it was given.
    """

    def __init__(self, address: Any):
        try:
            from distributed import Client
        except ImportError:
            raise ClusterSimError(
                "--dask needs dask.distributed: pip install 'clustersim[dask]'"
            ) from None
        try:
            self.client = Client(address)
        except (OSError, TimeoutError, ValueError) as err:
            raise ClusterSimError(f"cannot connect to the Dask scheduler at {address}: {err}") from None
        self.address = address

    @property
    def slots(self) -> int:
        threads = self.client.nthreads()
        return max(1, sum(threads.values()))

    def __repr__(self) -> str:
        return f"dask at {self.client.scheduler.address}, {self.slots} threads"

    def map(self, fn, items) -> Iterator[Any]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        self.client.close()


def make_executor(workers: int | None = None, dask: Any = None) -> Executor:
    """The executor the command line asked for: Dask when given an address, else local."""
    if dask:
        return DaskExecutor(dask)
    return LocalExecutor(workers)


__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "make_executor"]
