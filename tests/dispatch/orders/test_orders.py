"""Orders over HTTP: create, read, list, service areas, the lifecycle and its payments."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from dispatch.payments.provider import SandboxProvider
from tests.support.accounts import order_body
from tests.support.orders import World, make_world
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(service: RunningService) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=service.http) as client:
        yield await make_world(service, client)


async def test_a_new_order_is_authorised_and_waits_in_its_regions_pool(
    world: World, service: RunningService,
) -> None:
    created = await world.create()
    assert created.status_code == 201
    order = created.json()
    assert order["state"] == "pending_dispatch" and order["region"] == "city"
    assert order["pickup"] == {"lat": 52.52, "lng": 13.405}
    assert order["created_at"].endswith("Z") or order["created_at"].endswith("+00:00")
    payment = (await world.client.get(f"/v1/orders/{order['id']}/payment",
                                      headers=world.customer.headers)).json()
    assert payment["state"] == "authorised" and payment["amount_minor"] == 2350
    from dispatch.orders.service import list_pending  # noqa: PLC0415

    pool = await list_pending(db=service.services.db, region="city")
    assert [row.id for row in pool] == [order["id"]]


async def test_orders_outside_the_service_area_are_refused_with_a_clear_error(
    world: World,
) -> None:
    far = await world.create(pickup={"lat": 48.85, "lng": 2.35})
    assert far.status_code == 422
    assert far.json()["error"] == {"code": "order.outside_service_area", "field": "pickup",
                                   "message": "the pickup is outside every service area"}
    drop = await world.create(dropoff={"lat": 52.52, "lng": 14.5})
    assert drop.json()["error"]["field"] == "dropoff"


async def test_orders_need_an_active_merchant_and_a_customer_caller(world: World) -> None:
    nobody = await world.create(merchant_id="usr_nobody")
    assert nobody.status_code == 422
    as_rider = await world.client.post("/v1/orders", headers=world.rider.headers,
                                       json=order_body(world.merchant.id))
    assert as_rider.status_code == 403
    wrong_merchant = await world.create(merchant_id=world.customer.id)
    assert wrong_merchant.json()["error"]["code"] == "order.unknown_merchant"


async def test_a_declined_payment_fails_the_order_with_402(world: World) -> None:
    declined = await world.create(amount_minor=1402)
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert error["code"] == "payment.declined"
    order = await world.client.get(f"/v1/orders/{error['order_id']}",
                                   headers=world.customer.headers)
    assert order.json()["state"] == "failed"


async def test_listing_pages_through_the_callers_orders_newest_first(world: World) -> None:
    ids = [await world.order() for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/v1/orders", params=params,
                                       headers=world.customer.headers)).json()
        seen += [order["id"] for order in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    await world.step(ids[0], "cancel", world.customer)
    cancelled = (await world.client.get("/v1/orders", params={"state": "cancelled"},
                                        headers=world.customer.headers)).json()
    assert [order["id"] for order in cancelled["orders"]] == [ids[0]]
    bad = await world.client.get("/v1/orders", params={"cursor": "!!"},
                                 headers=world.customer.headers)
    assert bad.status_code == 422


async def test_the_full_lifecycle_captures_on_delivery_and_refunds_partially(
    world: World, service: RunningService,
) -> None:
    order_id = await world.delivered(amount_minor=5000)
    order = (await world.client.get(f"/v1/orders/{order_id}", headers=world.rider.headers)).json()
    assert order["state"] == "delivered" and order["rider_id"] == world.rider.id
    pay = f"/v1/orders/{order_id}/payment"
    assert (await world.client.get(pay, headers=world.customer.headers)).json()[
        "captured_minor"] == 5000
    refunds = f"/v1/orders/{order_id}/refunds"
    first = await world.client.post(refunds, json={"amount_minor": 3000}, headers=world.operator)
    assert first.status_code == 200 and first.json()["refunded_minor"] == 3000
    too_much = await world.client.post(refunds, json={"amount_minor": 2001},
                                       headers=world.operator)
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "payment.refund_exceeds_captured"
    rest = await world.client.post(refunds, json={"amount_minor": 2000}, headers=world.operator)
    assert rest.json()["refunded_minor"] == 5000
    sandbox = service.services.payments
    assert isinstance(sandbox, SandboxProvider)
    charge = next(iter(sandbox.charges.values()))
    assert (charge.captured_minor, charge.refunded_minor) == (5000, 5000)


async def test_cancelling_voids_the_authorisation_and_illegal_moves_are_409_with_the_state(
    world: World, service: RunningService,
) -> None:
    order_id = await world.order()
    cancelled = await world.step(order_id, "cancel", world.customer)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    payment = (await world.client.get(f"/v1/orders/{order_id}/payment",
                                      headers=world.customer.headers)).json()
    assert payment["state"] == "voided"
    again = await world.step(order_id, "cancel", world.operator)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order.illegal_transition"
    assert again.json()["error"]["state"] == "cancelled"
    delivered = await world.delivered()
    late = await world.step(delivered, "cancel", world.operator)
    assert late.status_code == 409 and late.json()["error"]["state"] == "delivered"


async def test_a_rejected_offer_returns_the_order_to_the_pool_and_capacity_is_enforced(
    world: World,
) -> None:
    first, second = await world.order(), await world.order()
    assert (await world.offer(first)).status_code == 201
    twice = await world.offer(first)
    assert twice.status_code == 409 and twice.json()["error"]["state"] == "offered"
    over = await world.offer(second)
    assert over.status_code == 409 and over.json()["error"]["code"] == "rider.over_capacity"
    rejected = await world.step(first, "reject", world.rider)
    assert rejected.json()["state"] == "pending_dispatch"
    assignment = (await world.client.get(f"/v1/orders/{first}/assignment",
                                         headers=world.customer.headers)).json()
    assert assignment == {"order_id": first, "state": "pending_dispatch", "rider_id": None,
                          "offer": None}
    assert (await world.offer(second)).status_code == 201
    await world.step(second, "accept", world.rider)
    assignment = (await world.client.get(f"/v1/orders/{second}/assignment",
                                         headers=world.customer.headers)).json()
    assert assignment["rider_id"] == world.rider.id and assignment["offer"]["state"] == "accepted"
