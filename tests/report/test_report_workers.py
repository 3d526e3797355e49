"""Figures drawn by forked worker processes: the same files as drawing in one process, errors
and dead workers handled, and sections' own work never running in two threads at once."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

from clustersim.report.build import build_report, build_sections
from clustersim.report.figures.style import styled
from clustersim.report.figures.workers import Drawers, usable_workers
from clustersim.report.model import Section, SectionSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "lingang-4000"
RUN_FILES = ("config.json", "summary.json", "jobs.parquet", "timeseries.parquet", "events.parquet")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork (Linux)")


def copy_run(to: Path) -> Path:
    to.mkdir()
    for name in RUN_FILES:
        if (EXAMPLE / name).is_file():
            shutil.copy(EXAMPLE / name, to / name)
    return to


def files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_workers_write_the_same_bytes_as_one_process(tmp_path):
    alone, shared = copy_run(tmp_path / "alone"), copy_run(tmp_path / "shared")
    build_report(alone, workers=0)
    build_report(shared, workers=2)
    a, b = files(alone), files(shared)
    assert sorted(a) == sorted(b)
    assert len([n for n in a if n.endswith(".png")]) >= 4
    assert [n for n in a if a[n] != b[n]] == []


@styled
def _pid_png(label: str) -> tuple[int, str]:
    return os.getpid(), label


@styled
def _failing_png() -> bytes:
    raise ValueError("cannot draw this")


PARENT = os.getpid()


@styled
def _dies_in_a_worker_png() -> int:
    if os.getpid() != PARENT:
        os._exit(3)
    return os.getpid()


def test_figure_calls_inside_a_turn_are_drawn_by_a_worker():
    with Drawers(2) as drawers:
        with drawers.turn():
            pid, label = _pid_png("x")
        assert pid != os.getpid() and label == "x"
        assert _pid_png("here")[0] == os.getpid()  # outside a turn: drawn here


def test_an_error_in_a_worker_is_raised_in_the_caller():
    with Drawers(1) as drawers, drawers.turn(), pytest.raises(ValueError, match="cannot draw this"):
        _failing_png()


def test_a_dead_worker_is_replaced_by_drawing_here():
    with Drawers(1) as drawers, drawers.turn():
        assert _dies_in_a_worker_png() == os.getpid()
        assert _dies_in_a_worker_png() == os.getpid()  # and it stays so
        assert _pid_png("y") == (os.getpid(), "y")


@styled
def _meet_png(here: str, there: str) -> bool:
    """Leave a mark and wait (up to 20 s) for the other call's: True when both were drawn
    at the same time."""
    import time

    Path(here).touch()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if Path(there).exists():
            return True
        time.sleep(0.01)
    return False


def test_sections_draw_together_but_their_own_work_runs_one_at_a_time(tmp_path):
    import time

    from clustersim.report.files import load_run

    run = load_run(copy_run(tmp_path / "run"))
    inside, overlaps = [0], []

    def own_work():
        inside[0] += 1
        overlaps.append(inside[0] > 1)
        time.sleep(0.02)  # lets another thread run, if anything allowed it to
        inside[0] -= 1

    def section(n: int) -> SectionSpec:
        def build(run) -> Section:
            own_work()
            met = _meet_png(str(tmp_path / f"{n}"), str(tmp_path / f"{1 - n}"))
            own_work()
            return Section(f"section {n} met the other: {met}", [])
        return SectionSpec(build)

    with Drawers(2) as drawers:
        built = build_sections(run, [section(0), section(1)], drawers=drawers)
    assert [s.markdown for s in built] == [f"section {n} met the other: True" for n in (0, 1)]
    assert overlaps and not any(overlaps)


def test_no_workers_where_other_threads_run():
    started, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: (started.set(), stop.wait()))
    thread.start()
    try:
        started.wait()
        assert usable_workers() == 0
    finally:
        stop.set()
        thread.join()


def test_a_refused_fork_draws_everything_here(tmp_path, monkeypatch):
    def refuse():
        raise OSError(11, "Resource temporarily unavailable")

    alone, refused = copy_run(tmp_path / "alone"), copy_run(tmp_path / "refused")
    build_report(alone, workers=0)
    monkeypatch.setattr(os, "fork", refuse)
    build_report(refused, workers=2)
    assert files(alone) == files(refused)


def test_the_console_script_starts_the_workers_early_and_writes_the_same_bytes(tmp_path):
    import subprocess

    from clustersim.cli.report import early_drawers

    assert early_drawers(["run"]) is None and early_drawers(["report", "--help"]) is None
    alone, cli = copy_run(tmp_path / "alone"), copy_run(tmp_path / "cli")
    build_report(alone, workers=0)
    done = subprocess.run([sys.executable, "-m", "clustersim", "report", str(cli)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert files(alone) == files(cli)
    wrong = subprocess.run([sys.executable, "-m", "clustersim", "report"],  # no run directory
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "Missing argument" in wrong.stderr
