"""Helpers for the tenancy tests: small scenarios with a tenancy section, hand-made jobs, an
engine that checks the team limits after every pass, and per-team GPU-second sums."""

from __future__ import annotations

import copy

import numpy as np

from clustersim.config import scenario_from_dict
from clustersim.engine.core import Engine
from clustersim.model import JobSpec
from clustersim.results.summary import step_integral
from clustersim.rng import Streams


def silent(name: str, **extra) -> dict:
    """A job class that never produces a job (hand-made jobs name it)."""
    return {"name": name, "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h", **extra}


def scenario_data(*, nodes=4, gpus_per_node=1, policy="fifo", horizon=100_000.0, classes=None,
                  tenancy=None, **extra) -> dict:
    data = {
        "name": "tenancy-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node},
        "scheduler": {"policy": policy},
        "workload": {"classes": classes if classes is not None else [silent("a"), silent("b")]},
        **extra,
    }
    if tenancy is not None:
        data["tenancy"] = copy.deepcopy(tenancy)
    return data


def scenario(**kw):
    return scenario_from_dict(scenario_data(**kw))


def two_teams(qa=2, qb=2, **team_b) -> dict:
    return {"teams": [{"name": "A", "quota": qa, "classes": ["a"]},
                      {"name": "B", "quota": qb, "classes": ["b"], **team_b}]}


def spec(job_id, submit, gpus, duration, job_class="a", user=""):
    return JobSpec(job_id, float(submit), int(gpus), float(duration), job_class, user)


class CheckingEngine(Engine):
    """After every pass: the cluster's indexes hold, no team holds more than its quota plus its
    borrowing limit, and the team counters match the running jobs."""

    def _pass(self):
        super()._pass()
        self.cluster.check()
        ten = self.parts[-1] if self.parts else None
        if ten is None or not hasattr(ten, "cap"):
            return
        held = [0] * len(ten.used)
        for job in self.running:
            held[job.team] += job.spec.num_gpus
        assert held == ten.used, (held, ten.used)
        for t, (u, cap) in enumerate(zip(ten.used, ten.cap, strict=True)):
            assert u <= cap, (ten.names[t], u, cap)
        assert not (set(self.queue.jobs) & set(self.running))


def run(sc, specs=None, seed=0, check=True):
    cls = CheckingEngine if check else Engine
    engine = cls(sc, Streams(seed), list(specs) if specs is not None else None)
    engine.run()
    return engine.result()


def col(result, name) -> dict:
    jobs = result.jobs
    return dict(zip(jobs["job_id"].astype(str), jobs[name], strict=True))


def team_gpu_seconds(result) -> dict[str, tuple[float, float]]:
    """Per team: (GPU-seconds from the timeseries, GPU-seconds from the jobs table: GPUs x kept
    work + lost + overhead), over the whole run."""
    jobs, ts = result.jobs, result.timeseries
    horizon = result.scenario.horizon
    t = ts["t_s"].to_numpy(float)
    out = {}
    held = jobs["num_gpus"].to_numpy(float) * jobs["useful_s"].to_numpy(float) + jobs["lost_gpu_s"].to_numpy(
        float) + jobs["overhead_gpu_s"].to_numpy(float)
    for name in [c.removeprefix("team_gpus.") for c in ts.columns if c.startswith("team_gpus.")]:
        mine = (jobs["team"].astype(str) == name).to_numpy(bool)
        out[name] = (step_integral(t, ts[f"team_gpus.{name}"].to_numpy(float), 0.0, horizon), float(np.sum(held[mine])))
    return out
