"""The outbox relay: every state change reaches the stream, and consumers see each once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.config import Settings
from dispatch.live.pipe import RespPipe
from dispatch.outbox.consumer import StreamConsumer
from dispatch.outbox.models import OutboxRow
from dispatch.outbox.service import backlog, relay_once
from tests.support.orders import World, make_world
from tests.support.server import RunningService, run_service

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def relay_off(make_settings: Callable[..., Settings]
                    ) -> AsyncIterator[tuple[Settings, RunningService, World]]:
    """A running service whose own relay is off (the test runs the passes) and its world."""
    settings = make_settings(outbox_relay=False)
    async with run_service(settings) as service, httpx.AsyncClient(base_url=service.http) as c:
        yield settings, service, await make_world(service, c)


async def unpublish_all(db: async_sessionmaker[AsyncSession]) -> None:
    """As if the process had died between the publish and the commit."""
    async with db.begin() as session:
        await session.execute(update(OutboxRow).values(published_at=None))


async def test_events_are_relayed_and_a_republish_is_handled_once(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    async with relay_off(make_settings) as (settings, service, world):
        order_id = await world.order()
        await world.step(order_id, "cancel", world.customer)
        db = service.services.db
        assert await backlog(db=db) == 3  # created..pending, cancelled, payment voided
        consumer = StreamConsumer(redis, stream=settings.outbox_stream, group="test", name="c1")
        await consumer.ensure_group()
        assert await relay_once(db=db, redis=redis, stream=settings.outbox_stream, batch=100,
                                maxlen=10_000) == 3
        await unpublish_all(db)  # the rows go out again
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


async def test_a_pass_through_the_pipe_publishes_what_redis_py_publishes(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    async with relay_off(make_settings) as (settings, service, world):
        await world.step(await world.order(), "cancel", world.customer)
        await world.order()
        db, stream = service.services.db, settings.outbox_stream
        pipe = RespPipe.for_client(redis, timeout_s=2.0)
        assert pipe is not None
        try:
            assert await relay_once(db=db, redis=redis, stream=stream, batch=100,
                                    maxlen=10_000, pipe=pipe) == 4
        finally:
            await pipe.aclose()
        through_pipe = [fields for _, fields in await redis.xrange(stream)]
        await unpublish_all(db)
        assert await relay_once(db=db, redis=redis, stream=stream, batch=100,
                                maxlen=10_000) == 4
        through_redis_py = [fields for _, fields in await redis.xrange(stream)][4:]
        assert through_pipe == through_redis_py
        assert [int(fields["id"]) for fields in through_pipe] == sorted(
            int(fields["id"]) for fields in through_pipe)
        assert [fields["event"] for fields in through_pipe] == [
            "order.pending_dispatch", "order.cancelled", "payment.voided",
            "order.pending_dispatch"]


async def test_events_stay_unpublished_when_the_publish_fails(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    async with relay_off(make_settings) as (settings, service, world):
        await world.order()
        db = service.services.db
        pipe = RespPipe.for_client(redis, timeout_s=2.0)
        assert pipe is not None
        await pipe.aclose()  # every call on it now fails
        with pytest.raises(RedisError):
            await relay_once(db=db, redis=redis, stream=settings.outbox_stream, batch=100,
                             maxlen=10_000, pipe=pipe)
        assert await backlog(db=db) == 1
        assert await redis.xlen(settings.outbox_stream) == 0
        assert await relay_once(db=db, redis=redis, stream=settings.outbox_stream, batch=100,
                                maxlen=10_000) == 1
        assert await backlog(db=db) == 0
