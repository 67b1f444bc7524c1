"""Shared fixtures: a private redis-server for the session, a fresh database per test,
and the service running under uvicorn on a free port."""

from __future__ import annotations

import faulthandler
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from dispatch.config import Settings
from dispatch.redis_server import EmbeddedRedis, RedisServerError
from tests.support import database
from tests.support.server import RunningService, run_service

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"

# A hang that no test's own timeout covers (a session fixture's teardown, an event loop that
# cannot close) ends the run after this, with every thread's stack, well inside CI's limit.
SUITE_LIMIT_S = 45 * 60


def pytest_sessionstart(session: pytest.Session) -> None:
    faulthandler.dump_traceback_later(SUITE_LIMIT_S, exit=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A redis-server of our own for the whole session, on a private unix socket."""
    try:
        server = EmbeddedRedis().start()
    except RedisServerError as exc:
        if os.environ.get("DISPATCH_REQUIRE_REDIS"):
            pytest.fail(f"DISPATCH_REQUIRE_REDIS is set but no redis-server could start: {exc}")
        pytest.skip(f"REDIS-BACKED TESTS SKIPPED: no redis-server could start: {exc}")
    yield server
    server.stop()


@pytest_asyncio.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[Redis]:
    """An async client on the session's server, flushed before the test."""
    client = Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("DISPATCH_REQUIRE_POSTGRES"):
        pytest.fail(f"DISPATCH_REQUIRE_POSTGRES is set but PostgreSQL is unreachable: {reason}")
    pytest.skip(f"POSTGRESQL TESTS SKIPPED: no PostgreSQL at {database.postgres_url()}: {reason}")


@pytest_asyncio.fixture
async def database_settings(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The database part of a test's settings: a fresh schema on PostgreSQL when the suite
    runs there (DISPATCH_TEST_DATABASE_URL) or the test is marked `postgres`; else a fresh
    SQLite file in the test's data dir."""
    url = database.suite_database_url()
    if url is None and request.node.get_closest_marker("postgres") is not None:
        url = database.postgres_url()
    if url is None:
        yield {"database_url": None}
        return
    if (reason := await database.reachable(url)) is not None:
        _postgres_unavailable(reason)
    schema = database.new_schema_name()
    yield {"database_url": url, "database_schema": schema}
    await database.drop_schema(url, schema)


@pytest.fixture
def make_settings(
    redis_server: EmbeddedRedis, tmp_path: Path, database_settings: dict[str, Any]
) -> Callable[..., Settings]:
    """Settings pointing at the test redis-server, a fresh database and a temporary data dir."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_server.url, "data_dir": tmp_path, "secret_key": TEST_SECRET,
            "log_format": "text", "password_time_cost": 1, "password_memory_kib": 64,
            "rider_accounts_required": False, **database_settings,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest_asyncio.fixture
async def service(
    redis: Redis, make_settings: Callable[..., Settings]
) -> AsyncIterator[RunningService]:
    """The service with default settings, running on a free port."""
    async with run_service(make_settings()) as running:
        yield running
