"""Runs as work items, and the resumable store of their results.

A run is ``(scenario, overrides, seed)``. ``ScenarioInput`` holds a scenario as the user wrote
it (plain data, its source and folder, the ``--set`` overrides) and turns a point's extra
overrides and a seed into a ``RunSpec``: a small picklable record that any process (or Dask
worker) can validate and simulate with :func:`run_one`. Its ``key`` is the SHA-256 of the
canonical JSON of the resolved scenario, so two spellings of one scenario share results.

``RunStore`` keeps one JSON file per finished run, ``DIR/runs/<key>-<seed>.json``, written
atomically the moment the run finishes. ``Runner`` asks the store first and sends only the
missing runs to the executor, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustersim import __version__
from clustersim.errors import ClusterSimError

Progress = Callable[[int, int], None]  # (runs done, runs in this batch)


class Interrupted(ClusterSimError):
    """Ctrl-C during a batch of runs: finished runs are kept, the rest can be resumed."""


def scenario_hash(scenario) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of a validated ``Scenario``."""
    data = scenario.model_dump(mode="json", by_alias=True)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """One replication to compute: plain data only, so it pickles to any worker."""

    data: dict
    overrides: tuple[str, ...]
    seed: int
    key: str
    source: str = "<scenario>"
    base_dir: str | None = None


def run_one(spec: RunSpec) -> dict:
    """Validate and simulate one run; the record names its scenario hash and seed."""
    from clustersim.config import scenario_with_overrides
    from clustersim.engine.core import simulate

    base = Path(spec.base_dir) if spec.base_dir is not None else None
    try:
        scenario = scenario_with_overrides(
            spec.data, spec.overrides, source=spec.source, base_dir=base
        )
        summary = simulate(scenario, spec.seed).summary
    except ClusterSimError as err:
        # subclasses with their own __init__ do not unpickle; the message is what matters
        raise ClusterSimError(str(err)) from None
    return {
        "scenario_hash": spec.key,
        "seed": spec.seed,
        "clustersim_version": __version__,
        "summary": summary,
    }


@dataclass(frozen=True)
class ScenarioInput:
    """A scenario as written (plain data) plus the ``--set`` overrides common to every run."""

    data: dict
    source: str = "<scenario>"
    base_dir: str | None = None
    overrides: tuple[str, ...] = ()

    @classmethod
    def from_path(cls, path: str | Path, overrides: Iterable[str] = ()) -> ScenarioInput:
        from clustersim.config import read_scenario_dict

        path = Path(path)
        data = read_scenario_dict(path)
        return cls(data, str(path), str(path.resolve().parent), tuple(overrides))

    @classmethod
    def coerce(cls, scenario: Any) -> ScenarioInput:
        """Accept a ScenarioInput, a validated ``Scenario``, a plain mapping or a file path."""
        from clustersim.config import Scenario

        if isinstance(scenario, ScenarioInput):
            return scenario
        if isinstance(scenario, Scenario):
            return cls(scenario.model_dump(mode="json", by_alias=True), scenario.name)
        if isinstance(scenario, dict):
            return cls(scenario)
        if isinstance(scenario, str | Path):
            return cls.from_path(scenario)
        raise TypeError(f"expected a scenario, a mapping or a path, got {type(scenario).__name__}")

    def resolve(self, extra: Sequence[str] = ()):
        """The validated ``Scenario`` with the common and the extra overrides applied."""
        from clustersim.config import scenario_with_overrides

        base = Path(self.base_dir) if self.base_dir is not None else None
        return scenario_with_overrides(
            self.data, self.overrides + tuple(extra), source=self.source, base_dir=base
        )

    def check(self, extra: Sequence[str], label: str):
        """``resolve(extra)``, with a problem reported as one line naming ``label`` (the
        option that brought the overrides) and close matches for a misspelt key."""
        import difflib

        from clustersim.errors import ScenarioError

        try:
            return self.resolve(extra)
        except ScenarioError as err:
            problems = "; ".join(p.removeprefix("--set ") for p in err.problems)
        try:
            known = sorted(set(_paths(self.resolve().model_dump(mode="json", by_alias=True))))
        except ScenarioError:
            known = sorted(set(_paths(self.data)))
        hints = []
        for assignment in extra:
            key = assignment.partition("=")[0].strip()
            if key not in known:
                close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
                if close:
                    hints.append(f"for {key} did you mean {', '.join(close)}?")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise ClusterSimError(f"{label} {', '.join(extra)}: {problems}{hint}")

    def specs(self, extra: Sequence[str], seeds: Iterable[int]) -> list[RunSpec]:
        """One RunSpec per seed for this point (validated here, before any work is sent)."""
        key = scenario_hash(self.resolve(extra))
        overrides = self.overrides + tuple(extra)
        return [RunSpec(self.data, overrides, s, key, self.source, self.base_dir) for s in seeds]


