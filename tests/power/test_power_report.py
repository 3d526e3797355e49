"""The report's power section on a small capping run: the table rows, the figure, and the
jobs the cap slowed most, written from a real run directory."""

from __future__ import annotations

from power_helpers import run, scenario, spec

from clustersim.report.build import build_report
from clustersim.results.rundir import begin_run, write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_power_section_shows_capping(tmp_path):
    # as test_capping_hand: b runs capped to 0.75 for 800 s while a runs
    power = {"mode": "capping", "cap_mw": 5602 / 1e6,
             "capping": {"training": [[0.5, 0.5], [1.0, 1.0]]}}
    sc = scenario(power=power, horizon=5000.0)
    result = run(sc, [spec("a", 0, 8, 1000), spec("b", 200, 8, 900)])
    begin_run(tmp_path, sc, 0)
    write_run(tmp_path, result)
    report = build_report(tmp_path).read_text()
    section = report[report.index("## Power"):]
    assert "| Mode | capping |" in section
    assert "| **Jobs slowed by power** (submitted after warm-up) | **1** |" in section
    assert "| GPU-hours run power-capped | 2 |" in section  # 8 GPUs x 800 s = 1.78 h
    assert "| #1 | hand | 8 | 0.00231 days |" in section  # b: the only job capped
    assert "Under `capping`" in section
    png = (tmp_path / "figures" / "power.png").read_bytes()
    assert png.startswith(PNG_MAGIC)


def test_the_report_of_a_growing_fleet_under_a_cap(tmp_path):
    # supply + power: both sections render; the supply section's energy is the power model's
    from test_power_supply import H, order
    from test_power_supply import scenario as supply_scenario

    sc = supply_scenario(orders=[order(2, "B")], power={"mode": "capping", "cap_mw": 0.03},
                         classes=[{"name": "s", "arrival_rate_per_h": 4, "gpus": 8, "duration": "3h"}], horizon=30 * H)
    result = run(sc, seed=1)
    begin_run(tmp_path, sc, 1)
    write_run(tmp_path, result)
    report = build_report(tmp_path).read_text()
    power = report[report.index("## Power"):]
    kwh = result.summary["power"]["energy_kwh"]
    assert result.summary["energy_kwh"] == kwh
    assert f"**{kwh:,.0f} kWh**" in power
    assert f"{kwh:,.0f} kWh (" in report[:report.index("## Power")]  # the supply section's energy row
    assert (tmp_path / "figures" / "power.png").read_bytes().startswith(PNG_MAGIC)
