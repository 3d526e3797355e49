"""The "Failures and goodput" report section on small hand-made run directories."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.report.analysis import failures as analysis
from clustersim.report.analysis.failures import (
    analytic_ettr,
    distribution_mean,
    expected_nodes_down,
    mean_down_time,
)
from clustersim.report.build import build_report
from clustersim.report.figures import failures as figures
from clustersim.report.files import load_run
from clustersim.report.sections.failures import SUMMARY_KEYS, failures_section

DAY = 86400.0
HORIZON = 10 * DAY
WARMUP = 1 * DAY
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
Z90 = 1.2815515655446004
NEW_FIGURES = ["ettr_by_size.png", "failure_timeline.png", "gpu_hours.png", "nodes_down.png"]
OLD_FIGURES = ["queue.png", "utilisation.png", "wait_by_size.png", "wait_cdf.png"]

FAILURES = {
    "rate_per_1000_node_days": 100.0,  # 0.1 failures per node-day
    "job_rate_per_1000_node_days": 20.0,
    "causes": {"gpu": 0.6, "network": 0.2, "host": 0.2},
    "repair": [
        {"name": "soft", "share": 0.5, "time": {"kind": "fixed", "value": 3600.0}},
        # p90 = median * e^Z90, so sigma = 1 and the mean is median * e^0.5
        {"name": "swap", "share": 0.5,
         "time": {"kind": "lognormal", "median": DAY, "p90": DAY * math.exp(Z90)}},
    ],
    "detection": {"kind": "exponential", "mean": 600.0},
    "spare_nodes": 1,
    "checkpoint": {"interval": "young", "cost": 60.0, "restart": 300.0},
    "lemons": None,
    "early_life": None,
}

CONFIG = {
    "scenario": {
        "name": "failing-test",
        "horizon": HORIZON,
        "warmup": WARMUP,
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "scheduler": {"policy": {"kind": "fifo"}, "placement": {"kind": "pack"}},
        "workload": {"classes": [
            {"name": "eval", "checkpoint": {"interval": 3600.0, "cost": 5.0, "restart": 60.0}},
            {"name": "train", "checkpoint": None},
        ]},
        "failures": FAILURES,
    },
    "seed": 3,
    "clustersim_version": "0.1.0",
}

SUMMARY = {
    "scenario": "failing-test",
    "seed": 3,
    "horizon_s": HORIZON,
    "warmup_s": WARMUP,
    "jobs": {"submitted": 6, "finished": 4, "running": 1, "queued": 1, "rejected": 0},
    "gpu_utilisation": 0.45,
    "wait_s": {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0},
    "jct_s": {"mean": 14000.0, "p50": 2000.0, "p90": 40000.0},
    "by_class": {},
    "offered_load": 0.5,
    "failures": 5,
    "job_failures": 1,
    "job_interruptions": 3,
    "spare_swaps": 2,
    "nodes_pulled": 1,
    "lost_gpu_hours": 150.0,
    "overhead_gpu_hours": 114.0,
    "useful_gpu_hours": 3000.0,
    "busy_gpu_hours": 3264.0,
    "goodput": 3000.0 / 3264.0,
    "ettr": {"overall": 0.9, "by_class": {"eval": 2900 / 3000, "train": 0.9}},
    "mean_nodes_down": 2 / 9,
}

NAN = float("nan")
JOB_COLUMNS = ["job_id", "job_class", "num_gpus", "submit_s", "start_s", "end_s", "duration_s",
               "state", "restarts", "work_done_s", "lost_gpu_s", "overhead_gpu_s"]
JOBS = [
    ("j0", "eval", 1, 1.5 * DAY, 1.5 * DAY, 1.5 * DAY + 1000, 900.0, "finished", 1, 900.0, 60.0,
     40.0),
    ("j1", "eval", 1, 2 * DAY, 2 * DAY, 2 * DAY + 2000, 2000.0, "finished", 0, 2000.0, 0.0, 0.0),
    ("j2", "train", 16, 2 * DAY, 2 * DAY, 2 * DAY + 40000, 36000.0, "finished", 2, 36000.0,
     16 * 1500.0, 16 * 2500.0),
    ("j3", "train", 8, 0.0, 0.0, 5000.0, 5000.0, "finished", 0, 5000.0, 0.0, 0.0),  # warm-up
    ("j4", "train", 32, 8 * DAY, 8 * DAY, NAN, 3 * DAY, "running", 0, 100000.0, 0.0,
     32 * 1000.0),
    ("j5", "eval", 2, 9 * DAY, NAN, NAN, 3600.0, "queued", 0, 0.0, 0.0, 0.0),
]

EVENTS = [
    (0.5 * DAY, "failure", 0, "gpu", "soft", 4200.0, 0),
    (1.0 * DAY, "failure", 1, "gpu", "swap", 2 * DAY, 1),
    (2.5 * DAY, "failure", 2, "network", "soft", 4000.0, 1),
    (3.0 * DAY, "repair", 1, "gpu", "swap", 2 * DAY, 0),
    (4.0 * DAY, "job_failure", -1, "software", "", 100.0, 1),
    (5.0 * DAY, "failure", 3, "host", "pulled", math.inf, 0),
    (5.01 * DAY, "pulled", 3, "host", "pulled", math.inf, 0),
    (7.0 * DAY, "failure", 0, "gpu", "soft", 3000.0, 2),
]


def jobs_frame(rows=JOBS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=JOB_COLUMNS).astype(
        {"num_gpus": "int64", "submit_s": float, "start_s": float, "end_s": float,
         "duration_s": float, "restarts": "int64"})
    frame["wait_s"] = frame["start_s"] - frame["submit_s"]
    return frame


def timeseries_frame() -> pd.DataFrame:
    # up 32 GPUs except 24 on [1 d, 3 d) while node 1 is down; busy 0, 16, 24, 8.
    return pd.DataFrame({
        "t_s": [0.0, DAY, 3 * DAY, 6 * DAY],
        "busy_gpus": [0, 16, 24, 8],
        "up_gpus": [32, 24, 32, 32],
        "running_jobs": [0, 2, 2, 1],
        "queued_jobs": [0, 0, 0, 1],
        "queued_gpus": [0, 0, 0, 2],
        "down_nodes": [0, 1, 0, 0],
    })


def events_frame(rows=EVENTS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(analysis.EVENT_COLUMNS)).astype(
        {"t_s": float, "kind": str, "node_id": "int64", "cause": str, "repair_class": str,
         "down_s": float, "jobs_hit": "int64"})


def write_run(path: Path, *, config=None, summary=None, jobs=None, timeseries=None,
              events: pd.DataFrame | None | bool = None) -> Path:
    """A run directory; ``events=False`` leaves events.parquet out."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(CONFIG if config is None else config))
    (path / "summary.json").write_text(json.dumps(SUMMARY if summary is None else summary))
    (jobs_frame() if jobs is None else jobs).to_parquet(path / "jobs.parquet")
    (timeseries_frame() if timeseries is None else timeseries).to_parquet(
        path / "timeseries.parquet")
    if events is not False:
        (events_frame() if events is None else events).to_parquet(path / "events.parquet")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    run = write_run(tmp_path_factory.mktemp("run"))
    build_report(run)
    return run


