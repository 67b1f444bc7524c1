"""Object-level authorisation: every object endpoint, tried as every foreign role, gives
403 or 404 and never the object."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import Account, register
from tests.support.orders import make_world
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio

ENDPOINTS = [
    ("GET", "/v1/orders/{id}", None),
    ("GET", "/v1/orders/{id}/assignment", None),
    ("GET", "/v1/orders/{id}/payment", None),
    ("POST", "/v1/orders/{id}/cancel", None),
    ("POST", "/v1/orders/{id}/accept", None),
    ("POST", "/v1/orders/{id}/reject", None),
    ("POST", "/v1/orders/{id}/pickup", None),
    ("POST", "/v1/orders/{id}/deliver", None),
    ("POST", "/v1/orders/{id}/refunds", {"amount_minor": 1}),
]


async def test_foreign_callers_get_403_or_404_and_never_the_order(
    service: RunningService,
) -> None:
    async with httpx.AsyncClient(base_url=service.http) as client:
        world = await make_world(service, client)
        offered = await world.order()
        assert (await world.offer(offered)).status_code == 201
        assigned = await world.order()
        other_rider = await register(client, "rider")
        assert (await world.offer(assigned, other_rider)).status_code == 201
        await world.step(assigned, "accept", other_rider)
        assert (await world.step(assigned, "pickup", other_rider)).status_code == 200
        foreigners: list[Account] = [await register(client), await register(client, "merchant"),
                                     await register(client, "rider")]
        before = {oid: (await client.get(f"/v1/orders/{oid}", headers=world.operator)).json()
                  for oid in (offered, assigned)}
        for order_id in (offered, assigned):
            for who in foreigners:
                for method, template, body in ENDPOINTS:
                    response = await client.request(method, template.format(id=order_id),
                                                    headers=who.headers, json=body)
                    assert response.status_code in (403, 404), (who.role, template, response.text)
                    assert order_id not in response.text or response.status_code == 404
                    assert "amount_minor" not in response.text
                listing = (await client.get("/v1/orders", headers=who.headers)).json()
                assert listing["orders"] == []
        after = {oid: (await client.get(f"/v1/orders/{oid}", headers=world.operator)).json()
                 for oid in (offered, assigned)}
        assert after == before


async def test_each_role_sees_exactly_its_own_orders(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http) as client:
        world = await make_world(service, client)
        mine = await world.order()
        assert (await world.offer(mine)).status_code == 201
        for who in (world.customer, world.merchant, world.rider):
            listing = (await client.get("/v1/orders", headers=who.headers)).json()
            assert [order["id"] for order in listing["orders"]] == [mine], who.role
        # A rider sees the order, but not its payment.
        payment = await client.get(f"/v1/orders/{mine}/payment", headers=world.rider.headers)
        assert payment.status_code == 403
        operator = (await client.get("/v1/orders", headers=world.operator)).json()
        assert [order["id"] for order in operator["orders"]] == [mine]
        unauthenticated = await client.get(f"/v1/orders/{mine}")
        assert unauthenticated.status_code == 401
