"""Time the core engine: 500 x 8 GPUs, ~80% offered load, sizes 1..1,024 GPUs skewed small.

Prints jobs/s, events/s, wall time and peak memory per policy and job count. Each case runs
in a fresh subprocess so peak memory (VmHWM) is that case's alone; the baseline is the
same process after imports (pandas and pyarrow included: the result tables need them, a
fixed cost) and before the run. ``B/job`` is the peak above it per job once the result tables
are built, ``run B/job`` the engine's own peak (after the run, before the tables); with several
job counts the bytes per extra job are printed too.

    python benchmarks/bench_core.py                   # fifo and backfill, 200k and 400k jobs
    python benchmarks/bench_core.py --jobs 50000 --policies fifo
    python benchmarks/bench_core.py --failures        # the same with the default failure model
    python benchmarks/bench_core.py --types           # the 500 nodes as two GPU types (pools)
    python benchmarks/bench_core.py --load 1.3 --jobs 100000 400000   # overload: the queue grows
    python benchmarks/bench_core.py --jobs 200000 400000 800000 1600000 --policies fifo   # each doubling
    python benchmarks/bench_core.py --nodes 500 12500 --jobs 1000000   # cost per job vs cluster size
    python benchmarks/bench_core.py --teams 4 --policies fairshare     # jobs of 4 teams (tenancy)
    python benchmarks/bench_core.py --policies las --suspend           # preempted jobs keep their work
    python benchmarks/bench_core.py --policies las --no-promotion      # las without starvation promotion

With several ``--nodes``, each size gets the same offered load (the arrival rate scales with the
GPUs) and the same job count (so a bigger cluster covers a shorter horizon): the cost per job
should not depend on the size. Each size also times the lean loop (``lean_loop.py``) on the
jobs the run drew, as a yardstick: what a bigger cluster costs any program on this machine
(caches), so what is left is the simulator's own.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

SIZES = {1: 0.548, 2: 0.08, 4: 0.08, 8: 0.22, 16: 0.025, 32: 0.02, 64: 0.012, 128: 0.007, 256: 0.004, 512: 0.0025, 1024: 0.0015}
MEDIAN_S, P90_S = 600.0, 3 * 3600.0
NODES = 500
GPUS = NODES * 8  # the default cluster's GPUs (bench_scale's trace)
LOAD = 0.8


def policy_dict(policy: str, suspend: bool, promote: bool):
    """The scheduler's policy: its name alone, or with ``preemption: suspend`` and, for las,
    ``promote_knob: null``."""
    out: dict = {"kind": policy}
    if suspend:
        out["preemption"] = "suspend"
    if not promote:
        out["promote_knob"] = None
    return out if len(out) > 1 else policy


def scenario_dict(jobs: int, policy: str, failures: bool, types: bool = False, load: float = LOAD,
                  nodes: int = NODES, teams: int = 0, suspend: bool = False, promote: bool = True) -> dict:
    z90 = 1.2815515655446004
    sigma = math.log(P90_S / MEDIAN_S) / z90
    mean_d = MEDIAN_S * math.exp(sigma**2 / 2)
    mean_g = sum(k * p for k, p in SIZES.items())
    rate_per_s = load * nodes * 8 / (mean_g * mean_d)
    horizon = jobs / rate_per_s
    data = {
        "name": "bench",
        "horizon": horizon,
        "cluster": {"nodes": nodes, "gpus_per_node": 8},
        "scheduler": {"policy": policy_dict(policy, suspend, promote)},
        "workload": {
            "classes": [
                {
                    "name": "mix",
                    "arrival_rate_per_h": rate_per_s * 3600,
                    "gpus": SIZES,
                    "duration": {"kind": "lognormal", "median": MEDIAN_S, "p90": P90_S},
                }
            ]
        },
    }
    if failures:
        data["failures"] = {}
    if teams:
        # the same arrivals split evenly over one class per team; quotas of 0 with unlimited
        # borrowing, so no reclaim preemptions: only the order (fairshare weights 1..teams) differs
        (mix,) = data["workload"]["classes"]
        data["workload"]["classes"] = [
            {**mix, "name": f"team{i}", "arrival_rate_per_h": mix["arrival_rate_per_h"] / teams} for i in range(teams)
        ]
        data["tenancy"] = {
            "teams": [{"name": f"t{i}", "quota": 0, "weight": i + 1, "classes": [f"team{i}"]} for i in range(teams)]
        }
    if types:
        # the same 500 nodes as two pools of two types of the same speed (so the same load),
        # 250 nodes at time 0 and 250 in service at once: jobs of type `any` try the first
        # listed type, then the other (the typed placement and EASY paths)
        data["cluster"] = {"nodes": nodes // 2, "gpus_per_node": 8, "gpu_type": "X"}
        data["supply"] = {
            "gpu_types": {"X": {}, "Y": {}},
            "orders": [{"at": 0, "nodes": nodes - nodes // 2, "gpu_type": "Y", "lead_time": 0, "burn_in": 0}],
            "acceptance": {"fail_fraction": 0},
        }
    return data


def peak_kb() -> int:
    """Peak resident memory of this process in KiB (VmHWM: unlike ru_maxrss, not inherited
    from the parent across fork and exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def one_case(jobs: int, policy: str, failures: bool, types: bool = False, load: float = LOAD,
             nodes: int = NODES, teams: int = 0, suspend: bool = False, lean: bool = False,
             promote: bool = True) -> dict:
    import time

    import pandas  # noqa: F401  the result tables' libraries: a fixed cost, so in the baseline
    import pyarrow.compute  # noqa: F401

    from clustersim.config import scenario_from_dict
    from clustersim.engine.core import Engine
    from clustersim.rng import Streams

    scenario = scenario_from_dict(scenario_dict(jobs, policy, failures, types, load, nodes, teams, suspend, promote))
    base_kb = peak_kb()
    t0 = time.perf_counter()
    engine = Engine(scenario, Streams(0))
    engine.run()
    t1 = time.perf_counter()
    run_kb = peak_kb()  # the engine's own peak, before the result tables are built
    result = engine.result()
    t2 = time.perf_counter()
    peak = peak_kb()
    submitted = result.summary["jobs"]["submitted"]
    events = engine.env.scheduled  # SimPy numbers every scheduled event
    row = {
        "policy": policy,
        "failures": failures,
        "types": types,
        "nodes": nodes,
        "jobs": submitted,
        "sim_s": t1 - t0,
        "wall_s": t2 - t0,
        "jobs_per_s": submitted / (t2 - t0),
        "events_per_s": events / (t1 - t0),
        "events": events,
        "peak_mb": peak / 1024,
        "above_kb": peak - base_kb,
        "bytes_per_job": (peak - base_kb) * 1024 / submitted,
        "run_bytes_per_job": (run_kb - base_kb) * 1024 / submitted,
        "utilisation": result.summary["gpu_utilisation"],
        "p90_wait_h": (result.summary["wait_s"]["p90"] or 0) / 3600,
        "lean_s": None,
    }
    if lean:
        # the yardstick on the same jobs and cluster (after the peak is read): what a bare FIFO
        # loop pays here, i.e. the share of a change in cost per job any program would see
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from lean_loop import simulate as lean_simulate

        table = result.jobs.sort_values("submit_s", kind="stable")
        columns = (table["submit_s"].tolist(), table["num_gpus"].tolist(), table["duration_s"].tolist())
        del result, engine, table
        t3 = time.perf_counter()
        lean_simulate(*columns, nodes, 8)
        row["lean_s"] = time.perf_counter() - t3
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="*", default=[200_000, 400_000])
    parser.add_argument("--policies", nargs="*", default=["fifo", "backfill"])
    parser.add_argument("--failures", action="store_true", help="turn on the default failure model")
    parser.add_argument("--types", action="store_true", help="two GPU types (A100 + H800 pools), jobs of type any")
    parser.add_argument("--load", type=float, default=LOAD,
                        help="offered load (default 0.8; above 1 the queue grows all run: 1.3 checks the cost "
                        "per job does not grow with it)")
    parser.add_argument("--nodes", type=int, nargs="*", default=[NODES],
                        help="cluster sizes in 8-GPU nodes (default 500), each at the same load and job count")
    parser.add_argument("--teams", type=int, default=0,
                        help="split the jobs over this many teams (needed by --policies fairshare)")
    parser.add_argument("--suspend", action="store_true",
                        help="srtf/las: preempted jobs keep all their work (Tiresias' own rule; default: requeue)")
    parser.add_argument("--no-promotion", action="store_true",
                        help="las: no starvation promotion (promote_knob: null), to tell the promotions' own "
                        "events from the policy's cost")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        jobs, policy, failures, types, load, nodes, teams, suspend, lean, promote = args.case.split(":")
        print(json.dumps(one_case(int(jobs), policy, failures == "1", types == "1", float(load), int(nodes), int(teams),
                                  suspend == "1", lean == "1", promote == "1")))
        return
    if args.no_promotion and args.policies != ["las"]:
        parser.error("--no-promotion is a las setting: add --policies las")
    if "fairshare" in args.policies and not args.teams:
        parser.error("the fairshare policy orders jobs by team: add --teams N")
    rows = []
    print(f"{'policy':9} {'fail':>4} {'type':>4} {'nodes':>6} {'jobs':>8} {'wall s':>7} {'jobs/s':>8} {'events/s':>9} {'peak MB':>8} {'B/job':>6} {'run B/job':>9} {'util':>5} {'p90 wait h':>10}")
    for policy in args.policies:
        for nodes in args.nodes:
            for jobs in args.jobs:
                case = (f"{jobs}:{policy}:{int(args.failures)}:{int(args.types)}:{args.load}:{nodes}:{args.teams}:"
                        f"{int(args.suspend)}:{int(len(args.nodes) > 1)}:{int(not args.no_promotion)}")
                out = subprocess.run([sys.executable, __file__, "--case", case], check=True, capture_output=True, text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r["asked"] = jobs
                rows.append(r)
                print(f"{r['policy']:9} {str(r['failures'])[0]:>4} {str(r['types'])[0]:>4} {r['nodes']:>6} {r['jobs']:>8} {r['wall_s']:7.2f} {r['jobs_per_s']:8.0f} {r['events_per_s']:9.0f} {r['peak_mb']:8.0f} {r['bytes_per_job']:6.0f} {r['run_bytes_per_job']:9.0f} {r['utilisation']:5.2f} {r['p90_wait_h']:10.2f}")
    for policy in args.policies:
        for nodes in args.nodes:
            mine = sorted((r for r in rows if r["policy"] == policy and r["nodes"] == nodes), key=lambda r: r["jobs"])
            for a, b in zip(mine, mine[1:], strict=False):  # each step up in job count
                print(f"{policy} on {nodes} nodes, {a['jobs']} -> {b['jobs']} jobs: {b['jobs'] / a['jobs']:.1f}x the jobs "
                      f"took {b['wall_s'] / a['wall_s']:.2f}x the wall time "
                      f"(cost per job x{(b['wall_s'] / b['jobs']) / (a['wall_s'] / a['jobs']):.2f}: events per job "
                      # the model's share of a change (more events per job) and the simulator's
                      f"x{(b['events'] / b['jobs']) / (a['events'] / a['jobs']):.2f}, "
                      f"cost per event x{(b['sim_s'] / b['events']) / (a['sim_s'] / a['events']):.2f}); "
                      # the marginal memory of a job, free of fixed costs
                      f"{(b['above_kb'] - a['above_kb']) * 1024 / (b['jobs'] - a['jobs']):.0f} bytes per extra job")
        for jobs in args.jobs:
            mine = sorted((r for r in rows if r["policy"] == policy and r["asked"] == jobs), key=lambda r: r["nodes"])
            if len(mine) >= 2:
                us = [1e6 * r["wall_s"] / r["jobs"] for r in mine]
                sizes = " / ".join(f"{r['nodes']} nodes {u:.1f}" for r, u in zip(mine, us, strict=True))
                lean = [1e6 * r["lean_s"] / r["jobs"] for r in mine]
                yard = " / ".join(f"{u:.2f}" for u in lean)
                print(f"{policy}, ~{jobs} jobs: us per job {sizes} (largest / smallest x{us[-1] / us[0]:.2f}); "
                      f"the lean loop on the same jobs {yard} (x{lean[-1] / lean[0]:.2f}), "
                      f"so x{(us[-1] / us[0]) / (lean[-1] / lean[0]):.2f} beyond it")

if __name__ == "__main__":
    main()