def failures_md(run_dir: Path) -> str:
    """The failures section alone (and its figures): faster than a full build."""
    run = load_run(run_dir)
    run.figures_dir.mkdir(exist_ok=True)
    return failures_section(run).markdown


def section_of(md: str) -> str:
    return md.split("## Failures and goodput")[1].split("## How to read this")[0]


def png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# --------------------------------------------------------------------------- the full build


def test_build_adds_the_section_before_the_glossary_and_four_figures(built):
    md = (built / "report.md").read_text()
    assert md.index("## Wait by job size") < md.index("## Failures and goodput") < md.index(
        "## How to read this")
    names = sorted(p.name for p in (built / "figures").glob("*.png"))
    assert names == sorted(OLD_FIGURES + NEW_FIGURES)
    for name in NEW_FIGURES:
        assert f"](figures/{name})" in md
        data = (built / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert png_size(data) == (1080, 540), name  # the report's slide size
    page = (built / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 8


def test_table_shows_the_summary_numbers(built):
    text = section_of((built / "report.md").read_text())
    for row in [
        "| Node failures | 5 |",
        "| Job-level failures (software, hangs; no node down) | 1 |",
        "| Job interruptions (restarts, all causes) | 3 |",
        "| Restarts on a hot spare (1 held) | 2 |",
        "| Nodes pulled from service | 1 |",
        "| Mean nodes down (after warm-up) | 0.22 (5.6 % of 4) |",
        "| Expected nodes down (failure rate × mean time down) | 0.31 |",
        "| **Goodput** (useful / busy GPU-hours) | **91.9 %** |",
        "| **ETTR**, finished jobs | **90.0 %** |",
        "| ETTR, class eval | 96.7 % |",
        "| ETTR, class train | 90.0 % |",
        "| Lost GPU-hours (work since last checkpoint, hung time) | 150 (4.6 % of busy) |",
        "| Overhead GPU-hours (checkpoints, restarts) | 114 (3.5 % of busy) |",
    ]:
        assert row in text, row


def test_text_reads_the_numbers_for_a_planner(built):
    text = section_of((built / "report.md").read_text())
    assert ("Failures and checkpointing cost **264 GPU-hours**, **8.1 % of busy GPU time** "
            "(150 lost to failures, 114 writing checkpoints and restarting).") in text
    # busy GPU-s per size: 1 GPU 3,000; 8: 40,000; 16: 640,000; 32: 3,232,000 (3,915,000 in all);
    # lost + overhead: 1 GPU 100; 16: 64,000; 32: 32,000 (96,100 in all)
    assert ("Jobs of 16 GPUs ran 16.3 % of the busy GPU time but bore 66.6 % of this cost, "
            "10.0 % of their own GPU time against 3.3 % for jobs of 1 GPU.") in text
    assert "Jobs were interrupted 3 times; 2 of these restarted at once on a hot spare." in text
    assert "0.22 nodes (5.6 % of the fleet) were down, below the 0.31 expected" in text
    assert "1 node was pulled from service for good, so the fleet shrank" in text
    assert "Classes with their own checkpoint settings (eval)" in text


def test_other_metrics_table_leaves_out_what_the_section_shows(built):
    md = (built / "report.md").read_text()
    other = md.split("### Other metrics")[1].split("## Utilisation")[0]
    assert "`offered_load`" in other
    for key in SUMMARY_KEYS:
        assert f"`{key}`" not in other


# --------------------------------------------------------------------------- without failures


@pytest.mark.parametrize("failures", ["absent", None])
def test_no_section_and_no_figures_without_failures(tmp_path, failures):
    config = copy.deepcopy(CONFIG)
    if failures == "absent":
        del config["scenario"]["failures"]
    else:
        config["scenario"]["failures"] = None
    run = write_run(tmp_path, config=config)
    assert failures_section(load_run(run)) is None
    md = build_report(run).read_text()
    assert "Failures and goodput" not in md
    assert sorted(p.name for p in (run / "figures").glob("*.png")) == OLD_FIGURES
    assert "| `goodput` | 91.9 % |" in md  # summary numbers still shown, generically


def test_import_of_the_failures_section_is_cheap():
    code = ("import sys, clustersim.report.sections.failures; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'clustersim.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- awkward inputs


def test_empty_events_still_build(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary.update(failures=0, job_failures=0, nodes_pulled=0)
    empty = events_frame([])
    run = write_run(tmp_path, summary=summary, events=empty)
    text = failures_md(run)
    assert "No node failed and no job-level failure occurred during the run." in text
    assert not (run / "figures" / "failure_timeline.png").exists()
    for name in ("ettr_by_size.png", "gpu_hours.png", "nodes_down.png"):
        assert (run / "figures" / name).read_bytes().startswith(PNG_MAGIC)


def test_missing_events_file_counts_as_no_events(tmp_path):
    run = write_run(tmp_path, events=False)
    text = failures_md(run)
    assert "No node failed" in text and "| Node failures | 5 |" in text


def test_old_run_without_failure_columns_or_down_nodes_still_builds(tmp_path):
    jobs = jobs_frame().drop(columns=["restarts", "work_done_s", "lost_gpu_s", "overhead_gpu_s"])
    summary = {k: v for k, v in SUMMARY.items() if k not in SUMMARY_KEYS}
    run = write_run(tmp_path, jobs=jobs, summary=summary,
                    timeseries=timeseries_frame().drop(columns=["down_nodes"]))
    text = failures_md(run)
    assert "| Node failures | n/a |" in text and "**n/a**" in text
    assert "None" not in text and "nan" not in text
    assert not (run / "figures" / "nodes_down.png").exists()
    assert not (run / "figures" / "gpu_hours.png").exists()


def test_no_finished_job_is_said_and_running_jobs_are_drawn_hollow(tmp_path):
    jobs = jobs_frame([r for r in JOBS if r[7] != "finished"])
    summary = copy.deepcopy(SUMMARY)
    summary["ettr"] = {"overall": None, "by_class": {"train": None}}
    run = write_run(tmp_path, jobs=jobs, summary=summary)
    loaded = load_run(run)
    finished, running = analysis.ettr_groups(loaded)
    assert finished == []
    assert [(g["label"], g["n"]) for g in running] == [("32", 1)]
    assert running[0]["ettr"] == pytest.approx(100000.0 / (2 * DAY))
    text = failures_md(run)
    assert "No job submitted after warm-up finished, so there is no ETTR" in text
    assert (run / "figures" / "ettr_by_size.png").read_bytes().startswith(PNG_MAGIC)


def test_class_names_are_escaped(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary["ettr"]["by_class"] = {"a|b <x>": 0.5}
    md = failures_md(write_run(tmp_path, summary=summary))
    assert r"| ETTR, class a\|b \<x\> | 50.0 % |" in md


# --------------------------------------------------------------------------- the arithmetic


def test_distribution_means():
    assert distribution_mean({"kind": "fixed", "value": 3600.0}) == 3600.0
    assert distribution_mean("2h") == 7200.0
    assert distribution_mean(90) == 90.0
    assert distribution_mean({"kind": "exponential", "mean": 180.0}) == 180.0
    # sigma = ln(p90 / median) / 1.2816 = 1 here, so the mean is median * e^(1/2)
    lognormal = {"kind": "lognormal", "median": 100.0, "p90": 100.0 * math.exp(Z90)}
    assert distribution_mean(lognormal) == pytest.approx(100.0 * math.sqrt(math.e))
    # median 1 h, p90 4 h: sigma = ln 4 / 1.2816 = 1.0817, mean = 3600 * e^(0.5850) = 6,463 s
    assert distribution_mean({"kind": "lognormal", "median": 3600, "p90": 14400}) == \
        pytest.approx(6463.0, abs=1.0)
    assert distribution_mean({"kind": "empirical", "file": "x.csv"}) is None
    assert distribution_mean({"kind": "lognormal", "median": 10.0, "p90": 5.0}) is None
    assert distribution_mean(None) is None


def test_mean_down_time_is_detection_plus_the_repair_mix():
    expected = 600.0 + 0.5 * 3600.0 + 0.5 * DAY * math.sqrt(math.e)  # 73,624.8 s
    assert mean_down_time(FAILURES) == pytest.approx(expected)
    assert mean_down_time({**FAILURES, "detection": {"kind": "empirical", "file": "x"}}) is None


def test_littles_law_expectation_of_nodes_down():
    down_days = (600.0 + 0.5 * 3600.0 + 0.5 * DAY * math.sqrt(math.e)) / DAY  # 0.85214 d
    x = 0.1 * down_days  # failures per node-day × days down per failure
    # Only the N − L nodes in service can fail: L = (N − L)·λ·D, so L = N·λ·D / (1 + λ·D).
    assert expected_nodes_down(FAILURES, 4) == pytest.approx(4 * x / (1 + x))
    assert expected_nodes_down(FAILURES, 4) == pytest.approx(0.31409, abs=1e-5)
    # the default fleet: 500 nodes, 5 per 1,000 node-days. Mean lognormal = median x
    # e^(sigma^2 / 2), sigma = ln(p90 / median) / 1.28155: soft 1 h / 4 h -> 6,462.4 s, swap
    # 24 h / 3 d -> 124,764.5 s, vendor 10 d / 21 d -> 1,021,632.0 s; down time = 180 s
    # detection + 0.5 x 6,462.4 + 0.4 x 124,764.5 + 0.1 x 1,021,632.0 = 155,480.2 s (43.19 h)
    # = 1.799539 d; lambda D = 0.005 x 1.799539 = 0.0089977; L = 500 x 0.0089977 / 1.0089977
    # = 4.45873.
    default = {"rate_per_1000_node_days": 5.0, "detection": {"kind": "exponential", "mean": 180},
               "repair": [
                   {"share": 0.5, "time": {"kind": "lognormal", "median": 3600, "p90": 14400}},
                   {"share": 0.4, "time": {"kind": "lognormal", "median": 86400, "p90": 259200}},
                   {"share": 0.1, "time": {"kind": "lognormal", "median": 864000,
                                           "p90": 1814400}}]}
    down_s = 180.0 + sum(share * median * math.exp((math.log(p90 / median) / Z90) ** 2 / 2)
                         for share, median, p90 in ((0.5, 3600, 14400), (0.4, 86400, 259200), (0.1, 864000, 1814400)))
    assert down_s == pytest.approx(155480.2, abs=0.05)
    x = 0.005 * down_s / DAY
    assert expected_nodes_down(default, 500) == pytest.approx(500 * x / (1 + x), rel=1e-9)
    assert expected_nodes_down(default, 500) == pytest.approx(4.45873, abs=5e-6)
    assert expected_nodes_down({**FAILURES, "rate_per_1000_node_days": 0.0}, 4) == 0.0
    assert expected_nodes_down(FAILURES, 0) is None


def test_analytic_ettr_by_hand():
    per_node = 0.12 / DAY  # (100 + 20) per 1,000 node-days, per second

    def by_hand(nodes: float) -> float:
        mttf = 1 / (nodes * per_node)
        tau = math.sqrt(2 * 60.0 * mttf)  # Young, inside [5 min, 3 h] here
        return 1 - 60.0 / tau - (tau / 2 + 300.0 + 600.0) / mttf

    got = analytic_ettr([1, 8, 16], FAILURES, 8)
    assert got == pytest.approx([by_hand(1), by_hand(1), by_hand(2)])
    assert got[2] == pytest.approx(0.97924, abs=1e-5)
    # a fixed interval of 1 h; 4 GPUs still span one whole node
    fixed = {**FAILURES, "checkpoint": {"interval": 3600.0, "cost": 60.0, "restart": 300.0}}
    assert analytic_ettr([4], fixed, 8)[0] == pytest.approx(
        1 - 60 / 3600 - (1800 + 300 + 600) * per_node)
    # past its range the first-order formula goes negative: clipped at 0
    assert analytic_ettr([8 * 100_000], FAILURES, 8)[0] == 0.0
    # no failures at all: only the checkpoint cost at Young's cap of 3 h remains
    none = {**FAILURES, "rate_per_1000_node_days": 0.0, "job_rate_per_1000_node_days": 0.0}
    assert analytic_ettr([64], none, 8)[0] == pytest.approx(1 - 60 / (3 * 3600))
    assert analytic_ettr([64], {**FAILURES, "checkpoint": {}}, 8) is None


def test_gpu_hours_breakdown_by_hand(tmp_path):
    run = load_run(write_run(tmp_path))
    parts = analysis.gpu_hours_breakdown(run)
    # fleet 32 GPUs × 240 h = 7,680; ∫up = 32·24 + 24·48 + 32·72 + 32·96 = 7,296;
    # ∫busy = 16·48 + 24·72 + 8·96 = 3,264
    assert parts == pytest.approx({"useful": 3000.0, "lost": 150.0, "overhead": 114.0,
                                   "idle": 7296.0 - 3264.0, "down": 7680.0 - 7296.0,
                                   "total": 7680.0})


def test_gpu_hours_fall_back_to_the_jobs_table(tmp_path):
    summary = {k: v for k, v in SUMMARY.items() if not k.endswith("_gpu_hours")}
    run = load_run(write_run(tmp_path, summary=summary))
    parts = analysis.gpu_hours_breakdown(run)
    useful = (900 + 2000 + 36000 * 16 + 5000 * 8 + 100000 * 32) / 3600
    assert parts["useful"] == pytest.approx(useful)
    assert parts["lost"] == pytest.approx((60 + 16 * 1500) / 3600)
    assert parts["overhead"] == pytest.approx((40 + 16 * 2500 + 32 * 1000) / 3600)


def test_ettr_by_size_groups_by_hand(tmp_path):
    run = load_run(write_run(tmp_path))
    finished, running = analysis.ettr_groups(run)
    # after warm-up: 1 GPU j0 + j1 (2,900 work over 3,000 wall), 16 GPUs j2 (36,000 / 40,000);
    # j3 (8 GPUs) finished during warm-up; j4 (32 GPUs) is running: 100,000 s over 2 days
    assert [(g["label"], g["n"]) for g in finished] == [("1", 2), ("16", 1)]
    assert [g["ettr"] for g in finished] == pytest.approx([2900 / 3000, 0.9])
    assert [(g["label"], g["n"]) for g in running] == [("32", 1)]


def test_many_sizes_are_bucketed_and_placed_at_their_gpu_weighted_size():
    sizes = np.arange(1, 21)
    groups = analysis.ettr_by_size(sizes, np.full(20, 90.0), np.full(20, 100.0))
    assert [g["label"] for g in groups] == ["1", "2–8", "9–64"]
    assert all(g["ettr"] == pytest.approx(0.9) for g in groups)
    nine_up = groups[2]
    assert (nine_up["lo"], nine_up["hi"], nine_up["n"]) == (9, 20, 12)
    g = np.arange(9, 21)
    assert nine_up["x"] == pytest.approx(np.sum(g * g) / np.sum(g))
    assert analysis.ettr_by_size([], [], []) == []


def test_figures_draw_nothing_when_there_is_nothing_to_draw():
    assert figures.failure_timeline_png([], [], [], [], [], DAY, 0.0) is None
    assert figures.gpu_hours_png({}, DAY) is None
    assert figures.ettr_by_size_png([], [], []) is None


def test_timeline_stays_a_slide_sized_png_with_thousands_of_events():
    rng = np.random.default_rng(1)
    n = 3000
    t = np.sort(rng.uniform(0, 14 * DAY, n))
    causes = rng.choice(["gpu", "network", "host", figures.JOB_LEVEL], n)
    hit = rng.random(n) < 0.5
    png = figures.failure_timeline_png(t, causes, hit, [DAY], ["gpu"], 14 * DAY, DAY)
    assert png.startswith(PNG_MAGIC) and png_size(png) == (1080, 540)
    # the same inputs give the same bytes: the jitter is seeded
    assert png == figures.failure_timeline_png(t, causes, hit, [DAY], ["gpu"], 14 * DAY, DAY)
