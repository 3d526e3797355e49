"""Turn a run directory into ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

A report answers, in the order a capacity planner reads: is the cluster big enough and how long
do jobs wait? It is built from what the simulator wrote (``config.json``, ``summary.json``,
``jobs.parquet``, ``timeseries.parquet``) and never imports the simulator.

The report is a list of sections. Each section builder takes the loaded :class:`Run` and returns
a :class:`Section` ``(markdown, [figure paths])``, or None when the data it needs is not in the
run. To add one (supply, services, ...), write such a function and put it in ``SECTIONS``
before ``glossary``; a long one can live in its own module, reached through a thin wrapper
here that imports it when called (as ``failures`` does with ``clustersim.report.sections.failures``).
Figures are written with :func:`save_figure`; markdown uses only the subset
:func:`markdown_to_html` understands (headings, paragraphs, pipe tables, ``- `` lists, ``> ``
quotes, images on a line of their own, ``**bold**``, ``*italic*``, `` `code` ``, backslash
escapes, and ``<!-- class: NAME -->`` to style the next block in HTML).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from clustersim.errors import ClusterSimError
from clustersim.units import format_duration, parse_duration

P90_WAIT_TARGET_S = 2 * 3600.0
"""The common planning target the verdict checks: p90 wait ≤ 2 h."""

RUN_FILES = ("config.json", "summary.json", "jobs.parquet", "timeseries.parquet")
JOB_COLUMNS = ("job_class", "num_gpus", "submit_s", "start_s", "state")
TIMESERIES_COLUMNS = ("t_s", "busy_gpus", "up_gpus", "queued_jobs", "queued_gpus")
# Top-level summary keys rendered elsewhere; other numeric scalars get a table of their own.
_SUMMARY_KEYS_SHOWN = {
    "scenario", "seed", "horizon_s", "warmup_s", "jobs", "gpu_utilisation", "wait_s", "jct_s",
    "by_class",
}


class Section(NamedTuple):
    markdown: str
    figures: list[Path]


@dataclass
class Run:
    """A loaded run directory. ``jobs`` and ``timeseries`` are pandas DataFrames."""

    dir: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    jobs: Any
    timeseries: Any

    @property
    def scenario(self) -> dict[str, Any]:
        scenario = self.config.get("scenario")
        return scenario if isinstance(scenario, dict) else {}

    @property
    def figures_dir(self) -> Path:
        return self.dir / "figures"

    @property
    def horizon(self) -> float:
        for value in (self.summary.get("horizon_s"), self.scenario.get("horizon")):
            seconds = _seconds(value)
            if seconds is not None and seconds > 0:
                return seconds
        t = self.timeseries["t_s"]
        return float(t.max()) if len(t) and t.max() > 0 else 1.0

    @property
    def warmup(self) -> float:
        for value in (self.summary.get("warmup_s"), self.scenario.get("warmup")):
            seconds = _seconds(value)
            if seconds is not None:
                return min(seconds, self.horizon)
        return 0.0

    def measured_jobs(self):
        """Jobs the wait statistics are about: submitted at or after warm-up, not rejected.

        Adds ``wait`` (``wait_s``, else start − submit; NaN if not started) and ``started``.
        """
        jobs = self.jobs
        jobs = jobs[(jobs["submit_s"] >= self.warmup) & (jobs["state"] != "rejected")].copy()
        wait = jobs["start_s"] - jobs["submit_s"]
        if "wait_s" in jobs.columns:
            wait = jobs["wait_s"].where(jobs["wait_s"].notna(), wait)
        jobs["wait"] = wait
        jobs["started"] = jobs["start_s"].notna()
        return jobs


# --------------------------------------------------------------------------- loading


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ClusterSimError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterSimError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ClusterSimError(f"{path}: expected a JSON object at the top level")
    return data


def _read_parquet(path: Path, columns: tuple[str, ...], text_columns: tuple[str, ...] = ()):
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise ClusterSimError(f"{path}: cannot read as parquet ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ClusterSimError(
            f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(columns)})"
        )
    for column in columns:
        if column in text_columns:
            frame[column] = frame[column].astype(str)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read a run directory, or raise ClusterSimError naming the path and what is wrong."""
    root = Path(run_dir)
    expected = f"a run directory holds {', '.join(RUN_FILES)}"
    if not root.exists():
        raise ClusterSimError(f"{root}: no such directory ({expected})")
    if not root.is_dir():
        raise ClusterSimError(f"{root}: not a directory ({expected})")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if len(missing) == len(RUN_FILES):
        raise ClusterSimError(f"{root}: not a run directory ({expected}; found none of them)")
    if missing:
        raise ClusterSimError(f"{root / missing[0]}: missing ({expected})")
    jobs = _read_parquet(root / "jobs.parquet", JOB_COLUMNS, text_columns=("job_class", "state"))
    if "wait_s" in jobs.columns:
        import pandas as pd

        jobs["wait_s"] = pd.to_numeric(jobs["wait_s"], errors="coerce").astype(float)
    timeseries = _read_parquet(root / "timeseries.parquet", TIMESERIES_COLUMNS)
    timeseries = timeseries.sort_values("t_s", kind="stable").reset_index(drop=True)
    return Run(
        dir=root,
        config=_read_json(root / "config.json"),
        summary=_read_json(root / "summary.json"),
        jobs=jobs,
        timeseries=timeseries,
    )


