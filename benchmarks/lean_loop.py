"""A lean FIFO cluster loop: the yardstick the simulator's speed is measured against.

No SimPy, no output, no failures: a heap of completions, a FIFO queue, and per node its free
GPU count indexed by that count. Jobs smaller than a node go best fit (the node with the
fewest free GPUs that holds them); larger ones take whole free nodes (a gang). It reads a
native trace (``submit_s,num_gpus,duration_s``) and prints the number of jobs, their mean wait
and the wall time of the loop alone.

    python benchmarks/lean_loop.py TRACE.csv [--nodes 500] [--gpus-per-node 8]
"""

from __future__ import annotations

import argparse
import csv
import heapq
import time
from collections import deque


def simulate(submit: list[float], gpus: list[int], duration: list[float], nodes: int, per: int) -> float:
    """Run the trace; return the mean wait in seconds."""
    by_free = [set() for _ in range(per + 1)]  # free-GPU count -> nodes with that count
    by_free[per] = set(range(nodes))
    free = [per] * nodes
    running: list[tuple[float, int, tuple[int, ...]]] = []
    queue: deque[int] = deque()
    n, i, waits = len(submit), 0, 0.0
    while i < n or running:
        if running and (i >= n or running[0][0] <= submit[i]):
            now, j, placed = heapq.heappop(running)
            g = gpus[j] if gpus[j] < per else per
            for node in placed:
                f = free[node]
                by_free[f].discard(node)
                free[node] = f + g
                by_free[f + g].add(node)
        else:
            now = submit[i]
            queue.append(i)
            i += 1
        while queue:
            j = queue[0]
            g = gpus[j]
            if g < per:
                node = next((next(iter(s)) for s in by_free[g:] if s), None)
                if node is None:
                    break
                f = free[node]
                by_free[f].remove(node)
                free[node] = f - g
                by_free[f - g].add(node)
                placed = (node,)
            else:
                k = -(-g // per)
                whole = by_free[per]
                if len(whole) < k:
                    break
                placed = tuple(whole.pop() for _ in range(k))
                for node in placed:
                    free[node] = 0
                    by_free[0].add(node)
            queue.popleft()
            waits += now - submit[j]
            heapq.heappush(running, (now + duration[j], j, placed))
    return waits / n if n else 0.0


def read(path: str) -> tuple[list[float], list[int], list[float]]:
    submit, gpus, duration = [], [], []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            submit.append(float(row["submit_s"]))
            gpus.append(int(row["num_gpus"]))
            duration.append(float(row["duration_s"]))
    return submit, gpus, duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    args = parser.parse_args()
    submit, gpus, duration = read(args.trace)
    t0 = time.perf_counter()
    mean_wait = simulate(submit, gpus, duration, args.nodes, args.gpus_per_node)
    loop_s = time.perf_counter() - t0
    print(f"jobs {len(submit)}  mean wait {mean_wait / 60:.2f} min  loop {loop_s:.2f} s  ({len(submit) / loop_s:,.0f} jobs/s)")


if __name__ == "__main__":
    main()
