"""The rider stream protocol against the real service and a real redis-server."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dispatch.auth.tokens import TokenSigner
from dispatch.config import Settings
from tests.support.server import (
    RunningService,
    closed_with,
    recv_json,
    run_service,
    send_json,
)

pytestmark = pytest.mark.asyncio


def now_ms() -> int:
    return int(time.time() * 1000)


def fix(seq: int, lat: float = 52.52, lng: float = 13.405, ts: int | None = None) -> dict:
    return {"seq": seq, "lat": lat, "lng": lng, "ts": ts if ts is not None else now_ms()}


async def test_a_fix_is_acknowledged_and_lands_in_the_store(service: RunningService) -> None:
    async with service.rider("r1") as (ws, welcome):
        assert welcome["last_seq"] == -1
        await send_json(ws, {"type": "fix", **fix(1, 52.5, 13.4)})
        assert await recv_json(ws) == {"type": "ack", "seq": 1, "n": 1}
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and (state.lat, state.lng, state.last_seq) == (52.5, 13.4, 1)


async def test_a_batch_is_acknowledged_by_its_highest_sequence(service: RunningService) -> None:
    base = now_ms() - 10_000
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fixes", "fixes": [
            fix(i, 52.5 + i / 1000, 13.4, base + i * 1000) for i in range(1, 6)]})
        assert await recv_json(ws) == {"type": "ack", "seq": 5, "n": 5}
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and state.lat == pytest.approx(52.505)


async def test_an_older_fix_never_moves_the_rider_back(service: RunningService) -> None:
    t = now_ms()
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fix", **fix(2, 52.6, 13.4, t)})
        await recv_json(ws)
        await send_json(ws, {"type": "fix", **fix(1, 52.1, 13.1, t - 5000)})
        assert (await recv_json(ws))["type"] == "ack"
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and (state.lat, state.ts_ms) == (52.6, t)


async def test_reconnect_resumes_from_the_last_stored_sequence(service: RunningService) -> None:
    t = now_ms()
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fixes", "fixes": [fix(i, ts=t + i) for i in range(1, 4)]})
        await recv_json(ws)
    async with service.rider("r1") as (ws, welcome):
        assert welcome["last_seq"] == 3
        # The app re-sends what it is unsure of: duplicates are acknowledged and ignored.
        await send_json(ws, {"type": "fixes", "fixes": [fix(i, 40.0, 10.0, t + i)
                                                        for i in range(2, 5)]})
        assert await recv_json(ws) == {"type": "ack", "seq": 4, "n": 3}
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and state.last_seq == 4 and state.ts_ms == t + 4


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"{not json", "frame.invalid", None),
        (b"[1, 2]", "frame.invalid", None),
        (b'{"seq": 1}', "frame.invalid", "type"),
        (b'{"type": "teleport"}', "frame.invalid", "type"),
        (b'{"type": "fix", "lat": 1, "lng": 1, "ts": 1}', "request.invalid", "seq"),
        (b'{"type": "fix", "seq": "1", "lat": 1, "lng": 1, "ts": 1}', "request.invalid", "seq"),
        (b'{"type": "fix", "seq": 1, "lng": 1, "ts": 1}', "request.invalid", "lat"),
        (b'{"type": "fix", "seq": 1, "lat": "52", "lng": 1, "ts": 1}', "request.invalid", "lat"),
        (b'{"type": "fix", "seq": 1, "lat": 91, "lng": 1, "ts": 1}', "request.invalid", "lat"),
        (b'{"type": "fix", "seq": 1, "lat": 1, "lng": -180.5, "ts": 1}', "request.invalid", "lng"),
        (b'{"type": "fix", "seq": 1, "lat": NaN, "lng": 1, "ts": 1}', "frame.invalid", None),
        (b'{"type": "fix", "seq": 1, "lat": 1e999, "lng": 1, "ts": 1}', "frame.invalid", None),
        (b'{"type": "fix", "seq": 1, "lat": true, "lng": 1, "ts": 1}', "request.invalid", "lat"),
        (b'{"type": "fixes", "fixes": {}}', "request.invalid", "fixes"),
        (b'{"type": "status", "status": "sleeping"}', "request.invalid", "status"),
    ],
)
async def test_bad_frames_get_an_error_naming_the_problem_and_the_connection_stays(
    service: RunningService, payload: bytes, code: str, field: str | None
) -> None:
    async with service.rider("r1") as (ws, _):
        await ws.send(payload.decode())
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == code
        assert error.get("field") == field
        await send_json(ws, {"type": "fix", **fix(7)})
        assert (await recv_json(ws))["seq"] == 7


async def test_timestamps_far_in_the_future_or_past_are_rejected(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fix", **fix(1, ts=now_ms() + 3_600_000)})
        error = await recv_json(ws)
        assert (error["code"], error["field"], error["seq"]) == ("request.invalid", "ts", 1)
        await send_json(ws, {"type": "fix", **fix(2, ts=now_ms() - 8 * 86_400_000)})
        assert (await recv_json(ws))["field"] == "ts"
    assert await service.services.store.get_rider("city", "r1") is not None  # attach only
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and state.lat is None


async def test_a_batch_with_some_bad_fixes_keeps_the_good_ones(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fixes", "fixes": [
            fix(1), {"seq": 2, "lat": 999, "lng": 0, "ts": now_ms()}, "junk", fix(4, 48.0, 2.0)]})
        error = await recv_json(ws)
        assert error["code"] == "request.invalid"
        assert [(r["index"], r["seq"], r.get("field")) for r in error["rejected"]] == [
            (1, 2, "lat"), (2, None, "fix")]
        assert await recv_json(ws) == {"type": "ack", "seq": 4, "n": 2}


async def test_too_many_fixes_in_one_batch_are_refused_whole(
    make_settings: Callable[..., Settings], redis
) -> None:
    async with run_service(make_settings(max_fixes_per_batch=10)) as service, \
            service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fixes", "fixes": [fix(i) for i in range(11)]})
        error = await recv_json(ws)
        assert (error["code"], error["limit"]) == ("batch.too_large", 10)
        assert await service.services.store.get_rider("city", "r1") is not None
        await send_json(ws, {"type": "fixes", "fixes": [fix(i) for i in range(10)]})
        assert (await recv_json(ws))["n"] == 10


async def test_a_frame_over_the_size_limit_closes_with_1009(
    make_settings: Callable[..., Settings], redis
) -> None:
    async with run_service(make_settings(max_frame_bytes=4096)) as service, \
            service.rider("r1", max_size=None) as (ws, _):
        big = {"type": "fixes", "fixes": [fix(i) for i in range(200)]}
        await ws.send(orjson.dumps(big).decode())
        assert await closed_with(ws) == 1009


@pytest.mark.parametrize("token", ["garbage", "", None])
async def test_a_bad_token_closes_with_4401(service: RunningService, token: str | None) -> None:
    async with connect(service.ws) as ws:
        await send_json(ws, {"type": "hello", "token": token})
        assert await closed_with(ws) == 4401


async def test_an_expired_or_non_rider_token_closes_with_4401(service: RunningService) -> None:
    for token in (service.signer.mint("r1", "rider", region="city", ttl_s=-10),
                  service.signer.mint("c1", "customer")):
        async with connect(service.ws) as ws:
            await send_json(ws, {"type": "hello", "token": token})
            assert await closed_with(ws) == 4401


async def test_a_rider_id_the_live_store_cannot_hold_closes_with_4401(
    service: RunningService,
) -> None:
    # Account ids are 40 characters; a stand-in registry's token could name anything.
    async with service.rider("r" * 64) as (ws, welcome):
        assert welcome["rider_id"] == "r" * 64
    async with connect(service.ws) as ws:
        await send_json(ws, {"type": "hello", "token": service.rider_token("r" * 65)})
        assert await closed_with(ws) == 4401


async def test_a_token_signed_with_another_key_closes_with_4401(service: RunningService) -> None:
    forged = TokenSigner("another-secret-that-is-also-long-enough-xx").mint(
        "r1", "rider", region="city")
    async with connect(service.ws) as ws:
        await send_json(ws, {"type": "hello", "token": forged})
        assert await closed_with(ws) == 4401


async def test_no_hello_in_time_closes_with_4408(
    make_settings: Callable[..., Settings], redis
) -> None:
    async with run_service(make_settings(auth_timeout_s=0.2)) as service, \
            connect(service.ws) as ws:
        assert await closed_with(ws) == 4408


async def test_a_flooding_client_is_throttled_then_closed_with_1008(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    settings = make_settings(rate_frames_per_s=5, rate_burst_frames=5, rate_max_violations=10)
    async with run_service(settings) as service, service.rider("r1") as (ws, _):
        for i in range(40):
            await send_json(ws, {"type": "fix", **fix(i)})
        replies = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                replies.append(await recv_json(ws))
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
        kinds = [r["type"] if r["type"] == "ack" else r["code"] for r in replies]
        # The burst of 5 is taken; everything past it is refused until the close.
        assert kinds.count("ack") <= 5 and set(kinds) <= {"ack", "rate.limited"}
        assert kinds.count("rate.limited") >= 10
        assert replies[kinds.index("rate.limited")]["retry_after_ms"] > 0
    assert 0 <= int(await redis.hget("d:{city}:r:r1", "seq")) <= 4


async def test_status_changes_are_confirmed_and_stored(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        for status in ("available", "busy", "on_break", "available"):
            await send_json(ws, {"type": "status", "status": status})
            assert await recv_json(ws) == {"type": "status", "status": status}
    state = await service.services.store.get_rider("city", "r1")
    assert state is not None and state.status == "available"


async def test_a_dropped_rider_is_marked_offline_after_the_grace_period(
    make_settings: Callable[..., Settings], redis
) -> None:
    async with run_service(make_settings(offline_grace_s=0.3)) as service:
        async with service.rider("r1") as (ws, _):
            await send_json(ws, {"type": "status", "status": "available"})
            await recv_json(ws)
        store = service.services.store
        assert (await store.get_rider("city", "r1")).status == "available"
        await asyncio.sleep(0.6)
        assert (await store.get_rider("city", "r1")).status == "offline"


async def test_reconnecting_within_the_grace_period_keeps_the_rider_available(
    make_settings: Callable[..., Settings], redis
) -> None:
    async with run_service(make_settings(offline_grace_s=0.3)) as service:
        async with service.rider("r1") as (ws, _):
            await send_json(ws, {"type": "status", "status": "available"})
            await recv_json(ws)
        async with service.rider("r1") as (ws, _):
            await asyncio.sleep(0.6)
            assert (await service.services.store.get_rider("city", "r1")).status == "available"


async def test_a_second_connection_replaces_the_first_with_4409(service: RunningService) -> None:
    async with service.rider("r1") as (first, _), service.rider("r1") as (second, _):
        assert await closed_with(first) == 4409
        await send_json(second, {"type": "fix", **fix(1)})
        assert (await recv_json(second))["type"] == "ack"


async def test_ping_frames_are_answered_with_server_time(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "ping", "echo": "x"})
        pong = await recv_json(ws)
        assert pong["type"] == "pong" and pong["echo"] == "x" and abs(pong["ts"] - now_ms()) < 5000


async def test_dead_connections_are_detected_by_pings(
    make_settings: Callable[..., Settings], redis
) -> None:
    settings = make_settings(ping_interval_s=0.2, ping_timeout_s=0.2, offline_grace_s=0.0)
    async with run_service(settings) as service:
        # A client that never answers pings: the server must drop it and mark it offline.
        async with service.rider("r1", ping_interval=None) as (ws, _):
            await send_json(ws, {"type": "status", "status": "available"})
            await recv_json(ws)
            ws.protocol.ping = lambda *a, **k: None  # answer nothing
            transport = ws.transport
            transport.pause_reading()  # stop reading: no pongs go back
            await asyncio.sleep(1.0)
            assert len(service.services.hub) == 0
            transport.resume_reading()
        assert (await service.services.store.get_rider("city", "r1")).status == "offline"


async def test_metrics_count_fixes_errors_and_connections(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        await send_json(ws, {"type": "fixes", "fixes": [fix(1), fix(2)]})
        await recv_json(ws)
        await send_json(ws, {"type": "fix", **fix(3, lat=100)})
        await recv_json(ws)
        async with httpx.AsyncClient(base_url=service.http) as http:
            text = (await http.get("/metrics")).text
    assert "dispatch_riders_connected 1.0" in text
    assert 'dispatch_fixes_total{result="accepted"} 2.0' in text
    assert 'dispatch_fixes_total{result="rejected_lat"} 1.0' in text
    assert "dispatch_fix_ack_seconds_count 1.0" in text
    # The process's own figures an operator reads beside them: CPU and full collections.
    assert re.search(r"^process_cpu_seconds_total [0-9.]+$", text, re.M)
    assert re.search(r'^python_gc_collections_total\{generation="2"\} [0-9.]+$', text, re.M)
