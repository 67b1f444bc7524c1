"""HTTP routes over the live store, and the operational endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from dispatch.config import Settings
from tests.support.server import RunningService, recv_json, run_service, send_json

pytestmark = pytest.mark.asyncio


async def place(service: RunningService, rider: str, lat: float, lng: float,
                status: str = "available") -> None:
    async with service.rider(rider) as (ws, _):
        await send_json(ws, {"type": "status", "status": status})
        await recv_json(ws)
        await send_json(ws, {"type": "fix", "seq": 1, "lat": lat, "lng": lng,
                             "ts": int(time.time() * 1000)})
        assert (await recv_json(ws))["type"] == "ack"


async def test_nearby_returns_available_riders_nearest_first(service: RunningService) -> None:
    await place(service, "far", 52.53, 13.405)
    await place(service, "near", 52.521, 13.405)
    await place(service, "resting", 52.5201, 13.405, status="on_break")
    async with httpx.AsyncClient(base_url=service.http, headers=service.operator_headers()) as c:
        body = (await c.get("/v1/regions/city/riders/nearby",
                            params={"lat": 52.52, "lng": 13.405, "radius_m": 5000})).json()
        assert [r["rider_id"] for r in body["riders"]] == ["near", "far"]
        assert body["riders"][0]["distance_m"] == pytest.approx(111.2, abs=0.5)
        everyone = (await c.get("/v1/regions/city/riders/nearby", params={
            "lat": 52.52, "lng": 13.405, "any_status": True})).json()
        assert [r["rider_id"] for r in everyone["riders"]] == ["resting", "near", "far"]
        one = (await c.get("/v1/regions/city/riders/near")).json()
        assert one["status"] == "available" and one["last_seq"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 91, "lng": 0}, "lat"),
        ({"lat": 0}, "lng"),
        ({"lat": "north", "lng": 0}, "lat"),
        ({"lat": 0, "lng": 0, "radius_m": -5}, "radius_m"),
        ({"lat": 0, "lng": 0, "k": 0}, "k"),
        ({"lat": 0, "lng": 0, "status": "asleep"}, "status"),
        ({"lat": 0, "lng": 0, "radius_m": 20_001}, "radius_m"),  # above the configured limit
        ({"lat": 0, "lng": 0, "k": 201}, "k"),
    ],
)
async def test_bad_nearby_queries_get_422_naming_the_field(
    service: RunningService, params: dict, field: str
) -> None:
    async with httpx.AsyncClient(base_url=service.http, headers=service.operator_headers()) as c:
        response = await c.get("/v1/regions/city/riders/nearby", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_live_queries_need_an_operator_token(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        url = "/v1/regions/city/riders/nearby?lat=0&lng=0"
        assert (await c.get(url)).status_code == 401
        rider = {"Authorization": f"Bearer {service.rider_token('r1')}"}
        assert (await c.get(url, headers=rider)).status_code == 403
        junk = {"Authorization": "Bearer junk"}
        assert (await c.get(url, headers=junk)).json()["error"]["code"] == "auth.invalid_token"


async def test_unknown_rider_is_404(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http, headers=service.operator_headers()) as c:
        response = await c.get("/v1/regions/city/riders/nobody")
    assert response.status_code == 404 and response.json()["error"]["field"] == "rider_id"


async def test_readyz_reports_redis_down(make_settings: Callable[..., Settings], tmp_path) -> None:
    settings = make_settings(redis_url=f"unix://{tmp_path}/nothing.sock", redis_timeout_s=0.5)
    async with run_service(settings) as service, httpx.AsyncClient(base_url=service.http) as c:
        assert (await c.get("/healthz")).status_code == 200
        response = await c.get("/readyz")
        checks = response.json()["checks"]
        assert response.status_code == 503
        assert checks["redis"] != "ok" and checks["database"] == "ok"


async def test_readyz_is_ready_when_redis_and_database_answer(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        response = await c.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "database": "ok"}}
