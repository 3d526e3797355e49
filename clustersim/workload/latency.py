"""The analytic latency model of an inference service: pure numpy, fast enough to evaluate at
every demand step of a year-long run (and many times per step when the autoscaler searches).

Replicas batch continuously (``config.latency``): an iteration with k sequences decoding takes
``d(k)`` plus the prefill work ``w(P)`` of the prompts admitted into it. Per request the replica
spends ``w(P)`` on its prompt and a share ``d(.)/k`` of each of the O iterations it takes part
in, so a replica holding k sequences completes

    phi(k) = k (1 - lam_r E[w]) / (E[O] d(k q))        (k < S: arrivals are admitted at once)
    phi(S) = 1 / (E[w] + E[O] d(S q) / S)              (full: admissions follow departures)

requests per second (q = E[O - 1] / E[O] of the sequences decode; lam_r = lam / n per replica).
The number of requests at the replicas is a birth-death chain with births ``lam`` and deaths
the sum over replicas of phi at their level: balanced by ``jsq`` / ``shared`` routing (state N
puts N // n or N // n + 1 on each replica, deaths ``r phi(k+1) + (n - r) phi(k)``), one replica
per chain for ``round_robin``. Above ``n S`` every slot is busy and the chain is geometric with
ratio sigma = (lam / (n phi(S)))^(2 / (1 + ca^2)): a request waits for a slot with probability
P(N >= n S) and then for an exponential time of mean ``(ca^2 + I_d) / 2 / (n phi(S) - lam)``
(Kingman's heavy-traffic wait with the full replicas' departure process as the server: I_d =
(1 - phi(S) E[w])^2 + phi(S)^2 Var(w) is that process's index of dispersion, derived in
``ChainModel.__init__``; ca^2 is the squared coefficient of variation of the interarrival times,
1 for Poisson arrivals: ``config.arrivals``; sigma is GI/M/c's in heavy traffic, 1 - sigma ~
2 (1 - rho) / (1 + ca^2)). With one sequence per replica, exponential service, Poisson arrivals
and a shared queue this is Erlang C exactly (I_d = 1: w is the exponential service time).

Latency of a request, by what it finds on arrival (PASTA):

- an idle replica: TTFT = d(0) + w(P);
- a busy one at level k: it waits for the running iteration to end (residual R of a
  length-biased iteration; the iteration's length varies with the prefills it holds) and is
  prefilled in the next one with the prompts that came meanwhile (X): TTFT = R + d(k q) + X + w;
- all slots busy: an exponential wait, then d(S q) + X + w.

The busy and full parts are gamma distributions fitted to their means and variances; TTFT is
their mixture convolved with the prompt's prefill time. R and X come from the moments of the
iterations averaged over iterations (mean mu, variance from the AR(1) above, its coefficient
lam_r E[w] (1 - P(full)): a full batch admits by departures, not by the iteration's length), and mu from a
balance of flows that holds whatever the batch does (``ChainModel._iteration_mean``): a replica
busy B of the time runs B / mu iterations a second, which decode lam_r E[O - 1] sequences a
second and leave B - lam_r E[w] of it to the decode parts, so B = (B / mu) d(lam_r E[O - 1]
mu / B) + lam_r E[w]. The level-based d(k q) / (1 - lam_r E[w]) bounds mu from above (the
time-averaged batch is at least the iteration-averaged one) and is the estimate where the
chain's B is not reliable (a replica often idle: the chain's levels leave out prefill time), so
the smaller of the two is used; where prefills fill most of a replica's time the bound is
1.5-2x mu (sequences pile up during the long iterations). A request's O - 1 decode iterations
are consecutive iterations: its TPOT is that mean plus what its own prefill iteration's excess
length carries into them (rho_w^i in the i-th), gamma with the level variance plus the
iteration variance / (O - 1). End-to-end = TTFT + (O - 1) x mean TPOT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clustersim.workload.latency_chain import ChainModel, State
from clustersim.workload.stats import gamma_sf, weighted_quantile

NAN = math.nan
_GRID = np.concatenate([[0.0], np.geomspace(1e-4, 1.0, 160)])  # x the largest TTFT worth a look
_TGRID = np.linspace(-8.0, 30.0, 160)  # TPOT: mean + standard deviations
SF_GRID = np.geomspace(1e-3, 1e5, 241)
"""Seconds at which a prediction keeps its survival functions (request-weighted mixtures)."""


@dataclass(frozen=True)
class Prediction:
    """Predicted latency of a service at one demand and replica count (seconds)."""

    stable: bool
    utilisation: float  # lam / (n phi(S)): offered load over saturation throughput
    batch: float  # mean sequences running per replica
    p_wait: float  # a request waits for a slot
    wait_mean: float  # mean wait for a slot (all requests)
    wait_p99: float
    ttft_mean: float
    ttft_p50: float
    ttft_p99: float
    tpot_mean: float
    tpot_p50: float
    tpot_p99: float
    e2e_p99: float
    shares: dict  # metric -> share of requests within its SLO threshold; "all" -> joint
    attainment: float  # share of requests within every threshold (NaN without an SLO)
    met: bool  # every SLO target holds (False without an SLO)
    ttft_sf: np.ndarray  # P(TTFT > t) on SF_GRID
    tpot_sf: np.ndarray  # P(TPOT > t) on SF_GRID, requests of two or more output tokens


class LatencyModel(ChainModel):
    """The analytic model of one service (``cfg``: a ``LatencyConfig``); ``predict(lam, n)``
    and ``meets(lam, n)`` are cached by their arguments."""

    def _ttft_sf(self, st: State, t: np.ndarray, w: np.ndarray) -> np.ndarray:
        """P(TTFT > t) of requests whose prompt takes ``w`` to prefill (broadcast)."""
        x = t - w
        out = st.p_idle * (x < self.a)
        if st.p_busy > 0:
            out = out + st.p_busy * self._table(st.mean_b, st.var_b, x)
        if st.full > 0:
            out = out + st.full * self._table(st.mean_f, st.var_f, x)
        return out

    def _table(self, mean: float, var: float, x: np.ndarray) -> np.ndarray:
        """Gamma survival function at ``x``, read from 257 points (exact at the points)."""
        key = (mean, var)
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) > 16:
                self._tables.clear()
            u = np.linspace(0.0, mean + 12.0 * math.sqrt(var) + 1e-12, 257)
            table = self._tables[key] = (u, gamma_sf(u, mean, var))
        return np.interp(x, table[0], table[1], left=1.0, right=0.0)

    def _tpot_sf(self, st: State, t: np.ndarray, mean: np.ndarray, inv_m: np.ndarray) -> np.ndarray:
        """P(TPOT > t) of requests with mean TPOT ``mean`` and 1 / (O - 1) = ``inv_m`` (O >= 2)."""
        return gamma_sf(t, mean, st.var_state + st.v_iter * inv_m)

    @staticmethod
    def _quantiles(grid: np.ndarray, sf, qs, keep: list | None = None) -> list[float]:
        """Quantiles of a survival function ``sf`` (of a time array) read on ``grid``, then on
        17 points between the grid points around each (a step is placed within 1/16 of one).
        ``keep`` receives the survival function on SF_GRID (interpolated)."""
        s = sf(grid)
        if keep is not None:
            keep.append(np.interp(SF_GRID, grid, s, left=1.0, right=0.0))
        out = []
        for q in qs:
            i = int(np.searchsorted(-s, -(1.0 - q), side="left"))
            if 0 < i < len(grid):
                fine = np.linspace(grid[i - 1], grid[i], 17)
                out.append(weighted_quantile(fine, sf(fine), q))
            else:
                out.append(weighted_quantile(grid, s, q))
        return out

    def _ttft_hi(self, st: State, extra: float = 0.0) -> float:
        hi = self.a + float(self.w_pts[-1]) + st.mean_b + 8 * math.sqrt(st.var_b) + extra
        if st.full > 1e-6:
            hi += st.mean_f + 8 * math.sqrt(st.var_f) + math.log(st.full / 1e-6) * st.m_w
        return hi

    # ----------------------------------------------------------------------------- answers

    def meets(self, lam: float, n: int) -> bool:
        """Every SLO target holds at ``lam`` requests/s on ``n`` replicas (the autoscaler's test)."""
        st = self.state(lam, n)
        return st is not None and self._slo(st)[2]

    def predict(self, lam: float, n: int) -> Prediction:
        """Percentiles, means and SLO attainment at ``lam`` requests/s on ``n`` replicas. Cached."""
        key = (float(lam), int(n))
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            hit = self._cache[key] = self._predict(*key)
        return hit

    def _unstable(self, util: float) -> Prediction:
        inf = math.inf
        shares = {k: 0.0 for k in (self.slo.targets() if self.slo else {})}
        if self.slo:
            shares["all"] = 0.0
        ones = np.ones(len(SF_GRID))
        return Prediction(False, util, float(self.S), 1.0, inf, inf, inf, inf, inf, inf, inf, inf, inf,
                          shares, 0.0 if self.slo else NAN, False, ones, ones)

    def _predict(self, lam: float, n: int) -> Prediction:
        st = self.state(lam, n)
        if st is None:
            return self._unstable(lam / (n * self.phi_full) if n > 0 else math.inf)
        w, ww = self.w_pts, self.w_wts
        grid = _GRID * self._ttft_hi(st)
        kept: list = []
        ttft_p50, ttft_p99 = self._quantiles(
            grid, lambda t: (ww * self._ttft_sf(st, t[:, None], w[None, :])).sum(axis=1), (0.5, 0.99), kept)
        gw, gmean, ginv = self._tpot_groups(st)
        sd = math.sqrt(st.var_state + st.v_iter * float(ginv.max()))
        grid = np.maximum(st.tau + sd * _TGRID + np.linspace(0.0, float(gmean.max()) - st.tau, len(_TGRID)), 0.0)
        tpot_p50, tpot_p99 = self._quantiles(
            grid, lambda t: (gw * self._tpot_sf(st, t[:, None], gmean[None, :], ginv[None, :])).sum(axis=1), (0.5, 0.99),
            kept)
        e2e_p99 = NAN
        if self.slo is not None and self.slo.e2e is not None:
            shift = self.pm * st.tau
            grid = _GRID * self._ttft_hi(st, float(shift.max()))
            e2e_p99 = self._quantiles(
                grid, lambda t: self._ttft_sf(st, t[:, None] - shift[None, :], self.pw[None, :]).mean(axis=1), (0.99,))[0]
        full = st.full
        wait_p99 = st.m_w * math.log(full / 0.01) if full > 0.01 else 0.0
        ttft_mean = self.a * st.p_idle + st.mean_b * st.p_busy + st.mean_f * full + self.Ew
        shares, attainment, met = self._slo(st)
        return Prediction(True, st.util, st.batch, full, full * st.m_w, wait_p99, ttft_mean, ttft_p50, ttft_p99,
                          st.tpot, tpot_p50, tpot_p99, e2e_p99, shares, attainment, met, kept[0], kept[1])

    def _slo(self, st: State):
        if self.slo is None:
            return {}, NAN, False
        targets = self.slo.targets()
        shares = {}
        joint = np.ones(len(self.pw))
        ok = []
        if "ttft" in targets:
            t = targets["ttft"].value
            shares["ttft"] = 1.0 - float((self.w_wts * self._ttft_sf(st, t, self.w_pts)).sum())
            ok.append(1.0 - self._ttft_sf(st, t, self.pw))
        if "e2e" in targets:
            t = targets["e2e"].value
            e2e_ok = 1.0 - self._ttft_sf(st, t - self.pm * st.tau, self.pw)
            shares["e2e"] = float(e2e_ok.mean())
            ok.append(e2e_ok)
        if "tpot" in targets:
            t = targets["tpot"].value
            gw, gmean, ginv = self._tpot_groups(st)
            shares["tpot"] = 1.0 - float((gw * self._tpot_sf(st, t, gmean, ginv)).sum())
            m = np.maximum(self.pm, 1.0)
            mean = st.tau + st.excess * st.rho_w * -np.expm1(m * math.log(max(st.rho_w, 1e-300))) / (
                (1.0 - st.rho_w) * m)
            joint = joint * np.where(self.pm >= 1, 1.0 - self._tpot_sf(st, t, mean, 1.0 / m), 1.0)
        if ok:
            joint = joint * (np.minimum(ok[0], ok[1]) if len(ok) == 2 else ok[0])  # TTFT, e2e: comonotone
        attainment = float(np.clip(joint, 0.0, 1.0).mean())
        shares["all"] = attainment
        met = all(shares[k] >= targets[k].share - 1e-9 for k in targets)
        if self.slo.attainment is not None:
            met = met and attainment >= self.slo.attainment - 1e-9
        return shares, attainment, met
