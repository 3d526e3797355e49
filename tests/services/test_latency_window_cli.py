"""``clustersim run --window [SERVICE:]START+LENGTH``: a request-level window from the command
line, besides those the scenario configures (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app

REPO = Path(__file__).resolve().parents[2]
CONV = REPO / "workloads" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv.gz"
runner = CliRunner()


def scenario(tmp_path: Path, **latency) -> Path:
    data = {
        "name": "win", "horizon": "3h",
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 0, "gpus": 1, "duration": "1h"}]},
        "services": [{
            "name": "chat", "gpus_per_replica": 8, "demand": {"base_rps": 2.0},
            "autoscale": {"min_replicas": 2, "startup": 0},
            "latency": {"requests": {"trace": str(CONV)}, "profile": "llama2-70b-a100-tp8", **latency},
        }],
    }
    path = tmp_path / "win.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(*args):
    return runner.invoke(app, ["run", *map(str, args), "--no-report"])


def test_a_window_from_the_command_line(tmp_path):
    path = scenario(tmp_path)
    got = run(path, "--out", tmp_path / "a", "--window", "1h+5m")
    assert got.exit_code == 0, got.output
    req = pd.read_parquet(tmp_path / "a" / "requests.parquet")
    assert set(req["window"]) == {0}
    assert req["arrival_s"].min() >= 3600.0 and req["arrival_s"].max() < 3900.0
    assert len(req) > 300  # ~2 requests/s over 300 s
    # named service, besides a configured window: two windows, the configured one first
    path = scenario(tmp_path, request_level={"windows": [{"start": "2h", "length": "1m"}]})
    got = run(path, "--out", tmp_path / "b", "--window", "chat:30m+2m")
    assert got.exit_code == 0, got.output
    req = pd.read_parquet(tmp_path / "b" / "requests.parquet")
    first = req[req["window"] == 0]["arrival_s"]
    second = req[req["window"] == 1]["arrival_s"]
    assert first.min() >= 7200.0 and first.max() < 7260.0
    assert second.min() >= 1800.0 and second.max() < 1920.0


def test_bad_windows_are_one_line_each(tmp_path):
    path = scenario(tmp_path)
    got = run(path, "--window", "1h")
    assert got.exit_code == 2
    assert "--window 1h: expected [SERVICE:]START+LENGTH" in got.output
    got = run(path, "--window", "code:1h+5m")
    assert got.exit_code == 2
    assert "--window code:1h+5m: no service 'code' with a `latency` section" in got.output
    got = run(path, "--window", "1h+0s")
    assert got.exit_code == 2
    assert "services[0].latency.request_level.windows[0].length" in got.output
    assert "Traceback" not in got.output
    got = run(path, "--window", "1h+5m", "--seeds", "2")
    assert got.exit_code == 2 and "--window runs one replication" in got.output
