"""The create fast path: it answers exactly as the route, and concurrent creates sharing a
group commit each get their own outcome."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from dispatch.orders.models import OrderRow
from dispatch.outbox.models import OutboxRow
from dispatch.payments.models import PaymentRow
from tests.support.accounts import order_body
from tests.support.orders import World, make_world
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio
# The fast path takes exactly this content type; any other JSON type goes through the route.
FAST = "application/json"
ROUTED = "application/json; charset=utf-8"
STAMPS = ("id", "created_at", "updated_at")


@pytest_asyncio.fixture
async def world(service: RunningService) -> AsyncIterator[World]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=service.http, limits=limits, timeout=30) as client:
        yield await make_world(service, client)


async def _post(world: World, content_type: str, body: dict[str, Any] | str,
                headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, str) else httpx.Request(
        "POST", "/", json=body).content.decode()
    return await world.client.post("/v1/orders", content=content, headers={
        **world.customer.headers, "Content-Type": content_type, **(headers or {})})


def _same(fast: httpx.Response, routed: httpx.Response) -> None:
    assert fast.status_code == routed.status_code
    assert fast.headers.get("content-type") == routed.headers.get("content-type")
    assert ("Idempotent-Replayed" in fast.headers) == ("Idempotent-Replayed" in routed.headers)
    if fast.status_code == 201:
        assert {k: v for k, v in fast.json().items() if k not in STAMPS} == {
            k: v for k, v in routed.json().items() if k not in STAMPS}
    else:
        assert fast.json() == routed.json()


@pytest.mark.parametrize("change", [
    {},
    {"amount_minor": 402},  # declined: 402 with the order id
    {"amount_minor": 0},  # invalid field: 422 naming it
    {"pickup": {"lat": 10.0, "lng": 10.0}},  # outside every area
    {"merchant_id": "usr_nobody"},  # unknown merchant
    {"surprise": 1},  # a field the model forbids
])
async def test_the_fast_path_answers_as_the_route_does(world: World, change: dict[str, Any]
                                                      ) -> None:
    body = order_body(world.merchant.id, now=world.now) | change
    fast, routed = await _post(world, FAST, body), await _post(world, ROUTED, body)
    if fast.status_code == 402:  # the ids differ; the rest of the error must not
        fast_error, routed_error = fast.json()["error"], routed.json()["error"]
        assert fast_error.pop("order_id") != routed_error.pop("order_id")
        assert fast_error == routed_error
        return
    _same(fast, routed)


async def test_replays_and_key_misuse_answer_as_on_the_route(world: World) -> None:
    body = order_body(world.merchant.id, now=world.now)
    for key in ("fast-key", "routed-key"):
        content_type = FAST if key == "fast-key" else ROUTED
        assert (await _post(world, content_type, body, {"Idempotency-Key": key})
                ).status_code == 201
    fast = await _post(world, FAST, body, {"Idempotency-Key": "fast-key"})
    routed = await _post(world, ROUTED, body, {"Idempotency-Key": "routed-key"})
    assert fast.headers["Idempotent-Replayed"] == routed.headers["Idempotent-Replayed"] == "true"
    _same(fast, routed)
    other = body | {"amount_minor": 9999}
    _same(await _post(world, FAST, other, {"Idempotency-Key": "fast-key"}),
          await _post(world, ROUTED, other, {"Idempotency-Key": "routed-key"}))
    _same(await _post(world, FAST, body, {"Idempotency-Key": ""}),
          await _post(world, ROUTED, body, {"Idempotency-Key": ""}))


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer not-a-token"}, {"Authorization": ""}, "merchant",
])
async def test_callers_the_fast_path_declines_get_the_routes_answer(
    world: World, headers: dict[str, str] | str,
) -> None:
    if headers == "merchant":
        headers = world.merchant.headers
    assert isinstance(headers, dict)
    body = order_body(world.merchant.id, now=world.now)
    fast = await world.client.post("/v1/orders", json=body, headers=headers)
    routed = await world.client.post("/v1/orders", json=body, headers={
        **headers, "Content-Type": ROUTED})
    assert fast.status_code in (401, 403)
    _same(fast, routed)
    assert fast.headers.get("WWW-Authenticate") == routed.headers.get("WWW-Authenticate")


async def test_malformed_json_is_answered_by_the_route(world: World) -> None:
    broken = '{"merchant_id": '
    _same(await _post(world, FAST, broken), await _post(world, ROUTED, broken))


async def _count(service: RunningService, row: type[Any]) -> int:
    async with service.services.db() as session:
        return int((await session.execute(select(func.count()).select_from(row))).scalar_one())


async def test_concurrent_creates_each_get_their_own_outcome(
    world: World, service: RunningService,
) -> None:
    """Creates that arrive together share group commits; a reused key, a declined card or an
    unknown merchant among them fails only its own request."""
    assert (await world.create(key="taken")).status_code == 201
    requests = [world.create(key=f"k-{i}") for i in range(24)]
    requests += [world.create(key="taken", amount_minor=9999),  # same key, other body: 422
                 world.create(key="d-1", amount_minor=402),  # declined: 402
                 world.create(key="m-1", merchant_id="usr_nobody"),  # unknown merchant: 422
                 world.create(key="taken")]  # a replay: the stored 201
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses[:24]] == [201] * 24
    assert [r.status_code for r in responses[24:]] == [422, 402, 422, 201]
    assert responses[24].json()["error"]["code"] == "idempotency.key_reused"
    assert responses[26].json()["error"]["field"] == "merchant_id"
    assert responses[27].headers["Idempotent-Replayed"] == "true"
    ids = Counter(r.json()["id"] for r in responses[:24])
    assert len(ids) == 24
    # 24 new + the first + the declined one; each with its payment and its event.
    assert await _count(service, OrderRow) == await _count(service, PaymentRow) == 26
    assert await _count(service, OutboxRow) >= 26
