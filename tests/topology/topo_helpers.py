"""Helpers of the topology tests: scenarios with a topology section, an independent checker
of the locality rule (domains from node ids, counted by brute force), and a recording engine
that checks every start."""

from __future__ import annotations

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.model import JobSpec
from clustersim.rng import Streams

SILENT = {"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}


def scenario(nodes=16, gpus_per_node=8, levels=((("rack", 4)),), locality=None, policy="fifo",
             placement="pack", horizon=100_000.0, classes=None, failures=None, topology=True, **extra):
    d = {
        "name": "topo-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node},
        "scheduler": {"policy": policy, "placement": placement},
        "workload": {"classes": classes if classes is not None else [dict(SILENT)]},
    }
    if topology:
        topo = {"levels": [{"name": n, "nodes": s} for n, s in levels]}
        if locality is not None:
            topo["locality"] = locality
        d["cluster"]["topology"] = topo
    if failures is not None:
        d["failures"] = failures
    d.update(extra)
    return scenario_from_dict(d)


def spec(job_id, submit_s, num_gpus, duration_s, job_class="hand") -> JobSpec:
    return JobSpec(job_id, float(submit_s), int(num_gpus), float(duration_s), job_class)


def rule_level(sizes: list[int], need: int) -> int:
    """The fit rule's level for a gang of ``need`` nodes (-1: any nodes), from the sizes."""
    for level, n in enumerate(sizes):
        if n >= need:
            return level
    return -1


def domain_counts(free_whole: list[int], size: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for node in free_whole:
        out[node // size] = out.get(node // size, 0) + 1
    return out


def brute_fits(free_whole: list[int], sizes: list[int], need: int, span=None) -> bool:
    """Whether some placement of ``need`` whole nodes meets the rule (nodes of the fleet at
    time zero: slot = node id)."""
    if len(free_whole) < need:
        return False
    if span is not None:
        level, k = span
        counts = sorted(domain_counts(free_whole, sizes[level]).values(), reverse=True)
        return sum(counts[:k]) >= need
    level = rule_level(sizes, need)
    if level < 0:
        return True
    return any(c >= need for c in domain_counts(free_whole, sizes[level]).values())


def satisfies(nodes, sizes: list[int], span=None) -> bool:
    need = len(nodes)
    if need <= 1:
        return True
    if span is not None:
        level, k = span
        return len({n // sizes[level] for n in nodes}) <= k
    level = rule_level(sizes, need)
    return level < 0 or len({n // sizes[level] for n in nodes}) == 1


class CheckingEngine(Engine):
    """Checks the locality rule, distinct nodes and free whole nodes at every start."""

    def __init__(self, scenario, streams, specs, sizes, span=None):
        self.sizes = sizes
        self.span = span
        self.starts: list[tuple] = []
        super().__init__(scenario, streams, specs)

    def start(self, job, nodes):
        per = self.cluster.gpus_per_node
        if job.spec.num_gpus > per:
            assert len(set(nodes)) == len(nodes), nodes
            assert all(self.cluster.free[n] == per and self.cluster.up[n] for n in nodes)
            # only when the rule binds (more than one domain at its level) must it hold
            assert satisfies(nodes, self.sizes, self.span) or self._unbound(len(nodes)), (job, nodes)
        self.starts.append((self.env.now, job.spec.job_id, tuple(nodes)))
        super().start(job, nodes)
        self.cluster.check()

    def _unbound(self, need):
        n = self.cluster.node_count
        if self.span is not None:
            level, k = self.span
            return k >= -(-n // self.sizes[level])
        level = rule_level(self.sizes, need)
        return level < 0 or self.sizes[level] >= n


def run(scenario, specs, sizes=None, span=None, seed=0):
    sizes = sizes or [lv.nodes for lv in scenario.cluster.topology.levels]
    engine = CheckingEngine(scenario, Streams(seed), list(specs), sizes, span)
    engine.run()
    return engine.result(), engine


def col(result, column):
    jobs = result.jobs
    return {str(k): v for k, v in zip(jobs["job_id"], jobs[column], strict=True)}
