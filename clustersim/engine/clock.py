"""The simulation clock: an environment for SimPy's events, plus one scheduling pass per instant.

An event (arrival, completion, failure, repair, delivery, demand step) only changes state and
marks a pass as due (``due``). Before the clock takes its next event, it looks at the time of
that event: if it is later than now, every event of the current instant has been applied, and
the due pass runs first. So the pass runs once per instant, after all of the instant's events
whatever their order, and costs no entry in the event queue. A pass that marks another pass
due (or schedules an event at the same instant) gets one more pass at that instant, after it.

Arrivals are not SimPy events either: the workload is one sorted stream, so the clock holds
the next submit time (``arrival_at``) beside its queue and calls ``arrive`` when that time is
earlier than the queue's next event (at equal times the queued event goes first; the instant's
pass comes after both, so their order does not matter, and a run's stop event at that time
still stops it before the arrival).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

import simpy
from simpy.core import EmptySchedule, StopSimulation

# Final: a compiled build keeps these in C variables (or inlines them) instead of looking each
# one up in the module's namespace at every use; the clock uses them at every event
INF: Final = float("inf")
URGENT: Final = 0  # SimPy's priorities: an urgent event goes before a normal one at the same time
NORMAL: Final = 1
heappop: Final = heapq.heappop
heappush: Final = heapq.heappush


class Call:
    """A bare event for the engine's own wake-ups (job completions): what the clock's loop reads
    of an event (``callbacks``, ``_ok``, ``_value``) and nothing more, so scheduling one costs
    a tuple and a heap push instead of a ``Timeout``."""

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callback: Callable, value) -> None:
        self.callbacks: Any = [callback]
        self._ok = True
        self._value = value


class Clock:
    """An environment for SimPy's events (``simpy.Event``, ``simpy.Timeout``, ``simpy.Process``
    take it as their ``env``): the same event queue, entries ``(time, priority, id, event)``,
    and the same order of events as ``simpy.Environment``. It is its own class, not a subclass,
    so that the compiled engine reads ``now`` and the queue as fields of a native object rather
    than through an instance dictionary (a few dictionary lookups per event: ~5% of a compiled
    FIFO run).
    """

    def __init__(self, initial_time: float = 0) -> None:
        self._now: Any = initial_time  # Any: an int stays an int, as in SimPy
        self._queue: list = []
        self._eid = 0  # the next event's id (SimPy counts with itertools.count: a native int here)
        self._active_proc: Any = None  # the process being resumed (SimPy's ``Process`` sets it)
        # the pass to run once this instant is over, or None (Any: compiled, a declared type would
        # be narrowed to None after ``self.due = None`` though the pass may set it again)
        self.due: Any = None
        self.arrival_at = INF  # the next arrival's time
        self.arrive: Callable[[], None] | None = None  # called at ``arrival_at``

    @property
    def now(self) -> Any:
        return self._now

    @property
    def active_process(self) -> Any:
        return self._active_proc

    # SimPy's factories, bound to this clock
    def event(self) -> simpy.Event:
        return simpy.Event(self)  # type: ignore[arg-type]

    def timeout(self, delay: float = 0, value: Any = None) -> simpy.Timeout:
        return simpy.Timeout(self, delay, value)  # type: ignore[arg-type]

    def process(self, generator: Any) -> simpy.Process:
        return simpy.Process(self, generator)  # type: ignore[arg-type]

    def all_of(self, events: Any) -> simpy.AllOf:
        return simpy.AllOf(self, events)  # type: ignore[arg-type]

    def any_of(self, events: Any) -> simpy.AnyOf:
        return simpy.AnyOf(self, events)  # type: ignore[arg-type]

    def schedule(self, event: Any, priority: int = NORMAL, delay: float = 0) -> None:
        eid = self._eid
        self._eid = eid + 1
        heappush(self._queue, (self._now + delay, priority, eid, event))

    def schedule_at(self, event: Any, priority: int, when: float) -> None:
        """Queue ``event`` at the absolute time ``when`` (not ``now + delay``, which can land an ulp
        off ``when`` in floating point)."""
        eid = self._eid
        self._eid = eid + 1
        heappush(self._queue, (when, priority, eid, event))

    @property
    def scheduled(self) -> int:
        """How many events have been queued so far (SimPy numbers each one)."""
        return self._eid

    def peek(self) -> float:
        """The time of the next queued event (infinity if none); arrivals are not queued."""
        return self._queue[0][0] if self._queue else INF

    def call_in(self, delay: float, callback: Callable, value) -> None:
        """Run ``callback(event)`` ``delay`` seconds from now (``event._value`` is ``value``),
        at the same time and in the same order as a SimPy timeout of that delay."""
        eid = self._eid
        self._eid = eid + 1
        heappush(self._queue, (self._now + delay, NORMAL, eid, Call(callback, value)))

    def _pass_or_arrive(self) -> bool:
        """Run the due pass if this instant is over, then the next arrival if it comes before
        the next queued event (True then: the step is taken)."""
        queue = self._queue
        due = self.due
        while due is not None:  # a pass may make another pass due, at the same instant
            t = queue[0][0] if queue else INF
            if t <= self._now or self.arrival_at <= self._now:
                break  # events of this instant are left: they come first
            self.due = None
            due()
            due = self.due
        at = self.arrival_at
        if at < INF and (not queue or at < queue[0][0]):
            self._now = at
            self.arrival_at = INF
            self.arrive()  # type: ignore[misc]
            return True
        return False

    def _process_next(self) -> None:
        """Take the next queued event and run its callbacks (EmptySchedule if there is none);
        a failed event that nobody defused is raised, as SimPy does."""
        queue = self._queue
        if not queue:
            raise EmptySchedule
        event: Any
        self._now, _, _, event = heappop(queue)
        callbacks: list
        if isinstance(event, Call):  # the engine's own wake-up (its fields read natively when compiled)
            callbacks = event.callbacks
            event.callbacks = None
            known_ok = True  # a Call never fails
        else:
            callbacks, event.callbacks = event.callbacks, None
            known_ok = False  # its _ok is read after the callbacks, as SimPy reads it
        for i, callback in enumerate(callbacks):
            try:
                callback(event)
            except StopSimulation:
                # as SimPy: the event goes back first in the queue, with its later callbacks,
                # to run when the clock runs again (an empty event, after a run's own stop)
                event.callbacks = callbacks[i + 1 :]
                self.schedule(event, URGENT - 1)
                raise
        if not known_ok and not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

    def step(self) -> None:
        """One step: the due pass and an arrival, or else the next queued event."""
        if not self._pass_or_arrive():
            self._process_next()

    def run(self, until: Any = None) -> Any:
        """Run as SimPy's ``run`` does: to a time (the stop event is urgent, so the normal
        events of that time are left for later), until an event is processed (its value is
        returned), or, with ``until=None``, until nothing is left."""
        if until is not None:
            if isinstance(until, simpy.Event):
                stop: Any = until  # Any: callbacks are None once processed (the stubs say a list)
                if stop.callbacks is None:  # processed already
                    return stop.value
            else:
                at = float(until)
                if at <= self._now:
                    raise ValueError(f"until ({at}) must be greater than the current simulation time")
                stop = simpy.Event(self)  # type: ignore[arg-type]
                stop._ok = True
                stop._value = None
                self.schedule(stop, URGENT, at - self._now)
            stop.callbacks.append(StopSimulation.callback)
        try:
            while True:
                if not self._pass_or_arrive():
                    self._process_next()
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {until}') from None
        return None


__all__ = ["Clock"]
