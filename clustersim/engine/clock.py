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

import simpy

INF = float("inf")


class Clock(simpy.Environment):
    def __init__(self) -> None:
        super().__init__()
        self.due: Callable[[], None] | None = None  # the pass to run once this instant is over
        self.arrival_at = INF  # the next arrival's time
        self.arrive: Callable[[], None] | None = None  # called at ``arrival_at``

    def step(self) -> None:
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
            self.arrive()
            return
        simpy.Environment.step(self)


__all__ = ["Clock"]
