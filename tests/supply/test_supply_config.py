"""The ``supply`` section: defaults cited from calibration 3/7d, presets, dates, round trips,
and bad input turned into exactly one message that names the field."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys

import pytest
import yaml

from clustersim.config import LEAD_TIME_PRESETS, scenario_from_dict
from clustersim.config.distributions import Fixed, Lognormal
from clustersim.errors import ScenarioError

WEEK = 7 * 86400.0
BASE = {
    "name": "x",
    "horizon": "30d",
    "cluster": {"nodes": 4, "gpus_per_node": 8, "gpu_type": "A100"},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 8, "duration": "1h"}]},
}


def with_supply(supply: dict, **top) -> dict:
    data = copy.deepcopy(BASE)
    data["supply"] = supply
    for key, value in top.items():
        data[key] = value
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.yaml")
    return info.value.problems


def test_defaults_are_cited_values():
    s = scenario_from_dict(with_supply({"orders": [{"nodes": 32}]}))
    sup = s.supply
    assert set(sup.gpu_types) == {"A100", "A800", "H100", "H800", "domestic"}
    assert sup.gpu_types["A100"].speed == 1.0 and sup.gpu_types["A800"].speed == 0.95  # F9: 5-10% slower
    assert sup.gpu_types["H100"].speed > 1 and sup.gpu_types["H800"].speed > 1
    assert sup.gpu_types["domestic"].speed < 1
    order = sup.orders[0]
    assert order.at == 0 and order.gpu_type is None and order.batch_nodes is None  # one batch
    assert order.lead_time == Lognormal(kind="lognormal", median=12 * WEEK, p90=16 * WEEK)  # 7d: 12 weeks
    assert order.burn_in == Fixed(kind="fixed", value=14 * 86400.0)  # 7d: 14 days per tranche
    assert order.batch_every == 2 * WEEK  # 7d: 2 weeks apart
    assert sup.acceptance.fail_fraction == 0.03  # 7d: 3%
    assert sup.energy.pue >= 1 and sup.energy.price_per_kwh > 0
    assert s.cluster.gpu_type == "A100"
    assert scenario_from_dict(BASE).supply is None  # optional


def test_lead_time_presets_and_forms():
    s = scenario_from_dict(with_supply({"orders": [
        {"nodes": 4, "lead_time": "tight"},
        {"nodes": 4, "lead_time": "normal"},
        {"nodes": 4, "lead_time": "10w", "burn_in": {"kind": "lognormal", "median": "3d", "p90": "7d"}},
    ]}))
    tight, normal, fixed = s.supply.orders
    assert tight.lead_time == Lognormal(**LEAD_TIME_PRESETS["tight"])
    assert (tight.lead_time.median, tight.lead_time.p90) == (40 * WEEK, 52 * WEEK)  # 7d: 36-52 weeks
    assert normal.lead_time.median == 12 * WEEK
    assert fixed.lead_time == Fixed(kind="fixed", value=10 * WEEK)
    assert isinstance(fixed.burn_in, Lognormal)


def test_dates_need_a_start_date_and_round_trip():
    data = with_supply({
        "start_date": "2023-06-01",
        "gpu_types": {
            "A100": {"speed": 1.0},
            "H800": {"speed": 2.25, "orderable_until": "2023-10-17", "substitute": "domestic"},
            "domestic": {"speed": 0.6},
        },
        "orders": [{"at": "2023-09-01", "nodes": 8, "gpu_type": "H800", "batch_nodes": 4}],
        "rental": {"gpus": 16, "from": "30d", "to": "2023-08-01", "price_per_gpu_hour": 2},
        "retire": [{"at": "2023-07-01", "nodes": 1}],
    })
    s = scenario_from_dict(data)
    sup = s.supply
    assert sup.start_date == dt.date(2023, 6, 1)
    assert sup.seconds(sup.orders[0].at) == 92 * 86400
    assert sup.seconds(sup.gpu_types["H800"].orderable_until) == 138 * 86400
    assert len(sup.rental) == 1 and sup.seconds(sup.rental[0].from_) == 30 * 86400
    # config.json stores model_dump(mode="json", by_alias=True); reading it back is the same
    again = scenario_from_dict(s.model_dump(mode="json", by_alias=True))
    assert again == s
    # a YAML date (parsed by YAML as a date object) works too
    yaml_data = yaml.safe_load(yaml.safe_dump(data).replace("'2023-09-01'", "2023-09-01"))
    assert scenario_from_dict(yaml_data).supply.orders[0].at == dt.date(2023, 9, 1)


@pytest.mark.parametrize(
    ("supply", "top", "field", "says"),
    [
        # an order before time 0 that is not the initial fleet
        ({"orders": [{"at": "-5d", "nodes": 4}]}, {}, "supply.orders[0].at", "before time 0"),
        ({"orders": [{"at": -1, "nodes": 4}]}, {}, "supply.orders[0].at", "`cluster` section"),
        ({"start_date": "2023-06-01", "orders": [{"at": "2023-05-01", "nodes": 4}]}, {}, "supply.orders[0].at",
         "before supply.start_date"),
        # a batch larger than the order
        ({"orders": [{"nodes": 4}, {"nodes": 32, "batch_nodes": 64}]}, {}, "supply.orders[1].batch_nodes",
         "larger than the order"),
        # unknown GPU types, wherever they are named
        ({"orders": [{"nodes": 4, "gpu_type": "H900"}]}, {}, "supply.orders[0].gpu_type", "unknown GPU type 'H900'"),
        ({"rental": [{"gpus": 8, "gpu_type": "X"}]}, {}, "supply.rental[0].gpu_type", "unknown GPU type"),
        ({"retire": [{"at": "1d", "gpu_type": "X"}]}, {}, "supply.retire[0].gpu_type", "unknown GPU type"),
        ({"gpu_types": {"A100": {"substitute": "Z"}}}, {}, "supply.gpu_types.A100.substitute", "unknown GPU type"),
        ({}, {"cluster": {"nodes": 4, "gpu_type": "V100"}}, "cluster.gpu_type", "unknown GPU type 'V100'"),
        ({}, {"workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 8, "duration": "1h",
                                        "gpu_type": "TPU"}]}}, "workload.classes[0].gpu_type", "unknown GPU type 'TPU'"),
        # negative prices or power
        ({"energy": {"price_per_kwh": -0.1}}, {}, "supply.energy.price_per_kwh", "greater than or equal to 0"),
        ({"rental": {"gpus": 8, "price_per_gpu_hour": -2}}, {}, "supply.rental[0].price_per_gpu_hour", "greater than or equal to 0"),
        ({"gpu_types": {"A100": {"unit_cost": -1}}}, {}, "supply.gpu_types.A100.unit_cost", "greater than or equal to 0"),
        ({"gpu_types": {"A100": {"power_idle_w": -50}}}, {}, "supply.gpu_types.A100.power_idle_w", "greater than or equal to 0"),
        ({"gpu_types": {"A100": {"power_busy_w": -1}}}, {}, "supply.gpu_types.A100.power_busy_w", "greater than or equal to 0"),
        # other shapes of bad input
        ({"gpu_types": {"A100": {"speed": 0}}}, {}, "supply.gpu_types.A100.speed", "greater than 0"),
        ({"energy": {"pue": 0.8}}, {}, "supply.energy.pue", "greater than or equal to 1"),
        ({"orders": [{"at": "2023-07-01", "nodes": 4}]}, {}, "supply.orders[0].at", "needs supply.start_date"),
        ({"rental": {"gpus": 12}}, {}, "supply.rental[0].gpus", "whole number of 8-GPU nodes"),
        ({"rental": {"gpus": 8, "from": "5d", "to": "2d"}}, {}, "supply.rental[0].to", "later than"),
        ({"gpu_types": {"A100": {"gpus_per_node": 4}}}, {}, "cluster.gpus_per_node", "differs"),
        ({"orders": [{"nodes": 0}]}, {}, "supply.orders[0].nodes", "greater than or equal to 1"),
        ({"acceptance": {"fail_fraction": 1.5}}, {}, "supply.acceptance.fail_fraction", "less than or equal to 1"),
        ({"orders": [{"nodes": 4, "lead_time": "soon"}]}, {}, "supply.orders[0].lead_time", "expected a duration"),
        ({"orders": [{"nodes": 4, "colour": "red"}]}, {}, "supply.orders[0].colour", "unknown key"),
    ],
)
def test_bad_input_gets_one_message_naming_the_field(supply, top, field, says):
    found = problems(with_supply(supply, **top))
    assert len(found) == 1, found
    where = found[0].split(": ")[0]
    assert where in (field, f"{field}.value"), found
    assert says in found[0], found


def test_cli_validate_prints_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_supply({"orders": [{"nodes": 4}, {"nodes": 8, "batch_nodes": 9}]})))
    proc = subprocess.run(
        [sys.executable, "-m", "clustersim", "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "supply.orders[1].batch_nodes: a batch of 9 nodes is larger than the order (8 nodes)" in out
    assert "Traceback" not in out


def test_schema_documents_the_supply_section():
    from clustersim.config import scenario_json_schema

    schema = scenario_json_schema()
    assert "supply" in schema["properties"]
    defs = schema["$defs"]
    for name in ("SupplyConfig", "OrderConfig", "GpuTypeConfig", "RentalConfig", "RetireConfig", "EnergyConfig",
                 "AcceptanceConfig"):
        for field, prop in defs[name]["properties"].items():
            assert prop.get("description"), (name, field)
