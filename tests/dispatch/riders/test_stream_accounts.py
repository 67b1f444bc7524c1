"""Riders on the stream authenticate with their accounts; strangers are refused with 4401."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dispatch.config import Settings
from dispatch.users.models import UserRow
from tests.support.accounts import register
from tests.support.server import RunningService, recv_json, run_service

pytestmark = pytest.mark.asyncio


async def hello(service: RunningService, token: str) -> tuple[int | None, dict[str, object]]:
    """Send hello with `token`; the welcome frame, or the close code."""
    async with connect(service.ws) as ws:
        await ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
        try:
            return None, await recv_json(ws)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, {}


async def test_registered_rider_streams_and_strangers_are_refused(
    make_settings: Callable[..., Settings],
) -> None:
    async with run_service(make_settings(rider_accounts_required=True)) as service:
        async with httpx.AsyncClient(base_url=service.http) as http:
            rider = await register(http, "rider", region="city")
            customer = await register(http, "customer")
        code, welcome = await hello(service, rider.token)
        assert code is None and welcome["rider_id"] == rider.id

        assert (await hello(service, service.rider_token("nobody")))[0] == 4401
        assert (await hello(service, service.rider_token(rider.id, region="elsewhere")))[0] == 4401
        assert (await hello(service, service.rider_token(customer.id)))[0] == 4401

        async with service.services.db() as session, session.begin():
            await session.execute(
                update(UserRow).where(UserRow.id == rider.id).values(active=False))
        assert (await hello(service, rider.token))[0] == 4401
