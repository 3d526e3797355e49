"""Request-level windows of the fleet run: after the run, each service with
``latency.request_level`` is served request by request (:mod:`clustersim.engine.serving`)
over its windows, from the demand and ready replicas the run recorded (``services.parquet``'s
step functions), and the requests go to ``requests.parquet``.

Windows: those given (``windows``, cut to the horizon), then with ``peak: daily`` / ``weekly``
one per day or week of the run, starting at the demand step with the highest demand in it (the
earliest on ties) and ``length`` long. Each is simulated from ``warmup`` before its start (the
replicas start empty; those requests are not recorded), and arrivals go on after its end until
every recorded request is done (for as long as the window again, at most 10 minutes), so the
last requests see load. With ``replicas: m`` at most m replicas are simulated, each at the
load per replica of the run (demand x m / ready). Arrivals are Poisson at the demand of each
step (or the renewal process of ``latency.arrivals``), drawn from the stream
``services.<name>.requests.<window>``.

Per service the summary gains ``request_level``: windows, requests, and the request-level and
analytic p99 TTFT, mean TPOT and attainment over the windows' requests.
"""

from __future__ import annotations

import math

import numpy as np

from clustersim.engine import serving
from clustersim.results.summary import clean

DAY = 86400.0
COLUMNS = ("service", "window", "arrival_s", "prompt_tokens", "output_tokens", "replica", "wait_s", "ttft_s",
           "tpot_s", "e2e_s", "within_slo")


def windows_of(cfg, rows: np.ndarray, horizon: float) -> list[tuple[float, float]]:
    """[start, end) of a service's windows, from its config and its rows (t, demand, ...)."""
    rl = cfg.latency.request_level
    out = []
    for w in rl.windows:
        start, end = w.start, min(w.start + w.length, horizon)
        if end > start:
            out.append((start, end))
    if rl.peak != "none" and len(rows):
        period = DAY if rl.peak == "daily" else 7 * DAY
        t, demand = rows[:, 0], rows[:, 1]
        for k in range(int(math.ceil(horizon / period))):
            inside = (t >= k * period) & (t < min((k + 1) * period, horizon))
            if inside.any():
                i = np.nonzero(inside)[0][int(np.argmax(demand[inside]))]
                start = float(t[i])
                end = min(start + rl.length, horizon)
                if end > start:
                    out.append((start, end))
    return out


def _steps(t: np.ndarray, v: np.ndarray, start: float) -> list[tuple[float, float]]:
    """The step function (t, v) from ``start`` on: [(start, value then), (t, v), ...]."""
    i = int(np.searchsorted(t, start, side="right")) - 1
    head = [(start, float(v[i]) if i >= 0 else 0.0)]
    return head + [(float(a), float(b)) for a, b in zip(t[i + 1:], v[i + 1:], strict=True)]


def _integral(steps: list[tuple[float, float]], end: float) -> float:
    total = 0.0
    for (a, r), (b, _) in zip(steps, steps[1:] + [(end, 0.0)], strict=True):
        total += r * max(min(b, end) - a, 0.0)
    return total


def run_window(svc, rows: np.ndarray, start: float, end: float, gen: np.random.Generator, where: str):
    """Serve one window; (arrival, prompt, output, result, latencies) of the requests in it."""
    cfg = svc.cfg.latency
    rl = cfg.request_level
    t0 = max(start - rl.warmup, 0.0)
    tail = min(end - start, 600.0)
    t, demand, ready = rows[:, 0], rows[:, 1], rows[:, 2]
    if rl.replicas is not None:
        share = np.where(ready > 0, np.minimum(ready, rl.replicas) / np.maximum(ready, 1), 1.0)
        demand, ready = demand * share, np.minimum(ready, rl.replicas)
    rate = _steps(t, demand, t0)
    reps = _steps(t, ready, t0)
    stop = end + tail
    serving.check_size(_integral(rate, stop), where)
    times = serving.arrivals(rate, t0, stop, gen, cfg.ca2)
    prompt, output = serving.draw_requests(cfg, gen, len(times))
    res = serving.simulate(cfg, times, prompt, output, [(a, int(n)) for a, n in reps if a < stop])
    lat = serving.latencies(times, output, res)
    keep = (times >= start) & (times < end)
    return times[keep], prompt[keep], output[keep], {k: v[keep] for k, v in res.items()}, \
        {k: v[keep] for k, v in lat.items()}


