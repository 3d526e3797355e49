"""The workload layer: where jobs come from, as JobSpec streams in submit order.

Owns: synthetic job classes (``synthetic``), the native trace format (``native``), choosing a
scenario's source and reading any trace file (``sources``), the public trace formats
(``adapters``), load shaping and recorded waits for replay (``replay``) and inference demand
curves (``demand``).

May import: ``clustersim.config``, ``clustersim.results`` and the ground floor (``units``,
``rng``, ``errors``, ``model``, ``checkpoint``); never the engine, report, planning or cli.
Importing this package stays light: pandas and pyarrow are imported only when a trace is read.

Other packages use the names re-exported here; ``clustersim.workload.adapters`` (one trace
format per module) and ``clustersim.workload.demand`` are used as modules.
"""

from clustersim.workload.native import NATIVE_OPTIONAL, NATIVE_REQUIRED, read_native, trace_jobs
from clustersim.workload.replay import (
    Shaping,
    annotate,
    demand_peak,
    parse_window,
    recorded_waits,
    shape,
)
from clustersim.workload.sources import check_workload, load_any, load_trace, scenario_jobs
from clustersim.workload.synthetic import class_jobs, synthetic_jobs

__all__ = [
    "NATIVE_OPTIONAL",
    "NATIVE_REQUIRED",
    "Shaping",
    "annotate",
    "check_workload",
    "class_jobs",
    "demand_peak",
    "load_any",
    "load_trace",
    "parse_window",
    "read_native",
    "recorded_waits",
    "scenario_jobs",
    "shape",
    "synthetic_jobs",
    "trace_jobs",
]