def _paths(data: Any, prefix: str = "") -> list[str]:
    """Every key of a nested mapping in override syntax (``a.b[0].c``), inner nodes too."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for name, value in data.items():
            out += _paths(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, f"{prefix}[{i}]")
    return out


class RunStore:
    """Finished runs as ``<root>/runs/<scenario hash>-<seed>.json``, each written atomically."""

    def __init__(self, root: str | Path):
        self.dir = Path(root) / "runs"

    def path(self, key: str, seed: int) -> Path:
        return self.dir / f"{key}-{seed}.json"

    def load(self, key: str, seed: int) -> dict | None:
        """The stored summary, or None when missing, unreadable or from another version."""
        try:
            record = json.loads(self.path(key, seed).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(record, dict)
            or record.get("scenario_hash") != key
            or record.get("seed") != seed
            or record.get("clustersim_version") != __version__
            or not isinstance(record.get("summary"), dict)
        ):
            return None
        return record["summary"]

    def save(self, record: dict) -> None:
        from clustersim.results.rundir import write_json

        path = self.path(record["scenario_hash"], record["seed"])
        try:
            write_json(path, record)
        except OSError as err:
            raise ClusterSimError(f"{path}: cannot write a run result ({err.strerror})") from None


@dataclass
class Runner:
    """Gets summaries for run specs: from the store when present, else from the executor."""

    executor: Any
    store: RunStore | None = None
    run_fn: Callable[[RunSpec], dict] = run_one
    progress: Progress | None = None
    computed: int = field(default=0, init=False)
    reused: int = field(default=0, init=False)

    def summaries(self, specs: Sequence[RunSpec]) -> list[dict]:
        """Summaries in the order of ``specs`` (whatever order the runs complete in)."""
        results: dict[tuple[str, int], dict] = {}
        todo: list[RunSpec] = []
        seen: set[tuple[str, int]] = set()
        for spec in specs:
            ident = (spec.key, spec.seed)
            if ident in seen:
                continue
            seen.add(ident)
            stored = self.store.load(*ident) if self.store is not None else None
            if stored is not None:
                results[ident] = stored
                self.reused += 1
            else:
                todo.append(spec)
        total = len(results) + len(todo)
        if self.progress is not None:
            self.progress(len(results), total)
        records = iter(self.executor.map(self.run_fn, todo))
        try:
            for record in records:
                if self.store is not None:
                    self.store.save(record)
                results[(record["scenario_hash"], record["seed"])] = record["summary"]
                self.computed += 1
                if self.progress is not None:
                    self.progress(len(results), total)
        except KeyboardInterrupt:
            left = total - len(results)
            where = f"kept in {self.store.dir}; " if self.store is not None else ""
            raise Interrupted(
                f"interrupted: {len(results)} of {total} runs finished ({where}{left} not run)"
                + ("; run the same command again to resume" if self.store is not None else "")
            ) from None
        finally:
            # close now, not at garbage collection: this is when an executor cancels the
            # pending runs and stops its workers after an exception in the loop above
            close = getattr(records, "close", None)
            if close is not None:
                close()
        return [results[(s.key, s.seed)] for s in specs]


_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """``20`` means seeds 0..19, ``1-20`` seeds 1..20 (inclusive), ``3,5,8`` those seeds."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        raw = text.strip()
        match = _RANGE.match(raw)
        try:
            if match:
                lo, hi = int(match.group(1)), int(match.group(2))
                if hi < lo:
                    raise ClusterSimError(f"--seeds {raw}: the range is reversed (use {hi}-{lo})")
                seeds = list(range(lo, hi + 1))
            elif "," in raw:
                seeds = [int(part) for part in raw.split(",") if part.strip()]
            else:
                seeds = list(range(int(raw)))
        except ValueError:
            raise ClusterSimError(
                f"--seeds {raw!r}: expected a count (20), a range (1-20) or a list (3,5,8)"
            ) from None
    if not seeds:
        raise ClusterSimError("--seeds: at least one seed is needed")
    if any(s < 0 for s in seeds):
        raise ClusterSimError("--seeds: seeds must be non-negative")
    if len(set(seeds)) != len(seeds):
        raise ClusterSimError("--seeds: a seed is repeated")
    return seeds


__all__ = [
    "Interrupted",
    "RunSpec",
    "RunStore",
    "Runner",
    "ScenarioInput",
    "parse_seeds",
    "run_one",
    "scenario_hash",
]
