"""A small world for order tests: a customer, a merchant, a rider and an operator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.accounts import Account, order_body, register
from tests.support.server import RunningService


@dataclass
class World:
    """One account of each role, the operator's headers, and a client."""

    client: httpx.AsyncClient
    customer: Account
    merchant: Account
    rider: Account
    operator: dict[str, str]
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    async def create(self, amount_minor: int = 2350, key: str | None = None,
                     **overrides: Any) -> httpx.Response:
        headers = dict(self.customer.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        merchant_id = overrides.pop("merchant_id", self.merchant.id)
        return await self.client.post("/v1/orders", headers=headers,
                                      json=order_body(merchant_id, amount_minor, self.now,
                                                      **overrides))

    async def order(self, amount_minor: int = 2350) -> str:
        response = await self.create(amount_minor)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def offer(self, order_id: str, rider: Account | None = None) -> httpx.Response:
        return await self.client.post("/v1/offers", headers=self.operator, json={
            "offers": [{"order_id": order_id, "rider_id": (rider or self.rider).id}]})

    async def step(self, order_id: str, verb: str, who: Account | dict[str, str]
                   ) -> httpx.Response:
        headers = who.headers if isinstance(who, Account) else who
        return await self.client.post(f"/v1/orders/{order_id}/{verb}", headers=headers)

    async def delivered(self, amount_minor: int = 2350) -> str:
        order_id = await self.order(amount_minor)
        assert (await self.offer(order_id)).status_code == 201
        for verb in ("accept", "pickup", "deliver"):
            response = await self.step(order_id, verb, self.rider)
            assert response.status_code == 200, response.text
        return order_id


async def make_world(service: RunningService, client: httpx.AsyncClient) -> World:
    """Register one account per role."""
    return World(client=client, customer=await register(client),
                 merchant=await register(client, "merchant"),
                 rider=await register(client, "rider"), operator=service.operator_headers())
