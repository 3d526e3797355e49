"""The chain behind :mod:`clustersim.workload.latency` (see its docstring): a service's
requests as a birth-death chain over the sequences its replicas hold, and what an arrival
finds there (the parts of TTFT, the decode iterations behind TPOT). Pure numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clustersim.workload.stats import lgamma1

LIMIT = 1000
"""Most cells of the chain below full; a larger chain is read on a coarser grid."""


@dataclass(frozen=True)
class State:
    """What the chain says at one demand and replica count, before any percentile."""

    util: float
    lam_r: float
    p_idle: float  # the request finds its replica idle
    p_busy: float  # ... busy with room
    full: float  # ... every slot busy: it waits
    mean_b: float  # R + d + X when busy: mean, variance
    var_b: float
    mean_f: float  # slot wait + d + X when full
    var_f: float
    m_w: float  # mean wait for a slot, given one
    batch: float  # mean sequences per replica
    tpot: float  # mean TPOT of requests with two or more output tokens
    var_state: float  # variance of the mean decode iteration over the chain's levels
    v_iter: float  # long-run variance of iteration times (the prompts they prefill; AR(1))
    tau: float  # mean iteration, averaged over iterations (mu: _iteration_mean)
    excess: float  # extra length of a request's prefill iteration, decaying as rho_w^i after it
    rho_w: float


def _weighted_points(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` quantile points of ``values`` with their probabilities, denser in the upper
    tail (cells equally spaced in -log(1 - u)), so a p99 is resolved."""
    edges_t = np.linspace(0.0, -math.log(1e-4), k + 1)
    u = np.clip(1.0 - np.exp(-edges_t), 0.0, 1.0)
    u[-1] = 1.0
    mids = (u[:-1] + u[1:]) / 2
    weights = np.diff(u)
    pts = np.quantile(values, mids, method="linear") if len(values) > 1 else np.full(k, values[0])
    return pts, weights


