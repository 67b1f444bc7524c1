"""Fixtures for the optimizer in the service: a fast-batching service, accounts, riders, and
a migrated database without a service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio
from redis.asyncio import Redis

from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.orders.offers import Db
from tests.dispatch.optimizer.service.processes import reap_children
from tests.support.orders import World, make_world
from tests.support.server import RunningService, run_service

# Batches every 0.2 s, a lease that lapses within a second, riders offline soon after
# their socket closes: the behaviour of the defaults, in test time.
FAST: dict[str, Any] = {"batch_interval_s": 0.2, "lease_ttl_s": 1.0, "batch_time_limit_s": 0.5,
                        "offline_grace_s": 0.2}


@pytest_asyncio.fixture(autouse=True)
async def no_child_outlives_its_test() -> AsyncIterator[None]:
    """Child processes a test started and did not stop are killed when it ends."""
    yield
    await reap_children()


@pytest_asyncio.fixture
async def fast(redis: Redis, make_settings: Callable[..., Settings]
               ) -> AsyncIterator[RunningService]:
    """The service with the embedded optimizer batching fast."""
    async with run_service(make_settings(**FAST)) as running:
        yield running


@pytest_asyncio.fixture
async def world(fast: RunningService) -> AsyncIterator[World]:
    """A customer, a merchant, a rider and an operator on the fast service."""
    async with httpx.AsyncClient(base_url=fast.http, timeout=30) as client:
        yield await make_world(fast, client)


@pytest_asyncio.fixture
async def db(make_settings: Callable[..., Settings]) -> AsyncIterator[Db]:
    """A migrated database of the suite's kind (no service running)."""
    settings = make_settings()
    engine = create_engine(settings)
    await migrate(engine, schema=settings.database_schema)
    yield session_factory(engine)
    await engine.dispose()
