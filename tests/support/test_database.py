"""The suite's own guard: a test that leaves its schema locked fails, and the rest go on."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support import database

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


@pytest.fixture
def url(database_settings: dict[str, Any]) -> str:
    """The PostgreSQL under test (the fixture skips loudly, or fails in CI, without one)."""
    url: str = database_settings["database_url"]
    return url


async def test_a_schema_held_by_a_leaked_transaction_is_reported_then_dropped(url: str) -> None:
    schema = database.new_schema_name()
    leaked = await asyncpg.connect(url)
    try:
        await leaked.execute(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".t (x int)')
        await leaked.execute(f'BEGIN; SELECT * FROM "{schema}".t')  # idle in transaction
        with pytest.raises(database.SchemaStillInUse, match="idle in transaction"):
            await database.drop_schema(url, schema, lock_timeout_s=1)
        assert leaked.is_closed() or not await _alive(leaked)
    finally:
        leaked.terminate()  # its server side is gone already
    assert not await _schema_exists(url, schema)


async def test_an_unused_schema_is_dropped_at_once(url: str) -> None:
    schema = database.new_schema_name()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".t (x int)')
    finally:
        await conn.close()
    await database.drop_schema(url, schema, lock_timeout_s=1)
    assert not await _schema_exists(url, schema)


async def _schema_exists(url: str, schema: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema))
    finally:
        await conn.close()


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1", timeout=2)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True
