"""The clock is an environment for SimPy's events: the same order of events as
``simpy.Environment``, plus one scheduling pass per instant and arrivals beside the queue."""

from __future__ import annotations

import random

import pytest
import simpy

from clustersim.engine.clock import Clock


def _script(env, rng: random.Random, log: list) -> None:
    """Timeouts, processes and urgent/normal events at colliding times, each logging when it
    fires; the same seed gives the same script on any environment."""

    def note(label):
        return lambda event: log.append((env.now, label, event.value))

    for i in range(40):
        t = env.timeout(rng.choice([0, 1, 1, 2, 2.5, 3, 7]), value=i)
        t.callbacks.append(note(f"timeout{i}"))

    def proc(k):
        for step in range(3):
            got = yield env.timeout(rng.choice([0, 1, 2]), value=(k, step))
            log.append((env.now, f"proc{k}", got))
            if step == 1:
                ev = env.event()
                ev.callbacks.append(note(f"event{k}"))
                ev.succeed(k)
        return k * 10

    procs = [env.process(proc(k)) for k in range(6)]
    for p in procs:
        p.callbacks.append(note("done"))
    both = env.all_of(procs[:2])
    both.callbacks.append(lambda event: log.append((env.now, "all_of", sorted(event.value.values()))))
    first = env.any_of(procs[2:4])
    first.callbacks.append(lambda event: log.append((env.now, "any_of", len(event.value.todict()))))


@pytest.mark.parametrize("seed", range(5))
def test_same_order_as_simpy(seed: int) -> None:
    logs = []
    for make in (simpy.Environment, Clock):
        env = make()
        log: list = []
        _script(env, random.Random(seed), log)
        env.run(until=2)  # the stop is urgent: normal events at 2 wait for the next run
        log.append((env.now, "stopped", env.peek()))
        env.run(until=env.timeout(1.5, value="v"))
        log.append((env.now, "stopped", env.peek()))
        env.run()
        log.append((env.now, "empty", env.peek()))
        logs.append(log)
    assert logs[0] == logs[1]
    assert len(logs[0]) > 60


def test_run_errors_as_simpy() -> None:
    clock = Clock()
    clock.run(until=5)
    with pytest.raises(ValueError, match="must be greater"):
        clock.run(until=5)
    never = clock.event()
    with pytest.raises(RuntimeError, match="No scheduled events left"):
        clock.run(until=never)
    bad = clock.event()
    bad.fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        clock.run()
    done = clock.timeout(1, value=3)
    clock.run()
    assert clock.run(until=done) == 3  # processed already: its value at once


def test_one_pass_per_instant_after_every_event_of_it() -> None:
    """The due pass runs once per instant, after all of that instant's events (queued events and
    arrivals alike); a queued event goes before an arrival at the same time."""
    clock = Clock()
    log: list = []

    def pass_():
        log.append((clock.now, "pass"))

    def due(label):
        def callback(event):
            log.append((clock.now, label))
            clock.due = pass_
        return callback

    arrivals = iter([2.0])

    def arrive():
        log.append((clock.now, "arrival"))
        clock.due = pass_
        clock.arrival_at = next(arrivals, float("inf"))

    clock.arrive = arrive
    clock.arrival_at = 1.0
    for label, at in [("a", 1.0), ("b", 1.0), ("c", 3.0)]:
        clock.call_in(at, due(label), None)
    clock.run(until=10)
    assert log == [
        (1.0, "a"), (1.0, "b"), (1.0, "arrival"), (1.0, "pass"),
        (2.0, "arrival"), (2.0, "pass"),
        (3.0, "c"), (3.0, "pass"),
    ]
