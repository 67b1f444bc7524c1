"""Idempotency keys and their stored responses: a key is done exactly when its response is
stored; expiry forgets both, and an expired key is a new key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.errors import IdempotencyInFlight
from dispatch.idempotency import service as idempotency
from dispatch.idempotency.models import (
    IdempotencyResponseRow,
    IdempotencyRow,
    Scope,
    StoredResponse,
)

# Per key: (expired, done).
KEYS = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=12)


def _scope(i: int) -> Scope:
    return Scope(owner="usr_c", endpoint="create_order", key=f"k{i}", request_hash="h")


def _response(i: int) -> StoredResponse:
    return StoredResponse(201, f'{{"id":"res_{i}"}}')


async def _case(config: Settings, keys: list[tuple[bool, bool]]) -> None:
    engine = create_engine(config)
    await migrate(engine, schema=config.database_schema)
    db = session_factory(engine)
    try:
        async with db.begin() as session:
            for row in (IdempotencyResponseRow, IdempotencyRow):
                await session.execute(delete(row))
            for i, (expired, done) in enumerate(keys):
                await idempotency.claim(session, scope=_scope(i), resource_id=f"res_{i}",
                                        lock_s=60, ttl_s=0 if expired else 86_400)
                if done:
                    await idempotency.complete(session, scope=_scope(i), response=_response(i))
        async with db.begin() as session:
            assert await idempotency.purge_expired(session) == sum(e for e, _ in keys)
        async with db() as session:
            kept = set((await session.execute(select(IdempotencyRow.key))).scalars())
            stored = set((await session.execute(select(IdempotencyResponseRow.key))).scalars())
        assert kept == {f"k{i}" for i, (expired, _) in enumerate(keys) if not expired}
        assert stored == {f"k{i}" for i, (expired, done) in enumerate(keys)
                          if done and not expired}
        for i, (expired, done) in enumerate(keys):
            async with db.begin() as session:
                if not expired and not done:
                    try:
                        await idempotency.claim(session, scope=_scope(i), resource_id="new",
                                                lock_s=60, ttl_s=86_400)
                    except IdempotencyInFlight:
                        continue
                    raise AssertionError(f"key {i} in flight was claimed again")
                got = await idempotency.claim(session, scope=_scope(i), resource_id="new",
                                              lock_s=60, ttl_s=86_400)
            assert got == ((f"res_{i}", _response(i)) if done and not expired else ("new", None))
    finally:
        await engine.dispose()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(keys=KEYS)
def test_purging_forgets_expired_keys_with_their_responses_and_nothing_else(
    make_settings: Callable[..., Settings], keys: list[tuple[bool, bool]],
) -> None:
    asyncio.run(_case(make_settings(), keys))


async def _complete_twice(config: Settings) -> tuple[str, StoredResponse | None]:
    engine = create_engine(config)
    await migrate(engine, schema=config.database_schema)
    db = session_factory(engine)
    try:
        async with db.begin() as session:
            await idempotency.claim(session, scope=_scope(0), resource_id="res_0", lock_s=60,
                                    ttl_s=86_400)
        for status in (200, 201):  # the attempt that outlived its lock, and the one after
            async with db.begin() as session:
                await idempotency.complete(session, scope=_scope(0),
                                           response=StoredResponse(status, "{}"))
        async with db.begin() as session:
            return await idempotency.claim(session, scope=_scope(0), resource_id="new",
                                           lock_s=60, ttl_s=86_400)
    finally:
        await engine.dispose()


def test_a_second_completion_of_a_key_replaces_the_stored_response(
    make_settings: Callable[..., Settings],
) -> None:
    assert asyncio.run(_complete_twice(make_settings())) == ("res_0", StoredResponse(201, "{}"))
