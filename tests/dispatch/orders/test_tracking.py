"""Live order tracking over Server-Sent Events: a snapshot, each later change, then the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import pytest_asyncio

from tests.support.orders import World, make_world
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(service: RunningService) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=service.http, timeout=10) as client:
        yield await make_world(service, client)


async def read_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    """(event, data) pairs of an SSE response, skipping keep-alive comments."""
    name, data = "", b""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:].encode()
        elif line == "" and name:
            yield name, orjson.loads(data)
            name, data = "", b""


async def test_a_customer_follows_their_order_from_pool_to_door(world: World) -> None:
    order_id = await world.order()
    url = f"/v1/orders/{order_id}/events"
    seen: list[tuple[str, object]] = []
    async with world.client.stream("GET", url, headers=world.customer.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        name, snapshot = await anext(events)
        assert (name, snapshot["state"], snapshot["rider_id"]) == (
            "snapshot", "pending_dispatch", None)
        assert (await world.offer(order_id)).status_code == 201
        for verb in ("accept", "pickup", "deliver"):
            assert (await world.step(order_id, verb, world.rider)).status_code == 200
        async for name, data in events:  # the stream ends after the terminal state
            seen.append((name, data["state"]))
    assert seen == [("order.offered", "offered"), ("order.assigned", "assigned"),
                    ("order.picked_up", "picked_up"), ("order.delivered", "delivered")]


async def test_a_finished_order_gives_its_snapshot_and_ends(world: World) -> None:
    order_id = await world.delivered()
    async with world.client.stream("GET", f"/v1/orders/{order_id}/events",
                                    headers=world.customer.headers) as response:
        assert [name async for name, _ in read_events(response)] == ["snapshot"]


async def test_nobody_else_can_follow_an_order(world: World, service: RunningService) -> None:
    order_id = await world.order()
    stranger = await world.client.get(f"/v1/orders/{order_id}/events",
                                      headers=world.rider.headers)  # not offered to it
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "order.not_found"


async def test_an_idle_stream_ends_after_its_timeout(world: World) -> None:
    order_id = await world.order()
    async with world.client.stream("GET", f"/v1/orders/{order_id}/events?timeout_s=0.5",
                                   headers=world.customer.headers) as response:
        names = await asyncio.wait_for(
            asyncio.ensure_future(_names(response)), timeout=10)
    assert names == ["snapshot"]


async def _names(response: httpx.Response) -> list[str]:
    return [name async for name, _ in read_events(response)]


async def test_followers_share_one_subscription(world: World, service: RunningService) -> None:
    orders = [await world.order() for _ in range(3)]
    redis = service.services.redis
    async with contextlib.AsyncExitStack() as stack:
        followers = []
        for n, oid in enumerate(orders):
            response = await stack.enter_async_context(world.client.stream(
                "GET", f"/v1/orders/{oid}/events", headers=world.customer.headers))
            events = read_events(response)
            assert (await anext(events))[0] == "snapshot"
            followers.append(events)
            if n == 0:
                patterns = await redis.pubsub_numpat()
        assert await redis.pubsub_numpat() == patterns  # no new subscription per follower
        assert all(count == 0 for _, count in await redis.pubsub_numsub(
            *(f"events:order:{oid}" for oid in orders)))
        assert (await world.offer(orders[2])).status_code == 201
        name, data = await anext(followers[2])
        assert (name, data["state"]) == ("order.offered", "offered")
