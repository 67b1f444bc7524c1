"""Test databases: the PostgreSQL URL under test, its reachability, and throwaway schemas."""

from __future__ import annotations

import os
import secrets

import asyncpg

from dispatch.db.engine import postgres_problem

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


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


async def drop_schema(url: str, schema: str) -> None:
    """Remove a test's schema and everything in it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
