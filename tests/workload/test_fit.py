"""clustersim fit: recover a synthetic scenario from its own output trace, reproduce real
(ITP) traces, and refuse bad input with one clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.config import load_scenario, scenario_from_dict
from clustersim.engine import simulate
from clustersim.errors import ClusterSimError
from clustersim.workload import load_any
from clustersim.workload.fit import assign_classes, clock_offset, exposure, fit_trace
from clustersim.workload.fit_dist import Z90, fit_duration, ks_two_sample

REPO = Path(__file__).resolve().parents[2]
DAY = 86400.0
HOURLY = [0.70, 0.58, 0.42, 0.26, 0.21, 0.21, 0.26, 0.44, 0.74, 0.95, 0.98, 0.96,
          0.87, 0.91, 0.98, 0.99, 0.98, 0.90, 0.87, 0.95, 0.99, 0.99, 1.00, 0.96]
WEEKDAY = [1.0, 1.1, 1.0, 1.0, 0.9, 0.5, 0.4]
# one class per default GPU-count band, so that fitting by size finds them again
ORIGINAL = [
    {"name": "one", "arrival_rate_per_h": 20.0, "gpus": {1: 1.0}, "hourly": HOURLY, "weekday": WEEKDAY,
     "duration": {"kind": "lognormal", "median": 1200, "p90": 3600}},
    {"name": "node", "arrival_rate_per_h": 8.0, "gpus": {2: 0.2, 4: 0.3, 8: 0.5},
     "duration": {"kind": "lognormal", "median": 1800, "p90": 7200}},
    {"name": "multi", "arrival_rate_per_h": 7.0, "gpus": {16: 0.5, 32: 0.3, 64: 0.2},
     "duration": {"kind": "lognormal", "median": 2400, "p90": 7200}},
]


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """A 60-day synthetic run (seed 0), its jobs table written as a native trace, and the fit."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    sc = scenario_from_dict({"name": "rt", "horizon": "60d", "cluster": {"nodes": 400, "gpus_per_node": 8},
                             "workload": {"classes": ORIGINAL}})
    jobs = simulate(sc, 0).jobs
    path = tmp / "trace.csv"
    jobs[["job_id", "submit_s", "num_gpus", "duration_s", "job_class"]].to_csv(path, index=False)
    trace = load_any(path, "native")
    return jobs, trace, fit_trace(trace.jobs, offset=clock_offset(trace.notes))


def test_round_trip_recovers_rates_durations_and_sizes(round_trip):
    _jobs, _trace, fit = round_trip
    by_name = {c.name: c for c in fit.classes}
    assert sorted(by_name) == ["16-64gpu", "1gpu", "2-8gpu"]
    for orig, name in zip(ORIGINAL, ["1gpu", "2-8gpu", "16-64gpu"], strict=True):
        got = by_name[name]
        assert got.rate_per_h == pytest.approx(orig["arrival_rate_per_h"], rel=0.03), name
        d = got.duration
        assert d.kind == "lognormal", (name, d.reason)
        median, p90 = np.exp(d.mu), np.exp(d.mu + Z90 * d.sigma)
        assert median == pytest.approx(orig["duration"]["median"], rel=0.05), name
        assert p90 == pytest.approx(orig["duration"]["p90"], rel=0.05), name
        assert set(got.gpus) == set(orig["gpus"])
        for g, p in orig["gpus"].items():
            assert abs(got.gpus[g] - p) <= 0.02, (name, g)
    one = by_name["1gpu"]
    assert one.profile == "own"
    assert np.max(np.abs(np.array(one.hourly) - np.array(HOURLY) / np.mean(HOURLY))) < 0.2
    assert np.max(np.abs(np.array(one.weekday) - np.array(WEEKDAY) / np.mean(WEEKDAY))) < 0.1


def test_round_trip_by_the_traces_own_classes(round_trip):
    _jobs, trace, _fit = round_trip
    fit = fit_trace(trace.jobs, mode="by-class")
    rates = {c.name: c.rate_per_h for c in fit.classes}
    for orig in ORIGINAL:
        assert rates[orig["name"]] == pytest.approx(orig["arrival_rate_per_h"], rel=0.03)


def test_exposure_counts_each_bin_of_a_partial_period():
    e = exposure(3600.0, 1.5 * DAY, DAY, 24)  # from 01:00 on day 0 to 13:00 on day 1
    assert e.sum() == pytest.approx(1.5 * DAY)
    assert e[0] == pytest.approx(3600.0) and e[1] == pytest.approx(7200.0) and e[20] == pytest.approx(3600.0)


def test_clock_offset_places_unix_times_at_their_utc_weekday_and_hour():
    # 2021-03-03 (a Wednesday) 10:00 UTC = 1614765600
    assert clock_offset(["jobs read; times shifted by -1614765600 s so the first job submits at 0"]) == \
        pytest.approx(2 * DAY + 10 * 3600)
    assert clock_offset(["times shifted by -5810 s so the first job submits at 0"]) == 0.0


def test_a_lognormal_that_does_not_fit_becomes_empirical():
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.lognormal(7, 0.5, 3000), rng.lognormal(10, 0.3, 3000)])  # two modes
    fit = fit_duration(d)
    assert fit.kind == "empirical" and fit.ks == 0.0 and fit.ks_lognormal > 0.05
    assert fit_duration(rng.lognormal(7, 0.5, 3000)).kind == "lognormal"
    assert fit_duration(np.full(10, 60.0)).kind == "fixed"


