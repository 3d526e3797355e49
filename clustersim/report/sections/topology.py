"""The "Topology" section of the run report (titled "Planned maintenance" for a run with a
maintenance calendar and no topology).

Present when the scenario has a fabric topology (``cluster.topology`` in ``config.json``) or a
``maintenance`` section. It reads ``summary.json`` (``topology.*``: mean free and fragmented
GPUs, gang waits by locality level; ``maintenance.*``), ``timeseries.parquet`` (fragmentation;
down nodes by cause and draining nodes), ``jobs.parquet`` (waits of gangs by size and level;
``slow_s`` when present) and ``events.parquet`` (domain failures and maintenance waves). The
numbers are pure functions of those tables in ``clustersim.results.topology``.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.figures.topology import (
    CAUSES,
    domain_timeline_png,
    down_by_cause_png,
    fragmentation_png,
    wait_by_constraint_png,
)
from clustersim.report.files import read_optional_table, save_figure
from clustersim.report.model import Run, Section
from clustersim.results.topology import domain_timeline, straggler_loss, wait_by_constraint

SUMMARY_KEYS = frozenset({"topology", "maintenance"})
"""Summary entries this section shows."""


def _topology(run: Run) -> dict[str, Any] | None:
    cluster = run.scenario.get("cluster")
    topo = cluster.get("topology") if isinstance(cluster, dict) else None
    return topo if isinstance(topo, dict) else None


def applies(run: Run) -> bool:
    """The run's cluster had a topology or a maintenance calendar."""
    return _topology(run) is not None or isinstance(run.scenario.get("maintenance"), dict)


def _rule(cfg: dict[str, Any]) -> str:
    levels = ", ".join(f"{lv.get('name')} of {lv.get('nodes')} nodes" for lv in cfg.get("levels") or ())
    rule = fmt.as_dict(cfg.get("locality"))
    if rule.get("kind") == "span":
        how = (f"a gang spans at most {rule.get('max_domains')} {rule.get('level')} domain(s), "
               f"{fmt.number(rule.get('penalty_per_extra_domain')) or 0:g} speed cost per extra domain")
    else:
        how = "a gang sits in one domain of the smallest level that holds it"
    return f"Domains: {levels}. Locality rule: {how}."


def topology_section(run: Run) -> Section | None:
    """The waits by locality level, the fragmentation figure, then maintenance, down nodes by
    cause, the domain event timeline, gang waits by size and stragglers; None without a
    topology or a maintenance calendar."""
    if not applies(run):
        return None
    if _topology(run) is None:
        lines, paths = ["## Planned maintenance"], []
    else:
        lines, paths = _topology_part(run)
    for part in (_maintenance, _down_by_cause, _timeline, _gang_waits, _stragglers):
        more, figures = part(run)
        lines += more
        paths += figures
    return Section("\n".join(lines), paths)


def _topology_part(run: Run) -> tuple[list[str], list]:
    topo = fmt.as_dict(run.summary.get("topology"))
    lines = ["## Topology", "", _rule(run.scenario["cluster"]["topology"]), ""]
    rows = []
    by_level = fmt.as_dict(topo.get("by_level"))
    names = [str(lv.get("name")) for lv in run.scenario["cluster"]["topology"].get("levels") or ()]
    order = [n for n in [*names, "any"] if n in by_level] + sorted(set(by_level) - {*names, "any"})
    for level in order:
        e = fmt.as_dict(by_level[level])
        wait = fmt.as_dict(e.get("wait_s"))
        spanned = fmt.number(e.get("mean_domains_spanned"))
        rows.append([str(level), fmt.count(e.get("jobs")), fmt.count(e.get("started")),
                     fmt.duration(wait.get("mean")), fmt.duration(wait.get("p90")),
                     "n/a" if spanned is None else f"{spanned:.2f}"])
    if rows:
        lines += fmt.table(["Gangs held to", "Jobs", "Started", "Mean wait", "p90 wait", "Domains spanned"],
                           rows, "lrrrrr")
        lines += ["", "Gangs submitted after warm-up, by the level whose domains their locality "
                  "rule counts (`any`: larger than every level); waits of those that started."]
    free, frag = fmt.number(topo.get("mean_free_gpus")), fmt.number(topo.get("mean_fragmented_gpus"))
    if free is not None and frag is not None:
        lines += ["", f"Mean free GPUs {free:,.0f}, of which fragmented {frag:,.0f} "
                  f"({frag / free:.0%})." if free > 0 else f"Mean free GPUs {free:,.0f}."]
    ts = run.timeseries
    paths = []
    if "fragmented_gpus" in ts.columns:
        png = fragmentation_png(ts["t_s"].to_numpy(float), ts["free_gpus_topo"].to_numpy(float),
                                ts["fragmented_gpus"].to_numpy(float), run.horizon)
        path = save_figure(run, "fragmentation", png)
        paths.append(path)
        lines += ["", "Free GPUs over the run, and the fragmented part: free GPUs that no waiting "
                  "job's shape can use (too few on a node for every waiting small job, or whole "
                  "nodes in no domain where a waiting gang's rule can be met). Zero when nothing "
                  "waits.", "", fmt.image(run.dir, path, "Free and fragmented GPUs")]
    return lines, paths


