"""The headline: utilisation, p90 wait and the verdict against the wait target.

The verdict fails when the p90 wait over all jobs misses the target, when jobs can never run,
or when a class holding at least ``verdict.heavy_share`` of the GPU-hours (10% by default)
misses it on its own: a count-weighted p90 is dominated by the most numerous (small) jobs, and
says little about the jobs that hold the cluster's GPU time.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section

DEFAULT_HEAVY_SHARE = 0.10


def _p90_with_queued(jobs: dict[str, Any], horizon: float) -> tuple[int, float | None]:
    """Jobs still queued at the end, and the p90 wait counting their wait so far (horizon −
    submit): a lower bound on the true p90, since they wait at least that long. ``jobs``:
    numpy columns as :meth:`Run.measured` gives them."""
    import numpy as np

    started = jobs["started"]
    waits = np.concatenate([jobs["wait"][started], horizon - jobs["submit_s"][~started]])
    waits = waits[np.isfinite(waits)]
    return int((~started).sum()), (float(np.percentile(waits, 90)) if len(waits) else None)


def _p90_lower_bound(run: Run) -> tuple[int, float | None]:
    return _p90_with_queued(run.measured(), run.horizon)


def heavy_share(run: Run) -> float:
    """The scenario's ``verdict.heavy_share`` (10% when absent or unreadable)."""
    value = fmt.number(fmt.as_dict(run.scenario.get("verdict")).get("heavy_share"))
    return value if value is not None and 0 <= value <= 1 else DEFAULT_HEAVY_SHARE


def class_waits(run: Run) -> list[dict[str, Any]]:
    """Per class: share of GPU-hours (GPUs × duration of jobs submitted after warm-up, not
    rejected), p90 wait of started jobs (summary), and its lower bound counting queued jobs."""
    import numpy as np

    jobs = run.measured(("job_class", "num_gpus", "duration_s"))
    if "duration_s" not in jobs or not len(jobs["submit_s"]):
        return []
    gpu_s = jobs["num_gpus"] * jobs["duration_s"]
    total = float(np.nansum(gpu_s))  # NaN counts as 0, as in pandas' sum
    by_class = fmt.as_dict(run.summary.get("by_class"))
    out = []
    for name in sorted(str(c) for c in dict.fromkeys(jobs["job_class"].tolist())):
        mine = jobs["job_class"] == name
        p90 = fmt.number(fmt.stat(fmt.as_dict(by_class.get(name)).get("wait_s"), "p90"))
        queued, bound = _p90_with_queued({k: v[mine] for k, v in jobs.items()}, run.horizon)
        out.append({"name": name, "share": float(np.nansum(gpu_s[mine])) / total if total > 0 else None,
                    "p90": p90, "queued": queued, "bound": bound})
    return out


def _worst(entry: dict[str, Any]) -> float | None:
    values = [v for v in (entry["p90"], entry["bound"]) if v is not None]
    return max(values) if values else None


def _listed(entries: list[dict[str, Any]], share: bool) -> str:
    parts = []
    for e in entries:
        worst = _worst(e)
        atleast = "at least " if e["p90"] is None or (worst is not None and worst > e["p90"]) else ""
        where = f"{fmt.percent(e['share'])} of GPU-hours, " if share else ""
        parts.append(f"{fmt.md_escape(e['name'])} ({where}p90 {atleast}{fmt.duration(worst)})")
    return ", ".join(parts)


