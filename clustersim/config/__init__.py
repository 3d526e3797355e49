"""The config layer: the scenario as a frozen pydantic tree, loaded from YAML with ``--set``
overrides.

Owns: the scenario format and its validation. Submodules: ``base`` (shared pieces, size
limits), ``strict`` (strict scalars), ``limits`` (sizes a run can hold), ``distributions``
(duration distributions with their samplers, and the empirical-file reader), ``scheduler``,
``failures``, ``workload``, ``services``, ``supply``, ``scenario`` (the ``Scenario`` root),
``loading`` (the only YAML reader) and ``yaml_reader`` (the YAML loader it uses). Everything but the
distributions is re-exported here: ``from clustersim.config import load_scenario, Scenario``.

May import: the ground floor only (``units``, ``rng``, ``errors``, ``model``, ``checkpoint``),
never workload, results, engine, report, planning or cli, not even lazily inside a function:
config says what a scenario is, the layers above say what it does. Importing it does not load
pandas, pyarrow or matplotlib.
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
from clustersim.config.power import CapWindow, GpuPower, PowerConfig, PueProfile
from clustersim.config.scenario import ClusterConfig, Scenario
from clustersim.config.scheduler import (
    BackfillConfig,
    ConservativeConfig,
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
    "CapWindow",
    "GpuPower",
    "PowerConfig",
    "PueProfile",
    "BackfillConfig",
    "ConservativeConfig",
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
