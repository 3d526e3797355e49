"""The columns of a run's tables: names every writer and reader of a run directory shares."""

from __future__ import annotations

LEVEL_COLUMNS = (
    "t_s",
    "busy_gpus",
    "up_gpus",
    "running_jobs",
    "queued_jobs",
    "queued_gpus",
    "down_nodes",
)
# Capacity by stage (see supply.py); constant without a supply section: the fleet at time zero
# in service, nothing ordered, in transit, in burn-in, retired or rented.
STAGE_COLUMNS = (
    "ordered_gpus",
    "in_transit_gpus",
    "burn_in_gpus",
    "in_service_gpus",
    "retired_gpus",
    "rented_gpus",
)
# Columns of a one-pool run; with several pools each pool adds ``<column>.<pool>`` for busy and
# up GPUs and for every stage column.
TIMESERIES_COLUMNS = LEVEL_COLUMNS  # every run; STAGE_COLUMNS follow in runs with supply
JOB_COLUMNS = (
    "job_id",
    "job_class",
    "num_gpus",
    "submit_s",
    "start_s",
    "end_s",
    "wait_s",
    "duration_s",
    "state",
    "reason",
    "restarts",
    "work_done_s",
    "lost_s",
    "overhead_s",
    "lost_gpu_s",
    "overhead_gpu_s",
    "gpu_request",
    "gpu_type",
    "useful_s",
)
EVENT_COLUMNS = {
    "t_s": float,
    "kind": str,
    "node_id": "int64",
    "cause": str,
    "repair_class": str,
    "down_s": float,
    "jobs_hit": "int64",
    "gpu_type": str,
    "gpus": "int64",
    "order_id": "int64",
    "batch": "int64",
    "late_s": float,
    "detail": str,
}
STATES = ("finished", "running", "queued", "rejected")
