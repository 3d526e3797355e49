"""Plain types shared by the engine: the immutable job request and the job's runtime state."""

from __future__ import annotations

from dataclasses import dataclass

# Job states at the horizon (and during the run).
QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a user asked for: an immutable input row (from a synthetic class or a trace)."""

    job_id: str | None  # None for synthetic jobs: their id is their submission number
    submit_s: float
    num_gpus: int
    duration_s: float
    job_class: str = "trace"
    user: str = ""
    recorded_start_s: float = float("nan")


class Job:
    """A job's runtime state. Slots keep it small: a year of jobs must fit in memory."""

    __slots__ = (
        "spec",
        "seq",
        "state",
        "start_s",
        "end_s",
        "nodes",
        "expected_end_s",
        "token",
        "reason",
    )

    def __init__(self, spec: JobSpec, seq: int):
        self.spec = spec
        self.seq = seq  # submission order: ties in the queue are broken by it
        self.state = QUEUED
        self.start_s = float("nan")
        self.end_s = float("nan")
        self.nodes: tuple[int, ...] = ()
        self.expected_end_s = float("inf")
        self.token = 0  # bumped whenever a scheduled completion becomes stale
        self.reason = ""

    @property
    def num_gpus(self) -> int:
        return self.spec.num_gpus

    @property
    def duration_s(self) -> float:
        return self.spec.duration_s

    def __repr__(self) -> str:
        return f"Job({self.spec.job_id!r}, gpus={self.spec.num_gpus}, state={self.state})"
