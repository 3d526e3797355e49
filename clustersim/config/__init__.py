"""The scenario: a frozen pydantic tree, loaded from YAML with ``--set`` overrides.

Submodules: ``base`` (shared pieces), ``scheduler``, ``failures``, ``workload``, ``supply``,
``scenario`` (the ``Scenario`` root) and ``loading`` (the only YAML reader). Everything is
re-exported here: ``from clustersim.config import load_scenario, Scenario``.
"""

from clustersim.config.base import Frozen, OrderTime, When, at_field
from clustersim.config.failures import (
    CheckpointConfig,
    EarlyLifeConfig,
    ExponentialLife,
    FailuresConfig,
    LemonConfig,
    LifeConfig,
    RepairClass,
    WeibullLife,
)
from clustersim.config.loading import (
    apply_override,
    load_scenario,
    read_scenario_dict,
    render_validation_error,
    scenario_from_dict,
    scenario_json_schema,
    scenario_with_overrides,
)
from clustersim.config.scenario import ClusterConfig, Scenario
from clustersim.config.scheduler import (
    BackfillConfig,
    FifoConfig,
    PackConfig,
    PlacementConfig,
    PolicyConfig,
    SchedulerConfig,
    SjfConfig,
    SpreadConfig,
)
from clustersim.config.services import (
    DEEPSEEK_HOURLY,
    AutoscaleConfig,
    DemandConfig,
    InferenceConfig,
    ServiceConfig,
)
from clustersim.config.supply import (
    LEAD_TIME_PRESETS,
    AcceptanceConfig,
    EnergyConfig,
    GpuTypeConfig,
    OrderConfig,
    RentalConfig,
    RetireConfig,
    SupplyConfig,
)
from clustersim.config.workload import JobClass, TraceFormat, WorkloadConfig

__all__ = [
    "DEEPSEEK_HOURLY",
    "AutoscaleConfig",
    "DemandConfig",
    "InferenceConfig",
    "ServiceConfig",
    "LEAD_TIME_PRESETS",
    "AcceptanceConfig",
    "BackfillConfig",
    "CheckpointConfig",
    "ClusterConfig",
    "EarlyLifeConfig",
    "EnergyConfig",
    "ExponentialLife",
    "FailuresConfig",
    "FifoConfig",
    "Frozen",
    "GpuTypeConfig",
    "JobClass",
    "LemonConfig",
    "LifeConfig",
    "OrderConfig",
    "OrderTime",
    "PackConfig",
    "PlacementConfig",
    "PolicyConfig",
    "RentalConfig",
    "RepairClass",
    "RetireConfig",
    "Scenario",
    "SchedulerConfig",
    "SjfConfig",
    "SpreadConfig",
    "SupplyConfig",
    "TraceFormat",
    "WeibullLife",
    "When",
    "WorkloadConfig",
    "apply_override",
    "at_field",
    "load_scenario",
    "read_scenario_dict",
    "render_validation_error",
    "scenario_from_dict",
    "scenario_json_schema",
    "scenario_with_overrides",
]
