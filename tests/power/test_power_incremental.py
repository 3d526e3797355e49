"""The power gate's and the capping allocation's incremental books agree with a computation from
scratch, float for float.

The gate keeps its profile of running jobs' power by end as jobs start and end, instead of
sorting every running job on each allocation change; ``_fits`` first tries a bound that holds
at every point it would check; ``admits`` answers from earlier answers in the same state when
they imply the new one; capping keeps its running jobs in throttle order. The tests check each
against what the code computed before (a full sort and prefix sum, the loop over every point,
a sort of ``engine.running``): on hand-made sequences (hypothesis) and on whole runs, where
every call is checked as it happens.
"""

from __future__ import annotations

import copy
from itertools import accumulate
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from power_helpers import run

from clustersim.config import scenario_from_dict
from clustersim.engine.capped_power import CappedPower
from clustersim.engine.power_gate import Gate
from clustersim.engine.power_modes import throttle_rank

H = 3600.0


class FakeJob:
    """What the gate reads of a running job: its GPUs and pool (hashable, by identity)."""

    def __init__(self, gpus: int):
        self.spec = SimpleNamespace(num_gpus=gpus)
        self.pool = 0


def rebuilt(ends_of: dict, dw: float):
    """The profile as the gate computed it before it was kept in place: sort every running
    job's (end, d), then prefix sums in that order."""
    jobs = sorted((end, job.spec.num_gpus * dw) for job, end in ends_of.items())
    cum = list(accumulate(d for _, d in jobs))
    return [e for e, _ in jobs], cum, cum[-1] if cum else 0.0


def hexes(values) -> list[str]:
    return [float(v).hex() for v in values]


# (op, end slot, GPUs): few distinct ends so that ties (equal ends, equal d) are common
ops_st = st.lists(st.tuples(st.sampled_from(["start", "end", "retime"]), st.integers(0, 6),
                            st.sampled_from([1, 2, 3, 8, 24, 512])), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ops=ops_st, dw=st.sampled_from([300.0, 0.55 * 400 - 60, 0.7 * 700 - 80.3]))
def test_the_profile_kept_in_place_equals_a_rebuild_float_for_float(ops, dw):
    # d = GPUs x (floor x busy_w - idle_w) is rarely a whole number: the prefix sums must be
    # taken in the same order as a full sort's, or they round differently
    power = SimpleNamespace(cluster=None, engine=None, static_steps=[], static_at=lambda t: 0.0, bounds=[0.0])
    end_of: dict = {}
    gate = Gate(power, [dw], 1.0, end_of.get)
    slots = [1000.0 + 0.1 * k for k in range(7)]
    running: list[FakeJob] = []
    for op, slot, gpus in ops:
        if op == "start" or not running:
            job = FakeJob(gpus)
            end_of[job] = slots[slot]
            running.append(job)
            gate.add(job)
        elif op == "end":
            job = running.pop(slot % len(running))
            gate.remove(job)
            del end_of[job]
        else:  # a re-timing moves its end (admission books the expected end)
            job = running[slot % len(running)]
            end_of[job] = slots[(slot + 3) % 7]
            gate.refile(job)
        ends, cum, total = gate._profile()
        want_ends, want_cum, want_total = rebuilt(end_of, dw)
        assert hexes(ends) == hexes(want_ends)
        assert hexes(cum) == hexes(want_cum)
        assert float(total).hex() == float(want_total).hex()


# ----------------------------------------------------------------------------- whole runs

TYPES = {"A": {"idle_w": 100, "busy_w": 400, "node_w": 500}, "B": {"idle_w": 150, "busy_w": 700, "node_w": 1000}}
CLASSES = [
    {"name": "s", "arrival_rate_per_h": 12, "gpus": {1: 0.6, 2: 0.1, 8: 0.3},
     "duration": {"kind": "lognormal", "median": "20m", "p90": "3h"}},
    {"name": "m", "arrival_rate_per_h": 0.6, "gpus": {16: 0.5, 24: 0.5},
     "duration": {"kind": "lognormal", "median": "3h", "p90": "12h"}},
    {"name": "b", "arrival_rate_per_h": 0.4, "gpus": {8: 1.0}, "gpu_type": "B",
     "duration": {"kind": "lognormal", "median": "2h", "p90": "8h"}},
]


