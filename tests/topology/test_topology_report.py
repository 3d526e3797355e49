"""The report's Topology section: present with a topology (waits by level in the tree's order,
the fragmentation figure), absent without one."""

from __future__ import annotations

import subprocess

import yaml

BASE = {
    "name": "topo-report",
    "horizon": "2d",
    "warmup": "2h",
    "cluster": {"nodes": 16, "gpus_per_node": 8},
    "scheduler": {"policy": "backfill", "placement": "pack"},
    "workload": {"classes": [
        {"name": "small", "arrival_rate_per_h": 4, "gpus": {1: 0.5, 8: 0.5}, "duration": "1h"},
        {"name": "gang", "arrival_rate_per_h": 1, "gpus": {16: 0.5, 48: 0.5}, "duration": "3h"},
    ]},
}


def _run(tmp_path, python, data, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / name
    proc = subprocess.run([python, "-m", "clustersim", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out, (out / "report.md").read_text()


def test_topology_section(tmp_path, python):
    data = dict(BASE, cluster=dict(BASE["cluster"], topology={
        "levels": [{"name": "rack", "nodes": 4}, {"name": "leaf", "nodes": 8}]}))
    out, md = _run(tmp_path, python, data, "topo")
    section = md[md.index("## Topology"):]
    assert "Domains: rack of 4 nodes, leaf of 8 nodes" in section
    # 2-node gangs are held to racks, 6-node gangs to leaves: rows in the tree's order
    assert section.index("| rack |") < section.index("| leaf |")
    assert (out / "figures" / "fragmentation.png").stat().st_size > 1000
    _, flat = _run(tmp_path, python, BASE, "flat")
    assert "## Topology" not in flat
