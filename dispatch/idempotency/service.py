"""Claim a key before doing the work, store the response with the work, replay it after."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.db.base import dialect_of, utcnow
from dispatch.errors import IdempotencyInFlight, IdempotencyKeyReused
from dispatch.idempotency.models import IdempotencyRow, Scope, StoredResponse

REPLAY_HEADER = "Idempotent-Replayed"


def request_hash(body: bytes) -> str:
    """The fingerprint a retry's body must match."""
    return hashlib.sha256(body).hexdigest()


def _pk(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    return (IdempotencyRow.owner == scope.owner, IdempotencyRow.endpoint == scope.endpoint,
            IdempotencyRow.key == scope.key)


async def claim(session: AsyncSession, *, scope: Scope, resource_id: str, lock_s: float,
                ttl_s: int) -> tuple[str, StoredResponse | None]:
    """Take the key for this attempt, in the caller's transaction.

    Returns the resource id to use (the first attempt's, on a takeover) and, when the key is
    done, the stored response to replay. Raises `IdempotencyInFlight` while another attempt
    holds it and `IdempotencyKeyReused` when the body differs from the first one.
    """
    now = utcnow()
    lock_until = now + dt.timedelta(seconds=lock_s)
    values = {"owner": scope.owner, "endpoint": scope.endpoint, "key": scope.key,
              "request_hash": scope.request_hash, "resource_id": resource_id,
              "locked_until": lock_until, "created_at": now,
              "expires_at": now + dt.timedelta(seconds=ttl_s)}
    dialect = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    inserted = (await session.execute(
        dialect(IdempotencyRow).values(values).on_conflict_do_nothing()
        .returning(IdempotencyRow.resource_id))).scalar_one_or_none()
    if inserted is not None:
        return inserted, None
    row = (await session.execute(
        select(IdempotencyRow).where(*_pk(scope)).with_for_update())).scalar_one()
    if row.expires_at <= now:  # an expired key is a new key
        await session.execute(delete(IdempotencyRow).where(*_pk(scope)))
        await session.execute(dialect(IdempotencyRow).values(values))
        return resource_id, None
    if row.request_hash != scope.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request",
                                   field="Idempotency-Key")
    if row.status_code is not None and row.response_body is not None:
        return row.resource_id, StoredResponse(row.status_code, row.response_body)
    if row.locked_until > now:
        wait_s = max(1, int((row.locked_until - now).total_seconds()))
        raise IdempotencyInFlight("a request with this Idempotency-Key is in progress",
                                  retry_after_s=wait_s)
    # The first attempt died mid-way: take over, with its resource id.
    row.locked_until = lock_until
    return row.resource_id, None


async def complete(session: AsyncSession, *, scope: Scope, response: StoredResponse) -> None:
    """Store the response, in the same transaction as the work it describes."""
    await session.execute(update(IdempotencyRow).where(*_pk(scope)).values(
        status_code=response.status_code, response_body=response.body))


async def purge_expired(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """Forget keys past their expiry; how many."""
    result = await session.execute(
        delete(IdempotencyRow).where(IdempotencyRow.expires_at <= (now or utcnow())))
    return int(result.rowcount)  # type: ignore[attr-defined]
