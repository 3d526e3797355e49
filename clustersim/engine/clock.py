"""The simulation clock: SimPy's environment, plus the one scheduling pass per instant.

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

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation

INF = float("inf")


class Call:
    """A bare event for the engine's own wake-ups (job completions): what SimPy's loop reads
    of an event (``callbacks``, ``_ok``, ``_value``) and nothing more, so scheduling one costs
    a tuple and a heap push instead of a ``Timeout``."""

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callback: Callable, value) -> None:
        self.callbacks: Any = [callback]
        self._ok = True
        self._value = value


class Clock(simpy.Environment):
    def __init__(self) -> None:
        super().__init__()
        # the pass to run once this instant is over, or None (Any: compiled, a declared type would
        # be narrowed to None after ``self.due = None`` though the pass may set it again)
        self.due: Any = None
        self.arrival_at = INF  # the next arrival's time
        self.arrive: Callable[[], None] | None = None  # called at ``arrival_at``

    @property
    def now(self) -> Any:  # SimPy's, read directly by compiled callers (Any: an int stays an int)
        return self._now

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

    def step(self) -> None:
        if not self._pass_or_arrive():
            simpy.Environment.step(self)

    def call_in(self, delay: float, callback: Callable, value) -> None:
        """Run ``callback(event)`` ``delay`` seconds from now (``event._value`` is ``value``),
        at the same time and in the same order as a SimPy timeout of that delay."""
        # SimPy's ``schedule(event, NORMAL, delay)``, written out (the same queue entry)
        heappush(self._queue, (self._now + delay, 1, next(self._eid), Call(callback, value)))  # type: ignore[misc]

    def run(self, until: float | None = None):  # type: ignore[override]
        """SimPy's ``run`` to a time, with SimPy's ``step`` written into the loop (the same
        order of events, passes and arrivals; one function call less per event)."""
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = simpy.Event(self)
        stop._ok = True
        stop._value = None
        self.schedule(stop, 0, at - self._now)  # type: ignore[arg-type]  # URGENT: before regular events at that time
        stop.callbacks.append(StopSimulation.callback)
        queue = self._queue
        event: Any
        try:
            while True:
                if self._pass_or_arrive():
                    continue
                if not queue:
                    raise EmptySchedule
                self._now, _, _, event = heappop(queue)
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}') from None


__all__ = ["Clock"]
