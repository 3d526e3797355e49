"""Helpers for the policy tests: small scenarios, hand-made jobs, and an engine that checks
after every pass that no node is used twice and every job is in exactly one place."""

from __future__ import annotations

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.model import JobSpec
from clustersim.rng import Streams


def silent(name: str, **extra) -> dict:
    """A job class that never produces a job (hand-made jobs name it)."""
    return {"name": name, "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h", **extra}


def scenario(*, nodes=1, gpus_per_node=1, policy="fifo", horizon=100_000.0, classes=None, **extra):
    data = {
        "name": "policy-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node},
        "scheduler": {"policy": policy},
        "workload": {"classes": classes if classes is not None else [silent("a")]},
        **extra,
    }
    return scenario_from_dict(data)


def spec(job_id, submit, gpus, duration, job_class="a", time_limit=float("nan")):
    s = JobSpec(job_id, float(submit), int(gpus), float(duration), job_class)
    if time_limit == time_limit:
        s = s._replace(time_limit_s=float(time_limit))
    return s


class CheckingEngine(Engine):
    """After every pass: the cluster's indexes hold, no node holds more GPUs than it has, and
    no job is both queued and running."""

    def _pass(self):
        super()._pass()
        self.cluster.check()
        held: dict[int, int] = {}
        for job in self.running:
            for node in job.nodes:
                held[node] = held.get(node, 0) + self.cluster.per_node(job.spec.num_gpus)
        for node, g in held.items():
            assert g <= self.cluster.gpus_per_node, (node, g)
        assert not (set(self.queue.jobs) & set(self.running))


def run(sc, specs, seed=0, check=True):
    cls = CheckingEngine if check else Engine
    engine = cls(sc, Streams(seed), list(specs))
    engine.run()
    return engine, engine.result()


def table(result) -> dict[str, tuple]:
    """job id -> (first start, end, restarts, lost wall seconds) from the jobs table."""
    j = result.jobs
    return {
        str(r.job_id): (r.start_s, r.end_s, int(r.restarts), round(float(r.lost_s), 9))
        for r in j.itertuples()
    }
