"""Procurement, delivery, burn-in, acceptance, retirement and rental (SimPy events).

The fleet at time zero is ``cluster`` (pool 0, of ``cluster.gpu_type``). Every other GPU type
that is ordered gets a pool of its own, and every rented type a pool named ``rental:<type>``.
An order's life, all in simulated time:

1. placed at ``at``: refused if its type is no longer orderable then (``orderable_until``),
   or switched to the type's ``substitute`` if that one still is;
2. batch ``k`` (``batch_nodes`` nodes; one batch when absent) is delivered at
   ``at + lead + k * batch_every``; ``lead`` is drawn once per order;
3. a batch enters service ``burn_in`` after delivery (drawn per batch), through
   ``Cluster.add_nodes`` and ``Failures.add_nodes(mature=False)`` (early-life hazard);
4. each node fails acceptance with probability ``acceptance.fail_fraction`` and enters
   service only after a repair drawn from ``acceptance.repair``.

Draws come from streams named per order (``supply.order.<i>.lead``, ``.burn_in``, ``.accept``,
``.repair``) and delivered nodes fail on streams named for their place in the order
(``failures.node.order<i>.<j>``), so moving an order in time changes nothing else: the
arrivals and the fleet-at-time-zero's failures stay the same (common random numbers).

Retirement (``retire``) drains: the nodes take no new jobs from ``at`` and leave service when
their jobs end (at once when idle or down). Rented nodes enter service at ``from`` (already
burned in: no early-life hazard) and drain from ``to``.

Capacity stages, in GPUs (timeseries columns): ``ordered`` (cumulative, accepted orders),
``in_transit`` (ordered, not delivered), ``burn_in`` (delivered, not in service, including
acceptance repair), ``in_service`` (in the cluster and not retired: up, down for repair, or
draining), ``retired`` (cumulative), ``rented`` (rented and in service; part of in_service).
For owned GPUs: initial + ordered = in_transit + burn_in + (in_service - rented) + retired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from clustersim.config import Scenario, SupplyConfig
from clustersim.engine.component import Component
from clustersim.results.columns import STAGE_COLUMNS
from clustersim.results.costs import summarize_supply
from clustersim.rng import Streams

ORDERED, IN_TRANSIT, BURN_IN, IN_SERVICE, RETIRED, RENTED = range(6)


def median(dist) -> float:
    """Median of a duration distribution (for "delivered late")."""
    kind = dist.kind
    if kind == "fixed":
        return dist.value
    if kind == "lognormal":
        return dist.median
    if kind == "exponential":
        return dist.mean() * math.log(2.0)
    return float(np.median(dist.values()))


@dataclass
class OrderPlan:
    """One order, with every random draw made up front from the order's own streams."""

    index: int
    at: float
    nodes: int
    wanted: str
    gpu_type: str | None  # None: refused
    pool: int
    lead: float
    planned_lead: float  # the median lead time: a batch delivered after its planned date is late
    every: float
    batches: list[int] = field(default_factory=list)  # nodes per batch
    burn_in: list[float] = field(default_factory=list)  # per batch
    repair: list[list[tuple[int, str, float]]] = field(default_factory=list)  # per batch: (node j, class, time)