# --------------------------------------------------------------------------- formatting


def _number(value: Any) -> float | None:
    """A finite float, or None for null, NaN, text and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value) if value is not None else None
    except ValueError:
        return None


def _dur(value: Any) -> str:
    seconds = _number(value)
    return "n/a" if seconds is None else format_duration(seconds)


def _pct(fraction: Any) -> str:
    value = _number(fraction)
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _count(value: Any) -> str:
    value = _number(value)
    return "n/a" if value is None else f"{value:,.0f}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.3g} day" + ("" if days == 1 else "s")


def _scalar(key: str, value: float) -> str:
    """Render an extra summary number by the shape of its name."""
    if key.endswith("_s"):
        return format_duration(value)
    if any(word in key for word in ("utilisation", "utilization", "goodput", "ettr", "fraction",
                                    "ratio", "share")) and 0 <= value <= 1:
        return f"{100 * value:.1f} %"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def md_escape(text: Any) -> str:
    """Escape user text (class names, scenario names) for markdown and table cells."""
    return re.sub(r"([\\`*_|\[\]<>#])", r"\\\1", str(text))


def _stats(block: Any, key: str) -> Any:
    return block.get(key) if isinstance(block, dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --------------------------------------------------------------------------- writing


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``, so
    readers never see half a file. Errors become ClusterSimError naming the path."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ClusterSimError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ClusterSimError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_figure(run: Run, name: str, png: bytes | None) -> Path | None:
    """Write ``figures/NAME.png`` (or remove a stale one when ``png`` is None)."""
    path = run.figures_dir / f"{name}.png"
    if png is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    _write_atomic(path, png)
    return path


def _image(run: Run, path: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(run.dir).as_posix()})"


# --------------------------------------------------------------------------- sections


def title(run: Run) -> Section:
    scenario, summary = run.scenario, run.summary
    name = scenario.get("name") or summary.get("scenario") or run.dir.name
    cluster = _dict(scenario.get("cluster"))
    nodes, per_node = _number(cluster.get("nodes")), _number(cluster.get("gpus_per_node"))
    if nodes is not None and per_node is not None:
        size = f"{nodes:,.0f} nodes × {per_node:,.0f} GPUs/node = **{nodes * per_node:,.0f} GPUs**"
    else:
        size = "cluster size n/a"
    scheduler = _dict(scenario.get("scheduler"))
    policy = _dict(scheduler.get("policy"))
    params = [f"{k}={v}" for k, v in policy.items() if k != "kind" and isinstance(v, str | int | float)]
    policy_text = md_escape(policy.get("kind", "n/a")) + (
        f" ({md_escape(', '.join(params))})" if params else ""
    )
    placement = md_escape(_dict(scheduler.get("placement")).get("kind", "n/a"))
    seed = run.config.get("seed", summary.get("seed"))
    warmup = f", first {_days(run.warmup)} warm-up" if run.warmup > 0 else ""
    lines = [
        f"# Cluster report: {md_escape(name)}",
        "",
        f"{size} · {_days(run.horizon)} simulated{warmup} · "
        f"scheduler **{policy_text}**, placement **{placement}** · seed {md_escape(seed)}",
    ]
    return Section("\n".join(lines), [])


def _p90_lower_bound(run: Run) -> tuple[int, float | None]:
    """Jobs still queued at the end (after warm-up), and the p90 wait counting their wait so
    far (horizon − submit): a lower bound on the true p90, since they wait at least that long."""
    import numpy as np

    jobs = run.measured_jobs()
    queued = jobs[~jobs["started"]]
    waits = np.concatenate([
        jobs.loc[jobs["started"], "wait"].to_numpy(float),
        (run.horizon - queued["submit_s"]).to_numpy(float),
    ])
    waits = waits[np.isfinite(waits)]
    return len(queued), (float(np.percentile(waits, 90)) if len(waits) else None)


def headline(run: Run) -> Section:
    summary = run.summary
    jobs = _dict(summary.get("jobs"))
    p90 = _number(_stats(summary.get("wait_s"), "p90"))
    target = P90_WAIT_TARGET_S
    rejected = _number(jobs.get("rejected"))
    answer = (
        f"GPU utilisation was **{_pct(summary.get('gpu_utilisation'))}** after warm-up and the "
        f"p90 wait was **{_dur(p90)}**. **{_count(jobs.get('finished'))}** of "
        f"**{_count(jobs.get('submitted'))}** jobs finished, **{_count(jobs.get('queued'))}** "
        f"still queued at the end" + (f", {_count(rejected)} rejected." if rejected else ".")
    )
    n_queued, bound = _p90_lower_bound(run)
    if p90 is None:
        css = "unknown"
        verdict = (f"**Verdict: cannot tell.** No job submitted after warm-up started, so there "
                   f"is no p90 wait to compare with the target (p90 wait ≤ {_hours(target)}).")
    elif p90 > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait {_dur(p90)} is "
                   f"{_dur(p90 - target)} over the target (p90 wait ≤ {_hours(target)}).")
    elif bound is not None and bound > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait of started jobs is {_dur(p90)}, but "
                   f"{n_queued:,} jobs were still queued at the end; counting the time they had "
                   f"waited so far, p90 wait is at least {_dur(bound)}, {_dur(bound - target)} "
                   f"over the target (p90 wait ≤ {_hours(target)}).")
    else:
        css = "met"
        verdict = (f"**Verdict: target met.** p90 wait {_dur(p90)} is {_dur(target - p90)} under "
                   f"the target (p90 wait ≤ {_hours(target)}).")
    if rejected and css == "met":
        css = "not-met"
        verdict = (f"**Verdict: target not met.** {_count(rejected)} jobs can never run on this "
                   "cluster (rejected: larger than the fleet, or not a whole-node multiple), and "
                   f"the p90 wait of {_dur(p90)} leaves them out.")
    parts = ["## Headline", "", answer, "", f"<!-- class: {css} -->", f"> {verdict}"]
    missed = _classes_over_target(summary, target)
    if missed:
        listed = ", ".join(f"{md_escape(name)} (p90 {_dur(p)})" for name, p in missed)
        lead = "Overall the target holds, but" if css == "met" else "By class,"
        parts += ["", f"**{lead} {len(missed)} job class{'es' if len(missed) > 1 else ''} "
                      f"wait{'' if len(missed) > 1 else 's'} longer than {_hours(target)} at p90:** {listed}. "
                      "The overall p90 is dominated by the most numerous jobs; check the classes "
                      "that matter to you."]
    if css == "met" and n_queued and bound is not None and bound > p90 * 1.1:
        parts += ["", f"*Caution: {n_queued:,} jobs were still queued at the end and are not in "
                      f"the wait statistics; counting their wait so far, p90 is at least "
                      f"{_dur(bound)}.*"]
    return Section("\n".join(parts), [])


def _classes_over_target(summary: dict[str, Any], target: float) -> list[tuple[str, float]]:
    """Job classes whose own p90 wait exceeds the target, worst first."""
    out = []
    for name, block in _dict(summary.get("by_class")).items():
        p90 = _number(_stats(_dict(block).get("wait_s"), "p90"))
        if p90 is not None and p90 > target:
            out.append((str(name), p90))
    return sorted(out, key=lambda item: -item[1])


_STAT_COLUMNS = [("wait_s", k, f"Wait {k}") for k in ("mean", "p50", "p90", "p99")] + [
    ("jct_s", k, f"JCT {k}") for k in ("mean", "p50", "p90")
]


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """Pipe table; ``align`` has one letter per column, l or r."""
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def summary_tables(run: Run) -> Section:
    summary = run.summary
    jobs = _dict(summary.get("jobs"))

    def row(label: str, block: dict[str, Any], count: Any) -> list[str]:
        return [label, _count(count)] + [
            _dur(_stats(block.get(group), key)) for group, key, _ in _STAT_COLUMNS
        ]

    classes = [_dict(b).get("jobs") for b in _dict(summary.get("by_class")).values()]
    measured = sum(int(c) for c in classes if isinstance(c, int | float)) if classes else jobs.get("submitted")
    rows = [row("**All jobs**", summary, measured)]
    for name, block in sorted(_dict(summary.get("by_class")).items()):
        block = _dict(block)
        rows.append(row(md_escape(name), block, block.get("jobs")))
    header = ["Class", "Jobs"] + [title for _, _, title in _STAT_COLUMNS]
    lines = ["## Summary", ""]
    lines += _table(header, rows, "l" + "r" * (len(header) - 1))
    lines += ["", "Jobs at the end of the run: " + " · ".join(
        f"{_count(jobs.get(k))} {k}" for k in ("submitted", "finished", "running", "queued",
                                              "rejected")
    ) + ". The Jobs column and the wait and JCT statistics cover jobs submitted after warm-up "
        "(not rejected)."]
    shown = set(_SUMMARY_KEYS_SHOWN)
    if isinstance(run.scenario.get("failures"), dict):  # the failures section shows these
        from clustersim.report.sections.failures import SUMMARY_KEYS

        shown |= SUMMARY_KEYS
    if isinstance(run.scenario.get("supply"), dict):  # the supply section shows these
        from clustersim.report.sections.supply import SUMMARY_KEYS as SUPPLY_KEYS

        shown |= SUPPLY_KEYS
    if run.scenario.get("services"):  # the services section shows these
        from clustersim.report.sections.services import SUMMARY_KEYS as SERVICE_KEYS

        shown |= SERVICE_KEYS
    extra = [
        (key, _number(value)) for key, value in summary.items()
        if key not in shown and _number(value) is not None
    ]
    if extra:
        lines += ["", "### Other metrics", ""]
        lines += _table(["Metric", "Value"],
                        [["`" + re.sub(r"[`|]", "", k) + "`", _scalar(k, v)] for k, v in extra], "lr")
    return Section("\n".join(lines), [])


def utilisation_figure(run: Run) -> Section:
    from clustersim.report import figures

    ts = run.timeseries
    png, mean = figures.utilisation_png(ts["t_s"].to_numpy(), ts["busy_gpus"].to_numpy(),
                                        ts["up_gpus"].to_numpy(), run.horizon, run.warmup)
    path = save_figure(run, "utilisation", png)
    text = (f"Busy GPUs as a share of the GPUs that were up. The dashed line is the time-weighted "
            f"mean after warm-up ({_pct(mean)}); the grey band is the warm-up, left out of every "
            f"number in this report. A line pinned near 100 % with a growing queue means the "
            f"cluster is too small; a low line with a queue points at fragmentation or policy.")
    return Section(f"## Utilisation\n\n{text}\n\n{_image(run, path, 'GPU utilisation over time')}",
                   [path])


def queue_figure(run: Run) -> Section:
    from clustersim.report import figures

    ts = run.timeseries
    png = figures.queue_png(ts["t_s"].to_numpy(), ts["queued_jobs"].to_numpy(),
                            ts["queued_gpus"].to_numpy(), run.horizon, run.warmup)
    path = save_figure(run, "queue", png)
    text = ("Jobs waiting to start and the GPUs they ask for. A queue that keeps growing to the "
            "end of the run means demand exceeds capacity and waits have no ceiling; one that "
            "drains between bursts means waits come from peaks.")
    return Section(f"## Queue\n\n{text}\n\n{_image(run, path, 'Queue over time')}", [path])


def wait_cdf_figure(run: Run) -> Section:
    import numpy as np

    from clustersim.report import figures

    measured = run.measured_jobs()
    jobs = measured[measured["started"]]
    by_class = {str(k): g["wait"].to_numpy(float) for k, g in jobs.groupby("job_class", observed=True)}
    recorded = None
    if "recorded_wait_s" in measured.columns:
        values = measured["recorded_wait_s"].to_numpy(float)
        recorded = values[~np.isnan(values)] if (~np.isnan(values)).any() else None
    path = save_figure(run, "wait_cdf", figures.wait_cdf_png(by_class, P90_WAIT_TARGET_S, recorded))
    if path is None:
        return Section("## Wait-time distribution\n\nNo job submitted after warm-up started, so "
                       "there is no wait-time distribution to plot.", [])
    text = ("Share of started jobs that waited at most a given time, per class and overall. "
            "Where a line crosses the dotted 90 % line is that class's p90 wait: left of the red "
            f"line meets the {_hours(P90_WAIT_TARGET_S)} target. Jobs still queued at the end are "
            "not in these lines.")
    if recorded is not None:
        text += (" The dashed grey line is the wait the trace itself recorded for the same jobs "
                 "(on the real cluster, under its real scheduler): where the simulated line sits "
                 "left of it, the simulated cluster or policy serves these jobs faster.")
    return Section(f"## Wait-time distribution\n\n{text}\n\n"
                   f"{_image(run, path, 'Wait-time distribution by job class')}", [path])


def wait_by_size_figure(run: Run) -> Section:
    from clustersim.report import figures

    jobs = run.measured_jobs()
    png = figures.wait_by_size_png(jobs["num_gpus"].to_numpy(float), jobs["wait"].to_numpy(float),
                                   jobs["started"].to_numpy(bool), P90_WAIT_TARGET_S)
    path = save_figure(run, "wait_by_size", png)
    if path is None:
        return Section("## Wait by job size\n\nNo job was submitted after warm-up.", [])
    text = ("Median and p90 wait of started jobs by the number of GPUs they ask for; n is the "
            "number of jobs that started, \"queued\" those still waiting at the end. Large jobs "
            "waiting far longer than small ones point at fragmentation or a policy that starves "
            "them, not at total capacity.")
    return Section(f"## Wait by job size\n\n{text}\n\n{_image(run, path, 'Wait by job size')}",
                   [path])


def glossary(run: Run) -> Section:
    version = md_escape(run.config.get("clustersim_version", "n/a"))
    terms = [
        "**Utilisation**: busy GPU-seconds over up GPU-seconds in [warm-up, horizon].",
        "**Wait**: start − submit, over jobs that started; jobs submitted before the end of "
        "warm-up are left out. Jobs still queued at the end are not in wait statistics.",
        "**JCT** (job completion time): end − submit, over finished jobs.",
        "**p50 / p90 / p99**: the value that 50 / 90 / 99 % of jobs are at or under.",
        "**Warm-up**: the start of the run, while the cluster fills from empty; it is simulated "
        "but not measured.",
        f"**Target**: p90 wait ≤ {_hours(P90_WAIT_TARGET_S)}, a common planning goal.",
    ]
    lines = ["## How to read this", ""] + [f"- {t}" for t in terms]
    lines += ["", f"*Run produced by clustersim {version}; inputs in config.json.*"]
    return Section("\n".join(lines), [])


def failures(run: Run) -> Section | None:
    """Failures and goodput (only when the scenario has ``failures``): built by
    ``clustersim.report.sections.failures``, which imports this module, so it is imported here, when
    the report is built, not at the top (no import cycle, and no cost without failures)."""
    if not isinstance(run.scenario.get("failures"), dict):
        return None
    from clustersim.report.sections.failures import failures_section

    return failures_section(run)


def supply(run: Run) -> Section | None:
    """Capacity, supply and cost (only when the scenario has ``supply``): built by
    ``clustersim.report.sections.supply``, imported here when called, as ``failures`` is."""
    if not isinstance(run.scenario.get("supply"), dict):
        return None
    from clustersim.report.sections.supply import supply_section

    return supply_section(run)


def services(run: Run) -> Section | None:
    """Inference services (only when the scenario has ``services``): built by
    ``clustersim.report.sections.services``, imported here when called, as ``failures`` is."""
    if not run.scenario.get("services"):
        return None
    from clustersim.report.sections.services import services_section

    return services_section(run)


SectionBuilder = Callable[[Run], Section | None]
SECTIONS: list[SectionBuilder] = [
    title,
    headline,
    summary_tables,
    utilisation_figure,
    queue_figure,
    wait_cdf_figure,
    wait_by_size_figure,
    failures,
    supply,
    services,
    glossary,  # keep last; new sections go before it
]


# --------------------------------------------------------------------------- HTML


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.8em;margin-bottom:.3em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:1em 0;font-size:.95em}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e3e3;text-align:left}
th{background:#f4f6f8}
.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;height:auto;display:block;margin:1em 0}
blockquote{margin:1em 0;padding:.7em 1em;border-left:6px solid #888;background:#f5f5f5;
font-size:1.1em}
blockquote.met{border-color:#2ca02c;background:#edf7ed}
blockquote.not-met{border-color:#d62728;background:#fdeded}
code{background:#f2f2f2;padding:0 .25em;border-radius:3px}
""".strip()

