"""The level recorder's rows: one per change, same-time changes coalesced, a same-time change
that undoes itself dropped (and the next change after it gets a row of its own)."""

from __future__ import annotations

from clustersim.results.recorder import Recorder

A = (10, 100, 1, 0, 0, 0)
B = (20, 100, 2, 0, 0, 0)
C = (30, 100, 3, 0, 0, 0)


def rows(rec: Recorder) -> list[tuple]:
    frame = rec.frame()
    return [(row[0], tuple(row[1:])) for row in frame.itertuples(index=False)]


def test_same_time_changes_keep_the_last():
    rec = Recorder()
    rec.level(0.0, *A)
    rec.level(1.0, *B)
    rec.level(1.0, *C)
    assert rows(rec) == [(0.0, A), (1.0, C)]


def test_a_change_that_undoes_itself_is_dropped_and_the_next_one_is_a_new_row():
    rec = Recorder()
    rec.level(0.0, *A)
    rec.level(1.0, *B)
    rec.level(1.0, *A)  # back to the row before at the same instant: no row at 1.0
    rec.level(1.0, *C)  # so this is a change at 1.0, not an overwrite of the row at 0.0
    rec.level(2.0, *C)  # no change: no row
    assert rows(rec) == [(0.0, A), (1.0, C)]


def test_undo_then_later_change():
    rec = Recorder()
    rec.level(0.0, *A)
    rec.level(5.0, *B)
    rec.level(5.0, *A)
    rec.level(7.0, *B)
    assert rows(rec) == [(0.0, A), (7.0, B)]
