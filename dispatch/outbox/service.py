"""Publish outbox rows to a Redis stream: at least once, in id order per relay pass.

Each event is also announced on its object's pub/sub channel (`event_channel`) for live
subscribers such as order tracking; that copy is best-effort, the stream is the record.

Rows are locked with SKIP LOCKED (PostgreSQL), added to the stream, and marked published in
the same transaction. If the process dies after XADD and before the commit, the rows are
published again: consumers deduplicate by the `id` field (see `dispatch.outbox.consumer`).
"""

from __future__ import annotations

import orjson
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.db.base import utcnow
from dispatch.outbox.models import OutboxRow

Db = async_sessionmaker[AsyncSession]


def event_channel(aggregate: str, aggregate_id: str) -> str:
    """The pub/sub channel on which one object's events are also announced (for live tracking)."""
    return f"events:{aggregate}:{aggregate_id}"


def stream_fields(row: OutboxRow) -> dict[str, str]:
    """The stream entry of one event; `id` is the deduplication key."""
    return {"id": str(row.id), "aggregate": row.aggregate, "aggregate_id": row.aggregate_id,
            "event": row.event, "payload": orjson.dumps(row.payload).decode(),
            "created_at": row.created_at.isoformat()}


async def relay_once(*, db: Db, redis: Redis, stream: str, batch: int, maxlen: int) -> int:
    """Publish up to `batch` unpublished events; how many."""
    async with db.begin() as session:
        rows = list((await session.execute(select(OutboxRow).where(
            OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(batch)
            .with_for_update(skip_locked=True))).scalars())
        if not rows:
            return 0
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                fields = stream_fields(row)
                pipe.xadd(stream, fields,  # type: ignore[arg-type]
                          maxlen=maxlen, approximate=True)
                pipe.publish(event_channel(row.aggregate, row.aggregate_id), orjson.dumps(fields))
            await pipe.execute()
        await session.execute(update(OutboxRow).where(OutboxRow.id.in_([r.id for r in rows]))
                              .values(published_at=utcnow()))
    return len(rows)


async def latest_event_id(*, db: Db, aggregate: str, aggregate_id: str) -> int:
    """The id of the object's newest event so far (0 if none)."""
    async with db() as session:
        return int((await session.execute(select(func.max(OutboxRow.id)).where(
            OutboxRow.aggregate == aggregate, OutboxRow.aggregate_id == aggregate_id)
        )).scalar_one() or 0)


async def backlog(*, db: Db) -> int:
    """How many events wait to be published."""
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.published_at.is_(None)))).scalar_one())
