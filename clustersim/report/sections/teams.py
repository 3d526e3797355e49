"""The "Teams" section of the run report.

Present only when the scenario has a ``tenancy`` section (``scenario.tenancy`` in
``config.json``). It reads ``summary.json`` (``tenancy.*``: per team its quota, waits, GPU-hours
used against its quota's, borrowed GPU-hours, the preemptions it suffered and the work they
cost; see ``clustersim.results.teams``) and ``timeseries.parquet`` (``team_gpus.<team>``) for
one figure: each team's GPUs in use against its quota over time.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.figures.teams import teams_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"tenancy"})
"""Summary entries this section shows."""


def applies(run: Run) -> bool:
    """The run had a tenancy section."""
    return isinstance(run.scenario.get("tenancy"), dict)


def _gh(value: Any) -> str:
    v = fmt.number(value)
    return "n/a" if v is None else f"{v:,.0f}"


def _row(name: str, team: dict[str, Any]) -> list[str]:
    wait = fmt.as_dict(team.get("wait_s"))
    used, quota = fmt.number(team.get("gpu_hours")), fmt.number(team.get("quota_gpu_hours"))
    of_quota = fmt.percent(used / quota) if used is not None and quota else "n/a"
    limit = team.get("borrowing_limit_gpus")
    lost = (fmt.number(team.get("reclaimed_gpu_hours")) or 0.0) + (fmt.number(team.get("priority_lost_gpu_hours")) or 0.0)
    return [
        fmt.md_escape(name),
        f"{fmt.count(team.get('quota_gpus'))} (+{'any' if limit is None else fmt.count(limit)})",
        fmt.count(team.get("jobs")),
        f"{fmt.duration(wait.get('mean'))} / {fmt.duration(wait.get('p90'))}",
        f"{_gh(used)} ({of_quota})",
        _gh(team.get("borrowed_gpu_hours")),
        f"{fmt.count(team.get('reclaims'))} / {fmt.count(team.get('priority_preemptions'))}",
        _gh(lost),
    ]


def teams_section(run: Run) -> Section | None:
    """The per-team table and the usage-against-quota figure; None without tenancy."""
    if not applies(run):
        return None
    ten = fmt.as_dict(run.summary.get("tenancy"))
    teams = fmt.as_dict(ten.get("teams"))
    cfg = run.scenario["tenancy"]
    lines = ["## Teams", ""]
    if teams:
        lines += fmt.table(
            ["Team", "Quota GPUs (+ may borrow)", "Jobs", "Wait mean / p90", "GPU-hours used (of quota's)",
             "Borrowed GPU-h", "Reclaimed / priority-preempted", "GPU-h of work lost"],
            [_row(name, fmt.as_dict(team)) for name, team in teams.items()],
            "lrrrrrrr",
        )
        grace = fmt.duration(fmt.as_dict(cfg.get("reclaim")).get("grace", 0))
        lines += ["", f"GPU-hours are over [warm-up, horizon]; preemptions and lost work over the whole run. "
                  f"A team's jobs within its quota start ahead of the policy's order; idle quota is borrowed, and "
                  f"taken back by preempting the borrowers' newest jobs (grace period {grace}), who lose the work "
                  f"since their last checkpoint."]
    else:
        lines += [f"Priorities only (no teams): {fmt.count(ten.get('priority_preemptions'))} priority preemptions, "
                  f"{_gh(ten.get('priority_lost_gpu_hours'))} GPU-hours of work lost to them."]
    ts = run.timeseries
    paths = []
    used = {n: ts[f"team_gpus.{n}"].to_numpy(float) for n in teams if f"team_gpus.{n}" in ts.columns}
    if used:
        quotas = {n: fmt.number(fmt.as_dict(teams[n]).get("quota_gpus")) or 0.0 for n in used}
        png = teams_png(ts["t_s"].to_numpy(float), used, quotas, run.horizon, run.warmup)
        path = save_figure(run, "teams", png)
        paths.append(path)
        lines += ["", "GPUs each team's jobs hold over the run: within its quota (blue) and borrowed beyond it "
                  "(orange), against the quota (dashed). Long runs are drawn as time-weighted means over short "
                  "bins.", "", fmt.image(run.dir, path, "Team usage against quota")]
    return Section("\n".join(lines), paths)
