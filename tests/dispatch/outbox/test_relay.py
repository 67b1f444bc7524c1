"""The outbox relay: every state change reaches the stream, and consumers see each once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from dispatch.config import Settings
from dispatch.outbox.consumer import StreamConsumer
from dispatch.outbox.models import OutboxRow
from dispatch.outbox.service import backlog, relay_once
from tests.support.orders import make_world
from tests.support.server import run_service

pytestmark = pytest.mark.asyncio


async def test_events_are_relayed_and_a_republish_is_handled_once(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(outbox_relay=False)
    async with run_service(settings) as service, httpx.AsyncClient(base_url=service.http) as c:
        world = await make_world(service, c)
        order_id = await world.order()
        await world.step(order_id, "cancel", world.customer)
        db = service.services.db
        assert await backlog(db=db) == 3  # created..pending, cancelled, payment voided
        consumer = StreamConsumer(redis, stream=settings.outbox_stream, group="test", name="c1")
        await consumer.ensure_group()
        assert await relay_once(db=db, redis=redis, stream=settings.outbox_stream, batch=100,
                                maxlen=10_000) == 3
        # The process "died" between XADD and commit: the rows go out again.
        async with db.begin() as session:
            await session.execute(update(OutboxRow).values(published_at=None))
        await relay_once(db=db, redis=redis, stream=settings.outbox_stream, batch=100,
                         maxlen=10_000)
        assert await redis.xlen(settings.outbox_stream) == 6
        handled: list[str] = []

        async def handle(fields: dict[str, str]) -> None:
            handled.append(fields["event"])

        await consumer.poll(handle, block_ms=10)
        await consumer.poll(handle, block_ms=10)
        assert handled == ["order.pending_dispatch", "order.cancelled", "payment.voided"]
        assert await backlog(db=db) == 0


async def test_the_service_relays_in_the_background(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(outbox_poll_s=0.05)
    async with run_service(settings) as service, httpx.AsyncClient(base_url=service.http) as c:
        world = await make_world(service, c)
        await world.order()
        for _ in range(100):
            if await redis.xlen(settings.outbox_stream) >= 1:
                break
            await asyncio.sleep(0.05)
        entries = await redis.xrange(settings.outbox_stream)
        assert [fields["event"] for _, fields in entries] == ["order.pending_dispatch"]
