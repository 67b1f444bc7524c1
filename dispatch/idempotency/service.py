"""Claim a key before doing the work, store the response with the work, replay it after.

A key is in flight while it has no response row (`IdempotencyResponseRow`), done once it has.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from typing import Any

from sqlalchemy import ColumnElement, delete, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from dispatch.db.atomic import Step, insert_if, insert_values, upsert_values
from dispatch.db.base import dialect_of, table, utcnow
from dispatch.errors import IdempotencyInFlight, IdempotencyKeyReused
from dispatch.idempotency.models import (
    IdempotencyResponseRow,
    IdempotencyRow,
    Scope,
    StoredResponse,
)

REPLAY_HEADER = "Idempotent-Replayed"
# The bind parameters of a claim, per column (one name is one value in a combined statement).
_CLAIM = {"owner": "key_owner", "endpoint": "key_endpoint", "key": "idempotency_key",
          "request_hash": "request_hash", "resource_id": "resource_id",
          "locked_until": "locked_until", "created_at": "now", "expires_at": "expires_at"}
_RESPONSE = {"owner": "key_owner", "endpoint": "key_endpoint", "key": "idempotency_key",
             "status_code": "stored_status", "body": "stored_body"}


def request_hash(body: bytes) -> str:
    """The fingerprint a retry's body must match."""
    return hashlib.sha256(body).hexdigest()


def _pk(row: type[IdempotencyRow | IdempotencyResponseRow], scope: Scope
        ) -> tuple[ColumnElement[bool], ...]:
    return row.owner == scope.owner, row.endpoint == scope.endpoint, row.key == scope.key


def _scope_values(scope: Scope) -> dict[str, str]:
    return {"key_owner": scope.owner, "key_endpoint": scope.endpoint,
            "idempotency_key": scope.key}


def claim_values(*, scope: Scope, resource_id: str, lock_s: float, ttl_s: int,
                 now: dt.datetime) -> dict[str, Any]:
    """The bind values of `claim_if` and `complete_statement` for this attempt."""
    return {**_scope_values(scope),
            "request_hash": scope.request_hash, "resource_id": resource_id,
            "locked_until": now + dt.timedelta(seconds=lock_s), "now": now,
            "expires_at": now + dt.timedelta(seconds=ttl_s)}


def claim_if(dialect: str, gate: ColumnElement[bool]) -> Insert:
    """A statement that takes a new key when `gate` holds, returning its resource id if it did
    (nothing when the key exists: `claim` then decides)."""
    return insert_if(dialect, table(IdempotencyRow), _CLAIM, gate).returning(
        IdempotencyRow.resource_id)


@functools.cache
def _claim_step(dialect: str) -> Step:
    return Step.of(claim_if(dialect, true()))


@functools.cache
def _complete_step(dialect: str) -> Step:
    # Outside a create, a second completion of the key (an attempt that outlived its lock,
    # and the one that took over) replaces the first's response rather than failing.
    return Step.of(upsert_values(dialect, table(IdempotencyResponseRow), _RESPONSE))


def complete_statement() -> Insert:
    """A statement storing the response (binds `stored_status`, `stored_body`), to run with
    the work it describes (a second one for the key fails, as the work's own rows do)."""
    return insert_values(table(IdempotencyResponseRow), _RESPONSE)


async def claim(session: AsyncSession, *, scope: Scope, resource_id: str, lock_s: float,
                ttl_s: int) -> tuple[str, StoredResponse | None]:
    """Take the key for this attempt, in the caller's transaction.

    Returns the resource id to use (the first attempt's, on a takeover) and, when the key is
    done, the stored response to replay. Raises `IdempotencyInFlight` while another attempt
    holds it and `IdempotencyKeyReused` when the body differs from the first one.
    """
    now = utcnow()
    values = claim_values(scope=scope, resource_id=resource_id, lock_s=lock_s, ttl_s=ttl_s,
                          now=now)
    insert = _claim_step(dialect_of(session))
    inserted = (await session.execute(insert.statement, insert.bind(values))
                ).scalar_one_or_none()
    if inserted is not None:
        return inserted, None
    row = (await session.execute(
        select(IdempotencyRow).where(*_pk(IdempotencyRow, scope)).with_for_update())
    ).scalar_one()
    if row.expires_at <= now:  # an expired key is a new key
        await _forget(session, scope)
        await session.execute(insert.statement, insert.bind(values))
        return resource_id, None
    if row.request_hash != scope.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request",
                                   field="Idempotency-Key")
    done = (await session.execute(select(
        IdempotencyResponseRow.status_code, IdempotencyResponseRow.body).where(
        *_pk(IdempotencyResponseRow, scope)))).one_or_none()
    if done is not None:
        return row.resource_id, StoredResponse(done.status_code, done.body)
    if row.locked_until > now:
        wait_s = max(1, int((row.locked_until - now).total_seconds()))
        raise IdempotencyInFlight("a request with this Idempotency-Key is in progress",
                                  retry_after_s=wait_s)
    # The first attempt died mid-way: take over, with its resource id.
    row.locked_until = values["locked_until"]
    return row.resource_id, None


async def complete(session: AsyncSession, *, scope: Scope, response: StoredResponse) -> None:
    """Store the response, in the same transaction as the work it describes."""
    step = _complete_step(dialect_of(session))
    await session.execute(step.statement, step.bind({
        **_scope_values(scope), "stored_status": response.status_code,
        "stored_body": response.body}))


async def _forget(session: AsyncSession, scope: Scope) -> None:
    for row in (IdempotencyResponseRow, IdempotencyRow):
        await session.execute(delete(row).where(*_pk(row, scope)))


def _keys(row: type[IdempotencyRow | IdempotencyResponseRow]) -> ColumnElement[Any]:
    return tuple_(row.owner, row.endpoint, row.key)


async def purge_expired(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """Forget keys past their expiry, and their responses; how many keys."""
    expired = IdempotencyRow.expires_at <= (now or utcnow())
    await session.execute(delete(IdempotencyResponseRow).where(_keys(IdempotencyResponseRow).in_(
        select(IdempotencyRow.owner, IdempotencyRow.endpoint, IdempotencyRow.key).where(
            expired))))
    result = await session.execute(delete(IdempotencyRow).where(expired))
    return int(result.rowcount)  # type: ignore[attr-defined]
