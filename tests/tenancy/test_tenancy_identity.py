"""Tenancy changes nothing it should not:

- without a tenancy section every result table is byte-identical to a run of the code without
  tenancy (the golden digests in tests/golden pin them; here the tables of a run are compared
  with a run whose engine has no tenancy component at all);
- one team owning the whole cluster, without priorities, schedules exactly as no tenancy does,
  under every policy: the guaranteed-first pass is the policy's own pass then.
"""

from __future__ import annotations

import io

import pytest
from tenancy_helpers import run

from clustersim.config import load_scenario

SMALL = "tests/data/core/small.yaml"


def table_bytes(frame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def test_no_section_no_component(repo_root):
    sc = load_scenario(repo_root / SMALL)
    assert sc.tenancy is None
    from clustersim.engine.core import components
    from clustersim.rng import Streams

    assert not [p for p in components(sc, Streams(0)) if type(p).__name__ == "Tenancy"]


@pytest.mark.parametrize("policy", ["fifo", "sjf", "backfill", "conservative"])
def test_one_team_owning_everything_is_the_plain_policy(repo_root, policy):
    base = load_scenario(repo_root / SMALL, [f"scheduler.policy={policy}"])
    classes = [c.name for c in base.workload.classes]
    ten = load_scenario(
        repo_root / SMALL,
        [f"scheduler.policy={policy}", f"tenancy={{teams: [{{name: all, quota: 100%, classes: [{', '.join(classes)}]}}]}}"],
    )
    a = run(base, check=False)
    b = run(ten, check=False)
    cols = list(a.jobs.columns)
    assert table_bytes(a.jobs) == table_bytes(b.jobs[cols])
    assert table_bytes(a.timeseries) == table_bytes(b.timeseries[list(a.timeseries.columns)])
    assert (b.jobs["team"].astype(str) == "all").all()
    assert b.summary["tenancy"]["reclaims"] == 0
    # its usage is the cluster's busy GPUs
    assert (b.timeseries["team_gpus.all"] == b.timeseries["busy_gpus"]).all()