_LITERAL = re.compile(r"`([^`]+)`|\\([\\`*_|\[\]<>#()!-])")


def _inline(text: str) -> str:
    """Markdown inline subset to HTML: escapes, `code`, **bold**, *italic*."""
    stash: list[str] = []

    def keep(fragment: str) -> str:
        stash.append(fragment)
        return f"\x00{len(stash) - 1}\x00"

    # One left-to-right pass, as in CommonMark: code spans are literal, escapes only outside.
    text = _LITERAL.sub(
        lambda m: keep(f"<code>{html.escape(m.group(1))}</code>" if m.group(1) is not None
                       else html.escape(m.group(2))),
        text,
    )
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: stash[int(m.group(1))], text)


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)]


def _html_table(lines: list[str]) -> str:
    header, spec, body = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    right = [s.endswith(":") and not s.startswith(":") for s in spec]

    def cells(values: list[str], tag: str) -> str:
        return "".join(
            f'<{tag}{" class=r" if i < len(right) and right[i] else ""}>{_inline(v)}</{tag}>'
            for i, v in enumerate(values)
        )

    rows = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in body)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{rows}</tbody></table>"


def _html_image(alt: str, src: str, base: Path) -> str:
    path = base / src
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise ClusterSimError(f"{path}: cannot embed figure ({exc.strerror or exc})") from None
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def markdown_to_html(markdown: str, base: Path, title_text: str) -> str:
    """Render the report's markdown subset to one HTML page; images under ``base`` are
    embedded as base64 data URIs, so the page needs nothing beside it."""
    out: list[str] = []
    block: list[str] = []
    kind = ""
    css: str | None = None

    def flush() -> None:
        nonlocal block, kind, css
        attr = f' class="{html.escape(css)}"' if css else ""
        if kind == "p":
            out.append(f"<p{attr}>{_inline(' '.join(block))}</p>")
        elif kind == "quote":
            out.append(f"<blockquote{attr}>{_inline(' '.join(block))}</blockquote>")
        elif kind == "list":
            out.append(f"<ul{attr}>" + "".join(f"<li>{_inline(x)}</li>" for x in block) + "</ul>")
        elif kind == "table":
            out.append(_html_table(block))
        if kind:
            css = None
        block, kind = [], ""

    for line in markdown.splitlines():
        stripped = line.strip()
        marker = re.fullmatch(r"<!--\s*class:\s*([\w-]+)\s*-->", stripped)
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", stripped)
        heading = re.fullmatch(r"(#{1,6})\s+(.*)", stripped)
        new_kind = ("table" if stripped.startswith("|") else "list" if stripped.startswith("- ")
                    else "quote" if stripped.startswith(">") else "p")
        if not stripped or marker or image or heading or new_kind != kind:
            flush()
        if marker:
            css = marker.group(1)
        elif image:
            out.append(_html_image(image.group(1), image.group(2), base))
        elif heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped:
            kind = new_kind
            block.append({"list": stripped[2:], "quote": stripped[1:].strip()}.get(kind, stripped))
    flush()
    body = "\n".join(out)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title_text)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


# --------------------------------------------------------------------------- entry point


def build(run_dir: str | os.PathLike) -> Path:
    """Write ``figures/*.png``, ``report.md`` and ``report.html`` into a run directory and
    return the path of ``report.md``. Raises ClusterSimError when the directory is not a
    readable run directory."""
    run = load_run(run_dir)
    try:
        run.figures_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise ClusterSimError(f"{run.figures_dir}: cannot create ({exc.strerror or exc})") from None
    sections = [s for s in (builder(run) for builder in SECTIONS) if s is not None]
    markdown = "\n\n".join(s.markdown.strip() for s in sections) + "\n"
    report_md = run.dir / "report.md"
    _write_atomic(report_md, markdown.encode("utf-8"))
    name = run.scenario.get("name") or run.summary.get("scenario") or run.dir.name
    page = markdown_to_html(markdown, run.dir, f"Cluster report: {name}")
    _write_atomic(run.dir / "report.html", page.encode("utf-8"))
    return report_md
