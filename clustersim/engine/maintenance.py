"""Planned maintenance (issue 13, part c): the calendar of ``config.maintenance`` as an engine
component. Waves of nodes drain, go down and come back, with at most one wave of a window down
at once (the rolling cap ``max_down``).

Times, exactly (one window, its waves ``k = 0, 1, ...`` over all its repeats, in order):

- ``planned[k] = start + r x every + i x duration`` for wave ``i`` of repeat ``r``;
- drain: at ``max(0, planned[k] - lead_time)`` each node of the wave is cordoned (no new jobs,
  ``engine.cordon``); a hot spare among them leaves the spare pool;
- begin: at ``max(planned[k], the time the last node of wave k - 1 came back)``;
- down: ``running: checkpoint``: at the begin, every training job running on the node is
  stopped and requeued at its original place. It keeps all its progress up to ``begin - c``
  (``c``: its plan's checkpoint cost, or its elapsed segment if shorter) and the last ``c``
  seconds are the checkpoint write (overhead); it loses nothing, and its next segment pays the
  restart cost like any restart. A job without a checkpoint plan (no failures section) keeps
  all its progress at no cost. The node goes down at the begin. ``running: finish``: a node
  with training jobs goes down when the last of them ends; an idle node at the begin. Inference
  replicas on a node are lost when it goes down (their service replaces them). A node already
  down (failure, domain outage) starts its maintenance at the begin;
- up: ``duration`` after the node went down it leaves maintenance; it returns to service then
  unless a failure repair or a domain outage still holds it (it returns when they end). Its
  failure clock stops while it is down for maintenance and restarts (a fresh draw) on return.

Timeseries columns: ``draining_nodes`` (cordoned and up), and down nodes by cause, which sum to
``down_nodes``: ``down_maintenance_nodes``, ``down_domain_nodes`` (held by a domain failure and
not in maintenance), ``down_failure_nodes`` (the rest: own failures, pulled, swapped-out slow
nodes). Events: per wave ``maintenance_drain``, ``maintenance_start``, ``maintenance_end``
(node -1, ``detail`` the wave's domains or node range), per node ``maintenance_down`` and
``maintenance_up``, per stopped job ``maintenance_stop`` (``down_s``: its checkpoint write).
"""

from __future__ import annotations

import math

from clustersim.checkpoint import split
from clustersim.config.maintenance import MaintenanceWindow, wave_cap
from clustersim.engine.component import Component
from clustersim.engine.cordon import cordon, uncordon
from clustersim.model import REPLICA
from clustersim.results.topology import maintenance_summary


class _Wave:
    __slots__ = ("window", "nodes", "planned", "detail", "left", "seq", "k")

    def __init__(self, window: MaintenanceWindow, nodes: list[int], planned: float, detail: str):
        self.window, self.nodes, self.planned, self.detail = window, nodes, planned, detail
        self.left = 0  # nodes still to come back
        self.seq: list[_Wave] = []  # the window's waves, and this one's place in them
        self.k = 0


def waves_of(window: MaintenanceWindow, nodes: list[int], detail: list[str], units: list[list[int]],
             fleet: int, horizon: float) -> list[_Wave]:
    """The window's waves over its repeats: ``units`` (domains, or single nodes) packed in order
    into waves of at most ``wave_cap`` nodes."""
    cap = wave_cap(window, fleet)
    groups: list[tuple[list[int], list[str]]] = []
    for unit, name in zip(units, detail, strict=True):
        if groups and len(groups[-1][0]) + len(unit) <= cap:
            groups[-1][0].extend(unit)
            groups[-1][1].append(name)
        else:
            groups.append((list(unit), [name]))
    out = []
    start = window.start
    while start < horizon:
        for i, (members, names) in enumerate(groups):
            label = names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"
            out.append(_Wave(window, members, start + i * window.duration, label))
        if window.every is None:
            break
        start += window.every
    for k, wave in enumerate(out):
        wave.seq, wave.k = out, k
    return out


