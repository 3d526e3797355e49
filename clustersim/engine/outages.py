"""Correlated outages: failures of whole topology domains (issue 13, part b), run by the
failure component (``engine.failures``) when ``failures.domains`` is given.

Each configured kind (``name``, ``level``, rate, repair time) runs one renewal process per
domain of its level: while the domain is up it fails at ``rate_per_1000_domain_days`` (an
exponential time from the stream ``failures.domain.<name>.<d>``); the event takes every node of
the domain down at once (``Cluster.hold``) and they stay down until the repair time (stream
``failures.domain.<name>.<d>.repair``) has passed, measured from the event; then the domain's
next failure is drawn. Jobs on those nodes go the failure path of node failures: they hang
until the failure is detected (stream ``failures.domain_detection``), then restart on spares
their locality rule allows or requeue. A node whose own failure is still in repair when its
domain returns stays down until its own repair; a node's own failure clock stops while its
domain is down and restarts (a fresh draw) when the node comes back. Domains are those of the
fleet at time zero. ``held`` counts the outages holding each node now (down nodes by cause).
"""

from __future__ import annotations

import math

from clustersim.model import REPLICA
from clustersim.rng import Draws

DAY = 86400.0


class DomainOutages:
    """The domain failure processes of one run (see the module docstring)."""

    def __init__(self, failures):
        self.failures = failures
        self.env = failures.env
        self.cluster = failures.cluster
        self.index = self.cluster.topology
        streams = failures.streams
        cfg = failures.cfg
        self._detect = Draws(cfg.detection.sampler(streams("failures.domain_detection")), 64)
        self.kinds = []
        for kind in cfg.domains:
            level = self.index.names.index(kind.level)
            rate = kind.rate_per_1000_domain_days / 1000.0 / DAY
            clocks, repairs = [], []
            for d in range(self.index.domains(level)):
                gen = streams(f"failures.domain.{kind.name}.{d}")
                clocks.append(Draws(lambda n, g=gen: g.exponential(1.0, n), 16))
                repairs.append(Draws(kind.repair.sampler(streams(f"failures.domain.{kind.name}.{d}.repair")), 16))
            self.kinds.append((kind, level, rate, clocks, repairs))
        self.events = 0
        self.held: dict[int, int] = {}  # node -> domain outages holding it now
        for k, (_kind, _level, rate, clocks, _r) in enumerate(self.kinds):
            if rate > 0:
                for d in range(len(clocks)):
                    self._arm(k, d)

    def _arm(self, k: int, d: int) -> None:
        _kind, _level, rate, clocks, _r = self.kinds[k]
        event = self.env.timeout(clocks[d].next() / rate, value=(k, d))
        event.callbacks.append(self._fail)

    def nodes(self, level: int, d: int) -> list[int]:
        """Nodes of domain ``d`` of ``level`` (by slot)."""
        n = self.index.sizes[level]
        of = self.index.nodes_of
        return of[d * n: min((d + 1) * n, len(of))]

    def _fail(self, event) -> None:
        k, d = event._value
        kind, level, _rate, _c, repairs = self.kinds[k]
        f, cluster, now = self.failures, self.cluster, self.env.now
        self.events += 1
        repair = float(repairs[d].next())
        victims: dict = {}
        nodes = [x for x in self.nodes(level, d) if not cluster.retired[x]]
        for node in nodes:
            if cluster.up[node]:
                f.node_token[node] += 1  # its own failure clock stops while it is down
            self.held[node] = self.held.get(node, 0) + 1
            for job in cluster.hold(node):
                victims[job] = None
        for job in victims:
            if job.kind == REPLICA:
                job.owner.lost(job)
            else:
                f.hang(job, now)
        per = cluster.pools[0].gpus_per_node
        detail = f"{self.index.names[level]}:{d}"
        f.rows.append((now, "domain_failure", -1, kind.name, self.index.names[level], repair, len(victims),
                       cluster.pools[0].name, per * len(nodes), -1, -1, math.nan, detail))
        f.engine.capacity_changed()
        jobs = [j for j in victims if j.kind != REPLICA]
        detected = self.env.timeout(float(self._detect.next()), value=(jobs, [j.token for j in jobs]))
        detected.callbacks.append(self._detected)
        back = self.env.timeout(repair, value=(k, d, nodes, repair))
        back.callbacks.append(self._repaired)

    def _detected(self, event) -> None:
        jobs, tokens = event._value
        for job, token in zip(jobs, tokens, strict=True):
            if job.token == token:
                self.failures.recover(job)

    def _repaired(self, event) -> None:
        k, d, nodes, repair = event._value
        kind, level, rate, _c, _r = self.kinds[k]
        f, cluster = self.failures, self.cluster
        held = self.held
        for node in nodes:
            held[node] -= 1
            if not held[node]:
                del held[node]
            if cluster.unhold(node) and node not in f.in_repair and not cluster.retired[node]:
                cluster.bring_up(node)
                if cluster.up[node]:
                    f._arm(node)
        f.rows.append((self.env.now, "domain_repair", -1, kind.name, self.index.names[level], repair, 0,
                       cluster.pools[0].name, cluster.pools[0].gpus_per_node * len(nodes), -1, -1, math.nan,
                       f"{self.index.names[level]}:{d}"))
        f.engine.capacity_changed()
        if rate > 0:
            self._arm(k, d)
