"""The headline: utilisation, p90 wait and the verdict against the wait target."""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.model import P90_WAIT_TARGET_S, Run, Section


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


def headline_section(run: Run) -> Section:
    """Utilisation, p90 wait and job counts, then the verdict against the p90 wait target."""
    summary = run.summary
    jobs = fmt.as_dict(summary.get("jobs"))
    p90 = fmt.number(fmt.stat(summary.get("wait_s"), "p90"))
    target = P90_WAIT_TARGET_S
    rejected = fmt.number(jobs.get("rejected"))
    answer = (
        f"GPU utilisation was **{fmt.percent(summary.get('gpu_utilisation'))}** after warm-up "
        f"and the p90 wait was **{fmt.duration(p90)}**. **{fmt.count(jobs.get('finished'))}** "
        f"of **{fmt.count(jobs.get('submitted'))}** jobs finished, "
        f"**{fmt.count(jobs.get('queued'))}** still queued at the end"
        + (f", {fmt.count(rejected)} rejected." if rejected else ".")
    )
    n_queued, bound = _p90_lower_bound(run)
    if p90 is None:
        css = "unknown"
        verdict = (f"**Verdict: cannot tell.** No job submitted after warm-up started, so there "
                   f"is no p90 wait to compare with the target (p90 wait ≤ {fmt.hours(target)}).")
    elif p90 > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait {fmt.duration(p90)} is "
                   f"{fmt.duration(p90 - target)} over the target "
                   f"(p90 wait ≤ {fmt.hours(target)}).")
    elif bound is not None and bound > target:
        css = "not-met"
        verdict = (f"**Verdict: target not met.** p90 wait of started jobs is "
                   f"{fmt.duration(p90)}, but {n_queued:,} jobs were still queued at the end; "
                   f"counting the time they had waited so far, p90 wait is at least "
                   f"{fmt.duration(bound)}, {fmt.duration(bound - target)} over the target "
                   f"(p90 wait ≤ {fmt.hours(target)}).")
    else:
        css = "met"
        verdict = (f"**Verdict: target met.** p90 wait {fmt.duration(p90)} is "
                   f"{fmt.duration(target - p90)} under the target "
                   f"(p90 wait ≤ {fmt.hours(target)}).")
    if rejected and css == "met":
        css = "not-met"
        verdict = (f"**Verdict: target not met.** {fmt.count(rejected)} jobs can never run on this "
                   "cluster (rejected: larger than the fleet, or not a whole-node multiple), and "
                   f"the p90 wait of {fmt.duration(p90)} leaves them out.")
    parts = ["## Headline", "", answer, "", f"<!-- class: {css} -->", f"> {verdict}"]
    missed = _classes_over_target(summary, target)
    if missed:
        listed = ", ".join(f"{fmt.md_escape(name)} (p90 {fmt.duration(p)})" for name, p in missed)
        lead = "Overall the target holds, but" if css == "met" else "By class,"
        parts += ["", f"**{lead} {len(missed)} job class{'es' if len(missed) > 1 else ''} "
                      f"wait{'' if len(missed) > 1 else 's'} longer than {fmt.hours(target)} "
                      f"at p90:** {listed}. "
                      "The overall p90 is dominated by the most numerous jobs; check the classes "
                      "that matter to you."]
    if css == "met" and n_queued and bound is not None and bound > p90 * 1.1:
        parts += ["", f"*Caution: {n_queued:,} jobs were still queued at the end and are not in "
                      f"the wait statistics; counting their wait so far, p90 is at least "
                      f"{fmt.duration(bound)}.*"]
    return Section("\n".join(parts), [])


def _classes_over_target(summary: dict[str, Any], target: float) -> list[tuple[str, float]]:
    """Job classes whose own p90 wait exceeds the target, worst first."""
    out = []
    for name, block in fmt.as_dict(summary.get("by_class")).items():
        p90 = fmt.number(fmt.stat(fmt.as_dict(block).get("wait_s"), "p90"))
        if p90 is not None and p90 > target:
            out.append((str(name), p90))
    return sorted(out, key=lambda item: -item[1])
