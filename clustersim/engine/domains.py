"""Fabric topology: domains of nodes (racks, leaves, pods), the index of free whole nodes per
domain, and locality-aware placement of gang jobs (issue 13).

The tree covers pool 0 (the fleet at time zero and the nodes later added to it). A node's
*slot* is its rank among pool 0's nodes in the order they entered service; its domain at a
level of ``n`` nodes is ``slot // n``. Racks (level 0) keep the ordered set of their free whole
nodes; every level keeps the count of free whole nodes per domain and the domains bucketed by
that count (``by_count[level][c]``: an ordered set of the domains with ``c`` free nodes). The
index is told of every change through pool 0's whole-node bucket (``_IndexedBucket``), so a
placement never scans the cluster: it walks at most one level's count buckets and the racks
of the domain it chose.

Rules (``config.topology``): ``fit`` puts a gang of N nodes in one domain of the smallest level
holding N; ``span`` lets it span up to k domains of one level. A rule that cannot bind (one
domain at that level, or k at least the number of domains and no penalty) leaves the gang to
the flat placement, node for node as without a topology. Pack and spread choose among domains
as they choose among nodes: pack the domain with the fewest free nodes that hold the gang
(best fit), spread the one with the most (worst fit). Inside the chosen domain the gang takes
as few sub-domains as it can (fullest first).
"""

from __future__ import annotations

import heapq

import numpy as np

from clustersim.config.topology import SpanRule, TopologyConfig


class _IndexedBucket(dict):
    """Pool 0's bucket of whole free nodes: an ordered set that tells the index of changes."""

    __slots__ = ("index",)

    def __setitem__(self, node, value) -> None:
        if node not in self:
            dict.__setitem__(self, node, value)
            self.index.gained(node)

    def __delitem__(self, node) -> None:
        dict.__delitem__(self, node)
        self.index.lost(node)


