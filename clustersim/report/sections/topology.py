"""The "Topology" section of the run report.

Present only when the scenario has a fabric topology (``cluster.topology`` in ``config.json``).
It reads ``summary.json`` (``topology.*``: mean free and fragmented GPUs, and gang waits by the
level their locality rule holds them to; see ``clustersim.results.topology``) and
``timeseries.parquet`` (``free_gpus_topo``, ``fragmented_gpus``) for one figure.
"""

from __future__ import annotations

from typing import Any

from clustersim.report import format as fmt
from clustersim.report.figures.topology import fragmentation_png
from clustersim.report.files import save_figure
from clustersim.report.model import Run, Section

SUMMARY_KEYS = frozenset({"topology"})
"""Summary entries this section shows."""


def applies(run: Run) -> bool:
    """The run's cluster had a topology."""
    cluster = run.scenario.get("cluster")
    return isinstance(cluster, dict) and isinstance(cluster.get("topology"), dict)


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
    """The waits by locality level, and the fragmentation figure; None without a topology."""
    if not applies(run):
        return None
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
    return Section("\n".join(lines), paths)
