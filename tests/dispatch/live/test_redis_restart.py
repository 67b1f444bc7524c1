"""Redis restarting empty: riders' next fixes rebuild the index, statuses included."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from dispatch.config import Settings
from dispatch.redis_server import EmbeddedRedis
from tests.support.server import recv_json, run_service, send_json

pytestmark = pytest.mark.asyncio


async def send_until_acked(ws, seq: int, lat: float, lng: float, attempts: int = 5) -> dict:
    """What a rider app does: re-send a fix until it is acknowledged."""
    for _ in range(attempts):
        await send_json(ws, {"type": "fix", "seq": seq, "lat": lat, "lng": lng,
                             "ts": int(time.time() * 1000)})
        reply = await recv_json(ws)
        if reply["type"] == "ack":
            return reply
        assert reply["code"] == "store.unavailable", reply
    raise AssertionError("fix never acknowledged")


async def test_index_and_statuses_are_rebuilt_by_the_next_fixes(
    make_settings: Callable[..., Settings],
) -> None:
    with EmbeddedRedis() as own_redis:
        async with run_service(make_settings(redis_url=own_redis.url)) as service, \
                service.rider("r1") as (ws, _), httpx.AsyncClient(base_url=service.http) as http:
            await send_json(ws, {"type": "status", "status": "available"})
            await recv_json(ws)
            await send_until_acked(ws, 1, 52.52, 13.405)
            own_redis.restart_empty()
            assert await service.services.store.get_rider("city", "r1") is None
            await send_until_acked(ws, 2, 52.5201, 13.4051)
            response = await http.get(
                "/v1/regions/city/riders/nearby", params={"lat": 52.52, "lng": 13.405},
                headers=service.operator_headers(),
            )
            assert response.status_code == 200
            riders = response.json()["riders"]
            assert [(r["rider_id"], r["status"]) for r in riders] == [("r1", "available")]
            assert (await http.get("/readyz")).status_code == 200
