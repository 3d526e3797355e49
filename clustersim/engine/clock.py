"""The simulation clock: SimPy's environment, plus the one scheduling pass per instant.

An event (arrival, completion, failure, repair, delivery, demand step) only changes state and
marks a pass as due (``due``). Before the clock takes its next event, it looks at the time of
that event: if it is later than now, every event of the current instant has been applied, and
the due pass runs first. So the pass runs once per instant, after all of the instant's events
whatever their order, and costs no entry in the event queue. A pass that marks another pass
due (or schedules an event at the same instant) gets one more pass at that instant, after it.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy


class Clock(simpy.Environment):
    def __init__(self) -> None:
        super().__init__()
        self.due: Callable[[], None] | None = None  # the pass to run once this instant is over

    def step(self) -> None:
        due = self.due
        while due is not None:  # a pass may make another pass due, at the same instant
            queue = self._queue
            if queue and queue[0][0] <= self._now:
                break  # events of this instant are left: they come first
            self.due = None
            due()
            due = self.due
        simpy.Environment.step(self)


__all__ = ["Clock"]
