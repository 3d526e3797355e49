"""Capacity plans: the smallest fleet (or the latest order date) that meets every target.

``plan(scenario, ["wait_s.p90<=2h"], "cluster.nodes=300..800", seeds=10)`` searches one
scenario key over a range. Each value tried is replicated over the same seeds and judged by
``clustersim.planning.targets``: it *meets* the targets only when every target's whole confidence
interval is on the right side. The search bisects, so it rests on an assumption that the
output states: the targets are monotone in the key (more nodes never makes waits worse; an
earlier order never makes them worse). Points that contradict it are reported.

Ranges are integers (``300..800``, counts; default direction ``smallest``, step 1) or
durations (``0d..180d``; default direction ``latest``, step 1 day). ``direction`` may be
``smallest``/``earliest`` or ``largest``/``latest``. When the value just below the answer
straddles a target, the answer is the next value up and the notes say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clustersim.errors import ClusterSimError
from clustersim.planning.replications import CONFIDENCE, MetricStats, Replications
from clustersim.planning.search import DIRECTIONS, Search, parse_search  # noqa: F401 (re-exported)
from clustersim.planning.targets import (
    DEFAULT_SHARE,
    GROUP,
    MET,
    MISSED,
    Target,
    format_value,
    parse_target,
)


@dataclass
class Evaluation:
    value: float
    replications: Replications
    verdicts: dict[str, str]  # target text -> met / missed / straddles / unknown

    @property
    def rejected(self) -> float:
        """Most jobs any seed rejected at this point (jobs that can never run on it)."""
        stats = self.replications.metrics.get("jobs.rejected")
        return 0.0 if stats is None or stats.mean is None else float(stats.mean)

    @property
    def meets(self) -> bool:
        # A fleet that cannot run some jobs at all does not meet a wait target, however short
        # the waits of the jobs it can run: rejected jobs are not in the wait statistics.
        return self.rejected == 0 and all(v == MET for v in self.verdicts.values())


@dataclass
class PlanResult:
    search: Search
    targets: list[Target]
    seeds: list[int]
    answer: float | None
    status: str  # found, below_range, none_in_range
    evaluations: list[Evaluation]
    notes: list[str] = field(default_factory=list)
    confidence: float = CONFIDENCE
    share: float = DEFAULT_SHARE  # by_class.* targets: classes with at least this share of GPU-hours

    def stats(self, ev: Evaluation, target: Target) -> MetricStats | None:
        return target.binding(ev.replications.metrics, self.share)[1]

    def binding_class(self, ev: Evaluation, target: Target) -> str | None:
        return target.binding(ev.replications.metrics, self.share)[0]

    def headline(self) -> str:
        s, key = self.search, self.search.key
        if self.status == "none_in_range":
            return (f"No value of {key} in {s.show(s.lo)}..{s.show(s.hi)} meets every target "
                    f"with {int(100 * self.confidence)}% confidence.")
        text = f"{key} = {s.show(self.answer)}: the {s.word()} value whose {int(100 * self.confidence)}% CI meets every target"
        if self.status == "below_range":
            text += " (the end of the range already meets them; the true answer may lie beyond it)"
        return text + "."

    def to_dict(self) -> dict:
        s = self.search
        return {
            "answer": self.answer,
            "answer_text": s.show(self.answer) if self.answer is not None else None,
            "status": self.status,
            "headline": self.headline(),
            "assumption": s.assumption(),
            "notes": self.notes,
            "search": s.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
            "seeds": self.seeds,
            "confidence": self.confidence,
            "heavy_share": self.share,
            "rule": "a value meets a target only when the whole confidence interval of the "
                    "metric's mean is on the allowed side",
            "evaluated": [
                {"value": ev.value, "value_text": s.show(ev.value), "meets_all": ev.meets,
                 "jobs_rejected": ev.rejected,
                 "targets": {t.text: {**(self.stats(ev, t).to_dict() if self.stats(ev, t) else {}),
                                      **({"class": self.binding_class(ev, t)} if t.group else {}),
                                      "verdict": ev.verdicts[t.text]} for t in self.targets}}
                for ev in sorted(self.evaluations, key=lambda e: e.value)
            ],
        }


def _search_order(n: int, meets: Callable[[list[int]], dict[int, bool]], probes: int) -> tuple[int | None, bool]:
    """Index of the first feasible position in 0..n-1, assuming feasibility is upward closed.

    ``meets(indices)`` evaluates a batch. Returns ``(index or None, whether 0 is feasible)``.
    """
    ends = meets(sorted({0, n - 1}))
    if not ends[n - 1]:
        return None, False
    if ends[0]:
        return 0, True
    lo, hi = 0, n - 1
    while hi - lo > 1:
        k = max(1, min(probes, hi - lo - 1))
        picks = sorted({lo + max(1, round((hi - lo) * j / (k + 1))) for j in range(1, k + 1)} - {hi})
        result = meets(picks)
        feasible = [i for i in picks if result[i]]
        if feasible:
            hi = feasible[0]
        below = [i for i in picks if i < hi and not result[i]]
        if below:
            lo = below[-1]
    return hi, False


def prepare(scenario, targets: Sequence[str | Target], search: str | Search,
            seeds: int | Sequence[int], *, step: str | float | None = None,
            direction: str | None = None, overrides: Sequence[str] = ()):
    """Parse and check everything a plan needs, before any run: returns the scenario input,
    the targets, the search and the seeds, or raises one ClusterSimError."""
    from clustersim.planning.runs import ScenarioInput, parse_seeds
    from clustersim.planning.targets import check_targets

    targets = [t if isinstance(t, Target) else parse_target(t) for t in targets]
    if not targets:
        raise ClusterSimError("give at least one --target, e.g. --target 'wait_s.p90<=2h'")
    sr = search if isinstance(search, Search) else parse_search(search, step, direction)
    seeds = parse_seeds(seeds)
    if len(seeds) < 2:
        raise ClusterSimError("--seeds: a plan needs at least 2 seeds for a confidence interval")
    base = ScenarioInput.coerce(scenario)
    base = dataclasses.replace(base, overrides=base.overrides + tuple(overrides))
    check_targets(targets, base.check((), "--set"), groups=True)
    base.check([sr.override(sr.lo)], "--search")
    base.check([sr.override(sr.hi)], "--search")
    return base, targets, sr, seeds


def plan(scenario, targets: Sequence[str | Target], search: str | Search, seeds: int | Sequence[int] = 10,
         *, step: str | float | None = None, direction: str | None = None,
         overrides: Sequence[str] = (), runner=None, workers: int | None = None,
         confidence: float = CONFIDENCE) -> PlanResult:
    """Search ``search`` for the value that meets every target (see module docs)."""
    from clustersim.planning.executor import LocalExecutor
    from clustersim.planning.runs import Runner

    base, targets, sr, seeds = prepare(scenario, targets, search, seeds, step=step,
                                       direction=direction, overrides=overrides)
    share = base.check((), "--set").verdict.heavy_share
    own = runner is None
    runner = runner or Runner(LocalExecutor(workers))
    evaluated: dict[int, Evaluation] = {}

    def meets(indices: list[int]) -> dict[int, bool]:
        todo = [i for i in indices if i not in evaluated]
        specs = []
        for i in todo:
            specs += base.specs([sr.override(sr.at(i))], seeds)
        summaries = runner.summaries(specs)
        n = len(seeds)
        for j, i in enumerate(todo):
            reps = Replications.of(seeds, summaries[j * n:(j + 1) * n], confidence)
            verdicts = {t.text: t.judge(reps.metrics, share) for t in targets}
            evaluated[i] = Evaluation(sr.at(i), reps, verdicts)
        return {i: evaluated[i].meets for i in indices}

    probes = max(1, getattr(runner.executor, "slots", 1) // len(seeds))
    try:
        index, at_end = _search_order(sr.size, meets, probes)
    finally:
        if own:
            runner.executor.close()
    status = "none_in_range" if index is None else "below_range" if at_end else "found"
    answer = None if index is None else sr.at(index)
    result = PlanResult(sr, targets, seeds, answer, status, list(evaluated.values()), [], confidence, share)
    result.notes = _notes(result, evaluated, index)
    return result


def _notes(result: PlanResult, evaluated: dict[int, Evaluation], index: int | None) -> list[str]:
    sr, notes = result.search, []
    if index is not None and index - 1 in evaluated:
        prev = evaluated[index - 1]
        straddling = [t for t, v in prev.verdicts.items() if v == "straddles"]
        if straddling:
            notes.append(
                f"At {sr.key} = {sr.show(prev.value)} the confidence interval straddles "
                f"{', '.join(straddling)}; taking the next value, {sr.show(sr.at(index))}. More "
                "seeds may show the straddling value is enough."
            )
    ranked = sorted(evaluated)
    for a in ranked:
        for b in ranked:
            if a < b and evaluated[a].meets and not evaluated[b].meets:
                notes.append(
                    f"Not monotone: {sr.key} = {sr.show(evaluated[a].value)} meets the targets but "
                    f"{sr.show(evaluated[b].value)} does not; the bisection's answer is unreliable "
                    "(try more seeds, or a sweep over the range)."
                )
                return notes
    if index is not None:
        notes += _hidden_classes(result, evaluated[index])
    rejecting = sorted(sr.show(ev.value) for ev in evaluated.values() if ev.rejected)
    if rejecting:
        notes.append(f"At {', '.join(rejecting)} some jobs can never run (too large for the fleet) "
                     "and are rejected; those values count as not meeting the targets.")
    unknown = sorted({t for ev in evaluated.values() for t, v in ev.verdicts.items() if v == "unknown"})
    if unknown:
        notes.append(f"No interval for {', '.join(unknown)} at some values (metric undefined in "
                     "too many runs); those values count as not meeting the target.")
    return notes


def _hidden_classes(result: PlanResult, ev: Evaluation) -> list[str]:
    """Overall wait targets met at the answer while a GPU-heavy class misses the same target."""
    notes = []
    for t in result.targets:
        if t.group or not t.key.startswith("wait_s"):
            continue
        group = Target(GROUP + t.key, t.op, t.value, f"{GROUP}{t.key}{t.op}{t.value_text}")
        missed = [n for n, k in group.class_keys(ev.replications.metrics, result.share).items()
                  if group.verdict(ev.replications.metrics.get(k)) == MISSED]
        if missed:
            notes.append(
                f"At the answer, {t.text} holds over all jobs but not for {', '.join(missed)} "
                f"(classes with at least {result.share:.0%} of the GPU-hours); add --target "
                f"'{GROUP}{t.text}' to plan for them too."
            )
    return notes


def evidence_table(result: PlanResult) -> list[str]:
    """Every evaluated value with each target's mean, CI and verdict (a pipe table)."""
    from clustersim.planning.sweep_report import ci_text, md_table
    from clustersim.report.format import md_escape

    sr, pct = result.search, int(round(100 * result.confidence))
    header = [f"`{sr.key}`"]
    for t in result.targets:
        header += [f"`{t.text}` mean", f"{pct}% CI", "verdict"]
    header.append("meets all")
    rows = []
    for ev in sorted(result.evaluations, key=lambda e: e.value):
        mark = "**" if ev.value == result.answer else ""
        row = [f"{mark}{sr.show(ev.value)}{mark}"]
        for t in result.targets:
            mean, ci = ci_text(t.key, result.stats(ev, t))
            name = result.binding_class(ev, t) if t.group else None
            row += [f"{mean} ({md_escape(name)})" if name else mean, ci, ev.verdicts[t.text]]
        row.append("yes" if ev.meets else ("no: rejects jobs" if ev.rejected else "no"))
        rows.append(row)
    return md_table(header, rows, "r" + "rrl" * len(result.targets) + "l")


