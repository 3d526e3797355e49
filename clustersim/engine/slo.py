"""Latency of an inference service in the fleet run (issue 19): the replica count the SLO
needs (``autoscale.target: slo``), the latency columns of ``services.parquet`` and the latency
keys of the summary, all from the analytic model (:mod:`clustersim.workload.latency`).

The model is read on a grid of load per replica u = demand / (replicas x saturation
throughput), equally spaced in -log(1 - u) (step ``GRID``, finer towards saturation), and
interpolated between grid points; one grid per replica count up to ``n_cap`` = 2,048 / slots
(replicas x slots per replica = sequences pooled by the routing). Beyond it the model is read
at ``n_cap`` replicas and the same load: more pooling only shortens waits, so the predictions
are an upper bound there and the replica count the SLO asks for is never too small.

The SLO autoscaler asks for the fewest replicas n (within min / max) whose predicted latency
meets every target at demand x (1 + headroom): with u*(n) the largest load per replica at which
the SLO holds on n replicas (bisection; it holds at every lower load),
n = the first n <= n_cap with demand <= u*(n) n phi, else ceil(demand / (u*(n_cap) phi)). (An
SLO whose limit is the idle latency itself, met at no load, asks for the replicas that keep up:
scenarios whose SLO no replica count can meet are refused when read.)
"""

from __future__ import annotations

import math

import numpy as np

from clustersim.config.base import MAX_REPLICAS
from clustersim.workload.latency import SF_GRID, LatencyModel, Prediction

GRID = 0.05
POOLED_SLOTS = 2048
FIELDS = ("ttft_p50", "ttft_p99", "tpot_mean", "tpot_p50", "tpot_p99", "attainment")
COLUMNS = ("ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p50_s", "tpot_p99_s")
"""Latency columns of services.parquet (seconds); with an SLO also ``attainment``, ``slo_met``."""


