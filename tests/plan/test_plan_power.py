"""``clustersim plan`` over a decimal key: the smallest power cap under which a one-node
fleet never throttles, worked out by hand."""

from __future__ import annotations

import json

import typer
import yaml
from typer.testing import CliRunner

from clustersim.cli.plan import plan_command

# One node of 8 GPUs, 100 W idle / 400 W busy, no overhead, PUE 1: busy it draws 3,200 W.
# Capping keeps 2 W below the cap, so a cap under 3,202 W throttles every job and one at or
# above it never does. Over 0.0030..0.0034 MW in steps of 0.0001 the smallest cap with no
# throughput lost is 0.0033 MW (0.0032 MW = 3,200 W throttles).
SCENARIO = {
    "name": "plan-cap",
    "horizon": "2d",
    "cluster": {"nodes": 1, "gpus_per_node": 8},
    "scheduler": {"policy": "fifo"},
    "workload": {"classes": [{"name": "node", "arrival_rate_per_h": 0.5, "gpus": 8, "duration": "1h"}]},
    "power": {"mode": "capping", "cap_mw": 0.004, "pue": 1.0,
              "gpu_types": {"A100": {"idle_w": 100, "busy_w": 400, "node_w": 0}}},
}


def test_plan_finds_the_smallest_cap_that_never_throttles(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("plan")(plan_command)
    app.command("other")(lambda: None)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["plan", str(path), "--search", "power.cap_mw=0.003..0.0034", "--step", "0.0001",
                                      "--target", "power.throttle_lost_share<=0", "--seeds", "2", "--workers", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text())
    assert plan["answer"] == 0.0033, plan
    assert "power.cap_mw = 0.0033" in (out / "plan.md").read_text().replace("\\_", "_")