# --------------------------------------------------------------------------- maintenance


def _targets(w: dict[str, Any]) -> str:
    if w.get("level") is not None:
        ids = w.get("domains")
        return f"{w['level']} {', '.join(map(str, ids))}" if ids else f"every {w['level']}"
    if w.get("nodes") is not None:
        return "nodes " + ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in w["nodes"])
    return f"{fmt.percent(w.get('fraction'))} of nodes (drawn)"


def _maintenance(run: Run) -> tuple[list[str], list]:
    cfg = run.scenario.get("maintenance")
    if not isinstance(cfg, dict):
        return [], []
    rows = []
    for w in cfg.get("windows") or ():
        w = fmt.as_dict(w)
        every = fmt.duration(w.get("every")) if w.get("every") is not None else "once"
        most = fmt.percent(w.get("max_down")) if w.get("max_down") is not None else "all at once"
        rows.append([fmt.md_escape(w.get("name")), _targets(w), fmt.duration(w.get("start")), fmt.duration(w.get("duration")),
                     every, most, fmt.duration(w.get("lead_time")), str(w.get("running"))])
    lines = ["", "### Planned maintenance", ""]
    lines += fmt.table(["Window", "Nodes", "Start", "Down per node", "Repeats", "At most down", "Drain lead",
                        "Running jobs"], rows, "llrrrrrl")
    m = fmt.as_dict(run.summary.get("maintenance"))
    if m:
        wait = m.get("mean_wait_to_down_s")
        lines += ["", f"{fmt.count(m.get('waves'))} waves took {fmt.count(m.get('node_outages'))} node outages; "
                  f"{fmt.count(m.get('jobs_stopped'))} running jobs were checkpointed and requeued (their final "
                  f"checkpoint writes cost {fmt.number(m.get('checkpoint_write_gpu_hours')) or 0:,.1f} GPU-hours). "
                  f"After warm-up, on average {fmt.number(m.get('mean_down_maintenance_nodes')) or 0:.1f} nodes were "
                  f"down for maintenance (at most {fmt.count(m.get('max_down_nodes'))} at once) and "
                  f"{fmt.number(m.get('mean_draining_nodes')) or 0:.1f} draining."
                  + (f" From its wave's start, a node went down after {fmt.duration(wait)} on average (at most "
                     f"{fmt.duration(m.get('max_wait_to_down_s'))}): the time its last job took to end "
                     "(`running: finish`)." if wait else "")]
    return lines, []


def _down_by_cause(run: Run) -> tuple[list[str], list]:
    import numpy as np

    ts = run.timeseries
    t = ts["t_s"].to_numpy(float)
    if all(c in ts.columns for c in CAUSES):
        down = {c: ts[c].to_numpy(float) for c in CAUSES}
        draining = ts["draining_nodes"].to_numpy(float) if "draining_nodes" in ts.columns else None
    elif "domain_down_nodes" in ts.columns and "down_nodes" in ts.columns:
        domain = ts["domain_down_nodes"].to_numpy(float)
        down = {"down_failure_nodes": np.maximum(ts["down_nodes"].to_numpy(float) - domain, 0),
                "down_domain_nodes": domain}
        draining = None
    else:
        return [], []
    if not any(v.any() for v in down.values()) and (draining is None or not draining.any()):
        return [], []
    png = down_by_cause_png(t, down, draining, run.horizon, run.warmup)
    path = save_figure(run, "down_by_cause", png)
    if path is None:
        return [], []
    return ["", "### Nodes down and draining, by cause", "",
            "Nodes out of service over the run, stacked by cause: a node held by a domain event or in "
            "planned maintenance counts there (maintenance first), the rest were down for their own failure "
            "(detection, repair, pulled, swapped-out slow nodes). The line counts nodes draining for "
            "maintenance: up, finishing their jobs, taking no new ones.",
            "", fmt.image(run.dir, path, "Nodes down and draining by cause")], [path]


