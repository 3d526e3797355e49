"""The request-level model against continuous-batching schedules computed by hand.

Profile: an iteration costs 10 ms + 2 ms per decoding sequence + 0.1 ms per prompt token
prefilled in it. Requests (arrival s, prompt, output tokens): r0 (0, 100, 3), r1 (0.005, 200, 2),
r2 (0.012, 100, 1), r3 (0.013, 300, 2).

With ``max_batch: 2`` (one replica):

- 0: r0 arrives at an idle replica: iteration 0 = 10 + 100 x 0.1 = 20 ms, r0's first token at
  0.020. r1, r2, r3 queue meanwhile.
- 0.020: iteration 1 admits r1 (the batch is then full): 10 + 2 x 1 (r0 decodes) + 20 = 32 ms,
  r1's first token at 0.052.
- 0.052: iteration 2, no room: 10 + 2 x 2 = 14 ms; r0 (its 3rd token) and r1 (its 2nd) end at
  0.066.
- 0.066: iteration 3 admits r2 and r3: 10 + 0.1 x 400 = 50 ms; both first tokens at 0.116, r2
  (one token) ends.
- 0.116: iteration 4: 10 + 2 x 1 = 12 ms; r3 ends at 0.128.

So TTFT = 0.020, 0.047, 0.104, 0.103; TPOT = (0.066 - 0.020) / 2 = 0.023, 0.014, none, 0.012;
end-to-end = 0.066, 0.061, 0.104, 0.115.

With ``max_batch: 10`` and ``kv_tokens: 350`` (a request holds prompt + output): iteration 1
admits r1 (103 + 202 = 305 tokens) but not r2 (406 > 350: the queue is served in order);
iteration 2 (at 0.052) still has no room; iteration 3 (0.066, r0 and r1 gone) admits r2 but not
r3 (101 + 302 > 350): 10 + 10 = 20 ms, r2 ends at 0.086; iteration 4 admits r3: 10 + 30 = 40 ms,
first token at 0.126; iteration 5: 12 ms, r3 ends at 0.138.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clustersim.config.latency import LatencyConfig
from clustersim.engine import serving

TIMES = np.array([0.0, 0.005, 0.012, 0.013])
PROMPT = np.array([100.0, 200.0, 100.0, 300.0])
OUTPUT = np.array([3.0, 2.0, 1.0, 2.0])


def config(routing="jsq", **profile) -> LatencyConfig:
    return LatencyConfig.model_validate({
        "requests": {"prompt": 100, "output": 2},
        "profile": {"iteration": "10ms", "per_sequence": "2ms", "per_prompt_token": "0.1ms", **profile},
        "routing": routing,
    })


def run(cfg, replicas=1, times=TIMES, prompt=PROMPT, output=OUTPUT):
    res = serving.simulate(cfg, times, prompt, output, [(0.0, replicas)])
    return res, serving.latencies(times, output, res)


def test_batch_cap_schedule():
    res, lat = run(config(max_batch=2))
    assert res["admit"] == pytest.approx([0.0, 0.020, 0.066, 0.066])
    assert lat["ttft_s"] == pytest.approx([0.020, 0.047, 0.104, 0.103])
    assert lat["tpot_s"][[0, 1, 3]] == pytest.approx([0.023, 0.014, 0.012])
    assert math.isnan(lat["tpot_s"][2])
    assert lat["e2e_s"] == pytest.approx([0.066, 0.061, 0.104, 0.115])
    assert lat["wait_s"] == pytest.approx([0.0, 0.015, 0.054, 0.053])


def test_kv_cache_schedule():
    res, lat = run(config(max_batch=10, kv_tokens=350))
    assert res["admit"] == pytest.approx([0.0, 0.020, 0.066, 0.086])
    assert res["first"] == pytest.approx([0.020, 0.052, 0.086, 0.126])
    assert res["end"] == pytest.approx([0.066, 0.066, 0.086, 0.138])
    assert lat["ttft_s"] == pytest.approx([0.020, 0.047, 0.074, 0.113])


def test_routing_spreads_arrivals():
    # Two replicas, requests 1 ms apart: JSQ and round robin alternate; each replica serves
    # its requests alone (no decode in the way): TTFT 10 + 10 ms.
    times = np.array([0.0, 0.001, 0.002, 0.003])
    prompt = np.full(4, 100.0)
    output = np.full(4, 1.0)
    for routing in ("jsq", "round_robin"):
        res, lat = run(config(routing), 2, times, prompt, output)
        assert list(res["replica"]) == [0, 1, 0, 1]
        # r2 and r3 start their replica's second iteration, at 0.020 and 0.021 (20 ms each)
        assert lat["ttft_s"] == pytest.approx([0.020, 0.020, 0.038, 0.038])
    # one shared queue: the first replica free takes the next request
    res, lat = run(config("shared", max_batch=1), 2, times, prompt, output)
    assert list(res["replica"]) == [0, 1, 0, 1]
    assert lat["wait_s"] == pytest.approx([0.0, 0.0, 0.018, 0.018])


def test_replicas_come_and_go():
    # No replica until 0.050: the requests wait for it, then queue there in order.
    cfg = config(max_batch=1)
    res = serving.simulate(cfg, TIMES, PROMPT, np.ones(4), [(0.0, 0), (0.050, 1)])
    assert res["admit"] == pytest.approx([0.050, 0.070, 0.100, 0.120])
    # a replica removed finishes what it holds and gets nothing new
    res = serving.simulate(cfg, TIMES, PROMPT, np.ones(4), [(0.0, 2), (0.006, 1)])
    assert list(res["replica"]) == [0, 1, 0, 0]