def within_slo(slo, lat: dict) -> np.ndarray:
    """Requests within every threshold of the SLO (TPOT only for two or more tokens)."""
    ok = np.ones(len(lat["ttft_s"]), dtype=bool)
    for name, target in slo.targets().items():
        values = lat[f"{name}_s"]
        ok &= np.where(np.isnan(values), name == "tpot", values <= target.value)
    return ok


def request_table(services, streams, scenario):
    """``requests.parquet`` of every service's windows, and per service its summary figures."""
    import pandas as pd

    parts, figures = [], {}
    for svc in services:
        cfg = svc.cfg.latency
        if cfg is None or cfg.request_level is None or not svc.rows:
            continue
        rows = np.array(svc.rows, dtype=float)
        spans = windows_of(svc.cfg, rows, scenario.horizon)
        where = f"services[{svc.index}].latency.request_level"
        got, predicted = [], []
        for k, (start, end) in enumerate(spans):
            gen = streams(f"services.{svc.name}.requests.{k}")
            times, prompt, output, res, lat = run_window(svc, rows, start, end, gen, where)
            frame = {
                "service": svc.name, "window": np.full(len(times), k, dtype=np.int64), "arrival_s": times,
                "prompt_tokens": prompt, "output_tokens": output.astype(np.int64),
                "replica": res["replica"], **lat,
            }
            if cfg.slo is not None:
                frame["within_slo"] = within_slo(cfg.slo, lat)
            parts.append(pd.DataFrame(frame))
            got.append(lat)
            predicted.append(_predicted(svc, rows, start, end))
        figures[svc.name] = _figures(cfg, got, predicted, len(spans))
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS}), figures
    return pd.concat(parts, ignore_index=True), figures


def _predicted(svc, rows, start, end):
    """The analytic model over a window: (requests, TTFT survival, mean TPOT, attainment) of
    its steps, each weighted by its requests."""
    t, demand, ready = rows[:, 0], rows[:, 1], rows[:, 2]
    edges = np.append(t, np.inf)
    dt = np.clip(edges[1:], start, end) - np.clip(edges[:-1], start, end)
    out = []
    for j in np.nonzero(dt > 0)[0]:
        got = svc.latency.read(float(demand[j]), int(ready[j]))
        if got is not None:
            values, refs, _ = got
            ttft = svc.latency.mixture([refs], [1.0])[0]
            out.append((float(demand[j] * dt[j]), ttft, values[2], values[5]))
    return out


def _figures(cfg, got: list, predicted: list, windows: int) -> dict:
    from clustersim.engine.slo import _percentile

    out: dict = {"windows": windows, "requests": int(sum(len(g["ttft_s"]) for g in got))}
    if out["requests"]:
        ttft = np.concatenate([g["ttft_s"] for g in got])
        tpot = np.concatenate([g["tpot_s"] for g in got])
        out["ttft_p99_s"] = float(np.percentile(ttft, 99))
        out["tpot_mean_s"] = float(np.nanmean(tpot)) if np.isfinite(tpot).any() else None
        if cfg.slo is not None:
            out["attainment"] = float(np.mean(np.concatenate([within_slo(cfg.slo, g) for g in got])))
    pts = [p for window in predicted for p in window]
    weight = sum(p[0] for p in pts)
    if weight > 0:
        out["model_ttft_p99_s"] = _percentile(sum(p[0] * p[1] for p in pts) / weight, 0.99)
        out["model_tpot_mean_s"] = sum(p[0] * p[2] for p in pts) / weight
        if cfg.slo is not None:
            out["model_attainment"] = sum(p[0] * p[3] for p in pts) / weight
    return clean(out)
