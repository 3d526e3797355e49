"""Inputs the long fuzz profile (issue 16) found a traceback for, kept as regression tests.

A finding in code outside the fuzz suite's reach (``clustersim/report``, ``clustersim/engine``:
others own them) is a strict xfail here and a ``KNOWN_BUGS`` entry in ``tests/fuzz/fuzzing.py``;
when its fix lands, this test passes (XPASS fails the run): drop the marker and the entry.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app

# Found by CLUSTERSIM_FUZZ_EXAMPLES=2000 (test_small_scenarios_build_their_report): two classes
# of one GPU size each, failures on, checkpoints; seed 0.
ETTR_ROUNDING = {
    "name": "ettr-rounding",
    "horizon": "2h",
    "cluster": {"nodes": 6, "gpus_per_node": 8},
    "scheduler": {"policy": "backfill", "placement": "pack"},
    "workload": {"classes": [
        {"name": "c0", "arrival_rate_per_h": 0, "gpus": 1, "duration": "10m", "hourly": [1.0, 2.0, 3.0] * 8,
         "checkpoint": {"interval": "young", "cost": "30s"}},
        {"name": "c1", "arrival_rate_per_h": 2, "gpus": 3, "duration": "30m", "hourly": [1.0, 2.0, 3.0] * 8,
         "checkpoint": {"interval": "young", "cost": "30s"}},
    ]},
    "failures": {},
    "supply": {"orders": [{"at": "1h", "nodes": 1, "lead_time": "2h", "burn_in": "1h", "batch_nodes": 1,
                           "batch_every": "1h"}], "energy": {"pue": 1.2}},
}


def test_a_one_size_group_in_the_ettr_figure_builds_its_report(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(ETTR_ROUNDING))
    result = CliRunner().invoke(app, ["run", str(path), "--seed", "0", "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "summary.json").is_file()  # the run itself is complete
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
