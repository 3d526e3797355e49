"""Hand mutations of the model's key formulas, one at a time, on a copy of the repository.

    python tests/mutation/run_mutants.py [--only ID ...] [--first] [--work /tmp/clustersim-mutants]

Copies the repository (without .git, reports, caches) to ``--work`` once, then for each
mutant: restores the pristine file, applies the one textual change (which must match exactly
once, else the mutant is reported ``not applied``), runs the test subset below on the copy
(``PYTHONPATH`` = the copy, so the copy's ``clustersim`` is imported, also by the
``clustersim`` command the CLI tests start), and records which tests failed. A mutant is
``killed`` when at least one test fails, ``survived`` otherwise. Never touches the working
tree it was started from. Not collected by pytest (not a ``test_*.py`` file).

``--first`` stops each run at the first failure (faster; the table then names one killer).
Writes ``mutants.md`` (the table) and ``mutants.json`` into ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The tests run against each mutant: the model tests with independent references.
SUBSET = [
    "tests/property/test_invariants.py",
    "tests/supply/test_types.py",
    "tests/statistics",
    "tests/scenario/test_backfill_published.py",
    "tests/scenario/test_policies.py",
    "tests/scenario/test_theory.py",
    "tests/scenario/test_failures_theory.py",
    "tests/property/test_failure_invariants.py",
    "tests/unit/test_checkpoint.py",
    "tests/report/test_report_failures.py",
    "tests/cli/test_plan_erlang.py",
    "tests/cli/test_cli.py::test_summary_is_recomputable_from_the_files",
    "tests/supply/test_utilisation_energy.py",
    "tests/supply/test_delivery.py",
    "tests/workload/test_arrival_patterns.py",
]

# (id, file, old text, new text, what the mutation means)
MUTANTS = [
    ("job-rate-8x-subnode", "clustersim/engine/failures.py",
     "        share = job.spec.num_gpus / self.cluster.pools[job.pool].gpus_per_node\n        rate = self.job_rate * share",
     "        share = self.cluster.nodes_needed(job.spec.num_gpus, job.pool)\n        rate = self.job_rate * share",
     "job-level hazard per node, not per node-equivalent (8x for a 1-GPU job: issue 21)"),
    ("job-rate-unscaled", "clustersim/engine/failures.py",
     "        share = job.spec.num_gpus / self.cluster.pools[job.pool].gpus_per_node\n        rate = self.job_rate * share",
     "        share = 1.0\n        rate = self.job_rate * share",
     "job-level hazard not scaled by job size"),
    ("node-mtbf-10pct-short", "clustersim/engine/failures.py",
     "            self._scale = 1.0 / self.node_rate if self.node_rate > 0 else math.inf",
     "            self._scale = 0.9 / self.node_rate if self.node_rate > 0 else math.inf",
     "node failure rate 11% too high (exponential life)"),
    ("young-ignores-nodes", "clustersim/engine/failures.py",
     "            rate = nodes * self.node_rate + share * self.job_rate",
     "            rate = self.node_rate + share * self.job_rate",
     "Young's MTTF ignores the job's node count"),
    ("checkpoint-cycle-without-cost", "clustersim/checkpoint.py",
     "    k = math.floor(progress_wall / cycle)",
     "    k = math.floor(progress_wall / plan.interval)",
     "checkpoints counted as if writing them took no time (saves work not yet written)"),
    ("checkpoint-one-too-many", "clustersim/checkpoint.py",
     "            wall += self.cost * max(0, math.ceil(remaining / self.interval) - 1)",
     "            wall += self.cost * max(0, math.ceil(remaining / self.interval))",
     "a checkpoint written after the last piece of work"),
    ("lost-work-halved", "clustersim/engine/segments.py",
     "    job.lost_s += lost\n    job.lost_gpu_s += lost * g\n    return lost",
     "    job.lost_s += lost\n    job.lost_gpu_s += lost * g / 2\n    return lost",
     "lost GPU-seconds at an interruption halved"),
    ("easy-no-extra-nodes", "clustersim/engine/availability.py",
     "        return Shadow(pool, t, True, ready, len(ready) - need)",
     "        return Shadow(pool, t, True, ready, 0)",
     "EASY reservation ignores the head's extra nodes (whole-node head)"),
    ("easy-no-extra-gpus", "clustersim/engine/availability.py",
     "                return Shadow(pool, t, False, {node}, at_t - gpus)",
     "                return Shadow(pool, t, False, {node}, 0)",
     "EASY reservation ignores the reserved node's extra GPUs (sub-node head)"),
    ("easy-extra-not-spent", "clustersim/engine/policies/easy.py",
     "                    sh.extra -= len(nodes)",
     "                    sh.extra -= 0",
     "a long whole-node backfill does not spend the extra nodes"),
    ("easy-strict-shadow", "clustersim/engine/policies/easy.py",
     "                elif now + job.run_estimate(p.speed) <= t_shadow:",
     "                elif now + job.run_estimate(p.speed) < t_shadow:",
     "a job ending exactly at the shadow time is not a short backfill"),
    ("easy-long-anywhere", "clustersim/engine/policies/easy.py",
     "            nodes = cluster.find(g, order, sh.nodes, pool)  # room the head will not need",
     "            nodes = cluster.find(g, order, pool=pool)  # room the head will not need",
     "a long one-node backfill may take a node the whole-node head needs, without spending extra"),
    ("easy-depth-plus-one", "clustersim/engine/policies/easy.py",
     "        last = min(len(jobs) - 1, self.depth)",
     "        last = min(len(jobs) - 1, self.depth + 1)",
     "EASY considers depth + 1 jobs behind the head"),
    ("sjf-is-fifo", "clustersim/engine/policies/strict.py",
     "        return (job.prio, job.spec.duration_s, job.seq)",
     "        return (job.prio, job.seq)",
     "SJF orders by arrival"),
    ("pack-is-spread", "clustersim/engine/placement.py",
     "        return tuple(range(gpus, per_node + 1))",
     "        return tuple(range(per_node, gpus - 1, -1))",
     "pack places like spread (worst fit)"),
    ("conservative-depth-minus-one", "clustersim/engine/policies/conservative.py",
     "            window = queue.jobs[: self.depth + 1]",
     "            window = queue.jobs[: self.depth]",
     "conservative plans one job fewer than depth + 1"),
    ("arrival-rate-3pct-high", "clustersim/workload/synthetic.py",
     "    mean_gap = 3600.0 / cls.arrival_rate_per_h",
     "    mean_gap = 3600.0 / (cls.arrival_rate_per_h * 1.03)",
     "Poisson arrivals 3% faster than arrival_rate_per_h (M/M/c lambda)"),
    ("exponential-mean-5pct", "clustersim/config/distributions.py",
     "        return lambda n: gen.exponential(m, n)",
     "        return lambda n: gen.exponential(m * 1.05, n)",
     "exponential durations 5% longer than their mean (M/M/c 1/mu)"),
    ("lognormal-p95", "clustersim/config/distributions.py",
     "        return math.log(self.p90 / self.median) / Z90",
     "        return math.log(self.p90 / self.median) / 1.6448536269514722",
     "lognormal sigma from the 95% quantile (p90 is really p95)"),
    ("size-mix-uniform", "clustersim/workload/synthetic.py",
     "        sizes = Draws(lambda n: counts[gen_s.choice(len(counts), size=n, p=probs)])\n    durations = Draws(cls.duration.sampler(gen_d))\n    name = cls.name\n    t = 0.0",
     "        sizes = Draws(lambda n: counts[gen_s.choice(len(counts), size=n)])\n    durations = Draws(cls.duration.sampler(gen_d))\n    name = cls.name\n    t = 0.0",
     "GPU counts drawn uniformly, ignoring their probabilities (Poisson path)"),
    ("lead-normal-p90-17w", "clustersim/config/supply.py",
     '    "normal": {"kind": "lognormal", "median": 12 * WEEK, "p90": 16 * WEEK},',
     '    "normal": {"kind": "lognormal", "median": 12 * WEEK, "p90": 17 * WEEK},',
     "normal market p90 lead time 17 weeks instead of 16"),
    ("lead-tight-median-36w", "clustersim/config/supply.py",
     '    "tight": {"kind": "lognormal", "median": 40 * WEEK, "p90": 52 * WEEK},',
     '    "tight": {"kind": "lognormal", "median": 36 * WEEK, "p90": 52 * WEEK},',
     "tight market median lead time 36 weeks instead of 40"),
    ("wait-from-last-restart", "clustersim/engine/core.py",
     "        if job.start_s is None:\n            job.start_s = now",
     "        if True:\n            job.start_s = now",
     "a restart overwrites the first start: waits run to the last restart"),
    ("wait-percentile-nearest", "clustersim/results/summary.py",
     "            out[k] = float(np.percentile(values, float(k[1:])))",
     "            out[k] = float(np.percentile(values, float(k[1:]), method=\"nearest\"))",
     "wait and JCT percentiles without interpolation"),
    ("offered-gpu-s-by-count", "clustersim/results/summary.py",
     '    gpu_s = jobs["num_gpus"].to_numpy(float) * jobs["duration_s"].to_numpy(float)  # GPU-seconds asked for',
     '    gpu_s = jobs["num_gpus"].to_numpy(float) * 3600.0  # GPU-seconds asked for',
     "GPU-seconds asked for ignore the duration (offered load, weighted waits, shares)"),
    ("utilisation-window-from-0", "clustersim/results/summary.py",
     '    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), warmup, horizon)\n    up =',
     '    busy = step_integral(t, timeseries["busy_gpus"].to_numpy(float), 0.0, horizon) * (horizon - warmup) / horizon\n    up =',
     "busy GPU-seconds averaged over the whole run, not [warmup, horizon]"),
    ("nodes-down-no-detection", "clustersim/report/analysis/failures.py",
     "    total = detection\n",
     "    total = detection / 2\n",
     "Little's law down time counts half the detection time"),
    ("useful-gpu-hours-by-duration", "clustersim/results/summary.py",
     '    useful = float(np.sum(useful_s * gpus))',
     '    useful = float(np.sum(jobs["duration_s"].to_numpy(float) * gpus))',
     "useful GPU-hours = requested work, not work kept (running jobs counted in full)"),
]


def copy_repo(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    ignore = shutil.ignore_patterns(".git", "reports", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")
    shutil.copytree(REPO, work, ignore=ignore)


def run_tests(work: Path, first: bool, timeout: float) -> tuple[bool, list[str], float, str]:
    env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1", "CLUSTERSIM_NO_SHRINK": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *(["-x"] if first else []), *SUBSET]
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, ["(timeout)"], time.time() - t0, ""
    failed = sorted(set(re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.M)))
    errors = sorted(set(re.findall(r"^ERROR (\S+)", proc.stdout, flags=re.M)))
    return proc.returncode != 0, failed + errors, time.time() - t0, proc.stdout[-3000:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/clustersim-mutants"))
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--first", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    work = args.work.resolve()
    if work == REPO or REPO in work.parents:
        raise SystemExit("--work must be outside the repository")
    copy_repo(work)
    env = {**os.environ, "PYTHONPATH": str(work)}
    where = subprocess.run([sys.executable, "-c", "import clustersim; print(clustersim.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(work)):
        raise SystemExit(f"the copy's clustersim is not the one imported: {where}")
    ok, failed, secs, tail = run_tests(work, args.first, args.timeout)
    print(f"unmutated: {'FAILS' if ok else 'passes'} in {secs:.0f} s {failed}", flush=True)
    if ok:
        print(tail)
        raise SystemExit("the test subset must pass on the unmutated copy")
    results = []
    for mid, rel, old, new, what in MUTANTS:
        if args.only and mid not in args.only:
            continue
        path = work / rel
        pristine = (REPO / rel).read_text()
        if pristine.count(old) != 1:
            results.append({"id": mid, "file": rel, "what": what, "status": "not applied", "killed_by": [], "seconds": 0})
            print(f"{mid}: NOT APPLIED ({pristine.count(old)} matches)", flush=True)
            continue
        path.write_text(pristine.replace(old, new))
        try:
            killed, failed, secs, _ = run_tests(work, args.first, args.timeout)
        finally:
            path.write_text(pristine)
        status = "killed" if killed else "survived"
        results.append({"id": mid, "file": rel, "what": what, "status": status, "killed_by": failed, "seconds": round(secs)})
        print(f"{mid}: {status} in {secs:.0f} s; {len(failed)} failing: {failed[:6]}", flush=True)
    (work / "mutants.json").write_text(json.dumps(results, indent=1))
    lines = ["| mutant | what | result | killed by |", "|---|---|---|---|"]
    for r in results:
        killers = ", ".join(Path(k.split("::", 1)[0]).stem + "::" + k.split("::", 1)[1] if "::" in k else k
                            for k in r["killed_by"][:4])
        more = f" (+{len(r['killed_by']) - 4} more)" if len(r["killed_by"]) > 4 else ""
        lines.append(f"| `{r['id']}` | {r['what']} | {r['status']} | {killers}{more} |")
    (work / "mutants.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
