"""The "Trace input" section: what a replayed trace gave the run and what it left out.

Present only when ``summary.json`` has a ``trace`` block (a replay, or a scenario whose
workload is a trace; see ``clustersim.workload.replay.annotate``). It shows the source and
format, how many rows became jobs, the rejected rows counted by reason (the rows themselves
are in ``rejected_rows.csv`` beside the report) and the adapter's notes, such as jobs whose
recorded start came before their submit.
"""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"trace"})


def applies(run: Run) -> bool:
    return isinstance(run.summary.get("trace"), dict)


def trace_section(run: Run) -> Section | None:
    """Rows used and rejected (by reason) and the adapter's notes; None without a trace block."""
    if not applies(run):
        return None
    trace = run.summary["trace"]
    used, rejected = trace.get("rows_used"), trace.get("rows_rejected")
    source = fmt.md_escape(trace.get("source", "?"))
    lines = ["## Trace input", "",
             f"Format `{fmt.md_escape(trace.get('format', '?'))}`, read from {source}: "
             f"{fmt.count(used)} rows became jobs, {fmt.count(rejected)} rows were rejected."]
    reasons = fmt.as_dict(trace.get("rejected_by_reason"))
    if reasons:
        lines += ["", "Rejected rows were left out of the simulation; each one, with its line "
                  "and reason, is in `rejected_rows.csv` in this folder.", ""]
        rows = [[fmt.md_escape(reason), fmt.count(n)]
                for reason, n in sorted(reasons.items(), key=lambda kv: (-int(kv[1]), kv[0]))]
        lines += fmt.table(["Reason", "Rows"], rows, "lr")
    notes = [n for n in trace.get("notes", []) if isinstance(n, str) and not n.startswith("rejected: ")]
    if notes:
        lines += ["", "Adapter notes:", ""] + [f"- {fmt.md_escape(n)}" for n in notes]
    return Section("\n".join(lines), [])
