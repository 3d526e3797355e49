"""What ``clustersim fit`` writes: the scenario, empirical duration files and the fit report.

:func:`scenario_data` builds the scenario as a plain mapping (validated by the caller through
``clustersim.config``), :func:`empirical_files` the duration files it names (one value in
seconds per line under a ``duration_s`` header), :func:`scenario_yaml` its text with a header
saying where it came from, and :func:`report_markdown` the fit report: per class observed vs
fitted jobs, GPU-hours, mean/p50/p90 durations and KS distances, and the generation check.
"""

from __future__ import annotations

import math
import re

import numpy as np

from clustersim.units import format_duration
from clustersim.workload.fit import DAY, WEEK, ClassFit, TraceFit, profile
from clustersim.workload.fit_check import FitCheck


def file_stem(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "class"


def empirical_files(fit: TraceFit, stem: str) -> dict[str, np.ndarray]:
    """File name (beside the scenario) -> the durations it holds, for every empirical fit."""
    out: dict[str, np.ndarray] = {}
    for c in fit.classes:
        if c.duration.kind == "empirical":
            out[f"{stem}.{file_stem(c.name)}.csv"] = c.durations
        for g, d in (c.by_gpus or {}).items():
            if d.kind == "empirical":
                out[f"{stem}.{file_stem(c.name)}.{g}gpu.csv"] = c.durations[c.num_gpus == g]
    return out


def durations_csv(values: np.ndarray) -> str:
    return "duration_s\n" + "".join(f"{v:.10g}\n" for v in np.asarray(values, dtype=float))


def _class_data(c: ClassFit, stem: str) -> dict:
    data: dict = {"name": c.name, "arrival_rate_per_h": float(f"{c.rate_per_h:.6g}")}
    if c.hourly is not None:
        data["hourly"] = [round(x, 3) for x in c.hourly]
    if c.weekday is not None:
        data["weekday"] = [round(x, 3) for x in c.weekday]
    data["gpus"] = dict(c.gpus)
    data["duration"] = c.duration.scenario(f"{stem}.{file_stem(c.name)}.csv")
    if c.by_gpus:
        data["duration_by_gpus"] = {
            g: d.scenario(f"{stem}.{file_stem(c.name)}.{g}gpu.csv") for g, d in c.by_gpus.items()
        }
    return data


def scenario_data(fit: TraceFit, *, name: str, stem: str, nodes: int, gpus_per_node: int,
                  horizon: float | None = None, warmup: float = 0.0,
                  growth: dict | None = None, policy: str = "backfill") -> dict:
    """The fitted scenario as a plain mapping. ``horizon`` defaults to the trace's span (from
    time 0 of the simulation clock to the trace's last submission)."""
    end = horizon if horizon is not None else math.ceil((fit.offset_s + fit.span_s) / 3600.0) * 3600.0
    workload: dict = {}
    if growth:
        workload["growth"] = growth
    workload["classes"] = [_class_data(c, stem) for c in fit.classes]
    return {
        "name": name,
        "horizon": _seconds_text(end),
        "warmup": _seconds_text(warmup),
        "cluster": {"nodes": int(nodes), "gpus_per_node": int(gpus_per_node)},
        "scheduler": {"policy": policy, "placement": "pack"},
        "workload": workload,
    }


def _seconds_text(s: float) -> str | float:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def without_files(data: dict) -> dict:
    """The scenario with every empirical duration replaced by a fixed one (to validate the
    rest before the files exist)."""
    import copy

    data = copy.deepcopy(data)
    for c in data["workload"]["classes"]:
        if isinstance(c["duration"], dict) and c["duration"].get("kind") == "empirical":
            c["duration"] = 1.0
        for g, d in (c.get("duration_by_gpus") or {}).items():
            if isinstance(d, dict) and d.get("kind") == "empirical":
                c["duration_by_gpus"][g] = 1.0
    return data


def scenario_yaml(data: dict, header: list[str]) -> str:
    import yaml

    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def _d(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format_duration(x)


def _ks(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def report_markdown(fit: TraceFit, check: FitCheck, *, source: str, scenario: str, figure: str | None,
                    sizing: str, notes: list[str]) -> str:
    """The fit report (markdown)."""
    days = fit.span_s / 86400.0
    lines = [f"# Fit of {source}", "",
             f"{fit.jobs:,} jobs over {days:.1f} days ({fit.gpu_hours:,.0f} GPU-hours), "
             f"{len(fit.classes)} classes ({fit.mode}). Scenario: `{scenario}`. Cluster: {sizing}.", ""]
    lines += [f"*Clock.* {'The trace has clock times: hours and weekdays are UTC' if fit.offset_s else 'The trace has no clock time (or is native): its time 0 is read as midnight of a Monday'}."]
    lines += ["", "## Classes", ""]
    rows = []
    for c, k in zip(fit.classes, check.classes, strict=True):
        d = c.duration
        kind = d.kind + (" by GPU count" if c.by_gpus else "")
        rows.append([c.name, f"{c.n:,}", f"{k.jobs_sim:,.1f}", f"{c.rate_per_h:.4g}",
                     ", ".join(f"{g}: {p:.3f}" for g, p in c.gpus.items()),
                     f"{c.gpu_hours:,.0f}", f"{c.expected_gpu_hours(fit.span_s):,.0f}",
                     f"{k.gpu_hours_sim:,.0f}", kind, c.profile])
    lines += _table(["class", "jobs observed", "jobs simulated", "rate /h", "GPU-count probabilities",
                     "GPU-h observed", "GPU-h fitted", "GPU-h simulated", "durations", "profile"], rows)
    lines += ["", "## Durations", ""]
    rows = []
    for c, k in zip(fit.classes, check.classes, strict=True):
        d = c.duration
        rows.append([c.name, _d(d.observed["mean"]), _d(d.fitted["mean"]), _d(d.observed["p50"]),
                     _d(d.fitted["p50"]), _d(d.observed["p90"]), _d(d.fitted["p90"]),
                     _ks(d.ks_lognormal), _ks(d.ks), _ks(k.ks_sim)])
    lines += _table(["class", "mean obs", "mean fit", "p50 obs", "p50 fit", "p90 obs", "p90 fit",
                     "KS lognormal", "KS fit", "KS simulated"], rows)
    lines += ["", "KS lognormal: distance from the best lognormal to the observed durations; KS fit: "
              "of the distribution written (0 for an empirical one, which resamples the observed "
              "durations); KS simulated: between durations drawn from the scenario and the observed "
              "ones. A lognormal is kept when its KS distance is at most 0.05 and its mean within 5% "
              "of the observed mean.", ""]
    for c in fit.classes:
        why = [f"{c.name}: {c.duration.reason}"]
        if c.by_gpus:
            why.append(f"drawing GPU count and duration independently would change its GPU-hours by "
                       f"{c.joint_bias:+.1%}, so each GPU count has its own durations ("
                       + ", ".join(f"{g}: {d.kind}" for g, d in c.by_gpus.items()) + ")")
        lines += ["- " + "; ".join(why) + "."]
    lines += ["", "## Check", "",
              f"The scenario's workload (growth left out) drawn over {check.repeats} times the "
              f"trace's span (seed {check.seed}): {check.gpu_hours_sim:,.0f} GPU-hours per span "
              f"against {check.gpu_hours_trace:,.0f} in the trace ({check.gpu_hours_error:+.1%})."]
    if figure:
        lines += ["", f"![fitted vs observed]({figure})"]
    if notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def figure_data(fit: TraceFit, check: FitCheck) -> dict:
    """Plain data for the figure (``clustersim.report.figures.fit``)."""
    classes = []
    for c in fit.classes:
        xs = np.sort(c.durations)
        grid = np.geomspace(max(float(xs[xs > 0].min()) if (xs > 0).any() else 1.0, 1.0), max(float(xs.max()), 2.0), 200)
        if c.by_gpus:
            fitted = sum(p * (c.by_gpus[g].cdf(grid, c.durations[c.num_gpus == g]) if g in c.by_gpus
                              else c.duration.cdf(grid, c.durations)) for g, p in c.gpus.items())
        else:
            fitted = c.duration.cdf(grid, c.durations)
        classes.append({"name": c.name, "durations": xs, "grid": grid, "fitted_cdf": np.asarray(fitted, dtype=float),
                        "kind": c.duration.kind, "gpus": c.gpus,
                        "observed_gpus": {int(g): float(np.mean(c.num_gpus == g)) for g in c.gpus}})
    submit = np.concatenate([c.submit for c in fit.classes])
    start = float(submit.min())
    return {"classes": classes,
            "hourly_observed": profile(submit, start, fit.span_s, DAY, 24),
            "weekday_observed": profile(submit, start, fit.span_s, WEEK, 7),
            "hourly_fitted": check.hourly_sim, "weekday_fitted": check.weekday_sim}


__all__ = ["durations_csv", "empirical_files", "figure_data", "file_stem", "report_markdown",
           "scenario_data", "scenario_yaml", "without_files"]
