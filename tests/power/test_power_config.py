"""Bad power input: one message naming the field, exit code 2 from the CLI."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from clustersim.cli.app import app
from clustersim.config import scenario_from_dict
from clustersim.errors import ScenarioError

BASE = {
    "name": "power-bad",
    "horizon": "6h",
    "cluster": {"nodes": 10, "gpus_per_node": 8},
    "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 2, "gpus": 1, "duration": "1h"}]},
    "power": {"mode": "admission", "cap_mw": 0.5},
}
# idle A100 fleet: 10 x (8 x 60 + 1,700) W = 21.8 kW, x PUE 1.3 = 28.34 kW

CASES = [
    ("cap below idle", {"cap_mw": 0.02}, "power.cap_mw", "below the idle fleet's draw"),
    ("window below idle", {"windows": [{"months": [7], "cap_mw": 0.01}]}, "power.windows[0].cap_mw", "below the idle"),
    ("negative power", {"gpu_types": {"A100": {"idle_w": -5, "busy_w": 400}}}, "power.gpu_types.A100.idle_w", "greater than or equal to 0"),
    ("busy below idle", {"gpu_types": {"A100": {"idle_w": 500, "busy_w": 400}}}, "power.gpu_types.A100.busy_w", "below idle"),
    ("negative node", {"down_node_w": -1}, "power.down_node_w", "greater than or equal to 0"),
    ("pue below 1", {"pue": 0.9}, "power.pue", "at least 1"),
    ("hourly pue below 1", {"pue": {"hourly": [1.2] * 23 + [0.95]}}, "power.pue.hourly[23]", "at least 1"),
    ("overlapping windows", {"windows": [{"name": "summer", "months": [6, 7, 8], "cap_mw": 0.4},
                                         {"name": "peak", "hours": [14, 18], "cap_mw": 0.45}]},
     "power.windows[1]", "overlaps windows[0]"),
    ("bad hours", {"windows": [{"hours": [18, 14], "cap_mw": 0.4}]}, "power.windows.0.hours", "start < end"),
    ("admission without cap", {"cap_mw": None}, "power.cap_mw", "needs a cap"),
    ("unknown key", {"cap_MW": 3}, "power.cap_MW", "unknown key"),
    ("capping without cap", {"mode": "capping", "cap_mw": None}, "power.cap_mw", "mode `capping` needs a cap"),
    ("curve not ending at full power", {"mode": "capping", "capping": {"training": [[0.5, 0.5], [0.9, 0.9]]}},
     "power.capping.training", "last point must be [1, 1]"),
    ("falling curve", {"mode": "capping", "capping": {"training": [[0.5, 0.6], [0.7, 0.5], [1, 1]]}},
     "power.capping.training", "must not fall"),
    ("curve floor below idle", {"mode": "capping", "capping": {"training": [[0.1, 0.1], [1, 1]]}},
     "power.capping.training[0]", "below the idle draw"),
    ("unknown order", {"mode": "capping", "capping": {"order": "random"}}, "power.capping.order", "smallest_first"),
]


def _scenario(change: dict) -> dict:
    data = copy.deepcopy(BASE)
    for k, v in change.items():
        if v is None:
            data["power"].pop(k, None)
        else:
            data["power"][k] = v
    return data


@pytest.mark.parametrize(("name", "change", "path", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_power_input_names_the_field(name, change, path, text, tmp_path):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_scenario(change))
    message = " ".join(str(err.value).split())
    assert text in message and (path in message or path.replace(".0.", "[0].") in message), message
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(_scenario(change)))
    result = CliRunner().invoke(app, ["validate", str(file)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    flat = " ".join(result.output.split())
    assert text in flat, result.output
    assert path.replace(".0.", "[0].") in flat or path in flat, result.output


def test_good_power_input_and_defaults():
    sc = scenario_from_dict(_scenario({"windows": [{"name": "summer", "months": [7, 8], "cap_mw": 0.4},
                                                   {"name": "peak", "months": [1], "hours": [14, 18], "cap_mw": 0.45}]}))
    p = sc.power
    assert p.gpu_types["H100"].busy_w == 700 and p.gpu_types["A100"].busy_w == 400
    assert p.cap_at(0) == 500_000
    assert p.cap_at(14 * 3600) == 450_000  # 2024-01-01, 14:00
    assert p.cap_at(183 * 86400) == 400_000  # 2024-07-02
    assert p.pue_at(0) == 1.3


@pytest.mark.parametrize(("change", "text"), [
    ({"scheduler": {"policy": "conservative"}}, "not conservative"),
])
def test_unsupported_combinations_are_refused(change, text):
    with pytest.raises(ScenarioError, match=text):
        scenario_from_dict({**_scenario({}), **change})


# With a supply section: 10 A100 nodes at time 0 (idle 2,180 W each) and an order of 4 H100
# nodes (idle 8 x 80 + 2,300 = 2,940 W; in burn-in, busy: 8 x 700 + 2,300 = 7,900 W).
SUPPLY = {"orders": [{"at": "1d", "nodes": 4, "gpu_type": "H100", "lead_time": "2d", "burn_in": "1d"}]}
FLEET_BURN = 10 * 2180 + 4 * 7900  # every ordered node counted at its burn-in draw (busy)
FLEET_IDLE = 10 * 2180 + 4 * 2940


SUPPLY_CASES = [
    ("type an order delivers has no power", {"gpu_types": {"A100": {"idle_w": 60, "busy_w": 400}}}, {},
     "power.gpu_types", "no power given for GPU type 'H100' (supply.orders[0].gpu_type)"),
    ("substitute delivered instead", {"start_date": "2023-01-01", "gpu_types": {"A100": {"idle_w": 60, "busy_w": 400},
                                                                                  "H800": {"idle_w": 80, "busy_w": 700}}},
     {"start_date": "2023-01-01", "gpu_types": {"A100": {}, "H800": {"orderable_until": "2023-10-17", "substitute": "H100"},
                                                "H100": {"speed": 2.5}},
      "orders": [{"at": "2023-11-01", "nodes": 4, "gpu_type": "H800", "lead_time": "2d"}]},
     "power.gpu_types", "no power given for GPU type 'H100' (supply.orders[0].gpu_type)"),
    ("cap below the delivered fleet, burn-in busy", {"cap_mw": (FLEET_BURN - 1) / 1e6, "pue": 1.0}, {},
     "power.cap_mw", "below the idle fleet's draw"),
    ("cap below the delivered fleet idle", {"cap_mw": (FLEET_IDLE - 1) / 1e6, "pue": 1.0, "burn_in": "idle"}, {},
     "power.cap_mw", "14 nodes at full delivery, idle"),
    ("window below the delivered fleet", {"pue": 1.0, "burn_in": "off", "cap_mw": 1.0,
                                          "windows": [{"months": [2], "cap_mw": (FLEET_IDLE - 1) / 1e6}]}, {},
     "power.windows[0].cap_mw", "below the idle fleet's draw"),
    ("two calendars", {"start_date": "2024-07-01"}, {"start_date": "2024-01-01"},
     "power.start_date", "differs from supply.start_date"),
]


def _supply_scenario(power: dict, supply: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["power"].update(power)
    data["supply"] = {**copy.deepcopy(SUPPLY), **supply}
    return data


@pytest.mark.parametrize(("name", "power", "supply", "path", "text"), SUPPLY_CASES, ids=[c[0] for c in SUPPLY_CASES])
def test_bad_power_with_supply_names_the_field(name, power, supply, path, text, tmp_path):
    data = _supply_scenario(power, supply)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    message = " ".join(str(err.value).split())
    assert text in message and path in message, message
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(data, default_flow_style=False))
    result = CliRunner().invoke(app, ["validate", str(file)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert text in " ".join(result.output.split()), result.output


def test_the_delivered_fleet_at_the_cap_is_accepted():
    # exactly the bound: every node at full delivery, the ordered ones at their burn-in draw
    scenario_from_dict(_supply_scenario({"cap_mw": FLEET_BURN / 1e6, "pue": 1.0}, {}))
    sc = scenario_from_dict(_supply_scenario({"cap_mw": FLEET_IDLE / 1e6, "pue": 1.0, "burn_in": "off"}, {}))
    assert sc.power.burn_in == "off"
    # rented capacity is off-site: its type needs no power entry and adds nothing to the bound
    rented = {"rental": {"gpus": 800, "gpu_type": "domestic", "from": "2d"}}
    scenario_from_dict(_supply_scenario({"cap_mw": FLEET_BURN / 1e6, "pue": 1.0,
                                         "gpu_types": {"A100": {"idle_w": 60, "busy_w": 400, "node_w": 1700},
                                                       "H100": {"idle_w": 80, "busy_w": 700, "node_w": 2300}}},
                                        rented))
