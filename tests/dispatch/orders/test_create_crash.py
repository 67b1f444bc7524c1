"""Order creation when the process dies after the provider answered and before the write:
the authorisation's key was durable first (derived from the claimed key row's order id, or
recorded in `provider_calls` without a key), so a retry reuses it and money moves once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.errors import IdempotencyInFlight
from dispatch.idempotency.models import IdempotencyResponseRow, IdempotencyRow, Scope
from dispatch.orders.areas import load_areas
from dispatch.orders.models import CreateOrderIn, OrderRow
from dispatch.orders.service import CreateParams, create_order
from dispatch.payments.models import PaymentRow, ProviderCallRow
from dispatch.payments.provider import ProviderResult, SandboxProvider
from dispatch.users.models import UserRow
from tests.support.accounts import order_body

pytestmark = pytest.mark.asyncio
SCOPE = Scope(owner="usr_c", endpoint="create_order", key="crash-1", request_hash="h")


class Crash(Exception):
    """The process dying right after the provider answered."""


@dataclass
class CrashingSandbox(SandboxProvider):
    """A sandbox whose first authorisations succeed at the processor, then 'crash' us."""

    crashes: int = 1

    async def authorise(self, *, key: str, amount_minor: int, currency: str) -> ProviderResult:
        result = await super().authorise(key=key, amount_minor=amount_minor, currency=currency)
        if self.crashes:
            self.crashes -= 1
            raise Crash
        return result


@pytest_asyncio.fixture
async def params(database_settings: dict[str, Any], tmp_path: Path
                 ) -> AsyncIterator[CreateParams]:
    config = Settings(data_dir=tmp_path, **{k: v for k, v in database_settings.items()
                                             if v is not None})
    engine = create_engine(config)
    await migrate(engine, schema=config.database_schema)
    db = session_factory(engine)
    async with db.begin() as session:
        session.add(UserRow(id="usr_m", email="m@x", password_hash="-", role="merchant",
                            region=None, active=True, created_at=dt.datetime.now(dt.UTC)))
    yield CreateParams(db=db, provider=CrashingSandbox(), areas=load_areas(config), lock_s=0.3,
                       ttl_s=86_400)
    await engine.dispose()


def _order() -> CreateOrderIn:
    return CreateOrderIn.model_validate(order_body("usr_m"))


async def _rows(params: CreateParams, row: type[Any]) -> list[Any]:
    async with params.db() as session:
        return list((await session.execute(select(row))).scalars())


async def test_a_retry_after_the_crash_reuses_the_authorisation_and_moves_money_once(
    params: CreateParams,
) -> None:
    sandbox = params.provider
    assert isinstance(sandbox, CrashingSandbox)
    with pytest.raises(Crash):
        await create_order(params=params, customer_id="usr_c", data=_order(), scope=SCOPE)
    assert await _rows(params, OrderRow) == []
    # What was committed before the call: the key row, whose order id the call's key is made of.
    [claimed] = await _rows(params, IdempotencyRow)
    assert await _rows(params, IdempotencyResponseRow) == []  # in flight
    assert list(sandbox.results) == [f"pay_{claimed.resource_id.removeprefix('ord_')}.authorise"]
    with pytest.raises(IdempotencyInFlight):  # the dead attempt's lock has not lapsed yet
        await create_order(params=params, customer_id="usr_c", data=_order(), scope=SCOPE)
    await asyncio.sleep(params.lock_s)
    stored, replayed = await create_order(params=params, customer_id="usr_c", data=_order(),
                                          scope=SCOPE)
    assert (stored.status_code, replayed) == (201, False)
    [key] = await _rows(params, IdempotencyRow)
    [order] = await _rows(params, OrderRow)
    [payment] = await _rows(params, PaymentRow)
    assert order.id == key.resource_id == claimed.resource_id  # the first attempt's order id
    assert sandbox.moves == 1 and list(sandbox.charges) == [payment.provider_ref]
    assert list(sandbox.results) == [f"{payment.id}.authorise"]  # both calls used one key
    assert await _rows(params, ProviderCallRow) == []  # the key row was the call's record


async def test_without_a_key_the_call_is_on_record_before_it_is_made(
    params: CreateParams,
) -> None:
    with pytest.raises(Crash):
        await create_order(params=params, customer_id="usr_c", data=_order(), scope=None)
    [call] = await _rows(params, ProviderCallRow)
    assert call.action == "authorise" and call.completed_at is None
    assert await _rows(params, OrderRow) == []
    assert list(params.provider.results) == [call.key]  # type: ignore[attr-defined]
