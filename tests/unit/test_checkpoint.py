"""Checkpoint/restart arithmetic (clustersim/checkpoint.py) on hand-computed cases.

The running example is ``Plan(interval=100, cost=10, restart=50)``: a restarted segment is
50 s of restart, then cycles of 100 s of work + 10 s of checkpoint, and no checkpoint after
the last piece of work. Every expected number below is worked out by hand in the comment
next to it, so a change in the arithmetic (an off-by-one in the checkpoint count, a
checkpoint cut short counted as saved, the restart charged on the first segment) fails.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustersim.checkpoint import (
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    Plan,
    Split,
    first_order_ettr,
    split,
    young_interval,
)

PLAN = Plan(interval=100.0, cost=10.0, restart=50.0)
NEVER = Plan(interval=math.inf, cost=10.0, restart=50.0)


# ----------------------------------------------------------------------------- segment_wall


@pytest.mark.parametrize(
    ("remaining", "restarting", "wall"),
    [
        (0.0, False, 0.0),  # nothing to do
        (0.0, True, 50.0),  # a restart still costs its reload
        (30.0, False, 30.0),  # less than one interval: no checkpoint at all
        (100.0, False, 100.0),  # exactly one interval: ceil(1) - 1 = 0 checkpoints
        (100.5, False, 110.5),  # just over: one checkpoint, then the last 0.5 s
        (250.0, False, 270.0),  # ceil(2.5) - 1 = 2 checkpoints: 250 + 2 * 10
        (250.0, True, 320.0),  # the same after a restart: 50 + 270
        (300.0, False, 320.0),  # exact multiple: 3 pieces, 2 checkpoints (none after the last)
        (300.0, True, 370.0),
    ],
)
def test_segment_wall_hand_cases(remaining, restarting, wall):
    assert PLAN.segment_wall(remaining, restarting) == wall


@pytest.mark.parametrize(
    ("remaining", "restarting", "wall"),
    [(250.0, False, 250.0), (250.0, True, 300.0), (0.0, True, 50.0)],
)
def test_segment_wall_without_checkpoints(remaining, restarting, wall):
    # interval = inf: never checkpoints, so only the restart is added
    assert NEVER.segment_wall(remaining, restarting) == wall


# ----------------------------------------------------------------------------------- split


@pytest.mark.parametrize(
    ("elapsed", "restarting", "expected"),
    [
        # restart phase: everything so far is restart
        (20.0, True, Split(restart=20.0, checkpoint=0.0, saved=0.0, unsaved=0.0)),
        (50.0, True, Split(restart=50.0, checkpoint=0.0, saved=0.0, unsaved=0.0)),
        # mid-work in the first cycle: 80 - 50 = 30 s of work, none saved
        (80.0, True, Split(restart=50.0, checkpoint=0.0, saved=0.0, unsaved=30.0)),
        # the last instant of work before the first checkpoint: 100 s unsaved
        (150.0, True, Split(restart=50.0, checkpoint=0.0, saved=0.0, unsaved=100.0)),
        # mid-checkpoint: 5 s into writing it; the cut-short checkpoint saves nothing
        (155.0, True, Split(restart=50.0, checkpoint=5.0, saved=0.0, unsaved=100.0)),
        # exactly when the first checkpoint completes: 100 s saved, nothing at risk
        (160.0, True, Split(restart=50.0, checkpoint=10.0, saved=100.0, unsaved=0.0)),
        # two full cycles and 37 s more: 50 + 2 * 110 + 37 = 307
        (307.0, True, Split(restart=50.0, checkpoint=20.0, saved=200.0, unsaved=37.0)),
        # a first segment (no restart): 2 cycles + 104 s = 324 -> 4 s into the 3rd checkpoint
        (324.0, False, Split(restart=0.0, checkpoint=24.0, saved=200.0, unsaved=100.0)),
        (0.0, False, Split(restart=0.0, checkpoint=0.0, saved=0.0, unsaved=0.0)),
    ],
)
def test_split_hand_cases(elapsed, restarting, expected):
    assert split(PLAN, elapsed, restarting) == expected


def test_split_without_checkpoints():
    # interval = inf: after the restart, all progress is unsaved
    assert split(NEVER, 500.0, True) == Split(
        restart=50.0, checkpoint=0.0, saved=0.0, unsaved=450.0
    )
    assert split(NEVER, 30.0, True) == Split(restart=30.0, checkpoint=0.0, saved=0.0, unsaved=0.0)
    assert split(NEVER, 500.0, False) == Split(
        restart=0.0, checkpoint=0.0, saved=0.0, unsaved=500.0
    )


plans = st.builds(
    Plan,
    interval=st.one_of(st.just(math.inf), st.floats(1.0, 1e5)),
    cost=st.floats(0.0, 1e3),
    restart=st.floats(0.0, 1e4),
)


@settings(max_examples=300, deadline=None)
@given(plan=plans, elapsed=st.floats(0.0, 1e7), restarting=st.booleans())
def test_split_parts_add_up_to_elapsed(plan, elapsed, restarting):
    part = split(plan, elapsed, restarting)
    assert min(part.restart, part.checkpoint, part.saved, part.unsaved) >= 0.0
    total = part.restart + part.checkpoint + part.saved + part.unsaved
    # the parts are computed with a floor and a subtraction: equal up to float rounding
    assert total == pytest.approx(elapsed, rel=1e-12, abs=1e-9)
    if not restarting:
        assert part.restart == 0.0
    assert part.unsaved <= plan.interval
    if math.isfinite(plan.interval):
        # saved work is a whole number of intervals
        k = part.saved / plan.interval
        assert k == pytest.approx(round(k), abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    plan=plans, remaining=st.floats(1e-3, 1e6), restarting=st.booleans(), frac=st.floats(0.0, 1.0)
)
def test_split_and_segment_wall_agree(plan, remaining, restarting, frac):
    """At the end of an uninterrupted segment exactly ``remaining`` seconds of work are done
    and the checkpoints written are ceil(remaining / interval) - 1; before the end, progress
    (saved + unsaved) never exceeds ``remaining`` (a job cannot do more work than it has)."""
    wall = plan.segment_wall(remaining, restarting)
    end = split(plan, wall, restarting)
    assert end.saved + end.unsaved == pytest.approx(remaining, rel=1e-9, abs=1e-9)
    if math.isfinite(plan.interval):
        n_ck = max(0, math.ceil(remaining / plan.interval) - 1)
        assert end.checkpoint == pytest.approx(plan.cost * n_ck, rel=1e-9, abs=1e-9)
    mid = split(plan, wall * frac, restarting)
    assert mid.saved + mid.unsaved <= remaining * (1 + 1e-12) + 1e-9


# ---------------------------------------------------------------------------- young_interval


def test_young_interval_formula_and_clamps():
    # sqrt(2 * 30 * 60000) = sqrt(3.6e6) = 1897.37 s: inside [300, 10800]
    assert young_interval(30.0, 60_000.0) == pytest.approx(math.sqrt(3.6e6))
    # sqrt(2 * 30 * 100) = 77 s -> clamped up to 5 min
    assert young_interval(30.0, 100.0) == MIN_INTERVAL_S == 300.0
    # sqrt(2 * 30 * 1e9) = 2.4e5 s -> clamped down to 3 h
    assert young_interval(30.0, 1e9) == MAX_INTERVAL_S == 10_800.0
    # free checkpoints, or no failures: the longest allowed interval
    assert young_interval(0.0, 60_000.0) == MAX_INTERVAL_S
    assert young_interval(30.0, math.inf) == MAX_INTERVAL_S
    # the clamp edges themselves: 2 * c * m = 300^2 and 10800^2
    assert young_interval(45.0, 1000.0) == pytest.approx(300.0)
    assert young_interval(50.0, 10_800.0**2 / 100.0) == pytest.approx(10_800.0)


def test_first_order_ettr_formula():
    # 1 - 30/1800 - (900 + 600 + 180) / 13500
    assert first_order_ettr(1800.0, 30.0, 600.0, 180.0, 13_500.0) == pytest.approx(
        1 - 1 / 60 - 1680 / 13_500
    )
    # no failures: only the checkpoint cost remains
    assert first_order_ettr(1800.0, 30.0, 600.0, 180.0, math.inf) == pytest.approx(1 - 1 / 60)
