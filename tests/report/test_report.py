"""clustersim.report on small hand-made run directories (no simulator needed)."""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clustersim.errors import ClusterSimError
from clustersim.report import format as fmt
from clustersim.report import series
from clustersim.report.build import build_report
from clustersim.report.files import load_run
from clustersim.report.html import markdown_to_html
from clustersim.report.sections.glossary import glossary_section
from clustersim.report.sections.headline import headline_section
from clustersim.report.sections.summary import summary_section
from clustersim.report.sections.title import title_section

DAY = 86400.0
HORIZON = 3 * DAY
WARMUP = 1 * DAY
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CONFIG = {
    "scenario": {
        "name": "tiny-test",
        "horizon": HORIZON,
        "warmup": WARMUP,
        "cluster": {"nodes": 16, "gpus_per_node": 8},
        "scheduler": {"policy": {"kind": "backfill"}, "placement": {"kind": "pack"}},
        "workload": {},
    },
    "seed": 7,
    "clustersim_version": "0.1.0",
}

SUMMARY = {
    "scenario": "tiny-test",
    "seed": 7,
    "horizon_s": HORIZON,
    "warmup_s": WARMUP,
    "jobs": {"submitted": 6, "finished": 3, "running": 1, "queued": 1, "rejected": 1},
    "gpu_utilisation": 0.4567,
    "wait_s": {"mean": 2000.0, "p50": 1800.0, "p90": 5400.0, "p99": 9000.0},
    "jct_s": {"mean": 9000.0, "p50": 8000.0, "p90": 20000.0},
    "by_class": {
        "train": {"jobs": 3, "wait_s": {"mean": 1800.0, "p50": 1800.0, "p90": 1800.0,
                                        "p99": 1800.0},
                  "jct_s": {"mean": 9000.0, "p50": 9000.0, "p90": 9000.0}},
        "eval": {"jobs": 3, "wait_s": {"mean": 1500.0, "p50": 1500.0, "p90": 2900.0,
                                       "p99": 3000.0},
                 "jct_s": {"mean": 4000.0, "p50": 4000.0, "p90": 4000.0}},
    },
}

NAN = float("nan")
# job_id, class, gpus, submit, start, end, state
JOBS = [
    ("j0", "train", 8, 0.0, 100.0, 5000.0, "finished"),  # before warm-up: not measured
    ("j1", "train", 64, 90000.0, 91800.0, 99000.0, "finished"),
    ("j2", "eval", 1, 100000.0, 100000.0, 104000.0, "finished"),  # zero wait
    ("j3", "eval", 1, 150000.0, 153000.0, NAN, "running"),
    ("j4", "train", 512, HORIZON - 60, NAN, NAN, "queued"),  # queued for one minute
    ("j5", "eval", 2, 160000.0, NAN, NAN, "rejected"),
]


def jobs_frame(rows=JOBS) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["job_id", "job_class", "num_gpus", "submit_s", "start_s", "end_s", "state"]
    ).astype({"num_gpus": "int64", "submit_s": float, "start_s": float, "end_s": float})
    frame["wait_s"] = frame["start_s"] - frame["submit_s"]
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    return frame


def timeseries_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "t_s": [0.0, 3600.0, DAY, 2 * DAY],
        "busy_gpus": [0, 8, 72, 40],
        "up_gpus": [128, 128, 128, 120],
        "running_jobs": [0, 1, 3, 2],
        "queued_jobs": [0, 2, 1, 0],
        "queued_gpus": [0, 72, 64, 0],
    })


