"""The scenario: the fleet at time zero, the scheduler, the workload, failures and supply."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from clustersim.config.base import MAX_NODES, Frozen, at_field
from clustersim.config.distributions import Duration
from clustersim.config.failures import FailuresConfig
from clustersim.config.limits import check_sizes
from clustersim.config.maintenance import MaintenanceField
from clustersim.config.power import PowerConfig, check_power
from clustersim.config.scheduler import SchedulerConfig, check_scheduler
from clustersim.config.services import InferenceConfig, ServiceConfig
from clustersim.config.supply import SupplyConfig
from clustersim.config.tenancy import TenancyConfig, check_tenancy
from clustersim.config.topology import TopologyConfig, check_topology
from clustersim.config.verdict import VerdictConfig
from clustersim.config.workload import WorkloadConfig


class ClusterConfig(Frozen):
    """The fleet at time zero."""

    nodes: int = Field(500, ge=1, description=f"number of nodes in service at time zero (at most {MAX_NODES:,})")
    gpus_per_node: int = Field(8, ge=1, le=64, description="GPUs in each node")
    gpu_type: str = Field(
        "A100",
        min_length=1,
        description="GPU type of the fleet at time zero (a name from supply.gpu_types when there is a supply section)",
    )
    topology: TopologyConfig | None = Field(
        None, description="fabric domains (racks, leaves, pods) and the gang locality rule; a flat cluster when absent"
    )

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node


_NAME_FORBIDDEN = re.compile(r"[/\\:\x00-\x1f\x7f]")
NAME_MAX = 120
NAME_MAX_BYTES = 240  # a folder name may hold 255 bytes; reports/<name>-sweep/ adds 6


class Scenario(Frozen):
    """A complete, reproducible description of one simulated cluster and its workload."""

    name: str = Field(
        min_length=1,
        max_length=NAME_MAX,
        description="scenario name; default output folder reports/<name>/, so a name, not a path: no / \\ : "
        "or control characters, not . or ..",
    )
    horizon: Duration = Field(description="how long to simulate")
    warmup: Duration = Field(
        0.0, description="jobs submitted before this are left out of waits; utilisation counts from here"
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="the fleet")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="scheduling")
    workload: WorkloadConfig = Field(description="what jobs arrive")
    failures: FailuresConfig | None = Field(None, description="node failures and repair; off when absent")
    supply: SupplyConfig | None = Field(
        None, description="GPU types, orders, deliveries, retirement, rental and energy; a fixed fleet when absent"
    )

    services: list[ServiceConfig] = Field(
        default_factory=list, description="inference services sharing the fleet with training; none when empty"
    )
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig, description="how services share the fleet (used only with services)"
    )
    verdict: VerdictConfig = Field(default_factory=VerdictConfig, description="which classes must meet the wait target")
    power: PowerConfig | None = Field(None, description="power by state, PUE, facility cap and its enforcement; off when absent")
    tenancy: TenancyConfig | None = Field(
        None, description="teams with quotas, borrowing and reclaim, and job priorities; one shared queue when absent"
    )
    maintenance: MaintenanceField = Field(
        None, description="planned maintenance: a calendar of windows that drain and take nodes down; none when absent"
    )

    @field_validator("name")
    @classmethod
    def _a_name_not_a_path(cls, value: str) -> str:
        bad = _NAME_FORBIDDEN.search(value)
        if bad:
            raise ValueError(
                f"a name, not a path: got {value!r}, which holds {bad.group()!r}; the name is also the output folder "
                "reports/<name>/ (use --out to write elsewhere)"
            )
        if len(value.encode("utf-8")) > NAME_MAX_BYTES:
            raise ValueError(f"at most {NAME_MAX_BYTES} bytes in UTF-8 (it is also a folder name)")
        if value.strip() in (".", "..") or value != value.strip():
            raise ValueError(f"a name, not a path: got {value!r} (no leading or trailing spaces, not . or ..)")
        return value

    @model_validator(mode="after")
    def _times(self) -> Scenario:
        if self.horizon <= 0:
            raise ValueError("horizon must be > 0")
        if self.warmup >= self.horizon:
            raise ValueError(f"warmup ({self.warmup:g} s) must be shorter than horizon ({self.horizon:g} s)")
        if self.failures is not None and self.failures.spare_nodes >= self.cluster.nodes:
            raise ValueError(
                f"failures.spare_nodes ({self.failures.spare_nodes}) must be smaller than "
                f"cluster.nodes ({self.cluster.nodes})"
            )
        self._check_types()
        self._check_services()
        check_power(self)
        check_topology(self)
        check_tenancy(self)
        check_scheduler(self)
        check_sizes(self)
        return self

    def _check_services(self) -> None:
        per = self.cluster.gpus_per_node
        names = set()
        for i, svc in enumerate(self.services):
            if svc.name in names:
                raise at_field(f"services[{i}].name", f"service names must be unique, {svc.name!r} is repeated")
            names.add(svc.name)
            g = svc.gpus_per_replica
            if g > per and g % per:
                raise at_field(
                    f"services[{i}].gpus_per_replica",
                    f"{g} GPUs is more than one node ({per}) and not a multiple of {per}",
                )
        reserved = self.inference.reserved_nodes
        if reserved:
            if not self.services:
                raise at_field("inference.reserved_nodes", "reserved nodes need at least one service")
            if self.supply is not None:
                raise at_field("inference.reserved_nodes", "not supported with a supply section (yet); use 0")
            spares = self.failures.spare_nodes if self.failures is not None else 0
            if reserved + spares >= self.cluster.nodes:
                raise at_field(
                    "inference.reserved_nodes",
                    f"{reserved} reserved nodes leave no node for training (cluster.nodes {self.cluster.nodes})",
                )

    def known_types(self) -> list[str]:
        """GPU type names a job or an order may name."""
        if self.supply is None:
            return [self.cluster.gpu_type]
        return list(self.supply.gpu_types)

    def _check_types(self) -> None:
        known = self.known_types()
        if self.supply is not None:
            types = self.supply.gpu_types
            own = self.cluster.gpu_type
            if own not in types:
                raise at_field("cluster.gpu_type", f"unknown GPU type {own!r}; supply.gpu_types has: {', '.join(types)}")
            if types[own].gpus_per_node != self.cluster.gpus_per_node:
                raise at_field(
                    "cluster.gpus_per_node",
                    f"{self.cluster.gpus_per_node} differs from supply.gpu_types.{own}.gpus_per_node "
                    f"({types[own].gpus_per_node}); give the same value",
                )
            for i, r in enumerate(self.supply.rental):
                per = types[r.gpu_type or own].gpus_per_node
                if r.gpus % per:
                    raise at_field(
                        f"supply.rental[{i}].gpus", f"{r.gpus} GPUs is not a whole number of {per}-GPU nodes"
                    )
        for i, cls in enumerate(self.workload.classes or ()):
            if cls.gpu_type != "any" and cls.gpu_type not in known:
                raise at_field(
                    f"workload.classes[{i}].gpu_type",
                    f"unknown GPU type {cls.gpu_type!r}; expected `any` or one of: {', '.join(known)}",
                )
