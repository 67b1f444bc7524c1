"""Migration 0003 on a database that was in use: stored responses move to their own table
and are replayed as before; keys still in flight stay in flight; the way back restores them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import alembic_config, migrate
from dispatch.errors import IdempotencyInFlight
from dispatch.idempotency import service as idempotency
from dispatch.idempotency.models import Scope, StoredResponse

pytestmark = pytest.mark.asyncio
NOW = dt.datetime.now(dt.UTC)
_KEY = ("INSERT INTO idempotency_keys (owner, endpoint, key, request_hash, resource_id, "
        "locked_until, status_code, response_body, created_at, expires_at) VALUES "
        "(:owner, 'create_order', :key, 'h', :rid, :locked, :status, :body, :now, :expires)")


@pytest_asyncio.fixture
async def engine(make_settings: Callable[..., Settings]) -> AsyncIterator[AsyncEngine]:
    settings = make_settings()
    engine = create_engine(settings)
    await migrate(engine, schema=settings.database_schema, revision="0002")
    yield engine
    await engine.dispose()


async def _seed(engine: AsyncEngine) -> None:
    """Two keys as 0002 stored them: one done (its response on the key), one in flight."""
    rows = [{"owner": "usr_c", "key": "done", "rid": "ord_1", "status": 201,
             "body": '{"id":"ord_1"}'},
            {"owner": "usr_c", "key": "busy", "rid": "ord_2", "status": None, "body": None}]
    async with engine.begin() as conn:
        await conn.execute(text(_KEY), [{**row, "now": NOW, "locked": NOW + dt.timedelta(
            minutes=5), "expires": NOW + dt.timedelta(days=1)} for row in rows])


def _scope(key: str) -> Scope:
    return Scope(owner="usr_c", endpoint="create_order", key=key, request_hash="h")


async def _claim(engine: AsyncEngine, key: str) -> tuple[str, StoredResponse | None]:
    async with session_factory(engine).begin() as session:
        return await idempotency.claim(session, scope=_scope(key), resource_id="ord_new",
                                       lock_s=30, ttl_s=86_400)


async def test_upgrading_keeps_stored_responses_replayable_and_keys_in_flight_busy(
    engine: AsyncEngine, make_settings: Callable[..., Settings],
) -> None:
    await _seed(engine)
    await migrate(engine, schema=make_settings().database_schema)
    assert await _claim(engine, "done") == ("ord_1", StoredResponse(201, '{"id":"ord_1"}'))
    with pytest.raises(IdempotencyInFlight):
        await _claim(engine, "busy")


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0002")


async def test_downgrading_puts_the_responses_back_on_their_keys(
    engine: AsyncEngine, make_settings: Callable[..., Settings],
) -> None:
    await _seed(engine)
    await migrate(engine, schema=make_settings().database_schema)
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade)
        rows = (await conn.execute(text(
            "SELECT key, resource_id, status_code, response_body FROM idempotency_keys "
            "ORDER BY key"))).all()
    assert [tuple(row) for row in rows] == [("busy", "ord_2", None, None),
                                            ("done", "ord_1", 201, '{"id":"ord_1"}')]