def test_k_classes_split_gpu_counts_where_they_are_far_apart():
    import pandas as pd

    gpus = [1] * 50 + [2] * 30 + [64] * 25 + [128] * 25
    jobs = pd.DataFrame({"num_gpus": gpus, "job_class": "trace"})
    names = assign_classes(jobs, "classes", 2, min_jobs=20)
    assert sorted(set(names)) == ["1-2gpu", "64-128gpu"]
    with pytest.raises(ClusterSimError, match="cannot make 3 classes of at least 40 jobs"):
        assign_classes(jobs, "classes", 3, min_jobs=40)


# --------------------------------------------------------------------------- real traces


@pytest.mark.parametrize(("cluster", "repeats"), [("cluster03", 10), ("cluster06", 20)])
def test_fitted_itp_trace_reproduces_its_gpu_hours_and_durations(tmp_path, cluster, repeats):
    """Fit an ITP trace, then simulate the fitted scenario on the trace's cluster size for
    ``repeats`` times the trace's span: GPU-hour demand per span within 5% of the trace's, and
    per class the simulated durations within KS 0.05 of the observed ones."""
    out = tmp_path / f"{cluster}.yaml"
    result = CliRunner().invoke(app, ["fit", str(REPO / "workloads" / "itp" / f"{cluster}.csv.gz"),
                                      "--format", "itp", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"{cluster}-fit.md").exists() and (tmp_path / f"{cluster}-fit.png").exists()
    trace = load_any(REPO / "workloads" / "itp" / f"{cluster}.csv.gz", "itp").jobs
    span = float(trace["submit_s"].max())
    fitted = load_scenario(out, [f"horizon={repeats * span:.0f}"])
    sim = simulate(fitted, 0)
    fit = fit_trace(trace)
    total_trace = float((trace["num_gpus"] * trace["duration_s"]).sum()) / 3600
    total_sim = sum(b["gpu_hours"] for b in sim.summary["by_class"].values()) / repeats
    assert total_sim == pytest.approx(total_trace, rel=0.05)
    for c in fit.classes:
        mine = sim.jobs[sim.jobs["job_class"] == c.name]
        assert ks_two_sample(mine["duration_s"].to_numpy(), c.durations) < 0.05, c.name
        assert sim.summary["by_class"][c.name]["gpu_hours"] / repeats == pytest.approx(c.gpu_hours, rel=0.15)
    assert sim.summary["jobs"]["rejected"] == 0


# --------------------------------------------------------------------------- bad input


def run_cli(*args):
    return CliRunner().invoke(app, list(args))


def test_too_few_jobs_to_fit_a_class_is_one_clear_message(tmp_path):
    trace = tmp_path / "few.csv"
    trace.write_text("job_id,submit_s,num_gpus,duration_s\n" + "".join(f"j{i},{i * 60},1,600\n" for i in range(12)))
    result = run_cli("fit", str(trace), "--out", str(tmp_path / "s.yaml"))
    assert result.exit_code == 2
    assert "12 usable jobs: too few to fit a class (at least 20 needed" in result.output
    assert result.output.count("error:") == 1 and not (tmp_path / "s.yaml").exists()
    result = run_cli("fit", str(trace), "--by-class", "--min-jobs", "5", "--classes", "2")
    assert result.exit_code == 2 and "give one of --by-size, --classes K or --by-class" in result.output


def test_growth_below_minus_100_percent_is_one_clear_message(tmp_path):
    trace = REPO / "workloads" / "itp" / "cluster10.csv.gz"
    result = run_cli("fit", str(trace), "--format", "itp", "--grow", "-150%/yr", "--out", str(tmp_path / "s.yaml"))
    assert result.exit_code == 2
    assert "--grow '-150%/yr': growth must be more than -100%" in result.output
    assert not list(tmp_path.iterdir())


def test_profiles_of_the_wrong_length_are_one_clear_message(tmp_path):
    data = yaml.safe_load((REPO / "seeds" / "lingang-4000.yaml").read_text())
    data["workload"]["classes"][0]["hourly"] = [1.0] * 23
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run_cli("validate", str(path))
    assert result.exit_code == 2
    assert "workload.classes[0].hourly: expected 24 hourly multipliers, got 23" in result.output


def test_fitted_scenario_with_growth_loads_and_grows(tmp_path):
    trace = REPO / "workloads" / "itp" / "cluster10.csv.gz"
    out = tmp_path / "c10.yaml"
    result = run_cli("fit", str(trace), "--format", "itp", "--grow", "40%/yr", "--size-shift", "10%/yr",
                     "--horizon", "365d", "--out", str(out))
    assert result.exit_code == 0, result.output
    sc = load_scenario(out)
    assert sc.horizon == 365 * DAY
    assert all(c.growth.rate == pytest.approx(0.4) and c.growth.size_shift == pytest.approx(0.1)
               for c in sc.workload.classes)
    text = out.read_text()
    assert text.startswith("# Fitted by `clustersim fit") and "growth: {rate: 40%/yr, size_shift: 10%/yr}" in text