def write_run(path: Path, *, summary=None, config=None, jobs=None, timeseries=None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(CONFIG if config is None else config))
    (path / "summary.json").write_text(json.dumps(SUMMARY if summary is None else summary))
    (jobs_frame() if jobs is None else jobs).to_parquet(path / "jobs.parquet")
    (timeseries_frame() if timeseries is None else timeseries).to_parquet(
        path / "timeseries.parquet")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One full build shared by the tests that read its output (figures take ~1 s)."""
    run = write_run(tmp_path_factory.mktemp("run"))
    assert build_report(str(run)) == run / "report.md"
    return run


def render(run: Path, *builders) -> tuple[str, str]:
    """Markdown and HTML of some sections only: no figures, so fast."""
    loaded = load_run(run)
    md = "\n\n".join(b(loaded).markdown for b in builders)
    return md, markdown_to_html(md, run, "t")


# --------------------------------------------------------------------------- the full build


def test_build_writes_report_html_and_figures(built):
    assert (built / "report.md").is_file()
    assert (built / "report.html").is_file()
    names = sorted(p.name for p in (built / "figures").glob("*.png"))
    assert names == ["queue.png", "utilisation.png", "wait_by_size.png", "wait_cdf.png"]
    assert not [p for p in built.rglob("*") if p.name.endswith(".tmp")]


def test_every_figure_is_a_nonempty_png_of_slide_size(built):
    for png in (built / "figures").glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC), png
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1080, 540), png  # 9 x 4.5 in at 120 dpi


def test_markdown_links_each_figure_relatively(built):
    md = (built / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(links) == sorted(f"figures/{p.name}" for p in (built / "figures").glob("*.png"))
    for link in links:
        assert (built / link).is_file()


def test_html_is_self_contained(built):
    page = (built / "report.html").read_text()
    assert 'src="http' not in page and "href=\"http" not in page
    assert "<link" not in page and "<script" not in page
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 4
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<table>" in page and "<h1>" in page and "<style>" in page


def test_title_names_scenario_seed_horizon_cluster_and_policy(built):
    first = (built / "report.md").read_text().split("## Headline")[0]
    assert "# Cluster report: tiny-test" in first
    assert "seed 7" in first
    assert "3 days simulated" in first and "first 1 day warm-up" in first
    assert "16 nodes × 8 GPUs/node = **128 GPUs**" in first
    assert "backfill" in first and "pack" in first


def test_headline_numbers(built):
    md = (built / "report.md").read_text()
    headline = md.split("## Headline")[1].split("## Summary")[0]
    assert "GPU utilisation was **45.7 %**" in headline
    assert "p90 wait was **1.50 h**" in headline
    assert "**3** of **6** jobs finished, **1** still queued at the end, 1 rejected." in headline
    # one job can never run on this cluster: the wait target is not met, however short the waits
    assert "**Verdict: target not met.** 1 jobs can never run on this cluster" in headline


def test_summary_table_has_overall_and_class_rows(built):
    md = (built / "report.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Class | Jobs | Wait mean | Wait p50 | Wait p90 | Wait p99")
    assert rows[1] == ("| **All jobs** | 6 | 33.3 min | 30.0 min | 1.50 h | 2.50 h | 2.50 h "
                       "| 2.22 h | 5.56 h |")
    assert rows[2].startswith("| eval | 3 |") and rows[3].startswith("| train | 3 |")


def test_glossary_is_last(built):
    md = (built / "report.md").read_text()
    assert md.index("## How to read this") > md.index("## Wait by job size")
    assert "busy GPU-seconds over up GPU-seconds" in md
    assert "start − submit" in md and "end − submit" in md


# --------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(
    ("p90", "expected"),
    [
        (7199.0, "**Verdict: target met.** p90 wait 2.00 h is 1 s under the target"),
        (7200.0, "**Verdict: target met.** p90 wait 2.00 h is 0 s under the target"),
        (7201.0, "**Verdict: target not met.** p90 wait 2.00 h is 1 s over the target"),
        (3 * 3600.0, "**Verdict: target not met.** p90 wait 3.00 h is 1.00 h over the target"),
    ],
)
def test_verdict_flips_when_p90_crosses_two_hours(tmp_path, p90, expected):
    summary = copy.deepcopy(SUMMARY)
    summary["wait_s"]["p90"] = p90
    summary["jobs"]["rejected"] = 0  # a rejected job fails the verdict on its own (next test)
    run = load_run(write_run(tmp_path, summary=summary))
    assert expected in headline_section(run).markdown


def test_verdict_counts_jobs_still_queued_at_the_end(tmp_path):
    # p90 of started jobs is 1.5 h, but half the measured jobs have been queued for a day.
    rows = JOBS + [(f"q{i}", "train", 256, DAY + 100.0 * i, NAN, NAN, "queued") for i in range(4)]
    run = load_run(write_run(tmp_path, jobs=jobs_frame(rows)))
    text = headline_section(run).markdown
    assert "**Verdict: target not met.** p90 wait of started jobs is 1.50 h" in text
    assert "5 jobs were still queued at the end" in text
    assert "<!-- class: not-met -->" in text


def test_verdict_without_any_wait_cannot_tell(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary["wait_s"]["p90"] = None
    run = load_run(write_run(tmp_path, summary=summary))
    assert "**Verdict: cannot tell.**" in headline_section(run).markdown


# --------------------------------------------------------------------------- awkward inputs


def test_null_summary_values_render_as_na(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary["gpu_utilisation"] = None
    summary["wait_s"] = {"mean": None, "p50": None, "p90": None, "p99": None}
    summary["jct_s"] = None
    summary["jobs"]["finished"] = None
    summary["by_class"]["eval"] = {"jobs": None, "wait_s": None, "jct_s": {}}
    run = write_run(tmp_path, summary=summary)
    md, page = render(run, title_section, headline_section, summary_section, glossary_section)
    assert "GPU utilisation was **n/a**" in md
    assert "p90 wait was **n/a**" in md
    assert "**n/a** of **6** jobs finished" in md
    assert "| eval | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" in md
    assert "None" not in md and "nan" not in md
    assert "<td>eval</td><td class=r>n/a</td>" in page


def test_empty_jobs_table_still_builds(tmp_path):
    empty = jobs_frame([]).astype({"job_class": str, "state": str})
    summary = copy.deepcopy(SUMMARY)
    summary["jobs"] = {"submitted": 0, "finished": 0, "running": 0, "queued": 0, "rejected": 0}
    summary["wait_s"] = {"mean": None, "p50": None, "p90": None, "p99": None}
    summary["by_class"] = {}
    run = write_run(tmp_path, summary=summary, jobs=empty)
    md = build_report(run).read_text()
    assert "No job submitted after warm-up started" in md
    assert "**Verdict: cannot tell.**" in md
    assert (run / "figures" / "utilisation.png").read_bytes().startswith(PNG_MAGIC)
    page = (run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(list((run / "figures").glob("*.png")))


def test_unknown_summary_keys_are_ignored_but_numbers_shown(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary.update({"goodput": 0.91, "mtbf_s": 7200.0, "node_failures": 12,
                    "failures": {"count": 3}, "note": "text", "flag": True})
    run = load_run(write_run(tmp_path, summary=summary))
    md = summary_section(run).markdown
    assert "| `goodput` | 91.0 % |" in md
    assert "| `mtbf_s` | 2.00 h |" in md
    assert "| `node_failures` | 12 |" in md
    assert "`failures`" not in md and "note" not in md and "flag" not in md


def test_user_text_is_escaped_in_markdown_and_html(tmp_path):
    summary = copy.deepcopy(SUMMARY)
    summary["by_class"] = {"a|b <script>": SUMMARY["by_class"]["eval"]}
    config = copy.deepcopy(CONFIG)
    config["scenario"]["name"] = "x_*y*_"
    run = write_run(tmp_path, summary=summary, config=config)
    md, page = render(run, title_section, summary_section)
    assert r"| a\|b \<script\> | 3 |" in md
    assert "<script" not in page
    assert "<td>a|b &lt;script&gt;</td>" in page
    assert "<h1>Cluster report: x_*y*_</h1>" in page


def test_timeseries_is_drawn_to_the_horizon_and_mean_is_time_weighted():
    t = np.array([0.0, 10.0, 30.0])
    busy, up = np.array([0.0, 5.0, 10.0]), np.array([10.0, 10.0, 20.0])
    # [10, 40]: busy 5*20 + 10*10 = 200 GPU-s over up 10*20 + 20*10 = 400 GPU-s
    assert series.time_weighted_ratio(t, busy, up, 10.0, 40.0) == pytest.approx(0.5)
    x, cols = series.downsample(t, {"busy": busy}, horizon=40.0)
    assert list(x) == [0.0, 10.0, 30.0, 40.0] and list(cols["busy"]) == [0.0, 5.0, 10.0, 10.0]


def test_long_timeseries_is_binned_not_plotted_point_by_point():
    n = 200_000
    t = np.linspace(0.0, 1000.0, n, endpoint=False)
    busy = np.where(np.arange(n) % 2 == 0, 0.0, 10.0)  # flickers: mean 5 everywhere
    x, cols = series.downsample(t, {"busy": busy}, horizon=1000.0)
    assert len(x) == series.BINS + 1
    assert np.allclose(cols["busy"], 5.0, atol=0.01)


def test_size_buckets_use_distinct_sizes_when_few_else_ranges():
    assert [b[0] for b in series.size_buckets([8, 1, 8, 64])] == ["1", "8", "64"]
    sizes = [1, 2, 4, 8, 16, 32, 64, 2048]
    assert [b[0] for b in series.size_buckets(sizes)] == ["1", "2–8", "9–64", ">1024"]


# --------------------------------------------------------------------------- user errors


def test_a_directory_that_is_not_a_run_directory(tmp_path):
    with pytest.raises(ClusterSimError, match=re.escape(str(tmp_path)) + ".*not a run directory"):
        build_report(tmp_path)


def test_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(ClusterSimError, match="no such directory"):
        build_report(tmp_path / "nope")


def test_a_missing_file_is_named(tmp_path):
    run = write_run(tmp_path)
    (run / "timeseries.parquet").unlink()
    with pytest.raises(ClusterSimError, match=re.escape(str(run / "timeseries.parquet"))):
        build_report(run)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("summary.json", b"{not json", "not valid JSON"),
        ("config.json", b"[1, 2]", "expected a JSON object"),
        ("jobs.parquet", b"garbage", "cannot read as parquet"),
    ],
)
def test_unreadable_files_are_named(tmp_path, name, content, message):
    run = write_run(tmp_path)
    (run / name).write_bytes(content)
    with pytest.raises(ClusterSimError, match=re.escape(str(run / name)) + ": " + message):
        build_report(run)


def test_missing_columns_are_named(tmp_path):
    run = write_run(tmp_path, timeseries=timeseries_frame().drop(columns=["queued_gpus"]))
    with pytest.raises(ClusterSimError, match=r"timeseries\.parquet: missing column\(s\) queued_gpus"):
        build_report(run)


def test_import_is_cheap_and_does_not_pull_in_the_simulator():
    code = ("import sys, clustersim.report.build; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'simpy', 'clustersim.engine.core') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_percent_and_duration_helpers_handle_nan():
    assert fmt.percent(math.nan) == "n/a"
    assert fmt.duration(None) == "n/a"
    assert fmt.duration(90.0) == "1.5 min"