class ChainModel:
    """The chain of one service (``cfg``: a ``LatencyConfig``); ``state(lam, n)`` is cached."""

    def __init__(self, cfg, points: int = 64, pairs: int = 256):
        self.cfg = cfg
        prof = cfg.profile
        m = cfg.requests.moments()
        p, o = cfg.requests.pairs()
        self.prof = prof
        self.S = cfg.slots(m)
        self.EO = m.o
        self.q = (m.o - 1.0) / m.o
        self.a = prof.a
        w_all = prof.prefill(p)
        self.Ew = prof.p1 * m.p + prof.p2 * m.p2  # exact where the prompt has closed-form moments
        self.Ew2 = prof.p1 ** 2 * m.p2 if prof.p2 == 0 else float((w_all * w_all).mean())
        self.Ew3 = float((w_all ** 3).mean())
        self.phi_full = cfg.capacity(m)
        self.ca2 = cfg.ca2
        # Above full the queue waits on the replicas' departures, and its spread is that of the
        # arrivals (ca2: the SCV of their interarrival times, 1 for Poisson; config.arrivals)
        # plus that of the departures (i_d, their index of dispersion), as in Kingman's heavy-
        # traffic G/G/1 with the departure process as the server (Iglehart & Whitt 1970; the
        # wait given one is then exponential, mean (ca2 + i_d) / 2 / (n phi(S) - lam)). Not the
        # slots' holding times (Allen-Cunneen's cs2): the S slots share one iteration clock, so
        # they are not S independent servers. With every slot busy an iteration admits as many
        # prompts as the one before released (delta_i, about Poisson: the superposition of S
        # slot renewals, Palm-Khintchine; in Whitt's QNA the multi-server departures' SCV is
        # 1 + rho^2 (cs2 - 1) / sqrt(c), ~1 at c = 256) and lasts L = d(S q) + their prefills,
        # so departures are a renewal-reward count whose variance grows at Var(delta - phi L) /
        # E[L] a second (phi = phi(S) = E[delta] / E[L]); for a compound Poisson sum of
        # 1 - phi w per prompt that is phi E[delta] E[(1 - phi w)^2] / E[delta], i.e.
        #     i_d = (1 - phi E[w])^2 + phi^2 Var(w).
        # Azure conversation: 0.60 (the holding times' cs2 is 0.59, so Allen-Cunneen agreed);
        # code: 1.27, where cs2 = 4.6 (outputs of very different lengths) waited 2.5x too long.
        self.i_d = (1.0 - self.phi_full * self.Ew) ** 2 + self.phi_full ** 2 * max(self.Ew2 - self.Ew ** 2, 0.0)
        self.w_pts, self.w_wts = _weighted_points(w_all, points)
        self.m_pts, self.m_wts = _weighted_points(o - 1.0, points)
        take = np.linspace(0, len(p) - 1, min(pairs, len(p))).astype(int)
        order = np.random.default_rng(7).permutation(len(p))[take]  # a fixed subsample, not a run's stream
        self.pw, self.pm = w_all[order], o[order] - 1.0
        dec = np.nonzero(self.m_pts >= 1)[0]  # TPOT is defined for requests of two or more output tokens
        self.m_index = np.array_split(dec, min(12, len(dec))) if len(dec) else [np.array([0])]
        self.dec_share = float(self.m_wts[dec].sum()) if len(dec) else 1.0
        self.slo = cfg.slo
        self.pooled = cfg.routing != "round_robin"
        self._cache: dict = {}
        self._states: dict = {}
        self._tables: dict = {}

    # ----------------------------------------------------------------------------- chain

    def _excess(self, lam_r: float, rho_w: float) -> tuple[float, float]:
        """(E1, C): the extra length of a request's prefill iteration (it came during a
        length-biased iteration, its own prompt and those that came meanwhile are in it), and
        the extra time its decode iterations take, E1 x sum of rho_w^i, i = 1..O-1, on average:
        more prompts arrive during longer iterations (iteration lengths are AR(1))."""
        e1 = rho_w * lam_r * self._w2 / (1.0 - rho_w ** 2) + self.Ew
        if rho_w <= 0:
            return e1, 0.0
        m = self.m_pts
        total = rho_w * -np.expm1(np.maximum(m, 0.0) * math.log(rho_w)) / (1.0 - rho_w)
        return e1, e1 * float((self.m_wts * total).sum())

    def _phi(self, k: np.ndarray, lam_r: float, rho_w: float) -> np.ndarray:
        """Completions per second of a replica holding ``k`` sequences (k whole, 0..S): k over
        a request's time in the batch, E[O] iterations of d(k q) / (1 - rho_w) plus C."""
        k = np.asarray(k, dtype=float)
        dec = self._decode(k * self.q)
        c = self._excess(lam_r, rho_w)[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(k > 0, k / (self.EO * dec / (1.0 - rho_w) + c), 0.0)
        return np.where(k >= self.S, self.phi_full, out)

    def _log_ratio(self, j, mu, lam: float, n: int, rho_w: float):
        """(log(lam / mu(j)) over R, -log R) for steps ``j`` of the chain: R is the noise of the
        diffusion the chain stands for over a birth-death chain's. An arrival admitted beside
        other sequences (j > n) stalls them for its prefill w, so it counts as 1 + r w
        completions deferred (r = lam_r / (1 - rho_w), completions per second of decode time
        in balance): the running count spreads wider (the step shrinks) and its density goes
        as 1 / noise."""
        with np.errstate(divide="ignore"):
            step = np.log(lam) - np.log(mu)
        if self.S == 1:
            return step, 0.0
        r = np.where(np.asarray(j) > n, lam / (n * (1.0 - rho_w)), 0.0)
        if self.pooled:  # births: all arrivals (Poisson); each stalls its own replica
            noise = lam * (1.0 + 2.0 * r * self.Ew + r * r * self.Ew2) + mu
            if self.ca2 != 1.0:  # a renewal process: counts vary ca2 times a Poisson stream's
                noise = noise + lam * (self.ca2 - 1.0) * (1.0 + r * self.Ew) ** 2
        else:  # one replica's arrivals: every n-th (interarrival cv^2 = ca2 / n)
            noise = lam * (self._ca2 * (1.0 + r * self.Ew) ** 2 + r * r * (self.Ew2 - self.Ew ** 2)) + mu
        ratio = noise / (lam + mu)
        return step / ratio, -np.log(ratio)

    def _chain(self, lam: float, n: int):
        """Cells of the chain below full: (N, mass), and the mass of the full states."""
        S = self.S
        rho_w = lam / n * self.Ew
        phi = self._phi(np.arange(S + 1), lam / n, rho_w)
        M = n * S
        step = max(1, math.ceil(M / LIMIT))
        N = np.arange(0, M, step, dtype=float)

        def mu_at(j):  # deaths from state j: r phi(k+1) + (n - r) phi(k), k = j // n
            k = np.minimum(np.floor(np.asarray(j, dtype=float) / n), S - 1)
            r = j - k * n
            return r * phi[(k + 1).astype(int)] + (n - r) * phi[k.astype(int)]

        if step == 1:
            j = N[1:]
            inc, density = self._log_ratio(j, mu_at(j), lam, n, rho_w)
            logp = np.concatenate([[0.0], np.cumsum(inc) + density])
        else:  # exact up to n (N log(lam / phi1) - log N!), then a midpoint sum per cell
            logp = np.empty(len(N))
            low = N <= n
            logp[low] = N[low] * math.log(lam / phi[1]) - lgamma1(N[low])
            hi = np.nonzero(~low)[0]
            if len(hi):
                mid = np.concatenate([[n], N[hi]])
                centres = (mid[:-1] + mid[1:]) / 2
                inc, density = self._log_ratio(centres, mu_at(centres), lam, n, rho_w)
                logp[hi] = n * math.log(lam / phi[1]) - float(lgamma1(np.array([n]))[0]) + np.cumsum(
                    inc * np.diff(mid)) + density
        # the first full state (mu(n S) = n phi(S)) and the geometric tail above it
        last = N[-1]
        logp_top = logp[-1]
        if M - last > 1:  # a coarse grid: the states between its last cell and full
            centre = (last + M) / 2
            logp_top += (M - 1 - last) * float(self._log_ratio(centre, mu_at(centre), lam, n, rho_w)[0])
        inc, density = self._log_ratio(M, n * self.phi_full, lam, n, rho_w)
        log_full = logp_top + float(inc) + float(density) - float(self._log_ratio(last, mu_at(last), lam, n, rho_w)[1])
        # The queue above full is geometric with ratio sigma: lam / (n phi(S)) for Poisson
        # arrivals (M/M/c); for a renewal process GI/M/c's sigma = A*(n phi(S) (1 - sigma)), in
        # heavy traffic 1 - sigma ~ 2 (1 - rho) / (1 + ca2) (Kingman), read as rho^(2 / (1 + ca2)).
        tail = math.log(lam / (n * self.phi_full)) * 2.0 / (1.0 + self.ca2)
        top = max(logp.max(), log_full)
        mass = np.exp(logp - top) * step
        full = math.exp(log_full - top) / -math.expm1(tail)
        z = mass.sum() + full
        return N, mass / z, full / z, rho_w

    # ----------------------------------------------------------------------------- state

    def _decode(self, k):
        k = np.asarray(k, dtype=float)
        if self.prof.decode_table:
            return np.array([self.prof.decode(x) for x in np.atleast_1d(k).ravel()]).reshape(k.shape)
        d0, d1 = self.prof.decode(0), self.prof.decode(1)
        return d0 + (d1 - d0) * k

    def _iterations(self, lam_r, rho_w, tau):
        """Variance and third central moment of an iteration of mean ``tau``: the prefills it
        holds are those of the arrivals during the one before (a compound Poisson sum), so
        iteration lengths form an AR(1) chain with coefficient rho_w = lam_r E[w]."""
        v = lam_r * self._w2 * tau / (1.0 - rho_w ** 2)
        k3 = (lam_r * self.Ew3 * tau + 3 * rho_w * lam_r * self._w2 * v) / (1.0 - rho_w ** 3)
        return v, k3

    def _iteration_mean(self, lam_r: float, rho_w: float, busy: float) -> float:
        """The mean length of a replica's iterations, averaged over iterations (not over time):
        the mu that balances two flows. A replica busy a share ``busy`` of the time runs
        busy / mu iterations a second; they spend rho_w of each second on prefills and
        d(k) on each iteration's decodes, and hold lam_r E[O - 1] decoding sequences a second
        in all (each request decodes in O - 1 iterations), so k = lam_r E[O - 1] mu / busy
        per iteration on average and

            busy = (busy / mu) d(lam_r E[O - 1] mu / busy) + rho_w,

        exactly for a linear d (a + b k: mu = a busy / (busy - rho_w - b lam_r E[O - 1])).
        An iteration holds at most S sequences and lam_r E[O] pass a second, so mu <=
        S busy / (lam_r E[O]); that bound is taken where the balance has no smaller root. Not
        d(k) / (1 - rho_w) at the time-averaged k: when prefills fill most of the time, many
        sequences run during the long iterations (those with many prompts) and few during the
        many short ones, so the time-averaged batch far exceeds the iteration-averaged one
        (Azure code tokens at 95%: ~120 against ~50 in the request-level model)."""
        if busy <= 0:
            return float(self._decode(0.0))
        cap = self.S * busy / (lam_r * self.EO)
        per = lam_r * (self.EO - 1.0) / busy  # decoding sequences per iteration, per second of mu
        if self.prof.decode_table is None:
            a = float(self._decode(0.0))
            room = busy - rho_w - (float(self._decode(1.0)) - a) * per * busy
            return min(a * busy / room, cap) if room > 0 else cap

        def gap(mu: float) -> float:
            return mu * (busy - rho_w) / busy - float(self._decode(per * mu))

        if gap(cap) <= 0:
            return cap
        lo, hi = 0.0, cap
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
        return hi

    def _busy_parts(self, lam_r, rho_w, k, mu: float, rho_c: float):
        """Mean and variance of R + d(k q) + X for arrivals finding ``k`` running (array): R
        and X from the iterations' moments, of mean d(k q) / (1 - rho_w) at the level or the
        flow balance's ``mu``, the smaller (see ``_state``), and AR(1) coefficient ``rho_c``.

        rho_c = rho_w (1 - P(full)): a longer iteration brings more prompts into the next one
        only while the batch has room; at a full batch admissions follow departures whatever
        the iteration's length. The cap censors the chain, and its linearisation (the mean
        slope of the next iteration's prefills on this one's length) scales the coefficient by
        the share of time below the cap. Code tokens at 95%: 0.84, the lag-1 correlation
        measured in the request-level model, against 0.90 uncapped (with which, 1 / (1 - rho^2)
        in the variance, p99 TTFT came out at 27 s against the request-level 19 s). The mean
        iteration is unchanged (that is rho_w's: the prefill share of time). Left linear: the
        censored chain's variance is not exactly the linearised one's."""
        d = self._decode(k * self.q)
        tau = np.minimum(d / (1.0 - rho_w), mu)
        v, k3 = self._iterations(lam_r, rho_c, tau)
        e2 = tau * tau + v
        e3 = tau ** 3 + 3 * tau * v + k3
        lb = e2 / tau  # length-biased mean of the running iteration
        var_lb = np.maximum(e3 / tau - lb * lb, 0.0)
        r1, r2 = e2 / (2 * tau), e3 / (3 * tau)
        ca2 = self._ca2  # prompts at the replica in the window around the arrival: fewer when smooth
        others = ca2 * lam_r * lb + (1.0 - ca2) * np.maximum(lam_r * lb - 1.0, 0.0)
        slope = others / lb * self.Ew  # X per second of the running iteration
        var_x = others * (self.Ew2 - self.Ew ** 2) + ca2 * lam_r * lb * self.Ew ** 2 + slope * slope * var_lb
        return r1 + d + others * self.Ew, np.maximum(r2 - r1 * r1, 0.0) + var_x + slope * var_lb

    def state(self, lam: float, n: int) -> State | None:
        """The chain and the latency parts at ``lam`` requests/s on ``n`` replicas (None when
        ``n`` replicas cannot keep up). Cached."""
        key = (float(lam), int(n))
        if key in self._states:
            return self._states[key]
        if len(self._states) > 50_000:
            self._states.clear()
        st = self._states[key] = self._state(*key)
        return st

    def _state(self, lam: float, n: int) -> State | None:
        if n <= 0 or lam >= n * self.phi_full:
            return None
        lam = max(lam, 1e-12 * n * self.phi_full)  # no requests: what one would see
        lam_r = lam / n
        # Routing spreads arrivals: a replica gets about every n-th (interarrival cv^2 ca2 / n),
        # so the prompts that share its iterations vary less than the whole stream's.
        self._ca2 = self.ca2 / n
        self._w2 = self.Ew2 - (1.0 - self._ca2) * self.Ew ** 2
        if self.pooled:
            cells, mass, full, rho_w = self._chain(lam, n)
            level = cells / n
            gap = n * self.phi_full - lam
        else:
            cells, mass, full, rho_w = self._chain(lam_r, 1)
            level = cells
            gap = self.phi_full - lam_r
        p_idle = float(mass[level < 1].sum())
        busy = level >= 1
        wb = mass[busy]
        p_busy = float(wb.sum())
        # JSQ keeps min(N, n) replicas busy: each is busy E[min(level, 1)] of the time
        mu = self._iteration_mean(lam_r, rho_w, float((mass * np.minimum(level, 1.0)).sum()) + full)
        if p_busy > 0:
            mb, vb = self._busy_parts(lam_r, rho_w, np.floor(level[busy]), mu, rho_w * (1.0 - full))  # JSQ: the least-loaded replica
            mean_b = float((wb * mb).sum() / p_busy)
            var_b = max(float((wb * (vb + mb * mb)).sum() / p_busy) - mean_b ** 2, 0.0)
        else:
            mean_b = var_b = 0.0
        m_w = (self.ca2 + self.i_d) / 2.0 / gap  # the wait for a slot, given one (Kingman, I_d)
        others = max(self.S / self.EO - 1.0, 0.0)  # admitted with it when a slot frees
        mean_f = m_w + float(self._decode((self.S - 1) * self.q)) + others * self.Ew
        var_f = m_w * m_w + others * self.Ew2
        # the level a decoding sequence lives through, weighted by participation: the spread of TPOT
        lv = np.concatenate([level, [self.S]])
        ms = np.concatenate([mass, [full]])
        tau = self._decode(1.0 + np.maximum(lv - 1.0, 0.0) * self.q) / (1.0 - rho_w)
        tau[-1] = float(self._decode(1.0 + (self.S - 1) * self.q)) + self.S / self.EO * self.Ew
        part = ms * lv / tau
        tot = float(part.sum())
        if tot > 0:  # the spread of the mean iteration over the levels a sequence lives through
            mean_level = float((ms * lv).sum()) / tot
            var_state = max(float((part * tau * tau).sum()) / tot - mean_level * mean_level, 0.0)
        else:
            mean_level, var_state = float(tau[0]), 0.0
        # A request's iterations are consecutive ones: their mean is the iterations' mean. The
        # flow balance gives it exactly for the busy share it is given, but the chain's busy
        # share is reliable only where a replica is nearly always busy (below, its levels leave
        # out prefill time); the participant-weighted d(k q) / (1 - rho_w) over the levels
        # bounds it from above (the time-averaged batch is at least the iteration-averaged one,
        # as sequences and iteration lengths rise together). The smaller of the two is taken.
        tpot = min(mu, mean_level)
        batch = float((mass * np.minimum(level, self.S)).sum() + full * self.S)
        # A request's decode iterations follow its arrival: it came during a length-biased
        # iteration and was prefilled in the next, whose extra length (excess) carries over to
        # the i-th iteration after it as rho^i (more prompts arrive during longer iterations),
        # rho the coefficient censored at a full batch as in _busy_parts.
        rho_w = rho_w * (1.0 - full)  # the censored chain's coefficient (_busy_parts)
        excess = self._excess(lam_r, rho_w)[0]
        g = self._carry(rho_w)
        tpot_req = tpot + excess * float((self.m_wts * g)[self.m_pts >= 1].sum()) / self.dec_share
        v_iter = lam_r * self._w2 * tpot / (1.0 - rho_w) ** 2
        return State(lam / (n * self.phi_full), lam_r, p_idle, p_busy, full, mean_b, var_b, mean_f, var_f, m_w,
                     batch, tpot_req, var_state, v_iter, tpot, excess, rho_w)

    def _carry(self, rho: float) -> np.ndarray:
        """Mean over a request's m = O - 1 decode iterations of rho^i, i = 1..m (per m point)."""
        m = np.maximum(self.m_pts, 1.0)
        if rho <= 0:
            return np.zeros_like(m)
        return rho * -np.expm1(m * math.log(rho)) / ((1.0 - rho) * m)

    def _tpot_groups(self, st: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weight, mean TPOT, 1 / m) of the groups of requests by output length."""
        g = self._carry(st.rho_w)
        w = np.array([self.m_wts[i].sum() for i in self.m_index])
        mean = np.array([(self.m_wts[i] * g[i]).sum() for i in self.m_index]) / w * st.excess + st.tau
        inv = np.array([(self.m_wts[i] / np.maximum(self.m_pts[i], 1.0)).sum() for i in self.m_index]) / w
        return w / w.sum(), mean, inv

    # ----------------------------------------------------------------------------- distributions
