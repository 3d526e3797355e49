"""Helpers for the services tests: scenarios with one service, and an Engine that checks the
cluster, inference and training invariants after every event."""

from __future__ import annotations

import pytest

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.engine.inference import Inference
from clustersim.model import TRAINING, JobSpec
from clustersim.rng import Streams

SILENT = {"name": "none", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}


def service(name="chat", *, gpus=8, rps=10.0, demand=None, **autoscale) -> dict:
    return {
        "name": name,
        "gpus_per_replica": gpus,
        "rps_per_replica": rps,
        "demand": demand if demand is not None else {"base_rps": 10.0},
        "autoscale": autoscale,
    }


def scenario(*, nodes=4, gpn=8, services=(), classes=None, horizon=7200.0, policy="fifo", **extra):
    data = {
        "name": "svc-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": gpn},
        "scheduler": {"policy": policy, "placement": "pack"},
        "workload": {"classes": classes if classes is not None else [dict(SILENT)]},
        "services": list(services),
        **extra,
    }
    return scenario_from_dict(data)


class CheckingEngine(Engine):
    """Asserts after every submission, finish, preemption and capacity change: the cluster's
    indexes are consistent; inference + training GPUs = busy <= up; no job is both queued and
    running; training policies never see a replica."""

    checks = 0

    def invariants(self) -> None:
        self.checks += 1
        c = self.cluster
        c.check()
        training = sum(j.spec.num_gpus for j in self.running if j.hung_since is None)
        hung = sum(1 for j in self.running if j.hung_since is not None)
        part = self.part(Inference)
        inference = part.gpus if part is not None else 0
        if not hung:
            assert training + inference == c.busy_gpus, (training, inference, c.busy_gpus)
        assert inference + training <= c.up_gpus
        assert all(j.kind == TRAINING for j in self.queue.jobs)
        assert all(j.kind == TRAINING for j in self.running)
        assert not (set(self.queue.jobs) & set(self.running))

    def submit(self, spec):
        job = super().submit(spec)
        self.invariants()
        return job

    def _finish(self, event):
        super()._finish(event)
        self.invariants()

    def capacity_changed(self):
        super().capacity_changed()
        self.invariants()


def run(sc, specs=None, seed=0, until=None):
    engine = CheckingEngine(sc, Streams(seed), specs)
    if until is None:
        engine.run()
    else:
        engine.env.run(until=until)
    return engine.result(), engine


def spec(job_id, submit_s, gpus, duration_s, cls="p"):
    return JobSpec(job_id, float(submit_s), int(gpus), float(duration_s), cls)


@pytest.fixture(scope="session")
def svc():
    from types import SimpleNamespace

    return SimpleNamespace(service=service, scenario=scenario, run=run, spec=spec, CheckingEngine=CheckingEngine)
