"""Figure of the "Topology" section: free GPUs and the fragmented part of them (free GPUs no
waiting job's shape can use) over the run. Plain numpy arrays in, PNG bytes out."""

from __future__ import annotations

from clustersim.report.figures.style import DAY_S, new_figure, png_bytes, styled
from clustersim.report.series import downsample

FREE = "#1f77b4"
FRAGMENTED = "#d62728"


@styled
def fragmentation_png(t, free_gpus, fragmented_gpus, horizon: float) -> bytes:
    """Free GPUs and fragmented GPUs (steps) over days."""
    import numpy as np

    columns = {"free": np.asarray(free_gpus, float), "frag": np.asarray(fragmented_gpus, float)}
    x, out = downsample(np.asarray(t, float), columns, horizon)
    fig, (ax,) = new_figure(1)
    days = np.asarray(x) / DAY_S
    ax.plot(days, out["free"], drawstyle="steps-post", color=FREE, lw=0.8, label="free GPUs")
    ax.fill_between(days, out["frag"], step="post", color=FRAGMENTED, alpha=0.5, lw=0,
                    label="fragmented: no waiting job's shape fits")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("GPUs")
    ax.set_xlim(0, horizon / DAY_S)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right")
    return png_bytes(fig)


CAUSES = {  # down-node causes: column -> (label, colour)
    "down_failure_nodes": ("node failure / repair", "#d62728"),
    "down_domain_nodes": ("domain event (rack, switch)", "#9467bd"),
    "down_maintenance_nodes": ("planned maintenance", "#1f77b4"),
}
DRAINING = "#ff7f0e"


@styled
def down_by_cause_png(t, down: dict, draining, horizon: float, warmup: float) -> bytes:
    """Nodes down stacked by cause (steps), and nodes draining for maintenance as a line."""
    import numpy as np

    from clustersim.report.figures.style import time_axis

    columns = {k: np.asarray(v, float) for k, v in down.items()}
    if draining is not None:
        columns["_draining"] = np.asarray(draining, float)
    x, out = downsample(np.asarray(t, float), columns, horizon)
    days = np.asarray(x) / DAY_S
    fig, (ax,) = new_figure(1)
    time_axis(ax, horizon, warmup)
    base = np.zeros(len(days))
    for column, (label, colour) in CAUSES.items():
        if column not in out or not out[column].any():  # a cause that never happened: no legend entry
            continue
        top = base + out[column]
        ax.fill_between(days, base, top, step="post", color=colour, alpha=0.75, lw=0, label=label)
        base = top
    if draining is not None:
        ax.plot(days, out["_draining"], drawstyle="steps-post", color=DRAINING, lw=1.4,
                label="draining (no new jobs, up)")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("nodes")
    top = max(float(base.max()), float(out["_draining"].max()) if draining is not None else 0.0, 1.0)
    ax.set_ylim(0, top * 1.35)  # room for the legend above the highest step
    ax.legend(loc="upper right", ncols=2)
    return png_bytes(fig)