class DomainIndex:
    """Free whole nodes of pool 0 per domain at every level, and gang placement in them."""

    def __init__(self, cfg: TopologyConfig, gpus_per_node: int, spread: bool = False):
        self.cfg = cfg
        self.sizes = [lv.nodes for lv in cfg.levels]
        self.names = [lv.name for lv in cfg.levels]
        self.spread = spread
        self.gpus_per_node = gpus_per_node
        levels = len(self.sizes)
        self.slot: dict[int, int] = {}  # node -> rank among pool 0's nodes
        self.nodes_of: list[int] = []  # slot -> node
        self.count: list[list[int]] = [[] for _ in range(levels)]  # free whole nodes per domain
        self.by_count: list[list[dict[int, None]]] = [[{} for _ in range(n + 1)] for n in self.sizes]
        self.rack_free: list[dict[int, None]] = []  # free whole nodes per rack (ordered set)
        rule = cfg.locality
        self.span = isinstance(rule, SpanRule)
        self.span_level = cfg.level_index(rule.level) if self.span else -1
        self.max_domains = rule.max_domains if self.span else 1
        self.penalty = rule.penalty_per_extra_domain if self.span else 0.0
        self.spread_spares = cfg.spares == "spread"

    # ------------------------------------------------------------------------------ index

    def install(self, cluster) -> None:
        """Index pool 0's nodes and take over its whole-node bucket."""
        pool = cluster.pools[0]
        g = pool.gpus_per_node
        for node in pool.nodes:
            self.learn(node)
        old = pool.buckets[g]
        bucket = _IndexedBucket()
        bucket.index = self
        for node in old:
            bucket[node] = None
        pool.buckets[g] = bucket
        cluster.topology = self

    def learn(self, node: int) -> int:
        """The slot of ``node``, giving it one (and its domains) on first sight."""
        slot = self.slot.get(node)
        if slot is not None:
            return slot
        slot = self.slot[node] = len(self.nodes_of)
        self.nodes_of.append(node)
        for level, n in enumerate(self.sizes):
            d = slot // n
            counts = self.count[level]
            while len(counts) <= d:
                self.by_count[level][0][len(counts)] = None
                counts.append(0)
        while len(self.rack_free) <= slot // self.sizes[0]:
            self.rack_free.append({})
        return slot

    def domain(self, node: int, level: int) -> int:
        return self.slot[node] // self.sizes[level]

    def domains(self, level: int) -> int:
        return len(self.count[level])

    def gained(self, node: int) -> None:
        slot = self.learn(node)
        self.rack_free[slot // self.sizes[0]][node] = None
        for level, n in enumerate(self.sizes):
            d = slot // n
            c = self.count[level][d]
            b = self.by_count[level]
            del b[c][d]
            b[c + 1][d] = None
            self.count[level][d] = c + 1

    def lost(self, node: int) -> None:
        slot = self.slot[node]
        del self.rack_free[slot // self.sizes[0]][node]
        for level, n in enumerate(self.sizes):
            d = slot // n
            c = self.count[level][d]
            b = self.by_count[level]
            del b[c][d]
            b[c - 1][d] = None
            self.count[level][d] = c - 1

    # ------------------------------------------------------------------------------ rules

    def rule(self, need: int) -> tuple[int, int] | None:
        """(level, most domains) a gang of ``need`` nodes must keep to, or None when the rule
        cannot bind (the flat placement then holds it)."""
        if need <= 1:
            return None
        if self.span:
            level, k = self.span_level, self.max_domains
            if k >= self.domains(level) and self.penalty == 0.0:
                return None
            return level, k
        for level, n in enumerate(self.sizes):
            if n >= need:
                if self.domains(level) <= 1:
                    return None
                return level, 1
        return None

    def level_of(self, need: int) -> int:
        """The level a gang of ``need`` nodes is held to by the rule as configured (-1: none,
        it may use any nodes), whatever the current number of domains."""
        if need <= 1:
            return -1
        if self.span:
            return self.span_level
        for level, n in enumerate(self.sizes):
            if n >= need:
                return level
        return -1

    def shape_problem(self, need: int) -> str | None:
        if self.span and need > self.max_domains * self.sizes[self.span_level]:
            lv = self.span_level
            return (
                f"{need} nodes is more than {self.max_domains} {self.names[lv]} domain(s) of "
                f"{self.sizes[lv]} nodes (topology.locality.max_domains)"
            )
        return None

    def spanned(self, nodes, level: int) -> int:
        n = self.sizes[level]
        slot = self.slot
        return len({slot[x] // n for x in nodes})

    def speed_factor(self, nodes) -> float:
        """Speed of a gang on ``nodes`` relative to its pool's: 1 / (1 + p x extra domains)."""
        if len(nodes) < 2 or nodes[0] not in self.slot:
            return 1.0
        extra = self.spanned(nodes, self.span_level) - 1
        return 1.0 / (1.0 + self.penalty * extra) if extra > 0 else 1.0

    # ------------------------------------------------------------------------------ placement

    def fits(self, need: int, rule: tuple[int, int]) -> bool:
        level, k = rule
        b = self.by_count[level]
        if k == 1:
            return any(b[c] for c in range(need, len(b)))
        got = 0
        for c in range(len(b) - 1, 0, -1):
            for _d in b[c]:
                got += c
                k -= 1
                if got >= need:
                    return True
                if k == 0:
                    return False
        return False

    def find(self, need: int, rule: tuple[int, int], exclude) -> tuple[int, ...] | None:
        level, k = rule
        b = self.by_count[level]
        less = self._excluded(level, exclude) if exclude else None
        if k == 1:
            top = len(b) - 1
            cs = range(top, need - 1, -1) if self.spread else range(need, top + 1)
            for c in cs:
                for d in b[c]:
                    if less is None or c - less.get(d, 0) >= need:
                        return tuple(self._take(level, d, need, exclude))
            return None
        chosen: list[tuple[int, int]] = []  # (domain, usable free nodes), most free first
        got = 0
        for c in range(len(b) - 1, 0, -1):
            for d in b[c]:
                have = c - less.get(d, 0) if less else c
                if have <= 0:
                    continue
                chosen.append((d, have))
                got += have
                if got >= need or len(chosen) == k:
                    break
            if got >= need or len(chosen) == k:
                break
        if got < need:
            return None
        picked: list[int] = []
        left = need
        for d, have in chosen:
            take = min(have, left)
            picked.extend(self._take(level, d, take, exclude))
            left -= take
        return tuple(picked)

    def _excluded(self, level: int, exclude) -> dict[int, int]:
        """Free whole nodes of ``exclude`` per domain of ``level``."""
        out: dict[int, int] = {}
        n = self.sizes[level]
        for node in exclude:
            slot = self.slot.get(node)
            if slot is not None and node in self.rack_free[slot // self.sizes[0]]:
                d = slot // n
                out[d] = out.get(d, 0) + 1
        return out

    def _take(self, level: int, d: int, need: int, exclude) -> list[int]:
        """``need`` free nodes of domain ``d`` of ``level``, from as few sub-domains as it can
        (the fullest first)."""
        if level == 0:
            out = []
            for node in self.rack_free[d]:
                if exclude and node in exclude:
                    continue
                out.append(node)
                if len(out) == need:
                    break
            return out
        below = level - 1
        per = self.sizes[level] // self.sizes[below]
        counts = self.count[below]
        first = d * per
        subs = range(first, min(first + per, len(counts)))
        less = self._excluded(below, exclude) if exclude else None
        have = [(counts[s] - (less.get(s, 0) if less else 0), s) for s in subs]
        have = [(c, s) for c, s in have if c > 0]
        # fullest first; ties in domain order
        have.sort(key=lambda cs: (-cs[0], cs[1]))
        out: list[int] = []
        left = need
        for c, s in have:
            take = min(c, left)
            out.extend(self._take(below, s, take, exclude))
            left -= take
            if left == 0:
                break
        return out

    # ------------------------------------------------------------------------------ spares

    def spread_order(self, nodes) -> list[int]:
        """``nodes`` reordered for holding spares across racks: the last node of every rack
        (from the last rack), then the one before it, and so on. Once, at the start."""
        r = self.sizes[0]
        slot = self.slot
        known = [x for x in nodes if x in slot]
        known.sort(key=lambda x: (r - 1 - slot[x] % r, -(slot[x] // r)))
        return known + [x for x in nodes if x not in slot]

    def pick_spares(self, keep: tuple[int, ...], count: int, spares) -> list[int] | None | bool:
        """Spares for a gang that keeps ``keep`` and lost ``count`` nodes: None when the rule
        does not bind (any spares), False when no spares keep the gang within its rule, else
        the spares (in the domains it already spans first, then the domains holding the most
        spares). Looks at the idle spares only (a few per cent of the fleet)."""
        rule = self.rule(len(keep) + count)
        if rule is None:
            return None
        level, k = rule
        n = self.sizes[level]
        slot = self.slot
        home = sorted({slot[x] // n for x in keep if x in slot})
        groups: dict[int, list[int]] = {}
        for node in spares:
            s = slot.get(node)
            if s is not None:
                groups.setdefault(s // n, []).append(node)
        picked: list[int] = []
        for d in home:
            picked.extend(groups.pop(d, ()))
        allowed = k - len(home)
        if allowed > 0:
            for _d, nodes in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:allowed]:
                picked.extend(nodes)
        return picked[:count] if len(picked) >= count else False

    # ------------------------------------------------------------------------------ planning

    def shadow_time(self, need: int, rule: tuple[int, int], ready: set[int], ends, now: float) -> float:
        """The earliest time the rule lets a gang of ``need`` nodes start if the nodes of
        ``ready`` are whole and free now and each of ``ends`` (time, nodes) frees its nodes then.
        ``ready`` grows with the nodes freed. Returns inf when it never could."""
        level, k = rule
        n = self.sizes[level]
        counts: dict[int, int] = {}
        slot = self.slot
        for node in ready:
            s = slot.get(node)
            if s is not None:
                d = s // n
                counts[d] = counts.get(d, 0) + 1

        def ok() -> bool:
            if k == 1:
                return bool(counts) and max(counts.values()) >= need
            return sum(heapq.nlargest(k, counts.values())) >= need

        if ok():
            return now
        for end, freed in ends:
            for node in freed:
                s = slot.get(node)
                if s is None or node in ready:
                    continue
                ready.add(node)
                d = s // n
                counts[d] = counts.get(d, 0) + 1
            if ok():
                return max(end, now)
        return float("inf")

    # ------------------------------------------------------------------------------ metrics

    def usable_whole(self, needs: dict[int, int]) -> int:
        """Free whole nodes that some queued gang could use: ``needs`` maps node counts of
        queued gangs to how many wait. A node is usable if, for some waiting gang, its domain at
        that gang's level passes the rule (fit: the domain holds the gang; span: it and the
        k - 1 fullest other domains do)."""
        racks = np.asarray(self.count[0], dtype=np.int64)
        if not needs:
            return 0
        usable = np.zeros(len(racks), dtype=bool)
        r = self.sizes[0]
        for need in needs:
            rule = self.rule(need)
            if rule is None:
                return int(racks.sum())
            level, k = rule
            counts = np.asarray(self.count[level], dtype=np.int64)
            if k == 1:
                ok = counts >= need
            else:
                # with the k - 1 fullest other domains: a domain among the k - 1 fullest pairs
                # with the others of the k fullest, any other domain with the k - 1 fullest
                o = np.sort(counts)[::-1]
                if len(o) < k:
                    o = np.concatenate([o, np.zeros(k - len(o), dtype=np.int64)])
                others = np.where(counts >= o[k - 2], int(o[:k].sum()) - counts, int(o[: k - 1].sum()))
                ok = (counts > 0) & (counts + others >= need)
            per = self.sizes[level] // r
            usable |= np.repeat(ok, per)[: len(racks)]
        return int(racks[usable].sum())