class Supply(Component):
    """GPU supply as an engine component: it owns every pool but the fleet at time zero, routes
    jobs to pools by GPU type, and adds and retires nodes over time."""

    def __init__(self, scenario: Scenario, streams: Streams):
        self.scenario = scenario
        self.cfg: SupplyConfig = scenario.supply
        self.streams = streams

    def attach(self, engine) -> None:
        scenario, cfg = self.scenario, self.cfg
        self.engine = engine
        self.env = engine.env
        self.cluster = cluster = engine.cluster
        engine.router = self.route
        types = cfg.gpu_types
        self.types = types
        own = scenario.cluster.gpu_type
        self.initial_type = own
        self.initial_gpus = scenario.cluster.gpus
        self.type_pool: dict[str, int] = {own: 0}  # owned pool of each type in the fleet
        self.rental_pool: dict[str, int] = {}
        self.rows: list[tuple] = []  # rows of results.columns.EVENT_COLUMNS
        self.orders = [self._plan(i, o) for i, o in enumerate(cfg.orders)]
        for plan in self.orders:
            if plan.gpu_type is not None:
                plan.pool = self._owned_pool(plan.gpu_type)
        for r in cfg.rental:
            name = r.gpu_type or own
            if name not in self.rental_pool:
                t = types[name]
                self.rental_pool[name] = cluster.add_pool(f"rental:{name}", t.gpus_per_node, t.speed, name).index
        self.rental_pools = frozenset(self.rental_pool.values())
        # The most nodes each pool will ever have (retirement ignored): the rejection rule.
        spares = scenario.failures.spare_nodes if scenario.failures is not None else 0
        self.cap = [0] * len(cluster.pools)
        self.cap[0] = scenario.cluster.nodes - spares
        for plan in self.orders:
            if plan.gpu_type is not None:
                self.cap[plan.pool] += plan.nodes
        for r in cfg.rental:
            pool = self.rental_pool[r.gpu_type or own]
            self.cap[pool] += r.gpus // cluster.pools[pool].gpus_per_node
        self.any_pools = self._any_order()
        self.type_pools = {
            name: tuple(p for p in (self.type_pool.get(name), self.rental_pool.get(name)) if p is not None)
            for name in types
        }
        self.stage = [[0] * 6 for _ in cluster.pools]
        self.stage[0][IN_SERVICE] = self.initial_gpus
        self._rented: dict[int, list[int]] = {}  # rental index -> its node ids
        self._retire_why: dict[int, str] = {}  # node -> event kind when it leaves
        self.on_stage = None  # told after every change of the stages (the power model's hook)
        cluster.on_retired = self._left
        engine.recorder.stage_columns(self.stage_names())
        self._record()
        self._schedule()

    # ------------------------------------------------------------------------------ setup

    def _owned_pool(self, name: str) -> int:
        pool = self.type_pool.get(name)
        if pool is None:
            t = self.types[name]
            pool = self.type_pool[name] = self.cluster.add_pool(name, t.gpus_per_node, t.speed, name).index
        return pool

    def _orderable(self, name: str, at: float) -> bool:
        until = self.types[name].orderable_until
        return until is None or at < self.cfg.seconds(until)

    def _plan(self, i: int, order) -> OrderPlan:
        at = self.cfg.seconds(order.at)
        wanted = order.gpu_type or self.initial_type
        got: str | None = wanted
        if not self._orderable(wanted, at):
            sub = self.types[wanted].substitute
            got = sub if sub is not None and self._orderable(sub, at) else None
        every = order.batch_every
        plan = OrderPlan(i, at, order.nodes, wanted, got, -1, 0.0, median(order.lead_time), every)
        if got is None:
            return plan
        s = self.streams
        plan.lead = float(order.lead_time.sampler(s(f"supply.order.{i}.lead"))(1)[0])
        size = order.batch_nodes or order.nodes
        plan.batches = [min(size, order.nodes - k) for k in range(0, order.nodes, size)]
        plan.burn_in = [float(x) for x in order.burn_in.sampler(s(f"supply.order.{i}.burn_in"))(len(plan.batches))]
        acc = self.cfg.acceptance
        fails = s(f"supply.order.{i}.accept").random(order.nodes) < acc.fail_fraction
        gen_r = s(f"supply.order.{i}.repair")
        shares = np.array([r.share for r in acc.repair])
        samplers = [r.time.sampler(gen_r) for r in acc.repair]
        j = 0
        for n in plan.batches:
            failed = []
            for jj in range(j, j + n):
                if fails[jj]:
                    c = int(gen_r.choice(len(shares), p=shares / shares.sum()))
                    failed.append((jj, acc.repair[c].name, float(samplers[c](1)[0])))
            plan.repair.append(failed)
            j += n
        return plan

    def _any_order(self) -> tuple[int, ...]:
        """Pools a job of type ``any`` tries: fastest first (``any_type_order: fastest``) or in
        the order of ``supply.gpu_types``; owned before rented of the same type; ties by pool."""
        listed = {name: i for i, name in enumerate(self.types)}
        rental = self.rental_pools

        def key(pool):
            rank = (listed[pool.gpu_type], pool.index in rental)
            return ((-pool.speed,) + rank if self.cfg.any_type_order == "fastest" else rank) + (pool.index,)

        return tuple(p.index for p in sorted(self.cluster.pools, key=key))

    def route(self, gpus: int, gpu_type: str) -> tuple[int, ...] | str:
        """The pools a job may run on, in the order to try, or why it never can."""
        if gpus < 1:
            return "needs at least 1 GPU"
        if gpu_type == "any":
            candidates = self.any_pools
        elif gpu_type not in self.types:
            return f"unknown GPU type {gpu_type!r}"
        else:
            candidates = self.type_pools[gpu_type]
            if not candidates:
                return f"no {gpu_type} GPUs in service or on order"
        ok, why = [], []
        for index in candidates:
            pool = self.cluster.pools[index]
            per = pool.gpus_per_node
            if gpus > per and gpus % per:
                why.append(f"{gpus} GPUs is more than one {pool.name} node ({per}) and not a multiple of {per}")
            elif pool.nodes_needed(gpus) > self.cap[index]:
                why.append(f"{gpus} GPUs is more than the {self.cap[index] * per} {pool.name} GPUs ever in service")
            else:
                ok.append(index)
        return tuple(ok) if ok else "; ".join(why)

    # ------------------------------------------------------------------------------ events

    def _after(self, delay: float, callback, value=None) -> None:
        self.env.timeout(delay, value=value).callbacks.append(callback)

    def _schedule(self) -> None:
        """Everything dated is scheduled from time 0; the rest follows from it."""
        seconds = self.cfg.seconds
        for plan in self.orders:
            self._after(plan.at, self._placed, plan)
        for i, r in enumerate(self.cfg.retire):
            self._after(seconds(r.at), self._retire, i)
        for i, r in enumerate(self.cfg.rental):
            self._after(seconds(r.from_), self._rent, i)
            if r.to is not None:
                self._after(seconds(r.to), self._return, i)

    def _event(self, kind, *, node=-1, gpu_type="", gpus=0, order=-1, batch=-1, late=math.nan, down=math.nan,
               repair="", detail="") -> None:
        self.rows.append((self.env.now, kind, node, "", repair, down, 0, gpu_type, gpus, order, batch, late, detail))

    def _placed(self, event) -> None:
        plan: OrderPlan = event._value
        per = self.types[plan.gpu_type or plan.wanted].gpus_per_node
        if plan.gpu_type is None:
            self._event("order_refused", gpu_type=plan.wanted, gpus=plan.nodes * per, order=plan.index,
                        detail=f"{plan.wanted} is not orderable any more")
            return
        if plan.gpu_type != plan.wanted:
            self._event("order_substituted", gpu_type=plan.gpu_type, gpus=plan.nodes * per, order=plan.index,
                        detail=f"{plan.wanted} -> {plan.gpu_type}")
        gpus = plan.nodes * per
        self._event("order", gpu_type=plan.gpu_type, gpus=gpus, order=plan.index)
        st = self.stage[plan.pool]
        st[ORDERED] += gpus
        st[IN_TRANSIT] += gpus
        self._record()
        first = 0
        for k, n in enumerate(plan.batches):
            self._after(plan.lead + k * plan.every, self._delivered, (plan, k, first))
            first += n

    def _delivered(self, event) -> None:
        plan, k, first = event._value
        per = self.cluster.pools[plan.pool].gpus_per_node
        gpus = plan.batches[k] * per
        late = self.env.now - (plan.at + plan.planned_lead + k * plan.every)
        self._event("delivery", gpu_type=plan.gpu_type, gpus=gpus, order=plan.index, batch=k, late=late)
        st = self.stage[plan.pool]
        st[IN_TRANSIT] -= gpus
        st[BURN_IN] += gpus
        self._record()
        self._after(plan.burn_in[k], self._accepted, (plan, k, first))

    def _accepted(self, event) -> None:
        plan, k, first = event._value
        per = self.cluster.pools[plan.pool].gpus_per_node
        failed = plan.repair[k]
        bad = {j for j, _, _ in failed}
        good = [j for j in range(first, first + plan.batches[k]) if j not in bad]
        self._event("acceptance", gpu_type=plan.gpu_type, gpus=len(good) * per, order=plan.index, batch=k)
        for j, name, repair in failed:
            self._event("acceptance_fail", gpu_type=plan.gpu_type, gpus=per, order=plan.index, batch=k,
                        down=repair, repair=name, detail=f"node {j} of the order")
            self._after(repair, self._repaired, (plan, k, j))
        if good:
            self._enter(plan.pool, [f"order{plan.index}.{j}" for j in good], BURN_IN, order=plan.index, batch=k)

    def _repaired(self, event) -> None:
        plan, k, j = event._value
        self._enter(plan.pool, [f"order{plan.index}.{j}"], BURN_IN, order=plan.index, batch=k)

    def _enter(self, pool: int, keys: list[str], source: int, *, order=-1, batch=-1, mature=False) -> list[int]:
        cluster = self.cluster
        p = cluster.pools[pool]
        ids = cluster.add_nodes(len(keys), pool)
        gpus = len(ids) * p.gpus_per_node
        st = self.stage[pool]
        if source >= 0:
            st[source] -= gpus
        st[IN_SERVICE] += gpus
        self.engine.nodes_entered(ids, keys=keys, mature=mature)
        self._event("in_service", node=ids[0], gpu_type=p.name, gpus=gpus, order=order, batch=batch,
                    detail=f"nodes {ids[0]}-{ids[-1]}")
        self._record()
        self.engine.capacity_changed()
        return ids

    def _retire(self, event) -> None:
        r = self.cfg.retire[event._value]
        pool = self.type_pool.get(r.gpu_type or self.initial_type)
        if pool is None:
            return
        cluster = self.cluster
        nodes = [n for n in cluster.pools[pool].nodes if n not in cluster.draining]
        if r.nodes is not None:
            nodes = nodes[: r.nodes]
        for node in nodes:
            self._retire_why[node] = "retired"
            cluster.retire(node)
        self.engine.capacity_changed()

    def _rent(self, event) -> None:
        i = event._value
        r = self.cfg.rental[i]
        pool = self.rental_pool[r.gpu_type or self.initial_type]
        per = self.cluster.pools[pool].gpus_per_node
        keys = [f"rental{i}.{j}" for j in range(r.gpus // per)]
        self.stage[pool][RENTED] += r.gpus
        self._event("rental_start", gpu_type=self.cluster.pools[pool].name, gpus=r.gpus, order=i)
        self._rented[i] = self._enter(pool, keys, -1, order=i, mature=True)

    def _return(self, event) -> None:
        i = event._value
        for node in self._rented.get(i, ()):
            self._retire_why[node] = "rental_end"
            self.cluster.retire(node)
        self.engine.capacity_changed()

    def _left(self, node: int) -> None:
        """A node left service for good (the cluster calls this)."""
        cluster = self.cluster
        pool = cluster.pool_of[node]
        p = cluster.pools[pool]
        st = self.stage[pool]
        st[IN_SERVICE] -= p.gpus_per_node
        kind = self._retire_why.pop(node, "retired")
        if pool in self.rental_pools:
            st[RENTED] -= p.gpus_per_node
        else:
            st[RETIRED] += p.gpus_per_node
        self.engine.node_left(node)
        self._event(kind, node=node, gpu_type=p.name, gpus=p.gpus_per_node)
        self._record()

    # ------------------------------------------------------------------------------ levels

    def stage_names(self) -> list[str]:
        names = list(STAGE_COLUMNS)
        if self.cluster.typed:
            names += [f"{c}.{p.name}" for p in self.cluster.pools for c in STAGE_COLUMNS]
        return names

    def _record(self) -> None:
        total = [sum(col) for col in zip(*self.stage, strict=True)]
        row = tuple(total)
        if self.cluster.typed:
            row += tuple(v for st in self.stage for v in st)
        self.engine.recorder.stage(self.env.now, row)
        if self.on_stage is not None:
            self.on_stage()

    def events(self) -> list[tuple]:
        return self.rows

    def summary(self, jobs, timeseries, events, tables) -> dict:
        s = self.scenario  # (with a power section, its energy replaces these energy keys)
        return summarize_supply(jobs, timeseries, events, self.summary_inputs(s), horizon=s.horizon, warmup=s.warmup)

    def summary_inputs(self, scenario: Scenario) -> dict:
        """Everything the cost and energy summary needs besides the run's tables."""
        cfg = self.cfg
        horizon = scenario.horizon
        pools = []
        for p in self.cluster.pools:
            t = self.types[p.gpu_type]
            pools.append({
                "name": p.name, "gpu_type": p.gpu_type, "rental": p.index in self.rental_pools,
                "power_idle_w": t.power_idle_w, "power_busy_w": t.power_busy_w, "unit_cost": t.unit_cost,
            })
        rentals = []
        for r in cfg.rental:
            start = cfg.seconds(r.from_)
            end = horizon if r.to is None else min(cfg.seconds(r.to), horizon)
            rentals.append({"gpus": r.gpus, "price_per_gpu_hour": r.price_per_gpu_hour, "from_s": start, "to_s": end})
        return {
            "pools": pools,
            "initial": {self.initial_type: self.initial_gpus},
            "rentals": rentals,
            "pue": cfg.energy.pue,
            "price_per_kwh": cfg.energy.price_per_kwh,
            "burn_in_power": cfg.energy.burn_in_power,
        }
