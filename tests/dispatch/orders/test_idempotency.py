"""Idempotency keys on order creation: replay, body mismatch, in flight, and a 50-way race."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from dispatch.orders.models import OrderRow
from dispatch.payments.models import PaymentRow
from dispatch.payments.provider import SandboxProvider
from tests.support.accounts import register
from tests.support.orders import World, make_world
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(service: RunningService) -> AsyncIterator[World]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=service.http, limits=limits, timeout=30) as client:
        yield await make_world(service, client)


async def _counts(service: RunningService) -> tuple[int, int]:
    async with service.services.db() as session:
        orders = (await session.execute(select(func.count()).select_from(OrderRow))).scalar_one()
        payments = (await session.execute(select(func.count()).select_from(PaymentRow))
                    ).scalar_one()
    return int(orders), int(payments)


async def test_a_retried_create_replays_the_first_response_and_says_so(
    world: World, service: RunningService,
) -> None:
    first = await world.create(key="k-1")
    again = await world.create(key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _counts(service) == (1, 1)


async def test_the_same_key_with_another_body_is_422(world: World) -> None:
    assert (await world.create(key="k-2")).status_code == 201
    other = await world.create(key="k-2", amount_minor=9999)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency.key_reused"


async def test_keys_are_scoped_to_the_caller(world: World, service: RunningService) -> None:
    assert (await world.create(key="shared")).status_code == 201
    world.customer = await register(world.client)
    assert (await world.create(key="shared")).status_code == 201
    assert await _counts(service) == (2, 2)


async def test_a_declined_create_is_replayed_as_the_same_402(world: World) -> None:
    first = await world.create(key="k-3", amount_minor=402)
    again = await world.create(key="k-3", amount_minor=402)
    assert first.status_code == again.status_code == 402
    assert again.json() == first.json()


@pytest.mark.postgres
async def test_fifty_concurrent_creates_with_one_key_make_one_order_and_one_authorisation(
    world: World, service: RunningService,
) -> None:
    sandbox = service.services.payments
    assert isinstance(sandbox, SandboxProvider)
    responses = await asyncio.gather(*(world.create(key="race") for _ in range(50)))
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    winners = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(winners) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "idempotency.in_flight"
    assert await _counts(service) == (1, 1)
    assert sandbox.moves == 1 and len(sandbox.charges) == 1
    settled = await world.create(key="race")
    assert settled.headers["Idempotent-Replayed"] == "true"
    assert settled.json()["id"] in winners
