"""Accounts for tests: register through the API, log in, and carry the bearer headers."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"
CENTRE = {"lat": 52.52, "lng": 13.405}


@dataclass
class Account:
    """A registered user and its access token."""

    id: str
    role: str
    email: str
    token: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: httpx.AsyncClient, role: str = "customer",
                   region: str | None = None) -> Account:
    """A new account of `role`, logged in."""
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    body: dict[str, Any] = {"email": email, "password": PASSWORD, "role": role}
    if role == "rider":
        body["region"] = region or "city"
    created = await client.post("/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    return Account(id=created.json()["id"], role=role, email=email,
                   token=tokens["access_token"], refresh=tokens["refresh_token"])


def order_body(merchant_id: str, amount_minor: int = 2350, now: dt.datetime | None = None,
               **overrides: Any) -> dict[str, Any]:
    """A valid create-order body inside the default service area (times relative to `now`)."""
    now = now or dt.datetime.now(dt.UTC)
    body: dict[str, Any] = {
        "merchant_id": merchant_id,
        "pickup": {"lat": 52.52, "lng": 13.405},
        "dropoff": {"lat": 52.51, "lng": 13.39},
        "items": [{"name": "noodles", "quantity": 2}],
        "amount_minor": amount_minor, "currency": "EUR",
        "ready_at": (now + dt.timedelta(minutes=10)).isoformat(),
        "promised_at": (now + dt.timedelta(minutes=40)).isoformat(),
    }
    body.update(overrides)
    return body