WHAT = {"maintenance": "#1f77b4", "drain": "#ffbb78"}
KIND_COLOURS = ["#9467bd", "#d62728", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
MAX_ROWS = 40


@styled
def domain_timeline_png(intervals, order: list[str], horizon: float, warmup: float) -> bytes | None:
    """One row per domain (``order``: levels from the smallest up, then node groups), a bar per
    domain failure (coloured by kind), maintenance outage and drain. With more than
    ``MAX_ROWS`` domains, only those with an event are drawn."""
    import numpy as np
    from matplotlib.patches import Patch

    from clustersim.report.figures.style import FIGSIZE, time_axis

    if not intervals:
        return None
    seen = {d for d, *_ in intervals}
    rows = [d for d in order if d in seen] + sorted(seen - set(order))
    y = {d: i for i, d in enumerate(rows)}
    kinds = sorted({w for *_, w in intervals} - set(WHAT))
    colours = dict(WHAT, **{k: KIND_COLOURS[i % len(KIND_COLOURS)] for i, k in enumerate(kinds)})
    fig, (ax,) = new_figure(1)
    fig.set_size_inches(FIGSIZE[0], max(FIGSIZE[1], min(9.0, 1.2 + 0.18 * len(rows))))
    time_axis(ax, horizon, warmup)
    for what in ("drain", "maintenance", *kinds):
        spans = [(y[d], a / DAY_S, max((b - a) / DAY_S, horizon / DAY_S / 600)) for d, a, b, w in intervals if w == what]
        if not spans:
            continue
        for row, start, width in spans:
            ax.broken_barh([(start, width)], (row - 0.4, 0.8), facecolors=colours[what], lw=0)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    step = max(1, int(np.ceil(len(rows) / MAX_ROWS)))
    ax.set_yticks(range(0, len(rows), step), [rows[i] for i in range(0, len(rows), step)])
    ax.tick_params(axis="y", labelsize=8 if len(rows) > 24 else 10 if len(rows) > 12 else 11)
    ax.grid(axis="y", alpha=0.0)
    for i in range(len(rows)):
        ax.axhline(i, color="#dddddd", lw=0.5, zorder=0)
    ax.set_xlabel("time (days)")
    labels = {"maintenance": "maintenance: down", "drain": "maintenance: draining"}
    handles = [Patch(color=colours[w], label=labels.get(w, f"domain failure: {w}")) for w in ("maintenance", "drain", *kinds)
               if any(i[3] == w for i in intervals)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)
    return png_bytes(fig)


LEVEL_COLOURS = ["#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
UNBOUND = "#7f7f7f"


@styled
def wait_by_constraint_png(rows: list[dict], level_order: list[str], labels: dict[str, str]) -> bytes | None:
    """p90 (bar) and mean (marker) wait of gangs by GPU count, coloured by the level their
    locality rule holds them to (grey: no domain constraint; ``labels``: legend text per level).
    A size none of whose gangs started is marked so."""
    import numpy as np
    from matplotlib.patches import Patch

    from clustersim.report.figures.style import HOUR_S

    if not any(r["p90"] is not None for r in rows):
        return None
    fig, (ax,) = new_figure(1)
    x = np.arange(len(rows))
    names = [lv for lv in level_order if any(r["level"] == lv for r in rows)]
    names += sorted({r["level"] for r in rows} - set(names))
    colour = {lv: (UNBOUND if lv in ("any", "flat") else LEVEL_COLOURS[i % len(LEVEL_COLOURS)]) for i, lv in enumerate(names)}
    p90 = np.array([np.nan if r["p90"] is None else r["p90"] for r in rows]) / HOUR_S
    mean = np.array([np.nan if r["mean"] is None else r["mean"] for r in rows]) / HOUR_S
    ax.bar(x, np.nan_to_num(p90), color=[colour[r["level"]] for r in rows], width=0.7)
    top = max(float(np.nanmax(p90)), 1.0)
    for i, r in enumerate(rows):
        if r["p90"] is None:
            ax.text(i, top * 0.02, "none\nstarted", ha="center", va="bottom", fontsize=10, color="#555555")
        elif r["started"] < r["jobs"]:
            ax.text(i, p90[i] + top * 0.02, f"{r['started']} of {r['jobs']}\nstarted", ha="center", va="bottom",
                    fontsize=9, color="#555555")
    handles = [ax.plot(x, mean, "o", color="black", ms=6, label="mean wait")[0]]
    for lv in names:
        text = "no domain constraint" if lv in ("any", "flat") else labels.get(lv, lv)
        handles.append(Patch(color=colour[lv], label=f"p90 wait: {text}"))
    ax.set_xticks(x, [f"{r['gpus']:,}" for r in rows])
    ax.set_xlabel("gang size (GPUs)")
    ax.set_ylabel("wait (hours)")
    ax.set_ylim(0, top * 1.3)
    ax.legend(handles=handles, loc="upper left")
    return png_bytes(fig)
