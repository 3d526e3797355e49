"""Execution: resumable storage after an interrupt, and the same tables on Dask as locally."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clustersim.planning.executor import DaskExecutor, LocalExecutor
from clustersim.planning.runs import (
    Interrupted,
    Runner,
    RunStore,
    ScenarioInput,
    run_one,
    scenario_hash,
)
from clustersim.planning.sweep import sweep, write_sweep

VARY = ["cluster.nodes=2,3", "scheduler.policy=fifo,sjf"]
SEEDS = [0, 1, 2]
RUNS = 4 * len(SEEDS)


@pytest.fixture
def small(mmc):
    return mmc(2, 1.0, horizon="120h", warmup="5h")


class Counting:
    """run_one that counts its calls and raises KeyboardInterrupt after ``stop_after``."""

    def __init__(self, stop_after: int | None = None):
        self.calls = 0
        self.stop_after = stop_after

    def __call__(self, spec):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        return run_one(spec)


def test_interrupted_sweep_resumes_with_only_missing_runs(small, tmp_path):
    first = Counting(stop_after=5)
    runner = Runner(LocalExecutor(workers=1), RunStore(tmp_path), run_fn=first)
    with pytest.raises(Interrupted, match=r"5 of 12 runs finished .* run the same command again"):
        sweep(small, VARY, SEEDS, runner=runner)
    stored = sorted((tmp_path / "runs").glob("*.json"))
    assert len(stored) == 5
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # no half-written file left behind
    record = json.loads(stored[0].read_text())
    assert set(record) == {"scenario_hash", "seed", "clustersim_version", "summary"}
    assert stored[0].name == f"{record['scenario_hash']}-{record['seed']}.json"

    second = Counting()
    runner = Runner(LocalExecutor(workers=1), RunStore(tmp_path), run_fn=second)
    resumed = sweep(small, VARY, SEEDS, runner=runner)
    assert second.calls == RUNS - 5
    assert (runner.computed, runner.reused) == (RUNS - 5, 5)

    third = Counting()
    runner = Runner(LocalExecutor(workers=1), RunStore(tmp_path), run_fn=third)
    again = sweep(small, VARY, SEEDS, runner=runner)
    assert third.calls == 0  # everything from the store
    fresh = sweep(small, VARY, SEEDS, workers=1)  # no store at all
    pd.testing.assert_frame_equal(resumed.table(), fresh.table())
    pd.testing.assert_frame_equal(again.table(), fresh.table())


def test_ctrl_c_on_the_process_pool_keeps_finished_runs(small, tmp_path):
    """Ctrl-C arrives in the parent (pool workers ignore SIGINT): pending runs are cancelled,
    the pool is stopped, finished runs stay on disk, and the rerun does only the rest."""
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 3:
            raise KeyboardInterrupt

    executor = LocalExecutor(workers=2)
    runner = Runner(executor, RunStore(tmp_path), progress=progress)
    with pytest.raises(Interrupted, match="interrupted: 3 of 12"):
        sweep(small, VARY, SEEDS, runner=runner)
    assert executor._pool is None  # shut down by the interrupt
    executor.close()
    assert len(list((tmp_path / "runs").glob("*.json"))) == 3
    counting = Counting()
    runner = Runner(LocalExecutor(workers=1), RunStore(tmp_path), run_fn=counting)
    sweep(small, VARY, SEEDS, runner=runner)
    assert counting.calls == RUNS - 3


def test_corrupt_store_entry_is_recomputed(small, tmp_path):
    base = ScenarioInput(small)
    key = scenario_hash(base.resolve())
    store = RunStore(tmp_path)
    store.path(key, 0).parent.mkdir(parents=True)
    store.path(key, 0).write_text("{not json")
    counting = Counting()
    Runner(LocalExecutor(workers=1), store, run_fn=counting).summaries(base.specs([], [0]))
    assert counting.calls == 1 and store.load(key, 0) is not None


def test_scenario_hash_ignores_spelling(small):
    a = ScenarioInput(small).resolve()
    spelled = dict(small, horizon=f"{120 * 3600}s")
    assert scenario_hash(a) == scenario_hash(ScenarioInput(spelled).resolve())
    assert scenario_hash(a) != scenario_hash(ScenarioInput(small, overrides=("cluster.nodes=3",)).resolve())


def test_dask_local_cluster_gives_identical_tables(small, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (optional extra 'dask')"
    )
    local = sweep(small, VARY, SEEDS, runner=Runner(LocalExecutor(workers=2)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        executor = DaskExecutor(cluster)
        try:
            assert executor.slots == 2
            remote = sweep(small, VARY, SEEDS, runner=Runner(executor, RunStore(tmp_path)))
        finally:
            executor.close()
    pd.testing.assert_frame_equal(local.table(), remote.table())
    pd.testing.assert_frame_equal(local.summary_table(), remote.summary_table())
    assert len(list((tmp_path / "runs").glob("*.json"))) == RUNS


def test_sweep_outputs(small, tmp_path):
    result = sweep(small, VARY, SEEDS, workers=1)
    paths = write_sweep(result, tmp_path, metrics=["wait_s.mean"], title="mmc")
    table = pd.read_parquet(paths["table"])
    assert list(table.columns[:3]) == ["cluster.nodes", "scheduler.policy", "seed"]
    assert {"wait_s.p90", "jobs.finished", "by_class.job.wait_s.p90"} <= set(table.columns)
    assert len(table) == RUNS
    assert table["cluster.nodes"].tolist() == [2] * 6 + [3] * 6
    summary = pd.read_parquet(paths["summary"])
    row = summary[(summary["cluster.nodes"] == 3) & (summary["scheduler.policy"] == "fifo")
                  & (summary["metric"] == "wait_s.mean")].iloc[0]
    waits = table[(table["cluster.nodes"] == 3) & (table["scheduler.policy"] == "fifo")]["wait_s.mean"]
    assert row["mean"] == pytest.approx(waits.mean()) and row["n"] == 3
    assert row["half_width"] == pytest.approx(4.302653 * waits.std() / 3**0.5, rel=1e-6)
    data = json.loads(paths["summary_json"].read_text())
    assert data["points"][0]["point"] == {"cluster.nodes": 2, "scheduler.policy": "fifo"}
    markdown = paths["markdown"].read_text()
    assert "![mean wait](figures/sweep-wait_s_mean.png)" in markdown
    assert paths["html"].read_text().count("data:image/png;base64,") == 1
    assert paths["figures"][0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
