"""The iterations' mean of the analytic model (``ChainModel._iteration_mean``), by hand.

A replica busy B of the time runs B / mu iterations a second; with d(k) = a + b k, prefills
taking rho_w of each second and lam E[O - 1] decode steps a second,
B = (B / mu) a + b lam E[O - 1] + rho_w, so mu = a B / (B - rho_w - b lam E[O - 1]), at most
S B / (lam E[O]) (no iteration holds more than S sequences).
"""

from __future__ import annotations

import pytest

from clustersim.config.latency import LatencyConfig
from clustersim.workload.latency_chain import ChainModel


def model(**profile) -> ChainModel:
    return ChainModel(LatencyConfig.model_validate({
        "requests": {"prompt": 100, "output": 10},  # E[w] = 100 x 0.1 ms = 0.01 s, E[O - 1] = 9
        "profile": {"per_prompt_token": 1e-4, "max_batch": 256, **profile},
    }))


def test_linear_decode_by_hand():
    m = model(iteration=0.04, per_sequence=0.0004)
    # lam 10/s, rho_w = 0.1, B = 0.9: 0.04 x 0.9 / (0.9 - 0.1 - 0.0004 x 10 x 9) = 0.036 / 0.764
    assert m._iteration_mean(10.0, 0.1, 0.9) == pytest.approx(0.036 / 0.764, rel=1e-12)
    # no room left for the fixed costs: the cap, 256 x 0.9 / (10 x 10) = 2.304 s
    assert m._iteration_mean(10.0, 0.89, 0.9) == pytest.approx(2.304, rel=1e-12)
    assert m._iteration_mean(10.0, 0.1, 0.0) == pytest.approx(0.04, rel=1e-12)  # never busy: an empty iteration


def test_a_decode_table_solves_the_same_balance():
    # the same line as a table (from 1 sequence up): the balance is solved by bisection
    m = model(decode_table={1: 0.0404, 256: 0.04 + 0.0004 * 256})
    assert m._iteration_mean(10.0, 0.1, 0.9) == pytest.approx(0.036 / 0.764, rel=1e-9)