def headline_section(run: Run) -> Section:
    """Utilisation, p90 wait and job counts, then the verdict against the p90 wait target."""
    summary = run.summary
    jobs = fmt.as_dict(summary.get("jobs"))
    p90 = fmt.number(fmt.stat(summary.get("wait_s"), "p90"))
    weighted = fmt.number(fmt.stat(summary.get("wait_s_gpu_weighted"), "p90"))
    target = P90_WAIT_TARGET_S
    rejected = fmt.number(jobs.get("rejected"))
    answer = (
        f"GPU utilisation was **{fmt.percent(summary.get('gpu_utilisation'))}** after warm-up "
        f"and the p90 wait was **{fmt.duration(p90)}**"
        + (f" (weighted by GPU time: **{fmt.duration(weighted)}**)" if weighted is not None else "")
        + f". **{fmt.count(jobs.get('finished'))}** "
        f"of **{fmt.count(jobs.get('submitted'))}** jobs finished, "
        f"**{fmt.count(jobs.get('queued'))}** still queued at the end"
        + (f", {fmt.count(rejected)} rejected." if rejected else ".")
    )
    n_queued, bound = _p90_lower_bound(run)
    goal = f"p90 wait ≤ {fmt.hours(target)}"
    if p90 is None:
        css = "unknown"
        verdict = (f"**Verdict: cannot tell.** No job submitted after warm-up started, so there "
                   f"is no p90 wait to compare with the target ({goal}).")
    elif p90 > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait {fmt.duration(p90)} is "
                   f"{fmt.duration(p90 - target)} over the target ({goal}).")
    elif bound is not None and bound > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait of started jobs is "
                   f"{fmt.duration(p90)}, but {n_queued:,} jobs were still queued at the end; "
                   f"counting the time they had waited so far, p90 wait is at least "
                   f"{fmt.duration(bound)}, {fmt.duration(bound - target)} over the target "
                   f"({goal}).")
    else:
        css = "met"
        verdict = (f"**Verdict: target met.** p90 wait {fmt.duration(p90)} is "
                   f"{fmt.duration(target - p90)} under the target ({goal}).")
    if rejected and css == "met":
        css = "not-met"
        verdict = (f"**Verdict: target not met.** {fmt.count(rejected)} jobs can never run on this "
                   "cluster (rejected: larger than the fleet, or not a whole-node multiple), and "
                   f"the p90 wait of {fmt.duration(p90)} leaves them out.")
    share = heavy_share(run)
    classes = class_waits(run) if len(fmt.as_dict(summary.get("by_class"))) > 1 else []
    over = [e for e in classes if (_worst(e) or 0.0) > target]
    heavy = [e for e in over if e["share"] is not None and e["share"] >= share]
    light = [e for e in over if e not in heavy]
    if heavy and css in ("met", "unknown"):
        css = "not-met"
        overall = (f"the p90 wait over all jobs is {fmt.duration(p90)}, under the target"
                   if p90 is not None else "no job started overall")
        verdict = (f"**Verdict: target not met.** {overall.capitalize()}, but "
                   f"{len(heavy)} class{'es' if len(heavy) > 1 else ''} holding at least "
                   f"{fmt.percent(share)} of the GPU-hours wait{'' if len(heavy) > 1 else 's'} "
                   f"longer at p90: {_listed(heavy, True)}. A p90 over all jobs is dominated "
                   "by the most numerous jobs, not by those that hold the GPU time.")
    elif heavy:
        verdict += (f" Classes holding at least {fmt.percent(share)} of the GPU-hours that miss "
                    f"it too: {_listed(heavy, True)}.")
    parts = ["## Headline", "", answer, "", f"<!-- class: {css} -->", f"> {verdict}"]
    if light:
        parts += ["", f"**{len(light)} smaller job class{'es' if len(light) > 1 else ''} "
                      f"(under {fmt.percent(share)} of the GPU-hours each) "
                      f"wait{'' if len(light) > 1 else 's'} longer than {fmt.hours(target)} "
                      f"at p90:** {_listed(light, True)}. The verdict does not count "
                      f"{'them' if len(light) > 1 else 'it'} (the share is `verdict.heavy_share`)."]
    if classes:
        parts += ["", "Share of GPU-hours and p90 wait by class: " + "; ".join(
            f"{fmt.md_escape(e['name'])} {fmt.percent(e['share'])}, {fmt.duration(e['p90'])}"
            for e in sorted(classes, key=lambda e: -(e["share"] or 0.0))) + "."]
    if css == "met" and n_queued and bound is not None and p90 is not None and bound > p90 * 1.1:
        parts += ["", f"*Caution: {n_queued:,} jobs were still queued at the end and are not in "
                      f"the wait statistics; counting their wait so far, p90 is at least "
                      f"{fmt.duration(bound)}.*"]
    return Section("\n".join(parts), [])
