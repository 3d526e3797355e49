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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clustersim.errors import ClusterSimError
from clustersim.planning.replications import CONFIDENCE, MetricStats, Replications
from clustersim.planning.targets import MET, Target, format_value, parse_target
from clustersim.units import format_duration, parse_duration

DIRECTIONS = {"smallest": "smallest", "earliest": "smallest", "largest": "largest", "latest": "largest"}
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Search:
    """A key and the grid of values to search, in the order of the search direction."""

    key: str
    lo: float
    hi: float
    step: float
    kind: str  # "count" or "duration"
    direction: str  # "smallest" or "largest"

    @property
    def size(self) -> int:
        """How many values: lo, lo+step, ... up to hi, and hi itself."""
        n = int((self.hi - self.lo) // self.step) + 1
        return n + (1 if self.lo + (n - 1) * self.step < self.hi else 0)

    def at(self, i: int) -> float:
        """The i-th value in search order, from the least to the most favourable end (the
        answer is the first value, in this order, that meets every target)."""
        j = i if self.direction == "smallest" else self.size - 1 - i
        return min(self.lo + j * self.step, self.hi)

    @property
    def grid(self) -> list[float]:
        """Every value, ascending (for small ranges; the search never lists them)."""
        return sorted(self.at(i) for i in range(self.size))

    @property
    def order(self) -> list[float]:
        return [self.at(i) for i in range(self.size)]

    def override(self, value: float) -> str:
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
        return f"{self.key}={text}"

    def show(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.kind == "count":
            return f"{int(value):,}"
        if value % 86400 == 0:
            return f"{int(value // 86400)}d"
        return format_duration(value)

    def word(self) -> str:
        if self.kind == "duration":
            return "earliest" if self.direction == "smallest" else "latest"
        return self.direction

    def assumption(self) -> str:
        better = "larger" if self.direction == "smallest" else "smaller"
        return (f"Assumes every target is monotone in {self.key}: if a value meets the targets, "
                f"every {better} value does too. The search bisects on that assumption instead "
                "of trying every value.")

    def to_dict(self) -> dict:
        return {"key": self.key, "lo": self.lo, "hi": self.hi, "step": self.step,
                "kind": self.kind, "direction": self.direction}


def _bound(text: str, what: str, spec: str) -> tuple[float, bool]:
    text = text.strip()
    if not text:
        raise ClusterSimError(f"--search {spec!r}: empty range; write KEY=LO..HI (e.g. cluster.nodes=300..800)")
    if _INT.match(text):
        return float(int(text)), False
    if _NUMBER.match(text):
        raise ClusterSimError(
            f"--search {spec!r}: the {what} {text!r} is neither an integer nor a duration with a "
            "unit (45d, 12h)"
        )
    try:
        return parse_duration(text), True
    except ValueError:
        raise ClusterSimError(
            f"--search {spec!r}: the {what} {text!r} is neither an integer nor a duration (45d)"
        ) from None


def parse_search(text: str, step: str | float | None = None, direction: str | None = None) -> Search:
    """``"cluster.nodes=300..800"`` or ``"supply.orders[0].at=0d..180d"`` -> Search."""
    key, eq, rng = (text or "").partition("=")
    key = key.strip()
    if not eq or not key:
        raise ClusterSimError(f"--search {text!r}: expected KEY=LO..HI (e.g. cluster.nodes=300..800)")
    lo_text, dots, hi_text = rng.partition("..")
    if not dots:
        raise ClusterSimError(f"--search {text!r}: expected a range LO..HI after '='")
    lo, lo_dur = _bound(lo_text, "lower end", text)
    hi, hi_dur = _bound(hi_text, "upper end", text)
    kind = "duration" if lo_dur or hi_dur else "count"
    if hi < lo:
        raise ClusterSimError(
            f"--search {text!r}: reversed range ({lo_text.strip()} > {hi_text.strip()}); write it "
            f"low..high ({key}={hi_text.strip()}..{lo_text.strip()}) and pick --direction"
        )
    if step is None or step == "":
        step_value = 86400.0 if kind == "duration" else 1.0
    else:
        try:
            step_value = parse_duration(step) if kind == "duration" else float(int(str(step)))
        except ValueError:
            want = "a duration such as 1d or 12h" if kind == "duration" else "a positive integer"
            raise ClusterSimError(f"--step {step!r}: expected {want}") from None
    if step_value <= 0:
        raise ClusterSimError(f"--step {step!r}: must be > 0")
    if direction is None:
        direction = "largest" if kind == "duration" else "smallest"
    if direction not in DIRECTIONS:
        raise ClusterSimError(f"--direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    return Search(key, lo, hi, step_value, kind, DIRECTIONS[direction])


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

    def stats(self, ev: Evaluation, target: Target) -> MetricStats | None:
        return ev.replications.metrics.get(target.key)

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
            "rule": "a value meets a target only when the whole confidence interval of the "
                    "metric's mean is on the allowed side",
            "evaluated": [
                {"value": ev.value, "value_text": s.show(ev.value), "meets_all": ev.meets,
                 "jobs_rejected": ev.rejected,
                 "targets": {t.text: {**(self.stats(ev, t).to_dict() if self.stats(ev, t) else {}),
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
    check_targets(targets, base.check((), "--set"))
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
            verdicts = {t.text: t.verdict(reps.metrics.get(t.key)) for t in targets}
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
    result = PlanResult(sr, targets, seeds, answer, status, list(evaluated.values()), [], confidence)
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
    rejecting = sorted(sr.show(ev.value) for ev in evaluated.values() if ev.rejected)
    if rejecting:
        notes.append(f"At {', '.join(rejecting)} some jobs can never run (too large for the fleet) "
                     "and are rejected; those values count as not meeting the targets.")
    unknown = sorted({t for ev in evaluated.values() for t, v in ev.verdicts.items() if v == "unknown"})
    if unknown:
        notes.append(f"No interval for {', '.join(unknown)} at some values (metric undefined in "
                     "too many runs); those values count as not meeting the target.")
    return notes


def evidence_table(result: PlanResult) -> list[str]:
    """Every evaluated value with each target's mean, CI and verdict (a pipe table)."""
    from clustersim.planning.sweep_report import ci_text, md_table

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
            row += [mean, ci, ev.verdicts[t.text]]
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
             "the allowed side.", "", f"*Assumption.* {md_escape(sr.assumption())}"]
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
