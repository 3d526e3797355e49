"""Worker processes that draw the report's figures while the caller reads the run.

Importing matplotlib and drawing take most of a report's time, and neither needs the run's
tables: a figure function takes plain arrays and returns PNG bytes. ``Drawers(n)`` imports
numpy, which both sides need, and forks one worker at once (before the caller imports pyarrow
and reads the parquet files; ``clustersim report`` even starts it before parsing its command
line); it imports matplotlib and forks the other ``n - 1`` from itself, and each draws
whatever figure calls it is sent. Sections run in the caller's threads, one at a time under
``turn()``: a section hands each ``@styled`` call to an idle worker and lets another section
run until the PNG comes back, so the figures of two sections are drawn at once. Only figure
calls cross: sections' own work (numpy, pandas) never runs in two threads together. A figure is the
same bytes whichever process draws it.

Linux only (``fork``); elsewhere, when the fork is refused, when a worker dies or when an
argument cannot be pickled, the figure is drawn in the calling process, as without workers.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import queue
import signal
import threading
import traceback
from typing import Any

from clustersim.report.figures.style import DRAWERS, draw_here, load_drawing_modules

_LOCAL = None
"""An idle-queue token meaning "draw in this process" (a worker that died)."""


def _serve(conn) -> None:
    """A worker's loop: draw each ``(module, name, args, kwargs)`` received and send back
    ``(True, result)`` or ``(False, exception)``; stop at None or when the caller is gone."""
    try:
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            module, name, args, kwargs = task
            try:
                func = getattr(importlib.import_module(module), name).__wrapped__
                reply = (True, draw_here(func, args, kwargs))
            except Exception as exc:  # sent back and raised in the caller, with where it was
                where = "".join(traceback.format_exception(exc))
                exc.add_note(f"raised in a drawing worker:\n{where}")
                reply = (False, exc)
            try:
                conn.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:  # nothing was sent
                failure = reply[1] if not reply[0] else exc
                conn.send((False, RuntimeError("".join(traceback.format_exception(failure)))))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the caller reports it
        return


def _first_worker(conns: list) -> None:
    """The first worker: import matplotlib once, then fork the others from itself (so they
    start with it imported), serve ``conns[0]`` and reap them."""
    gc.disable()  # importing makes many objects and no garbage: collecting meanwhile is waste
    try:
        load_drawing_modules()
    finally:
        gc.enable()
    others = []
    for conn in conns[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                for other in conns:
                    if other is not conn:
                        other.close()
                _serve(conn)
            finally:
                os._exit(0)
        others.append(pid)
    for conn in conns[1:]:
        conn.close()
    _serve(conns[0])
    for pid in others:
        os.waitpid(pid, 0)


class Drawers:
    """``n`` forked drawing processes and the lock that lets one section run at a time.
    Use as a context manager: the workers are stopped and reaped on exit."""

    def __init__(self, n: int) -> None:
        from multiprocessing import Pipe

        self.n = n
        self._cancelled = False
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        import numpy  # noqa: F401  (imported once for both sides of the fork, not once each)

        pipes = [Pipe() for _ in range(n)]
        try:
            pid = os.fork()
        except OSError:
            for mine, theirs in pipes:
                mine.close()
                theirs.close()
            raise
        if pid == 0:  # the first worker; it never returns into the caller's code
            try:
                for mine, _ in pipes:
                    mine.close()
                _first_worker([theirs for _, theirs in pipes])
            except KeyboardInterrupt:
                pass
            finally:
                os._exit(0)
        self._pid = pid
        self._conns = [mine for mine, _ in pipes]
        for mine, theirs in pipes:
            theirs.close()
            self._idle.put(mine)

    def __enter__(self) -> Drawers:
        return self

    def __exit__(self, kind, *exc: object) -> None:
        self.close(wait=kind is None)

    def close(self, wait: bool = True) -> None:
        """Stop the workers: each ends at the None it is sent, or at end of file. With
        ``wait`` False (the report failed) the first worker is killed rather than waited for,
        which may still be importing matplotlib; the others end at end of file."""
        for conn in self._conns:
            if wait:
                with contextlib.suppress(OSError):
                    conn.send(None)
            conn.close()
        self._conns = []
        if self._pid:
            if not wait:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0

    def cancel(self) -> None:
        """Make every later figure call raise: the caller is giving up on this report."""
        self._cancelled = True

    @contextlib.contextmanager
    def turn(self):
        """Run the body as the one section running now; its figure calls go to the workers."""
        with self._lock:
            token = DRAWERS.set(self)
            try:
                yield
            finally:
                DRAWERS.reset(token)

    def draw(self, func, args: tuple, kwargs: dict[str, Any]):
        """Draw ``func(*args, **kwargs)`` in an idle worker (called inside ``turn()``); the
        lock is let go while the worker draws, so another section can run meanwhile."""
        if self._cancelled:
            raise RuntimeError("report cancelled")
        self._lock.release()
        try:
            conn = self._idle.get()
            if conn is _LOCAL:
                self._idle.put(_LOCAL)
                reply = None
            else:
                reply = self._ask(conn, (func.__module__, func.__qualname__, args, kwargs))
        finally:
            self._lock.acquire()
        if reply is None:
            if self._cancelled:  # the worker likely ended at the same Ctrl-C
                raise RuntimeError("report cancelled")
            return draw_here(func, args, kwargs)
        ok, value = reply
        if ok:
            return value
        raise value

    def _ask(self, conn, task):
        """Send one task and wait for its reply, or None to draw here instead."""
        try:
            conn.send(task)
        except (pickle.PicklingError, TypeError, AttributeError):  # nothing was sent
            self._idle.put(conn)
            return None
        except OSError:  # the worker is gone
            self._idle.put(_LOCAL)
            return None
        try:
            reply = conn.recv()
        except (EOFError, OSError):  # the worker died while drawing
            self._idle.put(_LOCAL)
            return None
        except Exception:  # the reply was read but could not be unpickled here
            reply = None
        self._idle.put(conn)
        return reply


def usable_workers(limit: int = 4) -> int:
    """How many drawing processes to start: one per usable processor, at most ``limit``; 0
    where forking is unsafe or unavailable (not Linux, or other threads running: a fork
    copies a lock one of them may hold)."""
    import sys

    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 0
    cpus = len(os.sched_getaffinity(0))
    return min(limit, cpus) if cpus > 1 else 0


def start_drawers(n: int) -> Drawers | None:
    """``Drawers(n)``, or None when ``n`` < 1 or the system refuses the pipes or the fork
    (then everything is drawn in this process, as without workers)."""
    if n < 1:
        return None
    try:
        return Drawers(n)
    except OSError:
        return None
