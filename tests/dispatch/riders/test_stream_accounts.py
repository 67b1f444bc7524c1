"""Riders on the stream authenticate with their accounts; strangers are refused with 4401;
connect storms are admitted in batches, or told to try again (1013)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import orjson
import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dispatch.config import Settings
from dispatch.db.base import utcnow
from dispatch.riders.batching import Batcher
from dispatch.riders.stream import Opener
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


async def test_a_connect_storm_is_checked_and_recorded_in_a_few_batched_lookups(
    make_settings: Callable[..., Settings],
) -> None:
    riders = 150
    async with run_service(make_settings(rider_accounts_required=True)) as service:
        async with service.services.db.begin() as session:
            session.add_all([UserRow(
                id=f"usr_storm{i}", email=f"storm{i}@example.com", password_hash="-",
                role="rider", region="city", active=True, created_at=utcnow(),
            ) for i in range(riders)])
        answers = await asyncio.gather(*(
            hello(service, service.rider_token(f"usr_storm{i}")) for i in range(riders)))
        assert [code for code, _ in answers] == [None] * riders
        assert sorted(str(welcome["rider_id"]) for _, welcome in answers) == sorted(
            f"usr_storm{i}" for i in range(riders))
        opener = service.server.config.app.state.rider_opener  # type: ignore[union-attr]
        # Each hello's account check and Redis record rode in a batch with others.
        assert opener.accounts.calls < riders / 2
        assert opener.attach.calls < riders / 2


class HeldLookup:
    """An account check that answers only when released (to hold hellos mid-opening)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def __call__(self, riders: list[tuple[str, str]]) -> dict[tuple[str, str], None]:
        await self.released.wait()
        return dict.fromkeys(riders)


async def test_hellos_beyond_the_admission_bound_are_told_to_try_again(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rider_accounts_required=True, max_opening_riders=2)
    async with run_service(settings) as service:
        opener = Opener(service.services)
        held = HeldLookup()
        opener.accounts = Batcher(held)
        service.server.config.app.state.rider_opener = opener  # type: ignore[union-attr]
        waiting = [asyncio.ensure_future(hello(service, service.rider_token(f"r{i}")))
                   for i in range(2)]
        while opener.opening < 2:  # noqa: ASYNC110 - a counter, not an event, says so
            await asyncio.sleep(0.01)
        assert (await hello(service, service.rider_token("r2")))[0] == 1013
        held.released.set()
        assert [code for code, _ in await asyncio.gather(*waiting)] == [None, None]
        assert (await hello(service, service.rider_token("r2")))[0] is None  # room again


async def test_a_hello_that_cannot_be_answered_in_time_is_told_to_try_again(
    make_settings: Callable[..., Settings],
) -> None:
    async with run_service(make_settings(rider_accounts_required=True,
                                         auth_timeout_s=0.3)) as service:
        opener = Opener(service.services)
        opener.accounts = Batcher(HeldLookup())  # never released
        service.server.config.app.state.rider_opener = opener  # type: ignore[union-attr]
        assert (await hello(service, service.rider_token("r1")))[0] == 1013
        assert opener.opening == 0
