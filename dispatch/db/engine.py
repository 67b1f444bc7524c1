"""The async engine and session factory for SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from dispatch.config import Settings

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def postgres_problem(url: str, timeout_s: float = 5.0) -> str | None:
    """None if PostgreSQL answers at `url` (a plain postgresql:// URL), else why not."""
    try:
        conn = await asyncio.wait_for(asyncpg.connect(url), timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL with its async driver: an SQLite file in data_dir unless configured."""
    url = settings.database_url
    if url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(settings.data_dir / 'dispatch.db').resolve()}"
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


def is_postgres(engine: AsyncEngine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine configured for the backend; SQLite gets WAL and immediate transactions."""
    url = database_url(settings)
    json = {"json_serializer": _dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": settings.database_timeout_s},
                                     **json)
        _tune_sqlite(engine, settings.database_timeout_s)
        return engine
    connect_args: dict[str, Any] = {"timeout": settings.database_timeout_s,
                                    "command_timeout": settings.database_timeout_s * 6}
    schema = settings.database_schema
    if schema is not None:
        if not _SCHEMA.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url, connect_args=connect_args, pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size // 2, pool_timeout=settings.database_timeout_s,
        pool_pre_ping=False, **json,
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tune_sqlite(engine: AsyncEngine, timeout_s: float) -> None:
    # SQLite upgrades a read transaction to a write one without waiting, so concurrent writers
    # fail with "database is locked"; taking the write lock at BEGIN makes them queue instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
