"""Shared fixtures for the core tests: building small scenarios, running hand-made job lists,
and an Engine that checks the cluster's invariants after every event.

Helpers are handed out by session-scoped fixtures (not imported from here), so hypothesis
tests can use them without function-scoped fixture warnings.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from clustersim.config import Scenario, scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.model import JobSpec
from clustersim.results.result import RunResult
from clustersim.rng import Streams

REPO = Path(__file__).resolve().parents[1]
CORE_DATA = REPO / "tests" / "data" / "core"

# A class that never produces a job: scenarios run from hand-made JobSpecs still need a
# workload section.
SILENT_CLASS = {"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}


def scenario_dict(
    *,
    nodes: int = 4,
    gpus_per_node: int = 8,
    policy: str | dict = "fifo",
    placement: str = "pack",
    horizon: float | str = 10_000.0,
    warmup: float | str = 0.0,
    classes: list[dict] | None = None,
    name: str = "core-test",
) -> dict:
    return {
        "name": name,
        "horizon": horizon,
        "warmup": warmup,
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node},
        "scheduler": {"policy": policy, "placement": placement},
        "workload": {"classes": classes if classes is not None else [dict(SILENT_CLASS)]},
    }


def make_scenario(**kw) -> Scenario:
    return scenario_from_dict(scenario_dict(**kw))


def spec(job_id: str, submit_s: float, num_gpus: int, duration_s: float, job_class: str = "hand") -> JobSpec:
    return JobSpec(job_id, float(submit_s), int(num_gpus), float(duration_s), job_class)


class RecordingEngine(Engine):
    """An Engine that records where every job was placed and, with ``check=True``, asserts
    the cluster's and the queue's invariants after every submission, start and finish."""

    def __init__(self, scenario, streams, specs=None, *, check: bool = True):
        self.placed: dict[str, tuple[int, ...]] = {}
        self.checks = 0
        self._check_enabled = check
        super().__init__(scenario, streams, specs)

    def invariants(self) -> None:
        if not self._check_enabled:
            return
        self.checks += 1
        cluster = self.cluster
        cluster.check()  # per-node free + used == gpus_per_node, bucket index, busy count
        # no GPU is held by two jobs: per node, the running jobs' GPUs fit in the node
        for node, jobs in enumerate(cluster.jobs_on):
            used = sum(cluster.per_node(j.spec.num_gpus) for j in jobs)
            assert used <= cluster.gpus_per_node, (node, used)
        assert 0 <= cluster.busy_gpus <= cluster.up_gpus
        assert sum(j.spec.num_gpus for j in self.running) == cluster.busy_gpus
        # the queue stays sorted by the policy's key, and its GPU count is right
        queue = self.queue
        keys = [self.policy.key(j) for j in queue.jobs]
        assert keys == sorted(keys), keys
        assert keys == queue._keys
        assert queue.gpus == sum(j.spec.num_gpus for j in queue.jobs)
        assert not (set(queue.jobs) & set(self.running))

    def start(self, job, nodes):
        super().start(job, nodes)
        self.placed[job.spec.job_id if job.spec.job_id is not None else str(job.seq)] = tuple(nodes)
        g = job.spec.num_gpus
        per = self.cluster.gpus_per_node
        # gang rule: one node up to a node's worth, else whole nodes
        assert len(nodes) == (1 if g <= per else g // per), (job, nodes)
        assert len(set(nodes)) == len(nodes)

    def _pass(self):
        super()._pass()
        self.invariants()  # after the instant's one pass (events only change state before it)


def run_engine(scenario: Scenario, specs=None, *, seed: int = 0, check: bool = True):
    """Run ``scenario`` (optionally on hand-made ``specs``); returns (RunResult, engine)."""
    engine = RecordingEngine(scenario, Streams(seed), specs, check=check)
    engine.run()
    result: RunResult = engine.result()
    return result, engine


def run_jobs(specs, *, check: bool = True, **scenario_kw):
    """Run hand-made JobSpecs on a scenario built by ``scenario_dict(**scenario_kw)``."""
    return run_engine(make_scenario(**scenario_kw), list(specs), check=check)


def by_id(result: RunResult, column: str) -> dict[str, float]:
    jobs = result.jobs
    return {str(k): v for k, v in zip(jobs["job_id"], jobs[column], strict=True)}


def same(a: float, b: float) -> bool:
    """Exact equality, with NaN equal to NaN (for start/end columns)."""
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="session")
def csim():
    """The helpers above, as one namespace."""
    return SimpleNamespace(
        scenario_dict=scenario_dict,
        make_scenario=make_scenario,
        spec=spec,
        run_engine=run_engine,
        run_jobs=run_jobs,
        by_id=by_id,
        same=same,
        RecordingEngine=RecordingEngine,
        SILENT_CLASS=SILENT_CLASS,
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def core_data() -> Path:
    return CORE_DATA


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
