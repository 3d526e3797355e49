"""Statistical test of the lead-time markets of the supply model, end to end: 1,000 orders of
one node placed at time 0 (each draws its lead time from its own stream), burn-in 0, no
acceptance failures; the lead time of each is the time of its ``delivery`` event.

Expected values are the documented presets (README, calibration 7d, seed F7), not the
code's table: ``normal`` is lognormal with median 12 weeks and p90 16 weeks, ``tight``
median 40 weeks and p90 52 weeks. So P(lead <= median) = 0.5 and P(lead <= p90) = 0.9:
binomial z-tests at 4 sd (sd 0.016 and 0.0095 over 1,000 orders; false alarm 6.3e-5 per
check). Power (``test_stated_powers``): 1.0 against a median one week off in the normal
market (12 -> 13 weeks: P(lead <= 12 w) = 0.36) or four weeks off in the tight one
(40 -> 36 weeks: P = 0.70), 1.0 against the two presets swapped, 0.76 against a normal p90
one week off (16 -> 17 weeks: P(lead <= 16 w) = 0.855).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stat_tools import CRIT, binomial_z, power

from clustersim.config import scenario_from_dict
from clustersim.engine import simulate

WEEK = 7 * 86400.0
ORDERS = 1000
MARKETS = {"normal": (12 * WEEK, 16 * WEEK), "tight": (40 * WEEK, 52 * WEEK)}


def lead_times(market: str, seed: int) -> np.ndarray:
    data = {
        "name": "lead-times",
        "horizon": 150 * WEEK,
        "cluster": {"nodes": 1, "gpus_per_node": 8, "gpu_type": "A"},
        "workload": {"classes": [{"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}]},
        "supply": {
            "gpu_types": {"A": {"speed": 1.0}, "B": {"speed": 2.0}},
            "acceptance": {"fail_fraction": 0},
            "orders": [{"at": 0, "nodes": 1, "gpu_type": "B", "lead_time": market, "burn_in": 0}] * ORDERS,
        },
    }
    events = simulate(scenario_from_dict(data), seed).events
    delivered = events[events["kind"] == "delivery"]
    assert len(delivered) == ORDERS  # every order delivered within the horizon
    return delivered["t_s"].to_numpy(float)


@pytest.mark.parametrize("market", list(MARKETS))
def test_lead_time_market_median_and_p90(market):
    median, p90 = MARKETS[market]
    lead = lead_times(market, seed=11)
    for q, p in ((median, 0.5), (p90, 0.9)):
        z = binomial_z(int(np.sum(lead <= q)), ORDERS, p)
        assert abs(z) <= CRIT, (market, q / WEEK, p, float(np.mean(lead <= q)), z)
    assert len(np.unique(lead)) == ORDERS  # one draw per order, from its own stream


def test_stated_powers():
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    sd50, sd90 = math.sqrt(0.25 / ORDERS), math.sqrt(0.09 / ORDERS)
    s_normal = math.log(16 / 12) / 1.2815515655446004
    s_tight = math.log(52 / 40) / 1.2815515655446004
    assert power((0.5 - phi(math.log(12 / 13) / s_normal)) / sd50) > 0.999
    assert power((phi(math.log(40 / 36) / s_tight) - 0.5) / sd50) > 0.999
    assert power((0.9 - phi(math.log(16 / 12) / (math.log(17 / 12) / 1.2815515655446004))) / sd90) > 0.75
