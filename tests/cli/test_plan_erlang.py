"""`clustersim plan` answers a question whose answer is known: the M/M/c queue (Erlang C).

c one-GPU nodes, Poisson arrivals of one-GPU jobs at 6 per hour, exponential run times of
mean 1 hour, FIFO: an M/M/c queue with offered load a = 6. Its waiting time is known
exactly (Erlang C, computed here from the textbook formula, not by the project):

    C(c, a) = (a^c / c! * c / (c - a)) / (sum_{k<c} a^k / k! + a^c / c! * c / (c - a))
    mean wait = C / (c mu - lambda),   P(wait > t) = C exp(-(c mu - lambda) t)

so the p90 wait is ln(C / 0.1) / (c mu - lambda) when C > 0.1, else 0. For the targets
mean wait <= 7 min and p90 wait <= 30 min: c = 8 gives 10.7 min and 38.2 min (misses both),
c = 9 gives 3.9 min and 13.5 min (meets both). The plan, run through the command line, must
answer 9 nodes. With 10 seeds of 600 h (~3,600 jobs each) the mean-wait intervals are about
+-2 min wide: at 8 nodes the interval was [8.5, 12.7] min (above 7), at 9 nodes [3.0, 4.9] min
(below). Were the interval at 8 to straddle the target, the plan would still answer 9 (the
next value when an interval straddles); only an interval at 9 reaching up to 7 min, two
half-widths away, could move the answer (to 10).
"""

from __future__ import annotations

import json
import math

import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app

LAM, MU = 6.0, 1.0  # per hour
MEAN_TARGET_MIN, P90_TARGET_MIN = 7.0, 30.0


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a (< c)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def waits_min(c: int) -> tuple[float, float]:
    """(mean, p90) wait in minutes of M/M/c at LAM, MU; inf when unstable."""
    a = LAM / MU
    if c <= a:
        return math.inf, math.inf
    pw, drain = erlang_c(c, a), c * MU - LAM
    return 60 * pw / drain, 60 * max(0.0, math.log(pw / 0.1) / drain)


def test_erlang_c_by_hand():
    """The formula against values worked out independently (a = 2, c = 3: C = 4/9; a = 6,
    c = 9 from the module docstring)."""
    assert math.isclose(erlang_c(3, 2.0), 4 / 9, rel_tol=1e-12)  # a^c/c! c/(c-a) = 4; 1 + 2 + 2 = 5
    mean, p90 = waits_min(9)
    assert math.isclose(mean, 3.92, abs_tol=0.01) and math.isclose(p90, 13.46, abs_tol=0.01)


def test_plan_answers_the_erlang_c_node_count(tmp_path):
    c_star = min(c for c in range(1, 30) if waits_min(c)[0] <= MEAN_TARGET_MIN and waits_min(c)[1] <= P90_TARGET_MIN)
    assert c_star == 9 and waits_min(8)[0] > MEAN_TARGET_MIN and waits_min(8)[1] > P90_TARGET_MIN
    scenario = tmp_path / "mmc.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "mmc-erlang",
        "horizon": "600h",
        "warmup": "30h",
        "cluster": {"nodes": 1, "gpus_per_node": 1},
        "scheduler": {"policy": "fifo"},
        "workload": {"classes": [{"name": "job", "arrival_rate_per_h": LAM, "gpus": 1,
                                  "duration": {"kind": "exponential", "mean": f"{60 / MU:g}m"}}]},
    }))
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, [
        "plan", str(scenario), "--target", f"wait_s.mean<={MEAN_TARGET_MIN:g}m", "--target",
        f"wait_s.p90<={P90_TARGET_MIN:g}m", "--search", "cluster.nodes=7..16", "--seeds", "10",
        "--workers", "1", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "plan.json").read_text())
    assert data["status"] == "found"
    assert data["answer"] == c_star, data["evaluated"]
    assert result.stdout.startswith(f"cluster.nodes = {c_star}")
    evaluated = {ev["value"]: ev for ev in data["evaluated"]}
    assert evaluated[c_star]["meets_all"] and not evaluated[c_star - 1]["meets_all"]