class ServiceLatency:
    """The analytic model of one service, read the way the fleet run needs it; ``speed`` < 1:
    its replicas power-capped to that share of their throughput (``at``)."""

    def __init__(self, cfg, speed: float = 1.0):
        self.cfg = cfg
        latency = cfg.latency
        if speed != 1.0:
            latency = latency.model_copy(update={"profile": latency.profile.slowed(speed)})
        self.model = LatencyModel(latency)
        self._slower: dict[float, ServiceLatency] = {}
        self.phi = self.model.phi_full
        self.n_cap = max(1, math.ceil(POOLED_SLOTS / self.model.S))
        self.slo = cfg.latency.slo
        self._points: dict[tuple[int, int], Prediction] = {}
        self._ustar: dict[int, float] = {}

    def at(self, speed: float) -> ServiceLatency:
        """The model with every replica at ``speed`` x its throughput (a power-capped replica,
        ``engine.capped_power.CappedPower``): each iteration of the profile takes 1 / ``speed`` as
        long, so saturation throughput falls by ``speed`` and TTFT and TPOT grow at every load.
        Cached by speed (the cap sets replicas to the points of a curve: a few speeds)."""
        if speed == 1.0:
            return self
        hit = self._slower.get(speed)
        if hit is None:
            hit = self._slower[speed] = ServiceLatency(self.cfg, speed)
        return hit

    # ----------------------------------------------------------------------------- the grid

    def _point(self, n: int, i: int) -> Prediction:
        key = (n, i)
        hit = self._points.get(key)
        if hit is None:
            u = -math.expm1(-i * GRID)
            hit = self._points[key] = self.model.predict(u * n * self.phi, n)
        return hit

    def read(self, demand: float, n: int):
        """(values by FIELDS, [(prediction, weight), ...] mixed into them, met) at ``demand``
        on ``n`` ready replicas; None for no replica and no demand."""
        if n <= 0:
            if demand > 0:
                unstable = self.model.predict(1.0, 0)
                return _values(unstable), [(unstable, 1.0)], False
            return None
        u = demand / (n * self.phi)
        if u >= 1.0:
            unstable = self.model.predict(1.0, 0)  # n cannot keep up: unstable
            return _values(unstable), [(unstable, 1.0)], False
        m = min(n, self.n_cap)
        x = -math.log1p(-u) / GRID
        i = int(x)
        f = x - i
        a, b = self._point(m, i), self._point(m, i + 1)
        values = (1 - f) * _values(a) + f * _values(b)
        met = bool(self.slo is not None and u <= self.ustar(m))
        return values, [(a, 1.0 - f), (b, f)], met

    @staticmethod
    def mixture(refs, weights) -> tuple[np.ndarray, np.ndarray]:
        """(TTFT, TPOT) survival functions on SF_GRID of the rows read as ``refs`` (``read``'s
        second item per row, None for rows without requests), weighted by ``weights``."""
        acc: dict[int, list] = {}
        for row, w in zip(refs, weights, strict=True):
            if row is None or w <= 0:
                continue
            for pred, share in row:
                slot = acc.setdefault(id(pred), [pred, 0.0])
                slot[1] += w * share
        ttft = np.zeros(len(SF_GRID))
        tpot = np.zeros(len(SF_GRID))
        total = sum(w for _, w in acc.values())
        for pred, w in acc.values():
            ttft += w * pred.ttft_sf
            tpot += w * pred.tpot_sf
        return (ttft / total, tpot / total) if total > 0 else (ttft, tpot)

    # ----------------------------------------------------------------------------- sizing

    def ustar(self, n: int) -> float:
        """The largest load per replica (a share of saturation) at which the SLO holds on
        ``n`` replicas (0 if it never does)."""
        n = min(n, self.n_cap)
        hit = self._ustar.get(n)
        if hit is None:
            meets = self.model.meets
            lo, hi = 0.0, 1.0
            if not meets(1e-9 * n * self.phi, n):
                hit = 0.0
            else:
                for _ in range(24):
                    mid = (lo + hi) / 2
                    if meets(mid * n * self.phi, n):
                        lo = mid
                    else:
                        hi = mid
                hit = lo
            self._ustar[n] = hit
        return hit

    def replicas(self, demand: float, lo: int, hi: int | None) -> int:
        """The fewest replicas, within [lo, hi], whose predicted latency meets the SLO at
        ``demand`` requests per second (headroom already applied)."""
        top = MAX_REPLICAS if hi is None else min(hi, MAX_REPLICAS)
        if demand <= 0:
            return min(lo, top)
        need = None
        for n in range(max(lo, 1), self.n_cap + 1):
            if demand <= self.ustar(n) * n * self.phi * (1 + 1e-12):
                need = n
                break
        if need is None:
            u = self.ustar(self.n_cap)
            if u <= 0:  # no load meets it (its limit is the idle latency): keep up with demand
                u = 1.0 - 1e-9
            ratio = demand / (u * self.phi)
            need = max(self.n_cap + 1, math.ceil(round(ratio, 9)) if ratio < MAX_REPLICAS else MAX_REPLICAS)
        return min(max(need, lo), top)


def _values(p: Prediction) -> np.ndarray:
    return np.array([getattr(p, f) for f in FIELDS], dtype=float)


def latency_columns(lat: ServiceLatency, demand: np.ndarray, ready: np.ndarray, speed: np.ndarray | None = None):
    """Columns for ``services.parquet`` rows, and per row the grid predictions read (for the
    summary's request-weighted mixtures); ``speed``: the replicas' speed per row (absent: 1)."""
    k = len(demand)
    vals = np.full((k, len(FIELDS)), math.nan)
    met = np.zeros(k, dtype=bool)
    refs: list = [None] * k
    for j in range(k):
        model = lat if speed is None else lat.at(float(speed[j]))
        got = model.read(float(demand[j]), int(ready[j]))
        if got is None:
            continue
        vals[j], refs[j], met[j] = got
    cols = {name: vals[:, i] for i, name in enumerate(COLUMNS)}
    if lat.slo is not None:
        cols["attainment"] = vals[:, FIELDS.index("attainment")]
        cols["slo_met"] = met
    return cols, refs


