"""The summary tables: wait and JCT statistics overall and per class, and other metrics."""

from __future__ import annotations

import re
from typing import Any

from clustersim.report import format as fmt
from clustersim.report.model import Run, Section
from clustersim.units import format_duration

SUMMARY_KEYS = frozenset({
    "scenario", "seed", "horizon_s", "warmup_s", "jobs", "gpu_utilisation", "wait_s", "jct_s",
    "by_class",
})
"""Summary keys the core sections show (title, headline, these tables)."""


_STAT_COLUMNS = [("wait_s", k, f"Wait {k}") for k in ("mean", "p50", "p90", "p99")] + [
    ("jct_s", k, f"JCT {k}") for k in ("mean", "p50", "p90")
]


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


def summary_section(run: Run) -> Section:
    """Wait and JCT statistics overall and per class, job counts, and a table of the other
    numeric summary values that no section of this report shows (``run.shown_elsewhere``)."""
    summary = run.summary
    jobs = fmt.as_dict(summary.get("jobs"))

    def row(label: str, block: dict[str, Any], count: Any) -> list[str]:
        return [label, fmt.count(count)] + [
            fmt.duration(fmt.stat(block.get(group), key)) for group, key, _ in _STAT_COLUMNS
        ]

    classes = [fmt.as_dict(b).get("jobs") for b in fmt.as_dict(summary.get("by_class")).values()]
    measured = (sum(int(c) for c in classes if isinstance(c, int | float)) if classes
                else jobs.get("submitted"))
    rows = [row("**All jobs**", summary, measured)]
    for name, block in sorted(fmt.as_dict(summary.get("by_class")).items()):
        block = fmt.as_dict(block)
        rows.append(row(fmt.md_escape(name), block, block.get("jobs")))
    header = ["Class", "Jobs"] + [title for _, _, title in _STAT_COLUMNS]
    lines = ["## Summary", ""]
    lines += fmt.table(header, rows, "l" + "r" * (len(header) - 1))
    lines += ["", "Jobs at the end of the run: " + " · ".join(
        f"{fmt.count(jobs.get(k))} {k}"
        for k in ("submitted", "finished", "running", "queued", "rejected")
    ) + ". The Jobs column and the wait and JCT statistics cover jobs submitted after warm-up "
        "(not rejected)."]
    shown = SUMMARY_KEYS | run.shown_elsewhere
    extra = [
        (key, fmt.number(value)) for key, value in summary.items()
        if key not in shown and fmt.number(value) is not None
    ]
    if extra:
        lines += ["", "### Other metrics", ""]
        lines += fmt.table(["Metric", "Value"],
                           [["`" + re.sub(r"[`|]", "", k) + "`", _scalar(k, v)] for k, v in extra],
                           "lr")
    return Section("\n".join(lines), [])
