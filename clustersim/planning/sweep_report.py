"""The sweep comparison report: ``sweep.md``, a self-contained ``sweep.html`` and PNG figures.

One figure per chosen metric: its mean against the first varied key, one line per value of
the other varied keys, with the confidence interval as a shaded band (error bars when the
first key is not numeric), and the target as a dashed line when one names the metric. Figures
are drawn on ``matplotlib.figure.Figure`` with the run report's style (no pyplot).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clustersim.planning.targets import format_value, is_time_key
from clustersim.units import parse_duration

DEFAULT_METRICS = ("wait_s.mean", "wait_s.p90", "gpu_utilisation")
_STATS = {"mean": "mean", "p50": "median", "p90": "p90", "p99": "p99"}
_WORDS = {"wait_s": "wait", "jct_s": "job completion time", "gpu_utilisation": "GPU utilisation",
          "offered_load": "offered load", "mean_queued_jobs": "mean queued jobs",
          "horizon_s": "horizon", "warmup_s": "warm-up"}
_TIME_UNITS = ((2 * 86400.0, 86400.0, "days"), (2 * 3600.0, 3600.0, "h"), (120.0, 60.0, "min"),
               (0.0, 1.0, "s"))


def metric_label(key: str) -> str:
    """``by_class.large.wait_s.p90`` -> ``p90 wait (class large)``."""
    parts = key.split(".")
    where = ""
    if parts[0] == "by_class" and len(parts) > 2:
        where, parts = f" (class {parts[1]})", parts[2:]
    if len(parts) == 2 and parts[1] in _STATS and parts[0] in _WORDS:
        return f"{_STATS[parts[1]]} {_WORDS[parts[0]]}{where}"
    if parts[0] == "jobs" and len(parts) == 2:
        return f"jobs {parts[1]}{where}"
    return " ".join(_WORDS.get(p, p) for p in parts) + where


def value_scale(key: str, values: Sequence[float]) -> tuple[float, str]:
    """Divide by ``scale`` to plot; ``unit`` names the axis unit."""
    if is_time_key(key):
        top = max((abs(v) for v in values), default=0.0)
        for threshold, scale, unit in _TIME_UNITS:
            if top >= threshold:
                return scale, unit
    if key in ("gpu_utilisation", "offered_load"):
        return 0.01, "%"
    return 1.0, ""


def axis_numbers(axis) -> tuple[list[float] | None, float, str]:
    """Numeric x positions of an axis' values, their scale and unit; None if categorical."""
    vals = list(axis.values)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return [float(v) for v in vals], 1.0, ""
    try:
        seconds = [parse_duration(v) for v in vals]
    except ValueError:
        return None, 1.0, ""
    scale, unit = value_scale("x_s", seconds)
    return seconds, scale, unit


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A pipe table; ``align`` has one letter per column, ``l`` or ``r``."""
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def ci_text(key: str, stats) -> tuple[str, str]:
    """``(mean, [lo, hi])`` rendered for a table cell."""
    if stats is None or stats.mean is None:
        return "n/a", "n/a"
    if stats.half_width is None:
        return format_value(key, stats.mean), "n/a (n < 2)"
    return format_value(key, stats.mean), f"{format_value(key, stats.lo)} – {format_value(key, stats.hi)}"


def sweep_png(result, key: str, target=None) -> bytes | None:
    """Mean of ``key`` against the first varied key, one line per other combination, with
    the confidence band; None when the metric has no value at any point."""
    import io

    import matplotlib

    from clustersim.report.figures.style import DPI, FIGSIZE, STYLE, TARGET

    first, others = result.axes[0], result.axes[1:]
    stats = [r.metrics.get(key) for r in result.replications]
    means = [s.mean for s in stats if s is not None and s.mean is not None]
    if not means:
        return None
    spread = [s.hi for s in stats if s is not None and s.hi is not None]
    yscale, yunit = value_scale(key, means + spread + ([target.value] if target else []))
    xs, xscale, xunit = axis_numbers(first)
    categorical = xs is None
    if categorical:
        xs = list(range(len(first.raw)))
    pct = int(round(100 * result.confidence))
    with matplotlib.rc_context(STYLE):
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        ax = fig.subplots()
        groups = list(itertools.product(*(range(len(a.raw)) for a in others)))
        index = {p: i for i, p in enumerate(result.points)}
        for group in groups:
            rows = [(xs[i] / xscale, stats[index[(i, *group)]]) for i in range(len(first.raw))]
            rows = [(x, s) for x, s in rows if s is not None and s.mean is not None]
            if not rows:
                continue
            label = ", ".join(f"{a.key}={a.raw[j]}" for a, j in zip(others, group, strict=True))
            band = None
            if not label:
                label, band = "mean", f"{pct}% CI"
            x = [r[0] for r in rows]
            y = [r[1].mean / yscale for r in rows]
            lo = [(r[1].lo if r[1].lo is not None else r[1].mean) / yscale for r in rows]
            hi = [(r[1].hi if r[1].hi is not None else r[1].mean) / yscale for r in rows]
            if categorical:
                err = [[m - a for m, a in zip(y, lo, strict=True)], [b - m for m, b in zip(y, hi, strict=True)]]
                ax.errorbar(x, y, yerr=err, marker="o", capsize=5, label=label)
            else:
                (line,) = ax.plot(x, y, marker="o", label=label)
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0, label=band)
        if target is not None:
            ax.axhline(target.value / yscale, color=TARGET, ls="--", lw=1.8,
                       label=f"target {target.text}")
        if categorical:
            ax.set_xticks(xs, [str(r) for r in first.raw])
        elif all(isinstance(v, int) for v in first.values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        name = metric_label(key)
        ax.set_title(f"{name[:1].upper()}{name[1:]} vs {first.key}")
        ax.set_xlabel(first.key + (f" ({xunit})" if xunit else ""))
        ax.set_ylabel(name + (f" ({yunit})" if yunit else ""))
        ax.legend(title=f"mean ± {pct}% CI over {len(result.seeds)} seeds", loc="best")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> None:
    """Atomic write; an OSError becomes one ClusterSimError naming the file."""
    from clustersim.errors import ClusterSimError
    from clustersim.results.rundir import atomic_write

    try:
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as err:
        raise ClusterSimError(f"{path}: cannot write ({err.strerror or err})") from None


def _file_name(key: str) -> str:
    return "sweep-" + re.sub(r"[^\w.-]+", "_", key).replace(".", "_") + ".png"


def choose_metrics(result, metrics: Sequence[str], targets: Sequence[Any]) -> list[str]:
    wanted = list(dict.fromkeys([*(t.key for t in targets), *(metrics or DEFAULT_METRICS)]))
    present = set(result.metric_keys())
    return [k for k in wanted if k in present]


def write_report(result, out: str | Path, *, metrics: Sequence[str] = (),
                 targets: Sequence[Any] = (), title: str | None = None) -> dict[str, Path]:
    """Figures, ``sweep.md`` and a self-contained ``sweep.html`` in ``out``."""
    from clustersim.report.format import md_escape
    from clustersim.report.html import markdown_to_html

    out = Path(out)
    keys = choose_metrics(result, metrics, targets)
    by_key = {t.key: t for t in targets}
    name = title or (result.replications[0].summaries[0].get("scenario", "scenario")
                     if result.replications and result.replications[0].summaries else "scenario")
    runs = len(result.points) * len(result.seeds)
    pct = int(round(100 * result.confidence))
    seeds = result.seeds
    seed_text = f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ", ".join(map(str, seeds))
    varied = "; ".join(f"`{a.key}` = {', '.join(a.raw)}" for a in result.axes)
    lines = [
        f"# Sweep: {md_escape(name)}",
        "",
        f"{len(result.points)} points × {len(seeds)} seeds ({seed_text}) = {runs} runs. Varied: {varied}.",
        "",
        f"Each number is the mean over seeds with its {pct}% Student-t confidence interval. Every "
        "point uses the same seeds (common random numbers: the same arrivals and failures), which "
        "makes differences between points less noisy than the per-point intervals suggest; "
        "compare runs seed by seed in `sweep.parquet` for a paired comparison. Tables: `sweep.parquet` (one row per run), "
        "`sweep_summary.parquet` (one row per point and metric).",
    ]
    figures = []
    for key in keys:
        lines += ["", f"## {md_escape(metric_label(key)[:1].upper() + metric_label(key)[1:])} (`{key}`)", ""]
        png = sweep_png(result, key, by_key.get(key))
        if png is not None:
            path = out / "figures" / _file_name(key)
            write_bytes(path, png)
            figures.append(path)
            lines += [f"![{md_escape(metric_label(key))}](figures/{path.name})", ""]
        header = [f"`{a.key}`" for a in result.axes] + ["mean", f"{pct}% CI", "n"]
        rows = []
        for point, reps in zip(result.points, result.replications, strict=True):
            stats = reps.metrics.get(key)
            mean, ci = ci_text(key, stats)
            values = [md_escape(a.raw[i]) for a, i in zip(result.axes, point, strict=True)]
            rows.append(values + [mean, ci, str(stats.n if stats else 0)])
        lines += md_table(header, rows, "l" * len(result.axes) + "rrr")
        if key in by_key:
            lines += ["", f"Target `{by_key[key].text}`."]
    markdown = "\n".join(lines) + "\n"
    md_path, html_path = out / "sweep.md", out / "sweep.html"
    write_bytes(md_path, markdown.encode("utf-8"))
    page = markdown_to_html(markdown, out, f"Sweep: {name}")
    write_bytes(html_path, page.encode("utf-8"))
    return {"markdown": md_path, "html": html_path, "figures": figures}


__all__ = ["DEFAULT_METRICS", "axis_numbers", "metric_label", "md_table", "sweep_png", "write_report"]