def _label_key(names: list[str]):
    def key(label: str):
        head, _, rest = label.partition(":")
        first = rest.split("..")[0]
        try:
            number = int(first)
        except ValueError:
            number = 0
        return (names.index(head) if head in names else len(names), number, label)
    return key


def _timeline(run: Run) -> tuple[list[str], list]:
    events = read_optional_table(run.dir, "events.parquet")
    if events is None or not len(events) or "detail" not in events.columns:
        return [], []
    intervals = domain_timeline(events, run.horizon)
    if not intervals:
        return [], []
    names = [str(lv.get("name")) for lv in fmt.as_dict(_topology(run)).get("levels") or ()]
    order = sorted({d for d, *_ in intervals}, key=_label_key(names))
    path = save_figure(run, "domain_timeline", domain_timeline_png(intervals, order, run.horizon, run.warmup))
    if path is None:
        return [], []
    return ["", "### Domain events", "",
            "Every domain failure (from the event to its repair) and maintenance wave (its drain, then "
            "its outage) over the run, a row per domain or wave of nodes, the smallest level first.",
            "", fmt.image(run.dir, path, "Domain events over time")], [path]


def _gang_waits(run: Run) -> tuple[list[str], list]:
    topo = _topology(run)
    if topo is None:
        return [], []
    per = int(fmt.number(fmt.as_dict(run.scenario.get("cluster")).get("gpus_per_node")) or 8)
    rows = wait_by_constraint(run.jobs, run.warmup, per)
    if not rows:
        return [], []
    table = []
    for r in rows:
        spanned = "n/a" if r["spanned"] is None else f"{r['spanned']:.2f}"
        held = "none (any nodes)" if r["level"] == "any" else r["level"]
        table.append([f"{r['gpus']:,}", held, fmt.count(r["jobs"]), fmt.count(r["started"]), fmt.duration(r["mean"]),
                      fmt.duration(r["p50"]), fmt.duration(r["p90"]), spanned])
    lines = ["", "### Wait of large jobs by domain constraint", ""]
    lines += fmt.table(["Gang (GPUs)", "Held to", "Jobs", "Started", "Mean wait", "p50 wait", "p90 wait",
                        "Domains spanned"], table, "llrrrrrr")
    names = [str(lv.get("name")) for lv in topo.get("levels") or ()]
    rule = fmt.as_dict(topo.get("locality"))
    if rule.get("kind") == "span":
        labels = {lv: f"at most {rule.get('max_domains')} {lv} domain(s)" for lv in names}
    else:
        labels = {lv: f"held to one {lv}" for lv in names}
    path = save_figure(run, "wait_by_constraint", wait_by_constraint_png(rows, names, labels))
    paths = []
    if path is not None:
        paths.append(path)
        lines += ["", "Multi-node gangs submitted after warm-up by size: the level whose domains their locality "
                  "rule counts (`none`: larger than every level, any nodes will do), and their waits. A gang held "
                  "to a domain waits for enough free nodes in one domain (or few), not anywhere in the fleet; "
                  "run the scenario without `cluster.topology` under the same seed for the flat waits.",
                  "", fmt.image(run.dir, path, "Wait of gangs by size and locality level")]
    return lines, paths


def _stragglers(run: Run) -> tuple[list[str], list]:
    loss = straggler_loss(run.jobs)
    if loss is None:
        return [], []
    busy = fmt.number(run.summary.get("busy_gpu_hours"))
    share = f" ({loss['gpu_hours'] / busy:.2%} of busy GPU-hours)" if busy else ""
    lines = ["", "### Time lost to stragglers", "",
             f"Slow nodes cost {loss['gpu_hours']:,.1f} GPU-hours{share}: {fmt.count(loss['jobs'])} jobs ran on a "
             f"gang with a slow node and lost {fmt.duration(loss['mean_s'])} of wall time each on average "
             "(`slow_s`: time held on a slow gang x its slowdown).", ""]
    lines += fmt.table(["Class", "GPU-hours lost"], [[fmt.md_escape(k), f"{v:,.1f}"] for k, v in loss["by_class"].items()],
                       "lr")
    return lines, []