def _percentile(sf: np.ndarray, q: float) -> float:
    """The q quantile of a mixture known by its survival function on SF_GRID (inf beyond)."""
    below = np.nonzero(sf <= 1.0 - q)[0]
    if len(below) == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return float(SF_GRID[0])
    s0, s1 = sf[i - 1], sf[i]
    f = (s0 - (1.0 - q)) / (s0 - s1) if s0 != s1 else 0.0
    return float(SF_GRID[i - 1] + f * (SF_GRID[i] - SF_GRID[i - 1]))


def latency_summary(lat: ServiceLatency, t, demand, cols, refs, *, horizon: float, warmup: float,
                    rule_replicas=None, want=None, gpus: int = 0, speed=None) -> dict:
    """Request-weighted latency over [warmup, horizon] (weights: demand x time of each row);
    with ``speed`` (replicas power-capped) and an SLO, also the hours it was missed while capped."""
    edges = np.append(t, horizon)
    dt = np.clip(edges[1:], warmup, horizon) - np.clip(edges[:-1], warmup, horizon)
    w = demand * dt
    total = float(w.sum())
    out: dict = {}
    if total > 0:
        mix_ttft, mix_tpot = lat.mixture(refs, w)
        out["ttft_p50_s"] = _percentile(mix_ttft, 0.5)
        out["ttft_p99_s"] = _percentile(mix_ttft, 0.99)
        out["tpot_p50_s"] = _percentile(mix_tpot, 0.5)
        out["tpot_p99_s"] = _percentile(mix_tpot, 0.99)
        mean = cols["tpot_mean_s"]
        ok = np.isfinite(mean)
        out["tpot_mean_s"] = float((w[ok] * mean[ok]).sum() / w[ok].sum()) if ok.all() else math.inf
    if lat.slo is not None:
        att = np.nan_to_num(cols["attainment"], nan=1.0)
        out["latency_attainment"] = float((w * att).sum() / total) if total > 0 else None
        span = float(dt.sum())
        out["slo_time_share"] = float((dt * cols["slo_met"]).sum() / span) if span > 0 else None
        if speed is not None:
            out["capped_slo_missed_hours"] = float((dt * ((speed < 1.0) & ~cols["slo_met"])).sum()) / 3600.0
    if rule_replicas is not None and want is not None:
        out["slo_minus_utilisation_gpu_hours"] = float(((want - rule_replicas) * dt).sum()) * gpus / 3600.0
    return out


def latency_frame(svc, rows: np.ndarray, speed: np.ndarray | None = None):
    """Latency columns of a service's services.parquet rows (t, demand, ready, starting,
    waiting), and what its summary needs of them; ``speed``: the replicas' speed per row
    (absent: full speed throughout)."""
    lat = svc.latency
    t, demand, ready = rows[:, 0], rows[:, 1], rows[:, 2]
    cols, refs = latency_columns(lat, demand, ready, speed)
    return cols, (t, demand, cols, refs, speed)


def latency_keys(svc, parts, scenario, windows: dict) -> dict:
    """Summary keys of a service with a latency section (see ``latency_summary``), and its
    request-level windows' figures when it ran any."""
    from clustersim.results.summary import clean
    from clustersim.workload.demand import replicas_needed

    out: dict = {}
    if parts is not None:
        t, demand, cols, refs, speed = parts
        a = svc.cfg.autoscale
        rule = want = None
        if a.target == "slo":
            lat = svc.latency
            s = np.ones(len(demand)) if speed is None else speed
            want = np.array([lat.at(float(v)).replicas(d * (1 + a.headroom), a.min_replicas, a.max_replicas)
                             for d, v in zip(demand, s, strict=True)])
            rule = np.array([replicas_needed(d, svc.rate if v == 1.0 else svc.rate * v, a.headroom, a.min_replicas,
                                             a.max_replicas) for d, v in zip(demand, s, strict=True)])
        out = latency_summary(svc.latency, t, demand, cols, refs, horizon=scenario.horizon,
                              warmup=scenario.warmup, rule_replicas=rule, want=want, gpus=svc.g, speed=speed)
    if windows.get(svc.name):
        out["request_level"] = windows[svc.name]
    return clean(out)
