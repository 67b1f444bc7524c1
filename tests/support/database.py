"""Test databases: the PostgreSQL URL under test, its reachability, and throwaway schemas."""

from __future__ import annotations

import os
import secrets

import asyncpg

from dispatch.db.engine import postgres_problem

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DROP_LOCK_TIMEOUT_S = 20  # a test's schema is dropped within this, or the test fails

# Sessions holding a lock on something in the schema: what kept it from being dropped.
_HOLDERS = """
SELECT DISTINCT a.pid, a.state, a.application_name, now() - a.xact_start AS in_transaction,
       left(a.query, 200) AS query
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE n.nspname = $1 AND l.granted AND a.pid <> pg_backend_pid()
"""


class SchemaStillInUse(AssertionError):
    """A test left a database session holding locks in its schema (a leaked connection)."""


def suite_database_url() -> str | None:
    """The database the whole suite runs on: PostgreSQL if configured, else None (SQLite)."""
    return os.environ.get("DISPATCH_TEST_DATABASE_URL") or None


def postgres_url() -> str:
    """The PostgreSQL that `postgres`-marked tests use."""
    return os.environ.get("DISPATCH_TEST_DATABASE_URL") or DEFAULT_PG_URL


async def reachable(url: str) -> str | None:
    """None if we can connect, else why not."""
    return await postgres_problem(url)


def new_schema_name() -> str:
    """A schema name no other test uses."""
    return f"t_{secrets.token_hex(6)}"


async def drop_schema(url: str, schema: str, *, lock_timeout_s: int = DROP_LOCK_TIMEOUT_S
                      ) -> None:
    """Remove a test's schema and everything in it.

    A session still holding locks there (a connection the test or the service leaked, idle
    in a transaction) would make the drop wait for ever; instead, after
    `lock_timeout_s`, those sessions are reported, terminated, and the test fails with
    what they were doing.
    """
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"SET lock_timeout = '{lock_timeout_s}s'")
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except asyncpg.LockNotAvailableError:
            holders = [dict(row) for row in await conn.fetch(_HOLDERS, schema)]
            for holder in holders:
                await conn.execute("SELECT pg_terminate_backend($1)", holder["pid"])
            await conn.execute("SET lock_timeout = 0")
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            raise SchemaStillInUse(
                f"schema {schema} was still locked {lock_timeout_s} s after the test; "
                f"terminated: {holders}") from None
    finally:
        await conn.close()
