"""A node pool: the nodes of one GPU type (owned or rented) and their free-capacity index."""

from __future__ import annotations

from clustersim.model import Job


class Pool:
    """The nodes of one GPU type (owned or rented): their free-capacity index and levels."""

    __slots__ = ("index", "name", "gpu_type", "gpus_per_node", "speed", "buckets", "end_heap", "up_nodes", "busy_gpus", "nodes")

    def __init__(self, index: int, name: str, gpus_per_node: int, speed: float, gpu_type: str):
        self.index = index
        self.name = name
        self.gpu_type = gpu_type
        self.gpus_per_node = gpus_per_node
        self.speed = speed
        self.buckets: list[dict[int, None]] = [{} for _ in range(gpus_per_node + 1)]
        # Running jobs by expected end: (expected_end_s, seq, token, job). Entries whose token
        # no longer matches the job's (it ended or restarted), or whose end is no longer the
        # job's expected end (a speed change re-timed it), are stale and skipped.
        self.end_heap: list[tuple[float, int, int, Job]] = []
        self.up_nodes = 0
        self.busy_gpus = 0
        self.nodes: dict[int, None] = {}  # nodes in service (up or down), not retired

    @property
    def up_gpus(self) -> int:
        return self.up_nodes * self.gpus_per_node

    def per_node(self, gpus: int) -> int:
        g = self.gpus_per_node
        return gpus if gpus <= g else g

    def nodes_needed(self, gpus: int) -> int:
        g = self.gpus_per_node
        return 1 if gpus <= g else gpus // g
