"""Accounts: registration, login, token claims, refresh rotation and reuse detection."""

from __future__ import annotations

import httpx
import pytest

from dispatch.users.models import UserRow
from tests.support.accounts import PASSWORD, register
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


async def test_login_issues_a_token_that_names_the_account_and_its_role(
    service: RunningService,
) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        rider = await register(c, "rider", region="north")
        principal = service.signer.verify(rider.token)
        assert (principal.subject, principal.role, principal.region) == (rider.id, "rider", "north")
        me = (await c.get("/v1/users/me", headers=rider.headers)).json()
        assert me["email"] == rider.email and "password" not in str(me)
        async with service.services.db() as session:
            stored = await session.get(UserRow, rider.id)
        assert stored is not None and stored.password_hash.startswith("$argon2id$")


async def test_wrong_passwords_unknown_emails_and_duplicates_are_refused(
    service: RunningService,
) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        customer = await register(c)
        wrong = await c.post("/v1/auth/login", json={"email": customer.email, "password": "nope"})
        unknown = await c.post("/v1/auth/login", json={"email": "x@y.z", "password": PASSWORD})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["error"]["code"] == "auth.invalid_credentials"
        again = await c.post("/v1/auth/register", json={
            "email": customer.email.upper(), "password": PASSWORD})
        assert again.status_code == 409 and again.json()["error"]["code"] == "user.email_taken"
        riderless = await c.post("/v1/auth/register", json={
            "email": "r@x.io", "password": PASSWORD, "role": "rider"})
        assert riderless.status_code == 422
        operator = await c.post("/v1/auth/register", json={
            "email": "o@x.io", "password": PASSWORD, "role": "operator"})
        assert operator.status_code == 422  # nobody makes themselves an operator


async def test_only_operators_create_operator_accounts(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        customer = await register(c)
        body = {"email": "ops@x.io", "password": PASSWORD, "role": "operator"}
        assert (await c.post("/v1/users", json=body, headers=customer.headers)).status_code == 403
        made = await c.post("/v1/users", json=body, headers=service.operator_headers())
        assert made.status_code == 201 and made.json()["role"] == "operator"


async def test_a_refresh_token_works_once_and_its_reuse_revokes_the_family(
    service: RunningService,
) -> None:
    async with httpx.AsyncClient(base_url=service.http) as c:
        customer = await register(c)
        first = await c.post("/v1/auth/refresh", json={"refresh_token": customer.refresh})
        assert first.status_code == 200
        newer = first.json()["refresh_token"]
        replay = await c.post("/v1/auth/refresh", json={"refresh_token": customer.refresh})
        assert replay.status_code == 401
        # The stolen token was replayed: the legitimate newer one is revoked too.
        assert (await c.post("/v1/auth/refresh", json={"refresh_token": newer})).status_code == 401
        forged = await c.post("/v1/auth/refresh", json={"refresh_token": newer + "x"})
        assert forged.status_code == 401
