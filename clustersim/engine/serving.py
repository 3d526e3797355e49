"""The request-level model of an inference service: continuous batching on a set of replicas,
iteration by iteration (the reference that validates :mod:`clustersim.workload.latency`, and
the tool for detailed studies). A plain event loop (a heap), no SimPy: it runs after the
fleet simulation, over chosen windows, from the service's demand and ready replicas.

A replica runs iterations back to back while it holds work. At the start of an iteration it
admits waiting requests in arrival order while fewer than ``max_batch`` sequences run and their
prompt + output tokens fit in ``kv_tokens`` (a request that could never fit is admitted alone);
the iteration then takes ``decode(sequences decoding) + sum(prefill(P))`` over the prompts just
admitted (``config.latency.ProfileConfig``). Every admitted prompt gets its first token at the
end of its iteration, every decoding sequence one more; a request of O tokens leaves at the end
of its O-th iteration. A replica with nothing to do is idle and starts an iteration as soon as
a request is routed to it.

Routing: ``jsq`` sends an arrival to the replica with the fewest requests (queued + running;
lowest index on ties), ``round_robin`` to the next replica in turn (both queue at the replica);
``shared`` keeps one queue that every replica takes from at its iteration boundaries (an idle
replica, lowest index first, starts at once). With ``max_batch: 1`` that is the M/G/c queue.

Per request: ``wait`` (arrival to admission), ``ttft`` (arrival to first token), ``tpot``
((end - first token) / (O - 1), O >= 2), ``e2e`` (arrival to last token).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from clustersim.config.latency import output_tokens
from clustersim.errors import ClusterSimError

MAX_REQUESTS = 20_000_000
"""Requests one window may hold (expected): beyond it the window is refused."""


class _Replica:
    __slots__ = ("queue", "running", "kv", "it", "busy", "finish", "active", "new")

    def __init__(self):
        self.queue: deque = deque()
        self.running = 0
        self.kv = 0.0
        self.it = 0  # iterations done
        self.busy = False
        self.finish: dict[int, list[int]] = {}  # iteration index -> requests leaving at its end
        self.active = True
        self.new: list[int] = []


def draw_requests(cfg, gen: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (prompt, output) token pairs from the request model."""
    req = cfg.requests
    if req.trace is not None:
        from clustersim.config.tokens import read_token_log

        p, o = read_token_log(req.trace)
        idx = gen.integers(0, len(p), n)
        return np.asarray(p[idx], dtype=float), np.asarray(o[idx], dtype=float)
    p = req.prompt.sampler(gen)(n)
    o = output_tokens(req.output.sampler(gen)(n))
    return np.asarray(p, dtype=float), np.asarray(o, dtype=float)


def arrivals(steps, start: float, end: float, gen: np.random.Generator, scv: float = 1.0) -> np.ndarray:
    """Arrival times in [start, end) for a rate given as steps [(t, rate), ...] (each rate
    holds until the next step; the first step holds from ``start``): Poisson, or with ``scv``
    != 1 a renewal process with that squared coefficient of variation of interarrival times
    (:func:`renewal_arrivals`)."""
    if scv != 1.0:
        return renewal_arrivals(steps, start, end, gen, scv)
    times = []
    for i, (t, rate) in enumerate(steps):
        a = max(t, start) if i else start
        b = min(steps[i + 1][0], end) if i + 1 < len(steps) else end
        if b <= a or rate <= 0:
            continue
        k = gen.poisson(rate * (b - a))
        times.append(np.sort(gen.uniform(a, b, k)))
    return np.concatenate(times) if times else np.zeros(0)


def renewal_arrivals(steps, start: float, end: float, gen: np.random.Generator, scv: float) -> np.ndarray:
    """A renewal process in operational time: gamma intervals of mean 1 and shape 1 / ``scv``
    laid on the cumulative rate (an interval of u at rate r takes u / r seconds), so the rate
    follows the steps and, within a step, intervals have mean 1 / rate and the given SCV. It
    starts afresh at ``start`` (an arrival's clock, not a stationary phase: a window's warm-up
    is not recorded)."""
    edges, rates = [], []
    for i, (t, rate) in enumerate(steps):
        a = max(t, start) if i else start
        b = min(steps[i + 1][0], end) if i + 1 < len(steps) else end
        if b > a and rate > 0:
            edges.append((a, b))
            rates.append(rate)
    if not edges:
        return np.zeros(0)
    span = np.array([(b - a) * r for (a, b), r in zip(edges, rates, strict=True)])
    cum = np.concatenate([[0.0], np.cumsum(span)])
    total = float(cum[-1])
    shape = 1.0 / scv
    points: list[np.ndarray] = []
    reach = 0.0
    while reach < total:
        k = int(total - reach + 10.0 * math.sqrt(max(total - reach, 1.0) * scv)) + 16
        u = reach + np.cumsum(gen.gamma(shape, scv, k))
        points.append(u)
        reach = float(u[-1])
    u = np.concatenate(points)
    u = u[u < total]
    seg = np.minimum(np.searchsorted(cum, u, side="right") - 1, len(edges) - 1)
    lo = np.array([a for a, _ in edges])
    return lo[seg] + (u - cum[seg]) / np.array(rates)[seg]


