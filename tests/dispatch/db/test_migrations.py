"""Migrations: the service builds its schema on start, and it matches the row classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from dispatch.config import Settings
from dispatch.db.base import Base
from dispatch.db.engine import create_engine
from dispatch.db.migrate import current_revision, head_revision, migrate
from tests.support.server import run_service

pytestmark = pytest.mark.asyncio


def _diff(connection: Connection) -> list[Any]:
    import dispatch.app  # noqa: F401, PLC0415  (registers every row class on Base)

    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_build_exactly_the_schema_the_code_declares(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    engine = create_engine(settings)
    try:
        assert await current_revision(engine) is None
        await migrate(engine, schema=settings.database_schema)
        await migrate(engine, schema=settings.database_schema)  # a second run is a no-op
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_the_service_migrates_its_database_on_start(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with run_service(settings) as running:
        assert await current_revision(running.services.engine) == head_revision()