class Maintenance(Component):
    """The maintenance calendar (see the module docstring)."""

    level_columns = ("draining_nodes", "down_maintenance_nodes", "down_domain_nodes", "down_failure_nodes")

    def __init__(self, scenario, streams):
        self.scenario = scenario
        self.streams = streams
        self.cfg = scenario.maintenance
        self.rows: list[tuple] = []
        self.drains: dict[int, int] = {}  # node -> waves that cordoned it and have not returned it
        self.downs: dict[int, int] = {}  # node -> waves it is down for
        self.waiting: dict[int, _Wave] = {}  # finish mode: node -> its begun wave, jobs still on it
        self.stops: dict[int, int] = {}  # job seq -> times stopped for maintenance
        self.failures = None
        self.outages = None

    def attach(self, engine) -> None:
        self.engine = engine
        self.env = engine.env
        self.cluster = engine.cluster
        if self.scenario.failures is not None:
            from clustersim.engine.failures import Failures

            self.failures = engine.part(Failures)
            self.outages = self.failures.outages
        fleet = self.scenario.cluster.nodes
        self.sequences = [waves_of(w, *self._units(w, fleet), fleet, self.scenario.horizon) for w in self.cfg.windows]
        for seq in self.sequences:
            for wave in seq:
                engine.call_at(max(0.0, wave.planned - wave.window.lead_time), self._drain, value=wave)
            if seq:
                engine.call_at(seq[0].planned, self._begin, value=seq[0])

    def _units(self, w: MaintenanceWindow, fleet: int) -> tuple[list[int], list[str], list[list[int]]]:
        """(all nodes, unit names, units) of window ``w``, in wave order."""
        if w.level is not None:
            index = self.cluster.topology
            level = index.names.index(w.level)
            n = index.sizes[level]
            count = -(-fleet // n)
            units, names = [], []
            for d in w.domains if w.domains is not None else range(count):
                units.append([index.nodes_of[s] for s in range(d * n, min((d + 1) * n, fleet))])
                names.append(f"{w.level}:{d}")
        else:
            if w.nodes is not None:
                seen: dict[int, None] = {}
                for lo, hi in w.nodes:
                    for node in range(lo, hi + 1):
                        seen[node] = None
                chosen = list(seen)
            else:
                k = max(1, math.ceil(w.fraction * fleet - 1e-9))
                gen = self.streams(f"maintenance.{w.name}")
                chosen = sorted(int(x) for x in gen.choice(fleet, size=k, replace=False))
            units, names = [[x] for x in chosen], [f"node:{x}" for x in chosen]
        return [x for u in units for x in u], names, units

    # ------------------------------------------------------------------------------ events

    def _wave_row(self, kind: str, wave: _Wave) -> None:
        per = self.cluster.pools[0].gpus_per_node
        w = wave.window
        self.rows.append((self.env.now, kind, -1, w.name, w.level or "nodes", w.duration, 0,
                          self.cluster.pools[0].name, per * len(wave.nodes), -1, -1, math.nan, wave.detail))

    def _node_row(self, kind: str, node: int, wave: _Wave, hit: int) -> None:
        c = self.cluster
        pool = c.pools[c.pool_of[node]]
        w = wave.window
        self.rows.append((self.env.now, kind, node, w.name, w.level or "nodes", w.duration, hit,
                          pool.name, pool.gpus_per_node, -1, -1, math.nan, wave.detail))

    def _drain(self, event) -> None:
        wave = event._value
        c = self.cluster
        for node in wave.nodes:
            if c.retired[node]:
                continue
            if node in self.drains or cordon(c, node):  # (a retiring node is left to retire)
                self.drains[node] = self.drains.get(node, 0) + 1
        self._wave_row("maintenance_drain", wave)
        self.engine.capacity_changed()

    def _begin(self, event) -> None:
        wave = event._value
        c, now = self.cluster, self.env.now
        self._wave_row("maintenance_start", wave)
        finish = wave.window.running == "finish"
        for node in wave.nodes:
            if c.retired[node] or node not in self.drains:
                continue
            wave.left += 1
            jobs = [j for j in c.jobs_on[node] if j.kind != REPLICA and j.hung_since is None]
            if c.up[node] and jobs and finish:
                self.waiting[node] = wave
                continue
            for job in jobs:
                self._stop(job, node, wave, now)
            self._down(node, wave, len(jobs))
        self.engine.capacity_changed()
        if wave.left == 0:
            self._wave_done(wave)

    def _stop(self, job, node: int, wave: _Wave, now: float) -> None:
        """Checkpoint and stop ``job`` (see the module docstring) and requeue it."""
        g = job.spec.num_gpus
        elapsed = now - job.seg_start_s
        write = 0.0
        if job.plan is None:
            job.progress(elapsed)
        else:
            write = min(job.plan.cost, elapsed)
            part = split(job.plan, elapsed - write, job.seg_restart)
            overhead = part.restart + part.checkpoint + write
            job.overhead_s += overhead
            job.overhead_gpu_s += overhead * g
            job.progress(part.saved + part.unsaved)
        job.restarts += 1
        self.stops[job.seq] = self.stops.get(job.seq, 0) + 1
        self.engine.stop(job)
        self.engine.requeue(job)
        w = wave.window
        self.rows.append((now, "maintenance_stop", node, w.name, w.level or "nodes", write, 1,
                          self.cluster.pools[job.pool].name, g, -1, -1, math.nan, f"job {job.spec.job_id}"))

    def _down(self, node: int, wave: _Wave, hit: int) -> None:
        c, now = self.cluster, self.env.now
        self.downs[node] = self.downs.get(node, 0) + 1
        c.in_maintenance[node] = None
        if c.up[node] and self.failures is not None:
            self.failures.node_token[node] += 1  # its failure clock stops while it is down
        victims = c.take_down(node)
        for job in victims:
            if job.kind == REPLICA:
                job.owner.lost(job)
            else:  # hung by a failure elsewhere: it holds fewer GPUs from now on
                self.failures.hang(job, now)
        self._node_row("maintenance_down", node, wave, hit + len(victims))
        self.env.timeout(wave.window.duration, value=(node, wave)).callbacks.append(self._up)

    def job_ended(self, job) -> None:
        """A job left its nodes: a node waiting for its last training job goes down now (after
        the event that ended it, at this instant: ``stop`` may come from within a pass)."""
        if not self.waiting:
            return
        jobs_on = self.cluster.jobs_on
        for node, wave in list(self.waiting.items()):
            if not any(j.kind != REPLICA for j in jobs_on[node]):
                del self.waiting[node]
                self.engine.call_at(self.env.now, self._down_later, value=(node, wave))

    def _down_later(self, event) -> None:
        node, wave = event._value
        self._down(node, wave, 0)
        self.engine.capacity_changed()

    def _up(self, event) -> None:
        node, wave = event._value
        c = self.cluster
        self.downs[node] -= 1
        if not self.downs[node]:
            del self.downs[node]
            del c.in_maintenance[node]
        self.drains[node] -= 1
        if not self.drains[node]:
            del self.drains[node]
            uncordon(c, node)
        f = self.failures
        if node not in self.downs and not c.retired[node] and (f is None or node not in f.in_repair):
            c.bring_up(node)
            if c.up[node] and f is not None:
                f._arm(node)
        self._node_row("maintenance_up", node, wave, 0)
        self.engine.capacity_changed()
        wave.left -= 1
        if wave.left == 0:
            self._wave_done(wave)

    def _wave_done(self, wave: _Wave) -> None:
        self._wave_row("maintenance_end", wave)
        if wave.k + 1 < len(wave.seq):
            nxt = wave.seq[wave.k + 1]
            self.engine.call_at(max(nxt.planned, self.env.now), self._begin, value=nxt)

    # ------------------------------------------------------------------------------ outputs

    def levels(self) -> tuple:
        c = self.cluster
        up, retired = c.up, c.retired
        draining = sum(1 for n in c.cordoned if up[n])
        maint = sum(1 for n in c.in_maintenance if not retired[n])
        domain = 0
        if self.outages is not None:
            inm = c.in_maintenance
            domain = sum(1 for n in self.outages.held if not up[n] and not retired[n] and n not in inm)
        total = len(c.free) - c.up_nodes - c.retired_nodes
        return draining, maint, domain, total - maint - domain

    def events(self) -> list[tuple]:
        return self.rows

    def job_columns(self, jobs):
        import numpy as np

        stops = np.zeros(len(jobs), dtype=np.int64)
        for seq, n in self.stops.items():
            stops[seq] = n
        jobs = jobs.copy()
        jobs["maintenance_stops"] = stops
        return jobs

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario
        return {"maintenance": maintenance_summary(jobs, timeseries, events, s.warmup, s.horizon)}