def simulate(cfg, times: np.ndarray, prompt: np.ndarray, output: np.ndarray, replica_steps) -> dict:
    """Serve requests arriving at ``times`` (sorted) with the given tokens on replicas whose
    count follows ``replica_steps`` [(t, n), ...] (a request is routed among the replicas
    active at its arrival; removed replicas finish what they hold). Returns per-request arrays
    ``replica, admit, first, end`` (NaN where a request never got that far)."""
    prof = cfg.profile
    routing = cfg.routing
    cap, kv_cap = prof.batch, prof.kv
    a0 = prof.decode(0)
    d1 = prof.decode(1) - a0
    linear = prof.decode_table is None
    pre = prof.prefill(prompt)
    need = prompt + output
    n_req = len(times)
    replica = np.full(n_req, -1, dtype=np.int64)
    admit = np.full(n_req, math.nan)
    first = np.full(n_req, math.nan)
    end = np.full(n_req, math.nan)
    out_i = output.astype(np.int64)
    reps: list[_Replica] = []
    shared: deque = deque()
    heap: list = []  # (time, order, kind, payload): kind 0 replica change, 1 iteration end, 2 arrival
    order = 0
    for t, n in replica_steps:
        heap.append((t, order, 0, int(n)))
        order += 1
    heapq.heapify(heap)
    next_arrival = 0
    rr = 0

    def start_iteration(i: int, now: float) -> None:
        nonlocal order
        r = reps[i]
        q = (shared if r.active else ()) if routing == "shared" else r.queue
        new = r.new = []
        work = 0.0
        while q and r.running + len(new) < cap:
            j = q[0]
            if r.kv + need[j] > kv_cap and (r.running or new):
                break
            q.popleft()
            new.append(j)
            r.kv += need[j]
            work += pre[j]
        decoding = r.running
        if not new and not decoding:
            r.busy = False
            return
        dur = (a0 + d1 * decoding if linear else prof.decode(decoding)) + work
        it = r.it
        for j in new:
            admit[j] = now
            replica[j] = i
            r.finish.setdefault(it + out_i[j] - 1, []).append(j)
        r.running += len(new)
        r.busy = True
        heapq.heappush(heap, (now + dur, order, 1, i))
        order += 1

    def route(j: int, now: float) -> None:
        nonlocal rr
        active = [i for i, r in enumerate(reps) if r.active]
        if not active:
            shared.append(j)  # no replica: it waits for one
            return
        if routing == "shared":
            shared.append(j)
            for i in active:
                if not reps[i].busy:
                    start_iteration(i, now)
                    break
            return
        if routing == "round_robin":
            i = active[rr % len(active)]
            rr += 1
        else:
            i = min(active, key=lambda k: (len(reps[k].queue) + reps[k].running, k))
        reps[i].queue.append(j)
        if not reps[i].busy:
            start_iteration(i, now)

    while heap or next_arrival < n_req:
        if next_arrival < n_req and (not heap or times[next_arrival] < heap[0][0]
                                     or (times[next_arrival] == heap[0][0] and heap[0][2] > 0)):
            now = float(times[next_arrival])
            route(next_arrival, now)
            next_arrival += 1
            continue
        now, _, kind, payload = heapq.heappop(heap)
        if kind == 1:
            r = reps[payload]
            for j in r.new:
                first[j] = now
            for j in r.finish.pop(r.it, ()):
                end[j] = now
                r.running -= 1
                r.kv -= need[j]
            r.it += 1
            start_iteration(payload, now)
            continue
        # the ready replica count changes
        active = [i for i, r in enumerate(reps) if r.active]
        want = payload
        if want > len(active):
            for _ in range(want - len(active)):
                spare = next((i for i, r in enumerate(reps) if not r.active and not r.busy and not r.queue), None)
                if spare is None:
                    reps.append(_Replica())
                    spare = len(reps) - 1
                reps[spare].active = True
                waiting = shared if routing != "shared" else None
                if waiting:  # requests that came while there was no replica
                    while waiting:
                        reps[spare].queue.append(waiting.popleft())
                if not reps[spare].busy:
                    start_iteration(spare, now)
        else:
            for i in active[want:]:
                reps[i].active = False
    return {"replica": replica, "admit": admit, "first": first, "end": end}


def latencies(times, output, res) -> dict:
    """Per-request latencies from :func:`simulate`'s result."""
    first, end = res["first"], res["end"]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output >= 2, (end - first) / np.maximum(output - 1.0, 1.0), math.nan)
    return {"wait_s": res["admit"] - times, "ttft_s": first - times, "tpot_s": tpot, "e2e_s": end - times}


def check_size(expected: float, where: str) -> None:
    if not expected <= MAX_REQUESTS:
        raise ClusterSimError(
            f"{where}: about {expected:,.0f} requests in one request-level window, more than it can hold "
            f"(at most {MAX_REQUESTS:,}); shorten the window or set request_level.replicas"
        )
