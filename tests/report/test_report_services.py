"""The report's services section: present with services, absent without."""

from __future__ import annotations

from clustersim.config import scenario_from_dict
from clustersim.engine.core import simulate
from clustersim.report.build import build_report
from clustersim.results.rundir import begin_run, write_run


def _scenario(*, nodes, classes, services=(), horizon=7200.0, **extra):
    return scenario_from_dict({
        "name": "svc-test",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": 8},
        "scheduler": {"policy": "fifo", "placement": "pack"},
        "workload": {"classes": classes},
        "services": list(services),
        **extra,
    })


def _service(*, gpus, rps, demand, **autoscale) -> dict:
    return {"name": "chat", "gpus_per_replica": gpus, "rps_per_replica": rps, "demand": demand,
            "autoscale": autoscale}


def _run(tmp_path, sc, name):
    out = tmp_path / name
    begin_run(out, sc, 0)
    write_run(out, simulate(sc, 0))
    return build_report(out), out


def test_services_section_and_figures(tmp_path):
    hourly = [0.2] * 6 + [1.0] * 18
    sc = _scenario(
        nodes=4, horizon="2d", warmup="6h",
        classes=[{"name": "p", "arrival_rate_per_h": 3, "gpus": 8, "duration": "2h", "preemptible": True}],
        services=[_service(gpus=8, rps=10.0, demand={"base_rps": 20.0, "hourly": hourly}, startup=600)],
    )
    md, out = _run(tmp_path, sc, "with")
    text = md.read_text()
    assert "## Inference services" in text
    assert "### The fleet over a day" in text and "### The cost to training" in text
    for name in ("service_0.png", "fleet_split.png", "wait_by_hour.png"):
        assert (out / "figures" / name).is_file(), name
    assert (out / "services.parquet").is_file()
    assert "`preemptions`" not in text  # shown in the section, not under "Other metrics"


def test_no_services_no_section(tmp_path):
    sc = _scenario(nodes=2, classes=[{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}])
    md, out = _run(tmp_path, sc, "without")
    assert "Inference services" not in md.read_text()
    assert not (out / "services.parquet").exists()
