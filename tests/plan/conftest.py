"""Fixtures for the planning layer: M/M/c scenarios and their Erlang C answers."""

from __future__ import annotations

import math

import pytest


def _mmc(c: int, lam_per_h: float, mean_service: str = "1h", horizon: str = "600h",
         warmup: str = "30h", name: str = "mmc") -> dict:
    """M/M/c as a scenario: c one-GPU nodes, Poisson arrivals, exponential 1-GPU jobs, FIFO."""
    return {
        "name": name,
        "horizon": horizon,
        "warmup": warmup,
        "cluster": {"nodes": c, "gpus_per_node": 1},
        "scheduler": {"policy": "fifo"},
        "workload": {
            "classes": [
                {
                    "name": "job",
                    "arrival_rate_per_h": lam_per_h,
                    "gpus": 1,
                    "duration": {"kind": "exponential", "mean": mean_service},
                }
            ]
        },
    }


def _erlang_c_wait_s(c: int, lam_per_h: float, mean_service_h: float = 1.0) -> float:
    """Mean time in queue of M/M/c (Erlang C), in seconds; inf when unstable."""
    a = lam_per_h * mean_service_h  # offered load in servers
    if a >= c:
        return math.inf
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) * c / (c - a)
    p_wait = tail / (head + tail)
    return p_wait * mean_service_h / (c - a) * 3600.0


@pytest.fixture(scope="session")
def mmc():
    return _mmc


@pytest.fixture(scope="session")
def erlang_c_wait_s():
    return _erlang_c_wait_s


@pytest.fixture
def mmc_file(tmp_path):
    """Write an M/M/c scenario YAML and return its path."""
    import yaml

    def write(**kw):
        path = tmp_path / "mmc.yaml"
        path.write_text(yaml.safe_dump(_mmc(**kw)), encoding="utf-8")
        return path

    return write
