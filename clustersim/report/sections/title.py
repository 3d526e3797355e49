"""The title: scenario name, cluster size, horizon, scheduler and seed."""

from __future__ import annotations

from clustersim.report import format as fmt
from clustersim.report.model import Run, Section

# policy options at the values that leave the published policy as it is: not worth a mention
_OFF = {("estimate", "exact"), ("kill_at_limit", False)}


def title_section(run: Run) -> Section:
    """The report's title and one line on what was simulated."""
    scenario, summary = run.scenario, run.summary
    name = scenario.get("name") or summary.get("scenario") or run.dir.name
    cluster = fmt.as_dict(scenario.get("cluster"))
    nodes, per_node = fmt.number(cluster.get("nodes")), fmt.number(cluster.get("gpus_per_node"))
    if nodes is not None and per_node is not None:
        size = f"{nodes:,.0f} nodes × {per_node:,.0f} GPUs/node = **{nodes * per_node:,.0f} GPUs**"
    else:
        size = "cluster size n/a"
    scheduler = fmt.as_dict(scenario.get("scheduler"))
    policy = fmt.as_dict(scheduler.get("policy"))
    params = [f"{k}={v}" for k, v in policy.items()
              if k != "kind" and isinstance(v, str | int | float) and (k, v) not in _OFF]
    policy_text = fmt.md_escape(policy.get("kind", "n/a")) + (
        f" ({fmt.md_escape(', '.join(params))})" if params else ""
    )
    placement = fmt.md_escape(fmt.as_dict(scheduler.get("placement")).get("kind", "n/a"))
    seed = run.config.get("seed", summary.get("seed"))
    warmup = f", first {fmt.days(run.warmup)} warm-up" if run.warmup > 0 else ""
    lines = [
        f"# Cluster report: {fmt.md_escape(name)}",
        "",
        f"{size} · {fmt.days(run.horizon)} simulated{warmup} · "
        f"scheduler **{policy_text}**, placement **{placement}** · seed {fmt.md_escape(seed)}",
    ]
    return Section("\n".join(lines), [])