def plan_markdown(result: PlanResult, title: str | None = None) -> str:
    from clustersim.report.format import md_escape

    sr, pct = result.search, int(round(100 * result.confidence))
    name = title or next((ev.replications.summaries[0].get("scenario") for ev in result.evaluations
                          if ev.replications.summaries), "scenario")
    css = "met" if result.answer is not None else "not-met"
    lines = [f"# Plan: {md_escape(name)}", "", f"<!-- class: {css} -->",
             f"> **{md_escape(result.headline())}**", "",
             "Targets: " + ", ".join(f"`{t.text}`" for t in result.targets) + ". "
             f"Each value tried runs seeds {result.seeds[0]}–{result.seeds[-1]} ({len(result.seeds)} "
             f"runs); a target counts as met only when its whole {pct}% confidence interval is on "
             "the allowed side." + (f" `{GROUP}` targets apply to each class"
                                    + (f" holding at least {result.share:.0%} of the GPU-hours"
                                       if result.share > 0 else "")
                                    + " (the worst is shown)." if any(t.group for t in result.targets) else ""),
             "", f"*Assumption.* {md_escape(sr.assumption())}"]
    for note in result.notes:
        lines += ["", f"*Note.* {md_escape(note)}"]
    lines += ["", "## Evidence", "", *evidence_table(result)]
    lines += ["", "Target values: " + ", ".join(f"`{t.key}` {t.op} {format_value(t.key, t.value)}"
                                                for t in result.targets) + "."]
    return "\n".join(lines) + "\n"


def write_plan(result: PlanResult, out: str | Path, title: str | None = None) -> dict[str, Path]:
    from clustersim.planning.sweep_report import write_bytes
    from clustersim.results.rundir import write_json

    out = Path(out)
    paths = {"json": out / "plan.json", "markdown": out / "plan.md"}
    try:
        write_json(paths["json"], result.to_dict())
    except OSError as err:
        raise ClusterSimError(f"{paths['json']}: cannot write ({err.strerror})") from None
    write_bytes(paths["markdown"], plan_markdown(result, title).encode("utf-8"))
    return paths


__all__ = [
    "Evaluation",
    "PlanResult",
    "Search",
    "evidence_table",
    "parse_search",
    "plan",
    "plan_markdown",
    "write_plan",
]
