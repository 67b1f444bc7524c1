"""A short live run against a real service: every order placed ends delivered, failed or
cancelled (none lost), and the report's counts match the service's records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dispatch.config import Settings
from simulators.city import CityParams, build_scenario
from simulators.live import report
from simulators.live.params import LiveParams
from simulators.live.runner import Target, run_live
from tests.support.server import run_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow,
              pytest.mark.timeout(900)]  # ~80 s alone; more on a loaded machine

START_S = 11.5 * 3600
SPEED = 60.0


async def test_a_short_live_run_loses_no_order_and_agrees_with_the_service(
    make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    city = CityParams(radius_km=3.0, merchants=10, customers=200, riders=20, orders=30.0,
                      start_s=START_S, end_s=START_S + 20 * SPEED, full_shifts=True,
                      decline_share=0.1)
    scenario = build_scenario(city, seed=11)
    areas = tmp_path / "areas.geojson"
    areas.write_text(json.dumps(scenario.area_geojson()), encoding="utf-8")
    settings = make_settings(service_areas_path=areas, rider_accounts_required=True)
    async with run_service(settings) as service:
        operator = service.signer.mint("sim-ops", "operator")
        record = await run_live(Target(service.http, operator), scenario,
                                LiveParams(speed=SPEED, connect_per_s=50.0))
    built = report.clean(report.build(record))
    checked = built["reconciliation"]

    assert checked["match"], checked
    assert built["lost"] == 0
    assert sum(checked["service_states"].values()) == built["orders"] == len(scenario.orders)
    assert set(checked["service_states"]) <= {"delivered", "failed", "cancelled"}
    assert checked["service_states"].get("delivered", 0) == built["delivered"]
    assert checked["service_states"].get("failed", 0) == built["failed"] >= 1
    assert built["delivered_share"] >= 0.5
    assert built["protocol_errors"] == 0, (built["error_frames"], built["unexpected_closes"])
    assert built["simulator_crashes"] == []
    assert built["assignment_latency_p50_s"] is not None
    # Every fix is acknowledged, but for those in flight (or buffered offline) at the close.
    assert built["fixes_recorded"] - 3 * len(scenario.riders) <= built["fixes_acked"] <= built[
        "fixes_recorded"]
    assert built["km_per_order"] > 0 and built["click_to_door_mean_min"] > 0