def supply_scenario(mode: str, *, order: str = "smallest_first", cap_w: float = 22_500.0, **extra):
    """Four A nodes growing by deliveries of B and A (burn-in at full power) under a cap that
    binds once they arrive; a capping curve with an uneven floor (0.55) so d is not whole."""
    power = {"mode": mode, "gpu_types": copy.deepcopy(TYPES), "pue": 1.25, "cap_mw": cap_w * 1.25 / 1e6,
             "capping": {"order": order, "training": [[0.55, 0.7], [0.8, 0.93], [1.0, 1.0]]}}
    power.update(extra.pop("power", {}))
    data = {
        "name": "power-incremental",
        "horizon": 8 * 86400.0,
        "cluster": {"nodes": 4, "gpus_per_node": 8, "gpu_type": "A"},
        "scheduler": {"policy": "backfill"},
        "workload": {"classes": copy.deepcopy(CLASSES)},
        "supply": {"gpu_types": {"A": {"speed": 1.0}, "B": {"speed": 2.0}},
                   "orders": [{"at": 0.0, "nodes": 2, "gpu_type": "B", "lead_time": 30 * H, "burn_in": 10 * H,
                               "batch_nodes": 1, "batch_every": 20 * H},
                              {"at": 0.0, "nodes": 1, "gpu_type": "A", "lead_time": 60 * H, "burn_in": 8 * H}],
                   "acceptance": {"fail_fraction": 0.0}, "energy": {"burn_in_power": "busy"}},
        "power": power,
        **extra,
    }
    return scenario_from_dict(data)


@pytest.fixture
def checked(monkeypatch):
    """Check every gate query and every capping allocation of the runs in the test against the
    computations from scratch; returns counts of what was checked."""
    seen = {"fits": 0, "roomy": 0, "full": 0, "known": 0, "rebalance": 0, "ranked": 0}
    fits, known, rebalance = Gate._fits, Gate._known, CappedPower._rebalance

    def checked_fits(self, d, start, end, phantom):
        ends, cum, total = self._profile()
        jobs = sorted((self.end_of(j), j.spec.num_gpus * self.dw[j.pool]) for j in self.engine.running)
        want_cum = list(accumulate(dd for _, dd in jobs))
        assert hexes(ends) == hexes(e for e, _ in jobs) and hexes(cum) == hexes(want_cum)
        got = fits(self, d, start, end, phantom)
        flat, self.flat = self.flat, False
        try:
            assert fits(self, d, start, end, phantom) == got  # the loop over every point agrees
        finally:
            self.flat = flat
        seen["fits"] += 1
        if flat:
            seen["roomy" if self._roomy(d, total, phantom) else "full"] += 1
        return got

    def checked_known(self, d, end, phantom):
        got = known(self, d, end, phantom)
        if got is not None:  # an answer implied by earlier ones in the same state: as if asked
            assert fits(self, d, self.engine.env.now, end, phantom) == got
            seen["known"] += 1
        return got

    def checked_rebalance(self, event):
        if self._rank is not None:
            gpus = self.pool_gpu
            entries = sorted(((j, j.spec.num_gpus, j.seq, gpus[j.pool].busy_w) for j in self.engine.running
                              if gpus[j.pool] is not None), key=throttle_rank(self.cfg.capping.order))
            assert self._ranked == entries
            seen["ranked"] += len(entries)
        seen["rebalance"] += 1
        return rebalance(self, event)

    monkeypatch.setattr(Gate, "_fits", checked_fits)
    monkeypatch.setattr(Gate, "_known", checked_known)
    monkeypatch.setattr(CappedPower, "_rebalance", checked_rebalance)
    return seen


@pytest.mark.parametrize("mode,order", [("capping", "smallest_first"), ("capping", "largest_first"),
                                        ("capping", "even"), ("admission", None)])
def test_runs_check_every_shortcut_against_the_full_computation(checked, mode, order):
    sc = supply_scenario(mode, order=order or "smallest_first")
    r = run(sc, seed=2)
    ts = r.timeseries
    assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert checked["fits"] > 100 and checked["roomy"] > 0 and checked["full"] > 0  # both ways taken
    assert checked["known"] > 0
    if mode == "capping":
        assert checked["rebalance"] > 0 and ts["throttled_gpus"].max() > 0
        if order != "even":
            assert checked["ranked"] > 0
    else:
        assert r.summary["power"]["jobs_delayed"] > 0


def test_runs_that_can_slow_down_and_a_varying_calendar_check_too(checked):
    # fail-slow nodes (bookings at the slowest speed; re-timings while running) and an hourly
    # PUE (no single PUE: the bound is not tried, every point is checked)
    hourly = [1.2 + 0.01 * abs(12 - h) for h in range(24)]
    for mode in ("admission", "capping"):
        sc = supply_scenario(mode, cap_w=24_000.0, power={"pue": {"hourly": hourly}},
                             failures={"rate_per_1000_node_days": 50,
                                       "slow": {"rate_per_1000_node_days": 300, "factor": 0.6}})
        r = run(sc, seed=4)
        ts = r.timeseries
        assert (ts["facility_power_w"] <= ts["power_cap_w"]).all()
    assert checked["fits"] > 100 and checked["roomy"] == 0
